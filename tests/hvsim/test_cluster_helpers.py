"""Helpers (no tests) for the cluster and Hyper-V tests: the LAB.md lab up to 'disks prepared', a
registry-level runner that can run with or without a delegable credential, and the LAB.md cluster steps."""
from __future__ import annotations

from typing import Any

from hvsim.cmdlets.registry import CmdletContext
from hvsim.world import World
from hvsim.world import cluster as wc

from test_storage_helpers import SWITCH, build_lab_storage, make_world
from test_storage_helpers import run as _run_plain, run_ctx as _run_ctx_plain

__all__ = ["SWITCH", "lab_world", "run", "run_ctx", "build_cluster", "build_csv", "build_vm", "GB"]

GB = 1 << 30
NODES = ("HV01", "HV02")


def run_ctx(world: World, host: str, command: str, *positional: Any, _pipeline: list | None = None,
            _delegate: bool = True, **named: Any) -> tuple[list, CmdletContext]:
    """The storage helpers' runner, but delegating (CredSSP) unless _delegate=False: cluster cmdlets need it."""
    return _run_ctx_plain(world, host, command, *positional, _pipeline=_pipeline, _delegate=_delegate, **named)


def run(world: World, host: str, command: str, *positional: Any, _pipeline: list | None = None,
        _delegate: bool = True, **named: Any) -> list:
    return run_ctx(world, host, command, *positional, _pipeline=_pipeline, _delegate=_delegate, **named)[0]


def _prepare_disk(world: World, size: int, label: str) -> None:
    disk = next(d for d in _run_plain(world, "HV01", "Get-Disk") if d.get_prop("Size") == size)
    n = disk.get_prop("Number")
    _run_plain(world, "HV01", "Set-Disk", Number=n, IsOffline=False)
    _run_plain(world, "HV01", "Set-Disk", Number=n, IsReadOnly=False)
    _run_plain(world, "HV01", "Initialize-Disk", Number=n, PartitionStyle="GPT")
    part = _run_plain(world, "HV01", "New-Partition", DiskNumber=n, UseMaximumSize=SWITCH)[0]
    _run_plain(world, "HV01", "Format-Volume", FileSystem="NTFS", NewFileSystemLabel=label, Confirm=False,
               _pipeline=[part])


def lab_world(tmp_path, *, features: bool = True, disks: bool = True, storage: bool = True) -> World:
    """DC01 + HV01/HV02 joined to hyper.local, iSCSI LUNs (1 GB quorum, 40 GB storage) on both nodes,
    Failover-Clustering and Hyper-V installed (after their restart), both disks initialized on HV01."""
    world = make_world(tmp_path)
    wc.install(world)
    if storage:
        build_lab_storage(world)
    if features:
        with world.transaction() as data:
            for n in NODES:
                h = data["hosts"][n]
                for f in ("Failover-Clustering", "Hyper-V", "Hyper-V-PowerShell", "RSAT-Clustering-PowerShell"):
                    h["features"][f] = {"state": "Installed"}
                h["services"]["vmms"] = {"display_name": "Hyper-V Virtual Machine Management",
                                         "status": "Running", "start_type": "Automatic"}
                h["services"]["ClusSvc"] = {"display_name": "Cluster Service", "status": "Stopped",
                                            "start_type": "Manual"}
    if disks and storage:
        _prepare_disk(world, 1 * GB, "Quorum")
        _prepare_disk(world, 40 * GB, "VMs")
    return world


def build_cluster(world: World, *, witness: bool = True) -> None:
    """LAB.md step 7: New-Cluster -NoStorage, then the quorum disk as disk witness."""
    run(world, "HV01", "New-Cluster", Name="CLUSTER1", Node=list(NODES), StaticAddress=["192.168.10.20"],
        NoStorage=SWITCH)
    avail = run(world, "HV01", "Get-ClusterAvailableDisk")
    run(world, "HV01", "Add-ClusterDisk", _pipeline=avail)
    if witness:
        quorum = next(r for r in run(world, "HV01", "Get-ClusterResource")
                      if r.get_prop("ResourceType").get_prop("Name") == "Physical Disk"
                      and _disk_size(world, r) == 1 * GB)
        run(world, "HV01", "Set-ClusterQuorum", DiskWitness=quorum.get_prop("Name"))


def _disk_size(world: World, resource_obj) -> int:
    c = world.data["clusters"]["CLUSTER1"]
    return c["resources"][resource_obj.get_prop("Name")]["disk"]["size"]


def build_csv(world: World) -> str:
    """The 40 GB cluster disk becomes a CSV; returns its mount path."""
    c = world.data["clusters"]["CLUSTER1"]
    name = next(r["name"] for r in c["resources"].values() if r.get("disk") and r["disk"]["size"] == 40 * GB)
    csv = run(world, "HV01", "Add-ClusterSharedVolume", Name=name)[0]
    return csv.get_prop("SharedVolumeInfo")[0].get_prop("FriendlyVolumeName")


def build_vm(world: World, path: str, name: str = "VM1", *, switch: bool = True, host: str = "HV01") -> None:
    """LAB.md step 7/8: the same external switch on both nodes, a VM on the CSV connected to it."""
    if switch:
        for n in NODES:
            if not run(world, n, "Get-VMSwitch", Name="*"):
                run(world, n, "New-VMSwitch", Name="External", NetAdapterName="Ethernet", AllowManagementOS=True)
    run(world, host, "New-VM", Name=name, Path=path, MemoryStartupBytes=2 * GB, Generation=2,
        NewVHDPath=f"{path}\\{name}\\Virtual Hard Disks\\{name}.vhdx", NewVHDSizeBytes=20 * GB,
        **({"SwitchName": "External"} if switch else {}))
