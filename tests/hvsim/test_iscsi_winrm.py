"""End to end: the LAB.md iSCSI steps sent with the real pywinrm to a running hvsim server."""
from __future__ import annotations

import json


TARGET = r"""
$ErrorActionPreference = 'Stop'
Install-WindowsFeature -Name FS-iSCSITarget-Server | Out-Null
New-Item -ItemType Directory -Path C:\iSCSIVirtualDisks | Out-Null
New-IscsiVirtualDisk -Path C:\iSCSIVirtualDisks\quorum.vhdx -SizeBytes 1GB | Out-Null
New-IscsiVirtualDisk -Path C:\iSCSIVirtualDisks\storage.vhdx -SizeBytes 20GB -UseFixed | Out-Null
New-IscsiServerTarget -TargetName Cluster -InitiatorIds 'DNSName:hv01', 'IPAddress:192.168.10.12' | Out-Null
Add-IscsiVirtualDiskTargetMapping -TargetName Cluster -Path C:\iSCSIVirtualDisks\quorum.vhdx
Add-IscsiVirtualDiskTargetMapping -TargetName Cluster -Path C:\iSCSIVirtualDisks\storage.vhdx
[string](Get-IscsiServerTarget -TargetName Cluster).TargetIqn
"""

NODE = r"""
$ErrorActionPreference = 'Stop'
Set-Service -Name MSiSCSI -StartupType Automatic
Start-Service -Name MSiSCSI
New-IscsiTargetPortal -TargetPortalAddress 192.168.10.10 | Out-Null
Connect-IscsiTarget -NodeAddress 'iqn.1991-05.com.microsoft:dc01-cluster-target' -IsPersistent $true | Out-Null
ConvertTo-Json -Compress -InputObject @(Get-Disk | Where-Object { [string]$_.BusType -eq 'iSCSI' } | ForEach-Object {
    [pscustomobject]@{ Serial = [string]$_.SerialNumber; Offline = $_.IsOffline; Size = $_.Size } })
"""


def test_lab_iscsi_steps_over_winrm(hvsim_lab):
    out = hvsim_lab.session("DC01").run_ps(TARGET)
    assert out.status_code == 0, out.std_err
    assert out.std_out.decode().strip() == "iqn.1991-05.com.microsoft:dc01-cluster-target"

    seen = {}
    for node in ("HV01", "HV02"):
        res = hvsim_lab.session(node).run_ps(NODE)
        assert res.status_code == 0, res.std_err
        seen[node] = json.loads(res.std_out.decode())
    assert seen["HV01"] == seen["HV02"]
    assert sorted(d["Size"] for d in seen["HV01"]) == [1 << 30, 20 << 30]
    assert all(d["Offline"] for d in seen["HV01"])

    world = hvsim_lab.world()
    vdisks = world["hosts"]["DC01"]["iscsi_target_server"]["virtual_disks"]
    assert {v["serial"] for v in vdisks.values()} == {d["Serial"] for d in seen["HV01"]}
    assert world["hosts"]["DC01"]["files"]["c:\\iscsivirtualdisks\\storage.vhdx"]["size"] == 20 << 30
    for node in ("HV01", "HV02"):
        sessions = world["hosts"][node]["iscsi_initiator"]["sessions"]
        assert [(s["target_iqn"], s["persistent"]) for s in sessions] == \
            [("iqn.1991-05.com.microsoft:dc01-cluster-target", True)]
    status = hvsim_lab.status_text()
    assert "dc01-cluster-target" in status and "quorum.vhdx" in status

    # a wrong login on the unlisted DC01 itself: the target is not discovered for it
    res = hvsim_lab.session("DC01").run_ps(
        "Start-Service MSiSCSI; New-IscsiTargetPortal -TargetPortalAddress dc01 | Out-Null; "
        "Connect-IscsiTarget -NodeAddress 'iqn.1991-05.com.microsoft:dc01-cluster-target'")
    assert res.status_code != 0
    assert b"The target name is not found or is marked as hidden from login." in res.std_err
    assert b"HRESULT 0xefff0029,Connect-IscsiTarget" in res.std_err
