"""A seed lab created before NodeStorage existed upgrades without disruption (issue 13, item 1).

The lab is first built by the hvprovider of the commit before the one that added
hvprovider/node_storage.py (taken with `git archive`, put first on the program's PYTHONPATH), when each
ClusterNode attached the iSCSI storage itself. Then the current code runs `up` on the same stack: the
nodes switch to attach_storage=False and a NodeStorage per node appears. Nothing may be logged off,
taken offline, moved or replaced: 0 replaces and deletes, not one mutating cmdlet on any host, the
sessions, disks, cluster resources and VM exactly as before. Real engine, real pywinrm, hvsim.
"""
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from test_lab_e2e import CLUSTER, lab_shape, mutating, secrets_of, the_vm

REPO = Path(__file__).resolve().parents[2]


def old_code(dest: Path) -> Path:
    """hvprovider and the seed program as they were just before NodeStorage was added."""
    def git(*args: str) -> bytes:
        return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True).stdout

    try:
        git("rev-parse", "--git-dir")
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs the git history of the repo: {exc}")
    added = git("log", "-n", "1", "--diff-filter=A", "--format=%H", "HEAD", "--", "hvprovider/node_storage.py").decode().strip()
    if not added and git("rev-parse", "--is-shallow-repository").decode().strip() == "true":
        pytest.skip("a shallow clone has no commit from before NodeStorage to build the old lab with")
    assert added, "no commit adds hvprovider/node_storage.py"
    archive = git("archive", "--format=tar", f"{added}^", "hvprovider", "__main__.py")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest)
    assert not (dest / "hvprovider" / "node_storage.py").exists()
    return dest


def attachment(world):
    """What the upgrade must leave alone: each node's sessions and iSCSI disks, the cluster's resources."""
    hosts = {n: {"sessions": world["hosts"][n]["iscsi_initiator"].get("sessions"),
                 "disks": [d for d in world["hosts"][n]["disks"] if d.get("bus_type") == "iSCSI"]}
             for n in ("HV01", "HV02")}
    return hosts, world["clusters"][CLUSTER]["resources"]


def test_a_lab_made_before_node_storage_upgrades_without_disruption(hvsim_lab, pulumi_project, tmp_path):
    lab = hvsim_lab
    old = old_code(tmp_path / "old")
    program = tmp_path / "seed-program"
    program.mkdir()
    shutil.copy(old / "__main__.py", program / "__main__.py")
    project = pulumi_project(program, config={"lab": lab_shape(lab)}, secrets=secrets_of(lab), pythonpath=[old])

    # -- the lab as the old code builds it: the nodes hold the sessions ----------------------------
    project.up()
    names = {r["urn"].rsplit("::", 1)[1] for r in project.resources()}
    assert "seed-hv01-storage" not in names
    node = [r for r in project.resources() if r["urn"].endswith("::seed-hv01")][0]
    assert node["outputs"]["target_iqns"] == [project.outputs()["target_iqn"]]
    before = lab.world()
    host, vm = the_vm(before)
    assert vm["state"] == "Running"
    for name in ("HV01", "HV02"):
        assert before["hosts"][name]["iscsi_initiator"]["sessions"], name

    # -- the same stack with the current code ----------------------------------------------------
    shutil.copy(REPO / "__main__.py", project.work_dir / "__main__.py")
    project.env["PYTHONPATH"] = project.env["PYTHONPATH"].replace(str(old.resolve()), "").strip(":")
    plan = project.preview()
    assert not {"replace", "create-replacement", "delete-replaced", "delete"} & set(plan.change_summary), \
        plan.change_summary
    n = len(lab.audit())
    upgrade = project.up()
    assert upgrade.change_summary.get("create") == 2 and upgrade.change_summary.get("update") == 2, \
        upgrade.change_summary
    assert not {"replace", "delete"} & set(upgrade.change_summary), upgrade.change_summary
    # not one change on any host: no session logged off, no disk offline, the VM not touched
    assert mutating(lab.audit()[n:]) == []
    after = lab.world()
    assert attachment(after) == attachment(before)
    assert the_vm(after) == (host, vm)
    # the nodes handed their sessions over: NodeStorage holds them now, the nodes none
    resources = {r["urn"].rsplit("::", 1)[1]: r for r in project.resources()}
    for name in ("seed-hv01", "seed-hv02"):
        assert resources[name]["outputs"]["target_iqns"] == []
        assert resources[name]["outputs"]["attach_storage"] is False
        storage = resources[f"{name}-storage"]["outputs"]
        assert storage["connected_targets"] == [project.outputs()["target_iqn"]] == storage["target_iqns"]
        assert storage["last_changes"] == []
    # and it has converged: the next up changes nothing
    project.up("--expect-no-changes")
