"""WinRM shells never leak, and no transport failure escapes as a traceback or loses a record.

Provider operations (IscsiTargetProvider create/read/update/delete, as the dynamic-provider host calls
them) through the real transport and the real pywinrm against hvsim; hvsim's control interface says
how many shells each host holds open and injects lost answers (fail-operation) at every step of a
command's life. One lab for the module: each test leaves it as it found it.
"""
import threading

import pytest

from hvprovider import errors, transport
from hvprovider.iscsi_target import IscsiTargetProvider

HOST = "DC01"   # the storage host
OPERATIONS = ("Create", "Command", "Send", "Receive", "Signal", "Delete")


def connection(lab, **over):
    user, password = lab.credentials(HOST)
    ep = lab.host_endpoint(HOST)
    return {"host": ep["address"], "port": ep["http_port"], "username": user, "password": password, **over}


def props(lab, name, **over):
    return {"connection": connection(lab, **over), "target_name": name,
            "initiator_ids": ["DNSName:hv01.hyper.local"], "description": ""}


def open_shells(lab):
    return lab.control("status")["hosts"][HOST]["shells"]


def targets(lab):
    return lab.world()["hosts"][HOST]["iscsi_target_server"]["targets"]


def pending_faults(lab):
    return [f for f in lab.control("status")["faults"].get("operations", []) if f["host"] == HOST]


def test_forty_provider_operations_leave_no_shell_open(hvsim_lab_module):
    """create, read, update, delete ten times over, from 4 threads at once (the provider host's 4
    workers): the host's open-shell count is back to its baseline after every operation has ended,
    and never exceeded 4 (one pool, shared)."""
    lab = hvsim_lab_module
    provider = IscsiTargetProvider()
    transport.run_script(connection(lab), "host_boot_time.ps1")   # the feature check is not part of it
    baseline = open_shells(lab)
    done, failures, peak = [], [], [baseline]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak.append(open_shells(lab))
            stop.wait(0.05)

    def worker(index):
        try:
            for round_ in range(10 // 4 + 1):
                if len(done) >= 40:
                    return
                p = props(lab, f"shells-{index}-{round_}")
                created = provider.create(p)
                provider.read(created.id, created.outs)
                updated = provider.update(created.id, created.outs, {**p, "description": "updated"})
                provider.delete(created.id, {**created.outs, **updated.outs})
                done.extend(["create", "read", "update", "delete"])
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(300)
    stop.set()
    watcher.join(5)
    assert failures == []
    assert len(done) >= 40
    assert open_shells(lab) == baseline            # hvsim agrees: every shell was deleted
    assert transport.open_shells() == 0            # and this process holds none
    assert max(peak) <= baseline + transport.MAX_SHELLS_PER_HOST
    assert not [t for t in targets(lab) if t.startswith("shells-")]


# Where a lost answer leaves things (connect_retries=0, so the first loss is final):
#   "error": the call fails with one line; "recorded": it succeeds (the result had arrived);
#   created: whether the target exists on the host after the call.
EXPECTED = {
    ("Create", False): ("error", False), ("Create", True): ("error", False),
    ("Command", False): ("error", False), ("Command", True): ("error", False),   # stdin never came
    ("Send", False): ("error", False), ("Send", True): ("error", True),          # the script ran
    ("Receive", False): ("error", True), ("Receive", True): ("error", True),
    ("Signal", False): ("recorded", True), ("Signal", True): ("recorded", True),
    ("Delete", False): ("recorded", True), ("Delete", True): ("recorded", True),
}


@pytest.mark.parametrize("kind", ["reset", "timeout"])
@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_lost_answer_is_one_line_and_the_next_up_adopts(hvsim_lab_module, operation, after, kind):
    lab = hvsim_lab_module
    provider = IscsiTargetProvider()
    name = f"lost-{operation}-{'after' if after else 'before'}-{kind}".lower()
    # retries off and short timeouts: the first lost answer is final, a silent host costs 2 s
    p = props(lab, name, connect_retries=0, read_timeout=2, operation_timeout=1)
    transport.run_script(p["connection"], "host_boot_time.ps1")
    baseline = open_shells(lab)
    lab.control("fail-operation", host=HOST, operation=operation, kind=kind, after=after, seconds=2.5)

    outcome, created = EXPECTED[(operation, after)]
    try:
        result = provider.create(p)
    except errors.HvProviderError as exc:
        message = str(exc)
        assert outcome == "error", message
        assert "\n" not in message
        assert f"{p['connection']['host']}:{p['connection']['port']}" in message
        assert "pulumi up again" in message or "check that the host" in message
        if operation != "Create":   # the command had been sent: its outcome is unknown, and it says so
            assert "may have finished" in message and "running iscsi_target.ps1" in message
    else:
        assert outcome == "recorded"
        assert result.outs["target_iqn"] and result.outs["adopted"] is False
    assert pending_faults(lab) == []                       # the fault was hit
    assert (name in targets(lab)) is created

    # the next up: nothing recorded -> create again, which adopts what the lost call created
    again = provider.create(props(lab, name))
    assert list(t for t in targets(lab) if t == name) == [name]       # one target, no duplicate
    if outcome == "error":
        assert again.outs["adopted"] is created
    provider.delete(again.id, again.outs)
    assert name not in targets(lab)
    # every shell was deleted, also those the failure left behind; only a shell whose creation
    # answer was lost is unknown to us: it ends with the 10-minute idle timeout it was created with
    leaked = 1 if (operation, after) == ("Create", True) else 0
    assert open_shells(lab) == baseline + leaked
    assert transport.open_shells() == 0


def test_retries_absorb_one_lost_answer_at_every_step(hvsim_lab_module):
    """With the default retries a single lost answer anywhere is invisible: the call succeeds, the
    script ran again where needed (it is idempotent), one target, no shell left."""
    lab = hvsim_lab_module
    provider = IscsiTargetProvider()
    for operation in OPERATIONS:
        for after in (False, True):
            name = f"absorbed-{operation}-{after}".lower()
            p = props(lab, name)
            transport.run_script(p["connection"], "host_boot_time.ps1")
            baseline = open_shells(lab)
            lab.control("fail-operation", host=HOST, operation=operation, after=after)
            result = provider.create(p)
            assert result.outs["target_iqn"].endswith(f"{name}-target") or result.outs["target_iqn"]
            assert pending_faults(lab) == []
            assert [t for t in targets(lab) if t == name] == [name]
            provider.delete(result.id, result.outs)
            assert open_shells(lab) == baseline + (1 if (operation, after) == ("Create", True) else 0)


def test_lost_answers_inside_the_restart_wait_are_absorbed(hvsim_lab_module):
    """wait_for_restart: a reset and a read timeout while it confirms the new boot time are retried
    within its own timeout, not raised; no shell is left behind."""
    lab = hvsim_lab_module
    conn = connection(lab, connect_retries=0, read_timeout=2, operation_timeout=1)
    previous = transport.boot_time(conn)
    lab.control("restart", host=HOST)
    lab.control("fail-operation", host=HOST, operation="Receive", after=True)
    lab.control("fail-operation", host=HOST, operation="Command", kind="timeout", seconds=2.5)
    current = transport.wait_for_restart(conn, previous, timeout=120)
    assert current != previous
    assert pending_faults(lab) == []
    # the restart ended every earlier shell; of those opened since, none is left
    assert open_shells(lab) == 0 and transport.open_shells() == 0
