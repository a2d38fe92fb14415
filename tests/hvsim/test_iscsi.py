"""IscsiTarget and iSCSI initiator cmdlets at the registry level, asserting on the world."""
from __future__ import annotations

import pytest

from hvsim.cmdlets.registry import CmdletError
from hvsim.world import files
from hvsim.world import storage as st

from test_storage_helpers import SWITCH, TARGET_IQN, build_lab_storage, make_world, run


def _iscsi_disks(world, host):
    return [o for o in run(world, host, "Get-Disk") if o.get_prop("BusType") == "iSCSI"]


def test_lab_sequence_presents_both_luns_to_both_nodes(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)

    vdisks = {o.get_prop("Path"): o for o in run(world, "DC01", "Get-IscsiVirtualDisk")}
    serials = {o.get_prop("SerialNumber") for o in vdisks.values()}
    assert len(serials) == 2
    assert str(vdisks["C:\\iSCSIVirtualDisks\\quorum.vhdx"].get_prop("DiskType")) == "Dynamic"
    assert str(vdisks["C:\\iSCSIVirtualDisks\\quorum.vhdx"].get_prop("Status")) == "Connected"

    target = run(world, "DC01", "Get-IscsiServerTarget", TargetName="Cluster")[0]
    assert target.get_prop("TargetIqn") == TARGET_IQN
    assert [m.get_prop("Lun") for m in target.get_prop("LunMappings")] == [0, 1]
    assert [i.get_prop("Value") for i in target.get_prop("InitiatorIds")] == ["hv01.hyper.local", "hv02.hyper.local"]
    assert str(target.get_prop("Status")) == "Connected"

    hv1, hv2 = _iscsi_disks(world, "HV01"), _iscsi_disks(world, "HV02")
    assert {d.get_prop("SerialNumber") for d in hv1} == serials == {d.get_prop("SerialNumber") for d in hv2}
    assert {d.get_prop("UniqueId") for d in hv1} == {d.get_prop("UniqueId") for d in hv2}
    for d in hv1 + hv2:
        # SAN policy OfflineShared: a new LUN arrives offline and read-only on every node
        assert d.get_prop("IsOffline") is True and d.get_prop("IsReadOnly") is True
        assert d.get_prop("OfflineReason") == "Policy" and d.get_prop("PartitionStyle") == "RAW"
        assert d.get_prop("Number") >= 1
    sizes = sorted(d.get_prop("Size") for d in hv1)
    assert sizes == [1 << 30, 40 << 30]

    sessions = run(world, "HV01", "Get-IscsiSession")
    assert len(sessions) == 1 and sessions[0].get_prop("IsPersistent") is True
    assert sessions[0].get_prop("TargetNodeAddress") == TARGET_IQN
    assert sessions[0].get_prop("InitiatorNodeAddress") == "iqn.1991-05.com.microsoft:hv01.hyper.local"
    # the VHDX files exist on the target server
    with world.read():
        assert files.exists(world.host("DC01"), "C:\\iSCSIVirtualDisks\\storage.vhdx")


@pytest.mark.parametrize("initiator_id", [
    "IQN:iqn.1991-05.com.microsoft:hv01.hyper.local",
    "DNSName:hv01.hyper.local",
    "IPAddress:192.168.20.11",
    "MACAddress:{mac}",
])
def test_initiator_id_forms_admit_only_that_host(tmp_path, initiator_id):
    world = make_world(tmp_path)
    with world.read():
        mac = world.host("HV01")["nics"][0]["mac"]
    run(world, "DC01", "New-IscsiServerTarget", TargetName="Cluster", InitiatorIds=[initiator_id.format(mac=mac)])
    for node in ("HV01", "HV02"):
        run(world, node, "New-IscsiTargetPortal", TargetPortalAddress="192.168.10.10")
    assert [t.get_prop("NodeAddress") for t in run(world, "HV01", "Get-IscsiTarget")] == [TARGET_IQN]
    assert run(world, "HV02", "Get-IscsiTarget") == []
    with pytest.raises(CmdletError) as exc:
        run(world, "HV02", "Connect-IscsiTarget", NodeAddress=TARGET_IQN)
    assert exc.value.message == "The target name is not found or is marked as hidden from login. "
    assert exc.value.error_id == "HRESULT 0xefff0029,Connect-IscsiTarget"
    run(world, "HV01", "Connect-IscsiTarget", NodeAddress=TARGET_IQN)
    with world.read():
        assert [s["target_iqn"] for s in world.host("HV01")["iscsi_initiator"]["sessions"]] == [TARGET_IQN]
        assert world.host("HV02")["iscsi_initiator"]["sessions"] == []


def test_invalid_initiator_id_is_a_binding_error(tmp_path):
    world = make_world(tmp_path)
    with pytest.raises(CmdletError) as exc:
        run(world, "DC01", "New-IscsiServerTarget", TargetName="T1", InitiatorIds=["hv01.hyper.local"])
    assert exc.value.message.startswith(
        "Cannot bind parameter 'InitiatorIds'. Cannot convert value \"hv01.hyper.local\" to type "
        "\"Microsoft.Iscsi.Target.Commands.InitiatorId\".")
    assert exc.value.error_id.startswith("CannotConvertArgumentNoMessage,")
    with pytest.raises(CmdletError):
        run(world, "DC01", "New-IscsiServerTarget", TargetName="T1", InitiatorIds=["IPAddress:300.1.1.1"])
    with world.read():
        assert world.host("DC01")["iscsi_target_server"]["targets"] == {}


def test_authorization_failure_after_initiator_removed_and_cache_refresh(tmp_path):
    world = make_world(tmp_path)
    run(world, "DC01", "New-IscsiServerTarget", TargetName="Cluster", InitiatorIds=["DNSName:hv01.hyper.local"])
    run(world, "HV01", "New-IscsiTargetPortal", TargetPortalAddress="dc01")
    run(world, "DC01", "Set-IscsiServerTarget", TargetName="Cluster", InitiatorIds=["DNSName:hv02.hyper.local"])
    # discovery is cached: the initiator still lists the target, but the login is refused
    assert len(run(world, "HV01", "Get-IscsiTarget")) == 1
    with pytest.raises(CmdletError) as exc:
        run(world, "HV01", "Connect-IscsiTarget", NodeAddress=TARGET_IQN)
    assert exc.value.message == "Authorization Failure."
    assert exc.value.error_id == "HRESULT 0xefff000a,Connect-IscsiTarget"
    run(world, "HV01", "Update-IscsiTargetPortal", TargetPortalAddress="dc01")
    assert run(world, "HV01", "Get-IscsiTarget") == []
    # HV02 added later to the list only sees the target after a refresh of its own portal
    run(world, "HV02", "New-IscsiTargetPortal", TargetPortalAddress="dc01")
    assert len(run(world, "HV02", "Get-IscsiTarget")) == 1


def test_connect_twice_and_service_stopped_errors(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    with pytest.raises(CmdletError) as exc:
        run(world, "HV01", "Connect-IscsiTarget", NodeAddress=TARGET_IQN)
    assert exc.value.message == "The target has already been logged in via an iSCSI session."
    with world.transaction() as data:
        data["hosts"]["HV02"]["services"]["MSiSCSI"]["status"] = "Stopped"
    with pytest.raises(CmdletError) as exc:
        run(world, "HV02", "Get-IscsiTarget")
    assert exc.value.message == "The Microsoft iSCSI initiator service has not been started."
    assert exc.value.error_id == "HRESULT 0xefff003e,Get-IscsiTarget"


def test_persistent_sessions_survive_restart_and_disks_keep_identity(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    before = {d.get_prop("UniqueId"): d for d in _iscsi_disks(world, "HV02")}
    # HV02 also has a non-persistent session to a second target: it does not come back
    run(world, "DC01", "New-IscsiServerTarget", TargetName="Scratch", InitiatorIds=["IQN:*"])
    run(world, "DC01", "New-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\scratch.vhdx", SizeBytes=1 << 30)
    run(world, "DC01", "Add-IscsiVirtualDiskTargetMapping", TargetName="Scratch",
        Path="C:\\iSCSIVirtualDisks\\scratch.vhdx")
    run(world, "HV02", "Update-IscsiTargetPortal", TargetPortalAddress="dc01.hyper.local")
    run(world, "HV02", "Connect-IscsiTarget", NodeAddress="iqn.1991-05.com.microsoft:dc01-scratch-target")
    assert len(_iscsi_disks(world, "HV02")) == 3
    uid = next(iter(before))
    run(world, "HV02", "Set-Disk", UniqueId=uid, IsOffline=False)

    world.restart("HV02", "test")

    sessions = run(world, "HV02", "Get-IscsiSession")
    assert [s.get_prop("TargetNodeAddress") for s in sessions] == [TARGET_IQN]
    after = {d.get_prop("UniqueId"): d for d in _iscsi_disks(world, "HV02")}
    assert set(after) == set(before)
    assert after[uid].get_prop("IsOffline") is False  # the node remembers its own online setting
    assert sorted(d.get_prop("Number") for d in after.values()) == [1, 2]
    with world.read():
        audit = [r for r in world.audit_records("boot") if r["host"] == "HV02"]
    assert audit


def test_disconnect_removes_disks_and_persistent_login(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    run(world, "HV01", "Disconnect-IscsiTarget", NodeAddress=TARGET_IQN, Confirm=False)
    assert _iscsi_disks(world, "HV01") == []
    assert len(_iscsi_disks(world, "HV02")) == 2
    world.restart("HV01", "test")
    assert run(world, "HV01", "Get-IscsiSession") == []
    assert _iscsi_disks(world, "HV01") == []


def test_target_server_module_needs_the_role_service(tmp_path):
    world = make_world(tmp_path, target_server=False)
    with pytest.raises(CmdletError) as exc:
        run(world, "DC01", "Get-IscsiServerTarget")
    assert exc.value.message.startswith("The term 'Get-IscsiServerTarget' is not recognized as the name of a cmdlet")
    assert exc.value.exception_type == "System.Management.Automation.CommandNotFoundException"
    with world.transaction() as data:
        data["hosts"]["DC01"]["features"]["FS-iSCSITarget-Server"] = {"state": "Installed"}
        data["hosts"]["DC01"]["services"]["WinTarget"] = {"display_name": "x", "status": "Stopped",
                                                          "start_type": "Automatic"}
    with pytest.raises(CmdletError) as exc:
        run(world, "DC01", "Get-IscsiServerTarget")
    assert exc.value.exception_type == "Microsoft.Iscsi.Target.Commands.IscsiCmdException"
    assert "WinTarget" in exc.value.message


def test_virtual_disk_paths_must_be_absolute(tmp_path):
    world = make_world(tmp_path)
    for command, extra in (("New-IscsiVirtualDisk", {"SizeBytes": 1 << 30}), ("Import-IscsiVirtualDisk", {})):
        with pytest.raises(CmdletError) as exc:
            run(world, "DC01", command, Path="disks\\x.vhdx", **extra)
        assert exc.value.message == "The path 'disks\\x.vhdx' is not valid. Specify an absolute path.", command
        assert exc.value.category == "InvalidArgument"


def test_virtual_disk_files_folder_fixed_remove_and_resize(tmp_path):
    world = make_world(tmp_path)
    with pytest.raises(CmdletError) as exc:
        run(world, "DC01", "New-IscsiVirtualDisk", Path="D:\\Nowhere\\x.vhdx", SizeBytes=1 << 30)
    assert exc.value.message == "The system cannot find the path specified."
    vd = run(world, "DC01", "New-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\f.vhdx", SizeBytes=2 << 30,
             UseFixed=SWITCH)[0]
    assert str(vd.get_prop("DiskType")) == "Fixed"
    with world.read():
        assert files.get(world.host("DC01"), "C:\\iSCSIVirtualDisks\\f.vhdx")["size"] == 2 << 30
    with pytest.raises(CmdletError) as exc:  # the file exists now
        run(world, "DC01", "New-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\f.vhdx", SizeBytes=1 << 30)
    serial = vd.get_prop("SerialNumber")
    assert run(world, "DC01", "Get-IscsiVirtualDisk", Path="c:\\iscsivirtualdisks\\F.vhdx")[0] \
        .get_prop("SerialNumber") == serial

    with pytest.raises(CmdletError) as exc:
        run(world, "DC01", "Resize-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\f.vhdx", SizeBytes=1 << 30)
    assert exc.value.exception_type == "Microsoft.Iscsi.Target.Commands.IscsiCmdException"
    assert exc.value.error_id == "IscsiCmdException,Microsoft.Iscsi.Target.Commands.ResizeIscsiVirtualDiskCommand"
    out = run(world, "DC01", "Resize-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\f.vhdx", SizeBytes=3 << 30,
              PassThru=SWITCH)
    assert out[0].get_prop("Size") == 3 << 30 and out[0].get_prop("SerialNumber") == serial

    run(world, "DC01", "Remove-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\f.vhdx")
    assert run(world, "DC01", "Get-IscsiVirtualDisk") == []
    with world.read():  # Remove-IscsiVirtualDisk keeps the VHDX file
        assert files.exists(world.host("DC01"), "C:\\iSCSIVirtualDisks\\f.vhdx")
    with pytest.raises(CmdletError) as exc:
        run(world, "DC01", "Get-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\f.vhdx")
    assert exc.value.error_id == "IscsiCmdException,Microsoft.Iscsi.Target.Commands.GetIscsiVirtualDiskCommand"


def test_initiators_see_a_grown_disk_after_a_rescan_or_restart(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    run(world, "DC01", "Resize-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\quorum.vhdx", SizeBytes=2 << 30)
    # documented: "an initiator will not automatically see the resized virtual disk"
    for node in ("HV01", "HV02"):
        assert sorted(d.get_prop("Size") for d in _iscsi_disks(world, node)) == [1 << 30, 40 << 30]
    run(world, "HV01", "Update-HostStorageCache")
    world.restart("HV02", "test")
    for node in ("HV01", "HV02"):
        assert sorted(d.get_prop("Size") for d in _iscsi_disks(world, node)) == [2 << 30, 40 << 30]


def test_a_partition_grows_only_after_a_rescan_and_a_resize(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    disk = next(d for d in _iscsi_disks(world, "HV01") if d.get_prop("Size") == 1 << 30)
    n = disk.get_prop("Number")
    run(world, "HV01", "Set-Disk", Number=n, IsOffline=False)
    run(world, "HV01", "Set-Disk", Number=n, IsReadOnly=False)
    run(world, "HV01", "Initialize-Disk", Number=n, PartitionStyle="GPT")
    part = run(world, "HV01", "New-Partition", DiskNumber=n, UseMaximumSize=SWITCH)[0]
    run(world, "HV01", "Format-Volume", FileSystem="NTFS", Confirm=False, _pipeline=[part])
    number = part.get_prop("PartitionNumber")
    first = part.get_prop("Size")
    assert first == (1 << 30) - 17 * 1024 ** 2          # 16 MiB in (MSR), 1 MiB kept at the end
    supported = run(world, "HV01", "Get-PartitionSupportedSize", DiskNumber=n, PartitionNumber=number)[0]
    assert supported.get_prop("SizeMax") == first
    with pytest.raises(CmdletError) as exc:             # nothing to gain: Windows' "Size Not Supported"
        run(world, "HV01", "Resize-Partition", DiskNumber=n, PartitionNumber=number, Size=first)
    assert exc.value.error_id == "StorageWMI 4097,Resize-Partition"
    assert "already the requested size" in exc.value.message
    run(world, "DC01", "Resize-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\quorum.vhdx", SizeBytes=2 << 30)
    # before the rescan the host offers no new space
    supported = run(world, "HV01", "Get-PartitionSupportedSize", DiskNumber=n, PartitionNumber=number)[0]
    assert supported.get_prop("SizeMax") == first
    with pytest.raises(CmdletError) as exc:
        run(world, "HV01", "Resize-Partition", DiskNumber=n, PartitionNumber=number, Size=first + (1 << 30))
    assert exc.value.error_id == "StorageWMI 40000,Resize-Partition"
    run(world, "HV01", "Update-HostStorageCache")
    supported = run(world, "HV01", "Get-PartitionSupportedSize", DiskNumber=n, PartitionNumber=number)[0]
    assert supported.get_prop("SizeMax") == first + (1 << 30)
    assert run(world, "HV01", "Get-Partition", DiskNumber=n, PartitionNumber=number)[0].get_prop("Size") == first
    run(world, "HV01", "Resize-Partition", DiskNumber=n, PartitionNumber=number, Size=supported.get_prop("SizeMax"))
    grown = run(world, "HV01", "Get-Partition", DiskNumber=n, PartitionNumber=number)[0]
    assert grown.get_prop("Size") == first + (1 << 30)
    volume = run(world, "HV01", "Get-Volume", _pipeline=[grown])[0]
    assert volume.get_prop("Size") > 1 << 30


def test_mapped_virtual_disk_cannot_be_removed_and_target_removal_drops_sessions(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    with pytest.raises(CmdletError):
        run(world, "DC01", "Remove-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\quorum.vhdx")
    run(world, "DC01", "Remove-IscsiVirtualDiskTargetMapping", TargetName="Cluster",
        Path="C:\\iSCSIVirtualDisks\\quorum.vhdx")
    assert len(_iscsi_disks(world, "HV01")) == 1
    run(world, "DC01", "Remove-IscsiServerTarget", TargetName="Cluster")
    assert _iscsi_disks(world, "HV01") == [] and run(world, "HV02", "Get-IscsiSession") == []
    with pytest.raises(CmdletError) as exc:
        run(world, "DC01", "Get-IscsiServerTarget", TargetName="Cluster")
    assert exc.value.exception_type == "Microsoft.Iscsi.Target.Commands.IscsiCmdException"


def test_portal_to_unknown_host_fails_and_nothing_is_recorded(tmp_path):
    world = make_world(tmp_path)
    with pytest.raises(CmdletError) as exc:
        run(world, "HV01", "New-IscsiTargetPortal", TargetPortalAddress="nas01.hyper.local")
    assert exc.value.error_id == "HRESULT 0xefff0003,New-IscsiTargetPortal"
    assert run(world, "HV01", "Get-IscsiTargetPortal") == []
    portal = run(world, "HV01", "New-IscsiTargetPortal", TargetPortalAddress="dc01.hyper.local")[0]
    assert portal.get_prop("TargetPortalPortNumber") == 3260
    assert [p.get_prop("TargetPortalAddress") for p in run(world, "HV01", "Get-IscsiTargetPortal")] == \
        ["dc01.hyper.local"]
    ports = run(world, "HV01", "Get-InitiatorPort")
    assert ports[0].get_prop("NodeAddress") == st.initiator_iqn(world, "HV01")


def test_pipelines_between_iscsi_cmdlets(tmp_path):
    world = make_world(tmp_path)
    run(world, "DC01", "New-IscsiServerTarget", TargetName="Cluster", InitiatorIds=["IQN:*"])
    portal = run(world, "HV01", "New-IscsiTargetPortal", TargetPortalAddress="DC01")
    targets = run(world, "HV01", "Get-IscsiTarget", _pipeline=portal)
    assert [t.get_prop("NodeAddress") for t in targets] == [TARGET_IQN]
    # Get-InitiatorPort | Get-IscsiTarget: the host's one port sees every target
    assert [t.get_prop("NodeAddress") for t in run(world, "HV01", "Get-IscsiTarget",
                                                   _pipeline=run(world, "HV01", "Get-InitiatorPort"))] == [TARGET_IQN]
    # Get-IscsiTarget | Connect-IscsiTarget -IsPersistent $true
    sessions = run(world, "HV01", "Connect-IscsiTarget", IsPersistent=True, _pipeline=targets)
    # an object of another class (here an MSFT_Disk) is refused, not read as "every target"
    with pytest.raises(CmdletError) as exc:
        run(world, "HV01", "Get-IscsiTarget", _pipeline=run(world, "HV01", "Get-Disk")[:1])
    assert exc.value.error_id.startswith("InputObjectNotBound")
    assert sessions[0].get_prop("IsPersistent") is True
    # Get-IscsiSession | Unregister-IscsiSession: the login no longer survives a restart
    run(world, "HV01", "Unregister-IscsiSession", _pipeline=run(world, "HV01", "Get-IscsiSession"))
    with world.read():
        assert world.host("HV01")["iscsi_initiator"]["persistent"] == []
    world.restart("HV01", "test")
    assert run(world, "HV01", "Get-IscsiSession") == []


def test_computer_name_addresses_the_target_server_remotely(tmp_path):
    world = make_world(tmp_path)
    run(world, "HV01", "New-IscsiServerTarget", TargetName="Remote", ComputerName="dc01.hyper.local")
    names = [t.get_prop("TargetName") for t in run(world, "DC01", "Get-IscsiServerTarget", ComputerName="LOCALHOST")]
    assert names == ["Remote"]
    assert run(world, "HV01", "Get-IscsiServerTarget", ComputerName="DC01")[0].get_prop("ComputerName") == \
        "DC01.hyper.local"


def test_disconnect_refused_while_a_volume_is_online(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    disk = next(d for d in _iscsi_disks(world, "HV01") if d.get_prop("Size") == 1 << 30)
    uid = disk.get_prop("UniqueId")
    run(world, "HV01", "Set-Disk", UniqueId=uid, IsOffline=False)
    run(world, "HV01", "Set-Disk", UniqueId=uid, IsReadOnly=False)
    run(world, "HV01", "Initialize-Disk", UniqueId=uid)
    part = run(world, "HV01", "New-Partition", DiskId=disk.get_prop("Path"), UseMaximumSize=SWITCH)
    run(world, "HV01", "Format-Volume", FileSystem="NTFS", Confirm=False, _pipeline=part)
    with pytest.raises(CmdletError) as exc:
        run(world, "HV01", "Disconnect-IscsiTarget", NodeAddress=TARGET_IQN, Confirm=False)
    assert exc.value.error_id == "HRESULT 0xefff0040,Disconnect-IscsiTarget"
    assert len(run(world, "HV01", "Get-IscsiSession")) == 1
    run(world, "HV01", "Set-Disk", UniqueId=uid, IsOffline=True)
    run(world, "HV01", "Disconnect-IscsiTarget", NodeAddress=TARGET_IQN, Confirm=False)
    assert run(world, "HV01", "Get-IscsiSession") == []


def test_persistent_logins_wait_for_the_initiator_service(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    run(world, "HV01", "Set-Service", Name="MSiSCSI", StartupType="Manual")
    world.restart("HV01", "test")
    with world.read():
        assert world.host("HV01")["iscsi_initiator"]["sessions"] == []
    assert _iscsi_disks(world, "HV01") == []
    run(world, "HV01", "Start-Service", Name="MSiSCSI")
    # the running initiator logs in to its persistent targets again
    assert len(_iscsi_disks(world, "HV01")) == 2
    assert [s.get_prop("TargetNodeAddress") for s in run(world, "HV01", "Get-IscsiSession")] == [TARGET_IQN]


def test_import_registers_a_kept_vhdx_again_with_its_size_and_data(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    path = "C:\\iSCSIVirtualDisks\\storage.vhdx"
    old = run(world, "DC01", "Get-IscsiVirtualDisk", Path=path)[0]
    # the LUN gets a volume on HV01 (the data lives in the .vhdx)
    disk = next(d for d in _iscsi_disks(world, "HV01") if d.get_prop("SerialNumber") == old.get_prop("SerialNumber"))
    n = disk.get_prop("Number")
    run(world, "HV01", "Set-Disk", Number=n, IsOffline=False)
    run(world, "HV01", "Set-Disk", Number=n, IsReadOnly=False)
    run(world, "HV01", "Initialize-Disk", Number=n, PartitionStyle="GPT")
    part = run(world, "HV01", "New-Partition", DiskNumber=n, UseMaximumSize=SWITCH)[0]
    run(world, "HV01", "Format-Volume", FileSystem="NTFS", NewFileSystemLabel="VMs", Confirm=False, _pipeline=[part])
    run(world, "DC01", "Resize-IscsiVirtualDisk", Path=path, SizeBytes=50 << 30)
    # New-IscsiVirtualDisk refuses the kept file; Import-IscsiVirtualDisk takes it
    run(world, "DC01", "Remove-IscsiVirtualDiskTargetMapping", TargetName="Cluster", Path=path)
    run(world, "DC01", "Remove-IscsiVirtualDisk", Path=path)
    assert files.get(world.host("DC01"), path) is not None
    with pytest.raises(CmdletError) as exc:
        run(world, "DC01", "New-IscsiVirtualDisk", Path=path, SizeBytes=40 << 30)
    assert exc.value.category == "ResourceExists"
    assert run(world, "DC01", "Import-IscsiVirtualDisk", Path=path) == []          # no -PassThru: no output
    new = run(world, "DC01", "Get-IscsiVirtualDisk", Path=path)[0]
    assert new.get_prop("Size") == 50 << 30 and str(new.get_prop("DiskType")) == "Dynamic"
    assert new.get_prop("SerialNumber") != old.get_prop("SerialNumber")             # a new virtual disk object
    assert new.get_prop("VirtualDiskIndex") > old.get_prop("VirtualDiskIndex")
    assert str(new.get_prop("Status")) == "NotConnected"                           # not mapped yet
    # mapped again, the nodes see the LUN (as a new disk) with its partitions and volume
    run(world, "DC01", "Add-IscsiVirtualDiskTargetMapping", TargetName="Cluster", Path=path)
    back = next(d for d in _iscsi_disks(world, "HV02") if d.get_prop("SerialNumber") == new.get_prop("SerialNumber"))
    assert str(back.get_prop("PartitionStyle")) == "GPT" and back.get_prop("Size") == 50 << 30
    parts = run(world, "HV02", "Get-Partition", DiskNumber=back.get_prop("Number"))
    assert [str(x.get_prop("Type")) for x in parts] == ["Reserved", "Basic"]
    with world.read():
        layout = st.lun_layout(world, back.get_prop("UniqueId"))
    assert [x["volume"]["label"] for x in layout["partitions"] if x["volume"]] == ["VMs"]


def test_import_needs_an_unregistered_virtual_disk_file(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    impl = "Microsoft.Iscsi.Target.Commands.ImportIscsiVirtualDiskCommand"
    cases = [("C:\\iSCSIVirtualDisks\\quorum.vhdx", "ResourceExists"),           # registered already
             ("C:\\iSCSIVirtualDisks\\gone.vhdx", "ObjectNotFound"),
             ("C:\\iSCSIVirtualDisks\\notes.vhdx", "InvalidData")]               # a file, not a VHD
    with world.transaction():
        files.put_file(world.host("DC01"), "C:\\iSCSIVirtualDisks\\notes.vhdx", 100)
    for path, category in cases:
        with pytest.raises(CmdletError) as exc:
            run(world, "DC01", "Import-IscsiVirtualDisk", path)                    # -Path is position 0
        assert (exc.value.category, exc.value.error_id) == (category, f"IscsiCmdException,{impl}"), path
    # a kept file from New-IscsiVirtualDisk -UseFixed comes back Fixed, with -Description and -PassThru
    run(world, "DC01", "New-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\fixed.vhdx", SizeBytes=64 << 20,
        UseFixed=SWITCH)
    run(world, "DC01", "Remove-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\fixed.vhdx")
    [obj] = run(world, "DC01", "Import-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\fixed.vhdx",
                Description="kept", PassThru=SWITCH)
    assert (str(obj.get_prop("DiskType")), obj.get_prop("Size"), obj.get_prop("Description")) == ("Fixed", 64 << 20, "kept")
