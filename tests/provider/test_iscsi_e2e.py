"""IscsiTarget, IscsiVolume and ClusterNode end to end: the real engine, the real pywinrm, hvsim.

The program (tests/provider/part1_program) is written as a user would write it. Two scenario tests
keep the number of engine runs small; each step asserts on hvsim's world (state.json), its audit log
and the Pulumi state.
"""
import re
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parent / "part1_program"
TARGET = "lab-cluster.1"
# values a careless template would break: quotes, $(), backticks, ;, &, | and @{}
DESCRIPTION = "it's the \"cluster\" target $(Remove-Item C:\\) `n; & | @{x=1}"
SWITCH = "Lab \"External\" $net 'vm'"
# the quorum disk goes into a folder of its own, named with wildcard characters (taken literally)
QUORUM = "C:\\iSCSIVirtualDisks\\lab [1]\\quorum o'brien $(x).vhdx"
STORAGE = "C:\\iSCSIVirtualDisks\\storage; & data.vhdx"
GB = 1024 ** 3


def lab_config(lab, *, with_nodes=True, target=TARGET, initiators=None, storage_size="2GB"):
    hosts = {name: {"host": lab.host_endpoint(name)["address"], "port": lab.host_endpoint(name)["http_port"]}
             for name in ("DC01", "HV01", "HV02")}
    users = {name: lab.credentials(name)[0] for name in hosts}
    config = {
        "hosts": hosts, "users": users,
        "target": {"name": target, "description": DESCRIPTION,
                   "initiator_ids": initiators or ["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"]},
        "domain": "hyper.local", "domain_user": lab.credentials("HV01", domain=True)[0],
    }
    if with_nodes:
        config["volumes"] = {"quorum": {"path": QUORUM, "size": "1GB"},
                             "storage": {"path": STORAGE, "size": storage_size, "type": "Fixed"}}
        config["nodes"] = {"switch": SWITCH, "adapter": "Ethernet 2", "portal": "192.168.10.10"}
    secrets = {"passwords": {name: lab.credentials(name)[1] for name in hosts},
               "domain_password": lab.credentials("HV01", domain=True)[1]}
    return config, secrets


def all_passwords(lab):
    out = {lab.credentials(h)[1] for h in ("DC01", "HV01", "HV02")}
    out.add(lab.credentials("HV01", domain=True)[1])
    return out


def mutating(records):
    return [f"{r['host']}:{r['cmdlet']}" for r in records if r.get("kind") == "cmdlet" and r.get("mutating")]


def target_of(world, name=TARGET):
    return world["hosts"]["DC01"]["iscsi_target_server"]["targets"].get(name.lower())


def vdisk_of(world, path):
    return world["hosts"]["DC01"]["iscsi_target_server"]["virtual_disks"].get(path.lower())


def sessions_of(world, host):
    return world["hosts"][host].get("iscsi_initiator", {}).get("sessions", [])


def resource(project, name):
    """A resource of the exported state by its Pulumi name (dynamic resources share one type token)."""
    for r in project.resources():
        if r["urn"].endswith("::" + name):
            return r
    raise KeyError(name)


NEW_TYPE = "pulumi-python:dynamic/hvprovider:IscsiTarget"
LEGACY_TYPE = "pulumi-python:dynamic:Resource"


def write_legacy_type_tokens(project):
    """Rewrite the stack's state as the code before per-resource type tokens wrote it (exported,
    every hvprovider token replaced by the one all dynamic resources had, imported back)."""
    state = project.work_dir / "legacy-state.json"
    project.run("stack", "export", "--file", str(state))
    text = re.sub(r"pulumi-python:dynamic/hvprovider:[A-Za-z]+", LEGACY_TYPE, state.read_text(encoding="utf-8"))
    state.write_text(text, encoding="utf-8")
    project.run("stack", "import", "--file", str(state))


def test_lab_storage_lifecycle(hvsim_lab, pulumi_project):
    lab = hvsim_lab
    config, secrets = lab_config(lab)
    project = pulumi_project(PROGRAM, config=config, secrets=secrets)
    # somebody else's files: one in the folder the storage disk shares, one in the folder that the
    # quorum folder's name matches as a wildcard ('lab [1]' matches 'lab 1')
    made = lab.session("DC01").run_ps(
        "New-Item -ItemType File -Force -Path 'C:\\iSCSIVirtualDisks\\readme.txt' | Out-Null; "
        "New-Item -ItemType File -Force -Path 'C:\\iSCSIVirtualDisks\\lab 1\\other.txt' | Out-Null")
    assert made.status_code == 0, made.std_err
    before = lab.world()

    # preview: five creates, nothing touched on any host
    n = len(lab.audit())
    preview = project.preview()
    assert preview.change_summary.get("create") == 6  # the stack + 5 resources
    assert mutating(lab.audit()[n:]) == []
    assert lab.world()["hosts"] == before["hosts"]

    # up: target, both volumes, both nodes
    n = len(lab.audit())
    project.up()
    world = lab.world()
    # every script ran on a pooled shell: many commands, few shells (no new shell/login per call)
    dc_commands = [r for r in lab.audit()[n:] if r.get("kind") == "command" and r.get("host") == "DC01"]
    assert len(dc_commands) >= 3 and len({r["shell_id"] for r in dc_commands}) <= 4
    target = target_of(world)
    assert target is not None and target["description"] == DESCRIPTION
    assert sorted(target["initiator_ids"]) == ["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"]
    quorum, storage = vdisk_of(world, QUORUM), vdisk_of(world, STORAGE)
    assert quorum["size"] == GB and quorum["disk_type"] == "Dynamic"
    assert storage["size"] == 2 * GB and storage["disk_type"] == "Fixed"
    assert sorted(m["path"].lower() for m in target["luns"]) == sorted([QUORUM.lower(), STORAGE.lower()])
    outputs = project.outputs()
    assert outputs["target_iqn"] == target["iqn"] and outputs["target_adopted"] is False
    # each volume recorded the folders it made (the shared one existed already)
    assert resource(project, "quorum-volume")["outputs"]["created_folders"] == ["C:\\iSCSIVirtualDisks\\lab [1]"]
    assert resource(project, "storage-volume")["outputs"]["created_folders"] == []
    assert {outputs["quorum_serial"], outputs["storage_serial"]} == {quorum["serial"], storage["serial"]}
    for host in ("HV01", "HV02"):
        h = world["hosts"][host]
        assert h["domain"] == "hyper.local"
        for feature in ("Hyper-V", "Failover-Clustering", "RSAT-Clustering-PowerShell", "Hyper-V-PowerShell"):
            assert h["features"][feature]["state"] == "Installed", (host, feature)
        assert h["credssp"]["server"] and h["credssp"]["client"]
        assert [s["target_iqn"] for s in sessions_of(world, host)] == [target["iqn"]]
        assert all(s["persistent"] for s in sessions_of(world, host))
        disks = {d["serial"]: d for d in h["disks"] if d.get("present") and d["bus_type"] == "iSCSI"}
        assert set(disks) == {quorum["serial"], storage["serial"]}
        assert not any(d["offline"] or d["read_only"] for d in disks.values())
        switches = list(h["hyperv"]["switches"].values())
        assert [(s["name"], s["net_adapter"], s["switch_type"]) for s in switches] == [(SWITCH, "Ethernet 2", "External")]
        node_outputs = outputs[f"{host.lower()}_disks"]
        assert {d["serial_number"] for d in node_outputs} == set(disks)
        assert outputs[f"{host.lower()}_fqdn"] == f"{host.lower()}.hyper.local"

    # secrets: never in the state in plain text, never on a command line
    exported = project.export_text()
    command_lines = " ".join(r.get("command_line", "") for r in lab.audit() if r.get("kind") == "command")
    audit_text = (lab.state_dir / "audit.jsonl").read_text(encoding="utf-8")
    for password in all_passwords(lab):
        assert password not in exported
        assert password not in command_lines
        assert password not in audit_text                 # nor in any audited cmdlet parameter
    hv01 = resource(project, "hv01")
    for secret in ("connection", "domain_join_password"):
        assert "ciphertext" in hv01["outputs"][secret], secret
    assert hv01["outputs"]["restarts"] == 1          # features + domain join: one restart, then waited for
    assert "keeps features and domain membership" in hv01["outputs"]["delete_policy"]

    # a second up changes nothing and runs no mutating cmdlet
    n = len(lab.audit())
    second = project.up()
    assert set(second.change_summary) <= {"same"}
    assert mutating(lab.audit()[n:]) == []

    # shrinking is refused at preview, naming the property
    project.set_config("volumes", {**config["volumes"], "storage": {**config["volumes"]["storage"], "size": "1GB"}})
    failed = project.preview(expect_failure=True)
    assert "size_bytes" in failed.output and "cannot shrink" in failed.output

    # growing a volume and changing InitiatorIds update in place (same serial, same target IQN)
    project.set_config("volumes", {**config["volumes"], "storage": {**config["volumes"]["storage"], "size": "3GB"}})
    project.set_config("target", {**config["target"], "initiator_ids": [
        "DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local", "IPAddress:192.168.10.99"]})
    preview = project.preview()
    assert set(preview.change_summary) <= {"same", "update"} and preview.change_summary.get("update", 0) >= 2
    updated = project.up()
    # target, volume, and both nodes (their disk_sizes grew: each rescans so it sees the new size)
    assert updated.change_summary.get("update") == 4 and set(updated.change_summary) <= {"same", "update"}
    world = lab.world()
    assert vdisk_of(world, STORAGE)["size"] == 3 * GB
    assert vdisk_of(world, STORAGE)["serial"] == storage["serial"]
    outputs = project.outputs()
    for host in ("HV01", "HV02"):
        seen = {d["serial"]: d["size_seen"] for d in world["hosts"][host]["disks"] if d.get("present")
                and d["bus_type"] == "iSCSI"}
        assert seen == {quorum["serial"]: GB, storage["serial"]: 3 * GB}, host
        assert {d["serial_number"] for d in outputs[f"{host.lower()}_disks"]} == set(seen)
    assert "IPAddress:192.168.10.99" in target_of(world)["initiator_ids"]
    assert target_of(world)["iqn"] == target["iqn"]

    # out of band: HV01 disconnects from the target; refresh sees it, the next up repairs it
    lab.session("HV01").run_ps(f"Disconnect-IscsiTarget -NodeAddress '{target['iqn']}' -Confirm:$false")
    assert sessions_of(lab.world(), "HV01") == []
    project.refresh()
    hv01 = resource(project, "hv01")
    assert hv01["outputs"]["target_iqns"] == []
    assert hv01["outputs"]["connected_targets"] == []
    project.up()
    assert [s["target_iqn"] for s in sessions_of(lab.world(), "HV01")] == [target["iqn"]]

    # destroy: everything goes except what the delete policy keeps (features, domain membership)
    project.destroy()
    world = lab.world()
    assert target_of(world) is None
    assert vdisk_of(world, QUORUM) is None and vdisk_of(world, STORAGE) is None
    # the storage host's files are as they were: the quorum's folder went (empty by then, removed
    # without -Recurse), the shared folder and everybody else's files stayed
    assert world["hosts"]["DC01"]["files"] == before["hosts"]["DC01"]["files"]
    for host in ("HV01", "HV02"):
        h = world["hosts"][host]
        assert sessions_of(world, host) == []
        assert h["iscsi_initiator"]["portals"] == [] and h["iscsi_initiator"].get("persistent", []) == []
        assert h["hyperv"]["switches"] == {}
        assert not h["credssp"]["server"] and not h["credssp"]["client"]
        assert h["domain"] == "hyper.local"                                    # kept by policy
        assert h["features"]["Hyper-V"]["state"] == "Installed"                # kept by policy


def test_existing_target_is_adopted_and_bad_password_is_one_line(hvsim_lab, pulumi_project):
    lab = hvsim_lab
    dc = lab.session("DC01")
    created = dc.run_ps("Install-WindowsFeature -Name FS-iSCSITarget-Server | Out-Null; "
                        f"New-IscsiServerTarget -TargetName '{TARGET}' -InitiatorIds 'DNSName:hv01.hyper.local' | Out-Null")
    assert created.status_code == 0, created.std_err
    config, secrets = lab_config(lab, with_nodes=False)
    project = pulumi_project(PROGRAM, config=config, secrets=secrets)

    project.up()
    targets = lab.world()["hosts"]["DC01"]["iscsi_target_server"]["targets"]
    assert list(targets) == [TARGET.lower()]                 # adopted, not duplicated
    assert sorted(targets[TARGET.lower()]["initiator_ids"]) == ["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"]
    assert project.outputs()["target_adopted"] is True

    # each resource has its own type token; a stack written when all were pulumi-python:dynamic:Resource
    # upgrades in place through the alias: nothing created, replaced or deleted, nothing run on a host
    assert [r["type"] for r in project.resources() if r["urn"].endswith("::cluster-target")] == [NEW_TYPE]
    write_legacy_type_tokens(project)
    assert [r["type"] for r in project.resources() if r["urn"].endswith("::cluster-target")] == [LEGACY_TYPE]
    n = len(lab.audit())
    preview = project.preview()
    assert not {"create", "replace", "delete", "create-replacement", "delete-replaced"} & set(preview.change_summary)
    upgraded = project.up()
    assert not {"create", "replace", "delete"} & set(upgraded.change_summary)
    assert [r["type"] for r in project.resources() if r["urn"].endswith("::cluster-target")] == [NEW_TYPE]
    assert mutating(lab.audit()[n:]) == []

    # deleted behind Pulumi's back: refresh drops it from the state, the next up creates it again
    assert dc.run_ps(f"Remove-IscsiServerTarget -TargetName '{TARGET}'").status_code == 0
    project.refresh()
    assert [r for r in project.resources() if r["urn"].endswith("::cluster-target")] == []
    project.up()
    assert TARGET.lower() in lab.world()["hosts"]["DC01"]["iscsi_target_server"]["targets"]
    assert project.outputs()["target_adopted"] is False

    # a wrong password: one line that says where and what to do, without the password
    project.set_config("passwords", {**secrets["passwords"], "DC01": "Wrong-Password-1"}, secret=True)
    failed = project.up(expect_failure=True)
    lines = [ln for ln in failed.output.splitlines() if "rejected the credentials" in ln]
    assert lines, failed.output
    assert "DC01\\Administrator" in lines[0] and "check the password" in lines[0]
    assert "Wrong-Password-1" not in failed.output
    assert "Traceback" not in failed.output          # our errors are shown as their message alone

    project.set_config("passwords", secrets["passwords"], secret=True)
    project.destroy()
    assert lab.world()["hosts"]["DC01"]["iscsi_target_server"]["targets"] == {}
