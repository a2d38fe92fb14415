"""Highly available VMs at the registry level: role rules, live and quick migration, owners,
power loss with failover, graceful restart with drain, rejoin without failback."""
from __future__ import annotations

import time

import pytest

from hvsim.cmdlets.registry import CmdletError
from hvsim.powershell.conversions import to_string

from test_cluster_helpers import GB, SWITCH, build_cluster, build_csv, build_vm, lab_world, run


@pytest.fixture
def lab(tmp_path):
    world = lab_world(tmp_path)
    build_cluster(world)
    return world


@pytest.fixture
def ha(lab):
    """LAB.md step 8: VM1 on the CSV, connected, made highly available, running on HV01."""
    path = build_csv(lab)
    build_vm(lab, path)
    run(lab, "HV01", "Add-ClusterVirtualMachineRole", VMName="VM1")
    run(lab, "HV01", "Start-ClusterGroup", Name="VM1")
    return lab


def _vm_on(world, host, name="VM1"):
    return next((v for v in world.host(host)["hyperv"]["vms"].values() if v["name"] == name), None)


def _events(world, kind=None):
    return [e for e in world.data["clusters"]["CLUSTER1"]["events"] if kind is None or e["kind"] == kind]


def _owner(world, group="VM1", host="HV01"):
    return to_string(run(world, host, "Get-ClusterGroup", Name=group)[0].get_prop("OwnerNode"))


def test_a_vm_on_local_storage_is_refused(lab):
    run(lab, "HV01", "New-VM", Name="Local", Path="C:\\VMs", MemoryStartupBytes=1 * GB, Generation=2,
        NewVHDPath="C:\\VMs\\Local\\Local.vhdx", NewVHDSizeBytes=10 * GB)
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Add-ClusterVirtualMachineRole", VMName="Local")
    assert exc.value.message.startswith(
        "There was an error configuring the virtual machine 'Local' for high availability.\r\n")
    assert "'C:\\VMs\\Local'." in exc.value.message and "Cluster Shared Volume" in exc.value.message
    assert exc.value.error_id == ("Add-ClusterVirtualMachineRole,"
                                  "Microsoft.FailoverClusters.PowerShell.AddClusterVirtualMachineRoleCommand")
    assert "Local" not in lab.data["clusters"]["CLUSTER1"]["groups"]
    assert _vm_on(lab, "HV01", "Local")["clustered"] is False


def test_make_highly_available(ha):
    g = run(ha, "HV02", "Get-ClusterGroup", Name="VM1")[0]
    assert str(g.get_prop("GroupType")) == "VirtualMachine" and str(g.get_prop("State")) == "Online"
    assert to_string(g.get_prop("OwnerNode")) == "HV01"
    types = sorted(to_string(r.get_prop("ResourceType")) for r in run(ha, "HV01", "Get-ClusterResource", _pipeline=[g]))
    assert types == ["Virtual Machine", "Virtual Machine Configuration"]
    vm = run(ha, "HV01", "Get-VM", Name="VM1")[0]
    assert vm.get_prop("IsClustered") is True and str(vm.get_prop("State")) == "Running"
    with pytest.raises(CmdletError) as exc:
        run(ha, "HV01", "Add-ClusterVirtualMachineRole", VMName="VM1")
    assert exc.value.message == "The resource is already configured for high availability."
    with pytest.raises(CmdletError) as exc:
        run(ha, "HV01", "Remove-VM", Name="VM1", Force=SWITCH)
    assert "is clustered" in exc.value.message


def test_live_migration_keeps_the_vm_running(ha):
    boot = _vm_on(ha, "HV01")["boot_id"]
    g = run(ha, "HV01", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02", MigrationType="Live")[0]
    assert to_string(g.get_prop("OwnerNode")) == "HV02"
    assert _vm_on(ha, "HV01") is None                       # only on its owner node now
    vm = _vm_on(ha, "HV02")
    assert vm["state"] == "Running" and vm["boot_id"] == boot
    assert run(ha, "HV01", "Get-VM") == []
    assert str(run(ha, "HV02", "Get-VM", Name="VM1")[0].get_prop("State")) == "Running"
    [event] = _events(ha, "live_migration")
    assert (event["from"], event["to"], event["type"]) == ("HV01", "HV02", "Live")
    assert event["state_before"] == event["state_after"] == "Running"
    assert event["downtime_seconds"] < 1
    assert any(r.get("event") == "live_migration" for r in ha.audit_records("cluster_event"))


def test_quick_migration_saves_moves_and_restores(ha):
    boot = _vm_on(ha, "HV01")["boot_id"]
    with pytest.raises(CmdletError) as exc:           # not emulated: refused, never done as another kind of move
        run(ha, "HV02", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02", MigrationType="Shutdown")
    assert exc.value.category == "NotImplemented"
    run(ha, "HV02", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02", MigrationType="Quick")
    vm = _vm_on(ha, "HV02")
    assert vm["state"] == "Running" and vm["boot_id"] == boot   # restored from saved state, not rebooted
    [event] = _events(ha, "quick_migration")
    assert event["type"] == "Quick" and event["downtime_seconds"] >= 5
    assert _owner(ha) == "HV02"


def test_move_cluster_group_of_a_vm_live_migrates(ha):
    run(ha, "HV01", "Move-ClusterGroup", Name="VM1", Node="HV02")
    assert _owner(ha) == "HV02" and [e["type"] for e in _events(ha)] == ["Live"]


def test_an_unconnected_network_adapter_blocks_moves(lab):
    path = build_csv(lab)
    build_vm(lab, path, switch=False)
    run(lab, "HV01", "Add-ClusterVirtualMachineRole", VMName="VM1")
    run(lab, "HV01", "Start-ClusterGroup", Name="VM1")
    for kind in ("Live", "Quick"):
        with pytest.raises(CmdletError) as exc:
            run(lab, "HV01", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02", MigrationType=kind)
        assert f"{kind} migration of 'Virtual Machine VM1' failed." in exc.value.message
        assert "is not connected to a virtual switch" in exc.value.message
    assert _vm_on(lab, "HV01")["state"] == "Running" and _owner(lab) == "HV01"
    assert _events(lab) == []
    # connect it to a switch both nodes have: now it moves
    for n in ("HV01", "HV02"):
        run(lab, n, "New-VMSwitch", Name="External", NetAdapterName="Ethernet", AllowManagementOS=True)
    run(lab, "HV01", "Connect-VMNetworkAdapter", VMName="VM1", SwitchName="External")
    run(lab, "HV01", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02", MigrationType="Live")
    assert _owner(lab) == "HV02"


def test_a_switch_missing_on_the_target_blocks_moves(lab):
    path = build_csv(lab)
    run(lab, "HV01", "New-VMSwitch", Name="External", NetAdapterName="Ethernet")
    run(lab, "HV02", "New-VMSwitch", Name="LAN", NetAdapterName="Ethernet")
    build_vm(lab, path, switch=False)
    run(lab, "HV01", "Connect-VMNetworkAdapter", VMName="VM1", SwitchName="External")
    run(lab, "HV01", "Add-ClusterVirtualMachineRole", VMName="VM1")
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02")
    assert "Could not find Ethernet switch 'External'." in exc.value.message


def test_stop_and_start_cluster_group(ha):
    run(ha, "HV01", "Stop-ClusterGroup", Name="VM1")
    assert _vm_on(ha, "HV01")["state"] == "Saved"       # the VM resource's default offline action
    assert str(run(ha, "HV01", "Get-ClusterGroup", Name="VM1")[0].get_prop("State")) == "Offline"
    run(ha, "HV01", "Start-ClusterGroup", Name="VM1")
    assert _vm_on(ha, "HV01")["state"] == "Running"


def test_owner_nodes(ha):
    assert run(ha, "HV01", "Get-ClusterOwnerNode", Group="VM1")[0].get_prop("OwnerNodes") == []
    run(ha, "HV01", "Set-ClusterOwnerNode", Group="VM1", Owners=["HV02", "HV01"])
    owners = run(ha, "HV01", "Get-ClusterOwnerNode", Group="VM1")[0].get_prop("OwnerNodes")
    assert [o.get_prop("Name") for o in owners] == ["HV02", "HV01"]
    with pytest.raises(CmdletError):
        run(ha, "HV01", "Set-ClusterOwnerNode", Group="VM1", Owners=["DC01"])


def test_power_loss_fails_the_vm_over_and_the_node_rejoins_without_failback(ha):
    boot = _vm_on(ha, "HV01")["boot_id"]
    ha.power_off("HV01")
    nodes = {n.get_prop("Name"): str(n.get_prop("State")) for n in run(ha, "HV02", "Get-ClusterNode")}
    assert nodes == {"HV01": "Down", "HV02": "Up"}
    vm = _vm_on(ha, "HV02")
    assert vm["state"] == "Running" and vm["boot_id"] == boot + 1      # restarted, not migrated
    assert _vm_on(ha, "HV01") is None
    assert _owner(ha, host="HV02") == "HV02"
    assert _owner(ha, "Cluster Group", host="HV02") == "HV02"
    [event] = _events(ha, "failover")[-1:]
    assert (event["vm"], event["from"], event["to"]) == ("VM1", "HV01", "HV02")
    assert event["downtime_seconds"] > 5
    # the witness disk follows its group: HV02 now has it online
    uid = next(r["disk"]["unique_id"] for r in ha.data["clusters"]["CLUSTER1"]["resources"].values()
               if r.get("disk") and r["group"] == "Cluster Group")
    assert run(ha, "HV02", "Get-Disk", UniqueId=uid)[0].get_prop("IsOffline") is False

    ha.power_on("HV01")
    deadline = time.monotonic() + 5
    while not ha.reachable("HV01") and time.monotonic() < deadline:
        time.sleep(0.01)
    nodes = {n.get_prop("Name"): str(n.get_prop("State")) for n in run(ha, "HV02", "Get-ClusterNode")}
    assert nodes == {"HV01": "Up", "HV02": "Up"}
    assert _owner(ha, host="HV01") == "HV02"                            # no automatic failback
    # the CSV namespace is back on the rejoined node
    assert ha.host("HV01")["files"].get("c:\\clusterstorage\\volume1\\vm1\\virtual hard disks\\vm1.vhdx")


def test_failover_prefers_the_preferred_owners_and_fails_when_no_node_is_left(ha):
    run(ha, "HV01", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02")
    run(ha, "HV01", "Set-ClusterOwnerNode", Group="VM1", Owners=["HV01"])
    ha.power_off("HV02")
    assert _owner(ha, host="HV01") == "HV01" and _vm_on(ha, "HV01")["state"] == "Running"
    ha.power_off("HV01")
    c = ha.data["clusters"]["CLUSTER1"]
    assert c["groups"]["VM1"]["owner"] == "HV01" and _vm_on(ha, "HV01")["state"] == "Off"
    assert c["groups"]["VM1"]["state"] == "Failed"
    assert _events(ha, "failover_failed")
    # the first node back forms the cluster and brings the stranded role online there
    ha.power_on("HV02")
    assert c["groups"]["VM1"]["owner"] == "HV02" and _vm_on(ha, "HV02")["state"] == "Running"
    assert c["groups"]["Cluster Group"]["owner"] == "HV02"
    assert _events(ha, "recovered")[-1]["to"] == "HV02"


def test_a_graceful_restart_drains_the_node_by_live_migration(ha):
    boot = _vm_on(ha, "HV01")["boot_id"]
    ha.restart("HV01")
    vm = _vm_on(ha, "HV02")
    assert vm["state"] == "Running" and vm["boot_id"] == boot
    [event] = _events(ha, "drain")
    assert event["type"] == "Live" and event["to"] == "HV02"


def test_remove_cluster_group_leaves_a_plain_vm(ha):
    with pytest.raises(CmdletError) as exc:
        run(ha, "HV01", "Remove-ClusterGroup", Name="VM1", Force=SWITCH)
    assert "RemoveResources" in exc.value.message
    run(ha, "HV01", "Remove-ClusterGroup", Name="VM1", RemoveResources=SWITCH, Force=SWITCH)
    c = ha.data["clusters"]["CLUSTER1"]
    assert "VM1" not in c["groups"] and not any(r.get("vm_id") for r in c["resources"].values())
    vm = _vm_on(ha, "HV01")
    assert vm["clustered"] is False and vm["state"] == "Running"
    with pytest.raises(CmdletError) as exc:
        run(ha, "HV01", "Remove-ClusterSharedVolume", Name=next(iter(c["csvs"])))
    assert "in use by virtual machine(s) VM1" in exc.value.message
    with pytest.raises(CmdletError):
        run(ha, "HV01", "Remove-ClusterGroup", Name="Cluster Group", RemoveResources=SWITCH, Force=SWITCH)


def test_vms_are_found_through_the_cluster(ha):
    run(ha, "HV01", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02")
    group = run(ha, "HV01", "Get-ClusterGroup", Name="VM1")
    # the owner is another node: a second hop, so it needs the delegable (CredSSP) session
    with pytest.raises(CmdletError) as exc:
        run(ha, "HV01", "Get-VM", _pipeline=group, _delegate=False)
    assert "authorization policy for the computer 'HV02'" in exc.value.message
    vm = run(ha, "HV01", "Get-VM", _pipeline=group, _delegate=True)[0]
    assert (vm.get_prop("Name"), vm.get_prop("ComputerName")) == ("VM1", "HV02")
    assert run(ha, "HV02", "Get-VM", _pipeline=group, _delegate=False)[0].get_prop("Name") == "VM1"


def test_evicting_a_node_moves_its_roles_away(ha):
    run(ha, "HV02", "Remove-ClusterNode", Name="HV01", Force=SWITCH)
    c = ha.data["clusters"]["CLUSTER1"]
    assert list(c["nodes"]) == ["HV02"] and c["groups"]["VM1"]["owner"] == "HV02"
    assert _vm_on(ha, "HV02")["state"] == "Running"
    assert ha.host("HV01")["files"].get("c:\\clusterstorage\\volume1") is None
    assert ha.host("HV01")["services"]["ClusSvc"]["status"] == "Stopped"


def test_plain_vms_follow_their_automatic_stop_and_start_actions(lab):
    run(lab, "HV02", "New-VM", Name="Plain", Path="C:\\VMs", MemoryStartupBytes=1 * GB, Generation=2)
    run(lab, "HV02", "Start-VM", Name="Plain")
    boot = _vm_on(lab, "HV02", "Plain")["boot_id"]
    lab.restart("HV02")                                  # graceful: saved, restored at boot
    vm = _vm_on(lab, "HV02", "Plain")
    assert vm["state"] == "Running" and vm["boot_id"] == boot
    lab.power_off("HV02")                                # power loss: off, started again at boot
    assert _vm_on(lab, "HV02", "Plain")["state"] == "Off"
    lab.power_on("HV02")
    vm = _vm_on(lab, "HV02", "Plain")
    assert vm["state"] == "Running" and vm["boot_id"] == boot + 1


def test_a_lone_node_restart_saves_its_roles_and_brings_them_back(ha):
    ha.power_off("HV02")
    boot = _vm_on(ha, "HV01")["boot_id"]
    ha.restart("HV01")
    vm = _vm_on(ha, "HV01")
    assert vm["state"] == "Running" and vm["boot_id"] == boot     # saved during the restart, restored
    assert ha.data["clusters"]["CLUSTER1"]["groups"]["VM1"]["owner"] == "HV01"


def test_failover_works_after_the_world_is_reloaded_from_disk(ha, tmp_path):
    from hvsim.world import World

    ha.close()
    reloaded = World(tmp_path / "state", time_factor=0.0)     # a restarted hvsim server: hooks come back
    reloaded.power_off("HV01")
    vm = _vm_on(reloaded, "HV02")
    assert vm is not None and vm["state"] == "Running"
    assert reloaded.data["clusters"]["CLUSTER1"]["groups"]["VM1"]["owner"] == "HV02"


def test_the_vm_resource_offline_action_is_save_and_stop_vm_takes_the_role_offline(ha):
    vm_res = run(ha, "HV01", "Get-ClusterResource", Name="Virtual Machine VM1")
    action = run(ha, "HV01", "Get-ClusterParameter", Name="OfflineAction", _pipeline=vm_res)[0]
    assert action.get_prop("Value") == 1
    # shutting the VM down on its owner leaves it Off and the role Offline (what a provider wants for 'Off')
    run(ha, "HV01", "Stop-VM", Name="VM1", Force=SWITCH)
    assert _vm_on(ha, "HV01")["state"] == "Off"
    assert str(run(ha, "HV02", "Get-ClusterGroup", Name="VM1")[0].get_prop("State")) == "Offline"
    run(ha, "HV01", "Set-VMMemory", VMName="VM1", StartupBytes=4 * GB)   # allowed now: the VM is off
    run(ha, "HV02", "Start-ClusterGroup", Name="VM1")
    assert _vm_on(ha, "HV01")["state"] == "Running" and _vm_on(ha, "HV01")["memory_startup"] == 4 * GB


@pytest.mark.parametrize("leave", ["power_off", "restart"])
def test_the_csv_coordinator_moves_when_its_node_leaves(lab, leave):
    build_csv(lab)

    def csv_owner(host):
        return to_string(run(lab, host, "Get-ClusterSharedVolume")[0].get_prop("OwnerNode"))

    first = csv_owner("HV01")
    other = "HV02" if first == "HV01" else "HV01"
    getattr(lab, leave)(first)
    assert csv_owner(other) == other


def test_a_closed_migration_port_blocks_live_migration_only(ha):
    """hvsim/world/firewall.py: Hyper-V's TCP 6600 rule switched off on the destination."""
    from hvsim.world import firewall

    with ha.transaction():
        firewall.set_enabled(ha.host("HV02"), "VIRT-MIGL-In-TCP-NoScope", False)
    with pytest.raises(CmdletError) as exc:
        run(ha, "HV01", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02", MigrationType="Live")
    assert "failed to establish a connection for a Virtual Machine migration with host 'HV02'" in str(exc.value)
    assert _owner(ha) == "HV01" and _vm_on(ha, "HV01")["state"] == "Running"
    run(ha, "HV01", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02", MigrationType="Quick")
    assert _owner(ha) == "HV02"


def test_a_closed_cluster_port_keeps_a_node_out(lab):
    from hvsim.world import cluster, firewall

    before = cluster.node_problems(lab, "HV02", adding=False)
    assert not any("3343" in p for p in before)
    with lab.transaction():
        firewall.set_enabled(lab.host("HV02"), "FailoverCluster-UDP-3343-In", False)
    [problem] = [p for p in cluster.node_problems(lab, "HV02", adding=False) if p not in before]
    assert "port 3343" in problem and "hv02.hyper.local" in problem


def test_a_stopped_vm_is_moved_not_migrated(ha):
    run(ha, "HV01", "Stop-VM", Name="VM1", Force=True)
    run(ha, "HV01", "Move-ClusterGroup", Name="VM1", Node="HV02")
    [event] = _events(ha, "move")
    assert (event["type"], event["from"], event["to"]) == ("Offline", "HV01", "HV02")
    assert _events(ha, "live_migration") == []


def test_invoke_command_itself_is_not_mutating_its_cmdlets_are(lab):
    from hvsim.cmdlets.registry import lookup

    assert lookup("Invoke-Command").mutating is False
    assert lookup("Get-ClusterGroup").mutating is False and lookup("Move-ClusterGroup").mutating is True
