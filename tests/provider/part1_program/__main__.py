"""The storage half of the seed lab, written as a user would: an iSCSI target on DC01, a quorum and a
storage volume, and two Hyper-V nodes connected to it (tests/provider/test_iscsi_e2e.py drives it).

Config (``pulumi config``):
    hosts       {"DC01": {"host", "port"}, "HV01": {...}, "HV02": {...}}   WinRM endpoints
    users       {"DC01": "DC01\\Administrator", ...}
    target      {"name", "initiator_ids", "description"}
    extra_target {"name", "initiator_ids"}   a second target the nodes connect to (optional)
    volumes     {"quorum": {"path", "size"}, "storage": {...}}   (omit for a target-only stack);
                a volume with "on": "extra" is mapped to the extra target
    nodes       {"switch": "...", "adapter": "...", "portal": "..."}  (omit for a target-only stack)
    domain      "hyper.local"; domain_user "HYPER\\Administrator"
Secrets: passwords {"DC01": "...", ...}, domain_password.
"""
import pulumi

from hvprovider.cluster_node import ClusterNode, ClusterNodeArgs
from hvprovider.connection import ConnectionArgs
from hvprovider.iscsi_target import IscsiTarget, IscsiTargetArgs
from hvprovider.iscsi_volume import IscsiVolume, IscsiVolumeArgs

cfg = pulumi.Config()
hosts = cfg.require_object("hosts")
users = cfg.require_object("users")
passwords = cfg.require_secret_object("passwords")
target_cfg = cfg.require_object("target")
volumes_cfg = cfg.get_object("volumes") or {}
nodes_cfg = cfg.get_object("nodes")
extra_cfg = cfg.get_object("extra_target")


def connection(name: str) -> ConnectionArgs:
    return ConnectionArgs(host=hosts[name]["host"], port=hosts[name]["port"], username=users[name],
                          password=passwords.apply(lambda p: p[name]))


target = IscsiTarget("cluster-target", IscsiTargetArgs(
    connection=connection("DC01"),
    target_name=target_cfg["name"],
    initiator_ids=target_cfg["initiator_ids"],
    description=target_cfg.get("description"),
))
pulumi.export("target_iqn", target.target_iqn)
pulumi.export("target_adopted", target.adopted)

targets = {"main": target}
if extra_cfg:
    targets["extra"] = IscsiTarget("extra-target", IscsiTargetArgs(
        connection=connection("DC01"), target_name=extra_cfg["name"], initiator_ids=extra_cfg["initiator_ids"]))
    pulumi.export("extra_iqn", targets["extra"].target_iqn)

volumes = {}
for key, vol in volumes_cfg.items():
    volumes[key] = IscsiVolume(f"{key}-volume", IscsiVolumeArgs(
        connection=connection("DC01"),
        path=vol["path"],
        size_bytes=vol["size"],
        target_name=targets[vol.get("on", "main")].target_name,
        disk_type=vol.get("type"),
    ))
    pulumi.export(f"{key}_serial", volumes[key].serial_number)

if nodes_cfg:
    for name in ("HV01", "HV02"):
        node = ClusterNode(name.lower(), ClusterNodeArgs(
            connection=connection(name),
            domain_name=cfg.require("domain"),
            domain_join_username=cfg.require("domain_user"),
            domain_join_password=cfg.require_secret("domain_password"),
            target_portal_address=nodes_cfg["portal"],
            target_iqns=[t.target_iqn for t in targets.values()],
            disk_serial_numbers=[v.serial_number for v in volumes.values()],
            disk_sizes=[v.size_bytes for v in volumes.values()],
            switch_name=nodes_cfg["switch"],
            switch_adapter=nodes_cfg["adapter"],
        ))
        pulumi.export(f"{name.lower()}_fqdn", node.fqdn)
        pulumi.export(f"{name.lower()}_disks", node.disks)
        pulumi.export(f"{name.lower()}_delete_policy", node.delete_policy)
