"""Management cmdlets driven by real PowerShell text through hvsim's interpreter (no WinRM).

These check what a script sees: pipelines into the emulations, error records with Windows' ids,
-ErrorAction, and the object shapes that ConvertTo-Json prints.
"""
from __future__ import annotations

import json

import pytest

from hvsim.cmdlets.registry import CmdletContext, Session
from hvsim.powershell import execute
from hvsim.world import World

LAB = {
    "time_factor": 0.001,
    "restart_delay": 0.01,
    "domain": {"fqdn": "hyper.local", "netbios": "HYPER", "controller": "DC01",
               "users": {"Administrator": {"password": "Dom-Pass1"}}},
    "hosts": {
        "DC01": {"domain_member": True, "features": ["AD-Domain-Services"],
                 "local_users": {"Administrator": {"password": "Dc-Local1"}}},
        "HV01": {"boot_seconds": 10, "local_users": {"Administrator": {"password": "Hv1-Local"}},
                 "nics": [{"name": "Ethernet", "ipv4": "192.168.10.11"}]},
    },
}


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path / "state", lab=LAB)
    yield w
    w.close()


def ps(world, script, host="HV01"):
    ctx = CmdletContext(world, Session(host, f"{host}\\Administrator", "ntlm", False))
    return execute(script, ctx, None)


def test_pipeline_into_emulations_and_json_shape(world):
    res = ps(world, r"""
$ErrorActionPreference = 'Stop'
Get-Service -Name MSiSCSI | Set-Service -StartupType Automatic
Get-Service MSiSCSI | Start-Service
$names = @(Get-WindowsFeature | Where-Object { $_.Installed } | Select-Object -ExpandProperty Name)
Get-Service MSiSCSI | Select-Object Name, @{n='Status';e={[string]$_.Status}}, @{n='StartType';e={[string]$_.StartType}} |
    ConvertTo-Json -Compress
$names -contains 'PowerShell'
""")
    assert res.errors == [] and res.exit_code == 0
    lines = res.stdout.strip().splitlines()
    assert json.loads(lines[0]) == {"Name": "MSiSCSI", "Status": "Running", "StartType": "Automatic"}
    assert lines[1] == "True"
    assert world.service_running("HV01", "MSiSCSI")


def test_errors_reach_the_script_with_windows_ids(world):
    res = ps(world, r"""
try { Get-Service -Name NoSuch -ErrorAction Stop } catch { $_.FullyQualifiedErrorId; [string]$_.CategoryInfo.Category }
$quiet = Get-Service -Name NoSuch -ErrorAction SilentlyContinue
"quiet=$($null -eq $quiet)"
try { Install-WindowsFeature -Name Hyper-V -Bogus } catch { $_.Exception.Message }
""")
    assert res.stdout.splitlines() == [
        "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand",
        "ObjectNotFound",
        "quiet=True",
        "A parameter cannot be found that matches parameter name 'Bogus'.",
    ]


def test_non_terminating_error_continues_without_stop(world):
    res = ps(world, r"""
Get-Service -Name NoSuch
'after'
""")
    assert res.stdout.strip() == "after"
    assert [e.fully_qualified_error_id for e in res.errors] == [
        "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"]
    assert res.exit_code == 0


def test_feature_install_and_domain_join_report_a_restart(world):
    res = ps(world, r"""
$ErrorActionPreference = 'Stop'
$r = Install-WindowsFeature -Name Hyper-V -IncludeManagementTools
$cred = New-Object System.Management.Automation.PSCredential('HYPER\Administrator', (ConvertTo-SecureString 'Dom-Pass1' -AsPlainText -Force))
Add-Computer -DomainName hyper.local -Credential $cred -Force
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
[pscustomobject]@{
    RestartNeeded = [string]$r.RestartNeeded
    ExitCode      = [string]$r.ExitCode
    State         = [string](Get-WindowsFeature Hyper-V).InstallState
    PartOfDomain  = $cs.PartOfDomain
    Domain        = $cs.Domain
} | ConvertTo-Json -Compress
""")
    assert res.errors == [], [e.message for e in res.errors]
    assert json.loads(res.stdout) == {"RestartNeeded": "Yes", "ExitCode": "SuccessRestartRequired",
                                      "State": "InstallPending", "PartOfDomain": True, "Domain": "hyper.local"}
    assert "Dom-Pass1" not in (world.state_dir / "audit.jsonl").read_text()
    # The warnings Windows prints went to the warning stream, not to the output.
    warnings = [text for kind, text in res.streams if kind == "warning"]
    assert any("restart" in w for w in warnings)


def test_boot_time_read_back_as_iso_utc(world):
    res = ps(world, r"""
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$os.LastBootUpTime.ToUniversalTime().ToString('o')
""")
    first = res.stdout.strip()
    assert first.endswith("Z")
    world.restart("HV01", "test")
    second = ps(world, "(Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o')").stdout.strip()
    assert second > first
