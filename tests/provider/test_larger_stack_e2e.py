"""The worked larger stack (examples/larger-stack) end to end: the real engine with the real Pulumi
Command provider plugin, the real pywinrm, hvsim. One scenario: up (the seed lab, a second LUN
presented by PowerShellScript steps, a second CSV, two more HA VMs, the inventory written by a
command.local.Command) -> an owner change live-migrates one VM and re-runs the inventory step ->
destroy (the inventory file and every VM and CSV gone).
"""
import json
import shutil
from pathlib import Path

from test_lab_e2e import CLUSTER, lab_shape, secrets_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "larger-stack"


def larger(owner_app02="HV02"):
    return {"dataVolume": {"size": "4GB", "label": "AppData"},
            "vms": [{"name": "App01", "ownerNode": "HV01", "diskSizeBytes": "4GB"},
                    {"name": "App02", "ownerNode": owner_app02, "diskSizeBytes": "4GB"}],
            "inventoryPath": "inventory.json"}


def vms_of(world):
    return {vm["name"]: (host, vm) for host, h in world["hosts"].items()
            for vm in (h.get("hyperv") or {}).get("vms", {}).values()}


def test_larger_stack(hvsim_lab, pulumi_project, tmp_path):
    lab = hvsim_lab
    program = tmp_path / "larger-stack"
    program.mkdir()
    shutil.copy(EXAMPLE / "__main__.py", program / "__main__.py")  # the harness writes its Pulumi.yaml
    project = pulumi_project(program, name="hvlab-larger", command_plugin=True,
                             config={"lab": lab_shape(lab, owner="HV01"), "larger": larger()},
                             secrets=secrets_of(lab))

    # -- up: the seed lab and everything built on it --------------------------------------------------
    project.up()
    world = lab.world()
    cluster = world["clusters"][CLUSTER]
    csv_paths = sorted(c["path"] for c in cluster["csvs"].values())
    assert csv_paths == ["C:\\ClusterStorage\\Volume1", "C:\\ClusterStorage\\Volume2"]
    data_serial = [r for r in project.resources() if r["urn"].endswith("::data")][0]["outputs"]["serial_number"]
    data_csv = [c for c in cluster["csvs"].values() if c["path"].endswith("Volume2")][0]
    assert cluster["resources"][data_csv["name"]]["disk"]["serial"] == data_serial
    vms = vms_of(world)
    assert {name: host for name, (host, _) in vms.items()} == {"TestVM": "HV01", "App01": "HV01", "App02": "HV02"}
    assert all(vm["path"].lower().startswith("c:\\clusterstorage\\volume2\\") for name, (_, vm) in vms.items()
               if name != "TestVM")
    out = project.outputs()
    assert out["csv_paths"] == ["C:\\ClusterStorage\\Volume1", "C:\\ClusterStorage\\Volume2"]
    assert [line.split(" sees")[0] for line in out["presented"]] == ["HV01", "HV02"]
    # the pulumi-command step ran with the lab's outputs
    inventory_file = project.work_dir / "inventory.json"
    inventory = json.loads(inventory_file.read_text())
    assert inventory["cluster"] == "cluster1.hyper.local" and inventory["csvs"] == out["csv_paths"]
    assert inventory["iscsi_target"] == world["hosts"]["DC01"]["iscsi_target_server"]["targets"]["cluster1"]["iqn"]
    assert {v["name"]: v["owner_node"] for v in inventory["vms"]} == {"TestVM": "HV01", "App01": "HV01",
                                                                      "App02": "HV02"}
    [step] = project.resources("command:local:Command")
    assert step["urn"].endswith("::inventory")
    for password in (secrets_of(lab)["domainPassword"], *secrets_of(lab)["hostPasswords"].values()):
        assert password not in project.export_text()

    # -- an owner changes: live migration, and the inventory step runs again ---------------------------
    project.set_config("larger", larger(owner_app02="HV01"))
    preview = project.preview()
    assert preview.change_summary.get("update") == 1 and preview.change_summary.get("replace") == 1, \
        preview.change_summary
    project.up()
    assert vms_of(lab.world())["App02"][0] == "HV01"
    inventory = json.loads(inventory_file.read_text())
    assert {v["name"]: v["owner_node"] for v in inventory["vms"]}["App02"] == "HV01"
    assert project.resources("command:local:Command")[0]["id"] != step["id"]  # the step was replaced

    # -- destroy: the stack's own objects go, the inventory file too ----------------------------------
    project.destroy()
    world = lab.world()
    assert vms_of(world) == {} and CLUSTER not in world["clusters"]
    assert not inventory_file.exists()
    assert project.resources() == []
