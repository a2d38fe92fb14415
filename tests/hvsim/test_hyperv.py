"""Hyper-V emulation at the registry level: role checks, switches, VMs, the VM-off rules, files, the
second hop of -ComputerName."""
from __future__ import annotations

import pytest

from hvsim.cmdlets.registry import CmdletError
from hvsim.world import files

from test_cluster_helpers import GB, SWITCH, lab_world, run, run_ctx


@pytest.fixture
def lab(tmp_path):
    return lab_world(tmp_path, disks=False)


def _vm(world, host="HV01", name="VM1"):
    return next(v for v in world.host(host)["hyperv"]["vms"].values() if v["name"] == name)


def _new_vm(world, host="HV01", name="VM1", **extra):
    return run(world, host, "New-VM", Name=name, Path="C:\\VMs", MemoryStartupBytes=2 * GB, Generation=2,
               NewVHDPath=f"C:\\VMs\\{name}\\{name}.vhdx", NewVHDSizeBytes=20 * GB, **extra)[0]


def test_hyper_v_must_be_installed_and_running(lab):
    with lab.transaction() as data:
        data["hosts"]["HV02"]["features"]["Hyper-V"] = {"state": "InstallPending"}
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV02", "Get-VM")
    assert exc.value.message.startswith("Hyper-V encountered an error trying to access an object on computer 'HV02'")
    assert exc.value.error_id == "Unspecified,Microsoft.HyperV.PowerShell.Commands.GetVM"
    assert exc.value.exception_type == "Microsoft.HyperV.PowerShell.VirtualizationException"
    with lab.transaction() as data:
        data["hosts"]["HV02"]["features"]["Hyper-V"] = {"state": "Installed"}
        data["hosts"]["HV02"]["services"]["vmms"]["status"] = "Stopped"
    with pytest.raises(CmdletError):
        run(lab, "HV02", "Get-VMSwitch")


def test_switches(lab):
    sw = run(lab, "HV01", "New-VMSwitch", Name="External", NetAdapterName="Ethernet", AllowManagementOS=True)[0]
    assert str(sw.get_prop("SwitchType")) == "External" and sw.get_prop("AllowManagementOS") is True
    assert sw.get_prop("NetAdapterInterfaceDescription") == "Microsoft Hyper-V Network Adapter"
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "New-VMSwitch", Name="Other", NetAdapterName="Ethernet")
    assert "is already bound to the Microsoft Virtual Switch protocol" in exc.value.message
    internal = run(lab, "HV01", "New-VMSwitch", Name="Lab", SwitchType="Internal")[0]
    assert str(internal.get_prop("SwitchType")) == "Internal"
    assert [s.get_prop("Name") for s in run(lab, "HV01", "Get-VMSwitch")] == ["External", "Lab"]
    assert run(lab, "HV02", "Get-VMSwitch") == []
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV02", "Get-VMSwitch", Name="External")
    assert exc.value.message == 'Hyper-V was unable to find a virtual switch with name "External".'
    run(lab, "HV01", "Remove-VMSwitch", Name="Lab", Force=SWITCH)
    assert [s.get_prop("Name") for s in run(lab, "HV01", "Get-VMSwitch")] == ["External"]


def test_new_vm_writes_its_files_and_reads_back(lab):
    run(lab, "HV01", "New-VMSwitch", Name="External", NetAdapterName="Ethernet")
    vm = _new_vm(lab, SwitchName="External")
    assert str(vm.get_prop("State")) == "Off" and vm.get_prop("Path") == "C:\\VMs\\VM1"
    assert vm.get_prop("ConfigurationLocation") == "C:\\VMs\\VM1"
    assert vm.get_prop("MemoryStartup") == 2 * GB and vm.get_prop("Generation") == 2
    assert vm.get_prop("IsClustered") is False and vm.get_prop("ComputerName") == "HV01"
    vm_id = vm.get_prop("VMId")
    assert files.get(lab.host("HV01"), f"C:\\VMs\\VM1\\Virtual Machines\\{vm_id.upper()}.vmcx") is not None
    vhd = run(lab, "HV01", "Get-VHD", Path="C:\\VMs\\VM1\\VM1.vhdx")[0]
    assert vhd.get_prop("Size") == 20 * GB and vhd.get_prop("FileSize") < vhd.get_prop("Size")
    assert str(vhd.get_prop("VhdType")) == "Dynamic" and str(vhd.get_prop("VhdFormat")) == "VHDX"
    drive = run(lab, "HV01", "Get-VMHardDiskDrive", VMName="VM1")[0]
    assert drive.get_prop("Path") == "C:\\VMs\\VM1\\VM1.vhdx" and str(drive.get_prop("ControllerType")) == "SCSI"
    nic = run(lab, "HV01", "Get-VMNetworkAdapter", VMName="VM1")[0]
    assert nic.get_prop("SwitchName") == "External" and nic.get_prop("Connected") is True
    # Hyper-V keeps names non-unique, but the VHD path is taken
    with pytest.raises(CmdletError) as exc:
        _new_vm(lab)
    assert "The file exists. (0x80070050)" in exc.value.message
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Get-VM", Name="VM9")
    assert exc.value.message == 'Hyper-V was unable to find a virtual machine with name "VM9".'
    assert exc.value.error_id == "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM"
    assert run(lab, "HV01", "Get-VM", Name="VM*")[0].get_prop("Name") == "VM1"


def test_processor_and_memory_changes_need_the_vm_off(lab):
    _new_vm(lab)
    run(lab, "HV01", "Start-VM", Name="VM1")
    assert _vm(lab)["state"] == "Running"
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Set-VM", Name="VM1", ProcessorCount=4)
    assert exc.value.message.startswith("Failed to modify device 'Processor'.\r\n")
    assert exc.value.error_id == "InvalidState,Microsoft.HyperV.PowerShell.Commands.SetVM"
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Set-VMMemory", VMName="VM1", StartupBytes=4 * GB)
    assert exc.value.message.startswith("Failed to modify device 'Memory'.")
    with pytest.raises(CmdletError):
        run(lab, "HV01", "Set-VM", Name="VM1", DynamicMemory=SWITCH)
    assert _vm(lab)["processor_count"] == 1 and _vm(lab)["memory_startup"] == 2 * GB
    run(lab, "HV01", "Stop-VM", Name="VM1", Force=SWITCH)
    run(lab, "HV01", "Set-VM", Name="VM1", ProcessorCount=4, MemoryStartupBytes=4 * GB)
    run(lab, "HV01", "Set-VMProcessor", VMName="VM1", Count=2)
    out = run(lab, "HV01", "Set-VMMemory", VMName="VM1", DynamicMemoryEnabled=True, Passthru=SWITCH)
    assert out[0].get_prop("DynamicMemoryEnabled") is True
    vm = run(lab, "HV01", "Get-VM", Name="VM1")[0]
    assert vm.get_prop("ProcessorCount") == 2 and vm.get_prop("MemoryStartup") == 4 * GB
    with pytest.raises(CmdletError):
        run(lab, "HV01", "Set-VM", Name="VM1", MemoryStartupBytes=3 * 1000 * 1000)


def test_start_stop_save_and_restore(lab):
    _new_vm(lab)
    run(lab, "HV01", "Start-VM", Name="VM1")
    boot = _vm(lab)["boot_id"]
    run(lab, "HV01", "Stop-VM", Name="VM1", Save=SWITCH)
    assert str(run(lab, "HV01", "Get-VM", Name="VM1")[0].get_prop("State")) == "Saved"
    run(lab, "HV01", "Start-VM", Name="VM1")
    assert _vm(lab)["state"] == "Running" and _vm(lab)["boot_id"] == boot      # restored, not rebooted
    out, ctx = run_ctx(lab, "HV01", "Start-VM", Name="VM1")
    assert ctx.warnings == ["The virtual machine is already in the specified state."]
    run(lab, "HV01", "Stop-VM", Name="VM1", TurnOff=SWITCH)
    assert _vm(lab)["state"] == "Off"
    run(lab, "HV01", "Start-VM", Name="VM1")
    assert _vm(lab)["boot_id"] == boot + 1
    # VMs are piped by object too
    run(lab, "HV01", "Stop-VM", Force=SWITCH, _pipeline=run(lab, "HV01", "Get-VM", Name="VM1"))
    assert _vm(lab)["state"] == "Off"


def test_remove_vm_keeps_the_virtual_disk(lab):
    vm = _new_vm(lab)
    run(lab, "HV01", "Start-VM", Name="VM1")
    run(lab, "HV01", "Remove-VM", Name="VM1", Force=SWITCH)
    assert lab.host("HV01")["hyperv"]["vms"] == {}
    assert files.get(lab.host("HV01"), f"C:\\VMs\\VM1\\Virtual Machines\\{vm.get_prop('VMId').upper()}.vmcx") is None
    assert files.get(lab.host("HV01"), "C:\\VMs\\VM1\\VM1.vhdx") is not None


def test_computer_name_is_a_second_hop(lab):
    _new_vm(lab, host="HV02", name="Remote")
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Get-VM", ComputerName=["HV02"], _delegate=False)
    assert exc.value.message == ("You do not have the required permission to complete this task. Contact the "
                                 "administrator of the authorization policy for the computer 'HV02'.")
    vms = run(lab, "HV01", "Get-VM", ComputerName=["HV02"], _delegate=True)
    assert [(v.get_prop("Name"), v.get_prop("ComputerName")) for v in vms] == [("Remote", "HV02")]
    # the local host needs no delegation
    assert run(lab, "HV02", "Get-VM", ComputerName=["HV02"], _delegate=False)


def test_connect_network_adapter(lab):
    _new_vm(lab)
    assert run(lab, "HV01", "Get-VMNetworkAdapter", VMName="VM1")[0].get_prop("Connected") is False
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Connect-VMNetworkAdapter", VMName="VM1", SwitchName="External")
    assert exc.value.message == 'Hyper-V was unable to find a virtual switch with name "External".'
    run(lab, "HV01", "New-VMSwitch", Name="External", NetAdapterName="Ethernet")
    run(lab, "HV01", "Connect-VMNetworkAdapter", VMName="VM1", SwitchName="External")
    nic = run(lab, "HV01", "Get-VMNetworkAdapter", VMName="VM1")[0]
    assert nic.get_prop("SwitchName") == "External" and nic.get_prop("Connected") is True
    run(lab, "HV01", "Remove-VMSwitch", Name="External", Force=SWITCH)
    assert run(lab, "HV01", "Get-VMNetworkAdapter", VMName="VM1")[0].get_prop("Connected") is False


def test_without_the_management_tools_the_cmdlets_do_not_exist(tmp_path):
    world = lab_world(tmp_path, storage=False)
    with world.transaction() as data:
        data["hosts"]["HV02"]["features"]["Hyper-V-PowerShell"] = {"state": "Available"}
        data["hosts"]["HV02"]["features"]["RSAT-Clustering-PowerShell"] = {"state": "Available"}
    for command in ("Get-VM", "Get-ClusterNode"):
        with pytest.raises(CmdletError) as exc:
            run(world, "HV02", command)
        assert exc.value.message.startswith(f"The term '{command}' is not recognized as the name of a cmdlet")
        assert exc.value.exception_type == "System.Management.Automation.CommandNotFoundException"
    assert run(world, "HV01", "Get-VM") == []


def test_a_missing_module_fails_exactly_like_an_unknown_command(tmp_path):
    # Windows never ran a cmdlet here, so the id is the bare CommandNotFoundException (no ",<type>"),
    # and CategoryInfo names no activity: the same record as for a command that exists nowhere
    from hvsim.cmdlets.registry import CmdletContext, Session
    from hvsim.powershell import execute

    world = lab_world(tmp_path, storage=False)
    with world.transaction() as data:
        data["hosts"]["HV02"]["features"]["Hyper-V-PowerShell"] = {"state": "Available"}
        data["hosts"]["HV02"]["features"]["RSAT-Clustering-PowerShell"] = {"state": "Available"}
    with pytest.raises(CmdletError) as exc:
        run(world, "HV02", "Get-ClusterNode")
    assert exc.value.error_id == "CommandNotFoundException"
    ctx = CmdletContext(world=world, session=Session(host="HV02", user="HYPER\\Administrator", auth="ntlm",
                                                     can_delegate=False))
    views = []
    for command in ("Get-VM", "Get-ClusterNode", "Get-NoSuchThing"):      # the last two: same length
        result = execute(f"{command} -Name x\n", ctx, None)
        [record] = result.errors
        assert record.fully_qualified_error_id == "CommandNotFoundException"
        views.append(record.default_view().replace(command, "<cmd>"))
    assert views[1] == views[2]
    assert "(<cmd>:String) [], CommandNotFoundException\r\n" in views[0]
