"""`make lab`'s path end to end: the repo's __main__.py with the hvsim stack's shape (DomainController and
ManagementTools included) on hvsim/labs/seed.yaml, three unconfigured machines with no domain, through the
real engine and pywinrm: the forest, the tools, the storage, the cluster, the CSV and the VM in one `up`;
a second `up` changes nothing."""
import copy
import shutil
from pathlib import Path

import pytest

from hvsim.testing import LabProcess, SEED_LAB, load_lab_file
from test_lab_e2e import CLUSTER, VM, lab_shape, mutating, the_vm

REPO = Path(__file__).resolve().parents[2]
DSRM = "Dsrm-Lab-2019!"


@pytest.fixture
def seed(tmp_path):
    lab = LabProcess.for_tests(tmp_path, lab=load_lab_file(SEED_LAB))
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


def test_the_seed_lab_from_three_unconfigured_machines(seed, pulumi_project, tmp_path):
    lab = seed
    assert lab.world()["domain"] is None
    shape = lab_shape(lab, owner="HV01", domain_user="HYPER\\Administrator")   # no domain yet: named ahead
    shape["storageHost"]["connection"]["username"] = "Administrator"   # becomes the domain's Administrator
    shape["domainController"] = {}
    shape["managementTools"] = True
    passwords = {h: lab.credentials(h)[1] for h in ("DC01", "HV01", "HV02")}
    secrets = {"hostPasswords": passwords, "domainPassword": passwords["DC01"], "dsrmPassword": DSRM}
    program = tmp_path / "seed-program"
    program.mkdir()
    shutil.copy(REPO / "__main__.py", program / "__main__.py")
    project = pulumi_project(program, config={"lab": shape}, secrets=secrets)

    project.up()
    world = lab.world()
    assert world["domain"]["fqdn"] == "hyper.local" and world["domain"]["controller"] == "DC01"
    dc = world["hosts"]["DC01"]
    for feature in ("AD-Domain-Services", "DNS", "FS-iSCSITarget-Server", "RSAT-Clustering-PowerShell",
                    "RSAT-Hyper-V-Tools"):
        assert dc["features"][feature]["state"] == "Installed", feature
    assert world["hosts"]["HV01"]["domain"] == world["hosts"]["HV02"]["domain"] == "hyper.local"
    cluster = world["clusters"][CLUSTER]
    assert sorted(cluster["nodes"]) == ["HV01", "HV02"] and cluster["quorum"]["resource"]
    host, vm = the_vm(world)
    assert (host, vm["state"]) == ("HV01", "Running")
    assert project.outputs()["vm_owner_node"] == "HV01"
    # the DC was promoted once, before anything else ran on it
    promotions = [r for r in lab.audit() if r.get("kind") == "cmdlet" and r.get("cmdlet") == "Install-ADDSForest"]
    first_target = next(i for i, r in enumerate(lab.audit()) if r.get("cmdlet") == "New-IscsiServerTarget")
    assert len(promotions) == 1 and lab.audit().index(promotions[0]) < first_target
    exported = project.export_text()
    assert DSRM not in exported and passwords["DC01"] not in exported

    n = len(lab.audit())
    again = project.up()
    assert set(again.change_summary) == {"same"}, again.change_summary
    assert mutating(lab.audit()[n:]) == []
