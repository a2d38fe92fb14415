"""The preflight (python -m hvprovider.preflight) against hvsim: a clean seed lab passes every check; a lab
with the failures it looks for (a local account filtered by UAC remote restrictions, a feature removed
from the image, a Public network, a clock 15 minutes off, a broken DNS client) fails exactly those checks,
each with its fix. Read-only: no mutating cmdlet runs."""
import copy
import json
import subprocess
import sys

import pytest

from hvsim.testing import LabProcess, EXISTING_DOMAIN_LAB, load_lab_file
from test_lab_e2e import lab_shape, secrets_of


def preflight(project):
    proc = subprocess.run([sys.executable, "-m", "hvprovider.preflight", "--stack", project.stack, "--json"],
                          cwd=project.work_dir, env=project.env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, {(r["host"], r["check"].split(" ")[0]): r for r in json.loads(proc.stdout)}, proc


def mutating(lab):
    return [r for r in lab.audit() if r.get("kind") == "cmdlet" and r.get("mutating")]


def test_clean_seed_lab_passes(hvsim_lab, pulumi_project):
    project = pulumi_project("import pulumi\n", config={"lab": lab_shape(hvsim_lab)}, secrets=secrets_of(hvsim_lab))
    code, rows, proc = preflight(project)
    assert code == 0, proc.stdout
    assert len(rows) == 3 * 8 and all(r["ok"] for r in rows.values())
    assert rows[("HV01", "OS")]["result"] == "Hyper-V Server 2019 (build 17763)"
    assert rows[("DC01", "names")]["result"] == "3 of 3 resolve"
    assert rows[("HV01", "names")]["result"] == "4 of 4 resolve"
    assert mutating(hvsim_lab) == []


@pytest.fixture
def broken_lab(tmp_path):
    spec = copy.deepcopy(load_lab_file(EXISTING_DOMAIN_LAB))
    hosts = spec["hosts"]
    hosts["HV01"]["local_users"]["labadmin"] = {"password": "Lab-Admin-2019!"}
    hosts["DC01"]["removed_features"] = ["FS-iSCSITarget-Server"]
    hosts["DC01"]["clock_skew_seconds"] = 900
    hosts["HV02"]["nics"][0]["network_category"] = "Public"
    hosts["HV02"]["dns"] = "broken"
    lab = LabProcess.for_tests(tmp_path, lab=spec)
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


def test_each_failure_is_named_with_its_fix(broken_lab, pulumi_project):
    lab = broken_lab
    shape = lab_shape(lab)
    hv01 = next(n for n in shape["nodes"] if n["name"] == "HV01")
    hv01["connection"]["username"] = "HV01\\labadmin"
    secrets = secrets_of(lab)
    secrets["hostPasswords"]["HV01"] = "Lab-Admin-2019!"
    project = pulumi_project("import pulumi\n", config={"lab": shape}, secrets=secrets)
    code, rows, proc = preflight(project)
    assert code == 1
    failed = sorted(k for k, r in rows.items() if not r["ok"])
    assert failed == [("DC01", "clock"), ("DC01", "features"), ("HV01", "WinRM"), ("HV02", "names"),
                      ("HV02", "network")], proc.stdout
    assert "LocalAccountTokenFilterPolicy" in rows[("HV01", "WinRM")]["fix"]
    assert "-Source" in rows[("DC01", "features")]["fix"]
    assert "Set-NetConnectionProfile -InterfaceAlias 'Ethernet' -NetworkCategory Private" in rows[("HV02", "network")]["fix"]
    assert "Set-DnsClientServerAddress" in rows[("HV02", "names")]["fix"] and "192.168.10.10" in rows[("HV02", "names")]["fix"]
    assert rows[("DC01", "clock")]["result"].startswith("+9")
    assert "w32tm /resync" in rows[("DC01", "clock")]["fix"]
    assert mutating(lab) == []
    for password in (*secrets["hostPasswords"].values(), secrets["domainPassword"]):
        assert password not in proc.stdout + proc.stderr
