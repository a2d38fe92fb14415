"""ClusterLab: the seed's whole lab (iSCSI storage, two Hyper-V nodes, a failover cluster with a disk
witness, a Cluster Shared Volume and a highly available VM) as one ComponentResource.

    from hvprovider import ClusterLab, ClusterLabArgs, LabHost, LabNode, LabVM
    lab = ClusterLab("seed", ClusterLabArgs(                 # or the same fields as keyword arguments
        storage_host=LabHost("DC01", dc01_connection, address="192.168.10.10"),
        nodes=[LabNode("HV01", hv01_connection, vm_nic="Ethernet 2"), LabNode("HV02", hv02_connection, vm_nic="Ethernet 2")],
        domain_fqdn="hyper.local", domain_username="HYPER\\Administrator", domain_password=domain_password,
        cluster_name="CLUSTER1", cluster_address="192.168.10.20", vm=LabVM(owner_node="HV01")))
    pulumi.export("cluster_fqdn", lab.cluster_fqdn)

(the repo's ``__main__.py`` builds the same from stack config with ``ClusterLabConfig.from_dict``)

The typed config (``ClusterLabConfig``; ``from_dict`` reads the same shape from stack config, keys
in camelCase there):

    storage_host   LabHost(name, connection, address)   the iSCSI Target Server (seed: DC01); ``address``
                   is the IP the nodes use as iSCSI target portal
    nodes          [LabNode(name, connection, vm_nic)]   the Hyper-V hosts; ``vm_nic`` is the NIC the
                   VM switch binds to (same switch name on every node)
    domain_fqdn, domain_username, domain_password       the domain the nodes join; the same account
                   joins them and runs the cluster cmdlets (the double hop, docs/provider-cluster.md)
    cluster_name, cluster_address                       NetBIOS name and IPv4 of the cluster
    quorum_size_bytes, storage_size_bytes               the two iSCSI virtual disks ("1GB", "40GB")
    extra_volumes  [LabVolume(name, size_bytes)]         more LUNs, brought online on every node
    vm             LabVM(name, memory_startup_bytes, processor_count, generation, disk_size_bytes,
                   state, owner_node, preferred_owners, migration_type, allow_restart_for_changes)
    extra_vms      [LabVM(...)]                          more VMs on the lab's CSV
    switch_name, target_name, vhd_folder, csv_label, skip_validation       (defaults below)
    domain_controller  LabDomainController(safe_mode_password, domain_netbios_name, forest_mode,
                   domain_mode): the storage host becomes the first DC of a new forest domain_fqdn (the
                   seed's step 1); leave it out when the domain exists (then the storage host is a member
                   or the DC already, and DomainController is not declared)
    management_tools   True: the cluster and Hyper-V management tools on the storage host (step 4)
    machine_host   MachineHost(name, connection, switch, image_path, ...): the lab on ONE Hyper-V host;
                   the storage host and the nodes are first built there as LabMachines (nested VMs,
                   from generalized images) and reached at their addresses (storage_host.address;
                   nodes' address and vm_nic_address), so they take no connection; machine_passwords
                   holds each one's Administrator password (from_dict: hostPasswords)

Each field is checked with the Prop of the resource input it feeds (LAB_SPEC, CONFIG_SPEC: derived
from the resources' SPEC tables, never restated), then by the lab's own rules (``lab_failures``), before
any resource is registered; a problem is an ``errors.ArgumentError`` naming the field's path.

What a larger stack builds on (attributes): machines (LabMachine by host name; empty without
machine_host), domain_controller (or None), management_tools (or None), target, quorum_volume, storage_volume, extra_volumes
(by name), nodes, node_storage (one per node, in the order of nodes), cluster, shared_volume, vm (= vms[0]), vms; docs/provider-cluster.md has an example.

Resources and their order (dependencies follow the outputs that flow between them):
    [DomainController on the storage host, with domain_controller] -> [ManagementTools]
    -> IscsiTarget (InitiatorIds = DNSName:<node fqdn>, so the target needs no node facts first)
    -> IscsiVolume quorum + storage + extra volumes
    ClusterNode per node (features, domain join, restart, CredSSP, VM switch; attach_storage=False), at
    the same time as the storage (it waits for the DomainController alone, when the lab creates the forest)
    -> NodeStorage per node (after its ClusterNode and the target and volumes: iSCSI session, LUNs online)
    -> FailoverCluster (after every NodeStorage; validation, nodes, witness = the quorum LUN by serial number)
    -> SharedVolume (the storage LUN by serial number) -> HighlyAvailableVMs (on the CSV path)
Outputs: cluster_fqdn, csv_path, vm_owner_node, target_iqn, validation_summary.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure

from .cluster_common import short_name
from .cluster_node import ClusterNode, ClusterNodeArgs, ClusterNodeProvider
from .domain_controller import DomainController, DomainControllerArgs, DomainControllerProvider
from .connection import CONNECTION_FIELDS, ConnectionArgs
from .errors import ArgumentError
from .failover_cluster import FailoverCluster, FailoverClusterArgs, FailoverClusterProvider
from .highly_available_vm import HighlyAvailableVM, HighlyAvailableVMArgs, HighlyAvailableVMProvider, folder_path
from .iscsi_target import IscsiTarget, IscsiTargetArgs, IscsiTargetProvider
from .iscsi_volume import IscsiVolume, IscsiVolumeArgs, IscsiVolumeProvider
from .lab_machine import ADAPTER_FIELDS, NESTED_MIN_MEMORY, LabMachine, LabMachineArgs, LabMachineProvider
from .management_tools import ManagementTools, ManagementToolsArgs
from .node_storage import NodeStorage, NodeStorageArgs
from .shared_volume import SharedVolume, SharedVolumeArgs, SharedVolumeProvider
from .validation import Prop, format_size, is_unknown, netbios_name, validate


@dataclass
class LabHost:
    """A host the lab talks to: its NetBIOS name and WinRM connection (None when the lab builds it as a
    LabMachine: ``machine_host``)."""

    name: str
    connection: "ConnectionArgs | Mapping[str, Any] | None" = None
    address: Optional[str] = None  # iSCSI portal address the nodes use (storage host only); a LabMachine's IP


@dataclass
class LabNode:
    """A Hyper-V host that becomes a cluster node."""

    name: str
    connection: "ConnectionArgs | Mapping[str, Any] | None" = None
    vm_nic: Optional[str] = None  # NIC the VM switch is bound to (required)
    address: Optional[str] = None  # with machine_host: the LabMachine's management IPv4 (its WinRM address)
    vm_nic_address: Optional[str] = None  # with machine_host: the IPv4 of its second adapter, named vm_nic


@dataclass
class MachineHost:
    """The one Hyper-V host that carries the lab's servers as nested VMs (LabMachine's fields): with it,
    the storage host and the nodes are LabMachines on this host, built from generalized images, and
    the lab needs nothing prepared but this host, its switch and the images."""

    name: str                    # the host's name (hostPasswords key; names the resources)
    connection: "ConnectionArgs | Mapping[str, Any]"
    switch: str                  # the host's virtual switch for the lab network
    image_path: str              # generalized Windows Server image (the storage host / DC)
    node_image_path: Optional[str] = None  # generalized image of the nodes (default: image_path)
    folder: str = "C:\\Lab"
    disk_mode: str = "differencing"
    time_zone: str = "UTC"
    prefix_length: int = 24
    storage_memory_bytes: Any = "2GB"
    node_memory_bytes: Any = "4GB"  # nested Hyper-V: at least 4GB
    processor_count: int = 2


@dataclass
class LabVM:
    """A highly available VM on the lab's CSV (field names, checks and meaning: HighlyAvailableVM's)."""

    name: str = "TestVM"
    memory_startup_bytes: Any = "1GB"
    processor_count: int = 1
    generation: int = 2
    disk_size_bytes: Any = "20GB"
    state: str = "Running"
    owner_node: Optional[str] = None
    preferred_owners: Optional[Sequence[str]] = None
    migration_type: str = "Live"
    allow_restart_for_changes: bool = False


@dataclass
class LabVolume:
    """One more iSCSI LUN on the lab's target, brought online on every node (e.g. for a second CSV)."""

    name: str          # letters, digits and '-': names the resource (<lab>-volume-<name>) and the .vhdx
    size_bytes: Any    # bytes or "10GB", as IscsiVolume.size_bytes


@dataclass
class LabDomainController:
    """The seed's step 1: the storage host becomes the first DC of a new forest named ``domain_fqdn``
    (field names, checks and meaning: DomainController's). Leave it out when the domain exists."""

    safe_mode_password: pulumi.Input[str]
    domain_netbios_name: Optional[str] = None
    forest_mode: str = "WinThreshold"
    domain_mode: str = "WinThreshold"


@dataclass
class ClusterLabConfig:
    """Everything the lab needs (see the module docstring)."""

    storage_host: LabHost
    nodes: Sequence[LabNode]
    domain_fqdn: str
    domain_username: str
    domain_password: pulumi.Input[str]
    cluster_name: str
    cluster_address: str
    vm: LabVM = field(default_factory=LabVM)
    extra_vms: Sequence[LabVM] = ()
    quorum_size_bytes: Any = "1GB"
    storage_size_bytes: Any = "40GB"
    extra_volumes: Sequence[LabVolume] = ()
    switch_name: str = "VMNet"
    target_name: str = "cluster"
    vhd_folder: str = "C:\\iSCSIVirtualDisks"
    csv_label: str = "VMStorage"
    skip_validation: bool = False
    domain_controller: Optional[LabDomainController] = None
    management_tools: bool = False
    machine_host: Optional[MachineHost] = None
    # with machine_host: each machine's local Administrator password, by host name
    machine_passwords: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, passwords: "Mapping[str, pulumi.Input[str]] | pulumi.Output",
                  domain_password: pulumi.Input[str],
                  dsrm_password: Optional[pulumi.Input[str]] = None) -> "ClusterLabConfig":
        """Build the config from stack config (camelCase keys, see stacks/Pulumi.example.yaml).

        Every key and value is checked first, strictly (``skipValidation: "no"`` is an error, not
        True), then what only the whole lab can know (node names unique, VM owners among the nodes);
        the problems of a stage are reported at once by their key paths (``lab.nodes[1].name``) as an
        ``ArgumentError``, before any resource exists. ``passwords`` maps a host name to the password
        of its connection, or is an Output of such a map (secrets live in their own secure config
        keys, never inside this plain object)."""
        if not isinstance(data, Mapping):
            raise ArgumentError(f"stack config lab: must be an object, got {type(data).__name__}")
        values, failures = validate(CONFIG_SPEC, data)
        if failures:
            raise _config_error("stack config lab", failures, prefix="lab.")

        def given(section: Mapping[str, Any] | None, keys: Mapping[str, str]) -> dict:
            """{typed field: value} of the keys the user wrote (the dataclasses hold the defaults)."""
            return {f: section[k] for k, f in keys.items() if section and section.get(k) is not None}

        def connection(host: Mapping[str, Any]) -> Optional[dict]:
            if host.get("connection") is None:
                return None  # built as a LabMachine (machineHost)
            return {_snake(k): v for k, v in host["connection"].items() if v is not None}

        storage = values["storageHost"]
        volumes = values.get("storage") or {}
        forest = values.get("domainController")
        if forest is not None and dsrm_password is None:
            raise ArgumentError("stack config lab.domainController: the new forest needs its DSRM password: "
                                "pulumi config set --secret dsrmPassword <password>")
        cluster = values["cluster"]
        vm_keys = {_camel(f.name): f.name for f in dataclasses.fields(LabVM)}
        config = cls(
            storage_host=LabHost(name=storage["name"], connection=connection(storage), address=storage.get("address")),
            nodes=[LabNode(name=n["name"], connection=connection(n), vm_nic=n["vmNic"], address=n.get("address"),
                           vm_nic_address=n.get("vmNicAddress")) for n in values["nodes"]],
            domain_fqdn=values["domain"]["fqdn"],
            domain_username=values["domain"]["username"],
            domain_password=domain_password,
            cluster_name=cluster["name"],
            cluster_address=cluster["address"],
            vm=LabVM(**given(values.get("vm"), vm_keys)),
            extra_vms=[LabVM(**given(v, vm_keys)) for v in values.get("extraVms") or []],
            extra_volumes=[LabVolume(name=v["name"], size_bytes=v["size"]) for v in volumes.get("extraVolumes") or []],
            **given(cluster, {"skipValidation": "skip_validation"}),
            **given(volumes, {"quorumSize": "quorum_size_bytes", "storageSize": "storage_size_bytes",
                              "targetName": "target_name", "folder": "vhd_folder", "csvLabel": "csv_label"}),
            **given(values, {"switchName": "switch_name", "managementTools": "management_tools"}),
            domain_controller=None if forest is None else LabDomainController(
                safe_mode_password=dsrm_password,
                **given(forest, {"netbiosName": "domain_netbios_name", "forestMode": "forest_mode",
                                 "domainMode": "domain_mode"})),
            machine_host=None if values.get("machineHost") is None else MachineHost(
                connection=connection(values["machineHost"]),
                **given(values["machineHost"], {_camel(f.name): f.name for f in dataclasses.fields(MachineHost)
                                                if f.name != "connection"})),
        )
        servers = [config.storage_host, *config.nodes]
        if config.machine_host is not None:
            # a LabMachine's Administrator password is the host's entry in hostPasswords
            config.machine_passwords = {h.name: _password_of(passwords, h.name) for h in servers}
        failures = lab_failures(config)
        if failures:
            raise _config_error("stack config lab", [CheckFailure(_config_path(f.property), f.reason) for f in failures],
                                prefix="lab.")
        for host in [*servers, *([config.machine_host] if config.machine_host is not None else [])]:
            if host.connection is not None:
                host.connection.setdefault("password", _password_of(passwords, host.name))  # type: ignore[union-attr]
        return config


#: The Python constructor convention of the resources: ``ClusterLab(name, ClusterLabArgs(...))``.
ClusterLabArgs = ClusterLabConfig


# ---------------------------------------------------------------------------------------------
# the config's checks, taken from the resources' own SPEC tables (one declaration per property)

def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _prop(provider: type, name: str, as_name: str | None = None, **changes: Any) -> Prop:
    """The Prop ``name`` of a resource's SPEC, renamed to the config field that feeds it."""
    prop = next(p for p in provider.SPEC if p.name == name)
    return dataclasses.replace(prop, name=as_name or name, **changes)


def _camel_prop(prop: Prop) -> Prop:
    return dataclasses.replace(prop, name=_camel(prop.name), fields=tuple(_camel_prop(f) for f in prop.fields),
                               default=None)


def _volume_name(value: str) -> str | None:
    ok = 0 < len(value) <= 32 and value.replace("-", "").isalnum() and value.isascii() and not value.startswith("-")
    return None if ok else f"{value!r} is not a volume name: 1-32 letters, digits or '-' (it names the .vhdx file)"


_CN, _FC, _HA, _IT, _IV, _SV = (ClusterNodeProvider, FailoverClusterProvider, HighlyAvailableVMProvider,
                                IscsiTargetProvider, IscsiVolumeProvider, SharedVolumeProvider)
_DC, _LM = DomainControllerProvider, LabMachineProvider
_OPTIONAL = {"required": False, "default": None}  # the dataclasses hold the lab's defaults
_HOST_NAME = Prop("name", "str", required=True, checks=(netbios_name,), doc="the host's computer name, e.g. HV01")
_ADAPTER = {p.name: p for p in ADAPTER_FIELDS}
_IP = dataclasses.replace(_ADAPTER["ip_address"], required=False)
# MachineHost's fields, each checked as the LabMachine input it feeds
MACHINE_HOST_FIELDS: tuple[Prop, ...] = (
    _HOST_NAME, Prop("connection", "any", required=True),
    dataclasses.replace(_ADAPTER["switch"], name="switch"),
    _prop(_LM, "image_path"), _prop(_LM, "image_path", "node_image_path", **_OPTIONAL),
    _prop(_LM, "folder", **_OPTIONAL), _prop(_LM, "disk_mode", **_OPTIONAL), _prop(_LM, "time_zone", **_OPTIONAL),
    dataclasses.replace(_ADAPTER["prefix_length"], default=None),
    _prop(_LM, "memory_bytes", "storage_memory_bytes", **_OPTIONAL),
    _prop(_LM, "memory_bytes", "node_memory_bytes", **_OPTIONAL),
    _prop(_LM, "processor_count", **_OPTIONAL),
)
VM_FIELDS = tuple(_prop(_HA, f.name, **_OPTIONAL) for f in dataclasses.fields(LabVM))
VOLUME_FIELDS = (Prop("name", "str", required=True, checks=(_volume_name,)), _prop(_IV, "size_bytes"))
LAB_SPEC: tuple[Prop, ...] = (
    Prop("storage_host", "dict", required=True, fields=(
        _HOST_NAME, Prop("connection", "any"), _prop(_CN, "target_portal_address", "address"))),
    Prop("nodes", "list", required=True, item_kind="dict", fields=(
        _HOST_NAME, Prop("connection", "any"), _prop(_CN, "switch_adapter", "vm_nic", required=True),
        dataclasses.replace(_IP, name="address"), dataclasses.replace(_IP, name="vm_nic_address"))),
    _prop(_CN, "domain_name", "domain_fqdn", required=True),
    _prop(_CN, "domain_join_username", "domain_username", required=True),
    Prop("domain_password", "any", required=True, secret=True),
    _prop(_FC, "name", "cluster_name"),
    _prop(_FC, "static_address", "cluster_address"),
    Prop("vm", "dict", required=True, fields=VM_FIELDS),
    Prop("extra_vms", "list", item_kind="dict", fields=VM_FIELDS),
    _prop(_IV, "size_bytes", "quorum_size_bytes", **_OPTIONAL),
    _prop(_IV, "size_bytes", "storage_size_bytes", **_OPTIONAL),
    Prop("extra_volumes", "list", item_kind="dict", fields=VOLUME_FIELDS),
    _prop(_CN, "switch_name", required=True),
    _prop(_IT, "target_name"),
    Prop("vhd_folder", "str", required=True, checks=(folder_path,)),
    _prop(_SV, "label", "csv_label", **_OPTIONAL),
    _prop(_FC, "skip_validation", **_OPTIONAL),
    Prop("domain_controller", "dict", fields=(
        Prop("safe_mode_password", "any", required=True, secret=True),
        _prop(_DC, "domain_netbios_name"), _prop(_DC, "forest_mode", **_OPTIONAL), _prop(_DC, "domain_mode", **_OPTIONAL))),
    Prop("management_tools", "bool", doc="install the cluster and Hyper-V management tools on the storage host"),
    Prop("machine_host", "dict", fields=MACHINE_HOST_FIELDS),
    Prop("machine_passwords", "any", secret=True),
)

# The stack config's shape (camelCase keys, grouped), checked with the same Props.
_CONFIG_CONNECTION = Prop("connection", "dict", fields=tuple(_camel_prop(f) for f in CONNECTION_FIELDS))
_CONFIG_HOST_FIELDS = (_HOST_NAME, _CONFIG_CONNECTION)
CONFIG_SPEC: tuple[Prop, ...] = (
    Prop("storageHost", "dict", required=True, fields=(
        *_CONFIG_HOST_FIELDS, _prop(_CN, "target_portal_address", "address"))),
    Prop("nodes", "list", required=True, item_kind="dict", fields=(
        *_CONFIG_HOST_FIELDS, _prop(_CN, "switch_adapter", "vmNic", required=True),
        dataclasses.replace(_IP, name="address"), dataclasses.replace(_IP, name="vmNicAddress"))),
    Prop("domain", "dict", required=True, fields=(
        _prop(_CN, "domain_name", "fqdn", required=True), _prop(_CN, "domain_join_username", "username", required=True))),
    Prop("cluster", "dict", required=True, fields=(
        _prop(_FC, "name"), _prop(_FC, "static_address", "address"), _prop(_FC, "skip_validation", "skipValidation", **_OPTIONAL))),
    Prop("storage", "dict", fields=(
        _prop(_IT, "target_name", "targetName", **_OPTIONAL), Prop("folder", "str", checks=(folder_path,)),
        _prop(_IV, "size_bytes", "quorumSize", **_OPTIONAL), _prop(_IV, "size_bytes", "storageSize", **_OPTIONAL),
        _prop(_SV, "label", "csvLabel", **_OPTIONAL),
        Prop("extraVolumes", "list", item_kind="dict", fields=(VOLUME_FIELDS[0], _prop(_IV, "size_bytes", "size"))))),
    _prop(_CN, "switch_name", "switchName"),
    Prop("vm", "dict", fields=tuple(_camel_prop(f) for f in VM_FIELDS)),
    Prop("extraVms", "list", item_kind="dict", fields=tuple(_camel_prop(f) for f in VM_FIELDS)),
    Prop("domainController", "dict", fields=(
        _prop(_DC, "domain_netbios_name", "netbiosName"), _prop(_DC, "forest_mode", "forestMode", **_OPTIONAL),
        _prop(_DC, "domain_mode", "domainMode", **_OPTIONAL))),
    Prop("managementTools", "bool"),
    Prop("machineHost", "dict", fields=(
        dataclasses.replace(_CONFIG_CONNECTION, required=True),
        *(_camel_prop(f) for f in MACHINE_HOST_FIELDS if f.name != "connection"))),
)

# typed field -> stack config key, where they differ by more than camelCase
_CONFIG_KEYS = {"storage_host": "storageHost", "domain_fqdn": "domain.fqdn", "domain_username": "domain.username",
                "cluster_name": "cluster.name", "cluster_address": "cluster.address",
                "skip_validation": "cluster.skipValidation", "quorum_size_bytes": "storage.quorumSize",
                "storage_size_bytes": "storage.storageSize", "target_name": "storage.targetName",
                "vhd_folder": "storage.folder", "csv_label": "storage.csvLabel", "extra_volumes": "storage.extraVolumes",
                "domain_controller": "domainController", "machine_host": "machineHost"}


def _plain(value: Any) -> Any:
    """The typed config as nested dicts and lists (ConnectionArgs and Outputs stay as they are)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def lab_failures(config: ClusterLabConfig) -> list[CheckFailure]:
    """Everything wrong with a typed config, each on its field path (``nodes[1].name``): the
    resources' own checks, then what only the whole lab can know (names unique, owners are nodes)."""
    _, failures = validate(LAB_SPEC, _plain(config))
    if failures:
        return failures
    nodes = [short_name(n.name) for n in config.nodes]
    if not nodes:
        return [CheckFailure("nodes", "needs at least one node")]
    failures += _machine_failures(config)
    for i, node in enumerate(nodes):
        if node in nodes[:i]:
            failures.append(CheckFailure(f"nodes[{i}].name", f"{config.nodes[i].name!r} is listed twice"))
    vms = [("vm", config.vm)] + [(f"extra_vms[{i}]", vm) for i, vm in enumerate(config.extra_vms)]
    seen: set[str] = set()
    for path, vm in vms:
        if vm.name.lower() in seen:
            failures.append(CheckFailure(f"{path}.name", f"{vm.name!r} is the name of another VM of the lab"))
        seen.add(vm.name.lower())
        candidates = [("owner_node", vm.owner_node)] + [
            (f"preferred_owners[{j}]", o) for j, o in enumerate(vm.preferred_owners or [])]
        for where, node in candidates:
            if node and not is_unknown(node) and short_name(node) not in nodes:
                failures.append(CheckFailure(f"{path}.{where}", f"{node!r} is not a node of the lab; its nodes are: "
                                             + ", ".join(n.name for n in config.nodes)))
    volumes = ["quorum", "storage"]
    for i, volume in enumerate(config.extra_volumes):
        if volume.name.lower() in volumes:
            failures.append(CheckFailure(f"extra_volumes[{i}].name",
                                         f"{volume.name!r} is taken (quorum, storage and each extra volume name one LUN)"))
        volumes.append(volume.name.lower())
    return failures


def _machine_failures(config: ClusterLabConfig) -> list[CheckFailure]:
    """Either every host has a connection, or machine_host builds them (then each needs its addresses)."""
    failures = []
    hosts = [("storage_host", config.storage_host)] + [(f"nodes[{i}]", n) for i, n in enumerate(config.nodes)]
    if config.machine_host is None:
        for path, host in hosts:
            if host.connection is None:
                failures.append(CheckFailure(f"{path}.connection", "required (or declare machine_host: the lab then "
                                             "builds this host as a LabMachine and connects to it itself)"))
        return failures
    for _path, host in hosts:
        if host.name not in (config.machine_passwords or {}):
            failures.append(CheckFailure("machine_passwords", f"no password for {host.name!r}: the Administrator "
                                         f"password each LabMachine gets, by host name (stack config: hostPasswords)"))
    memory = config.machine_host.node_memory_bytes
    if isinstance(memory, int) and memory < NESTED_MIN_MEMORY:
        failures.append(CheckFailure("machine_host.node_memory_bytes", (
            f"{format_size(memory)} is too little for a node: the nodes are nested Hyper-V hosts, allowed 4GB or more")))
    seen: dict[str, str] = {}
    for path, host in hosts:
        if host.connection is not None:
            failures.append(CheckFailure(f"{path}.connection", "not allowed with machine_host: the host is built as a "
                                         "LabMachine and the lab connects to it at its address"))
        wanted = [("address", host.address)]
        if isinstance(host, LabNode):
            wanted.append(("vm_nic_address", host.vm_nic_address))
        for key, value in wanted:
            if not value:
                failures.append(CheckFailure(f"{path}.{key}", "required with machine_host (the machine's static IPv4 "
                                             "address on the lab switch)"))
            elif not is_unknown(value) and value in seen:
                failures.append(CheckFailure(f"{path}.{key}", f"{value} is also {seen[value]}"))
            elif not is_unknown(value):
                seen[value] = f"{path}.{key}"
    return failures


def _config_path(path: str) -> str:
    head, sep, rest = path.partition(".")
    name, bracket, index = head.partition("[")
    head = _CONFIG_KEYS.get(name, _camel(name)) + bracket + index
    return head + sep + ".".join(_camel(p) for p in rest.split(".")) if rest else head


def _config_error(where: str, failures: Sequence[CheckFailure], prefix: str = "") -> ArgumentError:
    lines = [f"  {prefix}{f.property}: {f.reason}" for f in failures]
    return ArgumentError(f"{where}: {len(lines)} problem(s), nothing was changed:\n" + "\n".join(lines))


def _password_of(passwords: Any, host: str) -> pulumi.Input[str]:
    def pick(table: Mapping[str, Any]) -> Any:
        if not isinstance(table, Mapping) or host not in table:
            raise ArgumentError(f"stack config hostPasswords: no password for host {host!r} (set it with "
                                f"pulumi config set --secret hostPasswords '{{\"{host}\": \"...\", ...}}')")
        return table[host]
    return passwords.apply(pick) if isinstance(passwords, pulumi.Output) else pick(passwords)


class ClusterLab(pulumi.ComponentResource):
    """The seed's lab, and what a larger stack builds on (see the module docstring)."""

    target: IscsiTarget
    quorum_volume: IscsiVolume
    storage_volume: IscsiVolume
    extra_volumes: dict[str, IscsiVolume]
    nodes: list[ClusterNode]
    node_storage: list[NodeStorage]
    cluster: FailoverCluster
    shared_volume: SharedVolume
    vm: HighlyAvailableVM
    vms: list[HighlyAvailableVM]
    cluster_fqdn: pulumi.Output[str]
    csv_path: pulumi.Output[str]
    vm_owner_node: pulumi.Output[str]
    target_iqn: pulumi.Output[str]
    validation_summary: pulumi.Output[str]

    def __init__(self, resource_name: str, args: Optional[ClusterLabConfig] = None,
                 opts: Optional[pulumi.ResourceOptions] = None, **kwargs: Any) -> None:
        config = _lab_args(resource_name, args, kwargs)
        failures = lab_failures(config)
        if failures:
            raise _config_error(f"ClusterLab {resource_name!r}", failures)
        super().__init__("hvprovider:lab:ClusterLab", resource_name, None, opts)
        name = resource_name
        child = pulumi.ResourceOptions(parent=self)
        domain = config.domain_fqdn.lower()
        node_names = [n.name for n in config.nodes]
        # with machine_host the hosts are first built as LabMachines, and reached at their addresses
        self.machines: dict[str, LabMachine] = self._machines(name, config, child) if config.machine_host else {}
        connections = {h.name: self.machines[h.name].machine_connection if self.machines else h.connection
                       for h in (config.storage_host, *config.nodes)}
        storage_connection = connections[config.storage_host.name]
        node_connections = [connections[n.name] for n in config.nodes]
        first_connection = node_connections[0]
        # the cluster resources talk to the first node, and to the others when it does not answer
        others = node_connections[1:]

        # the seed's step 1: the storage host becomes the forest's first DC before anything else runs on
        # it (the promotion restarts it); the nodes join the domain it answers for
        self.domain_controller: Optional[DomainController] = None
        storage_child = child
        domain_name: pulumi.Input[str] = config.domain_fqdn
        if config.domain_controller is not None:
            forest = config.domain_controller
            self.domain_controller = DomainController(f"{name}-dc", DomainControllerArgs(
                connection=storage_connection,
                domain_name=config.domain_fqdn,
                domain_netbios_name=forest.domain_netbios_name,
                forest_mode=forest.forest_mode,
                domain_mode=forest.domain_mode,
                safe_mode_password=forest.safe_mode_password), opts=child)
            storage_child = pulumi.ResourceOptions(parent=self, depends_on=[self.domain_controller])
            domain_name = self.domain_controller.domain_fqdn
        # the seed's step 4: the management tools on the storage host
        self.management_tools: Optional[ManagementTools] = None
        if config.management_tools:
            self.management_tools = ManagementTools(f"{name}-tools", ManagementToolsArgs(
                connection=storage_connection), opts=storage_child)

        self.target = IscsiTarget(f"{name}-target", IscsiTargetArgs(
            connection=storage_connection,
            target_name=config.target_name,
            initiator_ids=[f"DNSName:{n.lower()}.{domain}" for n in node_names],
            description=f"LUNs of cluster {config.cluster_name}"), opts=storage_child)

        def volume(resource: str, role: str, size: Any) -> IscsiVolume:
            return IscsiVolume(resource, IscsiVolumeArgs(
                connection=storage_connection,
                path=f"{config.vhd_folder.rstrip(chr(92))}\\{config.cluster_name.lower()}-{role}.vhdx",
                size_bytes=size,
                target_name=self.target.target_name), opts=storage_child)

        self.quorum_volume = volume(f"{name}-quorum", "quorum", config.quorum_size_bytes)
        self.storage_volume = volume(f"{name}-storage", "storage", config.storage_size_bytes)
        self.extra_volumes = {v.name: volume(f"{name}-volume-{v.name.lower()}", v.name.lower(), v.size_bytes)
                              for v in config.extra_volumes}
        volumes = (self.quorum_volume, self.storage_volume, *self.extra_volumes.values())

        # the node's long part (features, domain join, restart) needs nothing from the storage: it runs
        # while the target and volumes are created; only NodeStorage waits for them
        self.nodes = [ClusterNode(f"{name}-{n.name.lower()}", ClusterNodeArgs(
            connection=conn,
            domain_name=domain_name,
            domain_join_username=config.domain_username,
            domain_join_password=config.domain_password,
            attach_storage=False,
            switch_name=config.switch_name,
            switch_adapter=n.vm_nic), opts=child) for n, conn in zip(config.nodes, node_connections)]

        # after its node (the target admits it by its domain FQDN) and after the storage (its inputs)
        self.node_storage = [NodeStorage(f"{name}-{n.name.lower()}-storage", NodeStorageArgs(
            connection=conn,
            target_portal_address=config.storage_host.address or config.storage_host.name,
            target_iqns=[self.target.target_iqn],
            disk_serial_numbers=[v.serial_number for v in volumes],
            disk_sizes=[v.size_bytes for v in volumes]), opts=pulumi.ResourceOptions(parent=self, depends_on=[node]))
            for n, conn, node in zip(config.nodes, node_connections, self.nodes)]

        self.cluster = FailoverCluster(f"{name}-cluster", FailoverClusterArgs(
            connection=first_connection,
            domain_username=config.domain_username,
            domain_password=config.domain_password,
            name=config.cluster_name,
            nodes=node_names,
            static_address=config.cluster_address,
            witness_disk_serial=self.quorum_volume.serial_number,
            skip_validation=config.skip_validation,
            alternate_connections=others),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*self.nodes, *self.node_storage]))

        self.shared_volume = SharedVolume(f"{name}-csv", SharedVolumeArgs(
            connection=first_connection,
            cluster_name=self.cluster.name,
            disk_serial=self.storage_volume.serial_number,
            label=config.csv_label,
            disk_size_bytes=self.storage_volume.size_bytes,
            alternate_connections=others), opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]))

        self.vms = [HighlyAvailableVM(f"{name}-vm-{vm.name.lower()}", HighlyAvailableVMArgs(
            connection=first_connection,
            domain_username=config.domain_username,
            domain_password=config.domain_password,
            name=vm.name,
            path=self.shared_volume.path,
            memory_startup_bytes=vm.memory_startup_bytes,
            processor_count=vm.processor_count,
            generation=vm.generation,
            disk_size_bytes=vm.disk_size_bytes,
            switch_name=config.switch_name,
            preferred_owners=list(vm.preferred_owners or node_names),
            owner_node=vm.owner_node,
            state=vm.state,
            migration_type=vm.migration_type,
            allow_restart_for_changes=vm.allow_restart_for_changes,
            alternate_connections=others,
            cluster_nodes=node_names),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.shared_volume, *self.nodes]))
            for vm in (config.vm, *config.extra_vms)]
        self.vm = self.vms[0]

        self.cluster_fqdn = self.cluster.fqdn
        self.csv_path = self.shared_volume.path
        self.vm_owner_node = self.vm.owner_node
        self.target_iqn = self.target.target_iqn
        self.validation_summary = self.cluster.validation_summary
        self.register_outputs({
            "cluster_fqdn": self.cluster_fqdn,
            "csv_path": self.csv_path,
            "vm_owner_node": self.vm_owner_node,
            "target_iqn": self.target_iqn,
            "validation_summary": self.validation_summary,
        })

    @staticmethod
    def _machines(name: str, config: ClusterLabConfig, child: pulumi.ResourceOptions) -> dict[str, LabMachine]:
        """The storage host and the nodes as LabMachines on machine_host: the storage host from image_path,
        the nodes from node_image_path with nested virtualization and a second adapter (vm_nic) for the
        VM switch; the nodes use the storage host (the DC) as their DNS server."""
        host = config.machine_host
        assert host is not None
        settings = {k: v for k, v in (("folder", host.folder), ("disk_mode", host.disk_mode),
                                      ("time_zone", host.time_zone), ("processor_count", host.processor_count))
                    if v is not None}
        prefix = host.prefix_length or 24
        storage = config.storage_host
        machines = {storage.name: LabMachine(f"{name}-machine-{storage.name.lower()}", LabMachineArgs(
            connection=host.connection, name=storage.name, image_path=host.image_path,
            administrator_password=config.machine_passwords[storage.name],
            # a domain controller has no local accounts: its Administrator becomes the domain's
            username="Administrator" if config.domain_controller is not None else None,
            memory_bytes=host.storage_memory_bytes or "2GB",
            network_adapters=[{"switch": host.switch, "ip_address": storage.address, "prefix_length": prefix}],
            **settings), opts=child)}
        for node in config.nodes:
            machines[node.name] = LabMachine(f"{name}-machine-{node.name.lower()}", LabMachineArgs(
                connection=host.connection, name=node.name, image_path=host.node_image_path or host.image_path,
                administrator_password=config.machine_passwords[node.name],
                memory_bytes=host.node_memory_bytes or "4GB", nested_virtualization=True,
                network_adapters=[
                    {"switch": host.switch, "name": "Ethernet", "ip_address": node.address, "prefix_length": prefix,
                     "dns_servers": [storage.address]},
                    {"switch": host.switch, "name": node.vm_nic, "ip_address": node.vm_nic_address,
                     "prefix_length": prefix}],
                **settings), opts=child)
        return machines


def _lab_args(resource_name: str, args: Optional[ClusterLabConfig], kwargs: Mapping[str, Any]) -> ClusterLabConfig:
    """ClusterLab's arguments as one config: an Args object, keyword arguments (which override it), or both."""
    fields = {f.name: f for f in dataclasses.fields(ClusterLabConfig)}
    unknown = sorted(set(kwargs) - set(fields))
    if unknown:
        raise ArgumentError(f"ClusterLab {resource_name!r}: unknown argument(s) {', '.join(unknown)}; "
                            f"allowed: {', '.join(fields)}")
    if args is not None and not isinstance(args, ClusterLabConfig):
        raise ArgumentError(f"ClusterLab {resource_name!r}: args must be a ClusterLabArgs (ClusterLabConfig), "
                            f"got {type(args).__name__}")
    if args is not None:
        return dataclasses.replace(args, **kwargs)
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ArgumentError(f"ClusterLab {resource_name!r}: missing argument(s) {', '.join(missing)}")
    return ClusterLabConfig(**kwargs)
