"""A program written from the docs alone (tests/provider/docs_program), through the real engine against
hvsim: it previews, builds, changes nothing the second time, and destroy leaves DC01 as it was."""
from pathlib import Path

PROGRAM = Path(__file__).resolve().parent / "docs_program"


def mutating(records):
    return [f"{r['host']}:{r['cmdlet']}" for r in records if r.get("kind") == "cmdlet" and r.get("mutating")]


def test_a_program_from_the_docs(hvsim_lab, pulumi_project):
    lab = hvsim_lab
    ep = lab.host_endpoint("DC01")
    project = pulumi_project(PROGRAM, config={"dc01": {"host": ep["address"], "port": ep["http_port"]}},
                             secrets={"password": lab.credentials("DC01")[1]})
    before = lab.world()["hosts"]["DC01"]

    assert project.preview().change_summary.get("create") == 5  # the stack + 4 resources
    project.up()
    out = project.outputs()
    dc = lab.world()["hosts"]["DC01"]
    assert out["iqn"] == "iqn.1991-05.com.microsoft:dc01-mylab-target"
    assert out["note"] == f"serial is {out['serial']}"
    # ordered after the target, the firewall found the rule the iSCSI Target Server feature brought
    assert out["fw_changes"] == []
    assert "c:\\iscsi\\my [lab]\\quorum.vhdx" in dc["iscsi_target_server"]["virtual_disks"]
    assert {r["type"] for r in project.resources() if r["type"].startswith("pulumi-python")} == {
        f"pulumi-python:dynamic/hvprovider:{c}" for c in ("IscsiTarget", "IscsiVolume", "LabFirewall", "PowerShellScript")}

    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"}
    assert mutating(lab.audit()[n:]) == []

    project.destroy()
    after = lab.world()["hosts"]["DC01"]
    assert after["iscsi_target_server"]["targets"] == {} and after["iscsi_target_server"]["virtual_disks"] == {}
    assert sorted(after["files"]) == sorted(before["files"])   # the folders it made are gone, nothing else
