"""hvsim world core: lab building, lookups, atomic persistence and rollback, concurrency, boots and power."""
from __future__ import annotations

import json
import threading
import time

import pytest

from hvsim.world import World, files, parse_iso
from hvsim_fixtures import wait_until

LAB = {
    "time_factor": 0.001,
    "restart_delay": 0.01,
    "domain": {"fqdn": "hyper.local", "netbios": "HYPER", "controller": "DC01",
               "users": {"Administrator": {"password": "Dom-Pass1"}}},
    "hosts": {
        "DC01": {"address": "127.0.10.10", "domain_member": True, "features": ["AD-Domain-Services", "DNS"],
                 "local_users": {"Administrator": {"password": "Dc-Local1"}},
                 "nics": [{"name": "Ethernet", "ipv4": "192.168.10.10", "prefix": 24}]},
        "HV01": {"address": "127.0.10.11", "boot_seconds": 30, "os": {"caption": "Hyper-V Server 2019", "version": "10.0.17763"},
                 "local_users": {"Administrator": {"password": "Hv-Local1"}},
                 "nics": [{"name": "Ethernet", "ipv4": "192.168.10.11"}, {"name": "Ethernet 2", "ipv4": "192.168.20.11"}]},
    },
}



@pytest.fixture
def world(tmp_path):
    w = World(tmp_path / "state", lab=LAB)
    yield w
    w.close()


def test_lab_builds_hosts_domain_features_and_services(world):
    hv = world.host("HV01")
    assert hv["os"] == {"caption": "Hyper-V Server 2019", "version": "10.0.17763", "build": "17763",
                        "product_type": "server"}
    assert hv["domain"] is None and hv["workgroup"] == "WORKGROUP"
    assert world.host("DC01")["domain"] == "hyper.local"
    assert set(world.domain()["computers"]) == {"DC01"}
    # Listed features are installed with their parents; others are available.
    assert world.feature_state("DC01", "AD-Domain-Services") == "Installed"
    assert world.feature_state("HV01", "Hyper-V") == "Available"
    assert "NTDS" in world.host("DC01")["services"] and "NTDS" not in hv["services"]
    assert hv["services"]["MSiSCSI"] == {"display_name": "Microsoft iSCSI Initiator Service", "status": "Stopped",
                                         "start_type": "Manual"}
    assert [n["name"] for n in hv["nics"]] == ["Ethernet", "Ethernet 2"]
    assert hv["iscsi_initiator"]["iqn"] == "iqn.1991-05.com.microsoft:hv01"
    assert world.host("DC01")["iscsi_initiator"]["iqn"] == "iqn.1991-05.com.microsoft:dc01.hyper.local"


def test_host_lookup_by_name_fqdn_and_addresses(world):
    assert world.host("hv01")["name"] == "HV01"
    assert world.host("dc01.HYPER.local")["name"] == "DC01"
    assert world.host("127.0.10.11")["name"] == "HV01"
    assert world.host("192.168.20.11")["name"] == "HV01"
    with pytest.raises(KeyError):
        world.host("HV09")
    # A workgroup host has no FQDN yet.
    with pytest.raises(KeyError):
        world.host("hv01.hyper.local")


def _on_disk(tmp_path) -> dict:
    return json.loads((tmp_path / "state" / "state.json").read_text())


def test_transaction_persists_atomically_and_survives_a_new_world(tmp_path, world):
    with world.transaction() as data:
        data["hosts"]["HV01"]["services"]["MSiSCSI"]["status"] = "Running"
    world.flush()   # what the protocol does before it reports a command Done
    on_disk = _on_disk(tmp_path)
    assert on_disk["hosts"]["HV01"]["services"]["MSiSCSI"]["status"] == "Running"
    assert not list((tmp_path / "state").glob("*.tmp"))
    again = World(tmp_path / "state", lab={"hosts": {"OTHER": {}}})   # state.json wins over the lab
    assert again.host_names() == ["DC01", "HV01"]
    assert again.host("HV01")["services"]["MSiSCSI"]["status"] == "Running"


def test_transaction_rolls_back_on_exception(tmp_path, world):
    before = (tmp_path / "state" / "state.json").read_text()
    with pytest.raises(RuntimeError):
        with world.transaction() as data:
            data["hosts"]["HV01"]["domain"] = "broken"
            del data["hosts"]["DC01"]
            raise RuntimeError("boom")
    assert world.host("HV01")["domain"] is None
    assert "DC01" in world.data["hosts"]
    assert (tmp_path / "state" / "state.json").read_text() == before


def test_nested_transaction_rollback_keeps_outer_changes(world):
    with world.transaction() as data:
        data["hosts"]["HV01"]["workgroup"] = "OUTER"
        with pytest.raises(ValueError):
            with world.transaction() as inner:
                inner["hosts"]["HV01"]["workgroup"] = "INNER"
                raise ValueError
        assert data["hosts"]["HV01"]["workgroup"] == "OUTER"
    assert world.host("HV01")["workgroup"] == "OUTER"


def test_concurrent_transactions_lose_no_update(tmp_path, world):
    with world.transaction() as data:
        data["counter"] = 0

    def bump():
        for _ in range(40):
            with world.transaction() as d:
                value = d["counter"]
                time.sleep(0)
                d["counter"] = value + 1

    threads = [threading.Thread(target=bump) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert world.data["counter"] == 240
    world.flush()
    assert _on_disk(tmp_path)["counter"] == 240


def test_a_change_is_written_behind_without_a_flush(tmp_path, world):
    with world.transaction() as data:
        data["hosts"]["HV01"]["workgroup"] = "BEHIND"
    assert wait_until(lambda: _on_disk(tmp_path)["hosts"]["HV01"]["workgroup"] == "BEHIND")
    assert not list((tmp_path / "state").glob("*.tmp"))


def test_a_transaction_that_changes_nothing_writes_nothing(tmp_path, world):
    world.flush()
    before = (tmp_path / "state" / "state.json").stat().st_mtime_ns
    with world.transaction():
        world.host("HV01")
    world.flush()
    assert (tmp_path / "state" / "state.json").stat().st_mtime_ns == before


def test_a_change_made_outside_a_transaction_is_written_by_the_next_one(tmp_path, world):
    with world.lock:
        world.data["hosts"]["HV01"]["workgroup"] = "OUTSIDE"
    with world.transaction():
        pass
    world.flush()
    assert _on_disk(tmp_path)["hosts"]["HV01"]["workgroup"] == "OUTSIDE"


def test_a_rollback_restores_every_kind_of_value(world):
    with world.transaction() as data:
        data["mixed"] = {"list": [1, 2.5, None, True, "x"], "nested": {"a": []}}
    with pytest.raises(RuntimeError):
        with world.transaction() as data:
            data["mixed"]["list"].append("lost")
            data["mixed"]["nested"]["a"].append(1)
            raise RuntimeError("boom")
    assert world.data["mixed"] == {"list": [1, 2.5, None, True, "x"], "nested": {"a": []}}


def test_restart_makes_host_unreachable_then_back_with_new_boot(world):
    hv = world.host("HV01")
    old_boot, old_id = hv["last_boot"], hv["boot_id"]
    with world.transaction():
        # 60,000 * 0.001 = 60 s of real time: "still booting" holds however slow this machine is right now
        world.host("HV01")["boot_seconds"] = 60_000
    world.restart("HV01", "test")
    assert not world.reachable("HV01")
    assert world.power_state("HV01") == "booting"
    assert hv["boot_id"] == old_id + 1
    assert parse_iso(hv["last_boot"]) > parse_iso(old_boot)
    assert hv["ready_at"] - time.time() > 30
    with world.transaction():
        hv["ready_at"] = time.time()                 # the boot time has passed
    assert wait_until(lambda: world.reachable("HV01"))
    assert world.power_state("HV01") == "on"
    boots = world.audit_records("boot")
    assert boots[-1]["host"] == "HV01" and boots[-1]["reason"] == "test"


def test_a_completed_boot_is_written_to_state_json(world, tmp_path):
    world.restart("HV01", "test")
    with world.transaction():
        world.host("HV01")["ready_at"] = time.time() - 1   # the boot time has passed
    world.flush()
    assert _on_disk(tmp_path)["hosts"]["HV01"]["power"] == "booting"
    assert world.power_state("HV01") == "on"               # completing the boot is a transaction
    world.flush()
    assert _on_disk(tmp_path)["hosts"]["HV01"]["power"] == "on"


def test_a_boot_completes_on_disk_when_due_with_nobody_asking(tmp_path, world):
    """hvsim status reads state.json: a host that finished booting shows as on without any later call."""
    with world.transaction():
        world.host("HV01")["boot_seconds"] = 1000          # 1 s of real time: "booting" is seen first
    world.restart("HV01", "test")
    world.flush()
    assert _on_disk(tmp_path)["hosts"]["HV01"]["power"] == "booting"
    assert wait_until(lambda: _on_disk(tmp_path)["hosts"]["HV01"]["power"] == "on")


def test_boot_time_scales_with_time_factor(tmp_path):
    slow = World(tmp_path / "slow", lab=LAB, time_factor=1.0)
    slow.restart("HV01", "t")
    # 30 simulated seconds at factor 1.0: the host is still down long after a fast lab would be up.
    time.sleep(0.05)
    assert not slow.reachable("HV01")
    assert slow.host("HV01")["ready_at"] - time.time() > 20
    slow.close()


def test_restart_applies_pending_domain_join_and_features(world):
    with world.transaction():
        hv = world.host("HV01")
        hv["pending"]["domain"] = {"action": "join", "fqdn": "hyper.local"}
        hv["features"]["Hyper-V"] = {"state": "InstallPending"}
        hv["pending"]["features"] = {"Hyper-V": "install"}
        hv["pending"]["restart_required"] = True
    assert world.check_credential("HV01", "HYPER\\Administrator", "Dom-Pass1") is None
    world.restart("HV01", "join")
    hv = world.host("HV01")
    assert hv["domain"] == "hyper.local" and hv["workgroup"] is None
    assert world.feature_state("HV01", "Hyper-V") == "Installed"
    assert hv["services"]["vmms"]["status"] == "Running"
    assert hv["pending"] == {"restart_required": False}
    assert world.host("hv01.hyper.local") is hv
    assert world.check_credential("HV01", "HYPER\\Administrator", "Dom-Pass1") == "HYPER\\Administrator"
    assert world.check_credential("HV01", "administrator@hyper.local", "Dom-Pass1") == "HYPER\\Administrator"


def test_credentials_local_and_domain(world):
    assert world.check_credential("HV01", "Administrator", "Hv-Local1") == "HV01\\Administrator"
    assert world.check_credential("HV01", ".\\Administrator", "Hv-Local1") == "HV01\\Administrator"
    assert world.check_credential("HV01", "HV01\\Administrator", "wrong") is None
    assert world.check_credential("DC01", "Administrator", "Dom-Pass1") == "HYPER\\Administrator"
    assert world.check_domain_credential("HYPER\\Administrator", "Dom-Pass1") == "HYPER\\Administrator"
    assert world.check_domain_credential("HYPER\\Administrator", "nope") is None
    world.power_off("DC01")
    assert world.check_domain_credential("HYPER\\Administrator", "Dom-Pass1") is None
    assert not world.dc_up()


def test_power_off_and_on_run_hooks(world):
    seen = []
    world.hooks["power_off"].append(lambda w, host: seen.append(("off", host, w.host(host)["power"])))
    world.hooks["boot"].append(lambda w, host: seen.append(("boot", host, w.host(host)["power"])))
    world.power_off("HV01")
    assert not world.reachable("HV01")
    assert world.host("HV01")["services"]["WinRM"]["status"] == "Stopped"
    world.power_off("HV01")      # already off: nothing happens
    world.power_on("HV01")
    assert seen == [("off", "HV01", "off"), ("boot", "HV01", "booting")]
    assert wait_until(lambda: world.reachable("HV01"))
    assert world.host("HV01")["services"]["WinRM"]["status"] == "Running"
    with pytest.raises(RuntimeError):
        world.power_off("HV01")
        world.restart("HV01", "cannot restart a powered-off host")


def test_schedule_restart_happens_later_and_close_cancels(tmp_path):
    w = World(tmp_path / "s", lab=LAB)
    boot_id = w.host("HV01")["boot_id"]
    w.schedule_restart("HV01", "later")               # restart_delay 0.01 s
    assert wait_until(lambda: w.host("HV01")["boot_id"] == boot_id + 1)
    # "later" with a delay no stall of this process can outlast (with 10 ms, a busy machine could
    # run the timer before the next line)
    w.restart_delay = 5.0
    w.schedule_restart("HV01", "cancelled")
    assert w.host("HV01")["boot_id"] == boot_id + 1   # not yet: the reply of the command gets out first
    w.close()
    for timer in w._timers:                           # cancelled: the timer threads end now, not in 5 s
        timer.join(2.0)
        assert not timer.is_alive()
    assert w.host("HV01")["boot_id"] == boot_id + 1


def test_audit_appends_json_lines(tmp_path, world):
    world.audit("cmdlet", host="HV01", user="HV01\\Administrator", cmdlet="Get-Disk", params={"Number": 1})
    lines = (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    rec = json.loads(lines[-1])
    assert rec["kind"] == "cmdlet" and rec["host"] == "HV01" and rec["params"] == {"Number": 1}
    assert "time" in rec


def test_files_are_case_insensitive_with_parents(world):
    with world.transaction():
        hv = world.host("HV01")
        files.put_file(hv, "C:/ClusterStorage/Volume1/VM1/disk.vhdx", size=1024)
        assert files.get(hv, "c:\\clusterstorage\\volume1")["kind"] == "dir"
        assert files.get(hv, "C:\\CLUSTERSTORAGE\\Volume1\\vm1\\DISK.VHDX")["size"] == 1024
        assert [e["path"] for e in files.children(hv, "C:\\ClusterStorage\\Volume1")] == ["C:\\ClusterStorage\\Volume1\\VM1"]
        with pytest.raises(OSError):
            files.remove(hv, "C:\\ClusterStorage")
        files.remove(hv, "C:\\ClusterStorage", recurse=True)
        assert files.get(hv, "C:\\ClusterStorage\\Volume1\\VM1\\disk.vhdx") is None
        assert files.get(hv, "c:")["path"] == "C:\\"


def test_seed_lab_file_loads(tmp_path):
    from pathlib import Path

    from hvsim.world import load_lab

    labs = Path(__file__).resolve().parents[2] / "hvsim" / "labs"
    lab = load_lab(labs / "existing-domain.yaml")
    w = World(tmp_path / "existing", lab=lab)
    assert w.host_names() == ["DC01", "HV01", "HV02"]
    assert w.host("127.0.10.12")["name"] == "HV02"
    assert w.domain()["controller"] == "DC01" and w.host("HV01")["domain"] is None
    assert w.time_factor == lab["time_factor"]
    w.close()
    # the seed as the walkthrough starts it: no domain; Hyper-V Server ships with its Hyper-V role
    w = World(tmp_path / "seed", lab=load_lab(labs / "seed.yaml"))
    assert w.domain() is None and not any(w.host(h)["domain"] for h in w.host_names())
    assert [h for h in w.host_names() if w.feature_installed(h, "Hyper-V")] == ["HV01", "HV02"]
    w.close()


def test_lab_without_hosts_is_rejected(tmp_path):
    from hvsim.world import load_lab

    bad = tmp_path / "bad.yaml"
    bad.write_text("domain: {fqdn: x.local}\n")
    with pytest.raises(ValueError):
        load_lab(bad)
    with pytest.raises(ValueError):
        World(tmp_path / "s", lab={"domain": {"fqdn": "x.local", "controller": "DC9"}, "hosts": {"A": {}}})
