"""The seed's three tests as the drill a user runs (python -m hvprovider.drill) against the seed lab on
hvsim, built by the repo's __main__.py with the real engine: live migration, quick migration, power loss
of the owner. Asserts the drill's figures against hvsim's world and that it tells when the stack needs
a refresh."""
import json
import subprocess
import sys

from test_lab_e2e import CLUSTER, VM, lab_shape, secrets_of, seed_program  # noqa: F401 (fixture)


def test_drill_on_the_seed_lab(hvsim_lab, pulumi_project, seed_program):  # noqa: F811
    lab = hvsim_lab
    project = pulumi_project(seed_program, config={"lab": lab_shape(lab, owner="HV01")}, secrets=secrets_of(lab))
    project.up()
    assert project.outputs()["vm_owner_node"] == "HV01"

    proc = subprocess.run([sys.executable, "-m", "hvprovider.drill", "--stack", project.stack, "--json",
                           "--hvsim-state", str(lab.state_dir)], cwd=project.work_dir, env=project.env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    steps = {s["test"]: s for s in report["steps"]}
    assert list(steps) == ["live migration", "quick migration", "power loss of HV01"]

    live, quick, power = steps.values()
    assert (live["owner_before"], live["owner_after"]) == ("HV01", "HV02")
    assert (quick["owner_before"], quick["owner_after"]) == ("HV02", "HV01")
    assert (power["owner_before"], power["owner_after"]) == ("HV01", "HV02")
    assert all(s["vm_state_after"] == "Running" for s in steps.values())
    # the figures are the cluster's own records of the three moves
    events = lab.world()["clusters"][CLUSTER]["events"]
    recorded = {e["kind"]: e["downtime_seconds"] for e in events if e.get("vm") == VM}
    assert live["downtime_seconds"] == recorded["live_migration"] < quick["downtime_seconds"]
    assert quick["downtime_seconds"] == recorded["quick_migration"] < power["downtime_seconds"]
    assert power["downtime_seconds"] == recorded["failover"]
    # the state still says HV01; after the power loss the VM runs on HV02: a refresh is needed
    assert report["state_owner"] == "HV01"
    assert [s["needs_refresh"] for s in steps.values()] == [True, False, True]
    world = lab.world()
    assert world["hosts"]["HV01"]["power"] != "off"  # the drill powered the owner on again
    assert world["clusters"][CLUSTER]["groups"][VM]["owner"] == "HV02"
    assert lab.credentials("HV01")[1] not in proc.stdout + proc.stderr
