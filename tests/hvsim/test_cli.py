"""`python -m hvsim`: serve (via the fixture), status, and the fault commands against a running lab."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hvsim.__main__ import render_status

REPO = Path(__file__).resolve().parents[2]


def hvsim(*args, check=True):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-m", "hvsim", *args], capture_output=True, text=True, env=env,
                         cwd=str(REPO), timeout=60)
    if check and res.returncode != 0:
        raise AssertionError(f"hvsim {args} failed ({res.returncode}): {res.stderr}")
    return res


def test_status_shows_the_seed_lab(hvsim_lab_module):
    out = hvsim("status", "--state", str(hvsim_lab_module.state_dir)).stdout
    hosts = out.split("\n\n")[0].splitlines()
    assert hosts[0] == "Hosts"
    dc = next(line for line in hosts if line.strip().startswith("DC01"))
    hv01 = next(line for line in hosts if line.strip().startswith("HV01"))
    assert "hyper.local" in dc and "Windows Server 2022" in dc and "AD-Domain-Services" in dc
    assert "workgroup" in hv01 and "Hyper-V Server 2019" in hv01
    for title in ("iSCSI targets", "Disks", "Clusters", "Cluster Shared Volumes", "VMs", "Injected faults"):
        assert f"\n{title}\n" in "\n" + out


def test_fault_commands_change_the_world(hvsim_lab):
    state = str(hvsim_lab.state_dir)
    boot = hvsim_lab.world()["hosts"]["HV01"]["boot_id"]
    assert "power=off" in hvsim("power-off", "HV01", "--state", state).stdout
    assert hvsim_lab.world()["hosts"]["HV01"]["power"] == "off"
    assert "HV01  off" in hvsim("status", "--state", state).stdout
    hvsim("power-on", "hv01", "--state", state)          # names are case-insensitive
    hvsim_lab.wait_reachable("HV01")
    assert hvsim_lab.world()["hosts"]["HV01"]["boot_id"] == boot + 1
    hvsim("restart", "HV01", "--state", state)
    assert hvsim_lab.world()["hosts"]["HV01"]["boot_id"] == boot + 2

    hvsim("drop-connections", "HV02", "3", "--state", state)
    hvsim("latency", "HV02", "150", "--state", state)
    hvsim("fail-cmdlet", "HV01", "New-Cluster", "--message", "the cluster service is busy", "--state", state)
    faults = hvsim_lab.world()["faults"]
    assert faults["drop_connections"] == {"HV02": 3}
    assert faults["latency_ms"] == {"HV02": 150}
    assert faults["cmdlet_fail_once"] == [{"host": "HV01", "cmdlet": "New-Cluster",
                                           "message": "the cluster service is busy"}]
    out = hvsim("status", "--state", state).stdout
    assert "New-Cluster fails once: the cluster service is busy" in out
    assert "drop next 3 connection(s)" in out
    audit = [r for r in hvsim_lab.audit() if r["kind"] == "fault"]
    assert [r["action"] for r in audit][-3:] == ["drop-connections", "latency", "fail-cmdlet"]

    hvsim("clear-faults", "HV02", "--state", state)
    faults = hvsim_lab.world()["faults"]
    assert "HV02" not in faults.get("drop_connections", {}) and "HV02" not in faults.get("latency_ms", {})
    assert len(faults["cmdlet_fail_once"]) == 1


def test_fault_command_errors(hvsim_lab, tmp_path):
    res = hvsim("restart", "NOPE", "--state", str(hvsim_lab.state_dir), check=False)
    assert res.returncode == 1 and "NOPE" in res.stderr
    res = hvsim("restart", "HV01", "--state", str(tmp_path / "nothing"), check=False)
    assert res.returncode != 0 and "endpoints.json" in res.stderr


def test_serve_stops_cleanly_and_keeps_the_world(hvsim_lab):
    hvsim_lab.control("fail-cmdlet", host="HV02", cmdlet="Get-Disk")
    proc = hvsim_lab.proc
    hvsim_lab.stop()
    assert proc.returncode == 0
    assert not (hvsim_lab.state_dir / "endpoints.json").exists()
    log = hvsim_lab.log_text()
    assert "hvsim ready:" in log and "hvsim stopped" in log
    hvsim_lab.start()                                   # same state dir: the world is reloaded
    assert hvsim_lab.world()["faults"]["cmdlet_fail_once"][0]["cmdlet"] == "Get-Disk"
    assert hvsim_lab.control("status")["hosts"]["HV02"]["reachable"] is True


def test_control_interface_refuses_bad_requests(hvsim_lab_module):
    from hvsim.control import ControlError
    lab = hvsim_lab_module
    with pytest.raises(ControlError, match="unknown host or action: explode"):
        lab.control("explode", host="HV01")
    with pytest.raises(ControlError, match="unknown host or action: HV09"):
        lab.control("restart", host="HV09")
    with pytest.raises(ControlError, match="ms must be >= 0"):
        lab.control("latency", host="HV01", ms=-5)
    with pytest.raises(ControlError, match="needs a cmdlet name"):
        lab.control("fail-cmdlet", host="HV01")
    assert lab.world()["faults"].get("latency_ms", {}) == {}


def test_status_without_state_fails_readably(tmp_path):
    res = hvsim("status", "--state", str(tmp_path), check=False)
    assert res.returncode == 1 and "state.json" in res.stderr


def test_status_reads_a_finished_boot_as_on(tmp_path):
    """state.json is written on the next change only: a boot whose ready_at passed is on, not booting."""
    import json
    import time
    (tmp_path / "state.json").write_text(json.dumps({"hosts": {
        "HV01": {"name": "HV01", "power": "booting", "ready_at": time.time() - 5},
        "HV02": {"name": "HV02", "power": "booting", "ready_at": time.time() + 3600}}}), encoding="utf-8")
    out = hvsim("status", "--state", str(tmp_path)).stdout
    assert "HV01  on" in out and "HV02  booting" in out
    data = json.loads(hvsim("status", "--state", str(tmp_path), "--json").stdout)
    assert [data["hosts"][h]["power"] for h in ("HV01", "HV02")] == ["on", "booting"]


# ------------------------------------------------------------------ the renderer on a built lab
def test_render_status_tolerates_missing_sections():
    out = render_status({"hosts": {"X1": {"name": "X1", "power": "on"}}})
    assert "X1" in out and "(none)" in out


def test_render_status_shows_storage_clusters_csvs_and_vms():
    lun = "c:\\iscsivirtualdisks\\csv.vhdx"
    world = {
        "hosts": {
            "DC01": {"name": "DC01", "power": "on", "domain": "hyper.local",
                     "iscsi_target_server": {
                         "targets": {"cluster": {"name": "Cluster", "iqn": "iqn.1991-05.com.microsoft:dc01-cluster-target",
                                                 "initiator_ids": ["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"],
                                                 "luns": [{"path": "C:\\iSCSIVirtualDisks\\csv.vhdx", "lun": 1}]}},
                         "virtual_disks": {lun: {"path": "C:\\iSCSIVirtualDisks\\csv.vhdx", "size": 20 * 2**30,
                                                 "serial": "SER-CSV", "disk_type": "Dynamic",
                                                 "layout": {"partition_style": "GPT"}}}}},
            "HV01": {"name": "HV01", "power": "on", "domain": "hyper.local",
                     "disks": [{"number": 2, "present": True, "offline": False, "read_only": False,
                                "bus_type": "iSCSI", "serial": "SER-CSV",
                                "source": {"kind": "iscsi", "target_host": "DC01", "vdisk": lun, "lun": 1}},
                               {"number": 5, "present": False, "serial": "GONE"}],
                     "hyperv": {"vms": {"VMID-1": {"id": "VMID-1", "name": "TestVM", "state": "Running",
                                                   "path": "C:\\ClusterStorage\\Volume1"}}}},
        },
        "clusters": {"CLUSTER1": {
            "name": "CLUSTER1", "fqdn": "cluster1.hyper.local", "static_address": ["192.168.10.20"],
            "nodes": {"HV01": {"name": "HV01"}, "HV02": {"name": "HV02"}},
            "quorum": {"type": "NodeAndDiskMajority", "resource": "Cluster Disk 1"},
            "csvs": {"Cluster Disk 2": {"name": "Cluster Disk 2", "path": "C:\\ClusterStorage\\Volume1",
                                        "owner": "HV02"}},
            "groups": {"TestVM": {"type": "VirtualMachine", "owner": "HV01", "state": "Online", "vm_id": "VMID-1"}}}},
    }
    out = render_status(world)
    line = lambda prefix: next(x for x in out.splitlines() if x.strip().startswith(prefix))  # noqa: E731
    assert "0:" not in line("DC01  Cluster") and "1:csv.vhdx" in line("DC01  Cluster")
    assert "20 GB" in line("DC01  C:\\iSCSIVirtualDisks\\csv.vhdx") and "Cluster" in line("DC01  C:\\iSCSI")
    disk = line("HV01  2")
    assert "iSCSI" in disk and "20 GB" in disk and "GPT" in disk and "online" in disk and "DC01 LUN 1" in disk
    assert "GONE" not in out                              # a disk no longer present is not listed
    cl = line("CLUSTER1  HV01, HV02")
    assert "192.168.10.20" in cl and "NodeAndDiskMajority (Cluster Disk 1)" in cl
    assert "HV02" in line("CLUSTER1  Cluster Disk 2")
    vm = line("TestVM")
    assert "Running" in vm and "CLUSTER1/TestVM" in vm and " HV01 " in vm
