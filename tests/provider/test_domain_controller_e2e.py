"""DomainController end to end: the real engine, the real pywinrm, hvsim starting from unconfigured
machines (no domain), as the seed's walkthrough starts.

One scenario drives the program in tests/provider/dc_program: preview touches nothing, up promotes DC01
(restart included) and HV01 joins the new domain, a second up and a refresh change nothing, destroy keeps
the forest (the default policy). The script-level tests check adoption and the refusals through the real
transport, without the engine.
"""
import copy
from pathlib import Path

import pytest

from hvprovider import errors, transport
from hvprovider.connection import ConnectionArgs
from hvsim.testing import LabProcess, load_lab_file, SEED_LAB

PROGRAM = Path(__file__).resolve().parent / "dc_program"
DSRM = "Dsrm-Restore-2019!"


def fresh_lab() -> dict:
    """The seed's three machines before step 1: no domain anywhere."""
    lab = copy.deepcopy(load_lab_file(SEED_LAB))
    lab.pop("domain", None)
    for host in lab["hosts"].values():
        host["domain_member"] = False
        host["features"] = []
    return lab


@pytest.fixture
def fresh(tmp_path):
    lab = LabProcess.for_tests(tmp_path, lab=fresh_lab())
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


def mutating(records):
    return [f"{r['host']}:{r['cmdlet']}" for r in records if r.get("kind") == "cmdlet" and r.get("mutating")]


def program_config(lab, **extra):
    hosts = {n: {"host": lab.host_endpoint(n)["address"], "port": lab.host_endpoint(n)["http_port"]}
             for n in ("DC01", "HV01")}
    config = {"hosts": hosts, "domain": "hyper.local", **extra}
    secrets = {"passwords": {n: lab.credentials(n)[1] for n in hosts}, "dsrm_password": DSRM}
    return config, secrets


def test_new_forest_then_join(fresh, pulumi_project):
    lab = fresh
    config, secrets = program_config(lab, join=True)
    project = pulumi_project(PROGRAM, config=config, secrets=secrets)

    n = len(lab.audit())
    preview = project.preview()
    assert preview.change_summary.get("create") == 3  # stack, DC, node
    assert mutating(lab.audit()[n:]) == []

    project.up()
    outputs = project.outputs()
    world = lab.world()
    assert world["domain"]["fqdn"] == "hyper.local" and world["domain"]["netbios"] == "HYPER"
    assert world["domain"]["controller"] == "DC01"
    assert world["hosts"]["DC01"]["domain_controller"] is True
    assert world["hosts"]["DC01"]["features"]["AD-Domain-Services"]["state"] == "Installed"
    assert world["hosts"]["DC01"]["features"]["DNS"]["state"] == "Installed"
    assert world["hosts"]["DC01"]["boot_id"] == 2  # the promotion's one restart
    assert world["hosts"]["HV01"]["domain"] == "hyper.local"
    assert outputs["domain_fqdn"] == "hyper.local" and outputs["netbios_name"] == "HYPER"
    assert outputs["dns_server_address"] == "192.168.10.10"
    assert outputs["hv01_domain"] == "hyper.local"
    promos = [r for r in lab.audit() if r.get("kind") == "cmdlet" and r.get("cmdlet") == "Install-ADDSForest"]
    assert len(promos) == 1 and promos[0]["params"]["SafeModeAdministratorPassword"] != DSRM

    # the state knows it; no password in it
    dc = next(r for r in project.resources() if r["urn"].endswith("::dc01"))
    assert dc["outputs"]["adopted"] is False and dc["outputs"]["restarts"] == 1
    exported = project.export_text()
    assert DSRM not in exported and lab.credentials("DC01")[1] not in exported

    # a second up and a refresh change nothing
    n = len(lab.audit())
    again = project.up()
    assert again.change_summary == {"same": 3}
    assert mutating(lab.audit()[n:]) == []
    refresh = project.refresh()
    assert set(refresh.change_summary) <= {"same"}

    # destroy keeps the forest (default policy); the node's default policy keeps its membership too
    project.destroy()
    world = lab.world()
    assert world["domain"]["fqdn"] == "hyper.local" and world["hosts"]["DC01"]["domain_controller"] is True


def _conn(lab, host, domain=False):
    ep = lab.host_endpoint(host)
    user, password = lab.credentials(host, domain=domain)
    return ConnectionArgs(host=ep["address"], port=ep["http_port"], username=user if domain else "Administrator",
                          password=password)


def _params(mode, domain="hyper.local", **kw):
    return {"Mode": mode, "DomainName": domain, "DomainNetbiosName": "", "ForestMode": "WinThreshold",
            "DomainMode": "WinThreshold", "InstallDns": True, "SafeModePassword": DSRM,
            "LocalAdministratorPassword": "", **kw}


def test_existing_forest_is_adopted_and_another_refused(hvsim_lab):
    """The default seed lab already has hyper.local on DC01: Set changes nothing; another name is refused
    before any change; a member server is refused."""
    lab = hvsim_lab
    dc = _conn(lab, "DC01", domain=True)
    n = len(lab.audit())
    # the seed's DC was set up without the Active Directory module: Set adds it, nothing else
    state = transport.run_script(dc, "domain_controller.ps1", _params("Set"))
    assert state["IsDomainController"] and state["DomainFqdn"] == "hyper.local" and not state["RestartRequired"]
    assert state["Changes"] == ["installed RSAT-AD-PowerShell"] and state["NetbiosName"] == "HYPER"
    assert mutating(lab.audit()[n:]) == ["DC01:Install-WindowsFeature"]
    n = len(lab.audit())
    state = transport.run_script(dc, "domain_controller.ps1", _params("Set"))
    assert state["Changes"] == []
    assert mutating(lab.audit()[n:]) == []
    with pytest.raises(errors.RemoteScriptError, match="already a domain controller of 'hyper.local'"):
        transport.run_script(dc, "domain_controller.ps1", _params("Set", domain="other.local"))
    assert mutating(lab.audit()[n:]) == []


def test_member_server_refused_and_demotion(fresh):
    lab = fresh
    dc = _conn(lab, "DC01")
    state = transport.run_script(dc, "domain_controller.ps1", _params("Set"))
    assert state["RestartRequired"] and "created forest hyper.local" in state["Changes"]
    assert lab.world()["domain"] is None  # not before the restart
    transport.restart_and_wait(dc, timeout=60)
    assert lab.world()["domain"]["controller"] == "DC01"
    state = transport.run_script(dc, "domain_controller.ps1", _params("Get"))
    assert state["IsDomainController"] and state["NetbiosName"] == "HYPER"

    # demotion: the domain goes, the server comes back with a local Administrator (the given password)
    password = lab.credentials("DC01")[1]
    state = transport.run_script(dc, "domain_controller.ps1", _params("Remove", LocalAdministratorPassword=password))
    assert state["RestartRequired"]
    transport.restart_and_wait(dc, timeout=60)
    world = lab.world()
    assert world["domain"] is None and world["hosts"]["DC01"]["domain_controller"] is False
    assert world["hosts"]["DC01"]["local_users"]["Administrator"]["password"] == password
