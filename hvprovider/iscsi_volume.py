"""IscsiVolume: an iSCSI virtual disk (.vhdx) on the iSCSI Target Server, mapped to one target.

Inputs (``IscsiVolumeArgs``)           diff
    connection      ConnectionArgs       host: replace; other fields: update
    path            str                  replace (X:\\folder\\name.vhdx on the storage host)
    size_bytes      int | "10GB"         update when growing; shrinking is refused at preview (check)
    disk_type       "Dynamic" | "Fixed"  replace (a VHDX cannot change type)
    target_name     str                  update (the disk is re-mapped; usually IscsiTarget.target_name)
    lun             int = -1             update (-1: the next free LUN)
    keep_file       bool = False         update (only changes what delete does)
Outputs: every input, plus
    serial_number   how every initiator identifies the LUN (ClusterNode.disk_serial_numbers)
    mapped_lun      the LUN number on the target
    adopted         True when a disk already registered at that path (or a leftover file) was taken over
    created_folders the folders create made for the .vhdx (outermost first)
Replacement deletes the old disk first (the new one usually reuses the path). Delete removes every
mapping, the disk, the .vhdx file unless keep_file, and each of created_folders that is empty by then
(never recursively). Script: scripts/iscsi_volume.ps1.
"""
from __future__ import annotations

from typing import Optional

import pulumi
from pulumi.dynamic import CheckFailure

from .base import HvProvider, HvResource, adopted
from .connection import CONNECTION_PROP, ConnectionArgs
from .validation import (Prop, format_size, is_unknown, iscsi_target_name, number_between, parse_size,
                         size_between, vhdx_path)

SCRIPT = "iscsi_volume.ps1"
MIN_SIZE = 8 * 1024 * 1024          # the iSCSI Target Server refuses smaller VHDX disks
MAX_SIZE = 64 * 1024 ** 4           # VHDX limit: 64 TB


class IscsiVolumeArgs:
    """Inputs of an IscsiVolume.

    :param connection: WinRM connection to the iSCSI Target Server host.
    :param path: where the .vhdx lives on that host, e.g. C:\\iSCSIVirtualDisks\\quorum.vhdx.
    :param size_bytes: size in bytes or a string like "1GB" (whole MB); can grow, never shrink.
    :param target_name: the target the disk is mapped to (pass IscsiTarget.target_name).
    :param disk_type: "Dynamic" (default) or "Fixed".
    :param lun: the LUN number on the target; -1 (default) takes the next free one.
    :param keep_file: on delete keep the .vhdx file (the disk is only unregistered).
    """

    def __init__(self, connection: ConnectionArgs | pulumi.Input[dict], path: pulumi.Input[str],
                 size_bytes: pulumi.Input[int | str], target_name: pulumi.Input[str],
                 disk_type: Optional[pulumi.Input[str]] = None, lun: Optional[pulumi.Input[int]] = None,
                 keep_file: Optional[pulumi.Input[bool]] = None) -> None:
        self.connection = connection
        self.path = path
        self.size_bytes = size_bytes
        self.target_name = target_name
        self.disk_type = disk_type
        self.lun = lun
        self.keep_file = keep_file


class IscsiVolumeProvider(HvProvider):
    RESOURCE = "IscsiVolume"
    SCRIPT = SCRIPT
    SPEC = (
        CONNECTION_PROP,
        Prop("path", "str", required=True, checks=(vhdx_path,), on_change="replace", case_insensitive=True,
             doc="path of the .vhdx on the storage host"),
        Prop("size_bytes", "size", required=True, checks=(size_between(MIN_SIZE, MAX_SIZE),),
             doc='size in bytes or e.g. "10GB"'),
        Prop("target_name", "str", required=True, checks=(iscsi_target_name,), case_insensitive=True,
             doc="the target to map the disk to"),
        Prop("disk_type", "str", default="Dynamic", choices=("Dynamic", "Fixed"), on_change="replace"),
        Prop("lun", "int", default=-1, checks=(number_between(-1, 254),)),
        Prop("keep_file", "bool", default=False),
    )
    OUTPUTS = ("serial_number", "mapped_lun", "adopted", "created_folders")
    # the serial is the disk's identity (a new disk gets a new one); the LUN changes only when re-mapped.
    # The disk's connection status is no output: nodes connecting change it (docs/provider.md).
    KEPT_OUTPUTS = {"serial_number": ("connection", "path", "disk_type"),
                    "mapped_lun": ("connection", "path", "disk_type", "target_name", "lun")}
    DELETE_BEFORE_REPLACE = True


    # a replacement re-maps LUNs under connected nodes: the preview says so in words (base.diff_with)
    REPLACEMENT_WARNING = ("iSCSI volume", "path")

    def check_more(self, olds: dict, news: dict) -> list:
        failures = []
        old_size = parse_size(olds.get("size_bytes")) if olds else None
        new_size = news.get("size_bytes")
        same_disk = olds and str(olds.get("path", "")).lower() == str(news.get("path", "")).lower() \
            and olds.get("disk_type", "Dynamic") == news.get("disk_type")
        if same_disk and old_size is not None and not is_unknown(new_size) and new_size < old_size:
            failures.append(CheckFailure(
                "size_bytes",
                f"cannot shrink {news['path']} from {format_size(old_size)} to {format_size(new_size)}: iSCSI virtual "
                f"disks only grow. Keep size_bytes >= {old_size}, or change path to get a new disk"))
        return failures

    def make_id(self, inputs: dict) -> str:
        return f"{inputs['connection']['host']}/iscsi-volume/{inputs['path']}"

    @staticmethod
    def script_params(inputs: dict, mode: str) -> dict:
        return {"Mode": mode, "Path": inputs["path"], "SizeBytes": int(inputs.get("size_bytes") or 0),
                "DiskType": inputs.get("disk_type") or "Dynamic", "TargetName": inputs.get("target_name") or "",
                "Lun": int(inputs.get("lun") if inputs.get("lun") is not None else -1),
                "KeepFile": bool(inputs.get("keep_file")),
                # the folders create made for the .vhdx: delete removes them when empty
                "CreatedFolders": list(inputs.get("created_folders") or [])}

    @staticmethod
    def _facts(state: dict) -> dict:
        return {"serial_number": state.get("SerialNumber"), "mapped_lun": state.get("Lun")}

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        state = self.run_mode(inputs, "Set")
        facts = self._facts(state)
        facts["adopted"] = adopted(state, olds)
        facts["created_folders"] = list(state.get("CreatedFolders") or (olds or {}).get("created_folders") or [])
        return facts

    def observe(self, id: str, outputs: dict) -> dict | None:
        state = self.run_mode(outputs, "Get")
        if not state.get("Exists"):
            return None
        facts = self._facts(state)
        facts["size_bytes"] = state.get("SizeBytes")
        facts["disk_type"] = state.get("DiskType")
        # mapped elsewhere (or nowhere): report it so the next up re-maps the disk
        facts["target_name"] = state.get("TargetName")
        if outputs.get("lun", -1) not in (-1, None) and state.get("Lun") is not None:
            facts["lun"] = state.get("Lun")
        return facts


class IscsiVolume(HvResource):
    """An iSCSI virtual disk mapped to a target (see the module docstring)."""

    connection: pulumi.Output[dict]
    path: pulumi.Output[str]
    size_bytes: pulumi.Output[int]
    target_name: pulumi.Output[str]
    disk_type: pulumi.Output[str]
    lun: pulumi.Output[int]
    keep_file: pulumi.Output[bool]
    serial_number: pulumi.Output[str]
    mapped_lun: pulumi.Output[int]
    adopted: pulumi.Output[bool]

    PROVIDER = IscsiVolumeProvider
