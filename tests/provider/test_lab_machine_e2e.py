"""LabMachine through the real engine and pywinrm against hvsim's nested lab (hvsim/labs/nested.yaml):
one Hyper-V host, LABHOST, whose VM becomes a Windows host of its own. A machine is refused before any
change when its image is not generalized or its switch does not exist, is built from the image with an
answer file, configured through PowerShell Direct and then reached at its own address by another
resource; a second up changes nothing; a memory change restarts it; destroy leaves LABHOST as it was."""
import base64
import json
from pathlib import Path

import pytest
import requests

from hvsim_fixtures import labhost, mutating

PROGRAM = Path(__file__).resolve().parent / "machine_program"
PASSWORD = "Srv01-Local-2022!"


def guest_address(lab, last):
    return lab.lab["guests"]["subnet"].rsplit(".", 1)[0] + f".{last}"


def test_a_lab_machine_from_an_image_and_back(nested_lab, pulumi_project):
    lab = nested_lab
    ep = lab.host_endpoint("LABHOST")
    address = guest_address(lab, 10)
    machine = {"name": "SRV01", "image": "C:\\Images\\WS2022-Template-NotGeneralized.vhdx", "switch": "Lab",
               "address": address}
    project = pulumi_project(PROGRAM, config={
        "host": {"host": ep["address"], "port": ep["http_port"], "username": "LABHOST\\Administrator"},
        "machine": machine}, secrets={"hostPassword": lab.credentials("LABHOST")[1], "machinePassword": PASSWORD})
    baseline = labhost(lab.world())

    # refused before any change: an image that was never generalized, then a switch that does not exist
    failed = project.up(expect_failure=True)
    assert "image_path: 'C:\\Images\\WS2022-Template-NotGeneralized.vhdx' is not a generalized Windows image" \
        in failed.output
    assert "IMAGE_STATE_COMPLETE" in failed.output and "sysprep /generalize" in failed.output
    assert labhost(lab.world()) == baseline and "TEMPLATE01" not in lab.world()["hosts"]
    project.set_config("machine", {**machine, "image": "C:\\Images\\WS2022-Datacenter-Sysprep.vhdx",
                                   "switch": "Lab2"})
    failed = project.up(expect_failure=True)
    assert "network_adapters[0].switch: there is no virtual switch 'Lab2' on LABHOST (its switches: 'Lab')" \
        in failed.output
    assert labhost(lab.world()) == baseline
    assert PASSWORD not in failed.output

    # a failure after the VM was made and started (its record never came back): the next up adopts that
    # VM, it makes no second one
    machine["image"] = "C:\\Images\\WS2022-Datacenter-Sysprep.vhdx"
    project.set_config("machine", machine)
    lab.control("fail-cmdlet", host="LABHOST", cmdlet="Get-VMNetworkAdapter")
    failed = project.up(expect_failure=True)
    assert "Get-VMNetworkAdapter failed on LABHOST: injected fault" in failed.output
    assert [vm["name"] for vm in lab.world()["hosts"]["LABHOST"]["hyperv"]["vms"].values()] == ["SRV01"]

    # built: the disk a child of the image, the answer file applied and gone, the address set through
    # PowerShell Direct, and another resource reaches the machine at that address
    built = project.up()
    assert "SRV01: configuring the guest through PowerShell Direct" in built.output   # progress on its row
    world = lab.world()
    vms = list(world["hosts"]["LABHOST"]["hyperv"]["vms"].values())
    assert [(vm["name"], vm["state"], vm["memory_startup"], vm["dynamic_memory"]) for vm in vms] == [
        ("SRV01", "Running", 2 * 1024**3, False)]
    disk = world["hosts"]["LABHOST"]["files"]["c:\\lab\\srv01\\virtual hard disks\\srv01.vhdx"]
    assert disk["vhd"]["type"] == "Differencing"
    assert disk["vhd"]["parent_path"].lower() == "c:\\images\\ws2022-datacenter-sysprep.vhdx"
    srv = world["hosts"]["SRV01"]
    assert [(n["name"], n["ipv4"], n.get("network_category")) for n in srv["nics"]] == [
        ("Management", address, "Private")]
    outputs = project.outputs(show_secrets=True)
    assert outputs["hello"].strip() == "SRV01 W. Europe Standard Time"
    assert outputs["vm_id"] == vms[0]["id"].lower()
    machine_state = next(r for r in project.resources("pulumi-python:dynamic/hvprovider:LabMachine"))["outputs"]
    assert machine_state["adopted"] is True and "adopted the VM an earlier run created" in machine_state["last_changes"]
    exported = project.export_text()
    assert PASSWORD not in exported and lab.credentials("LABHOST")[1] not in exported
    assert PASSWORD not in json.dumps(disk)   # Windows Setup's cached answer file no longer holds it
    # neither plain nor in the answer file's encoding in what the host logged (hvsim's audit and log)
    encoded = base64.b64encode((PASSWORD + "AdministratorPassword").encode("utf-16-le")).decode()
    logged = (lab.state_dir / "audit.jsonl").read_text() + (lab.state_dir / "server.log").read_text()
    assert PASSWORD not in logged and encoded not in logged

    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"}
    assert mutating(lab.audit()[n:]) == []

    # more memory: shut down, changed, started, configured again
    project.set_config("machine", {**machine, "memory": "3GB"})
    project.up()
    vm = next(iter(lab.world()["hosts"]["LABHOST"]["hyperv"]["vms"].values()))
    assert (vm["state"], vm["memory_startup"]) == ("Running", 3 * 1024**3)
    assert any("shut down" in c for c in project.outputs()["changes"])

    # a full copy instead of a differencing disk: a new machine (the old one removed first: same name)
    project.set_config("machine", {**machine, "memory": "3GB", "diskMode": "copy"})
    project.up()
    vm2 = next(iter(lab.world()["hosts"]["LABHOST"]["hyperv"]["vms"].values()))
    assert vm2["id"] != vm["id"]
    disk = lab.world()["hosts"]["LABHOST"]["files"]["c:\\lab\\srv01\\virtual hard disks\\srv01.vhdx"]
    assert disk["vhd"]["type"] != "Differencing" and not disk["vhd"].get("parent_path")

    project.destroy()
    world = lab.world()
    assert labhost(world) == baseline and "SRV01" not in world["hosts"]
    with pytest.raises(requests.exceptions.ConnectionError):  # the machine's WinRM is gone with it
        requests.post(f"http://{address}:5985/wsman", data=b"", timeout=5)
