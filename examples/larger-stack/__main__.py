"""The seed lab inside a larger stack: ClusterLab, plus plain resources built on its outputs, plus
steps of your own that consume those outputs and run again when they change.

    seed lab (ClusterLab)           iSCSI target, quorum + storage LUNs, two nodes, CLUSTER1, CSV, TestVM
    + data LUN (IscsiVolume)        a third LUN on the lab's iSCSI target
    + present-data-<node>           PowerShellScript per node: rescan, until the LUN is seen by serial
    + data CSV (SharedVolume)       the data LUN as a second Cluster Shared Volume
    + HA VMs (HighlyAvailableVM)    the VMs of `larger:vms`, on the data CSV
    + inventory (pulumi-command)    command.local.Command writing the cluster's inventory (JSON) for the
                                    next tool in a pipeline; replaced when a VM's owner changes

Stack config (Pulumi.<stack>.yaml beside this file; Pulumi.hvsim.yaml is the simulated lab):
    hvlab-larger:lab             the seed lab's shape, exactly as in the repo's stacks/Pulumi.hvsim.yaml
    hvlab-larger:domainPassword  secret, as there
    hvlab-larger:hostPasswords   secret, as there
    hvlab-larger:larger          {dataVolume: {size, label}, vms: [{name, ownerNode, memoryStartupBytes,
                                  diskSizeBytes}], inventoryPath}

Run it on hvsim: `bash examples/larger-stack/run.sh` (docs/compose.md).
"""
import json
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import pulumi
import pulumi_command as command

from hvprovider import (HighlyAvailableVM, HighlyAvailableVMArgs, IscsiVolume, IscsiVolumeArgs, PowerShellScript,
                        PowerShellScriptArgs, SharedVolume, SharedVolumeArgs)


# -- the one place that knows ClusterLab's API ---------------------------------------------------------
@dataclass
class Lab:
    """What the rest of this program uses of the seed lab."""

    component: pulumi.Resource         # depend on it to run after the whole lab
    storage_connection: Any            # the iSCSI Target Server host
    node_names: Sequence[str]
    node_connections: Sequence[Any]    # in node order; the first is the one the cluster resources use
    vhd_folder: str
    switch_name: str
    domain_username: str
    domain_password: pulumi.Input[str]
    target_name: pulumi.Output[str]    # the lab's iSCSI target: more LUNs map to it
    cluster_name: pulumi.Output[str]
    cluster_fqdn: pulumi.Output[str]
    csv_path: pulumi.Output[str]
    nodes: Sequence[pulumi.Resource]   # the ClusterNode and NodeStorage resources (iSCSI sessions up, LUNs online)
    cluster: pulumi.Resource
    vm_name: str
    vm_owner_node: pulumi.Output[str]
    target_iqn: pulumi.Output[str]


def seed_lab(config: pulumi.Config) -> Lab:
    from hvprovider.lab import ClusterLab, ClusterLabConfig

    shape = config.require_object("lab")
    host_passwords = config.require_secret("hostPasswords").apply(json.loads)
    names = [shape["storageHost"]["name"], *(node["name"] for node in shape["nodes"])]
    passwords = {name: host_passwords.apply(lambda table, name=name: table[name]) for name in names}
    lab_config = ClusterLabConfig.from_dict(shape, passwords, config.require_secret("domainPassword"))
    lab = ClusterLab("seed", lab_config)
    return Lab(
        component=lab, storage_connection=lab_config.storage_host.connection,
        node_names=[n.name for n in lab_config.nodes], node_connections=[n.connection for n in lab_config.nodes],
        vhd_folder=lab_config.vhd_folder.rstrip("\\"), switch_name=lab_config.switch_name,
        domain_username=lab_config.domain_username, domain_password=lab_config.domain_password,
        target_name=lab.target.target_name, cluster_name=lab.cluster.name, cluster_fqdn=lab.cluster_fqdn,
        csv_path=lab.csv_path, nodes=[*lab.nodes, *lab.node_storage], cluster=lab.cluster, vm_name=lab_config.vm.name,
        vm_owner_node=lab.vm_owner_node, target_iqn=lab.target_iqn)


# -- the larger stack ------------------------------------------------------------------------------
# A LUN mapped to a target the node is already connected to shows up after a rescan (Disk Management's
# "Rescan Disks"); the SharedVolume then finds it by serial number on every node.
PRESENT_LUN = """param([string]$Serial, [int]$WaitSeconds = 120)
$deadline = (Get-Date).AddSeconds($WaitSeconds)
$disk = $null
while ($null -eq $disk) {
    Update-HostStorageCache
    $disk = Get-Disk | Where-Object { $_.SerialNumber -eq $Serial } | Select-Object -First 1
    if ($null -eq $disk) {
        if ((Get-Date) -ge $deadline) {
            throw "no disk with serial number $Serial on $env:COMPUTERNAME after $WaitSeconds s: is the LUN mapped to the target this node is connected to?"
        }
        Start-Sleep -Seconds 5
    }
}
"$env:COMPUTERNAME sees the LUN $Serial as disk $($disk.Number)"
"""

# Written by the engine's machine (pulumi-command runs it locally); the Python of this program, so it
# runs the same on Linux and Windows.
WRITE_INVENTORY = ("import os, pathlib; "
                   "pathlib.Path(os.environ['HVLAB_INVENTORY_PATH']).write_text(os.environ['HVLAB_INVENTORY'] + '\\n')")
REMOVE_INVENTORY = "import os, pathlib; pathlib.Path(os.environ['HVLAB_INVENTORY_PATH']).unlink(missing_ok=True)"

config = pulumi.Config()
lab = seed_lab(config)
larger = config.require_object("larger")
data = larger.get("dataVolume") or {}
first = lab.node_connections[0]
others = list(lab.node_connections[1:])

data_volume = IscsiVolume("data", IscsiVolumeArgs(
    connection=lab.storage_connection,
    path=f"{lab.vhd_folder}\\larger-data.vhdx",
    size_bytes=data.get("size", "20GB"),
    target_name=lab.target_name), opts=pulumi.ResourceOptions(depends_on=[lab.cluster]))

present = [PowerShellScript(f"present-data-{name.lower()}", PowerShellScriptArgs(
    connection=conn,
    create=PRESENT_LUN,
    parameters={"Serial": data_volume.serial_number},
    triggers=[data_volume.serial_number]), opts=pulumi.ResourceOptions(depends_on=[*lab.nodes]))
    for name, conn in zip(lab.node_names, lab.node_connections)]

data_csv = SharedVolume("data-csv", SharedVolumeArgs(
    connection=first,
    cluster_name=lab.cluster_name,
    disk_serial=data_volume.serial_number,
    label=data.get("label", "AppData"),
    alternate_connections=others), opts=pulumi.ResourceOptions(depends_on=present))

vms = {}
for vm in larger.get("vms") or []:
    vms[vm["name"]] = HighlyAvailableVM(f"vm-{vm['name'].lower()}", HighlyAvailableVMArgs(
        connection=first,
        domain_username=lab.domain_username,
        domain_password=lab.domain_password,
        name=vm["name"],
        path=data_csv.path,
        memory_startup_bytes=vm.get("memoryStartupBytes", "1GB"),
        processor_count=vm.get("processorCount", 1),
        disk_size_bytes=vm.get("diskSizeBytes", "10GB"),
        switch_name=lab.switch_name,
        preferred_owners=list(lab.node_names),
        owner_node=vm.get("ownerNode"),
        alternate_connections=others), opts=pulumi.ResourceOptions(depends_on=[lab.component]))

owners = {lab.vm_name: lab.vm_owner_node, **{name: vm.owner_node for name, vm in vms.items()}}
inventory = pulumi.Output.json_dumps({
    "cluster": lab.cluster_fqdn,
    "iscsi_target": lab.target_iqn,
    "csvs": [lab.csv_path, data_csv.path],
    "vms": [{"name": name, "owner_node": owner} for name, owner in owners.items()],
})
inventory_path = larger.get("inventoryPath", "inventory.json")
inventory_step = command.local.Command("inventory", command.local.CommandArgs(
    interpreter=[sys.executable, "-c"],
    create=WRITE_INVENTORY,
    delete=REMOVE_INVENTORY,
    environment={"HVLAB_INVENTORY": inventory, "HVLAB_INVENTORY_PATH": inventory_path},
    triggers=list(owners.values())),
    # the new inventory has the old one's file name: remove the old file first, then write the new
    opts=pulumi.ResourceOptions(delete_before_replace=True))

pulumi.export("cluster_fqdn", lab.cluster_fqdn)
pulumi.export("csv_paths", [lab.csv_path, data_csv.path])
pulumi.export("vm_owner_nodes", owners)
pulumi.export("presented", [p.stdout for p in present])
pulumi.export("inventory_path", inventory_path)
