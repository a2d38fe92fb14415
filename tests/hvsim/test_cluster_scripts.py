"""Cluster and Hyper-V objects seen from PowerShell: a script in the provider's style (read state, convert
enums with [string], ConvertTo-Json) run through hvsim's interpreter on a registry-level world."""
from __future__ import annotations

import json

from hvsim.cmdlets.registry import CmdletContext, Session
from hvsim.powershell import execute

from test_cluster_helpers import build_cluster, build_csv, build_vm, lab_world, run

SCRIPT = r"""
$ErrorActionPreference = 'Stop'
$group = Get-ClusterGroup -Name VM1
$vm = $group | Get-VM
$csv = Get-ClusterSharedVolume | Where-Object { $_.SharedVolumeInfo[0].FriendlyVolumeName -eq 'C:\ClusterStorage\Volume1' }
$witness = (Get-ClusterQuorum).QuorumResource
$nodes = @(Get-ClusterNode | Where-Object { $_.State -eq 'Up' } | ForEach-Object { [string]$_.Name })
[pscustomobject]@{
    OwnerNode = [string]$group.OwnerNode
    GroupState = [string]$group.State
    IsOnline = ($group.State -eq 'Online')
    VMState = [string]$vm.State
    ProcessorCount = $vm.ProcessorCount
    CsvPath = $csv.SharedVolumeInfo[0].FriendlyVolumeName
    CsvName = $csv.Name
    Witness = [string]$witness.Name
    UpNodes = $nodes
} | ConvertTo-Json -Compress
"""


def test_a_provider_style_script_reads_the_cluster(tmp_path):
    world = lab_world(tmp_path)
    build_cluster(world)
    path = build_csv(world)
    build_vm(world, path)
    run(world, "HV01", "Add-ClusterVirtualMachineRole", VMName="VM1")
    run(world, "HV01", "Start-ClusterGroup", Name="VM1")
    run(world, "HV01", "Move-ClusterVirtualMachineRole", Name="VM1", Node="HV02", MigrationType="Live")
    ctx = CmdletContext(world=world, session=Session(host="HV02", user="HYPER\\Administrator", auth="ntlm",
                                                     can_delegate=False))
    result = execute(SCRIPT, ctx)
    assert result.exit_code == 0, result.errors
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state == {"OwnerNode": "HV02", "GroupState": "Online", "IsOnline": True, "VMState": "Running",
                     "ProcessorCount": 1, "CsvPath": "C:\\ClusterStorage\\Volume1", "CsvName": "Cluster Disk 2",
                     "Witness": "Cluster Disk 1", "UpNodes": ["HV01", "HV02"]}
