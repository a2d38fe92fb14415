"""`make lab LAB=nested`'s path end to end: the repo's __main__.py with the hvsim-nested stack's shape on
hvsim/labs/nested.yaml (ONE Hyper-V host with a switch and generalized images), through the real engine
and pywinrm: three LabMachines (DC01 from the Windows Server image, HV01 and HV02 from the Hyper-V Server
image with nested virtualization), then the forest, the storage, the cluster, the CSV and TestVM on them,
in one `up`; a second `up` changes nothing; `destroy` leaves LABHOST as it started and no other host."""
import copy
import json
import shutil
from pathlib import Path

import yaml

from hvsim_fixtures import labhost, mutating

REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {"LABHOST": None, "DC01": "Hyper-Lab-2019!", "HV01": "Hv01-Local-2019!", "HV02": "Hv02-Local-2019!"}
DSRM = "Dsrm-Lab-2019!"


def nested_shape(lab):
    """stacks/Pulumi.hvsim-nested.yaml's lab, moved to this test's LABHOST endpoint and guest subnet."""
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.hvsim-nested.yaml").read_text(encoding="utf-8"))
    shape = copy.deepcopy(stack["config"]["hvlab:lab"])
    ep = lab.host_endpoint("LABHOST")
    shape["machineHost"]["connection"].update(host=ep["address"], port=ep["http_port"])
    net = lab.lab["guests"]["subnet"].rsplit(".", 2)[0]          # e.g. 127.83 of 127.83.17.0/24

    def move(address):  # 127.0.21.x -> <net>.<third>.x: the stack's layout in this test's own /16
        return f"{net}.{address.split('.')[2]}.{address.split('.')[3]}"

    shape["storageHost"]["address"] = move(shape["storageHost"]["address"])
    for node in shape["nodes"]:
        node["address"], node["vmNicAddress"] = move(node["address"]), move(node["vmNicAddress"])
    shape["cluster"]["address"] = move(shape["cluster"]["address"])
    return shape


def vm_state(lab, name):
    return next(vm["state"] for vm in lab.world()["hosts"]["LABHOST"]["hyperv"]["vms"].values() if vm["name"] == name)


def test_the_whole_lab_from_one_hyperv_host(nested_lab, pulumi_project, tmp_path):
    lab = nested_lab
    passwords = dict(PASSWORDS, LABHOST=lab.credentials("LABHOST")[1])
    program = tmp_path / "nested-program"
    program.mkdir()
    shutil.copy(REPO / "__main__.py", program / "__main__.py")
    project = pulumi_project(program, config={"lab": nested_shape(lab)}, secrets={
        "hostPasswords": passwords, "domainPassword": passwords["DC01"], "dsrmPassword": DSRM})
    baseline = labhost(lab.world())
    assert sorted(lab.world()["hosts"]) == ["LABHOST"] and lab.world()["domain"] is None

    project.up()
    world = lab.world()
    vms = {vm["name"]: vm for vm in world["hosts"]["LABHOST"]["hyperv"]["vms"].values()}
    assert sorted(vms) == ["DC01", "HV01", "HV02"] and {vm["state"] for vm in vms.values()} == {"Running"}
    assert [vms[n].get("expose_virtualization_extensions") for n in ("DC01", "HV01", "HV02")] == [False, True, True]
    assert world["domain"]["fqdn"] == "hyper.local" and world["domain"]["controller"] == "DC01"
    assert world["hosts"]["HV01"]["domain"] == world["hosts"]["HV02"]["domain"] == "hyper.local"
    assert world["hosts"]["HV01"]["os"]["caption"] == "Hyper-V Server 2019"
    assert sorted(world["clusters"]["CLUSTER1"]["nodes"]) == ["HV01", "HV02"]
    inner = [(h, vm["name"], vm["state"]) for h in ("HV01", "HV02")
             for vm in world["hosts"][h]["hyperv"]["vms"].values()]
    assert inner == [("HV01", "TestVM", "Running")]   # a VM inside a VM inside LABHOST
    assert project.outputs()["vm_owner_node"] == "HV01"
    exported = project.export_text()
    assert not [p for p in passwords.values() if p in exported] and DSRM not in exported

    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"}
    assert mutating(lab.audit()[n:]) == []

    # HV02's VM turned off behind Pulumi's back: a refresh records it, the plan says it, `up` starts it
    lab.control("power-off", host="HV02")
    assert vm_state(lab, "HV02") == "Off"
    project.refresh()
    plan = {s["urn"].rsplit("::", 1)[1]: s for s in json.loads(project.preview().stdout)["steps"]}
    assert {name: s["op"] for name, s in plan.items() if s["op"] != "same"} == {"seed-machine-hv02": "update"}
    hv02 = plan["seed-machine-hv02"]
    assert (hv02["oldState"]["inputs"]["state"], hv02["newState"]["inputs"]["state"]) == ("Off", "Running")
    project.up()
    assert vm_state(lab, "HV02") == "Running" and lab.world()["hosts"]["HV02"]["power"] == "on"

    project.destroy()
    world = lab.world()
    assert labhost(world) == baseline
    assert sorted(world["hosts"]) == ["LABHOST"] and world["domain"] is None
