"""hvsim's WinRS shells behave as Windows': MaxShellsPerUser 30, the idle timeout (7200 s, or the
create request's IdleTimeOut), the open-shell count in status; and the fail-operation fault."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import winrm
from winrm.exceptions import WSManFaultError

from hvsim.control import ControlError

REPO = Path(__file__).resolve().parents[2]


def protocol(lab, host="HV01"):
    user, password = lab.credentials(host)
    return winrm.Protocol(lab.url(host), transport="ntlm", username=user, password=password)


def shells(lab, host="HV01"):
    return lab.control("status")["hosts"][host]["shells"]


def test_thirty_shells_per_user_then_the_quota_fault(hvsim_lab_module):
    lab = hvsim_lab_module
    p = protocol(lab)
    baseline = shells(lab)
    opened = [p.open_shell(codepage=65001) for _ in range(30 - baseline)]
    try:
        assert shells(lab) == 30
        with pytest.raises(WSManFaultError) as info:
            p.open_shell(codepage=65001)
        assert info.value.wsman_fault_code == 2150859173      # 0x803381A5, ERROR_WSMAN_QUOTA_MAX_SHELLS
        assert "This user is allowed a maximum number of 30 concurrent shells, which has been exceeded" in \
            info.value.reason
    finally:
        for shell_id in opened:
            p.close_shell(shell_id, close_session=False)
    assert shells(lab) == baseline


def test_idle_timeout_is_windows_default_or_the_requested_one(hvsim_lab_module):
    lab = hvsim_lab_module
    p = protocol(lab)
    answers = []
    send = p.send_message
    p.send_message = lambda message: answers.append(send(message)) or answers[-1]
    default = p.open_shell(codepage=65001)
    assert b"<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>" in answers[-1]   # winrs IdleTimeout 7200000 ms
    short = p.open_shell(codepage=65001, idle_timeout="PT1.000S")
    assert b"<rsp:IdleTimeOut>PT1.000S</rsp:IdleTimeOut>" in answers[-1]
    before = shells(lab)
    time.sleep(1.3)
    assert shells(lab) == before - 1            # the idle one no longer counts ...
    with pytest.raises(WSManFaultError) as info:
        p.run_command(short, "hostname")        # ... and its id is gone, as after a restart
    assert info.value.wsman_fault_code == 2150858843
    p.close_shell(default)
    assert shells(lab) == before - 2


def test_fail_operation_loses_one_answer_and_is_checked(hvsim_lab_module):
    lab = hvsim_lab_module
    p = protocol(lab)
    shell_id = p.open_shell(codepage=65001)
    lab.control("fail-operation", host="hv01", operation="command")          # names: any case
    with pytest.raises(requests.exceptions.ConnectionError):
        p.run_command(shell_id, "hostname")
    records = [r for r in lab.audit() if r.get("kind") == "operation_fault"]
    assert records[-1]["operation"] == "Command" and records[-1]["after"] is False
    assert lab.control("status")["faults"]["operations"] == []
    p = protocol(lab)
    shell_id = p.open_shell(codepage=65001)
    lab.control("fail-operation", host="HV01", operation="Receive", after=True, kind="timeout", seconds=2)
    command = p.run_command(shell_id, "hostname")
    p.transport.read_timeout_sec = 1
    with pytest.raises(requests.exceptions.ReadTimeout):
        p.get_command_output(shell_id, command)
    assert [r for r in lab.audit() if r.get("kind") == "command"][-1]["exit_code"] == 0   # it ran
    p = protocol(lab)
    p.close_shell(shell_id)
    for bad, words in (({"operation": "Explode"}, "Create, Command, Send, Receive, Signal, Delete"),
                       ({"operation": "Send", "kind": "slow"}, "reset or timeout"),
                       ({"operation": "Send", "count": 0}, "count must be >= 1")):
        with pytest.raises(ControlError, match=words):
            lab.control("fail-operation", host="HV01", **bad)


def test_fail_operation_on_the_command_line(hvsim_lab_module):
    state = str(hvsim_lab_module.state_dir)
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def hvsim(*args):
        res = subprocess.run([sys.executable, "-m", "hvsim", *args, "--state", state], capture_output=True,
                             text=True, env=env, cwd=str(REPO), timeout=60)
        assert res.returncode == 0, res.stderr
        return res.stdout

    out = hvsim("fail-operation", "HV02", "Signal", "--after", "--kind", "timeout", "--count", "2")
    assert '"operation": "Signal"' in out and '"after": true' in out and '"count": 2' in out
    assert "next 2 Signal answer(s) lost: timeout after the work" in hvsim("status")
    hvsim("clear-faults", "HV02")
    assert hvsim_lab_module.control("status")["faults"]["operations"] == []
