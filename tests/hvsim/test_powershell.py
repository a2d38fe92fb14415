"""hvsim's PowerShell interpreter: the error view, the bootstrap contract, the cmdlet registry seam,
Invoke-Command's runner, and secrets. Language semantics are in the golden files (test_powershell_golden.py).
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from hvsim.powershell import ExecResult, execute
from hvsim.powershell.errors import ErrorRecord
from hvsim.powershell.parser import parse
from hvsim.powershell.values import PSCredential, PSEnum, PSObject, SecureString

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO / "hvprovider" / "scripts" / "bootstrap.ps1"


class Stdin:
    def __init__(self, text: str) -> None:
        self.text = text

    def read_all(self) -> str:
        return self.text


def bare_ctx(host: str = "HV01"):
    session = SimpleNamespace(host=host, user="HYPER\\Administrator", auth="ntlm", can_delegate=False)
    return SimpleNamespace(session=session, world=None, runner=None, warnings=[], sleep=lambda s: None)


def run(script: str, ctx=None, stdin: str | None = None) -> ExecResult:
    return execute(script, ctx if ctx is not None else bare_ctx(), Stdin(stdin) if stdin is not None else None)


def bootstrap_text() -> str:
    """The provider's own bootstrap.ps1 (DESIGN.md section 1): hvsim must run whatever it says."""
    return BOOTSTRAP.read_text(encoding="utf-8")


def run_payload(script: str, params: dict, ctx=None) -> tuple[ExecResult, dict]:
    payload = json.dumps({"name": "test.ps1", "script": script, "params": params}, ensure_ascii=True)
    result = run(bootstrap_text(), ctx, payload + "\r\n")
    last = [line for line in result.stdout.split("\r\n") if line.startswith("{")][-1]
    return result, json.loads(last)


# --------------------------------------------------------------------------- the error view
def test_default_view_of_a_throw_matches_windows():
    result = run("'a'\n    throw \"disk not found\"\n")
    assert result.exit_code == 1
    assert result.errors[0].default_view() == (
        "disk not found\r\n"
        "At line:2 char:5\r\n"
        "+     throw \"disk not found\"\r\n"
        "+     ~~~~~~~~~~~~~~~~~~~~~~\r\n"
        "    + CategoryInfo          : OperationStopped: (disk not found:String) [], RuntimeException\r\n"
        "    + FullyQualifiedErrorId : disk not found\r\n"
        " \r\n")


def test_default_view_of_an_unknown_command_matches_windows():
    result = run("Get-Thing -Name x\n")
    assert result.exit_code == 1          # the last statement failed ($? false): powershell.exe exits 1
    assert result.errors[0].default_view() == (
        "Get-Thing : The term 'Get-Thing' is not recognized as the name of a cmdlet, function, script file, or "
        "operable program. Check the spelling of the name, or if a path was included, verify that the path is "
        "correct and try again.\r\n"
        "At line:1 char:1\r\n"
        "+ Get-Thing -Name x\r\n"
        "+ ~~~~~~~~~~~~~~~~~\r\n"
        "    + CategoryInfo          : ObjectNotFound: (Get-Thing:String) [], CommandNotFoundException\r\n"
        "    + FullyQualifiedErrorId : CommandNotFoundException\r\n"
        " \r\n")


def test_error_record_fields():
    record = run("Write-Error 'boom' -Category InvalidArgument -ErrorId Bad.Id -TargetObject disk1").errors[0]
    assert record.message == "boom"
    assert record.category == "InvalidArgument"
    assert record.fully_qualified_error_id == "Bad.Id"
    assert (record.target_name, record.target_type) == ("disk1", "String")
    assert record.command == "Write-Error"
    assert record.exception_type.endswith("WriteErrorException")
    assert (record.line, record.column, record.line_text) == (1, 1, "Write-Error 'boom' -Category InvalidArgument "
                                                                    "-ErrorId Bad.Id -TargetObject disk1")
    assert "InvalidArgument: (disk1:String) [Write-Error], WriteErrorException" in record.default_view()


def test_parse_error_view_puts_the_position_first():
    result = run("$x = (1 +\n")
    assert result.exit_code == 1
    view = result.errors[0].default_view()
    assert view.startswith("At line:")
    assert "ParserError" in view


# --------------------------------------------------------------------------- the bootstrap (DESIGN section 1)
STATE_SCRIPT = r"""
param(
    [Parameter(Mandatory = $true)][string]$Name,
    [long]$SizeBytes = 1GB,
    [string[]]$Owners = @(),
    $Options,
    [string]$AdminPassword
)
$cred = New-Object System.Management.Automation.PSCredential('HYPER\admin', (ConvertTo-SecureString $AdminPassword -AsPlainText -Force))
[pscustomobject]@{
    Name      = $Name
    SizeBytes = $SizeBytes
    Owners    = @($Owners)
    Retries   = $Options.Retries
    Nested    = $Options.Inner.Flag
    User      = $cred.UserName
    Host      = $env:COMPUTERNAME
}
"""


def test_bootstrap_runs_a_script_with_parameters():
    result, doc = run_payload(STATE_SCRIPT, {"Name": "vd1", "Owners": ["HV01", "HV02"],
                                             "Options": {"Retries": 3, "Inner": {"Flag": True}},
                                             "AdminPassword": "P@ss'word"})
    assert result.exit_code == 0, [e.default_view() for e in result.errors]
    assert doc == {"ok": True, "result": [{
        "Name": "vd1", "SizeBytes": 1073741824, "Owners": ["HV01", "HV02"], "Retries": 3, "Nested": True,
        "User": "HYPER\\admin", "Host": "HV01"}]}
    assert "P@ss" not in result.stdout


def test_bootstrap_keeps_one_element_arrays_and_reports_the_last_object():
    _result, doc = run_payload("param([string[]]$Owners)\n'noise'\n[pscustomobject]@{ Owners = @($Owners) }",
                               {"Owners": ["HV01"]})
    assert doc["result"] == ["noise", {"Owners": ["HV01"]}]


def test_bootstrap_reports_a_thrown_error_with_its_line():
    result, doc = run_payload("param([string]$Name)\n\nthrow \"no target named $Name\"\n", {"Name": "t9"})
    assert result.exit_code == 1
    assert doc == {"ok": False, "error": {"message": "no target named t9", "category": "OperationStopped",
                                          "errorId": "no target named t9", "line": 3, "command": ""}}


def test_bootstrap_reports_an_unknown_command():
    result, doc = run_payload("Get-Nonsense -X 1", {})
    assert result.exit_code == 1
    assert doc["error"]["errorId"] == "CommandNotFoundException"
    assert doc["error"]["category"] == "ObjectNotFound"
    assert doc["error"]["command"] == "Get-Nonsense"


def test_bootstrap_reports_a_missing_mandatory_parameter():
    result, doc = run_payload(STATE_SCRIPT, {"Owners": []})
    assert result.exit_code == 1
    assert doc["error"]["errorId"] == "MissingMandatoryParameter"
    assert "Name" in doc["error"]["message"]


def test_bootstrap_reports_unsupported_constructs_loudly():
    result, doc = run_payload("Invoke-Expression 'Get-Date'", {})
    assert result.exit_code == 1
    assert doc["error"]["errorId"] == "hvsim.NotSupported"
    assert "Invoke-Expression" in doc["error"]["message"]


def test_bootstrap_with_a_syntax_error_in_the_payload():
    result, doc = run_payload("if ($x -eq {", {})
    assert result.exit_code == 1
    assert doc["ok"] is False and doc["error"]["category"] == "ParserError"


def test_bootstrap_with_broken_stdin_fails_outside_the_try():
    result = run(bootstrap_text(), stdin="this is not json\r\n")
    assert result.exit_code == 1
    assert result.errors and "ConvertFrom" in result.errors[0].fully_qualified_error_id


# --------------------------------------------------------------------------- values
def test_secure_strings_never_print():
    result = run("$s = ConvertTo-SecureString 'hunter2' -AsPlainText -Force\n$s\n\"$s\"\n"
                 "$c = New-Object PSCredential('u', $s)\n$c.Password\n[string]$c.Password\n"
                 "ConvertTo-Json -InputObject $c -Compress")
    assert "hunter2" not in result.stdout
    assert result.stdout.count("System.Security.SecureString") == 4
    assert '"Password":{"Length":7}' in result.stdout


def test_values_contract():
    obj = PSObject({"Name": "a"}, type_name="Microsoft.Management.Infrastructure.CimInstance#MSFT_Disk")
    assert obj.get_prop("NAME") == "a" and obj.type_names[0].endswith("MSFT_Disk")
    enum = PSEnum("Microsoft.FailoverClusters.PowerShell.ClusterGroupState", "Online", 0)
    assert enum == "online" and enum == 0 and str(enum) == "Online"
    cred = PSCredential("HYPER\\u", "pw")
    assert isinstance(cred.props["Password"], SecureString) and cred.password == "pw"
    assert str(cred.props["Password"]) == "System.Security.SecureString"



def test_one_type_name_mapping_serves_get_type_error_records_and_the_binder():
    import datetime as dt

    from hvsim.cmdlets.binder import _type_of
    from hvsim.powershell.errors import ps_type_of
    from hvsim.powershell.values import ArrayList, net_type_name
    disk = PSObject({"Number": 1}, type_name="Microsoft.Management.Infrastructure.CimInstance#ROOT/x/MSFT_Disk")
    when = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    assert [net_type_name(v) for v in (when, ArrayList([1]), disk, None)] == [
        "System.DateTime", "System.Collections.ArrayList", "Microsoft.Management.Infrastructure.CimInstance", ""]
    assert [ps_type_of(v) for v in (when, (1, 2), disk, "s", None)] == ["DateTime", "Object[]", "CimInstance", "String", ""]
    assert _type_of(disk) == disk.type_name and _type_of(when) == "System.DateTime"
    result = run("(Get-Date).GetType().FullName; (@(1, 2)).GetType().FullName")
    assert result.stdout.splitlines() == ["System.DateTime", "System.Object[]"]


def test_cmdlet_objects_flow_through_scripts():
    """Objects as cmdlets return them (CIM type names, enums) behave in comparisons, JSON and strings."""
    from hvsim.powershell.interpreter import Interpreter
    interp = Interpreter(bare_ctx())
    disk = PSObject({"Number": 1, "OperationalStatus": PSEnum("OperationalStatus", "Offline", 2)},
                    type_name="Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/MSFT_Disk")
    interp.global_scope.vars["disk"] = ["disk", disk]
    code = interp.run_script("$disk.OperationalStatus -eq 'offline'\n[string]$disk.OperationalStatus\n"
                             "ConvertTo-Json -InputObject $disk -Compress")
    assert code == 0
    assert interp.stdout_text() == 'True\r\nOffline\r\n{"Number":1,"OperationalStatus":2}\r\n'


def test_parsed_trees_are_cached():
    text = "$a = 1\n$a + 1\n"
    assert parse(text) is parse(text)


# --------------------------------------------------------------------------- the registry seam, with a world
@pytest.fixture
def world_ctx(tmp_path):
    registry = pytest.importorskip("hvsim.cmdlets.registry")
    world_mod = pytest.importorskip("hvsim.world")
    lab = {"time_factor": 0.001,
           "domain": {"fqdn": "hyper.local", "netbios": "HYPER", "controller": "DC01",
                      "users": {"Administrator": {"password": "Dom-Pass1"}}},
           "hosts": {"DC01": {"domain_member": True, "local_users": {"Administrator": {"password": "x"}}},
                     "HV01": {"local_users": {"Administrator": {"password": "y"}},
                              "nics": [{"name": "Ethernet", "ipv4": "192.168.10.11"}]}}}
    world = world_mod.World(tmp_path / "state", lab=lab)
    ctx = registry.CmdletContext(world, registry.Session("HV01", "HV01\\Administrator", "ntlm", False))
    yield ctx
    close = getattr(world, "close", None)
    if callable(close):
        close()


def test_registry_cmdlet_unknown_parameter_uses_windows_text(world_ctx):
    result = run("Get-Service -Nmae x\n'next'", world_ctx)
    assert result.stdout == "next\r\n"
    record = result.errors[0]
    assert record.message == "A parameter cannot be found that matches parameter name 'Nmae'."
    assert record.fully_qualified_error_id.startswith("NamedParameterNotFound,")
    assert "InvalidArgument: (:) [Get-Service], ParameterBindingException" in record.default_view()


def test_registry_errors_follow_error_action(world_ctx):
    result = run("$s = Get-Service -Name NoSuch -ErrorAction SilentlyContinue\n$null -eq $s\n"
                 "Get-Service -Name NoSuch\n'continued'\n"
                 "try { Get-Service -Name NoSuch -ErrorAction Stop; 'no' } catch { 'caught ' + $_.CategoryInfo.Category }",
                 world_ctx)
    assert result.stdout == "True\r\ncontinued\r\ncaught ObjectNotFound\r\n"
    assert len(result.errors) == 1 and result.errors[0].command == "Get-Service"


def test_registry_cmdlets_bind_switches_and_pipeline(world_ctx):
    result = run("Get-WindowsFeature -Name Hyper-V | Select-Object Name, InstallState | ConvertTo-Json -Compress\n"
                 "Install-WindowsFeature -Name Hyper-V -IncludeManagementTools | Out-Null\n"
                 "(Get-WindowsFeature Hyper-V).InstallState -eq 'InstallPending'\n"
                 "Get-Service MSiSCSI | Set-Service -StartupType Automatic\n"
                 "[string](Get-Service MSiSCSI).StartType", world_ctx)
    assert result.errors == [], [e.default_view() for e in result.errors]
    lines = result.stdout.split("\r\n")
    assert json.loads(lines[0])["Name"] == "Hyper-V"
    assert [k for k, _ in result.streams] == ["warning"]   # the cmdlet's restart warning, on its own stream
    assert "WARNING" not in result.stdout
    assert lines[-3:] == ["True", "Automatic", ""]


def test_invoke_command_runs_blocks_through_the_runner(world_ctx):
    result = run("$r = Invoke-Command -ScriptBlock { param($a, $b) \"$a+$b on $env:COMPUTERNAME\"; $x = 'inner' } "
                 "-ArgumentList 1, 2\n$r\n$null -eq $x", world_ctx)
    assert result.errors == [], [e.default_view() for e in result.errors]
    assert result.stdout == "1+2 on HV01\r\nTrue\r\n"
    assert world_ctx.runner is not None and hasattr(world_ctx.runner, "invoke_scriptblock")


def test_invoke_scriptblock_runs_as_another_session(world_ctx):
    from hvsim.cmdlets.registry import Session
    from hvsim.powershell.interpreter import Interpreter
    interp = Interpreter(world_ctx)
    block = interp.create_scriptblock("param($n) \"$env:COMPUTERNAME $env:USERDOMAIN $n\"")
    out = interp.invoke_scriptblock(block, [7], Session("DC01", "HYPER\\Administrator", "credssp", True))
    assert out == ["DC01 HYPER 7"]
    assert world_ctx.session.host == "HV01"      # the caller's context is untouched


def test_start_sleep_moves_the_script_clock_in_simulated_time():
    slept = []
    ctx = bare_ctx()
    ctx.sleep = slept.append
    ctx.world = SimpleNamespace(time_factor=0.001, now=None)
    result = run("$start = Get-Date\n$deadline = $start.AddSeconds(300)\n$n = 0\n"
                 "while ((Get-Date) -lt $deadline) { Start-Sleep -Seconds 30; $n++ }\n"
                 "$n\n[int]((Get-Date) - $start).TotalSeconds", ctx)
    assert result.stdout.split("\r\n")[:2] == ["10", "300"]
    assert slept == [30.0] * 10


def test_stdin_is_read_only_when_the_script_uses_input():
    class Blocking:
        def read_all(self):
            raise AssertionError("read stdin although the script never used $input")

    assert execute("'no stdin needed'", bare_ctx(), Blocking()).stdout == "no stdin needed\r\n"
    assert execute("@($input).Count", bare_ctx(), Stdin("a\r\nb\r\n")).stdout == "2\r\n"


def test_exit_code_follows_the_last_statement_like_powershell_exe():
    assert run("Get-Thing\n'recovered'").exit_code == 0          # the script went on and ended well
    assert run("'x'\nWrite-Error 'late'").exit_code == 1
    assert run("Write-Error 'quiet' -ErrorAction SilentlyContinue").exit_code == 1
    assert run("try { throw 'x' } catch { 'handled' }").exit_code == 0
    assert run("function f { Write-Error 'inner' }\nf").exit_code == 1


def test_test_path_reads_the_hosts_files(world_ctx):
    result = run("Test-Path C:\\Temp\\made\n"
                 "New-Item -Path C:\\Temp\\made -ItemType Directory | Out-Null\n"
                 "Test-Path C:\\Temp\\made\nTest-Path C:\\TEMP\\made -PathType Leaf\nTest-Path C:\\", world_ctx)
    assert result.errors == [], [e.default_view() for e in result.errors]
    assert result.stdout == "False\r\nTrue\r\nFalse\r\nTrue\r\n"


def test_methods_on_cmdlet_objects():
    """PSObject methods from cmdlets: a Python None result is a void method (emits nothing)."""
    from hvsim.powershell.interpreter import Interpreter
    calls = []
    vm = PSObject({"Name": "vm1"}, type_name="Microsoft.HyperV.PowerShell.VirtualMachine",
                  methods={"Refresh": lambda: calls.append("refresh"), "GetSize": lambda unit: f"10 {unit}"})
    interp = Interpreter(bare_ctx())
    interp.global_scope.vars["vm"] = ["vm", vm]
    assert interp.run_script("$vm.Refresh()\n$vm.GetSize('GB')\n@($vm.Refresh()).Count") == 0
    assert interp.stdout_text() == "10 GB\r\n0\r\n"     # @(void) is empty, as in PowerShell
    assert calls == ["refresh", "refresh"]


def test_sort_object_orders_nulls_first():
    from functools import cmp_to_key

    from hvsim.powershell.operators import sort_key_compare
    assert sorted([2, None, 1, None], key=cmp_to_key(sort_key_compare)) == [None, None, 1, 2]
    result = run("(@(2, $null, 1) | Sort-Object | ForEach-Object { \"[$_]\" }) -join ','")
    assert result.stdout.strip() == "[],[1],[2]"
