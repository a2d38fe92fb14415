"""LabFirewall (and ManagementTools) end to end (real engine, real pywinrm, hvsim) and what a closed rule breaks in hvsim.

The lab: DC01 is an iSCSI target server whose rule someone switched off; HV01 has the cluster and Hyper-V
features with the cluster's UDP rule and the live-migration rule off; HV02 has no Hyper-V (so no rule for
6600 exists at all). LabFirewall enables the switched-off rules, creates the missing one, changes nothing
on a second up, never touches a profile, and on destroy removes only the rule it created."""
import copy

import pytest

from hvsim.cmdlets.registry import CmdletContext, Session
from hvsim.powershell import execute
from hvsim.testing import LabProcess, EXISTING_DOMAIN_LAB, load_lab_file
from hvsim.world import World, firewall
from test_iscsi_e2e import mutating

PROGRAM = __import__("pathlib").Path(__file__).resolve().parent / "firewall_program"


def firewalled_lab() -> dict:
    lab = copy.deepcopy(load_lab_file(EXISTING_DOMAIN_LAB))
    hosts = lab["hosts"]
    hosts["DC01"]["features"] += ["FS-iSCSITarget-Server"]
    hosts["DC01"]["firewall"] = {"disabled": ["iSCSITarget-TCP-In"]}
    hosts["HV01"]["features"] = ["Failover-Clustering", "Hyper-V"]
    hosts["HV01"]["firewall"] = {"disabled": ["FailoverCluster-UDP-3343-In", "VIRT-MIGL-In-TCP-NoScope"]}
    hosts["HV02"]["features"] = ["Failover-Clustering"]
    return lab


@pytest.fixture
def lab(tmp_path):
    proc = LabProcess.for_tests(tmp_path, lab=firewalled_lab())
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def rules_of(world, host):
    return {r["name"]: r["enabled"] for r in firewall.rules(world["hosts"][host])}


def test_lab_firewall_opens_what_the_lab_needs(lab, pulumi_project):
    hosts = {n: {"host": lab.host_endpoint(n)["address"], "port": lab.host_endpoint(n)["http_port"]}
             for n in ("DC01", "HV01", "HV02")}
    purposes = {"DC01": ["winrm", "iscsi-target"], "HV01": ["winrm", "cluster", "live-migration"],
                "HV02": ["cluster", "live-migration"]}
    project = pulumi_project(PROGRAM, config={"hosts": hosts, "purposes": purposes, "tools": True},
                             secrets={"passwords": {n: lab.credentials(n)[1] for n in hosts}})
    project.up()
    world = lab.world()
    out = project.outputs()
    assert rules_of(world, "DC01")["iSCSITarget-TCP-In"] is True
    assert rules_of(world, "HV01")["FailoverCluster-UDP-3343-In"] is True
    assert rules_of(world, "HV01")["VIRT-MIGL-In-TCP-NoScope"] is True
    assert rules_of(world, "HV02")["hvprovider-live-migration-tcp-6600"] is True
    assert out["dc01_changes"] == ["enabled iSCSITarget-TCP-In (iscsi-target, TCP 3260)"]
    assert sorted(out["hv01_changes"]) == ["enabled FailoverCluster-UDP-3343-In (cluster, UDP 3343)",
                                           "enabled VIRT-MIGL-In-TCP-NoScope (live-migration, TCP 6600)"]
    assert out["hv02_created"] == ["hvprovider-live-migration-tcp-6600"] and out["hv01_created"] == []
    assert all(all(h["firewall"]["profiles"].values()) for h in world["hosts"].values())  # never switched off
    # the seed's step 4: the cluster and Hyper-V tools on DC01, which had none of them
    assert sorted(out["tools_installed"]) == sorted(["RSAT-Clustering", "RSAT-Clustering-Mgmt",
                                                     "RSAT-Clustering-PowerShell", "RSAT-Hyper-V-Tools",
                                                     "Hyper-V-Tools", "Hyper-V-PowerShell"])
    assert world["hosts"]["DC01"]["features"]["RSAT-Clustering-PowerShell"]["state"] == "Installed"

    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"}
    assert mutating(lab.audit()[n:]) == []

    project.destroy()
    world = lab.world()
    assert world["hosts"]["DC01"]["features"]["RSAT-Hyper-V-Tools"]["state"] != "Installed"  # it installed them
    assert "hvprovider-live-migration-tcp-6600" not in rules_of(world, "HV02")
    assert rules_of(world, "HV01")["VIRT-MIGL-In-TCP-NoScope"] is True  # enabled rules stay enabled


def test_bad_purpose_refused_at_preview():
    from hvprovider.lab_firewall import LabFirewallProvider
    conn = {"host": "127.0.0.1", "username": "HV01\\Administrator", "password": "x"}
    from hvprovider.validation import failures_by_property
    result = LabFirewallProvider().check({}, {"connection": conn, "purposes": ["cluster", "smb"]})
    assert ["not a purpose" in r for r in failures_by_property(result.failures).values()] == [True]
    assert list(failures_by_property(result.failures)) == ["purposes[1]"]
    result = LabFirewallProvider().check({}, {"connection": conn, "purposes": []})
    assert list(failures_by_property(result.failures)) == ["purposes"]


# ---- what a closed rule breaks in hvsim (world and cmdlets, no WinRM) ----------------------------------
@pytest.fixture
def world(tmp_path):
    spec = copy.deepcopy(load_lab_file(EXISTING_DOMAIN_LAB))
    spec["time_factor"] = 0.001
    w = World(tmp_path / "state", lab=spec)
    yield w
    w.close()


def ps(world, script, host):
    return execute(script, CmdletContext(world, Session(host, f"{host}\\Administrator", "ntlm", False)), None)


def test_closed_iscsi_rule_breaks_discovery(world):
    ps(world, "Install-WindowsFeature FS-iSCSITarget-Server | Out-Null", "DC01")
    assert not ps(world, "Start-Service MSiSCSI; New-IscsiTargetPortal -TargetPortalAddress 192.168.10.10 | Out-Null", "HV01").errors
    ps(world, "Remove-IscsiTargetPortal -TargetPortalAddress 192.168.10.10 -Confirm:$false", "HV01")
    with world.transaction():
        firewall.set_enabled(world.host("DC01"), "iSCSITarget-TCP-In", False)
    res = ps(world, "New-IscsiTargetPortal -TargetPortalAddress 192.168.10.10", "HV01")
    assert res.errors and "Connection Failed" in res.errors[-1].message
    assert firewall.allows(world.host("DC01"), "TCP", 5985)


def test_closed_winrm_rule_resets_connections(tmp_path):
    from hvprovider import errors, transport
    from hvprovider.connection import ConnectionArgs

    spec = copy.deepcopy(load_lab_file(EXISTING_DOMAIN_LAB))
    spec["hosts"]["HV02"]["firewall"] = {"disabled": ["WINRM-HTTP-In-TCP"]}
    proc = LabProcess.for_tests(tmp_path, lab=spec)
    proc.start()
    try:
        def conn(host):
            ep = proc.host_endpoint(host)
            return ConnectionArgs(host=ep["address"], port=ep["http_port"], username=proc.credentials(host)[0],
                                  password=proc.credentials(host)[1])
        assert transport.boot_time(conn("HV01"), retries=0)
        with pytest.raises(errors.ConnectionFailedError):
            transport.boot_time(conn("HV02"), retries=0)
    finally:
        proc.stop()
