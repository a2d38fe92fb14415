"""DomainController's check (preview) and hvsim's AD DS deployment cmdlets: no engine, no WinRM."""
import pytest

from hvprovider.domain_controller import DomainControllerProvider
from hvprovider.validation import failures_by_property
from hvsim.cmdlets.registry import CmdletContext, Session
from hvsim.powershell import execute
from hvsim.world import World

CONN = {"host": "127.0.10.10", "username": "Administrator", "password": "Dc01-Local-2022!"}
GOOD = {"connection": CONN, "domain_name": "hyper.local", "safe_mode_password": "Dsrm-Restore-2019!"}


def check(news, olds=None):
    result = DomainControllerProvider().check(olds or {}, news)
    return failures_by_property(result.failures), result.inputs


def test_defaults_and_derived_netbios():
    failures, inputs = check(GOOD)
    assert failures == {}
    assert inputs["domain_netbios_name"] == "HYPER" and inputs["forest_mode"] == "WinThreshold"
    assert inputs["install_dns"] is True and inputs["demote_on_delete"] is False
    assert "keeps the forest hyper.local" in inputs["delete_policy"]


@pytest.mark.parametrize("change,prop,words", [
    ({"domain_name": "hyper"}, "domain_name", "single-label"),
    ({"domain_name": "hyper_lab.local"}, "domain_name", "not a DNS name"),
    ({"domain_name": ""}, "domain_name", ""),
    ({"domain_name": "averyveryverylongfirstlabel.local"}, "domain_netbios_name", "longer than 15"),
    ({"domain_netbios_name": "HY.PER"}, "domain_netbios_name", "NetBIOS"),
    ({"safe_mode_password": "short"}, "safe_mode_password", "password policy"),
    ({"safe_mode_password": "alllowercaseletters"}, "safe_mode_password", "password policy"),
    ({"forest_mode": "Win2016"}, "forest_mode", "WinThreshold"),
    ({"forest_mode": "WinThreshold", "domain_mode": "Win2012R2"}, "domain_mode", "lower than forest_mode"),
    ({"restart_timeout": 5}, "restart_timeout", "out of range"),
    ({"connection": {**CONN, "username": "DC01\\Administrator", "host": "dc01"}}, "connection.username", "local account"),
    ({"connection": {**CONN, "username": "CORP\\admin"}}, "connection.username", "domain 'CORP'"),
])
def test_bad_input_named_at_preview(change, prop, words):
    failures, _ = check({**GOOD, **change})
    assert prop in failures, failures
    assert words in failures[prop]
    # a refused password is never repeated in the message
    assert change.get("safe_mode_password", "Dsrm-Restore-2019!") not in str(failures)


def test_functional_levels_fixed_after_create():
    _, olds = check(GOOD)
    failures, _ = check({**GOOD, "forest_mode": "Win2012R2", "domain_mode": "Win2012R2"}, olds)
    assert "forest_mode" in failures and "Set-ADForestMode" in failures["forest_mode"]


def test_diff_replaces_on_domain_name():
    _, olds = check(GOOD)
    _, news = check({**GOOD, "domain_name": "lab.local"})
    diff = DomainControllerProvider().diff("id", olds, news)
    assert diff.replaces == ["domain_name", "domain_netbios_name"]


LAB = {"time_factor": 0.001, "restart_delay": 0.01,
       "hosts": {"DC01": {"local_users": {"Administrator": {"password": "Dc01-Local-2022!"}},
                          "nics": [{"name": "Ethernet", "ipv4": "192.168.10.10"}]}}}


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path / "state", lab=LAB)
    yield w
    w.close()


def ps(world, script):
    return execute(script, CmdletContext(world, Session("DC01", "DC01\\Administrator", "ntlm", False)), None)


def test_hvsim_promotion_needs_the_role_and_a_dsrm_password(world):
    res = ps(world, "Install-ADDSForest -DomainName hyper.local -Force")
    assert res.errors and res.errors[-1].fully_qualified_error_id == "CommandNotFoundException"
    res = ps(world, "Install-WindowsFeature AD-Domain-Services -IncludeManagementTools | Out-Null\n"
                    "Install-ADDSForest -DomainName hyper.local -NoRebootOnCompletion -Force")
    assert "NonInteractive mode" in res.errors[-1].message
    res = ps(world, "$p = ConvertTo-SecureString 'Dsrm-1x!' -AsPlainText -Force\n"
                    "(Install-ADDSForest -DomainName hyper.local -SafeModeAdministratorPassword $p -NoRebootOnCompletion -Force).RebootRequired\n"
                    "try { Get-ADDomain } catch { $_.Exception.Message }")
    assert res.stdout.splitlines()[:2] == ["True", "Unable to find a default server with Active Directory Web Services running."]
    assert world.data["domain"] is None  # the forest exists only after the restart
    world.restart("DC01")
    assert world.data["domain"]["fqdn"] == "hyper.local" and world.data["hosts"]["DC01"]["local_users"] == {}
    assert world.data["domain"]["users"]["Administrator"]["password"] == "Dc01-Local-2022!"
