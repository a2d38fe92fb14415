"""HighlyAvailableVM: a Hyper-V VM on a Cluster Shared Volume, made a failover-cluster role.

    vm = HighlyAvailableVM("testvm", HighlyAvailableVMArgs(
        connection=hv01_connection, domain_username="HYPER\\Administrator", domain_password=pw,
        name="TestVM", path=csv.path, memory_startup_bytes="1GB", processor_count=2, generation=2,
        disk_size_bytes="20GB", switch_name="VMNet", preferred_owners=["HV01", "HV02"],
        owner_node="HV01", state="Running"))
    vm.owner_node   # the node running it now (after a failover: the survivor, on refresh)

What it does (script ``scripts/highly_available_vm.ps1``):
- create: ``New-VM`` with its configuration and a new VHDX under ``path`` (which must be on a CSV),
  connected to ``switch_name`` BEFORE ``Add-ClusterVirtualMachineRole`` (a VM made highly available
  without its network cannot move: the seed's rule), then preferred owners, owner node and state;
- update in place: ``owner_node`` (a running VM moves by live migration, or quick migration when
  ``migration_type="Quick"``: saved, moved, restored; a stopped VM is simply moved),
  ``preferred_owners``, ``state``, ``switch_name``, and ``memory_startup_bytes`` / ``processor_count``,
  which Hyper-V changes only while the VM is off: with ``allow_restart_for_changes=True`` the provider
  stops and restarts it, otherwise preview refuses the change with a message saying so;
- replace: ``name``, ``path``, ``generation``, ``disk_size_bytes``;
- delete: removes the cluster role and the VM (found by the ``vm_id`` recorded at create), the VHDX
  files create made (``vhd_paths``) and each folder create made (``created_folders``, e.g.
  ``<path>\\<name>`` and its two subfolders) that is empty by then, never recursively: a folder that
  holds another VM's files, or anybody's, stays.

The VM is always found through the cluster (the role's owner node, then
``Get-VM -ComputerName <owner>``), never through the node that created it, so ``refresh`` after a
failover reports the new owner. Without ``owner_node`` the provider does not move the VM back;
with it, the next ``pulumi up`` live-migrates it back to the declared node.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure, DiffResult

from . import progress
from .base import HvProvider, HvResource
from .cluster_common import (ALTERNATE_CONNECTIONS_PROP, CLUSTER_CONNECTION_PROP, DOMAIN_CREDENTIAL_PROPS, domain_params, node_name,
                             nodes_outside, short_name)
from .connection import ConnectionArgs
from .validation import Prop, contains_unknown, is_unknown, number_between, require_unique, size_between, windows_path

SCRIPT = "highly_available_vm.ps1"

_VM_NAME = re.compile(r'^[^\\/:*?"<>|\x00-\x1f]{1,100}$')


def vm_name(value: str) -> str | None:
    """A VM name that is also a cluster role name and a folder name: what Windows allows in a folder
    name. [ ] are allowed (the scripts find the VM by its Id, never with Get-VM -Name, which would read
    them as wildcards)."""
    if not _VM_NAME.match(value) or value != value.strip() or value.endswith("."):
        return (f"{value!r} is not a usable VM name: 1-100 characters without \\ / : * ? \" < > |, "
                f"no leading/trailing spaces or trailing '.' (it also names the cluster role and the VM folder)")
    return None


def folder_path(value: str) -> str | None:
    """An absolute folder path, normally on a CSV: C:\\ClusterStorage\\Volume1[\\sub]."""
    return windows_path(value.rstrip("\\")) if len(value) > 3 else f"{value!r} must be a folder below the drive root, e.g. C:\\ClusterStorage\\Volume1"


SPEC: tuple[Prop, ...] = (
    CLUSTER_CONNECTION_PROP,
    ALTERNATE_CONNECTIONS_PROP,
    *DOMAIN_CREDENTIAL_PROPS,
    Prop("name", "str", required=True, checks=(vm_name,), on_change="replace",
         doc="VM name (also the cluster role's name)"),
    Prop("path", "str", required=True, checks=(folder_path,), on_change="replace", case_insensitive=True,
         doc="folder on a Cluster Shared Volume for the VM's configuration and VHDX (SharedVolume.path)"),
    Prop("memory_startup_bytes", "size", required=True, checks=(size_between(32 * 1024**2, 1024**4),),
         doc="startup memory, e.g. \"1GB\" (changes need the VM off)"),
    Prop("processor_count", "int", default=1, checks=(number_between(1, 64),),
         doc="virtual processors (changes need the VM off)"),
    Prop("generation", "int", default=2, choices=(1, 2), on_change="replace", doc="VM generation"),
    Prop("disk_size_bytes", "size", required=True, checks=(size_between(1024**3, 64 * 1024**4),), on_change="replace",
         doc="size of the new dynamic VHDX, e.g. \"20GB\""),
    Prop("switch_name", "str", required=True, doc="virtual switch (same name on every node; ClusterNode.switch_name)"),
    Prop("preferred_owners", "list", default=list, items=(node_name,),
         doc="preferred owner nodes in order of preference (empty: not managed)"),
    Prop("owner_node", "str", checks=(node_name,),
         doc="node that should run the VM; unset: wherever the cluster put it"),
    Prop("state", "str", default="Running", choices=("Running", "Off"), doc="desired power state"),
    Prop("migration_type", "str", default="Live", choices=("Live", "Quick"), on_change="ignore",
         doc="how a running VM moves when owner_node changes"),
    Prop("allow_restart_for_changes", "bool", default=False, on_change="ignore",
         doc="let the provider turn the VM off and on again for memory/processor changes"),
    Prop("cluster_nodes", "list", items=(node_name,), on_change="ignore",
         doc="the cluster's nodes (FailoverCluster.nodes): owner_node and preferred_owners are checked "
             "against them at preview; unset: not checked"),
)

OUTPUTS = ("vm_id", "group_name", "group_state", "vm_state", "vhd_path", "config_path", "actual_preferred_owners",
           "vhd_paths", "created_folders")

_NEEDS_OFF = ("memory_startup_bytes", "processor_count")


class HighlyAvailableVMArgs:
    """Inputs of a HighlyAvailableVM (see the module docstring)."""

    def __init__(
        self,
        connection: "ConnectionArgs | Mapping[str, Any]",
        domain_username: pulumi.Input[str],
        domain_password: pulumi.Input[str],
        name: pulumi.Input[str],
        path: pulumi.Input[str],
        memory_startup_bytes: pulumi.Input[Any],
        disk_size_bytes: pulumi.Input[Any],
        switch_name: pulumi.Input[str],
        processor_count: Optional[pulumi.Input[int]] = None,
        generation: Optional[pulumi.Input[int]] = None,
        preferred_owners: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
        owner_node: Optional[pulumi.Input[str]] = None,
        state: Optional[pulumi.Input[str]] = None,
        migration_type: Optional[pulumi.Input[str]] = None,
        allow_restart_for_changes: Optional[pulumi.Input[bool]] = None,
        alternate_connections: "Optional[Sequence[ConnectionArgs | Mapping[str, Any]]]" = None,
        cluster_nodes: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
    ) -> None:
        self.connection = connection
        self.domain_username = domain_username
        self.domain_password = domain_password
        self.name = name
        self.path = path
        self.memory_startup_bytes = memory_startup_bytes
        self.disk_size_bytes = disk_size_bytes
        self.switch_name = switch_name
        self.processor_count = processor_count
        self.generation = generation
        self.preferred_owners = preferred_owners
        self.owner_node = owner_node
        self.state = state
        self.migration_type = migration_type
        self.allow_restart_for_changes = allow_restart_for_changes
        self.alternate_connections = alternate_connections
        self.cluster_nodes = cluster_nodes


def _same_owner(old: Any, new: Any) -> bool:
    # No declared owner: wherever the cluster runs it is fine (a failover is not drift).
    return not new or short_name(old) == short_name(new)


def _same_node_list(old: Any, new: Any) -> bool:
    return [short_name(x) for x in old or []] == [short_name(x) for x in new or []]


class HighlyAvailableVMProvider(HvProvider):
    """check/diff/create/read/update/delete of a HighlyAvailableVM (holds no state of its own)."""

    RESOURCE = "HighlyAvailableVM"
    SCRIPT = SCRIPT
    SPEC = SPEC
    OUTPUTS = OUTPUTS
    # the VM's identity and files: only a new VM (a replacement) changes them
    KEPT_OUTPUTS = {k: ("name", "path", "generation", "disk_size_bytes") for k in (
        "vm_id", "group_name", "vhd_path", "config_path")}
    DELETE_BEFORE_REPLACE = True  # the replacement reuses the VM and role name

    def check_more(self, olds: dict, news: dict) -> list[CheckFailure]:
        failures: list[CheckFailure] = []
        owners = news.get("preferred_owners")
        if isinstance(owners, list):
            failures += require_unique([o if is_unknown(o) else short_name(o) for o in owners], "preferred_owners")
        failures += nodes_outside(news.get("cluster_nodes"), news.get("owner_node"), "owner_node")
        for i, owner in enumerate(owners if isinstance(owners, list) else []):
            failures += nodes_outside(news.get("cluster_nodes"), owner, f"preferred_owners[{i}]")
        # Hyper-V changes startup memory and processor count only while the VM is off: refuse at
        # preview unless the user allowed the restart or asks for the VM to be off anyway.
        if olds and olds.get("state") == "Running" and news.get("state") == "Running" \
                and not news.get("allow_restart_for_changes"):
            for prop in _NEEDS_OFF:
                old, new = olds.get(prop), news.get(prop)
                if old is not None and not contains_unknown(new) and _normalized(old) != new:
                    failures.append(CheckFailure(prop, (
                        f"changing {prop} from {_normalized(old)} to {new} needs {_vm_text(news.get('name'))} turned off, and it is "
                        f"running: set allow_restart_for_changes=True to let the provider stop and restart it, "
                        f"or set state=\"Off\"")))
        return failures

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        return self.diff_with(olds, news, {"owner_node": _same_owner, "preferred_owners": _same_node_list},
                         replace_when_known=("path",))

    def make_id(self, inputs: dict) -> str:
        return str(inputs["name"])

    @staticmethod
    def script_params(props: Mapping[str, Any], mode: str) -> dict:
        return {
            "Mode": mode,
            "Name": props["name"],
            "Path": str(props.get("path") or "").rstrip("\\"),
            "MemoryStartupBytes": int(props.get("memory_startup_bytes") or 0),
            "ProcessorCount": int(props.get("processor_count") or 1),
            "Generation": int(props.get("generation") or 2),
            "DiskSizeBytes": int(props.get("disk_size_bytes") or 0),
            "SwitchName": props.get("switch_name") or "",
            "PreferredOwners": list(props.get("preferred_owners") or []),
            "OwnerNode": props.get("owner_node") or "",
            "State": props.get("state") or "Running",
            "MigrationType": props.get("migration_type") or "Live",
            "AllowRestart": bool(props.get("allow_restart_for_changes")),
            # what create recorded: update and delete act on this VM, these files and folders alone
            "VMId": props.get("vm_id") or "",
            "VhdPaths": _recorded_vhds(props),
            "CreatedFolders": _recorded_folders(props),
            **domain_params(props),
        }

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        target, now = inputs.get("owner_node"), (olds or {}).get("owner_node")
        if target and now and not _same_owner(now, target):
            progress.status(f"{str(inputs.get('migration_type') or 'Live').lower()} migration of {inputs['name']} "
                            f"from {short_name(now)} to {short_name(target)}")
        recorded = {k: (olds or {}).get(k) for k in ("vm_id", "vhd_paths", "created_folders")}
        state = self.run_mode({**inputs, **recorded}, "Set")
        computed = computed_outputs(state)
        # set by the create that made (or adopted) the VM, kept by every update (None: a state from
        # before they were recorded, see _recorded_vhds / _recorded_folders)
        for out, made in (("vhd_paths", "CreatedVhdPaths"), ("created_folders", "CreatedFolders")):
            computed[out] = list(state[made]) if state.get(made) is not None else recorded[out]
        # owner_node is an input and an output: after create/update it names where the VM runs.
        computed["owner_node"] = state.get("OwnerNode") or inputs.get("owner_node")
        return computed

    def observe(self, id: str, outputs: dict) -> dict | None:
        state = self.run_mode(outputs, "Get")
        if not state.get("Exists"):
            return None
        observed = computed_outputs(state)
        # Drift in the inputs' own terms: the real owner (a failover shows here), power state, sizing.
        observed["owner_node"] = state.get("OwnerNode") or outputs.get("owner_node")
        observed["state"] = _power_state(state)
        observed["memory_startup_bytes"] = int(state.get("MemoryStartupBytes") or 0)
        observed["processor_count"] = int(state.get("ProcessorCount") or 0)
        observed["switch_name"] = state.get("SwitchName") or ""
        owners = state.get("PreferredOwners") or []
        if outputs.get("preferred_owners") and not _same_node_list(owners, outputs.get("preferred_owners")):
            observed["preferred_owners"] = owners
        return observed


def computed_outputs(state: Mapping[str, Any]) -> dict:
    return {
        "vm_id": state.get("VMId") or "",
        "group_name": state.get("GroupName") or "",
        "group_state": state.get("GroupState") or "",
        "vm_state": state.get("VMState") or "",
        "vhd_path": state.get("VhdPath") or "",
        "config_path": state.get("Path") or "",
        "actual_preferred_owners": list(state.get("PreferredOwners") or []),
    }


def _vm_text(name: Any) -> str:
    # a name taken from another resource's output may still be unknown at preview: never print its repr
    return "the VM" if contains_unknown(name) else f"VM {name!r}"
def _recorded_vhds(props: Mapping[str, Any]) -> list:
    """The VHDX files create recorded; for a state written before they were recorded, its disk."""
    if props.get("vhd_paths") is not None:
        return list(props["vhd_paths"])
    return [props["vhd_path"]] if props.get("vhd_path") else []


def _recorded_folders(props: Mapping[str, Any]) -> list:
    """The folders create recorded; for a state written before they were recorded, the folders New-VM
    makes for a VM of its own (removed, like recorded ones, only when empty)."""
    if props.get("created_folders") is not None or not props.get("name") or not props.get("path"):
        return list(props.get("created_folders") or [])
    folder = str(props["path"]).rstrip("\\") + "\\" + str(props["name"])
    return [folder, folder + "\\Virtual Hard Disks", folder + "\\Virtual Machines"]


def _normalized(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _power_state(state: Mapping[str, Any]) -> str:
    vm_state = str(state.get("VMState") or "")
    return "Running" if vm_state == "Running" else ("Off" if vm_state == "Off" else vm_state)


class HighlyAvailableVM(HvResource):
    """A clustered VM on a CSV (see the module docstring)."""

    vm_id: pulumi.Output[str]
    group_name: pulumi.Output[str]
    group_state: pulumi.Output[str]
    vm_state: pulumi.Output[str]
    owner_node: pulumi.Output[str]
    vhd_path: pulumi.Output[str]
    config_path: pulumi.Output[str]
    actual_preferred_owners: pulumi.Output[list]
    name: pulumi.Output[str]
    state: pulumi.Output[str]

    PROVIDER = HighlyAvailableVMProvider
