"""The WinRM transport against a real hvsim server with real pywinrm (no mocks).

One lab per module: each test leaves the lab usable for the next.
"""
import json
import subprocess
import sys
import threading

import pytest

from hvprovider import errors, transport
from hvprovider.connection import connection_from_inputs


def conn_for(lab, host="HV01", **over):
    user, password = lab.credentials(host)
    ep = lab.host_endpoint(host)
    return connection_from_inputs({"host": ep["address"], "port": ep["http_port"], "username": user,
                                   "password": password, **over})


def commands_on(lab, host):
    return [r for r in lab.audit() if r.get("kind") == "command" and r.get("host") == host]


def open_shells(lab, host):
    """The shells hvsim's host holds open (control status)."""
    return lab.control("status")["hosts"][host]["shells"]


def test_calls_reuse_one_authenticated_shell(hvsim_lab_module):
    lab = hvsim_lab_module
    conn = conn_for(lab, "HV01")
    transport.discard_shells(conn)
    baseline = open_shells(lab, "HV01")
    before = dict(transport.STATS)
    with transport.operation():   # one provider operation
        results = [transport.run_script(conn, "host_boot_time.ps1") for _ in range(5)]
        assert open_shells(lab, "HV01") == baseline + 1
    # the operation ended: its shell was deleted on the host
    assert open_shells(lab, "HV01") == baseline
    assert {r["ComputerName"] for r in results} == {"HV01"}
    assert len({r["LastBootUpTime"] for r in results}) == 1
    delta = {k: transport.STATS[k] - before.get(k, 0) for k in transport.STATS}
    # one shell for five scripts; per script one Command, one Send, one Signal (and its Receives)
    assert delta["shell_create"] == 1 and delta["shell_delete"] == 1
    assert delta["command"] == 5 and delta["send"] == 5 and delta["signal"] == 5
    assert delta["receive"] >= 5
    cmds = commands_on(lab, "HV01")[-5:]
    assert len({c["shell_id"] for c in cmds}) == 1       # the server agrees: one shell
    # the command line is the fixed bootstrap, identical for every call, with nothing secret on it
    assert len({c["command_line"] for c in cmds}) == 1
    line = cmds[0]["command_line"]
    assert "-NoProfile" in line and "-NonInteractive" in line and "-EncodedCommand" in line
    assert conn.password not in line
    # each record names the script from the payload; the bootstrap's text stays out (its size and hash only)
    assert {c["script"] for c in cmds} == {"host_boot_time.ps1"}
    assert "-EncodedCommand <script: " in line and transport.bootstrap_arguments()[-1] not in line


def test_concurrent_calls_use_a_small_pool(hvsim_lab_module):
    lab = hvsim_lab_module
    conn = conn_for(lab, "HV02")
    transport.discard_shells(conn)
    before = transport.STATS["shell_create"]
    results, failures = [], []

    started = threading.Barrier(4)

    def worker():   # 4 provider operations at once share the pool; the last one to end closes it
        try:
            with transport.operation():
                transport._pool(conn)
                started.wait(30)
                for _ in range(3):
                    results.append(transport.run_script(conn, "host_boot_time.ps1")["ComputerName"])
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert failures == []
    assert results == ["HV02"] * 12
    assert 1 <= transport.STATS["shell_create"] - before <= transport.MAX_SHELLS_PER_HOST
    assert transport.open_shells() == 0 and open_shells(lab, "HV02") == 0


def test_wrong_password_is_one_actionable_line(hvsim_lab_module):
    lab = hvsim_lab_module
    conn = conn_for(lab, "HV01", password="not-the-password")
    with pytest.raises(errors.InvalidCredentialsError) as info:
        transport.run_script(conn, "host_boot_time.ps1")
    message = str(info.value)
    assert "\n" not in message
    assert f"{conn.host}:{conn.port}" in message and conn.username in message
    assert "check the password" in message and "not-the-password" not in message


def test_powershell_errors_carry_script_category_and_id(hvsim_lab_module):
    conn = conn_for(hvsim_lab_module, "DC01")
    with pytest.raises(errors.RemoteScriptError) as info:
        transport.run_script(conn, "iscsi_target.ps1", {"Mode": "Explode", "TargetName": "t"})
    err = info.value
    assert err.host == conn.label and err.script == "iscsi_target.ps1"
    assert "unknown Mode 'Explode'" in err.message
    assert err.line and err.line > 1
    assert "iscsi_target.ps1" in str(err) and "unknown Mode" in str(err)


def test_parameters_travel_as_data_in_chunks(hvsim_lab_module):
    """Quotes, $(), backticks and semicolons stay data; a 100 KB value spans several stdin chunks."""
    lab = hvsim_lab_module
    conn = conn_for(lab, "DC01")
    nasty = "it's \"quoted\" $(Remove-Item C:\\) `n; & | @{x=1} " + "x" * 100_000
    before = transport.STATS["send"]
    state = transport.run_script(conn, "iscsi_target.ps1", {"Mode": "Get", "TargetName": nasty[:40]})
    assert state["TargetName"] == nasty[:40] and state["Exists"] is False
    state = transport.run_script(conn, "iscsi_target.ps1", {"Mode": "Get", "TargetName": nasty})
    assert state["TargetName"] == nasty
    assert transport.STATS["send"] - before >= 1 + 3   # 100 KB payload -> at least 4 Send requests
    cmds = commands_on(lab, "DC01")
    assert cmds[-1]["stdin_bytes"] > 100_000
    assert "Remove-Item" not in cmds[-1]["command_line"]


def test_stale_shell_is_reopened_after_a_restart(hvsim_lab_module):
    lab = hvsim_lab_module
    conn = conn_for(lab, "HV02")
    first = transport.boot_time(conn)
    new = transport.restart_and_wait(conn, timeout=120)
    assert new != first
    # the pooled shells died with the old boot; the next call opens a fresh one transparently
    assert transport.run_script(conn, "host_boot_time.ps1")["LastBootUpTime"] == new
    assert open_shells(lab, "HV02") == 0 and transport.open_shells() == 0   # none left behind
    boots = [r for r in lab.audit() if r.get("kind") == "boot" and r.get("host") == "HV02"]
    assert boots, "hvsim saw no restart"


def test_https_validates_the_certificate(hvsim_lab_module):
    lab = hvsim_lab_module
    user, password = lab.credentials("HV01")
    ep = lab.host_endpoint("HV01")
    base = {"host": ep["address"], "port": ep["https_port"], "https": True, "transport": "basic",
            "username": user.split("\\", 1)[1], "password": password}
    state = transport.run_script({**base, "ca_trust_path": lab.ca_path}, "host_boot_time.ps1")
    assert state["ComputerName"] == "HV01"
    with pytest.raises(errors.TlsError) as info:
        transport.run_script({**base, "ca_trust_path": None, "connect_retries": 0}, "host_boot_time.ps1")
    assert "ca_trust_path" in str(info.value)


def test_unreachable_endpoint_fails_after_retries():
    conn = connection_from_inputs({"host": "127.0.0.1", "port": 1, "username": "u", "password": "p",
                                   "connect_retries": 1})
    with pytest.raises(errors.ConnectionFailedError) as info:
        transport.run_script(conn, "host_boot_time.ps1")
    assert "127.0.0.1:1" in str(info.value) and "2 attempt" in str(info.value)


def test_clixml_errors_are_parsed():
    text = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
            '<S S="Error">Get-Thing : Cannot find thing_x000D__x000A_</S>'
            '<S S="Error">At line:3 char:1_x000D__x000A_</S>'
            '<S S="Error">+ Get-Thing_x000D__x000A_</S>'
            '<S S="Error">    + CategoryInfo          : ObjectNotFound: (:) [Get-Thing], Exception_x000D__x000A_</S>'
            '<S S="Error">    + FullyQualifiedErrorId : ThingNotFound_x000D__x000A_</S></Objs>')
    assert transport.parse_clixml_error(text) == ("Get-Thing : Cannot find thing", "ObjectNotFound",
                                                  "ThingNotFound", 3)
    with pytest.raises(errors.RemoteScriptError) as info:
        transport.parse_result("h", "s.ps1", b"", text.encode(), 1)
    assert info.value.error_id == "ThingNotFound"
    ok = json.dumps({"ok": True, "result": [{"A": 1}]}).encode()
    assert transport.parse_result("h", "s.ps1", b"WARNING: x\r\n" + ok + b"\r\n", b"", 0) == {"A": 1}


def test_restart_behind_our_back_is_absorbed(hvsim_lab_module):
    """Pooled shells die with an out-of-band restart; the next call reopens without spending retries."""
    lab = hvsim_lab_module
    conn = conn_for(lab, "DC01", connect_retries=0)
    before_boot = transport.boot_time(conn)
    lab.control("restart", host="DC01")
    lab.wait_reachable("DC01")
    opened = transport.STATS["shell_create"]
    assert transport.boot_time(conn) != before_boot
    assert transport.STATS["shell_create"] - opened >= 1


def test_dropped_connections_are_retried(hvsim_lab_module):
    lab = hvsim_lab_module
    conn = conn_for(lab, "HV01", connect_retries=3)
    transport.discard_shells(conn)
    lab.control("drop-connections", host="HV01", count=2)
    assert transport.run_script(conn, "host_boot_time.ps1")["ComputerName"] == "HV01"


def test_warnings_alone_on_stderr_do_not_fail_a_script(hvsim_lab_module, monkeypatch):
    """powershell.exe writes Write-Warning/Write-Verbose to stderr CLIXML even on success (pywinrm#169):
    with exit code 0 and the result line on stdout that is a success, and the record is returned."""
    import winrm

    text = ("param([string]$Name)\n$VerbosePreference = 'Continue'\nWrite-Warning \"about $Name\"\n"
            "Write-Verbose 'details'\n[pscustomobject]@{ Name = $Name; Ok = $true }\n")
    original = transport.load_script
    monkeypatch.setattr(transport, "load_script", lambda name: text if name == "warns_test.ps1" else original(name))
    lab = hvsim_lab_module
    conn = conn_for(lab, "HV01")
    # what the host really sends back: a result line, warnings on stderr, exit code 0
    user, password = lab.credentials("HV01")
    p = winrm.Protocol(lab.url("HV01"), transport="ntlm", username=user, password=password)
    shell = p.open_shell(codepage=65001)
    try:
        cmd = p.run_command(shell, "powershell.exe", list(transport.bootstrap_arguments()))
        p.send_command_input(shell, cmd, transport.build_payload("warns_test.ps1", {"Name": "x"}), end=True)
        out, err, code = p.get_command_output(shell, cmd)
    finally:
        p.close_shell(shell)
    assert code == 0 and b'{"ok":true' in out
    assert b'<S S="warning">about x</S><S S="verbose">details</S>' in err
    assert b'S="Error"' not in err
    assert transport.run_script(conn, "warns_test.ps1", {"Name": "x"}) == {"Name": "x", "Ok": True}
    # a failure after warnings: the error text is the error's, not the warnings'
    crash = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
             '<S S="warning">about x</S><S S="Error">boom_x000D__x000A_</S>'
             '<S S="Error">    + FullyQualifiedErrorId : Boom_x000D__x000A_</S></Objs>')
    with pytest.raises(errors.RemoteScriptError) as info:
        transport.parse_result("h", "s.ps1", b"", crash.encode(), 1)
    assert (info.value.message, info.value.error_id) == ("boom", "Boom")


def test_included_library_reaches_the_script_and_an_invoke_command_block(hvsim_lab_module, monkeypatch):
    """A "# Include: lib/..." header sends the library along; bootstrap.ps1 dot-sources it for the script,
    and a block run through Invoke-Command (a new session) sees it only after dot-sourcing it itself."""
    text = ("# Include: lib/cluster_disks.ps1\nparam([string]$Serial)\n"
            "$here = @(Find-DiskBySerial -Serial $Serial).Count\n"
            "$remote = Invoke-Command -ComputerName $env:COMPUTERNAME -ScriptBlock {\n"
            "    param($Libraries, $Serial)\n"
            "    $before = [bool](Get-Command Find-DiskBySerial -ErrorAction SilentlyContinue)\n"
            "    foreach ($library in $Libraries) { . ([ScriptBlock]::Create($library)) }\n"
            "    '' + $before + ',' + @(Find-DiskBySerial -Serial $Serial).Count\n"
            "} -ArgumentList @($HvproviderLibraries), $Serial\n"
            "[pscustomobject]@{ Here = $here; Remote = [string]$remote; Libraries = $HvproviderLibraries.Count }\n")
    original = transport.load_script
    monkeypatch.setattr(transport, "load_script", lambda name: text if name == "includes_test.ps1" else original(name))
    payload = json.loads(transport.build_payload("includes_test.ps1", {"Serial": "none"}))
    library = (transport.SCRIPTS_DIR / "lib" / "cluster_disks.ps1").read_text(encoding="ascii")
    assert payload["libs"] == [library]
    assert json.loads(transport.build_payload("host_boot_time.ps1", {}))["libs"] == []
    conn = conn_for(hvsim_lab_module, "HV01")
    result = transport.run_script(conn, "includes_test.ps1", {"Serial": "none"})
    assert result == {"Here": 0, "Remote": "False,0", "Libraries": 1}
    with pytest.raises(ValueError, match="lib/lower_case.ps1"):
        monkeypatch.setattr(transport, "load_script", lambda name: "# Include: ../secret.ps1\n")
        transport.script_libraries("bad_include_test.ps1")


def test_a_password_quoted_by_a_failing_script_is_masked_in_the_error(hvsim_lab_module, monkeypatch):
    """Secrets never reach an error message, even when PowerShell's own message repeats the value."""
    text = "param([string]$DomainUser, [string]$DomainPassword)\nthrow \"logon of $DomainUser with '$DomainPassword' failed\"\n"
    original = transport.load_script
    monkeypatch.setattr(transport, "load_script", lambda name: text if name == "leaks_test.ps1" else original(name))
    conn = conn_for(hvsim_lab_module, "HV01")
    with pytest.raises(errors.RemoteScriptError) as info:
        transport.run_script(conn, "leaks_test.ps1", {"DomainUser": "HYPER\\alice", "DomainPassword": "Pa55-w0rd!"})
    assert "Pa55-w0rd!" not in str(info.value) and "Pa55-w0rd!" not in info.value.message
    assert "logon of HYPER\\alice with '********' failed" in str(info.value)
    # the same for an error that arrives as CLIXML on stderr (a crash outside the bootstrap's try)
    crash = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
             '<S S="Error">cannot convert "Pa55-w0rd!"_x000D__x000A_</S></Objs>')
    with pytest.raises(errors.RemoteScriptError) as info:
        transport.parse_result("h", "s.ps1", b"", crash.encode(), 1, secrets=("Pa55-w0rd!",))
    assert info.value.message == 'cannot convert "********"'


def test_run_script_any_goes_on_to_a_node_that_answers(hvsim_lab_module):
    """Nodes of one cluster: when the first does not answer, the next serves, and the dark one is
    tried last afterwards (no waiting out its retries again)."""
    lab = hvsim_lab_module
    hv01, hv02 = conn_for(lab, "HV01", connect_retries=0), conn_for(lab, "HV02")
    lab.control("power-off", host="HV01")
    try:
        assert transport.run_script_any([hv01, hv02], "host_boot_time.ps1")["ComputerName"] == "HV02"
        with transport.operation():   # one provider operation: HV02's shell is reused within it
            assert transport.run_script_any([hv01, hv02], "host_boot_time.ps1")["ComputerName"] == "HV02"
            commands = len(commands_on(lab, "HV02"))
            before = transport.STATS["shell_create"]   # counts every attempt to open a shell
            assert transport.run_script_any([hv01, hv02], "host_boot_time.ps1")["ComputerName"] == "HV02"
            assert len(commands_on(lab, "HV02")) == commands + 1
            assert transport.STATS["shell_create"] == before   # HV01 was not tried first this time
        with pytest.raises(errors.ConnectionFailedError):           # nobody answers: the first failure
            transport.run_script_any([hv01], "host_boot_time.ps1")
        # the restart wait's cheap probe (no logon) sees a dark host as dark, a live one as live
        assert transport.answers(hv01) is False and transport.answers(hv02) is True
    finally:
        lab.control("power-on", host="HV01")
        lab.wait_reachable("HV01")
    # back: still tried last for a while; once it has answered again it comes first again
    assert transport.run_script_any([hv01, hv02], "host_boot_time.ps1")["ComputerName"] == "HV02"
    assert transport.run_script_any([hv01], "host_boot_time.ps1")["ComputerName"] == "HV01"
    assert transport.run_script_any([hv01, hv02], "host_boot_time.ps1")["ComputerName"] == "HV01"


def test_a_process_that_ends_closes_its_shells(hvsim_lab_module):
    """A provider process ends after every run: its idle shells must not stay open on the host until
    their idle timeout (a few quick runs in a row would reach MaxShellsPerUser)."""
    lab = hvsim_lab_module
    user, password = lab.credentials("DC01")
    ep = lab.host_endpoint("DC01")
    before = lab.control("status")["hosts"]["DC01"]["shells"]
    program = (
        "import sys, threading\n"
        "from hvprovider import transport\n"
        "from hvprovider.connection import connection_from_inputs\n"
        "c = connection_from_inputs(dict(host=sys.argv[1], port=int(sys.argv[2]), username=sys.argv[3], password=sys.argv[4]))\n"
        "ts = [threading.Thread(target=transport.run_script, args=(c, 'host_boot_time.ps1')) for _ in range(3)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(transport.STATS['shell_create'])\n")
    done = subprocess.run([sys.executable, "-c", program, ep["address"], str(ep["http_port"]), user, password],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 1                     # it did open shells
    assert lab.control("status")["hosts"]["DC01"]["shells"] == before
