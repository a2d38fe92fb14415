"""The cluster resources composed differently from the seed (tests/provider/part2_program): used
directly, three LUNs on one target, two CSVs, two VMs with other names (one running, one off), the
cluster reached through HV02 with nodes given as FQDNs. Real engine, real pywinrm, hvsim.
"""
from pathlib import Path

PROGRAM = Path(__file__).resolve().parent / "part2_program"
CLUSTER = "HVCLU-B"
# a name a careless template would break: quotes, $(), ;, & and a backtick
DB = "DB 01 'prod' $(x);&`n"
MB = 1024 ** 2
GB = 1024 ** 3


def resource(project, name):
    found = [r for r in project.resources() if r["urn"].endswith("::" + name)]
    assert len(found) == 1, [r["urn"] for r in project.resources()]
    return found[0]


def config(lab, web_owner="HV01", db_owner="HV02"):
    hosts = {n: {"host": lab.host_endpoint(n)["address"], "port": lab.host_endpoint(n)["http_port"]}
             for n in ("DC01", "HV01", "HV02")}
    return {
        "hosts": hosts,
        "users": {n: lab.credentials(n)[0] for n in hosts},
        "vms": {"Web-01": {"owner": web_owner, "csv": 0}, DB: {"owner": db_owner, "csv": 1, "state": "Off"}},
    }


def secrets(lab):
    return {"passwords": {n: lab.credentials(n)[1] for n in ("DC01", "HV01", "HV02")},
            "domain_password": lab.credentials("HV01", domain=True)[1]}


def vms_by_name(world):
    return {vm["name"]: (host, vm) for host, h in world["hosts"].items()
            for vm in (h.get("hyperv") or {}).get("vms", {}).values()}


def csv_files(world):
    """{CSV mount path: the relative (lower-case) paths of the files and folders on it}."""
    return {c["path"]: set(c["files"]) for c in world["clusters"][CLUSTER]["csvs"].values()}


def mutating(records):
    return [f"{r['host']}:{r['cmdlet']}" for r in records if r.get("kind") == "cmdlet" and r.get("mutating")]


def test_two_csvs_two_vms(hvsim_lab, pulumi_project):
    lab = hvsim_lab
    project = pulumi_project(PROGRAM, config=config(lab), secrets=secrets(lab))
    # a failure halfway loses nothing: the first VM role cannot be created (injected fault) after its
    # VM exists; that create takes back its VM, disk and folders (nothing of it is in the state)
    lab.control("fail-cmdlet", host="HV02", cmdlet="Add-ClusterVirtualMachineRole")
    failed = project.up(expect_failure=True)
    assert "injected fault" in failed.output
    world = lab.world()
    clustered = {n.lower() for n, (_, vm) in vms_by_name(world).items() if vm["clustered"]}
    assert len(clustered) == len(vms_by_name(world)) == 1
    for files in csv_files(world).values():     # only the clustered VM's files, under VMs\<its name>
        assert all(k.split("\\")[1] in clustered for k in files if k != "vms"), files
        assert files == set() or any(k.split("\\")[1:2] == [n] for k in files for n in clustered)
    project.up()
    world = lab.world()
    out = project.outputs()
    cluster = world["clusters"][CLUSTER]
    assert out["cluster_fqdn"] == "hvclu-b.hyper.local"
    # this program skips validation explicitly: no Test-Cluster ran, and the output says so
    assert out["validation"] == "skipped (skip_validation=True)"
    assert not [r for r in lab.audit() if r.get("kind") == "cmdlet" and r.get("cmdlet") == "Test-Cluster"]
    assert sorted(cluster["nodes"]) == ["HV01", "HV02"]
    # two CSVs, mount paths read back from the cluster (never assumed)
    paths = sorted(c["path"] for c in cluster["csvs"].values())
    assert paths == ["C:\\ClusterStorage\\Volume1", "C:\\ClusterStorage\\Volume2"]
    # the two CSVs are created in parallel: which one becomes Volume1 is not fixed (nor assumed)
    assert sorted(out["csv_paths"]) == paths
    # the witness is the third LUN, not one of the CSVs
    witness = cluster["quorum"]["resource"]
    assert witness and witness not in cluster["csvs"]
    # each VM on its own CSV, on its declared node, in its declared state
    vms = vms_by_name(world)
    web_host, web = vms["Web-01"]
    db_host, db = vms[DB]
    assert (web_host, web["state"]) == ("HV01", "Running")
    assert (db_host, db["state"]) == ("HV02", "Off")
    assert web["path"] == out["csv_paths"][0] + "\\VMs\\Web-01" == out["Web-01_config"]
    assert db["path"] == out["csv_paths"][1] + "\\VMs\\" + DB == out[DB + "_config"]
    assert web["processor_count"] == 2 and web["memory_startup"] == 512 * 1024 ** 2
    assert set(cluster["groups"]) >= {"Web-01", DB}

    # a second up changes nothing on any host
    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"}
    assert mutating(lab.audit()[n:]) == []

    # grow a CSV's LUN in place (issue 9 item 4): every node rescans and sees the new size, the CSV's
    # coordinator extends its partition (and NTFS) to the end of the LUN; what the resources report
    # agrees with the hosts; the other CSV is untouched
    vdisks = world["hosts"]["DC01"]["iscsi_target_server"]["virtual_disks"]
    grown, other = vdisks["c:\\san\\vmstore-a.vhdx"], vdisks["c:\\san\\vmstore-b.vhdx"]
    part_before = max(p["size"] for p in other["layout"]["partitions"])
    project.set_config("vmstore_a_size", "4GB")
    preview = project.preview()
    assert preview.change_summary.get("update", 0) >= 1 and "replace" not in preview.change_summary
    project.up()
    world = lab.world()
    vdisks = world["hosts"]["DC01"]["iscsi_target_server"]["virtual_disks"]
    grown, other = vdisks["c:\\san\\vmstore-a.vhdx"], vdisks["c:\\san\\vmstore-b.vhdx"]
    assert grown["size"] == 4 * GB
    for host in ("HV01", "HV02"):
        seen = {d["serial"]: d["size_seen"] for d in world["hosts"][host]["disks"]
                if d.get("present") and d["bus_type"] == "iSCSI"}
        assert seen[grown["serial"]] == 4 * GB and seen[other["serial"]] == 3 * GB, host
    partition = max(p["size"] for p in grown["layout"]["partitions"])
    assert partition == 4 * GB - 17 * MB                       # 16 MiB in (MSR), 1 MiB kept at the end
    assert max(p["size"] for p in other["layout"]["partitions"]) == part_before
    assert [r for r in lab.audit() if r.get("cmdlet") == "Resize-Partition" and not r.get("error")]
    out = project.outputs()
    assert sorted(out["csv_sizes"]) == sorted([partition, part_before])
    for node, disks in out["node_disks"].items():
        assert grown["serial"] in {d["serial_number"] for d in disks}, node   # (sizes: the world, above)
    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"}
    assert mutating(lab.audit()[n:]) == []

    # rename the iSCSI target under the running cluster (a replacement): the LUNs move to the new
    # target with their data, both nodes log in to it (after rediscovering the portal) and off the old
    # one; the witness, both CSVs and the VMs are where they were, every disk is in the cluster online
    old_iqn = out["target_iqn"]
    project.set_config("target_name", "hyperv-san-2")
    project.up()
    world = lab.world()
    new_iqn = project.outputs()["target_iqn"]
    assert new_iqn != old_iqn and "hyperv-san" not in world["hosts"]["DC01"]["iscsi_target_server"]["targets"]
    for host in ("HV01", "HV02"):
        ini = world["hosts"][host]["iscsi_initiator"]
        assert [(s["target_iqn"], s["persistent"]) for s in ini["sessions"]] == [(new_iqn, True)], host
        present = {d["serial"] for d in world["hosts"][host]["disks"] if d.get("present") and d["bus_type"] == "iSCSI"}
        assert present == {v["serial"] for v in vdisks.values()}, host
    cluster = world["clusters"][CLUSTER]
    disks = [r for r in cluster["resources"].values() if r["type"] == "Physical Disk"]
    assert len(disks) == 3 and all(r["state"] == "Online" for r in disks)
    assert cluster["quorum"]["resource"] == witness and len(cluster["csvs"]) == 2
    assert {n: h for n, (h, _) in vms_by_name(world).items()} == {"Web-01": "HV01", DB: "HV02"}
    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"}
    assert mutating(lab.audit()[n:]) == []

    # moving both VMs: an in-place update each; the running one live-migrates, the stopped one moves
    project.set_config("vms", config(lab, web_owner="HV02", db_owner="HV01")["vms"])
    preview = project.preview()
    assert preview.change_summary.get("update") == 2 and "replace" not in preview.change_summary
    project.up()
    world = lab.world()
    vms = vms_by_name(world)
    assert (vms["Web-01"][0], vms["Web-01"][1]["state"]) == ("HV02", "Running")
    assert (vms[DB][0], vms[DB][1]["state"]) == ("HV01", "Off")
    moves = {e["vm"]: e for e in world["clusters"][CLUSTER]["events"] if e["from"] and e["to"]}
    assert moves["Web-01"]["type"] == "Live" and moves["Web-01"]["state_after"] == "Running"
    assert moves[DB]["type"] == "Offline"
    assert project.outputs()["Web-01_owner"] == "HV02"

    # nodes leave and join in place: HV02 leaves (its running VM is drained to HV01 by live migration,
    # the resources now connect through HV01), then joins again without grabbing storage
    project.set_config("via", "HV01")
    project.set_config("vms", config(lab, web_owner="HV01", db_owner="HV01")["vms"])
    project.set_config("cluster_nodes", ["hv01.hyper.local"])
    preview = project.preview()
    assert "replace" not in preview.change_summary and "delete" not in preview.change_summary
    project.up()
    world = lab.world()
    cluster = world["clusters"][CLUSTER]
    assert sorted(cluster["nodes"]) == ["HV01"]
    assert world["hosts"]["HV02"]["services"]["ClusSvc"]["status"] == "Stopped"
    assert {name: host for name, (host, _) in vms_by_name(world).items()} == {"Web-01": "HV01", DB: "HV01"}
    assert vms_by_name(world)["Web-01"][1]["state"] == "Running"
    project.set_config("cluster_nodes", ["hv01.hyper.local", "hv02.hyper.local"])
    project.up()
    cluster = lab.world()["clusters"][CLUSTER]
    assert sorted(cluster["nodes"]) == ["HV01", "HV02"]
    assert len(cluster["csvs"]) == 2 and cluster["quorum"]["resource"] == witness

    # another disk witness, in place: the new LUN becomes the witness, the old one leaves the cluster
    project.set_config("witness", "witness-2")
    project.up()
    cluster = lab.world()["clusters"][CLUSTER]
    serials = project.outputs()["lun_serials"]
    new_witness = cluster["quorum"]["resource"]
    assert cluster["resources"][new_witness]["disk"]["serial"] == serials["witness-2"]
    assert serials["witness"] not in [r.get("disk", {}).get("serial") for r in cluster["resources"].values()]
    assert project.outputs()["witness_resource"] == new_witness and len(cluster["csvs"]) == 2

    # a VM inside another VM's folder, named so that Hyper-V's -Name would match that other VM
    # ('Web-0[1]' as a wildcard is 'Web-01'), and somebody's file next to the VM folders
    csv_a, csv_b = out["csv_paths"]
    assert lab.session("HV01").run_ps(
        f"New-Item -ItemType File -Force -Path '{csv_a}\\VMs\\notes.txt' | Out-Null").status_code == 0
    nested = "Web-0[1]"
    vms = {**config(lab, web_owner="HV01", db_owner="HV01")["vms"], nested: {"owner": "HV01", "csv": 0, "state": "Off", "in": "Web-01"}}
    project.set_config("vms", vms)
    project.up()
    world = lab.world()
    inner = f"vms\\web-01\\{nested.lower()}"
    assert vms_by_name(world)[nested][1]["path"] == f"{csv_a}\\VMs\\Web-01\\{nested}"
    assert vms_by_name(world)["Web-01"][1]["state"] == "Running"      # the pattern touched nothing else
    made = resource(project, f"vm-{nested.lower()}")["outputs"]
    assert made["created_folders"] == [f"{csv_a}\\VMs\\Web-01\\{nested}" + sub for sub in
                                       ("", "\\Virtual Hard Disks", "\\Virtual Machines")]
    assert made["vhd_paths"] == [f"{csv_a}\\VMs\\Web-01\\{nested}\\Virtual Hard Disks\\{nested}.vhdx"]
    # deleting the outer VM removes its own disk, configuration and empty folders; the nested VM's
    # files, its folder's parent (not empty) and the note stay
    inner_files = {k for k in csv_files(world)[csv_a] if k.startswith(inner)}
    del vms["Web-01"]
    project.set_config("vms", vms)
    project.up()
    world = lab.world()
    assert set(vms_by_name(world)) == {nested, DB}
    assert csv_files(world)[csv_a] == {"vms", "vms\\notes.txt", "vms\\web-01"} | inner_files
    # the last VMs go: nothing of theirs is left, somebody's note and the outer VM's folder (not empty
    # when that VM was deleted, so kept) stay; the other CSV is as empty as before the first VM
    project.set_config("vms", {})
    project.up()
    world = lab.world()
    assert vms_by_name(world) == {}
    assert csv_files(world) == {csv_a: {"vms", "vms\\notes.txt", "vms\\web-01"}, csv_b: set()}

    project.destroy()
    world = lab.world()
    assert world.get("clusters", {}) == {}
    assert vms_by_name(world) == {}
    assert [r["urn"] for r in project.resources() if r["type"].startswith("pulumi-python")] == []
