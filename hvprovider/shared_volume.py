"""SharedVolume: an iSCSI LUN brought into a failover cluster as a Cluster Shared Volume.

    csv = SharedVolume("storage-csv", SharedVolumeArgs(
        connection=hv01_connection,                 # WinRM to a node of the cluster
        cluster_name=cluster.name,                  # also makes the CSV wait for the cluster
        disk_serial=storage_volume.serial_number,   # the LUN, by identity (never by disk number)
        label="VMStorage"))
    csv.path   # C:\\ClusterStorage\\Volume1, read back from the cluster

What it does (script ``scripts/shared_volume.ps1``, run on the connected node):
- create: finds the disk by serial number (waiting for it), brings it online and writable,
  initializes it (GPT) and formats one NTFS volume only if it is raw (idempotent: an existing
  volume and its data are kept), waits until every node sees it (``Get-ClusterAvailableDisk``),
  ``Add-ClusterDisk``, ``Add-ClusterSharedVolume``; the mount path, cluster disk name, size and free
  space are read back from ``Get-ClusterSharedVolume``;
- grow in place: ``disk_size_bytes`` (pass ``IscsiVolume.size_bytes``) larger than the LUN this
  node sees: ``Update-HostStorageCache``, then on the CSV's coordinator node (its owner; the other
  connections are tried in turn) ``Get-PartitionSupportedSize`` and ``Resize-Partition`` to the maximum,
  which grows the NTFS volume and the CSV with it; ``size_bytes`` reports the grown CSV;
- replace: ``disk_serial``, ``cluster_name``; ``label`` is applied when the disk is first
  formatted and cannot change afterwards (check refuses a change);
- delete: ``Remove-ClusterSharedVolume`` then ``Remove-ClusterResource`` of that disk only; the LUN's
  data stays (the IscsiVolume owns the data; deleting that removes it).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure, DiffResult

from .base import HvProvider, HvResource
from .cluster_common import ALTERNATE_CONNECTIONS_PROP, CLUSTER_CONNECTION_PROP
from .connection import ConnectionArgs
from . import errors
from .validation import Prop, is_unknown, length_at_most, netbios_name, nonempty, number_between, size_between

SCRIPT = "shared_volume.ps1"

SPEC: tuple[Prop, ...] = (
    CLUSTER_CONNECTION_PROP,
    ALTERNATE_CONNECTIONS_PROP,
    Prop("cluster_name", "str", required=True, checks=(netbios_name,), on_change="replace", case_insensitive=True,
         doc="the cluster (FailoverCluster.name) the connected node belongs to"),
    Prop("disk_serial", "str", required=True, checks=(nonempty,), on_change="replace",
         doc="serial number of the LUN (IscsiVolume.serial_number)"),
    Prop("label", "str", default="CSV", checks=(length_at_most(32),), on_change="ignore",
         doc="NTFS volume label, applied when the disk is first formatted"),
    Prop("disk_wait_seconds", "int", default=300, checks=(number_between(0, 3600),), on_change="ignore",
         doc="how long to wait for the LUN to be visible on every node"),
    Prop("disk_size_bytes", "size", checks=(size_between(8 * 1024 ** 2, 64 * 1024 ** 4),),
         doc="the LUN's size (IscsiVolume.size_bytes): when it grows, the CSV's partition is extended"),
)

# (no free space output: the VMs on the volume change it, so it would be stale right after the up that made them)
OUTPUTS = ("path", "cluster_disk_name", "size_bytes", "owner_node", "volume_label")


class SharedVolumeArgs:
    """Inputs of a SharedVolume (see the module docstring)."""

    def __init__(
        self,
        connection: "ConnectionArgs | Mapping[str, Any]",
        cluster_name: pulumi.Input[str],
        disk_serial: pulumi.Input[str],
        label: Optional[pulumi.Input[str]] = None,
        disk_wait_seconds: Optional[pulumi.Input[int]] = None,
        alternate_connections: "Optional[Sequence[ConnectionArgs | Mapping[str, Any]]]" = None,
        disk_size_bytes: Optional[pulumi.Input[int | str]] = None,
    ) -> None:
        self.connection = connection
        self.cluster_name = cluster_name
        self.disk_serial = disk_serial
        self.label = label
        self.disk_wait_seconds = disk_wait_seconds
        self.alternate_connections = alternate_connections
        self.disk_size_bytes = disk_size_bytes


class SharedVolumeProvider(HvProvider):
    """check/diff/create/read/update/delete of a SharedVolume (holds no state of its own)."""

    RESOURCE = "SharedVolume"
    SCRIPT = SCRIPT
    SPEC = SPEC
    OUTPUTS = OUTPUTS
    # the CSV's path and cluster disk stay while it is the same disk of the same cluster (growing it, a
    # new label, another connection keep them), so the VMs on it stay known at preview
    KEPT_OUTPUTS = {k: ("cluster_name", "disk_serial") for k in ("path", "cluster_disk_name")}
    DELETE_BEFORE_REPLACE = True  # a replacement may reuse the same LUN

    def check_more(self, olds: dict, news: dict) -> list[CheckFailure]:
        old_label, new_label = olds.get("label"), news.get("label")
        same_disk = olds.get("disk_serial") == news.get("disk_serial")
        if old_label and new_label and not is_unknown(new_label) and same_disk and old_label != new_label:
            return [CheckFailure("label", (
                f"the volume was formatted with label {old_label!r}; the label is applied only when the disk is "
                f"first formatted and this resource does not change it (keep {old_label!r}, or rename the volume "
                f"on the node with Set-Volume -NewFileSystemLabel and then change it here)"))]
        return []

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        return self.diff_with(olds, news, replace_when_known=("cluster_name", "disk_serial"))

    def make_id(self, inputs: dict) -> str:
        return f"{str(inputs['cluster_name']).upper()}/{inputs['disk_serial']}"

    @staticmethod
    def script_params(props: Mapping[str, Any], mode: str) -> dict:
        return {
            "Mode": mode,
            "ClusterName": props["cluster_name"],
            "DiskSerial": props["disk_serial"],
            "Label": props["label"] if props.get("label") is not None else "CSV",
            "DiskWaitSeconds": int(props["disk_wait_seconds"] if props.get("disk_wait_seconds") is not None else 300),
            "DiskSizeBytes": int(props.get("disk_size_bytes") or 0),
        }

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        from . import transport  # imported late: check and diff never need WinRM

        state = self.run_mode(inputs, "Set")
        if state.get("GrowOnNode"):
            # a CSV's partition is resized by its coordinator node: run Set where the CSV is owned
            owner = state["GrowOnNode"]
            for conn in inputs.get("alternate_connections") or []:
                try:
                    other = transport.run_script(conn, self.SCRIPT, self.script_params(inputs, "Set"))
                except errors.ConnectionFailedError:
                    continue
                if not other.get("GrowOnNode"):
                    return computed_outputs(other)
            raise errors.InputError(self.RESOURCE, "alternate_connections", (
                f"the LUN {inputs['disk_serial']} grew, and its CSV is owned by {owner}: its partition can only be "
                f"extended there, and neither connection nor alternate_connections reaches {owner}. Add a "
                f"connection to {owner} to alternate_connections (or move the CSV), then run pulumi up again"))
        return computed_outputs(state)

    def observe(self, id: str, outputs: dict) -> dict | None:
        state = self.run_mode(outputs, "Get")
        if state.get("Placement") != "ClusterSharedVolume":
            return None
        return computed_outputs(state)


def computed_outputs(state: Mapping[str, Any]) -> dict:
    return {
        "path": state.get("Path") or "",
        "cluster_disk_name": state.get("ClusterDiskName") or "",
        "size_bytes": int(state.get("SizeBytes") or 0),
        "owner_node": state.get("OwnerNode") or "",
        "volume_label": state.get("Label") or "",
    }


class SharedVolume(HvResource):
    """A Cluster Shared Volume (see the module docstring)."""

    path: pulumi.Output[str]
    cluster_disk_name: pulumi.Output[str]
    size_bytes: pulumi.Output[int]
    owner_node: pulumi.Output[str]
    volume_label: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    disk_serial: pulumi.Output[str]
    label: pulumi.Output[str]

    PROVIDER = SharedVolumeProvider
