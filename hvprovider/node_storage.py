"""NodeStorage: a cluster node's iSCSI attachment (portal, persistent sessions, LUNs online), apart from
the node's preparation (ClusterNode with ``attach_storage=False``), so that the node's features, domain
join and restart run while the iSCSI target and its volumes are still being created.

Inputs (``NodeStorageArgs``)                 diff
    connection              ConnectionArgs     host: replace; other fields: update
    target_portal_address   str                update (the iSCSI Target Server's address as the node reaches it)
    target_iqns             list[str]          update (persistent sessions to these targets; at least one)
    disk_serial_numbers     list[str] = []     update (LUNs to wait for and, while still RAW, bring online + writable)
    disk_sizes              list[size] | None  update (the LUNs' sizes in the order of disk_serial_numbers:
                                                 [IscsiVolume.size_bytes, ...]; a grown LUN makes the node rescan)
The four storage inputs are ClusterNode's (same Props, same checks, same script code: lib/node_iscsi.ps1).
Outputs: every input, plus computer_name, initiator_iqn, connected_targets, disks
([{serial_number, unique_id, number}]), last_changes.

Declare it after the node's ClusterNode (``depends_on=[node]``: the target admits the node by its
domain FQDN, which the domain join gives it) and before FailoverCluster (``depends_on`` the NodeStorage
resources). Create adopts sessions that already exist (a ClusterNode switched to ``attach_storage=False``
hands its sessions over without logging them off). An update logs off only the targets it recorded
before and no longer lists. Delete: take the disks of its own targets (by the IQNs it recorded) offline,
log those targets off (dropping their persistent logins), remove the portal when no session is left.
Script: scripts/node_storage.ps1.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure

from .base import HvProvider, HvResource
from .cluster_node import ClusterNodeProvider, NodeDisk, storage_facts, storage_failures, storage_observed, storage_params
from .connection import CONNECTION_PROP, ConnectionArgs
from .validation import Prop

SCRIPT = "node_storage.ps1"


def _node_prop(name: str, **changes: object) -> Prop:
    """ClusterNode's Prop ``name`` (declared once there), with the changes NodeStorage needs."""
    prop = next(p for p in ClusterNodeProvider.SPEC if p.name == name)
    return dataclasses.replace(prop, **changes)


class NodeStorageArgs:
    """Inputs of a NodeStorage (see the module docstring for every field and its diff behaviour)."""

    def __init__(self, connection: ConnectionArgs | pulumi.Input[dict],
                 target_portal_address: pulumi.Input[str],
                 target_iqns: pulumi.Input[Sequence[pulumi.Input[str]]],
                 disk_serial_numbers: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
                 disk_sizes: Optional[pulumi.Input[Sequence[pulumi.Input[int | str]]]] = None) -> None:
        self.connection = connection
        self.target_portal_address = target_portal_address
        self.target_iqns = target_iqns
        self.disk_serial_numbers = disk_serial_numbers
        self.disk_sizes = disk_sizes


class NodeStorageProvider(HvProvider):
    RESOURCE = "NodeStorage"
    SCRIPT = SCRIPT
    SPEC = (
        CONNECTION_PROP,
        _node_prop("target_portal_address", required=True),
        _node_prop("target_iqns", required=True, default=None),
        _node_prop("disk_serial_numbers"),
        _node_prop("disk_sizes"),
    )
    OUTPUTS = ("computer_name", "initiator_iqn", "connected_targets", "disks", "last_changes")
    KEPT_OUTPUTS = {"computer_name": ("connection",)}

    def check_more(self, olds: dict, news: dict) -> list:
        failures = storage_failures(news)
        if isinstance(news.get("target_iqns"), list) and not news["target_iqns"]:
            failures.append(CheckFailure("target_iqns", "must list at least one target IQN "
                                         "(IscsiTarget.target_iqn, e.g. iqn.1991-05.com.microsoft:dc01-cluster1-target)"))
        return failures

    def make_id(self, inputs: dict) -> str:
        return f"{inputs['connection']['host']}/node-storage"

    @staticmethod
    def script_params(props: dict, mode: str, olds: dict | None = None) -> dict:
        return {"Mode": mode, **storage_params(props, olds)}

    @staticmethod
    def _facts(state: dict) -> dict:
        return {"computer_name": state.get("ComputerName"), **storage_facts(state)}

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        from . import transport
        state = transport.run_script(inputs["connection"], SCRIPT, self.script_params(inputs, "Set", olds))
        facts = self._facts(state)
        facts["last_changes"] = list(state.get("Changes") or [])
        return facts

    def observe(self, id: str, outputs: dict) -> dict | None:
        state = self.run_mode(outputs, "Get")
        facts = self._facts(state)
        facts.update(storage_observed(outputs, state))
        return facts


class NodeStorage(HvResource):
    """A node's iSCSI attachment, apart from its ClusterNode (see the module docstring)."""

    connection: pulumi.Output[dict]
    target_portal_address: pulumi.Output[str]
    target_iqns: pulumi.Output[list]
    disk_serial_numbers: pulumi.Output[list]
    disk_sizes: pulumi.Output[Optional[list]]
    computer_name: pulumi.Output[str]
    initiator_iqn: pulumi.Output[str]
    connected_targets: pulumi.Output[list]
    disks: pulumi.Output[list[NodeDisk]]
    last_changes: pulumi.Output[list]

    PROVIDER = NodeStorageProvider
