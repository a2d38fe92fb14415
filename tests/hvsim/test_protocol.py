"""The real pywinrm 0.5.0 (and pypsrp's WinRS path) against a real hvsim server subprocess.

Every command runs real PowerShell through hvsim's interpreter; assertions are on what the client
received and on what the lab recorded (audit.jsonl, state.json).
"""
import base64
import json

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

from hvsim.testing import LabProcess


BOOTSTRAP_ARGS = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand"]


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


@pytest.fixture(scope="module")
def lab(hvsim_lab_module):
    return hvsim_lab_module


def protocol(lab, host="HV01", **kw):
    user, pw = lab.credentials(host)
    return winrm.Protocol(lab.url(host), transport="ntlm", username=user, password=pw, **kw)


def commands_audited(lab, host):
    return [r for r in lab.audit() if r["kind"] == "command" and r["host"] == host]


# ------------------------------------------------------------------ NTLM + message encryption
def test_run_ps_over_ntlm_with_message_encryption(lab):
    before = len(commands_audited(lab, "HV01"))
    r = lab.session("HV01").run_ps("$x = 'hello'; Write-Output \"$x from PowerShell\"")
    assert r.status_code == 0, r.std_err
    assert r.std_out == b"hello from PowerShell\r\n"
    assert r.std_err == b""
    rec = commands_audited(lab, "HV01")[before:]
    assert len(rec) == 1
    assert rec[0]["user"] == "HV01\\Administrator"
    assert rec[0]["command_line"].startswith("powershell -encodedcommand <script: ")   # no script text
    assert rec[0]["script"] is None and rec[0]["exit_code"] == 0


def test_shell_reused_for_several_commands_with_chunked_stdin(lab):
    p = protocol(lab)
    shell = p.open_shell(codepage=65001, noprofile=True)
    try:
        script = "$text = ($input | Out-String); Write-Output ('got ' + $text.Trim())"
        outs = []
        for payload in ('{"name": "first"}', '{"name": "second", "pad": "' + "x" * 5000 + '"}'):
            cmd = p.run_command(shell, "powershell.exe", BOOTSTRAP_ARGS + [encoded(script)])
            data = payload.encode("ascii")
            for i in range(0, len(data), 1000):          # chunked, End only on the last chunk
                chunk = data[i:i + 1000]
                p.send_command_input(shell, cmd, chunk, end=i + 1000 >= len(data))
            out, err, code = p.get_command_output(shell, cmd)
            p.cleanup_command(shell, cmd)
            assert code == 0, err
            outs.append(out)
        assert outs[0] == b'got {"name": "first"}\r\n'
        assert outs[1].startswith(b'got {"name": "second"') and len(outs[1]) > 5000
    finally:
        p.close_shell(shell)
    recs = commands_audited(lab, "HV01")[-2:]
    assert [r["stdin_bytes"] for r in recs] == [len('{"name": "first"}'), 5000 + len('{"name": "second", "pad": ""}')]
    assert all("x" * 50 not in r["command_line"] for r in recs)   # stdin is not audited
    assert [r["script"] for r in recs] == [None, None]            # no payload names a .ps1 here


def test_wrong_password_is_401(lab):
    user, _ = lab.credentials("HV01")
    with pytest.raises(InvalidCredentialsError):
        winrm.Session(lab.url("HV01"), auth=(user, "wrong"), transport="ntlm").run_ps("1")
    with pytest.raises(InvalidCredentialsError):
        winrm.Session(lab.url("HV01", https=True), auth=("Administrator", "wrong"), transport="basic",
                      server_cert_validation="validate", ca_trust_path=lab.ca_path).run_ps("1")


def test_accounts_are_checked_per_host(lab):
    # HV02's local password is not HV01's
    _, hv02_pw = lab.credentials("HV02")
    with pytest.raises(InvalidCredentialsError):
        winrm.Session(lab.url("HV01"), auth=("Administrator", hv02_pw), transport="ntlm").run_ps("1")
    # a domain account works on the DC but not on a host that has not joined the domain
    duser, dpw = lab.credentials("DC01", domain=True)
    assert winrm.Session(lab.url("DC01"), auth=(duser, dpw), transport="ntlm").run_ps("1").status_code == 0
    with pytest.raises(InvalidCredentialsError):
        winrm.Session(lab.url("HV01"), auth=(duser, dpw), transport="ntlm").run_ps("1")


# ------------------------------------------------------------------ HTTPS + Basic
def test_https_basic_with_certificate_validation(lab):
    r = lab.session("HV01", https=True).run_ps("Write-Output 'over TLS'")
    assert r.status_code == 0 and r.std_out == b"over TLS\r\n"
    assert commands_audited(lab, "HV01")[-1]["user"] == "HV01\\Administrator"


def test_https_certificate_is_rejected_without_the_lab_ca(lab):
    _, pw = lab.credentials("HV01")
    with pytest.raises(requests.exceptions.SSLError):
        winrm.Session(lab.url("HV01", https=True), auth=("Administrator", pw), transport="basic",
                      server_cert_validation="validate").run_ps("1")


def test_basic_over_http_needs_allow_unencrypted(lab):
    _, pw = lab.credentials("HV01")
    with pytest.raises(InvalidCredentialsError):
        winrm.Session(lab.url("HV01"), auth=("Administrator", pw), transport="basic").run_ps("1")


def test_basic_refuses_domain_accounts(lab):
    duser, dpw = lab.credentials("DC01", domain=True)
    with pytest.raises(InvalidCredentialsError):
        winrm.Session(lab.url("DC01", https=True), auth=(duser, dpw), transport="basic",
                      server_cert_validation="validate", ca_trust_path=lab.ca_path).run_ps("1")


def test_ntlm_over_https_with_channel_binding(lab):
    user, pw = lab.credentials("HV02")
    s = winrm.Session(lab.url("HV02", https=True), auth=(user, pw), transport="ntlm",
                      server_cert_validation="validate", ca_trust_path=lab.ca_path)
    r = s.run_ps("Write-Output 'cbt'")
    assert r.status_code == 0 and r.std_out == b"cbt\r\n"


def test_channel_binding_must_match_when_the_client_sends_one(lab, monkeypatch):
    import requests_ntlm.requests_ntlm as rn
    user, pw = lab.credentials("HV02")

    def session():
        return winrm.Session(lab.url("HV02", https=True), auth=(user, pw), transport="ntlm",
                             server_cert_validation="validate", ca_trust_path=lab.ca_path)
    # a binding for some other certificate (a TLS man in the middle): refused
    monkeypatch.setattr(rn.HttpNtlmAuth, "_get_server_cert", lambda self, response: b"\x01" * 32)
    with pytest.raises(InvalidCredentialsError):
        session().run_ps("1")
    # no binding at all: accepted, as with Windows' default CbtHardeningLevel Relaxed
    monkeypatch.setattr(rn.HttpNtlmAuth, "_get_server_cert", lambda self, response: None)
    assert session().run_ps("Write-Output relaxed").std_out == b"relaxed\r\n"


# ------------------------------------------------------------------ pypsrp, an independent client
@pytest.mark.parametrize("ssl,auth", [(False, "ntlm"), (False, "negotiate"), (True, "negotiate")])
def test_pypsrp_winrs(lab, ssl, auth):
    from pypsrp.shell import Process, SignalCode, WinRS
    from pypsrp.wsman import WSMan
    ep = lab.host_endpoint("HV01")
    user, pw = lab.credentials("HV01")
    wsman = WSMan(ep["address"], port=ep["https_port"] if ssl else ep["http_port"], ssl=ssl, auth=auth,
                  username=user, password=pw, cert_validation=lab.ca_path if ssl else False)
    with wsman, WinRS(wsman, codepage=65001, no_profile=True) as shell:
        proc = Process(shell, "powershell.exe", BOOTSTRAP_ARGS + [encoded("Write-Output ('in=' + ($input | Out-String).Trim())")])
        proc.begin_invoke()
        proc.send(b"from pypsrp", end=True)
        proc.end_invoke()
        proc.signal(SignalCode.TERMINATE)
        assert proc.rc == 0, proc.stderr
        assert proc.stdout == b"in=from pypsrp\r\n"
        second = Process(shell, "powershell.exe", BOOTSTRAP_ARGS + [encoded("exit 7")])
        second.invoke()
        assert second.rc == 7


# ------------------------------------------------------------------ output, timeouts, errors
def test_long_output_spans_several_receives(lab):
    p = protocol(lab)
    shell = p.open_shell(codepage=65001)
    try:
        cmd = p.run_command(shell, "powershell.exe", BOOTSTRAP_ARGS + [encoded("Write-Output ('x' * 400000)")])
        receives, out, done = 0, b"", False
        while not done:
            o, e, code, done = p.get_command_output_raw(shell, cmd)
            receives += 1
            out += o
        assert code == 0
        assert out == b"x" * 400000 + b"\r\n"
        assert receives >= 3   # 153600-byte envelopes cannot carry 400 KB of base64 in fewer
    finally:
        p.close_shell(shell)


def test_receive_blocks_then_answers_timed_out_and_the_client_polls_again(lab):
    p = protocol(lab, operation_timeout_sec=1, read_timeout_sec=5)
    shell = p.open_shell(codepage=65001)
    try:
        cmd = p.run_command(shell, "powershell.exe", ["-NoProfile", "-Command", "-"])   # script from stdin
        with pytest.raises(WinRMOperationTimeoutError):
            p.get_command_output_raw(shell, cmd)      # nothing to say within OperationTimeout
        p.send_command_input(shell, cmd, b"Write-Output 'late script'", end=True)
        out, err, code = p.get_command_output(shell, cmd)
        assert (out, code) == (b"late script\r\n", 0), err
    finally:
        p.close_shell(shell)


def test_errors_reach_stderr_as_clixml_with_exit_code(lab):
    p = protocol(lab)
    shell = p.open_shell(codepage=65001)
    try:
        cmd = p.run_command(shell, "powershell.exe", BOOTSTRAP_ARGS + [encoded("Write-Output 'before'\nthrow 'it broke'")])
        out, err, code = p.get_command_output(shell, cmd)
    finally:
        p.close_shell(shell)
    assert out == b"before\r\n"
    assert code == 1
    assert err.startswith(b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">')
    assert b'<S S="Error">it broke_x000D__x000A_</S>' in err
    assert b'<S S="Error">At line:2 char:1_x000D__x000A_</S>' in err


def test_warning_verbose_and_debug_reach_stderr_clixml_in_order_with_errors(lab):
    # powershell.exe -EncodedCommand with redirected output writes every non-output stream to stderr as
    # CLIXML (pywinrm#169): <S S="warning">, <S S="verbose">, <S S="debug">, interleaved with the errors
    script = ("$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'\n"
              "Write-Warning 'first'\nWrite-Verbose 'said <loudly>'\nWrite-Output 'out'\n"
              "Write-Error 'middle'\nWrite-Debug 'dbg'\nWrite-Warning 'last'\n")
    p = protocol(lab)
    shell = p.open_shell(codepage=65001)
    try:
        cmd = p.run_command(shell, "powershell.exe", BOOTSTRAP_ARGS + [encoded(script)])
        out, err, code = p.get_command_output(shell, cmd)
    finally:
        p.close_shell(shell)
    assert out == b"out\r\n"
    assert err.startswith(b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">')
    assert err.endswith(b"</Objs>")
    body = err.decode()
    # (as captured from Windows PowerShell 5.1: the error view line by line with its line ends, the
    # other records one element each, without a line end)
    marks = ['<S S="warning">first</S>', '<S S="verbose">said &lt;loudly&gt;</S>',
             '<S S="Error">Write-Error : middle_x000D__x000A_</S>', '<S S="debug">dbg</S>', '<S S="warning">last</S>']
    positions = [body.find(m) for m in marks]
    assert -1 not in positions, body
    assert positions == sorted(positions)


def test_run_ps_shows_a_warning_on_stderr_with_exit_code_0(lab):
    r = lab.session("HV01").run_ps("Write-Warning 'disk is slow'; Write-Output done")
    assert (r.status_code, r.std_out) == (0, b"done\r\n")
    assert r.std_err == b"disk is slow"


def test_run_ps_turns_clixml_into_readable_text(lab):
    r = lab.session("HV01").run_ps("Get-NoSuchThing -Name x")
    assert r.status_code == 1
    assert b"#< CLIXML" not in r.std_err
    assert b"The term 'Get-NoSuchThing' is not recognized as the name of a cmdlet" in r.std_err
    assert b"CommandNotFoundException" in r.std_err


def test_codepages_65001_and_437(lab):
    p = protocol(lab)
    script = encoded("Write-Output ([string][char]0x00E9)")
    for codepage, expected in ((65001, "\u00e9\r\n".encode("utf-8")), (437, b"\x82\r\n")):
        shell = p.open_shell(codepage=codepage)
        try:
            cmd = p.run_command(shell, "powershell.exe", BOOTSTRAP_ARGS + [script])
            out, err, code = p.get_command_output(shell, cmd)
            assert (out, code) == (expected, 0), err
        finally:
            p.close_shell(shell)


def test_long_command_lines_fail_in_cmd_as_on_windows(lab):
    s = lab.session("HV01")
    long_script = "$v = '" + "a" * 4000 + "'\nWrite-Output $v.Length"
    r = s.run_ps(long_script)          # -EncodedCommand inflates it past cmd.exe's 8191 characters
    assert r.status_code == 1
    assert r.std_err == b"The command line is too long.\r\n"
    p = protocol(lab)                  # the same script over stdin is fine
    shell = p.open_shell(codepage=65001)
    try:
        cmd = p.run_command(shell, "powershell.exe", ["-NoProfile", "-Command", "-"])
        p.send_command_input(shell, cmd, long_script.encode(), end=True)
        assert p.get_command_output(shell, cmd)[::2] == (b"4000\r\n", 0)
    finally:
        p.close_shell(shell)


def test_cmd_commands(lab):
    s = lab.session("HV01")
    assert s.run_cmd("hostname").std_out == b"HV01\r\n"
    r = s.run_cmd("ipconfig", ["/all"])
    assert r.status_code == 1
    assert r.std_err.startswith(b"'ipconfig' is not recognized as an internal or external command")


def test_stale_shell_id_is_invalid_selectors(lab):
    p = protocol(lab)
    with pytest.raises(WSManFaultError) as err:
        p.run_command("00000000-0000-0000-0000-000000000000", "hostname")
    assert err.value.wsman_fault_code == 2150858843
    shell = p.open_shell()
    p.close_shell(shell, close_session=False)
    with pytest.raises(WSManFaultError) as err:
        p.run_command(shell, "hostname")
    assert err.value.wsman_fault_code == 2150858843


def test_envelope_over_the_limit_is_413(lab):
    p = protocol(lab)
    shell = p.open_shell()
    try:
        cmd = p.run_command(shell, "powershell.exe", ["-NoProfile", "-Command", "-"])
        with pytest.raises(WinRMTransportError) as err:
            p.send_command_input(shell, cmd, b"#" * (600 * 1024), end=True)
        assert err.value.code == 413
    finally:
        protocol(lab).close_shell(shell)


def test_shell_quota_per_user(lab):
    p = protocol(lab, host="HV02")
    shells = []
    try:
        for _ in range(30):
            shells.append(p.open_shell())
        with pytest.raises(WSManFaultError) as err:
            p.open_shell()
        assert err.value.wsman_fault_code == 2150859173
        assert "maximum number of 30 concurrent shells" in err.value.reason
    finally:
        for s in shells:
            p.close_shell(s, close_session=False)
    shells = [p.open_shell()]          # closing them gave the quota back
    p.close_shell(shells[0])


# ------------------------------------------------------------------ reboots and injected faults
@pytest.fixture
def fresh_lab(tmp_path):
    lab = LabProcess.for_tests(tmp_path)
    lab.start()
    yield lab
    lab.stop()


def test_restart_kills_shells_and_power_off_refuses_connections(fresh_lab):
    lab = fresh_lab
    p = protocol(lab)
    shell = p.open_shell()
    boot_before = lab.world()["hosts"]["HV01"]["boot_id"]
    lab.control("restart", host="HV01")
    lab.wait_reachable("HV01")
    assert lab.world()["hosts"]["HV01"]["boot_id"] == boot_before + 1
    with pytest.raises(WSManFaultError) as err:        # a new connection, the old shell id
        protocol(lab).run_command(shell, "hostname")
    assert err.value.wsman_fault_code == 2150858843

    lab.control("power-off", host="HV01")
    assert lab.world()["hosts"]["HV01"]["power"] == "off"
    with pytest.raises(requests.exceptions.ConnectionError):
        lab.session("HV01").run_ps("1")
    assert lab.session("HV02").run_ps("Write-Output 'up'").std_out == b"up\r\n"   # only HV01 is down
    lab.control("power-on", host="HV01")
    lab.wait_reachable("HV01")
    assert lab.session("HV01").run_ps("Write-Output 'back'").std_out == b"back\r\n"


def test_drop_connections_and_latency(fresh_lab):
    lab = fresh_lab
    lab.control("drop-connections", host="HV02", count=2)
    assert lab.world()["faults"]["drop_connections"] == {"HV02": 2}
    for _ in range(2):
        with pytest.raises(requests.exceptions.ConnectionError):
            lab.session("HV02").run_ps("1")
    assert lab.session("HV02").run_ps("Write-Output 'ok'").std_out == b"ok\r\n"
    assert "HV02" not in lab.world()["faults"].get("drop_connections", {})
    assert len([r for r in lab.audit() if r["kind"] == "connection_dropped"]) == 2

    lab.control("latency", host="HV02", ms=20)
    assert lab.world()["faults"]["latency_ms"] == {"HV02": 20}
    assert lab.session("HV02").run_ps("Write-Output 'slow'").std_out == b"slow\r\n"
    lab.control("latency", host="HV02", ms=0)
    assert "HV02" not in lab.world()["faults"].get("latency_ms", {})


def test_injected_cmdlet_failure_fails_once(lab):
    lab.control("fail-cmdlet", host="HV02", cmdlet="Get-Service", message="RPC server is unavailable (injected)")
    script = "$ErrorActionPreference = 'Stop'; (Get-Service -Name WinRM).Status"
    first = lab.session("HV02").run_ps(script)
    assert first.status_code == 1
    assert b"RPC server is unavailable (injected)" in first.std_err
    assert lab.world()["faults"]["cmdlet_fail_once"] == []
    second = lab.session("HV02").run_ps(script)
    assert second.status_code == 0, second.std_err
    assert second.std_out == b"Running\r\n"


def test_domain_accounts_work_on_a_host_once_its_join_took_effect(fresh_lab):
    lab = fresh_lab
    duser, dpw = lab.credentials("DC01", domain=True)
    join = ("$cred = New-Object System.Management.Automation.PSCredential('HYPER\\Administrator', "
            "(ConvertTo-SecureString $input_pw -AsPlainText -Force))\n"
            "Add-Computer -DomainName hyper.local -Credential $cred -Force\n")
    p = protocol(lab, host="HV01")
    shell = p.open_shell(codepage=65001)
    try:   # the script, with the password, travels on stdin (never on the command line)
        cmd = p.run_command(shell, "powershell.exe", ["-NoProfile", "-NonInteractive", "-Command", "-"])
        p.send_command_input(shell, cmd, ("$input_pw = '" + dpw + "'\n" + join).encode(), end=True)
        out, err, code = p.get_command_output(shell, cmd)
        assert code == 0, err
    finally:
        p.close_shell(shell)
    assert dpw not in json.dumps(lab.audit())
    # joined, but not yet restarted: the domain account is still refused on HV01
    with pytest.raises(InvalidCredentialsError):
        winrm.Session(lab.url("HV01"), auth=(duser, dpw), transport="ntlm").run_cmd("whoami")
    lab.control("restart", host="HV01")
    lab.wait_reachable("HV01")
    r = winrm.Session(lab.url("HV01"), auth=(duser, dpw), transport="ntlm").run_cmd("whoami")
    assert r.std_out == b"hyper\\administrator\r\n"
    # Basic still takes local accounts only
    with pytest.raises(InvalidCredentialsError):
        winrm.Session(lab.url("HV01", https=True), auth=(duser, dpw), transport="basic",
                      server_cert_validation="validate", ca_trust_path=lab.ca_path).run_cmd("whoami")
    assert lab.session("HV01", https=True).run_cmd("whoami").std_out == b"hv01\\administrator\r\n"


def test_allow_unencrypted_lets_basic_and_plain_soap_over_http(tmp_path):
    from hvsim.testing import load_lab_file, EXISTING_DOMAIN_LAB
    seed = load_lab_file(EXISTING_DOMAIN_LAB)
    seed["hosts"]["HV02"]["local_users"]["Administrator"]["password"] = "Pa:ss w0rd\\'\"!"   # any character
    lab = LabProcess.for_tests(tmp_path, allow_unencrypted=True, lab=seed)
    lab.start()
    try:
        _, pw = lab.credentials("HV02")
        r = winrm.Session(lab.url("HV02"), auth=("Administrator", pw), transport="basic").run_ps("Write-Output plain")
        assert r.std_out == b"plain\r\n"
        assert commands_audited(lab, "HV02")[-1]["user"] == "HV02\\Administrator"
        r = winrm.Session(lab.url("HV02"), auth=("HV02\\Administrator", pw), transport="ntlm").run_cmd("whoami")
        assert r.std_out == b"hv02\\administrator\r\n"
    finally:
        lab.stop()
