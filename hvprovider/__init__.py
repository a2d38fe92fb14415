"""hvprovider: Pulumi dynamic resources for a Hyper-V failover-cluster lab.

Every resource runs PowerShell (the ``.ps1`` files in ``hvprovider/scripts``) on Windows hosts
over WinRM. Resources, in the order a lab builds them:

- ``LabMachine``         a VM on one Hyper-V host that becomes a lab server (the lab as nested VMs)
- ``DomainController``   the first domain controller of a new forest (the seed's step 1)
- ``LabFirewall``        the inbound firewall rules a lab host needs, enabled (the firewall stays on)
- ``ManagementTools``    the cluster and Hyper-V management tools on the admin server
- ``IscsiTarget``        an iSCSI Target Server target on the storage host
- ``IscsiVolume``        an iSCSI virtual disk mapped to a target
- ``ClusterNode``        a Hyper-V host made ready for the cluster (features, domain, switch; iSCSI too
                         unless ``attach_storage=False``)
- ``NodeStorage``        a node's iSCSI attachment (sessions, LUNs online) apart from its ClusterNode
- ``FailoverCluster``    the cluster, validated first, with a disk witness
- ``SharedVolume``       an iSCSI disk as a Cluster Shared Volume
- ``HighlyAvailableVM``  a clustered VM on a CSV
- ``ClusterLab``         a component that declares the seed's whole lab from one typed config
- ``PowerShellScript``   a script of your own run over WinRM (pulumi-command's remote.Command model)

Every resource takes ``(name, args=None, opts=None, **kwargs)``: an Args object, the same keyword
arguments, or both (keywords win), as Pulumi's generated SDKs do; each has its own type token,
``pulumi-python:dynamic/hvprovider:<Class>``.

See docs/provider.md and docs/provider-cluster.md for inputs, outputs and delete policies.
"""
from .cluster_node import ClusterNode, ClusterNodeArgs, NodeDisk
from .connection import ConnectionArgs
from .domain_controller import DomainController, DomainControllerArgs
from .lab_firewall import LabFirewall, LabFirewallArgs
from .lab_machine import LabMachine, LabMachineArgs
from .management_tools import ManagementTools, ManagementToolsArgs
from .errors import HvProviderError
from .failover_cluster import FailoverCluster, FailoverClusterArgs
from .highly_available_vm import HighlyAvailableVM, HighlyAvailableVMArgs
from .iscsi_target import IscsiTarget, IscsiTargetArgs
from .iscsi_volume import IscsiVolume, IscsiVolumeArgs
from .node_storage import NodeStorage, NodeStorageArgs
from .lab import ClusterLab, ClusterLabArgs, ClusterLabConfig, LabHost, LabNode, LabVM, LabVolume, MachineHost
from .powershell_script import PowerShellScript, PowerShellScriptArgs
from .shared_volume import SharedVolume, SharedVolumeArgs

__all__ = [
    "ClusterLab", "ClusterLabArgs", "ClusterLabConfig", "ClusterNode", "ClusterNodeArgs", "ConnectionArgs",
    "DomainController", "DomainControllerArgs", "FailoverCluster", "FailoverClusterArgs", "HighlyAvailableVM",
    "HighlyAvailableVMArgs", "HvProviderError", "IscsiTarget", "IscsiTargetArgs", "IscsiVolume", "IscsiVolumeArgs",
    "LabFirewall", "LabFirewallArgs", "LabHost", "LabMachine", "LabMachineArgs", "LabNode", "LabVM", "LabVolume", "ManagementTools",
    "MachineHost", "ManagementToolsArgs", "NodeDisk", "NodeStorage", "NodeStorageArgs", "PowerShellScript", "PowerShellScriptArgs", "SharedVolume", "SharedVolumeArgs",
]
