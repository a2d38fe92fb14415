"""IscsiTarget: an iSCSI Target Server target on the storage host (DC01 in the seed lab).

Inputs (``IscsiTargetArgs``)           diff
    connection      ConnectionArgs       host: replace; other fields: update (nothing runs remotely)
    target_name     str                  replace (the name is part of the target IQN)
    initiator_ids   list[str]            update  (IQN:, DNSName:, IPAddress:, IPv6Address:, MACAddress:)
    description     str = ""             update
Outputs: every input, plus
    target_iqn      the IQN initiators connect to (iqn.1991-05.com.microsoft:<host>-<name>-target)
    adopted         True when a target of that name already existed and was brought under management
Create installs FS-iSCSITarget-Server when missing. Delete removes the target (its LUN mappings go
with it); the virtual disks are IscsiVolume's. Script: scripts/iscsi_target.ps1.
The target's connection status and LUN mappings are not outputs: other resources change them (nodes
connect, volumes map), so they would be stale right after the first up (docs/provider.md).
"""
from __future__ import annotations

from typing import Optional, Sequence

import pulumi

from .base import HvProvider, HvResource, adopted
from .connection import CONNECTION_PROP, ConnectionArgs
from .validation import Prop, initiator_id, iscsi_target_name, length_at_most, normalize_initiator_id, require_unique

SCRIPT = "iscsi_target.ps1"


class IscsiTargetArgs:
    """Inputs of an IscsiTarget.

    :param connection: WinRM connection to the iSCSI Target Server host.
    :param target_name: target name (letters, digits, '-', '.'); changing it replaces the target.
    :param initiator_ids: who may connect, e.g. ["DNSName:hv01.hyper.local", "IQN:iqn.1991-05.com.microsoft:hv02.hyper.local"].
    :param description: free text shown by Get-IscsiServerTarget.
    """

    def __init__(self, connection: ConnectionArgs | pulumi.Input[dict], target_name: pulumi.Input[str],
                 initiator_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
                 description: Optional[pulumi.Input[str]] = None) -> None:
        self.connection = connection
        self.target_name = target_name
        self.initiator_ids = initiator_ids
        self.description = description


class IscsiTargetProvider(HvProvider):
    RESOURCE = "IscsiTarget"
    SCRIPT = SCRIPT
    SPEC = (
        CONNECTION_PROP,
        Prop("target_name", "str", required=True, checks=(iscsi_target_name,), on_change="replace",
             case_insensitive=True, doc="the iSCSI target name"),
        Prop("initiator_ids", "list", required=True, items=(initiator_id,), convert=normalize_initiator_id,
             unordered=True, case_insensitive=True, doc="initiators allowed to connect"),
        Prop("description", "str", default="", checks=(length_at_most(1024),)),
    )
    OUTPUTS = ("target_iqn", "adopted")
    KEPT_OUTPUTS = {"target_iqn": ("connection", "target_name")}  # the IQN names the host and the target


    # a replacement re-maps LUNs under connected nodes: the preview says so in words (base.diff_with)
    REPLACEMENT_WARNING = ("iSCSI target", "target_name")

    def check_more(self, olds: dict, news: dict) -> list:
        ids = news.get("initiator_ids")
        failures = require_unique(ids, "initiator_ids") if isinstance(ids, list) else []
        if isinstance(ids, list) and not ids:
            failures.append(pulumi.dynamic.CheckFailure(
                "initiator_ids", "must list at least one initiator (e.g. DNSName:hv01.hyper.local)"))
        return failures

    def make_id(self, inputs: dict) -> str:
        return f"{inputs['connection']['host']}/iscsi-target/{inputs['target_name']}"

    @staticmethod
    def script_params(inputs: dict, mode: str) -> dict:
        return {"Mode": mode, "TargetName": inputs["target_name"],
                "InitiatorIds": list(inputs.get("initiator_ids") or []),
                "Description": inputs.get("description") or ""}

    @staticmethod
    def _facts(state: dict) -> dict:
        return {"target_iqn": state.get("TargetIqn")}

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        state = self.run_mode(inputs, "Set")
        facts = self._facts(state)
        facts["adopted"] = adopted(state, olds)
        return facts

    def observe(self, id: str, outputs: dict) -> dict | None:
        state = self.run_mode(outputs, "Get")
        if not state.get("Exists"):
            return None
        facts = self._facts(state)
        facts["initiator_ids"] = [normalize_initiator_id(str(i)) for i in state.get("InitiatorIds") or []]
        facts["description"] = state.get("Description") or ""
        return facts


class IscsiTarget(HvResource):
    """An iSCSI Target Server target (see the module docstring for inputs, outputs and the diff table)."""

    connection: pulumi.Output[dict]
    target_name: pulumi.Output[str]
    initiator_ids: pulumi.Output[list]
    description: pulumi.Output[str]
    target_iqn: pulumi.Output[str]
    adopted: pulumi.Output[bool]

    PROVIDER = IscsiTargetProvider
