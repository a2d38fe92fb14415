"""The seed's whole lab end to end: the repo's __main__.py (ClusterLab) with the real engine, the real
pywinrm and hvsim. One scenario test keeps the number of engine runs small; each step asserts on
hvsim's world (state.json), its audit log and the Pulumi state.

Steps: preview (no repr) -> up (the full lab) -> what hvsim shows -> a grow previews only the volume
-> refresh --expect-no-changes leaves every output as it was -> a second up is a no-op -> the naive double hop fails
-> owner change = live migration (VM never stops) -> quick migration (saved and restored) -> power loss
of the owner (failover, refresh shows the survivor, an unpinned program accepts it, a pinned one's
preview --diff names the move and up moves the VM back) -> destroy (hvsim back to its start apart from the delete policy).
"""
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from test_iscsi_e2e import write_legacy_type_tokens

REPO = Path(__file__).resolve().parents[2]
CLUSTER = "CLUSTER1"
VM = "TestVM"


def lab_shape(lab, *, owner="HV02", migration="Live", memory="1GB", allow_restart=False, first="HV01",
              storage="4GB", domain_user=None):
    def conn(host):
        ep = lab.host_endpoint(host)
        return {"host": ep["address"], "port": ep["http_port"], "username": lab.credentials(host)[0]}

    return {
        "storageHost": {"name": "DC01", "address": "192.168.10.10", "connection": conn("DC01")},
        # the first node is the one the cluster resources talk to; the others serve when it does not answer
        "nodes": [{"name": n, "vmNic": "Ethernet 2", "connection": conn(n)}
                  for n in sorted(("HV01", "HV02"), key=lambda n: n != first)],
        "domain": {"fqdn": "hyper.local", "username": domain_user or lab.credentials("HV01", domain=True)[0]},
        "cluster": {"name": CLUSTER, "address": "192.168.10.20"},
        # one more LUN given to the lab (ClusterLab's extension point): online on every node
        "storage": {"targetName": "cluster1", "quorumSize": "1GB", "storageSize": storage,
                    "extraVolumes": [{"name": "data", "size": "1GB"}]},
        "switchName": "VMNet",
        "vm": {"name": VM, "memoryStartupBytes": memory, "diskSizeBytes": "10GB", "ownerNode": owner,
               "preferredOwners": ["HV01", "HV02"], "migrationType": migration,
               "allowRestartForChanges": allow_restart},
    }


def secrets_of(lab):
    return {"domainPassword": lab.credentials("HV01", domain=True)[1],
            "hostPasswords": {h: lab.credentials(h)[1] for h in ("DC01", "HV01", "HV02")}}


# What `pulumi destroy` leaves behind by design (docs/provider-cluster.md, "Delete policy"): the nodes'
# domain membership, features, services and the restarts that took; the storage host's iSCSI Target
# Server feature, and C:\iSCSIVirtualDisks when the volume that made it went first while the other one
# (whose create began after the folder was made, so it did not record it) still had its disk there
# (docs/provider.md, IscsiVolume); the empty C:\ClusterStorage folder and the validation reports (as on
# Windows); hvsim's own bookkeeping (counters, the validation history, disks listed lazily).
KEPT_AFTER_DESTROY = [re.compile(p, re.IGNORECASE) for p in (
    r"/cluster_validations$", r"/domain/computers/HV0[12]$",
    r"/hosts/DC01/features/", r"/hosts/DC01/services/WinTarget$", r"/hosts/DC01/files/c:\\iscsivirtualdisks$",
    r"/hosts/DC01/iscsi_initiator/(next_session|persistent)$", r"/hosts/DC01/iscsi_target_server/next_index$",
    r"/hosts/HV0[12]/(boot_id|last_boot|ready_at|domain|workgroup|disks)$", r"/hosts/HV0[12]/features/",
    r"/hosts/HV0[12]/services/", r"/hosts/HV0[12]/iscsi_initiator/(iqn|next_session|persistent)$",
    r"/hosts/HV0[12]/files/c:\\clusterstorage$", r"/hosts/HV01/files/c:\\windows\\cluster(\\reports)?(\\validation report [^\\]*\.htm)?$",
)]


def changed_paths(before, after, path=""):
    """Paths (/key/key) where two JSON trees differ, down to the first non-dict value."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            if key not in before or key not in after:
                out.append(f"{path}/{key}")
            else:
                out += changed_paths(before[key], after[key], f"{path}/{key}")
        return out
    return [] if before == after else [path]


def mutating(records):
    return [f"{r['host']}:{r['cmdlet']}" for r in records if r.get("kind") == "cmdlet" and r.get("mutating")]


def the_vm(world):
    """(host, vm record) of the one VM named VM, wherever it lives."""
    found = [(name, vm) for name, h in world["hosts"].items()
             for vm in (h.get("hyperv") or {}).get("vms", {}).values() if vm["name"] == VM]
    assert len(found) == 1, found
    return found[0]


def events(world, kind, type_=None):
    """The cluster's recorded moves of the VM (kind live_migration/quick_migration/failover; type Live,
    Quick, Offline (a stopped VM moved), Failover)."""
    return [e for e in world["clusters"][CLUSTER]["events"]
            if e["kind"] == kind and (type_ is None or e["type"] == type_)]


def resource(project, name):
    """A resource of the state by its name (dynamic resources all share one type token)."""
    found = [r for r in project.resources() if r["urn"].endswith("::" + name)]
    assert len(found) == 1, [r["urn"] for r in project.resources()]
    return found[0]


def plain_outputs(res):
    """A resource's outputs without the secret ones (their ciphertext changes at every state write)."""
    return {k: v for k, v in res["outputs"].items() if not (isinstance(v, dict) and "ciphertext" in v)}


def all_plain_outputs(project):
    return {r["urn"]: plain_outputs(r) for r in project.resources() if r["type"].startswith("pulumi-python")}


def preview_steps(preview):
    """{resource name: op} of a `pulumi preview --json` (the harness's preview)."""
    return {s["urn"].rsplit("::", 1)[1]: s["op"] for s in json.loads(preview.stdout)["steps"]}


REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>")


def password_free(project, lab, secrets):
    """No password in the state (inputs and outputs) nor in what the hosts logged."""
    exported = project.export_text()
    audit_text = (lab.state_dir / "audit.jsonl").read_text(encoding="utf-8")
    for password in (secrets["domainPassword"], *secrets["hostPasswords"].values()):
        assert password not in exported
        assert password not in audit_text
    return True


@pytest.fixture
def seed_program(tmp_path):
    program = tmp_path / "seed-program"
    program.mkdir()
    shutil.copy(REPO / "__main__.py", program / "__main__.py")
    return program


def test_seed_lab_lifecycle(hvsim_lab, pulumi_project, seed_program):
    lab = hvsim_lab
    secrets = secrets_of(lab)
    project = pulumi_project(seed_program, config={"lab": lab_shape(lab)}, secrets=secrets)
    before = lab.world()

    # -- preview of the whole lab: values other resources will compute are unknown, never a Python repr
    first_preview = project.preview()
    assert set(first_preview.change_summary) == {"create"}, first_preview.change_summary
    assert not REPR.search(first_preview.output), REPR.search(first_preview.output)

    # -- up: the whole lab ------------------------------------------------------------------------
    first_up = project.up()
    world = lab.world()
    out = project.outputs()
    cluster = world["clusters"][CLUSTER]
    target = world["hosts"]["DC01"]["iscsi_target_server"]["targets"]["cluster1"]
    assert out["cluster_fqdn"] == "cluster1.hyper.local" == cluster["fqdn"]
    assert out["target_iqn"] == target["iqn"]
    assert sorted(cluster["nodes"]) == ["HV01", "HV02"]
    assert cluster["static_address"] == ["192.168.10.20"]
    assert out["validation_summary"].startswith("passed"), out["validation_summary"]
    # the long steps reported progress on their resource's row (the engine's Log RPC, ephemeral)
    assert "validating HV01, HV02 (Test-Cluster), then creating cluster CLUSTER1" in first_up.stdout
    assert re.search(r"restarting \S+ \(.+\); waiting up to 900 s for it", first_up.stdout), first_up.stdout
    assert world["domain"]["cluster_objects"][CLUSTER]["enabled"]
    # the witness is the quorum LUN, found by serial number
    quorum_serial = resource(project, "seed-quorum")["outputs"]["serial_number"]
    storage_serial = resource(project, "seed-storage")["outputs"]["serial_number"]
    witness = cluster["quorum"]["resource"]
    assert witness and cluster["resources"][witness]["disk"]["serial"] == quorum_serial
    # the storage LUN is the one CSV, at the path read back from the cluster
    [csv] = cluster["csvs"].values()
    assert cluster["resources"][csv["name"]]["disk"]["serial"] == storage_serial
    assert out["csv_path"] == csv["path"] == "C:\\ClusterStorage\\Volume1"
    # the extra LUN is online and writable on BOTH nodes (one created beside the lab stayed offline on
    # the second node), and it is none of the cluster's disks
    data_serial = resource(project, "seed-volume-data")["outputs"]["serial_number"]
    assert data_serial not in (quorum_serial, storage_serial)
    for node in ("HV01", "HV02"):
        [disk] = [d for d in world["hosts"][node]["disks"] if d["serial"] == data_serial and d.get("present")]
        assert not disk["offline"] and not disk["read_only"], (node, disk)
    assert data_serial not in [r.get("disk", {}).get("serial") for r in cluster["resources"].values()]
    # the HA VM: running on its declared owner, files on the CSV, switch connected, a cluster role
    host, vm = the_vm(world)
    assert (host, vm["state"], out["vm_owner_node"]) == ("HV02", "Running", "HV02")
    assert vm["path"].lower().startswith("c:\\clusterstorage\\volume1\\")
    assert vm["clustered"] and cluster["groups"][VM]["owner"] == "HV02"
    assert cluster["groups"][VM]["preferred_owners"] == ["HV01", "HV02"]
    assert [a["switch"] for a in vm["network_adapters"]] == ["VMNet"]
    status = lab.status_text()
    for word in (CLUSTER, witness, "C:\\ClusterStorage\\Volume1", VM):
        assert word in status, word
    # secrets: not in the state, not on a command line, nowhere in what the hosts logged
    assert password_free(project, lab, secrets)

    # -- the nodes' preparation did not wait for the storage (issue 13): in hvsim's audit (in the order
    # the hosts ran the calls) each node installed its features before the storage host created the
    # first LUN, and its domain join too; only NodeStorage waits for the target and the volumes
    audit = [r for r in lab.audit() if r.get("kind") == "cmdlet"]

    def first(host, cmdlet):
        return next(i for i, r in enumerate(audit) if r["host"] == host and r["cmdlet"] == cmdlet)

    first_lun = first("DC01", "New-IscsiVirtualDisk")
    for node in ("HV01", "HV02"):
        assert first(node, "Install-WindowsFeature") < first_lun, node
        assert first(node, "Add-Computer") > first(node, "Install-WindowsFeature")
        # the sessions came after the LUNs existed, from the node's NodeStorage
        assert first(node, "Connect-IscsiTarget") > first_lun
    urn = {r["urn"].rsplit("::", 1)[1]: r["urn"] for r in project.resources()}
    storage = {urn[n] for n in ("seed-target", "seed-quorum", "seed-storage", "seed-volume-data")}
    for node in ("seed-hv01", "seed-hv02"):
        assert not storage & set(resource(project, node).get("dependencies") or []), node
        assert storage | {urn[node]} <= set(resource(project, f"{node}-storage")["dependencies"]), node
        assert urn[f"{node}-storage"] in resource(project, "seed-cluster")["dependencies"]
        assert resource(project, f"{node}-storage")["outputs"]["connected_targets"] == [out["target_iqn"]]

    # -- a preview of growing one volume: what the nodes take from it (its serial number) and from the
    # target (its IQN) stays known at preview, as it cannot change.
    project.set_config("lab", lab_shape(lab, storage="5GB"))
    grow = project.preview()
    steps = preview_steps(grow)
    # the volume grows; the nodes' storage (disk_sizes: they rescan) and the CSV (disk_size_bytes: it
    # extends its partition) take its new size, known at preview; nothing else changes
    assert {n: op for n, op in steps.items() if op != "same"} == {
        "seed-storage": "update", "seed-hv01-storage": "update", "seed-hv02-storage": "update",
        "seed-csv": "update"}, steps
    project.set_config("lab", lab_shape(lab))

    # -- refresh right after the first up: every output is what the hosts report --------------------
    created = all_plain_outputs(project)
    assert "lun_mappings" not in created[resource(project, "seed-target")["urn"]]   # other resources change them
    project.refresh("--expect-no-changes")
    assert all_plain_outputs(project) == created
    assert password_free(project, lab, secrets)

    # -- a second up: nothing to do, no mutating cmdlet on any host -------------------------------
    n = len(lab.audit())
    second = project.up()
    assert set(second.change_summary) == {"same"}, second.change_summary
    assert mutating(lab.audit()[n:]) == []

    # -- a state written when every resource was pulumi-python:dynamic:Resource (ClusterLab's children
    # included, their URNs carry the parent's type) upgrades in place through the aliases ---------------
    write_legacy_type_tokens(project)
    assert {r["type"] for r in project.resources() if r["type"].startswith("pulumi-python")} == {
        "pulumi-python:dynamic:Resource"}
    n = len(lab.audit())
    preview = project.preview()
    assert not {"create", "replace", "delete", "create-replacement", "delete-replaced"} & set(preview.change_summary)
    upgraded = project.up()
    assert not {"create", "replace", "delete"} & set(upgraded.change_summary), upgraded.change_summary
    assert mutating(lab.audit()[n:]) == []
    assert resource(project, "seed-vm-testvm")["type"] == "pulumi-python:dynamic/hvprovider:HighlyAvailableVM"

    # -- refresh reads every resource back: no drift, nothing to do afterwards ------------------------
    refreshed = project.refresh()
    assert "update" not in refreshed.change_summary, refreshed.output
    assert set(project.preview().change_summary) == {"same"}

    # -- the double hop: New-Cluster straight in a WinRM session fails as on Windows -----------------
    naive = lab.session("HV01", domain=True).run_ps(
        "New-Cluster -Name NAIVE -Node HV01,HV02 -StaticAddress 192.168.10.30 -NoStorage")
    assert naive.status_code != 0
    assert b"You do not have administrative privileges" in naive.std_err
    assert "NAIVE" not in lab.world()["clusters"]
    remoting = [r for r in lab.audit() if r.get("kind") == "remoting" and r.get("auth", "").lower() == "credssp"]
    assert remoting and all(r["can_delegate"] for r in remoting)

    # -- Hyper-V's rule: startup memory changes only while the VM is off ----------------------------
    project.set_config("lab", lab_shape(lab, memory="2GB"))
    refused = project.preview(expect_failure=True)
    assert "memory_startup_bytes" in refused.output and "allow_restart_for_changes=True" in refused.output
    assert the_vm(lab.world())[1]["memory_startup"] == 1024 ** 3
    boot_before = the_vm(lab.world())[1]["boot_id"]
    project.set_config("lab", lab_shape(lab, memory="2GB", allow_restart=True))
    project.up()
    host, vm = the_vm(lab.world())
    assert (host, vm["state"], vm["memory_startup"]) == ("HV02", "Running", 2 * 1024 ** 3)
    assert vm["boot_id"] != boot_before  # stopped and started again, with the user's consent

    # -- owner change = live migration: an in-place update, the VM keeps running ---------------------
    project.set_config("lab", lab_shape(lab, owner="HV01", memory="2GB"))
    preview = project.preview()
    assert preview.change_summary.get("update") == 1 and "replace" not in preview.change_summary
    moved = project.up()
    world = lab.world()
    [live] = events(world, "live_migration", "Live")
    assert "live migration of TestVM from HV02 to HV01" in moved.stdout, moved.stdout
    assert (live["from"], live["to"], live["type"]) == ("HV02", "HV01", "Live")
    assert live["state_before"] == live["state_after"] == "Running"
    assert live["boot_id_before"] == live["boot_id_after"] and live["downtime_seconds"] < 1  # never restarted
    assert the_vm(world)[0] == "HV01" and project.outputs()["vm_owner_node"] == "HV01"

    # -- quick migration: saved, moved, restored --------------------------------------------------------
    project.set_config("lab", lab_shape(lab, owner="HV02", migration="Quick", memory="2GB"))
    project.up()
    world = lab.world()
    [quick] = events(world, "quick_migration", "Quick")
    assert (quick["from"], quick["to"], quick["type"]) == ("HV01", "HV02", "Quick")
    assert quick["state_after"] == "Running" and quick["downtime_seconds"] > live["downtime_seconds"]
    assert quick["boot_id_before"] == quick["boot_id_after"]   # restored from its saved state, not rebooted
    assert the_vm(world)[0] == "HV02"

    # -- power loss of the owner: failover to the survivor --------------------------------------------
    # At its hardest: the node that loses power owns the VM AND is the node the cluster resources talk
    # to first (HV02 listed first); they carry on through the survivor (alternate_connections).
    project.set_config("lab", lab_shape(lab, owner="HV02", memory="2GB", first="HV02"))
    project.up()
    assert the_vm(lab.world())[0] == "HV02"
    node_before = plain_outputs(resource(project, "seed-hv02"))
    lab.control("power-off", host="HV02")
    world = lab.world()
    [failover] = events(world, "failover")
    assert (failover["from"], failover["to"]) == ("HV02", "HV01")
    assert the_vm(world)[0] == "HV01" and the_vm(world)[1]["state"] == "Running"
    refreshed = project.refresh("--diff")  # the whole stack, with HV02 dark
    assert re.search(r'~ owner_node\s*: "HV02" => "HV01"', refreshed.stdout), refreshed.stdout
    assert resource(project, "seed-vm-testvm")["outputs"]["owner_node"] == "HV01"
    assert resource(project, "seed-vm-testvm")["inputs"]["owner_node"] == "HV01"   # what the next diff starts from
    assert resource(project, "seed-cluster")["outputs"]["fqdn"] == "cluster1.hyper.local"
    # HV02's own resources keep what the state knew: a dark host is no evidence that they are gone
    assert plain_outputs(resource(project, "seed-hv02")) == node_before
    # a program that does not pin the owner accepts the new placement
    unpinned = lab_shape(lab, memory="2GB", first="HV02")
    del unpinned["vm"]["ownerNode"]
    project.set_config("lab", unpinned)
    assert "update" not in project.preview().change_summary
    # the program pins HV02: once HV02 is back, the next up moves the VM back (live)
    lab.control("power-on", host="HV02")
    lab.wait_reachable("HV02")
    project.set_config("lab", lab_shape(lab, owner="HV02", memory="2GB", first="HV02"))
    # the plan names the move it will make
    plan = project.run("preview", "--diff")
    assert re.search(r'~ owner_node\s*: "HV01" => "HV02"', plan.stdout), plan.stdout
    project.up()
    world = lab.world()
    back = events(world, "live_migration", "Live")[-1]
    assert (back["from"], back["to"], back["state_after"]) == ("HV01", "HV02", "Running")
    assert the_vm(world)[0] == "HV02"

    # -- destroy, in two steps so each delete policy is checked on its own ---------------------------
    # 1. the cluster resources: VM (and its files), CSV, cluster (and its AD object)
    project.destroy("--target", resource(project, "seed-cluster")["urn"], "--target-dependents")
    world = lab.world()
    assert world.get("clusters", {}) == {}
    assert CLUSTER not in world["domain"].get("cluster_objects", {})
    for name in ("HV01", "HV02"):
        h = world["hosts"][name]
        assert h["hyperv"]["vms"] == {}
        assert not any(k.startswith("c:\\clusterstorage\\volume") for k in h.get("files", {}))
        assert h["services"]["ClusSvc"]["status"] == "Stopped"
    assert {r["urn"].rsplit("::", 1)[1] for r in project.resources() if r["type"].startswith("pulumi-python")} == {
        "seed-target", "seed-quorum", "seed-storage", "seed-volume-data", "seed-hv01", "seed-hv02",
        "seed-hv01-storage", "seed-hv02-storage"}
    # 2. the rest: back to the start apart from ClusterNode's delete policy (domain membership, features)
    project.destroy()
    world = lab.world()
    for name in ("HV01", "HV02"):
        h = world["hosts"][name]
        assert h["hyperv"]["switches"] == {}
        assert h["iscsi_initiator"].get("sessions", []) == []
        assert [d["serial"] for d in h["disks"] if d["bus_type"] == "iSCSI" and d.get("present")] == []
        assert h["domain"] == "hyper.local"
        assert h["features"]["Failover-Clustering"]["state"] == "Installed"
    dc = world["hosts"]["DC01"]["iscsi_target_server"]
    assert dc["targets"] == before["hosts"]["DC01"]["iscsi_target_server"]["targets"]
    assert dc["virtual_disks"] == before["hosts"]["DC01"]["iscsi_target_server"]["virtual_disks"]
    assert [r["urn"] for r in project.resources() if r["type"].startswith("pulumi-python")] == []
    # everything else is as it was before the first up
    unexpected = [p for p in changed_paths(before, world) if not any(k.search(p) for k in KEPT_AFTER_DESTROY)]
    assert unexpected == []


def test_failed_validation_stops_cluster_creation(hvsim_lab, pulumi_project, seed_program):
    """Test-Cluster runs first; a failed validation creates nothing, and the next up converges."""
    lab = hvsim_lab
    project = pulumi_project(seed_program, config={"lab": lab_shape(lab)}, secrets=secrets_of(lab))
    name = yaml.safe_load((project.work_dir / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    cluster_urn = f"urn:pulumi:{project.stack}::{name}::hvprovider:lab:ClusterLab$pulumi-python:dynamic/hvprovider:FailoverCluster::seed-cluster"
    project.up("--exclude", cluster_urn, "--exclude-dependents")   # storage and nodes only
    lab.control("power-off", host="HV02")
    failed = project.up(expect_failure=True)
    assert "Cluster validation of HV01, HV02 failed; the cluster was not created (ClusterNotApproved)" in failed.output
    assert "Unable to connect to hv02.hyper.local" in failed.output and "skip_validation=True" in failed.output
    world = lab.world()
    assert world.get("clusters", {}) == {} and CLUSTER not in world["domain"].get("cluster_objects", {})
    [validation] = world["cluster_validations"]
    assert validation["errors"] and "HV02" in " ".join(validation["nodes"])
    # HV02 back: the next up validates again and builds the rest
    lab.control("power-on", host="HV02")
    lab.wait_reachable("HV02")
    project.up()
    world = lab.world()
    assert sorted(world["clusters"][CLUSTER]["nodes"]) == ["HV01", "HV02"]
    assert project.outputs()["validation_summary"].startswith("passed")
    assert the_vm(world)[1]["state"] == "Running"
