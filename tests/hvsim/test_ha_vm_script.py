"""The provider's highly_available_vm.ps1 through hvsim's interpreter on a registry-level cluster world
(bootstrap.ps1 with the JSON payload on stdin, as the transport runs it): the paths the engine
scenarios do not take. A VM left by an interrupted create is adopted with the files and folders
New-VM made for it, and deleting it removes exactly those; a VM whose name the first one's name
matches as a wildcard is never touched."""
from __future__ import annotations

from hvsim_fixtures import run_provider_script
from test_cluster_helpers import GB, build_cluster, build_csv, build_vm, lab_world, run


def _ha_vm(world, params: dict) -> dict:
    return run_provider_script(world, "HV01", "highly_available_vm.ps1", params)


def _vms(world) -> dict:
    return {vm["name"]: vm for h in world.data["hosts"].values() for vm in (h.get("hyperv") or {}).get("vms", {}).values()}


def _csv_files(world) -> set:
    [csv] = world.data["clusters"]["CLUSTER1"]["csvs"].values()
    return set(csv["files"])


def test_an_interrupted_create_is_adopted_and_deleted_by_what_it_recorded(tmp_path):
    world = lab_world(tmp_path)
    build_cluster(world)
    csv = build_csv(world)
    # the loopback CredSSP session the script opens (ClusterNode's job on a real lab)
    run(world, "HV01", "Enable-WSManCredSSP", Role="Server", Force=True)
    run(world, "HV01", "Enable-WSManCredSSP", Role="Client", DelegateComputer=["hv01.hyper.local", "hv01"], Force=True)
    # 'Web[1]' read as a wildcard matches 'Web1': somebody's VM, in the same parent folder
    build_vm(world, f"{csv}\\VMs", name="Web1")
    run(world, "HV01", "Add-ClusterVirtualMachineRole", VMName="Web1")
    decoy = _vms(world)["Web1"]
    # what a create stopped right after New-VM leaves: the VM, unclustered, in <path>\<name>
    build_vm(world, f"{csv}\\VMs", name="Web[1]", switch=False)
    orphan = _vms(world)["Web[1]"]
    files_before = _csv_files(world)
    params = {"Name": "Web[1]", "Path": f"{csv}\\VMs", "MemoryStartupBytes": 2 * GB, "ProcessorCount": 1,
              "Generation": 2, "DiskSizeBytes": 20 * GB, "SwitchName": "External", "PreferredOwners": [],
              "OwnerNode": "", "State": "Off", "MigrationType": "Live", "AllowRestart": False,
              "DomainUser": "HYPER\\Administrator", "DomainPassword": "pw"}

    made = _ha_vm(world, {**params, "Mode": "Set"})
    assert made["Exists"] and made["VMId"].upper() == orphan["id"]          # adopted, not created again
    folder = f"{csv}\\VMs\\Web[1]"
    assert made["CreatedVhdPaths"] == [f"{folder}\\Virtual Hard Disks\\Web[1].vhdx"]
    assert made["CreatedFolders"] == [folder, f"{folder}\\Virtual Hard Disks", f"{folder}\\Virtual Machines"]
    assert _vms(world)["Web[1]"]["clustered"] and _vms(world)["Web[1]"]["group"] == "Web[1]"

    _ha_vm(world, {**params, "Mode": "Remove", "VMId": made["VMId"], "VhdPaths": made["CreatedVhdPaths"],
                   "CreatedFolders": made["CreatedFolders"]})
    assert set(_vms(world)) == {"Web1"} and _vms(world)["Web1"]["id"] == decoy["id"]
    groups = world.data["clusters"]["CLUSTER1"]["groups"]
    assert "Web[1]" not in groups and groups["Web1"]["vm_id"] == decoy["id"]
    # exactly its own files and folders went; the decoy's and the shared parent folder stayed
    assert _csv_files(world) == {k for k in files_before if not k.startswith("vms\\web[1]")}
    assert any(k.startswith("vms\\web1\\") for k in _csv_files(world))
