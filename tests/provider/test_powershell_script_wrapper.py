"""powershell_script.ps1 through the real transport on hvsim, without the engine: what the wrapper
reports for output, errors that did not stop the script, a failure, and a script that does not parse."""
import pytest

from hvprovider.errors import RemoteScriptError
from hvprovider.powershell_script import PowerShellScriptProvider


@pytest.fixture
def run(hvsim_lab):
    ep = hvsim_lab.host_endpoint("HV01")
    user, password = hvsim_lab.credentials("HV01")
    conn = {"host": ep["address"], "port": ep["http_port"], "username": user, "password": password}
    provider = PowerShellScriptProvider()

    def run(create, **inputs):
        checked = provider.check({}, {"connection": conn, "create": create, **inputs})
        assert checked.failures == []
        return provider.create(checked.inputs).outs
    return run


def test_output_and_errors_that_did_not_stop_it(run):
    outs = run("param([int]$Count)\n1..$Count | ForEach-Object { \"item $_\" }\n"
               "Write-Error 'first soft error' -ErrorAction Continue\n"
               "Get-Item -LiteralPath C:\\missing -ErrorAction Continue\n$env:COMPUTERNAME",
               parameters={"Count": 2})
    assert outs["stdout"] == "item 1\nitem 2\nHV01"
    assert outs["stderr"].splitlines() == ["first soft error",
                                           "Cannot find path 'C:\\missing' because it does not exist."]


def test_a_failure_names_host_line_and_cmdlet_and_masks_the_environment(run):
    with pytest.raises(RemoteScriptError) as failed:
        run("'one'\n'two'\nGet-Item -LiteralPath \"C:\\data\\$env:APP_KEY\"\n'never'",
            environment={"APP_KEY": "key-42-secret"})
    text = str(failed.value)
    assert "failed on 127.0.0.1:" in text and "the create script of a PowerShellScript line 3 in Get-Item" in text
    assert "C:\\data\\********" in text and "key-42-secret" not in text


def test_a_script_that_does_not_parse(run):
    with pytest.raises(RemoteScriptError, match="the script does not parse") as failed:
        run("'ok'\nif ($x { 'y' ")
    assert failed.value.line is None


def test_values_are_data_for_a_cmdletbinding_script_too(run):
    hostile = "x'; Remove-Item -Recurse C:\\ ; '$(Stop-Computer)`\n"
    outs = run("[CmdletBinding()]\nparam([Parameter(Mandatory)][string]$Text)\n$Text.Length\n$Text",
               parameters={"Text": hostile})
    assert outs["stdout"] == f"{len(hostile)}\n{hostile.rstrip()}"
    # an advanced script refuses a parameter it does not declare (a plain one would take it in $args)
    with pytest.raises(RemoteScriptError, match="do not bind to the script's param.. block: .*'Other'") as failed:
        run("[CmdletBinding()]\nparam([string]$Text)\n$Text", parameters={"Other": 1})
    assert failed.value.line is None
