"""Through the real engine (which kills the provider process when a run ends): no run leaves a WinRM
shell open, and a create whose result was lost is one line, then adopted by the next up.

Uses the target-only stack of tests/provider/part1_program (one IscsiTarget on DC01).
"""
from test_iscsi_e2e import PROGRAM, TARGET, lab_config


def shells(lab, host="DC01"):
    return lab.control("status")["hosts"][host]["shells"]


def test_runs_leave_no_shell_and_a_lost_result_is_adopted(hvsim_lab, pulumi_project):
    lab = hvsim_lab
    config, secrets = lab_config(lab, with_nodes=False)
    project = pulumi_project(PROGRAM, config=config, secrets=secrets)
    baseline = shells(lab)

    # the create's result is lost every time (the Receive that reports the script done, more often
    # than the 4 retries): one line, no traceback, the target exists but is not in the state
    lab.control("fail-operation", host="DC01", operation="Receive", after=True, count=8)
    failed = project.up(expect_failure=True)
    lines = [ln for ln in failed.output.splitlines() if "lost the connection to WinRM" in ln]
    assert lines, failed.output
    assert "while running iscsi_target.ps1" in lines[0] and "may have finished" in lines[0]
    assert "run pulumi up again" in lines[0]
    assert "Traceback" not in failed.output
    assert TARGET.lower() in lab.world()["hosts"]["DC01"]["iscsi_target_server"]["targets"]
    assert [r for r in project.resources() if r["urn"].endswith("::cluster-target")] == []
    assert shells(lab) == baseline
    lab.control("clear-faults", host="DC01")

    # the next up adopts it: one target, recorded
    project.up()
    assert list(lab.world()["hosts"]["DC01"]["iscsi_target_server"]["targets"]) == [TARGET.lower()]
    assert project.outputs()["target_adopted"] is True
    assert shells(lab) == baseline

    # the runs of issue 8's measurement (2 -> 5 -> 7 -> 9 -> 11 shells before): flat now
    project.refresh()
    assert shells(lab) == baseline
    project.preview("--refresh")
    assert shells(lab) == baseline
    project.destroy()
    assert shells(lab) == baseline
    assert lab.world()["hosts"]["DC01"]["iscsi_target_server"]["targets"] == {}
