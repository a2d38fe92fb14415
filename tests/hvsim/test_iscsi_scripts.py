"""The LAB.md iSCSI steps as PowerShell text, run by hvsim's interpreter against the storage emulation."""
from __future__ import annotations

import json

from hvsim.cmdlets.registry import CmdletContext, Session
from hvsim.powershell import execute
from hvsim.world import storage as st

from hvsim_fixtures import run_provider_script
from test_storage_helpers import TARGET_IQN, build_lab_storage, make_world

TARGET_SETUP = r"""
New-IscsiVirtualDisk -Path C:\iSCSIVirtualDisks\quorum.vhdx -SizeBytes 1GB | Out-Null
New-IscsiVirtualDisk -Path C:\iSCSIVirtualDisks\storage.vhdx -SizeBytes 40GB | Out-Null
New-IscsiServerTarget -TargetName Cluster -InitiatorIds 'DNSName:hv01.hyper.local', 'IQN:iqn.1991-05.com.microsoft:hv02.hyper.local' | Out-Null
Add-IscsiVirtualDiskTargetMapping -TargetName Cluster -Path C:\iSCSIVirtualDisks\quorum.vhdx
Add-IscsiVirtualDiskTargetMapping -TargetName Cluster -Path C:\iSCSIVirtualDisks\storage.vhdx
$t = Get-IscsiServerTarget -TargetName Cluster
[pscustomobject]@{
    Iqn = [string]$t.TargetIqn
    Ids = @($t.InitiatorIds | ForEach-Object { [string]$_ })
    Luns = @($t.LunMappings | ForEach-Object { [int]$_.Lun })
    Serials = @(Get-IscsiVirtualDisk | ForEach-Object { [string]$_.SerialNumber })
} | ConvertTo-Json -Compress
"""

NODE_CONNECT = r"""
Set-Service -Name MSiSCSI -StartupType Automatic
Start-Service -Name MSiSCSI
New-IscsiTargetPortal -TargetPortalAddress dc01.hyper.local | Out-Null
$iqn = (Get-IscsiTarget | Select-Object -First 1).NodeAddress
Connect-IscsiTarget -NodeAddress $iqn -IsPersistent $true | Out-Null
@(Get-Disk | Where-Object { [string]$_.BusType -eq 'iSCSI' } | ForEach-Object {
    [pscustomobject]@{ Serial = [string]$_.SerialNumber; UniqueId = [string]$_.UniqueId
                       Offline = $_.IsOffline; ReadOnly = $_.IsReadOnly; Style = [string]$_.PartitionStyle }
}) | ConvertTo-Json -Compress
"""

PREPARE_DISK = r"""
param([string]$Serial)
$disk = Get-Disk | Where-Object { [string]$_.SerialNumber -eq $Serial }
if ($disk.IsOffline) { Set-Disk -UniqueId $disk.UniqueId -IsOffline $false }
if ($disk.IsReadOnly) { Set-Disk -UniqueId $disk.UniqueId -IsReadOnly $false }
Get-Disk -UniqueId $disk.UniqueId | Initialize-Disk -PartitionStyle GPT
New-Partition -DiskNumber $disk.Number -UseMaximumSize | Format-Volume -FileSystem NTFS -NewFileSystemLabel Storage -Confirm:$false | Out-Null
try {
    Initialize-Disk -UniqueId $disk.UniqueId -PartitionStyle GPT -ErrorAction Stop
} catch {
    'second init: ' + $_.Exception.Message.Split("`r")[0] + ' | ' + $_.FullyQualifiedErrorId
}
(Get-Disk -UniqueId $disk.UniqueId).Guid
"""


def _ps(world, host, script):
    ctx = CmdletContext(world=world, session=Session(host=host, user="HYPER\\Administrator", auth="ntlm",
                                                     can_delegate=False))
    result = execute(script, ctx, None)
    assert result.exit_code == 0, [e.default_view() for e in result.errors]
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_lab_md_iscsi_steps_in_powershell(tmp_path):
    world = make_world(tmp_path, initiators_running=False)
    target = json.loads(_ps(world, "DC01", TARGET_SETUP)[-1])
    assert target["Iqn"] == TARGET_IQN
    # Windows prints the IdMethod names: Iqn:, DnsName: (whatever case the input had)
    assert target["Ids"] == ["DnsName:hv01.hyper.local", "Iqn:iqn.1991-05.com.microsoft:hv02.hyper.local"]
    assert target["Luns"] == [0, 1] and len(set(target["Serials"])) == 2

    seen = {}
    for node in ("HV01", "HV02"):
        disks = json.loads(_ps(world, node, NODE_CONNECT)[-1])
        assert {d["Serial"] for d in disks} == set(target["Serials"])
        assert all(d["Offline"] and d["ReadOnly"] and d["Style"] == "RAW" for d in disks)
        seen[node] = {d["Serial"]: d["UniqueId"] for d in disks}
    assert seen["HV01"] == seen["HV02"]

    with world.read():
        storage_serial = st.get_virtual_disk(world, "DC01", "C:\\iSCSIVirtualDisks\\storage.vhdx")["serial"]
    assert storage_serial in target["Serials"]
    out = _ps(world, "HV01", PREPARE_DISK.replace("param([string]$Serial)", f"$Serial = '{storage_serial}'"))
    assert out[0] == ("second init: The disk has already been initialized. | StorageWMI 41001,Initialize-Disk")
    uid = seen["HV01"][storage_serial]
    assert out[1] == st.disk_guid(world, uid)
    assert [p["volume"]["label"] for p in st.disk_volumes(world, uid)] == ["Storage"]
    # the other node shares the LUN's data but keeps its own (offline) view
    with world.read():
        other = st.find_disk_by_unique_id(world, "HV02", uid)
        assert st.disk_view(world, "HV02", other)["IsOffline"] is True
        assert st.disk_view(world, "HV02", other)["PartitionStyle"] == "GPT"


ONE_LINERS = r"""
Get-Disk | Where-Object IsOffline -eq $true | Set-Disk -IsOffline $false
Get-Disk | Where-Object IsReadOnly | Set-Disk -IsReadOnly $false
Get-Disk | Where-Object PartitionStyle -eq 'RAW' | Initialize-Disk -PartitionStyle GPT -PassThru |
    New-Partition -AssignDriveLetter -UseMaximumSize | Format-Volume -FileSystem NTFS -Confirm:$false |
    ForEach-Object { 'formatted ' + $_.DriveLetter }
Get-IscsiSession | Get-Disk | ForEach-Object { 'session disk ' + $_.Number }
Get-Volume -DriveLetter E | Get-Partition | ForEach-Object { 'E is partition ' + $_.PartitionNumber }
"""


def test_storage_one_liners_pipe_cim_objects_between_cmdlets(tmp_path):
    world = make_world(tmp_path)
    build_lab_storage(world)
    out = _ps(world, "HV01", ONE_LINERS)
    assert out == ["formatted D", "formatted E", "session disk 1", "session disk 2", "E is partition 2"]
    with world.read():
        styles = {d["unique_id"]: st.disk_view(world, "HV01", d)["PartitionStyle"] for d in st.host_disks(world, "HV01")}
    assert set(styles.values()) == {"GPT"}


# ------------------------------------------------------------------ the provider's iscsi_volume.ps1
def test_iscsi_volume_kept_file_is_imported_when_the_volume_comes_back(tmp_path):
    # IscsiVolume(keep_file=True) destroyed, then created again: the kept .vhdx is registered again
    # (Import-IscsiVirtualDisk) with its size, mapped, and grown when size_bytes asks for more
    world = make_world(tmp_path)
    build_lab_storage(world)
    path = "C:\\iSCSIVirtualDisks\\storage.vhdx"
    volume = {"Path": path, "SizeBytes": 40 << 30, "DiskType": "Dynamic", "TargetName": "Cluster", "Lun": 1,
              "KeepFile": True}
    before = run_provider_script(world, "DC01", "iscsi_volume.ps1", {**volume, "Mode": "Get"})
    assert before["Exists"] and before["TargetName"] == "Cluster"
    removed = run_provider_script(world, "DC01", "iscsi_volume.ps1", {**volume, "Mode": "Remove"})
    assert removed["Exists"] is False and removed["FileExists"] is True
    assert removed["Changes"] == ["unmapped from Cluster", "removed disk"]
    back = run_provider_script(world, "DC01", "iscsi_volume.ps1", {**volume, "Mode": "Set", "SizeBytes": 50 << 30})
    assert back["Changes"] == ["imported existing file", "grew disk", "mapped to Cluster"]
    assert back["Adopted"] is True and back["Exists"] and (back["TargetName"], back["Lun"]) == ("Cluster", 1)
    assert back["SizeBytes"] == 50 << 30 and back["DiskType"] == "Dynamic"
    assert back["SerialNumber"] != before["SerialNumber"]
    with world.read():
        vd = st.get_virtual_disk(world, "DC01", path)
    assert (vd["size"], vd["serial"]) == (50 << 30, back["SerialNumber"])
    # converged: a second Set changes nothing
    again = run_provider_script(world, "DC01", "iscsi_volume.ps1", {**volume, "Mode": "Set", "SizeBytes": 50 << 30})
    assert again["Changes"] == [] and again["SerialNumber"] == back["SerialNumber"]
