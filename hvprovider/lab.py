"""ClusterLab: the seed's whole lab (iSCSI storage, two Hyper-V nodes, a failover cluster with a disk
witness, a Cluster Shared Volume and a highly available VM) as one ComponentResource.

    from hvprovider.lab import ClusterLab, ClusterLabConfig, LabHost, LabNode, LabVM
    lab = ClusterLab("seed", ClusterLabConfig(
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
    vm             LabVM(name, memory_startup_bytes, processor_count, generation, disk_size_bytes,
                   state, owner_node, preferred_owners, migration_type, allow_restart_for_changes)
    switch_name, target_name, vhd_folder, csv_label, skip_validation       (defaults below)

Resources and their order (dependencies follow the outputs that flow between them):
    IscsiTarget (InitiatorIds = DNSName:<node fqdn>, so the target needs no node facts first)
    -> IscsiVolume quorum + storage
    -> ClusterNode per node (features, domain join, CredSSP, iSCSI session, LUNs, VM switch)
    -> FailoverCluster (validation, nodes, witness = the quorum LUN by serial number)
    -> SharedVolume (the storage LUN by serial number) -> HighlyAvailableVM (on the CSV path)
Outputs: cluster_fqdn, csv_path, vm_owner_node, target_iqn, validation_summary.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi

from .connection import ConnectionArgs
from .failover_cluster import FailoverCluster, FailoverClusterArgs
from .highly_available_vm import HighlyAvailableVM, HighlyAvailableVMArgs
from .shared_volume import SharedVolume, SharedVolumeArgs


@dataclass
class LabHost:
    """A host the lab talks to: its NetBIOS name and WinRM connection."""

    name: str
    connection: "ConnectionArgs | Mapping[str, Any]"
    address: Optional[str] = None  # iSCSI portal address the nodes use (storage host only)


@dataclass
class LabNode:
    """A Hyper-V host that becomes a cluster node."""

    name: str
    connection: "ConnectionArgs | Mapping[str, Any]"
    vm_nic: str  # NIC the VM switch is bound to


@dataclass
class LabVM:
    """The highly available test VM."""

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
    quorum_size_bytes: Any = "1GB"
    storage_size_bytes: Any = "40GB"
    switch_name: str = "VMNet"
    target_name: str = "cluster"
    vhd_folder: str = "C:\\iSCSIVirtualDisks"
    csv_label: str = "VMStorage"
    skip_validation: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], passwords: Mapping[str, pulumi.Input[str]],
                  domain_password: pulumi.Input[str]) -> "ClusterLabConfig":
        """Build the config from stack config (camelCase keys, see stacks/Pulumi.example.yaml).

        ``passwords`` maps a host name to the password of its connection (secrets live in their own
        secure config keys, never inside this plain object)."""
        def connection(host: Mapping[str, Any]) -> dict:
            conn = dict(host.get("connection") or {})
            conn = {_snake(k): v for k, v in conn.items()}
            if "password" not in conn:
                conn["password"] = passwords[host["name"]]
            return conn

        _known_keys("lab", data, ("storageHost", "nodes", "domain", "cluster", "storage", "switchName", "vm"))
        storage = data["storageHost"]
        domain = data["domain"]
        cluster = data["cluster"]
        volumes = data.get("storage") or {}
        _known_keys("lab.storageHost", storage, ("name", "address", "connection"))
        for i, node in enumerate(data["nodes"]):
            _known_keys(f"lab.nodes[{i}]", node, ("name", "vmNic", "connection"))
        _known_keys("lab.domain", domain, ("fqdn", "username"))
        _known_keys("lab.cluster", cluster, ("name", "address", "skipValidation"))
        _known_keys("lab.storage", volumes, ("targetName", "folder", "quorumSize", "storageSize", "csvLabel"))
        vm_keys = [_camel(f) for f in LabVM.__dataclass_fields__]
        _known_keys("lab.vm", data.get("vm") or {}, vm_keys)
        vm = {_snake(k): v for k, v in (data.get("vm") or {}).items()}
        return cls(
            storage_host=LabHost(name=storage["name"], connection=connection(storage), address=storage.get("address")),
            nodes=[LabNode(name=n["name"], connection=connection(n), vm_nic=n["vmNic"]) for n in data["nodes"]],
            domain_fqdn=domain["fqdn"],
            domain_username=domain["username"],
            domain_password=domain_password,
            cluster_name=cluster["name"],
            cluster_address=cluster["address"],
            skip_validation=bool(cluster.get("skipValidation", False)),
            vm=LabVM(**vm),
            quorum_size_bytes=volumes.get("quorumSize", "1GB"),
            storage_size_bytes=volumes.get("storageSize", "40GB"),
            target_name=volumes.get("targetName", "cluster"),
            vhd_folder=volumes.get("folder", "C:\\iSCSIVirtualDisks"),
            csv_label=volumes.get("csvLabel", "VMStorage"),
            switch_name=data.get("switchName", "VMNet"),
        )


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _known_keys(where: str, value: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Stack config is checked before any resource exists: a misspelt key is named, not ignored."""
    if not isinstance(value, Mapping):
        raise ValueError(f"stack config {where}: expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"stack config {where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


class ClusterLab(pulumi.ComponentResource):
    """The seed's lab (see the module docstring)."""

    cluster_fqdn: pulumi.Output[str]
    csv_path: pulumi.Output[str]
    vm_owner_node: pulumi.Output[str]
    target_iqn: pulumi.Output[str]
    validation_summary: pulumi.Output[str]

    def __init__(self, name: str, config: ClusterLabConfig, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("hvprovider:lab:ClusterLab", name, None, opts)
        from .cluster_node import ClusterNode, ClusterNodeArgs
        from .iscsi_target import IscsiTarget, IscsiTargetArgs
        from .iscsi_volume import IscsiVolume, IscsiVolumeArgs

        child = pulumi.ResourceOptions(parent=self)
        domain = config.domain_fqdn.lower()
        node_names = [n.name for n in config.nodes]
        first = config.nodes[0]
        # the cluster resources talk to the first node, and to the others when it does not answer
        others = [n.connection for n in config.nodes[1:]]

        self.target = IscsiTarget(f"{name}-target", IscsiTargetArgs(
            connection=config.storage_host.connection,
            target_name=config.target_name,
            initiator_ids=[f"DNSName:{n.lower()}.{domain}" for n in node_names],
            description=f"LUNs of cluster {config.cluster_name}"), opts=child)

        def volume(role: str, size: Any) -> "IscsiVolume":
            return IscsiVolume(f"{name}-{role}", IscsiVolumeArgs(
                connection=config.storage_host.connection,
                path=f"{config.vhd_folder.rstrip(chr(92))}\\{config.cluster_name.lower()}-{role}.vhdx",
                size_bytes=size,
                target_name=self.target.target_name), opts=child)

        self.quorum_volume = volume("quorum", config.quorum_size_bytes)
        self.storage_volume = volume("storage", config.storage_size_bytes)
        serials = [self.quorum_volume.serial_number, self.storage_volume.serial_number]

        self.nodes = [ClusterNode(f"{name}-{n.name.lower()}", ClusterNodeArgs(
            connection=n.connection,
            domain_name=config.domain_fqdn,
            domain_join_username=config.domain_username,
            domain_join_password=config.domain_password,
            target_portal_address=config.storage_host.address or config.storage_host.name,
            target_iqns=[self.target.target_iqn],
            disk_serial_numbers=serials,
            disk_sizes=[self.quorum_volume.size_bytes, self.storage_volume.size_bytes],
            switch_name=config.switch_name,
            switch_adapter=n.vm_nic), opts=child) for n in config.nodes]

        self.cluster = FailoverCluster(f"{name}-cluster", FailoverClusterArgs(
            connection=first.connection,
            domain_username=config.domain_username,
            domain_password=config.domain_password,
            name=config.cluster_name,
            nodes=node_names,
            static_address=config.cluster_address,
            witness_disk_serial=self.quorum_volume.serial_number,
            skip_validation=config.skip_validation,
            alternate_connections=others),
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.nodes))

        self.shared_volume = SharedVolume(f"{name}-csv", SharedVolumeArgs(
            connection=first.connection,
            cluster_name=self.cluster.name,
            disk_serial=self.storage_volume.serial_number,
            label=config.csv_label,
            disk_size_bytes=self.storage_volume.size_bytes,
            alternate_connections=others), opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]))

        vm = config.vm
        self.vm = HighlyAvailableVM(f"{name}-vm-{vm.name.lower()}", HighlyAvailableVMArgs(
            connection=first.connection,
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
            alternate_connections=others),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.shared_volume, *self.nodes]))

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
