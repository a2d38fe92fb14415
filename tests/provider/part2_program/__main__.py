"""A cluster composed differently from the seed (tests/provider/test_lab_alt_e2e.py drives it): the
resources used directly, not through ClusterLab; three LUNs on one target, two CSVs, two VMs with
names of their own, one per CSV.

Config: hosts {"DC01": {"host", "port"}, ...}, users {"DC01": "DC01\\Administrator", ...},
        vms {"<name>": {"owner": "HV01", "csv": 0|1, "state": "Running"|"Off", "in": "<folder under VMs>"}},
        cluster_nodes (default both, as FQDNs), via (the node the cluster resources connect to; HV02),
        witness (which LUN is the disk witness: "witness" or "witness-2"),
        vmstore_a_size (the first CSV's LUN, default "3GB": grows in place),
        target_name (the iSCSI target, default "hyperv-san": a rename replaces it)
Secrets: passwords {"DC01": ..., "HV01": ..., "HV02": ...}, domain_password.
"""
import pulumi

from hvprovider.cluster_node import ClusterNode, ClusterNodeArgs
from hvprovider.connection import ConnectionArgs
from hvprovider.failover_cluster import FailoverCluster, FailoverClusterArgs
from hvprovider.highly_available_vm import HighlyAvailableVM, HighlyAvailableVMArgs
from hvprovider.iscsi_target import IscsiTarget, IscsiTargetArgs
from hvprovider.iscsi_volume import IscsiVolume, IscsiVolumeArgs
from hvprovider.shared_volume import SharedVolume, SharedVolumeArgs

cfg = pulumi.Config()
hosts = cfg.require_object("hosts")
users = cfg.require_object("users")
vms = cfg.require_object("vms")
cluster_nodes = cfg.get_object("cluster_nodes") or ["hv01.hyper.local", "hv02.hyper.local"]
via = cfg.get("via") or "HV02"
witness = cfg.get("witness") or "witness"
vmstore_a_size = cfg.get("vmstore_a_size") or "3GB"
passwords = cfg.require_secret_object("passwords")
domain_user = "HYPER\\Administrator"
domain_password = cfg.require_secret("domain_password")


def connection(name: str) -> ConnectionArgs:
    return ConnectionArgs(host=hosts[name]["host"], port=hosts[name]["port"], username=users[name],
                          password=passwords.apply(lambda p: p[name]))


target = IscsiTarget("san", IscsiTargetArgs(
    connection=connection("DC01"), target_name=cfg.get("target_name") or "hyperv-san",
    initiator_ids=["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"]))

luns = {
    role: IscsiVolume(f"lun-{role}", IscsiVolumeArgs(
        connection=connection("DC01"), path=f"C:\\SAN\\{role}.vhdx", size_bytes=size, target_name=target.target_name))
    for role, size in (("witness", "1GB"), ("witness-2", "1GB"), ("vmstore-a", vmstore_a_size), ("vmstore-b", "3GB"))
}

nodes = [ClusterNode(f"node-{n.lower()}", ClusterNodeArgs(
    connection=connection(n), domain_name="hyper.local",
    domain_join_username="HYPER\\Administrator", domain_join_password=domain_password,
    target_portal_address="192.168.10.10", target_iqns=[target.target_iqn],
    disk_serial_numbers=[lun.serial_number for lun in luns.values()],
    disk_sizes=[lun.size_bytes for lun in luns.values()],
    switch_name="Lab Switch", switch_adapter="Ethernet 2")) for n in ("HV01", "HV02")]

cluster = FailoverCluster("hvclu", FailoverClusterArgs(
    connection=connection(via), domain_username=domain_user, domain_password=domain_password,
    name="HVCLU-B", nodes=cluster_nodes, static_address="192.168.10.40",
    witness_disk_serial=luns[witness].serial_number, skip_validation=True),
    opts=pulumi.ResourceOptions(depends_on=nodes))

csvs = [SharedVolume(f"csv-{role}", SharedVolumeArgs(
    connection=connection(via), cluster_name=cluster.name, disk_serial=luns[role].serial_number, label=role,
    disk_size_bytes=luns[role].size_bytes, alternate_connections=[connection(n) for n in ("HV01", "HV02") if n != via]),
    opts=pulumi.ResourceOptions(depends_on=[cluster])) for role in ("vmstore-a", "vmstore-b")]

for name, spec in vms.items():
    vm = HighlyAvailableVM(f"vm-{name.lower()}", HighlyAvailableVMArgs(
        connection=connection(via), domain_username=domain_user, domain_password=domain_password,
        name=name, path=csvs[int(spec["csv"])].path.apply(lambda p, sub=spec.get("in"): p + "\\VMs" + (f"\\{sub}" if sub else "")),
        memory_startup_bytes="512MB", processor_count=2, disk_size_bytes="8GB", switch_name="Lab Switch",
        owner_node=spec.get("owner"), state=spec.get("state", "Running")),
        opts=pulumi.ResourceOptions(depends_on=nodes))
    pulumi.export(f"{name}_owner", vm.owner_node)
    pulumi.export(f"{name}_config", vm.config_path)

pulumi.export("target_iqn", target.target_iqn)
pulumi.export("csv_paths", [c.path for c in csvs])
pulumi.export("csv_sizes", [c.size_bytes for c in csvs])
pulumi.export("node_disks", {n.lower(): node.disks for n, node in zip(("HV01", "HV02"), nodes)})
pulumi.export("cluster_fqdn", cluster.fqdn)
pulumi.export("witness_resource", cluster.witness_resource)
pulumi.export("validation", cluster.validation_summary)
pulumi.export("lun_serials", {role: lun.serial_number for role, lun in luns.items()})
