"""Every documented storage change converges on nodes that are already connected (issue 9, item 1):
renaming the target (a replacement), adding a second target with a LUN, replacing a volume, removing
the second target and its LUN, and a second `up` after a failure halfway. The real engine, the real
pywinrm, hvsim (tests/provider/part1_program); each step asserts the world: sessions, persistent
logins and disks online on every node.

hvsim behaves as Windows here: the initiator lists only what its portal reported at the last
discovery (a target created later needs Update-IscsiTargetPortal), a removed target drops its
sessions, a new LUN arrives offline.
"""
import json
from pathlib import Path

from test_iscsi_e2e import PROGRAM, lab_config, mutating, resource, sessions_of, target_of, vdisk_of

GB = 1024 ** 3
NODES = ("HV01", "HV02")


def iscsi_disks(world, host):
    return {d["serial"]: d for d in world["hosts"][host]["disks"] if d.get("present") and d["bus_type"] == "iSCSI"}


def assert_nodes(world, iqns, serials):
    """Both nodes: one persistent session per wanted target and nothing else, every LUN online."""
    for host in NODES:
        ini = world["hosts"][host]["iscsi_initiator"]
        assert sorted(s["target_iqn"] for s in ini["sessions"]) == sorted(iqns), host
        assert all(s["persistent"] for s in ini["sessions"]), host
        assert sorted(x["target_iqn"] for x in ini["persistent"]) == sorted(iqns), host
        disks = iscsi_disks(world, host)
        assert set(disks) == set(serials), host
        assert not any(d["offline"] or d["read_only"] for d in disks.values()), host


def step(preview, name):
    """The preview step of one resource (from `pulumi preview --json`)."""
    steps = json.loads(preview.stdout).get("steps") or []
    return [s for s in steps if s.get("urn", "").endswith("::" + name)]


def test_target_and_lun_changes_converge_on_connected_nodes(hvsim_lab, pulumi_project):
    lab = hvsim_lab
    config, secrets = lab_config(lab, storage_size="1GB")
    project = pulumi_project(PROGRAM, config=config, secrets=secrets)
    project.up()
    world = lab.world()
    old_iqn = project.outputs()["target_iqn"]
    serials = [vdisk_of(world, v["path"])["serial"] for v in config["volumes"].values()]
    assert_nodes(world, [old_iqn], serials)

    # 1. rename the target: the preview names target_name as what forces the replacement; up creates
    # the new target, re-maps both LUNs to it, the nodes rediscover the portal (the new target was not
    # there at the first discovery), connect to it, log off the old one; then the old target goes
    renamed = {**config["target"], "name": "lab-renamed"}
    project.set_config("target", renamed)
    preview = project.preview()
    [replace] = [s for s in step(preview, "cluster-target") if s["op"] in ("replace", "create-replacement")]
    assert "target_name" in (replace.get("replaceReasons") or replace.get("diffReasons") or []), replace
    # and says in words what the replacement interrupts, before anything runs
    warnings = [d.get("message", "") for d in json.loads(preview.stdout).get("diagnostics") or []
                if d.get("severity") == "warning"]
    assert any("replacing iSCSI target 'lab-renamed'" in w and "takes its LUNs away from every node" in w
               for w in warnings), warnings
    project.up()
    world = lab.world()
    new_iqn = project.outputs()["target_iqn"]
    assert new_iqn != old_iqn and target_of(world) is None and target_of(world, "lab-renamed") is not None
    assert_nodes(world, [new_iqn], serials)
    audit = lab.audit()
    assert {r["host"] for r in audit if r.get("cmdlet") == "Update-IscsiTargetPortal"} == set(NODES)
    assert {r["host"] for r in audit if r.get("cmdlet") == "Disconnect-IscsiTarget"} == set(NODES)
    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"} and mutating(lab.audit()[n:]) == []

    # 2. a second target with its own LUN, for nodes that are already connected: a failure halfway
    # (HV02 cannot log in) leaves HV01 done and HV02 as it was; the next up converges
    config["target"] = renamed
    extra = {"name": "lab-extra", "initiator_ids": ["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"]}
    volumes = {**config["volumes"], "data": {"path": "C:\\iSCSIVirtualDisks\\data.vhdx", "size": "1GB",
                                             "on": "extra"}}
    project.set_config("extra_target", extra)
    project.set_config("volumes", volumes)
    lab.control("fail-cmdlet", host="HV02", cmdlet="Connect-IscsiTarget")
    failed = project.up(expect_failure=True)
    assert "injected fault" in failed.output
    project.up()
    world = lab.world()
    extra_iqn = project.outputs()["extra_iqn"]
    data_serial = vdisk_of(world, volumes["data"]["path"])["serial"]
    assert_nodes(world, [new_iqn, extra_iqn], serials + [data_serial])
    assert {d["serial_number"] for d in project.outputs()["hv02_disks"]} == set(serials + [data_serial])

    # 3. replace a volume (a new path): the old LUN leaves both nodes, the new one arrives and is
    # brought online on each
    quorum2 = "C:\\iSCSIVirtualDisks\\quorum-2.vhdx"
    volumes = {**volumes, "quorum": {"path": quorum2, "size": "1GB"}}
    project.set_config("volumes", volumes)
    project.up()
    world = lab.world()
    new_quorum = vdisk_of(world, quorum2)["serial"]
    assert vdisk_of(world, config["volumes"]["quorum"]["path"]) is None
    serials = [new_quorum, serials[1]]
    assert_nodes(world, [new_iqn, extra_iqn], serials + [data_serial])

    # 4. the second target and its LUN go: the nodes log off it (their sessions to the remaining
    # target stay), its disk leaves
    volumes.pop("data")
    project.set_config("volumes", volumes)
    project.run("config", "rm", "extra_target")
    project.up()
    world = lab.world()
    assert target_of(world, "lab-extra") is None
    assert_nodes(world, [new_iqn], serials)
    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"} and mutating(lab.audit()[n:]) == []
    hv01 = resource(project, "hv01")
    assert hv01["outputs"]["connected_targets"] == [new_iqn]

    project.destroy()
    for host in NODES:
        assert sessions_of(lab.world(), host) == []
