"""Storage cmdlets (disks, partitions, volumes) on iSCSI LUNs at the registry level."""
from __future__ import annotations

import pytest

from hvsim.cmdlets.registry import CmdletError
from hvsim.world import storage as st

from test_storage_helpers import SWITCH, build_lab_storage, make_world, run


def _disk(world, host, size):
    return next(d for d in run(world, host, "Get-Disk") if d.get_prop("Size") == size)


@pytest.fixture
def lab(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    return world


def test_prepare_storage_disk_on_one_node_is_seen_on_the_other(lab):
    disk = _disk(lab, "HV01", 40 << 30)
    n = disk.get_prop("Number")
    run(lab, "HV01", "Set-Disk", Number=n, IsOffline=False)
    run(lab, "HV01", "Set-Disk", Number=n, IsReadOnly=False)
    # Get-Disk -Number n | Initialize-Disk -PartitionStyle GPT (pipeline binds the MSFT_Disk by value)
    piped = run(lab, "HV01", "Get-Disk", Number=n)
    run(lab, "HV01", "Initialize-Disk", PartitionStyle="GPT", _pipeline=piped)
    part = run(lab, "HV01", "New-Partition", DiskNumber=n, UseMaximumSize=SWITCH, AssignDriveLetter=SWITCH)[0]
    letter = part.get_prop("DriveLetter")
    assert letter == "D" and part.get_prop("Type") == "Basic" and part.get_prop("PartitionNumber") == 2
    vol = run(lab, "HV01", "Format-Volume", FileSystem="NTFS", NewFileSystemLabel="VMs", Confirm=False,
              _pipeline=[part])[0]
    assert vol.get_prop("FileSystem") == "NTFS" and vol.get_prop("FileSystemLabel") == "VMs"
    assert vol.get_prop("DriveLetter") == "D"
    assert [v.get_prop("FileSystemLabel") for v in run(lab, "HV01", "Get-Volume", DriveLetter="D")] == ["VMs"]

    after = run(lab, "HV01", "Get-Disk", Number=n)[0]
    assert after.get_prop("PartitionStyle") == "GPT" and after.get_prop("IsOffline") is False
    guid = after.get_prop("Guid")
    assert guid and guid == st.disk_guid(lab, after.get_prop("UniqueId"))

    # HV02 shares the LUN's data: it sees the partition table, but its own copy stays offline
    other = run(lab, "HV02", "Get-Disk", UniqueId=after.get_prop("UniqueId"))[0]
    assert other.get_prop("PartitionStyle") == "GPT" and other.get_prop("Guid") == guid
    assert other.get_prop("IsOffline") is True
    parts = run(lab, "HV02", "Get-Partition", DiskNumber=other.get_prop("Number"))
    assert [p.get_prop("Type") for p in parts] == ["Reserved", "Basic"]
    assert all(v.get_prop("FileSystemLabel") != "VMs" for v in run(lab, "HV02", "Get-Volume"))


def test_initialize_twice_fails_with_the_storage_error(lab):
    n = _disk(lab, "HV01", 1 << 30).get_prop("Number")
    run(lab, "HV01", "Set-Disk", Number=n, IsOffline=False)
    run(lab, "HV01", "Set-Disk", Number=n, IsReadOnly=False)
    run(lab, "HV01", "Initialize-Disk", Number=n, PartitionStyle="GPT")
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Initialize-Disk", Number=n, PartitionStyle="GPT")
    assert exc.value.message.startswith("The disk has already been initialized.")
    assert exc.value.error_id == "StorageWMI 41001,Initialize-Disk"
    assert not exc.value.terminating


def test_offline_and_read_only_disks_refuse_changes(lab):
    n = _disk(lab, "HV02", 1 << 30).get_prop("Number")
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV02", "Initialize-Disk", Number=n)
    assert exc.value.message.startswith("The disk is offline.")
    run(lab, "HV02", "Set-Disk", Number=n, IsOffline=False)
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV02", "Initialize-Disk", Number=n)
    assert exc.value.error_id == "StorageWMI 41002,Initialize-Disk"
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV02", "New-Partition", DiskNumber=n, UseMaximumSize=SWITCH)
    assert exc.value.error_id.startswith("StorageWMI 4100")
    uid = run(lab, "HV02", "Get-Disk", Number=n)[0].get_prop("UniqueId")
    assert st.lun_layout(lab, uid)["partition_style"] == "RAW"


def test_unknown_disk_number_gives_the_cmdletization_error(lab):
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Get-Disk", Number=9)
    assert exc.value.message.startswith("No MSFT_Disk objects found with property 'Number' equal to '9'.")
    assert exc.value.error_id == "CmdletizationQuery_NotFound_Number,Get-Disk"
    assert exc.value.category == "ObjectNotFound"


def test_get_disk_by_serial_and_clear(lab):
    vd = run(lab, "DC01", "Get-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\quorum.vhdx")[0]
    disk = run(lab, "HV01", "Get-Disk", SerialNumber=vd.get_prop("SerialNumber"))[0]
    n = disk.get_prop("Number")
    assert disk.get_prop("UniqueId") == st.unique_id_for_serial(vd.get_prop("SerialNumber"))
    run(lab, "HV01", "Set-Disk", Number=n, IsOffline=False)
    run(lab, "HV01", "Set-Disk", Number=n, IsReadOnly=False)
    run(lab, "HV01", "Initialize-Disk", Number=n)
    run(lab, "HV01", "New-Partition", DiskNumber=n, UseMaximumSize=SWITCH, DriveLetter="Q")
    run(lab, "HV01", "Format-Volume", DriveLetter="Q", FileSystem="NTFS", NewFileSystemLabel="Quorum", Confirm=False)
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Clear-Disk", Number=n, Confirm=False)
    assert exc.value.error_id == "StorageWMI 41008,Clear-Disk"
    run(lab, "HV01", "Clear-Disk", Number=n, RemoveData=SWITCH, Confirm=False)
    assert run(lab, "HV01", "Get-Disk", Number=n)[0].get_prop("PartitionStyle") == "RAW"


def test_cluster_reservation_hides_the_disk_from_non_owners(lab):
    uid = _disk(lab, "HV01", 40 << 30).get_prop("UniqueId")
    assert sorted(st.hosts_seeing_disk(lab, uid)) == ["HV01", "HV02"]
    with lab.transaction():
        st.set_reservation(lab, uid, "CLUSTER1", "HV01")
    owner = run(lab, "HV01", "Get-Disk", UniqueId=uid)[0]
    other = run(lab, "HV02", "Get-Disk", UniqueId=uid)[0]
    assert owner.get_prop("IsOffline") is False and owner.get_prop("IsClustered") is True
    assert other.get_prop("IsOffline") is True and other.get_prop("IsClustered") is True
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV02", "Set-Disk", UniqueId=uid, IsOffline=False)
    assert exc.value.error_id == "StorageWMI 40018,Set-Disk"
    with lab.transaction():
        st.clear_reservation(lab, uid)
    assert run(lab, "HV02", "Get-Disk", UniqueId=uid)[0].get_prop("IsClustered") is False


def test_partitions_of_a_raw_disk_are_not_found_and_gpt_starts_with_the_msr(lab):
    disk = _disk(lab, "HV01", 1 << 30)
    uid, n = disk.get_prop("UniqueId"), disk.get_prop("Number")
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Get-Partition", DiskNumber=n)
    assert exc.value.error_id == "CmdletizationQuery_NotFound_DiskNumber,Get-Partition"
    # the provider's Initialize-SharedDisk sequence, by UniqueId
    run(lab, "HV01", "Set-Disk", UniqueId=uid, IsOffline=False)
    run(lab, "HV01", "Set-Disk", UniqueId=uid, IsReadOnly=False)
    run(lab, "HV01", "Initialize-Disk", UniqueId=uid, PartitionStyle="GPT")
    msr = run(lab, "HV01", "Get-Partition", DiskNumber=n)
    assert [(p.get_prop("Type"), p.get_prop("Offset")) for p in msr] == [("Reserved", 17408)]
    new = run(lab, "HV01", "New-Partition", DiskNumber=n, UseMaximumSize=SWITCH)
    assert new[0].get_prop("Offset") == 16 << 20 and new[0].get_prop("DriveLetter") is None
    vol = run(lab, "HV01", "Format-Volume", FileSystem="NTFS", NewFileSystemLabel="Quorum", Confirm=False,
              _pipeline=new)
    assert len(vol) == 1 and vol[0].get_prop("DriveLetter") is None
    assert vol[0].get_prop("Path").startswith("\\\\?\\Volume{")
    data = [p for p in run(lab, "HV01", "Get-Partition", DiskNumber=n) if p.get_prop("Type") != "Reserved"]
    assert len(data) == 1 and data[0].get_prop("Size") == (1 << 30) - (16 << 20) - (1 << 20)
    assert [v["volume"]["label"] for v in st.disk_volumes(lab, uid)] == ["Quorum"]
