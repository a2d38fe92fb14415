"""Failover clusters: nodes, groups, resources, quorum, Cluster Shared Volumes, VM roles, failover.

World shape (owned here): `data["clusters"][<NAME>]`:

    {"name": "CLUSTER1", "id": <guid>, "domain": "hyper.local", "fqdn": "cluster1.hyper.local",
     "static_address": ["10.0.0.20"], "created": iso, "admin_access_point": "ActiveDirectoryAndDns",
     "nodes":     {"HV01": {"name", "id": "1", "weight": 1}},
     "groups":    {"Cluster Group": {"name", "id", "type": "Cluster"|"AvailableStorage"|"VirtualMachine",
                                     "owner": "HV01", "state": "Online"|"Offline"|"Failed"|...,
                                     "priority": 2000, "preferred_owners": [], "vm_id": None}},
     "resources": {"Cluster Disk 1": {"name", "id", "type": "Physical Disk"|"IP Address"|"Network Name"|
                                      "Virtual Machine"|"Virtual Machine Configuration",
                                      "group": <group name> | None (a CSV), "state": "Online"|...,
                                      "disk": {"unique_id", "serial", "guid", "signature", "size", "partitions"},
                                      "params": {...}, "vm_id": ...}},
     "quorum":    {"type": "Majority", "resource": None | "Cluster Disk 1"},
     "csvs":      {"Cluster Disk 2": {"name", "id", "number": 1, "path": "C:\\ClusterStorage\\Volume1",
                                      "owner": "HV01", "files": {<relative lower path>: file entry},
                                      "synced": {<node>: [<keys mirrored to that node>]}}},
     "events":    [{"time", "kind": "live_migration"|"quick_migration"|"move"|"failover"|"drain",
                    "vm", "group", "from", "to", "type", "downtime_seconds", "boot_id"}],
     "validations": [{"time", "nodes", "result", "report", "warnings", "errors"}]}

The cluster name object (CNO) lives in `data["domain"]["cluster_objects"][<NAME>]`
(`{"dns_host_name", "enabled", "created"}`): New-Cluster creates it, Remove-Cluster disables it, and
deletes it only with -CleanupAD.

Cluster Shared Volume namespace: the CSV record's "files" map is authoritative. Every node's own
`host["files"]` map gets a mirror of it under `C:\\ClusterStorage\\VolumeN` (plus the mount-point
directories), so world-core's Get-Item / Test-Path / Get-ChildItem see the same files on every node.
`sync_csv_files(world)` absorbs files created or deleted directly in a node's files map (New-Item,
Remove-Item) into the CSV record and re-mirrors; it runs before every cluster/Hyper-V operation and
can be called by anyone after a file operation. `write_file`, `file_entry` and `remove_path` are the
CSV-aware helpers the Hyper-V emulation uses.

While a disk is not a CSV (removed from CSV, or its cluster destroyed), its files are kept with the LUN's
data volume (`volume["files"]` in the layout hvsim.world.storage keeps with the iSCSI virtual disk), so
the data survives and comes back when the disk becomes a CSV again; formatting the volume drops them.

Disk reservation: a clustered disk is owned by one node (the owner of its group, or the CSV's coordinator);
the reservation is kept on the LUN through hvsim.world.storage.set_reservation / clear_reservation, so
Get-Disk on any other node shows it offline and clustered.

Double hop (docs/DESIGN.md section 2): New-Cluster, Test-Cluster, Add-ClusterNode, Remove-ClusterNode and
Remove-Cluster contact the other nodes with the caller's credential. Without a delegable credential they
fail as on Windows, with the FailoverClusters wording seen in the field:
  New-Cluster / Add-ClusterNode: "There was an error adding node 'HV01' to the cluster" +
      "You do not have administrative privileges on the server 'hv01.hyper.local'." +
      "Requested registry access is not allowed."
  Test-Cluster / Remove-Cluster / Remove-ClusterNode: "You do not have administrative privileges on the
      server 'HV01'." (the form Test-Cluster reports, e.g. in Azure Stack HCI deployment validation)
all as ClusterCmdletException, category NotSpecified (Test-Cluster: AuthenticationError).
Without delegation even the local node fails: the cmdlet reaches it through the remote registry too.

Errors are ClusterError; the cmdlet layer adds ",<implementing type>" to the error id.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from . import files as _files
from . import firewall, hyperv
from . import storage as _st

CLUSTER_EXCEPTION = "Microsoft.FailoverClusters.PowerShell.ClusterCmdletException"
CSV_ROOT = "C:\\ClusterStorage"
CORE_GROUP = "Cluster Group"
STORAGE_GROUP = "Available Storage"

# durations in simulated seconds (ctx.sleep scales them by the world's time factor)
LIVE_MIGRATION_SECONDS = 8.0
LIVE_BLACKOUT_SECONDS = 0.1
FAILOVER_DETECT_SECONDS = 5.0     # heartbeat loss before the cluster reacts
VM_BOOT_SECONDS = 20.0            # a guest booting after a failover


class ClusterError(Exception):
    """A FailoverClusters failure as the cmdlet would report it."""

    def __init__(self, message: str, error_id: str | None = None, category: str = "NotSpecified",
                 target: object = None, exception_type: str = CLUSTER_EXCEPTION, terminating: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.category = category
        self.target = target
        self.exception_type = exception_type
        self.terminating = terminating


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _guid() -> str:
    return str(uuid.uuid4())


# ====================================================================== lookup

def clusters(world: Any) -> dict:
    return world.data.setdefault("clusters", {})


def cluster_of(world: Any, host_name: str) -> dict | None:
    """The cluster the host is a node of, or None."""
    name = world.host(host_name)["name"].lower()
    for c in clusters(world).values():
        if any(n.lower() == name for n in c["nodes"]):
            return c
    return None


def resolve_cluster(world: Any, host_name: str, cluster_name: str | None = None) -> dict:
    """The cluster a cmdlet addresses: -Cluster <name|fqdn|.> or the local node's cluster."""
    if cluster_name and cluster_name != ".":
        key = cluster_name.strip().rstrip(".").lower()
        for c in clusters(world).values():
            if key in (c["name"].lower(), c["fqdn"].lower()) or key in [a.lower() for a in c["static_address"]]:
                if not any(world.reachable(n) for n in c["nodes"]):
                    break
                return c
        raise ClusterError(
            f"Failed to connect to the cluster '{cluster_name}'.\r\n"
            "    Check the spelling of the cluster name. Otherwise, there might be a problem with your network. "
            "Make sure the cluster nodes are turned on and are connected to the network or contact your network "
            "administrator.\r\n    The RPC server is unavailable",
            "ClusterRpcConnection", category="ConnectionError", target=cluster_name)
    c = cluster_of(world, host_name)
    if c is None:
        raise ClusterError(
            "The cluster service is not running.  Make sure that the service is running on all nodes in the "
            "cluster.\r\n    There are no more endpoints available from the endpoint mapper",
            "ClusterEndpointNotRegistered", category="ConnectionError")
    return c


def node_state(world: Any, cluster: dict, node: str) -> str:
    rec = cluster["nodes"].get(node)
    if rec is None:
        return "Down"
    if not world.reachable(node):
        return "Down"
    if rec.get("paused"):
        return "Paused"
    return "Up"


def up_nodes(world: Any, cluster: dict) -> list[str]:
    return [n for n in sorted(cluster["nodes"]) if node_state(world, cluster, n) == "Up"]


def node_name(world: Any, cluster: dict, name: str) -> str:
    """Canonical node name for 'HV01' / 'hv01.hyper.local'; error if not a node of this cluster."""
    try:
        h = world.host(name)["name"]
    except KeyError:
        h = None
    for n in cluster["nodes"]:
        if h is not None and n.lower() == h.lower():
            return n
    raise ClusterError(f"The node '{name}' is not a member of cluster '{cluster['name']}'.\r\n"
                       "    The cluster node could not be found.",
                       "ClusterNodeNotFound", category="ObjectNotFound", target=name)


def _named(items: dict, name: str) -> dict | None:
    """The entry whose "name" matches case-insensitively (groups and resources are keyed by name as created)."""
    return next((x for x in items.values() if x["name"].lower() == str(name).lower()), None)


def group(cluster: dict, name: str) -> dict:
    found = _named(cluster["groups"], name)
    if found is not None:
        return found
    raise ClusterError(f"An error occurred opening cluster group '{name}'.\r\n"
                       "    The group specified is not found.",
                       "ClusterObjectNotFound", category="ObjectNotFound", target=name)


def resource(cluster: dict, name: str) -> dict:
    found = _named(cluster["resources"], name)
    if found is not None:
        return found
    raise ClusterError(f"An error occurred opening resource '{name}'.\r\n"
                       "    The cluster resource could not be found.",
                       "ClusterObjectNotFound", category="ObjectNotFound", target=name)


def resource_owner(cluster: dict, res: dict) -> str | None:
    if res.get("group"):
        return cluster["groups"][res["group"]]["owner"]
    csv = cluster["csvs"].get(res["name"])
    return csv["owner"] if csv else None


def group_resources(cluster: dict, gname: str) -> list[dict]:
    return [r for r in cluster["resources"].values() if r.get("group") == gname]


# ====================================================================== double hop and node checks

def _no_admin_on(world: Any, node: str, adding: bool) -> ClusterError:
    try:
        fqdn = world.fqdn(node)
    except KeyError:
        fqdn = node
    if adding:
        return ClusterError(
            f"There was an error adding node '{node}' to the cluster\r\n"
            f"    You do not have administrative privileges on the server '{fqdn}'.\r\n"
            "    Requested registry access is not allowed.", None, target=node)
    return ClusterError(f"You do not have administrative privileges on the server '{node}'.", None,
                        category="AuthenticationError", target=node)


def require_delegation(world: Any, can_delegate: bool, nodes: list[str], adding: bool = False) -> None:
    """The double hop: contacting any node (the local one too) needs a delegable credential."""
    if not can_delegate and nodes:
        raise _no_admin_on(world, nodes[0], adding)


def _canonical_hosts(world: Any, names: Iterable[str]) -> list[str]:
    out = []
    for n in names:
        try:
            h = world.host(str(n))["name"]
        except KeyError:
            raise ClusterError(
                f"There was an error adding node '{n}' to the cluster\r\n"
                f"    The computer '{n}' could not be resolved: no such host is known.", None,
                category="ObjectNotFound", target=n) from None
        if h not in out:
            out.append(h)
    return out


def node_problems(world: Any, node: str, adding: bool = True) -> list[str]:
    """Why a host cannot be a cluster node (empty if it can)."""
    h = world.host(node)
    dom = world.domain()
    fqdn = world.fqdn(h)
    if not world.reachable(node):
        return [f"Unable to connect to {fqdn} via WMI. Make sure the computer is turned on and reachable."]
    problems = []
    if h.get("features", {}).get("Failover-Clustering", {}).get("state") == "Installed" and not (
            firewall.allows(h, "TCP", 3343) and firewall.allows(h, "UDP", 3343)):
        problems.append(f"The cluster service on node '{fqdn}' cannot be reached: network communication on port 3343 "
                        f"(TCP and UDP) is blocked by the node's firewall (rule group Failover Clusters).")
    if not dom or h.get("domain") != dom.get("fqdn"):
        problems.append(f"The computer '{fqdn}' is not joined to the domain "
                        f"'{dom['fqdn'] if dom else '(none)'}'. Cluster nodes must be members of the same "
                        "Active Directory domain.")
    if world.feature_state(node, "Failover-Clustering") != "Installed":
        problems.append(f"The computer '{fqdn}' does not have the Failover Clustering feature installed. "
                        "Use Server Manager to install the feature on this computer.")
    if adding and cluster_of(world, node) is not None:
        problems.append(f"The computer '{fqdn}' is joined to a cluster.")
    return problems


# ====================================================================== disks (shared storage)
# Disks come from hvsim.world.storage: a LUN has the same UniqueId on every node, its layout
# (partition style, GUID, partitions, volumes) is shared, and a cluster reservation on it makes every
# node but the owner see it offline.

def _disk_id(d: dict) -> str | None:
    return d.get("unique_id") or d.get("serial")


def clustered_disk_ids(world: Any) -> dict[str, tuple[dict, dict]]:
    """unique id -> (cluster, resource) for every disk any cluster owns."""
    out = {}
    for c in clusters(world).values():
        for r in c["resources"].values():
            if r.get("disk"):
                out[r["disk"]["unique_id"]] = (c, r)
    return out


def shared_disks(world: Any, nodes: list[str]) -> list[tuple[dict, dict[str, dict]]]:
    """Shared-bus disks every node sees now (same UniqueId): (disk record on the first node, {node: record})."""
    if not nodes:
        return []
    out = []
    for d in _st.host_disks(world, nodes[0]):
        uid = _disk_id(d)
        if not uid or d.get("is_boot") or str(d.get("bus_type", "")).lower() not in ("iscsi", "sas", "fibre channel"):
            continue
        if d.get("source", {}).get("kind") == "local":
            continue
        per_node = {nodes[0]: d}
        for n in nodes[1:]:
            other = _st.find_disk_by_unique_id(world, n, uid)
            if other is None:
                break
            per_node[n] = other
        else:
            out.append((d, per_node))
    return out


def _facts(world: Any, host: str, d: dict) -> dict:
    return _st.disk_view(world, host, d)


def available_disks(world: Any, cluster: dict) -> list[tuple[dict, dict[str, dict]]]:
    """What Get-ClusterAvailableDisk lists: shared by all nodes, initialized, not clustered anywhere."""
    taken = clustered_disk_ids(world)
    nodes = sorted(cluster["nodes"])
    out = []
    for d, per in shared_disks(world, nodes):
        if _disk_id(d) in taken or _st.reservation(world, _disk_id(d)):
            continue
        if _facts(world, nodes[0], d)["PartitionStyle"] not in ("GPT", "MBR"):
            continue
        out.append((d, per))
    return out


def _next_disk_name(cluster: dict, also_taken: Iterable[str] = ()) -> str:
    n = 1
    names = {r["name"].lower() for r in cluster["resources"].values()} | {x.lower() for x in also_taken}
    while f"cluster disk {n}" in names:
        n += 1
    return f"Cluster Disk {n}"


def _add_disk_resource(world: Any, cluster: dict, d: dict, owner: str) -> dict:
    name = _next_disk_name(cluster)
    uid = _disk_id(d)
    facts = _facts(world, owner, _st.find_disk_by_unique_id(world, owner, uid) or d)
    res = {"name": name, "id": _guid(), "type": "Physical Disk", "group": STORAGE_GROUP, "state": "Online",
           "disk": {"unique_id": uid, "serial": d.get("serial"), "guid": facts.get("Guid"),
                    "signature": int(facts.get("Signature") or 0), "size": int(facts.get("Size") or 0),
                    "partition_style": facts.get("PartitionStyle")},
           "params": {}}
    cluster["resources"][name] = res
    _st.set_reservation(world, uid, cluster["name"], owner)
    return res


def disk_partitions(world: Any, unique_id: str) -> list[dict]:
    layout = _st.lun_layout(world, unique_id) or {}
    return [p for p in layout.get("partitions") or [] if isinstance(p, dict)]


def add_disks(world: Any, cluster: dict, unique_ids: list[str]) -> list[dict]:
    """Add-ClusterDisk: each disk becomes 'Cluster Disk N' in Available Storage, reserved by its owner node."""
    avail = {_disk_id(d): d for d, _ in available_disks(world, cluster)}
    owner = cluster["groups"][STORAGE_GROUP]["owner"]
    added = []
    for uid in unique_ids:
        d = avail.get(uid)
        if d is None:
            taken = clustered_disk_ids(world).get(uid)
            if taken:
                raise ClusterError(f"The disk with ID '{uid}' is already a clustered disk ('{taken[1]['name']}').",
                                   None, category="InvalidOperation", target=uid, terminating=False)
            seeing = _st.hosts_seeing_disk(world, uid)
            missing = [n for n in sorted(cluster["nodes"]) if n not in seeing]
            reason = (f"it is not visible to node(s) {', '.join(missing)}" if missing
                      else "it is not initialized")
            raise ClusterError(f"The disk with ID '{uid}' cannot be added to cluster '{cluster['name']}': {reason}.",
                               None, category="InvalidArgument", target=uid, terminating=False)
        added.append(_add_disk_resource(world, cluster, d, owner))
        del avail[uid]
    return added


def disk_info_for(world: Any, cluster: dict, d: dict, host: str) -> dict:
    """The data of a ClusterDiskInfo (Get-ClusterAvailableDisk)."""
    local = _st.find_disk_by_unique_id(world, host, _disk_id(d)) if host in cluster["nodes"] else None
    f = _facts(world, host if local is not None else sorted(cluster["nodes"])[0], local or d)
    return {"cluster": cluster["name"], "name": _next_disk_name(cluster), "number": f["Number"],
            "size": int(f["Size"] or 0), "partitions": disk_partitions(world, _disk_id(d)),
            "unique_id": _disk_id(d),
            "id": f.get("Guid") or f"{int(f.get('Signature') or 0):x}"}


def unique_id_for_disk_id(world: Any, cluster: dict, disk_id: str) -> str | None:
    """The UniqueId of the available disk whose ClusterDiskInfo.Id (GPT GUID or MBR signature) is disk_id."""
    nodes = sorted(cluster["nodes"])
    for d, _ in available_disks(world, cluster):
        f = _facts(world, nodes[0], d)
        ids = {str(f.get("Guid") or "").strip("{}").lower(), f"{int(f.get('Signature') or 0):x}"}
        if disk_id.strip("{}").lower() in ids:
            return _disk_id(d)
    return None


def _release_disk(world: Any, res: dict) -> None:
    if res.get("disk"):
        _st.clear_reservation(world, res["disk"]["unique_id"])


def _move_reservations(world: Any, c: dict) -> None:
    """Disk reservations follow their owner: the group owner, or the CSV's coordinator node."""
    for r in c["resources"].values():
        if r.get("disk"):
            owner = resource_owner(c, r)
            if owner:
                _st.set_reservation(world, r["disk"]["unique_id"], c["name"], owner)


# ====================================================================== cluster lifecycle

def _cno(world: Any) -> dict:
    dom = world.data.get("domain") or {}
    return dom.setdefault("cluster_objects", {})


def _set_clussvc(world: Any, node: str, running: bool) -> None:
    """ClusSvc follows membership: Automatic and running on a node, Manual and stopped after eviction."""
    svcs = world.host(node).setdefault("services", {})
    svc = svcs.setdefault("ClusSvc", {"display_name": "Cluster Service", "status": "Stopped", "start_type": "Manual"})
    svc["start_type"] = "Automatic" if running else "Manual"
    svc["status"] = "Running" if running else "Stopped"


def _new_group(name: str, gtype: str, owner: str, priority: int = 2000) -> dict:
    return {"name": name, "id": _guid(), "type": gtype, "owner": owner, "state": "Online",
            "priority": priority, "preferred_owners": [], "vm_id": None}


def create_cluster(world: Any, local: str, name: str, nodes: list[str], static_address: list[str],
                   no_storage: bool, admin_access_point: str | None, can_delegate: bool) -> dict:
    """New-Cluster (call inside a transaction)."""
    nodes = _canonical_hosts(world, nodes or [local])
    require_delegation(world, can_delegate, nodes, adding=True)
    if len(name) > 15 or not name.replace("-", "").isalnum():
        raise ClusterError(f"The cluster name '{name}' is not valid. A cluster name is a NetBIOS name of at most "
                           "15 characters (letters, digits and hyphens).", None, category="InvalidArgument",
                           target=name)
    for c in clusters(world).values():
        if c["name"].lower() == name.lower():
            raise ClusterError(f"There was an error creating the cluster '{name}'.\r\n"
                               f"    A cluster named '{name}' already exists in the domain.", None,
                               category="ResourceExists", target=name)
    for n in nodes:
        problems = node_problems(world, n)
        if problems:
            raise ClusterError(f"There was an error adding node '{n}' to the cluster\r\n    " + problems[0],
                               None, target=n)
    dom = world.domain()
    aap = admin_access_point or "ActiveDirectoryAndDns"
    if aap.lower() not in ("none", "dns") and not world.dc_up():
        raise ClusterError(f"There was an error creating the cluster '{name}'.\r\n"
                           "    Unable to contact the domain controller to create the cluster name object.",
                           None, target=name)
    for ip in static_address or []:
        parts = str(ip).split(".")
        if len(parts) != 4 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
            raise ClusterError(f"The static address '{ip}' is not a valid IPv4 address.", None,
                               category="InvalidArgument", target=ip)
    owner = world.host(local)["name"] if world.host(local)["name"] in nodes else nodes[0]
    c = {"name": name.upper(), "id": _guid(), "domain": dom["fqdn"], "fqdn": f"{name.lower()}.{dom['fqdn']}",
         "static_address": [str(a) for a in static_address or []], "created": _now(),
         "admin_access_point": aap,
         "nodes": {n: {"name": n, "id": str(i + 1), "weight": 1} for i, n in enumerate(nodes)},
         "groups": {}, "resources": {}, "quorum": {"type": "Majority", "resource": None},
         "csvs": {}, "events": [], "validations": []}
    c["groups"][CORE_GROUP] = _new_group(CORE_GROUP, "Cluster", owner, 1)
    c["groups"][STORAGE_GROUP] = _new_group(STORAGE_GROUP, "AvailableStorage", owner, 1)
    c["groups"][STORAGE_GROUP]["state"] = "Offline"
    c["resources"]["Cluster Name"] = {"name": "Cluster Name", "id": _guid(), "type": "Network Name",
                                      "group": CORE_GROUP, "state": "Online",
                                      "params": {"Name": name.upper(), "DnsName": name.lower()}}
    for i, ip in enumerate(c["static_address"]):
        rname = "Cluster IP Address" if i == 0 else f"Cluster IP Address {ip}"
        c["resources"][rname] = {"name": rname, "id": _guid(), "type": "IP Address", "group": CORE_GROUP,
                                 "state": "Online", "params": {"Address": ip, "SubnetMask": "255.255.255.0",
                                                               "EnableDhcp": 0}}
    clusters(world)[c["name"]] = c
    if aap.lower() not in ("none", "dns"):
        _cno(world)[c["name"]] = {"dns_host_name": c["fqdn"], "enabled": True, "created": _now(),
                                  "cluster_id": c["id"]}
    for n in nodes:
        _set_clussvc(world, n, True)
    if not no_storage:
        _grab_storage(world, c)
    return c


def _grab_storage(world: Any, c: dict) -> list[dict]:
    """Without -NoStorage every shared disk is taken; the smallest (>= 512 MB) becomes the witness."""
    owner = c["groups"][STORAGE_GROUP]["owner"]
    added = [_add_disk_resource(world, c, d, owner) for d, _ in available_disks(world, c)]
    if added and c["quorum"]["resource"] is None:
        candidates = sorted((r for r in added if r["disk"]["size"] >= 512 * 1024 * 1024),
                            key=lambda r: r["disk"]["size"])
        if candidates:
            set_quorum(world, c, "disk", candidates[0]["name"])
    return added


def add_node(world: Any, c: dict, names: list[str], no_storage: bool, can_delegate: bool) -> list[str]:
    nodes = _canonical_hosts(world, names)
    require_delegation(world, can_delegate, nodes, adding=True)
    for n in nodes:
        if n in c["nodes"]:
            raise ClusterError(f"There was an error adding node '{n}' to the cluster\r\n"
                               f"    The computer '{world.fqdn(n)}' is joined to a cluster.", None, target=n)
        problems = node_problems(world, n)
        if problems:
            raise ClusterError(f"There was an error adding node '{n}' to the cluster\r\n    " + problems[0],
                               None, target=n)
    next_id = max([int(r["id"]) for r in c["nodes"].values()] or [0]) + 1
    for n in nodes:
        c["nodes"][n] = {"name": n, "id": str(next_id), "weight": 1}
        next_id += 1
        _set_clussvc(world, n, True)
    sync_csv_files(world)
    if not no_storage:
        _grab_storage(world, c)
    return nodes


def remove_node(world: Any, c: dict, name: str, can_delegate: bool) -> None:
    n = node_name(world, c, name)
    require_delegation(world, can_delegate, [n])
    if len(c["nodes"]) == 1:
        raise ClusterError(f"The node '{n}' is the last node of cluster '{c['name']}'; use Remove-Cluster to "
                           "destroy the cluster.", None, category="InvalidOperation", target=n)
    others = [x for x in up_nodes(world, c) if x != n]
    for g in list(c["groups"].values()):
        if g["owner"] == n:
            if others:
                _move_group(world, c, g, _pick_target(world, c, g, exclude=n), "Live", "drain")
            else:
                g["state"] = "Failed"
    for csv in c["csvs"].values():
        if csv["owner"] == n and others:
            csv["owner"] = others[0]
    _unmirror_node(world, c, n)
    del c["nodes"][n]
    _set_clussvc(world, n, False)
    _move_reservations(world, c)


def destroy_cluster(world: Any, c: dict, cleanup_ad: bool, can_delegate: bool) -> None:
    require_delegation(world, can_delegate, sorted(c["nodes"]))
    for g in c["groups"].values():
        if g["type"] == "VirtualMachine" and g.get("vm_id"):
            found = find_vm(world, c, g["vm_id"])
            if found:
                found[1]["clustered"] = False
                found[1]["cluster"] = None
                found[1]["group"] = None
    sync_csv_files(world)
    for csv in c["csvs"].values():
        _store_on_volume(world, c["resources"][csv["name"]], csv)
    for n in list(c["nodes"]):
        _unmirror_node(world, c, n)
        _set_clussvc(world, n, False)
    for r in c["resources"].values():
        _release_disk(world, r)
    cno = _cno(world).get(c["name"])
    if cno is not None:
        if cleanup_ad:
            del _cno(world)[c["name"]]
        else:
            cno["enabled"] = False
    del clusters(world)[c["name"]]


# ====================================================================== quorum

def set_quorum(world: Any, c: dict, mode: str, disk_name: str | None = None) -> None:
    """mode: 'disk' (disk witness), 'none' (node majority, no witness)."""
    old = c["quorum"].get("resource")
    if mode == "disk":
        res = resource(c, disk_name)
        if res["type"] != "Physical Disk":
            raise ClusterError(f"The resource '{res['name']}' is not a Physical Disk resource and cannot be the "
                               "disk witness.", None, category="InvalidArgument", target=disk_name)
        if res["name"] in c["csvs"]:
            raise ClusterError(f"There was an error configuring the quorum of cluster '{c['name']}'.\r\n"
                               f"    '{res['name']}' is a Cluster Shared Volume. A Cluster Shared Volume cannot "
                               "be used as the disk witness.", None, category="InvalidOperation",
                               target=disk_name)
        if res["group"] not in (STORAGE_GROUP, CORE_GROUP):
            raise ClusterError(f"The disk '{res['name']}' belongs to the clustered role '{res['group']}' and "
                               "cannot be the disk witness.", None, category="InvalidOperation", target=disk_name)
        if old and old != res["name"] and old in c["resources"]:
            c["resources"][old]["group"] = STORAGE_GROUP
        res["group"] = CORE_GROUP
        res["state"] = "Online"
        c["quorum"] = {"type": "Majority", "resource": res["name"]}
    else:
        if old and old in c["resources"]:
            c["resources"][old]["group"] = STORAGE_GROUP
        c["quorum"] = {"type": "Majority", "resource": None}
    _move_reservations(world, c)


def remove_resource(world: Any, c: dict, name: str) -> None:
    res = resource(c, name)
    if c["quorum"].get("resource") == res["name"]:
        raise ClusterError(f"The resource '{res['name']}' is the quorum witness of cluster '{c['name']}' and "
                           "cannot be removed. Change the quorum configuration first.", None,
                           category="InvalidOperation", target=name)
    if res["name"] in c["csvs"]:
        raise ClusterError(f"The resource '{res['name']}' is a Cluster Shared Volume. Remove it from Cluster "
                           "Shared Volumes first (Remove-ClusterSharedVolume).", None,
                           category="InvalidOperation", target=name)
    if res.get("group") == CORE_GROUP and res["type"] in ("Network Name", "IP Address"):
        raise ClusterError(f"The resource '{res['name']}' is a core cluster resource and cannot be removed.",
                           None, category="InvalidOperation", target=name)
    _release_disk(world, res)
    del c["resources"][res["name"]]


# ====================================================================== Cluster Shared Volumes

def _mount_key(path: str) -> str:
    return _files.key(path) + "\\"


def csv_for_path(world: Any, host_name: str, path: str) -> tuple[dict, dict] | None:
    """(cluster, csv) when path lies on a CSV mounted on this host."""
    c = cluster_of(world, host_name)
    if c is None:
        return None
    k = _files.key(path)
    for csv in c["csvs"].values():
        mk = _files.key(csv["path"])
        if k == mk or k.startswith(mk + "\\"):
            return c, csv
    return None


def _mount_dirs(host: dict, csv: dict) -> None:
    _files.ensure_dir(host, csv["path"])


def _mirror(world: Any, c: dict, csv: dict) -> None:
    """Write the CSV record's files into every up node's own files map (and forget removed ones)."""
    for n in c["nodes"]:
        h = world.host(n)
        _mount_dirs(h, csv)
        prefix = _mount_key(csv["path"])
        fm = h.setdefault("files", {})
        for k in [k for k in fm if k.startswith(prefix) and k[len(prefix):] not in csv["files"]]:
            del fm[k]
        for rel, e in sorted(csv["files"].items()):
            if not _is_mounted(fm.get(prefix + rel), csv, e):  # rebuild only what differs: this runs per cmdlet
                fm[prefix + rel] = _mounted(csv, e)
        csv["synced"][n] = sorted(csv["files"])


def _is_mounted(shown: dict | None, csv: dict, entry: dict) -> bool:
    """shown == _mounted(csv, entry), without building it."""
    if shown is None or len(shown) != len(entry) - ("rel" in entry) + ("path" not in entry):
        return False
    if shown.get("path") != csv["path"] + "\\" + entry["rel"]:
        return False
    return all(k == "path" or shown.get(k, shown) == v for k, v in entry.items() if k != "rel")


def _mounted(csv: dict, entry: dict) -> dict:
    """A CSV file entry as a node's files map shows it: its path under the current mount point."""
    out = {k: v for k, v in entry.items() if k != "rel"}
    out["path"] = csv["path"] + "\\" + entry["rel"]
    return out


def _stored(csv: dict, entry: dict) -> dict:
    """A node's file entry as the CSV record keeps it: the path relative to the volume (the VolumeN
    number may differ the next time the disk becomes a CSV)."""
    out = dict(entry)
    out["rel"] = _files.normalize(entry["path"])[len(csv["path"]):].lstrip("\\")
    return out


def _absorb(world: Any, c: dict, csv: dict) -> None:
    """Take files created or deleted directly in a node's files map into the CSV record."""
    prefix = _mount_key(csv["path"])
    for n in c["nodes"]:
        fm = world.host(n).setdefault("files", {})
        present = {k[len(prefix):]: e for k, e in fm.items() if k.startswith(prefix)}
        known = set(csv["synced"].get(n, []))
        for rel, e in present.items():
            if rel not in known and rel not in csv["files"]:
                csv["files"][rel] = _stored(csv, e)
            elif rel in csv["files"] and str(e.get("mtime", "")) > str(csv["files"][rel].get("mtime", "")) and \
                    e != _mounted(csv, csv["files"][rel]):
                csv["files"][rel] = _stored(csv, e)     # rewritten on this node
        for rel in known - set(present):
            csv["files"].pop(rel, None)


def sync_csv_files(world: Any) -> None:
    """Absorb direct file changes on any node, then mirror every CSV onto every node (inside a transaction)."""
    for c in clusters(world).values():
        for csv in c["csvs"].values():
            _absorb(world, c, csv)
            _mirror(world, c, csv)


def _unmirror_node(world: Any, c: dict, node: str) -> None:
    fm = world.host(node).setdefault("files", {})
    for csv in c["csvs"].values():
        prefix = _mount_key(csv["path"])
        for k in [k for k in fm if k.startswith(prefix) or k == prefix[:-1]]:
            del fm[k]
        csv["synced"].pop(node, None)


def _unmirror_csv(world: Any, c: dict, csv: dict) -> None:
    for n in c["nodes"]:
        fm = world.host(n).setdefault("files", {})
        prefix = _mount_key(csv["path"])
        for k in [k for k in fm if k.startswith(prefix) or k == prefix[:-1]]:
            del fm[k]


def add_csv(world: Any, c: dict, name: str) -> dict:
    res = resource(c, name)
    if res["type"] != "Physical Disk":
        raise ClusterError(f"The resource '{res['name']}' is not a Physical Disk resource.", None,
                           category="InvalidArgument", target=name)
    if res["name"] in c["csvs"]:
        raise ClusterError(f"The resource '{res['name']}' is already a Cluster Shared Volume.", None,
                           category="InvalidOperation", target=name)
    if c["quorum"].get("resource") == res["name"]:
        raise ClusterError(f"The resource '{res['name']}' is the disk witness of cluster '{c['name']}' and cannot "
                           "be added to Cluster Shared Volumes.", None, category="InvalidOperation", target=name)
    if res.get("group") != STORAGE_GROUP:
        raise ClusterError(f"The resource '{res['name']}' is not in the Available Storage group.", None,
                           category="InvalidOperation", target=name)
    parts = _storage_partitions(world, c, res)
    if not any(str((p.get("volume") or {}).get("file_system") or "").upper() in ("NTFS", "REFS")
               for p in parts):
        raise ClusterError(f"The disk '{res['name']}' has no NTFS or ReFS volume. Only disks with an NTFS or "
                           "ReFS partition can be added to Cluster Shared Volumes.", None,
                           category="InvalidOperation", target=name)
    used = {csv["number"] for csv in c["csvs"].values()}
    number = 1
    while number in used:
        number += 1
    csv = {"name": res["name"], "id": res["id"], "number": number,
           "path": f"{CSV_ROOT}\\Volume{number}", "owner": c["groups"][STORAGE_GROUP]["owner"],
           "files": dict((_data_volume(world, res) or {}).get("files") or {}), "synced": {}}
    res["group"] = None
    res["state"] = "Online"
    c["csvs"][res["name"]] = csv
    _mirror(world, c, csv)
    _move_reservations(world, c)
    return csv


def _data_volume(world: Any, res: dict) -> dict | None:
    """The LUN's (largest) formatted volume: where a CSV's files live while the disk is not a CSV."""
    vols = [p for p in disk_partitions(world, res["disk"]["unique_id"]) if p.get("volume")]
    return max(vols, key=lambda p: int(p["size"]))["volume"] if vols else None


def _store_on_volume(world: Any, res: dict, csv: dict) -> None:
    vol = _data_volume(world, res)
    if vol is not None:
        vol["files"] = dict(csv["files"])


def vms_on_csv(world: Any, c: dict, csv: dict) -> list[dict]:
    out = []
    k = _files.key(csv["path"])
    for n in c["nodes"]:
        for vm in hyperv.state_of(world.host(n))["vms"].values():
            if any(_files.key(p) == k or _files.key(p).startswith(k + "\\") for p in hyperv.vm_files(vm)):
                out.append(vm)
    return out


def remove_csv(world: Any, c: dict, name: str) -> dict:
    res = resource(c, name)
    csv = c["csvs"].get(res["name"])
    if csv is None:
        raise ClusterError(f"The resource '{res['name']}' is not a Cluster Shared Volume.", None,
                           category="InvalidOperation", target=name)
    sync_csv_files(world)
    users = [vm["name"] for vm in vms_on_csv(world, c, csv)]
    if users:
        raise ClusterError(f"Cluster Shared Volume '{res['name']}' ('{csv['path']}') is in use by virtual "
                           f"machine(s) {', '.join(users)}; remove them first.", None,
                           category="ResourceBusy", target=name)
    _unmirror_csv(world, c, csv)
    del c["csvs"][res["name"]]
    res["group"] = STORAGE_GROUP
    _store_on_volume(world, res, csv)     # the data stays on the disk
    _move_reservations(world, c)
    return res


def _storage_partitions(world: Any, c: dict, res: dict) -> list[dict]:
    return disk_partitions(world, res["disk"]["unique_id"])


def csv_space(world: Any, c: dict, csv: dict) -> tuple[int, int]:
    """(size, free) of the CSV's volume: the formatted volume minus the files stored on it."""
    res = c["resources"][csv["name"]]
    vols = [p for p in _storage_partitions(world, c, res) if p.get("volume")]
    if vols:
        part = max(vols, key=lambda p: int(p["size"]))
        size = int(part["size"])
        free = int(part["volume"].get("size_remaining") or size)
    else:
        size = free = int(res["disk"]["size"])
    used = sum(int(e.get("size") or 0) for e in csv["files"].values() if e.get("kind") == "file")
    return size, max(0, free - used)


# ====================================================================== CSV-aware files (Hyper-V uses these)

def file_entry(world: Any, host_name: str, path: str) -> dict | None:
    sync_csv_files(world)
    return _files.get(world.host(host_name), path)


def write_file(world: Any, host_name: str, path: str, size: int, extra: dict | None = None) -> dict:
    on_csv = csv_for_path(world, host_name, path)
    h = world.host(host_name)
    entry = _files.put_file(h, path, size, **(extra or {}))
    if on_csv:
        sync_csv_files(world)
    return entry


def remove_path(world: Any, host_name: str, path: str, recurse: bool = True) -> None:
    h = world.host(host_name)
    if _files.get(h, path) is not None:
        _files.remove(h, path, recurse=recurse)
    if csv_for_path(world, host_name, path):
        sync_csv_files(world)


def on_shared_storage(world: Any, host_name: str, path: str) -> bool:
    return csv_for_path(world, host_name, path) is not None


# ====================================================================== VM roles

def find_vm(world: Any, c: dict, vm_id: str) -> tuple[str, dict] | None:
    for n in c["nodes"]:
        vm = hyperv.state_of(world.host(n))["vms"].get(vm_id)
        if vm is not None:
            return n, vm
    return None


def find_vm_by_name(world: Any, c: dict, name: str, prefer: str | None = None) -> tuple[str, dict] | None:
    order = sorted(c["nodes"], key=lambda n: (n != prefer, n))
    for n in order:
        for vm in hyperv.state_of(world.host(n))["vms"].values():
            if vm["name"].lower() == name.lower():
                return n, vm
    return None


def add_vm_role(world: Any, c: dict, local: str, vm_name: str | None, vm_id: str | None,
                group_name: str | None) -> dict:
    found = find_vm(world, c, vm_id.strip("{}").upper()) if vm_id else find_vm_by_name(world, c, vm_name or "", local)
    shown = vm_name or vm_id
    if found is None:
        raise ClusterError(f"There was an error configuring the virtual machine '{shown}' for high availability.\r\n"
                           f"    The virtual machine '{shown}' was not found on any node of cluster '{c['name']}'.",
                           None, category="ObjectNotFound", target=shown)
    host, vm = found
    if vm.get("clustered"):
        raise ClusterError("The resource is already configured for high availability.", None,
                           category="InvalidOperation", target=vm["name"])
    sync_csv_files(world)
    local_files = [p for p in hyperv.vm_files(vm) if not on_shared_storage(world, host, p)]
    if local_files:
        raise ClusterError(
            f"There was an error configuring the virtual machine '{vm['name']}' for high availability.\r\n"
            f"    Virtual machine '{vm['name']}' has files on storage that is not shared by the cluster: "
            f"'{local_files[0]}'. Store the configuration and the virtual hard disks of a highly available "
            "virtual machine on a Cluster Shared Volume.", None, category="InvalidOperation", target=vm["name"])
    gname = group_name or vm["name"]
    if any(g["name"].lower() == gname.lower() for g in c["groups"].values()):
        raise ClusterError(f"A clustered role named '{gname}' already exists.", None,
                           category="ResourceExists", target=gname)
    g = _new_group(gname, "VirtualMachine", host, 2000)
    g["vm_id"] = vm["id"]
    g["state"] = "Online" if vm["state"] == "Running" else "Offline"
    c["groups"][gname] = g
    for rname, rtype in ((f"Virtual Machine {vm['name']}", "Virtual Machine"),
                         (f"Virtual Machine Configuration {vm['name']}", "Virtual Machine Configuration")):
        state = "Online" if (rtype != "Virtual Machine" or vm["state"] == "Running") else "Offline"
        c["resources"][rname] = {"name": rname, "id": _guid(), "type": rtype, "group": gname, "state": state,
                                 "vm_id": vm["id"],
                                 "params": ({"VmID": vm["id"], "OfflineAction": OFFLINE_SAVE, "ShutdownAction": 0,
                                             "CheckHeartbeat": 1, "MigrationState": 0}
                                            if rtype == "Virtual Machine" else
                                            {"VmID": vm["id"], "ConfigurationLocation": vm["config_location"]})}
    vm["clustered"] = True
    vm["cluster"] = c["name"]
    vm["group"] = gname
    return g


def refresh_vm_group(world: Any, c: dict, g: dict) -> None:
    """Group/resource states follow the VM's state (Start-VM/Stop-VM on the owner are allowed)."""
    if g["type"] != "VirtualMachine" or not g.get("vm_id"):
        return
    found = find_vm(world, c, g["vm_id"])
    if found is None:
        return
    host, vm = found
    g["owner"] = host
    if g["state"] != "Failed":
        g["state"] = "Online" if vm["state"] == "Running" else "Offline"
    for r in group_resources(c, g["name"]):
        if r["type"] == "Virtual Machine":
            r["state"] = "Online" if vm["state"] == "Running" else ("Failed" if g["state"] == "Failed" else "Offline")


def remove_group(world: Any, c: dict, name: str, remove_resources: bool) -> None:
    g = group(c, name)
    if g["type"] in ("Cluster", "AvailableStorage"):
        raise ClusterError(f"The group '{g['name']}' is a core cluster group and cannot be removed.", None,
                           category="InvalidOperation", target=name)
    res = group_resources(c, g["name"])
    if res and not remove_resources:
        raise ClusterError(f"The group '{g['name']}' contains resources. Use the RemoveResources parameter to "
                           "remove the group together with its resources.", None,
                           category="InvalidOperation", target=name)
    for r in res:
        del c["resources"][r["name"]]
    if g.get("vm_id"):
        found = find_vm(world, c, g["vm_id"])
        if found:
            found[1]["clustered"] = False
            found[1]["cluster"] = None
            found[1]["group"] = None
    del c["groups"][g["name"]]


def start_group(world: Any, c: dict, name: str) -> dict:
    g = group(c, name)
    if g["type"] == "VirtualMachine" and g.get("vm_id"):
        found = find_vm(world, c, g["vm_id"])
        if found:
            hyperv.start_vm(found[1])
    g["state"] = "Online"
    refresh_vm_group(world, c, g)
    return g


OFFLINE_TURN_OFF, OFFLINE_SAVE, OFFLINE_SHUTDOWN, OFFLINE_SHUTDOWN_FORCED = 0, 1, 2, 3


def stop_group(world: Any, c: dict, name: str) -> dict:
    """Taking a VM role offline applies the Virtual Machine resource's OfflineAction: Save by default
    (MSCS "Virtual Machine" private property OfflineAction, default 1), so the VM ends up Saved, not Off.
    To turn it off, shut the VM down (Stop-VM on its owner): the cluster then shows the role Offline."""
    g = group(c, name)
    if g["type"] == "VirtualMachine" and g.get("vm_id"):
        found = find_vm(world, c, g["vm_id"])
        vm_res = next((r for r in group_resources(c, g["name"]) if r["type"] == "Virtual Machine"), None)
        action = int(((vm_res or {}).get("params") or {}).get("OfflineAction", OFFLINE_SAVE))
        if found and found[1]["state"] in ("Running", "Paused"):
            hyperv.stop_vm(found[1], "save" if action == OFFLINE_SAVE else
                           ("turnoff" if action == OFFLINE_TURN_OFF else "shutdown"))
    g["state"] = "Offline"
    refresh_vm_group(world, c, g)
    return g


def set_preferred_owners(world: Any, c: dict, gname: str, owners: list[str]) -> dict:
    g = group(c, gname)
    g["preferred_owners"] = [node_name(world, c, o) for o in owners]
    return g


def _pick_target(world: Any, c: dict, g: dict, exclude: str) -> str | None:
    candidates = [n for n in up_nodes(world, c) if n != exclude]
    for n in g.get("preferred_owners") or []:
        if n in candidates:
            return n
    return candidates[0] if candidates else None


def migration_blockers(world: Any, vm: dict, target: str) -> list[str]:
    """Why a VM cannot run on target: every adapter must be connected to a switch present there."""
    problems = []
    th = world.host(target)
    names = {s["name"].lower() for s in hyperv.state_of(th)["switches"].values()}
    for a in vm["network_adapters"]:
        if not a.get("switch"):
            problems.append(f"The network adapter '{a['name']}' of virtual machine '{vm['name']}' is not connected "
                            f"to a virtual switch. (Virtual machine ID {vm['id']})")
        elif a["switch"].lower() not in names:
            problems.append(f"Could not find Ethernet switch '{a['switch']}'. The virtual machine '{vm['name']}' "
                            f"is not compatible with physical computer '{target}'. (Virtual machine ID {vm['id']})")
    if world.feature_state(target, "Hyper-V") != "Installed":
        problems.append(f"Hyper-V is not installed on '{target}'.")
    return problems


def _record(world: Any, c: dict, **event: Any) -> dict:
    event = {"time": _now(), **event}
    c["events"].append(event)
    world.audit("cluster_event", cluster=c["name"], event=event["kind"],
                **{k: v for k, v in event.items() if k != "kind"})
    return event


def _move_group(world: Any, c: dict, g: dict, target: str | None, migration: str, kind: str) -> dict | None:
    """Move a group (VM roles by migration). Returns the recorded event for VM roles."""
    if target is None or target == g["owner"]:
        return None
    if g["type"] != "VirtualMachine" or not g.get("vm_id"):
        g["owner"] = target
        _move_reservations(world, c)
        return None
    found = find_vm(world, c, g["vm_id"])
    if found is None:
        g["owner"] = target
        return None
    source, vm = found
    blockers = migration_blockers(world, vm, target)
    if blockers:
        mig = "Live migration" if migration == "Live" else "Quick migration"
        raise ClusterError(
            f"{mig} of 'Virtual Machine {vm['name']}' failed.\r\n"
            f"Virtual machine migration operation for '{vm['name']}' failed at migration destination '{target}'. "
            f"(Virtual machine ID {vm['id']})\r\n" + "\r\n".join(blockers), None,
            category="InvalidOperation", target=g["name"])
    if migration == "Live" and vm["state"] == "Running" and not firewall.allows(world.host(target), "TCP", 6600):
        raise ClusterError(
            f"Live migration of 'Virtual Machine {vm['name']}' failed.\r\n"
            f"Virtual machine migration operation for '{vm['name']}' failed at migration source '{source}'. "
            f"(Virtual machine ID {vm['id']})\r\nThe Virtual Machine Management Service failed to establish a "
            f"connection for a Virtual Machine migration with host '{target}': A connection attempt failed because "
            f"the connected party did not properly respond after a period of time (0x8007274C).", None,
            category="InvalidOperation", target=g["name"])
    was = vm["state"]
    boot_before = vm.get("boot_id", 0)
    downtime = 0.0
    if was == "Running":
        if migration == "Live":
            downtime = LIVE_BLACKOUT_SECONDS
        else:
            hyperv.stop_vm(vm, "save")
            downtime = quick_migration_seconds(vm)
    del hyperv.state_of(world.host(source))["vms"][vm["id"]]
    hyperv.state_of(world.host(target))["vms"][vm["id"]] = vm
    if was == "Running" and vm["state"] == "Saved":
        hyperv.start_vm(vm)
    g["owner"] = target
    refresh_vm_group(world, c, g)
    etype = migration if was == "Running" else "Offline"
    # a VM that was not running is moved, not migrated: its event says so whatever the caller asked for
    kind = kind if was == "Running" else "move"
    return _record(world, c, kind=kind, vm=vm["name"], vm_id=vm["id"], group=g["name"], **{"from": source},
                   to=target, type=etype, downtime_seconds=downtime, state_before=was, state_after=vm["state"],
                   boot_id_before=boot_before, boot_id_after=vm.get("boot_id", 0))


def quick_migration_seconds(vm: dict) -> float:
    """Save the memory, hand the disks over, restore: a few seconds plus the time to write the memory."""
    gib = int(vm.get("memory_startup") or 0) / (1024 ** 3)
    return round(4.0 + 2.5 * gib, 2)


def migration_seconds(vm: dict, migration: str) -> float:
    """Simulated wall time of a migration (the cmdlet sleeps this, scaled by the time factor)."""
    if vm["state"] != "Running":
        return 2.0
    return LIVE_MIGRATION_SECONDS if migration == "Live" else quick_migration_seconds(vm)


def move_vm_role(world: Any, c: dict, gname: str, node: str | None, migration: str) -> tuple[dict, dict | None]:
    g = group(c, gname)
    if node:
        target = node_name(world, c, node)
    else:
        target = _pick_target(world, c, g, exclude=g["owner"])
    if target is None:
        raise ClusterError(f"No other node of cluster '{c['name']}' is available to host '{g['name']}'.", None,
                           category="InvalidOperation", target=gname)
    if node_state(world, c, target) != "Up":
        raise ClusterError(f"The node '{target}' is not up; the group '{g['name']}' cannot be moved there.\r\n"
                           "    The cluster node is not in a state to perform the requested operation.", None,
                           category="InvalidOperation", target=gname)
    kind = {"Live": "live_migration", "Quick": "quick_migration"}.get(migration, "move")
    event = _move_group(world, c, g, target, migration, kind)
    return g, event


# ====================================================================== power: failover, drain, rejoin

def _vm_failover(world: Any, c: dict, g: dict, dead: str) -> None:
    found = find_vm(world, c, g["vm_id"])
    target = _pick_target(world, c, g, exclude=dead)
    if found is None:
        return
    _, vm = found
    was = vm["state"]
    if target is None or migration_blockers(world, vm, target):
        g["state"] = "Failed"
        vm["state"] = "Off"
        refresh_vm_group(world, c, g)
        _record(world, c, kind="failover_failed", vm=vm["name"], vm_id=vm["id"], group=g["name"],
                **{"from": dead}, to=None, type="Failover", downtime_seconds=None, state_before=was,
                state_after="Off")
        return
    boot_before = vm.get("boot_id", 0)
    del hyperv.state_of(world.host(dead))["vms"][vm["id"]]
    hyperv.state_of(world.host(target))["vms"][vm["id"]] = vm
    vm["state"] = "Off"
    vm["started_at"] = None
    if was in ("Running", "Paused") or g["state"] == "Online":
        hyperv.start_vm(vm)           # a cold boot on the survivor
    g["owner"] = target
    g["state"] = "Online" if vm["state"] == "Running" else "Offline"
    refresh_vm_group(world, c, g)
    _record(world, c, kind="failover", vm=vm["name"], vm_id=vm["id"], group=g["name"], **{"from": dead},
            to=target, type="Failover", downtime_seconds=FAILOVER_DETECT_SECONDS + VM_BOOT_SECONDS,
            state_before=was, state_after=vm["state"], boot_id_before=boot_before, boot_id_after=vm.get("boot_id", 0))


def _hand_over_storage(world: Any, c: dict, dead: str) -> None:
    """The CSVs the leaving node coordinated pass to another Up node; disk reservations follow their owners."""
    for csv in c["csvs"].values():
        if csv["owner"] == dead:
            target = next((n for n in up_nodes(world, c) if n != dead), None)
            if target:
                csv["owner"] = target
    _move_reservations(world, c)


def on_power_off(world: Any, host_name: str) -> None:
    """A node lost power: it is Down; everything it owned fails over (preferred owners first)."""
    c = cluster_of(world, host_name)
    h = world.host(host_name)
    hyperv.host_down(h, graceful=False)
    if c is None:
        return
    dead = h["name"]
    for g in list(c["groups"].values()):
        if g["owner"] != dead:
            continue
        if g["type"] == "VirtualMachine" and g.get("vm_id"):
            _vm_failover(world, c, g, dead)
        else:
            target = _pick_target(world, c, g, exclude=dead)
            if target:
                g["owner"] = target
            _record(world, c, kind="failover", group=g["name"], **{"from": dead}, to=target, type="Failover",
                    downtime_seconds=FAILOVER_DETECT_SECONDS)
    _hand_over_storage(world, c, dead)


def on_shutdown(world: Any, host_name: str) -> None:
    """A graceful restart drains the node first: VM roles live-migrate to another node."""
    c = cluster_of(world, host_name)
    h = world.host(host_name)
    hyperv.host_down(h, graceful=True)
    if c is None:
        return
    dead = h["name"]
    for g in list(c["groups"].values()):
        if g["owner"] != dead:
            continue
        target = _pick_target(world, c, g, exclude=dead)
        if target is None:
            if g.get("vm_id"):
                found = find_vm(world, c, g["vm_id"])
                if found and found[1]["state"] in ("Running", "Paused"):
                    hyperv.stop_vm(found[1], "save")
                    g["resume_on_boot"] = True        # the role was online: the cluster brings it back
                refresh_vm_group(world, c, g)
            continue
        try:
            _move_group(world, c, g, target, "Live", "drain")
        except ClusterError:
            _vm_failover(world, c, g, dead)
    _hand_over_storage(world, c, dead)


def on_boot(world: Any, host_name: str) -> None:
    """The node comes back and rejoins (Up once reachable); groups stay where they are (no failback).
    Roles that could not fail over (every node was down) come online on the returning node."""
    hyperv.host_up(world.host(host_name))
    c = cluster_of(world, host_name)
    if c is None:
        return
    me = world.host(host_name)["name"]
    _set_clussvc(world, me, True)
    for csv in c["csvs"].values():
        _mirror(world, c, csv)
        if node_state(world, c, csv["owner"]) != "Up":
            csv["owner"] = me
    for g in list(c["groups"].values()):
        stranded = g["owner"] != me and node_state(world, c, g["owner"]) != "Up"
        if g["type"] == "VirtualMachine" and g.get("vm_id") and (g["state"] == "Failed" or stranded):
            found = find_vm(world, c, g["vm_id"])
            if found is not None:
                owner, vm = found
                if owner != me:
                    del hyperv.state_of(world.host(owner))["vms"][vm["id"]]
                    hyperv.state_of(world.host(me))["vms"][vm["id"]] = vm
                g["owner"] = me
                if g["state"] == "Failed" or vm["state"] == "Off":
                    hyperv.start_vm(vm)
                g["state"] = "Online" if vm["state"] == "Running" else "Offline"
                _record(world, c, kind="recovered", vm=vm["name"], vm_id=vm["id"], group=g["name"],
                        **{"from": owner}, to=me, type="Failover", downtime_seconds=None,
                        state_after=vm["state"], boot_id_after=vm.get("boot_id", 0))
        elif g.pop("resume_on_boot", False) and g.get("vm_id"):
            found = find_vm(world, c, g["vm_id"])
            if found is not None and found[0] == me:
                hyperv.start_vm(found[1])
        elif stranded:
            g["owner"] = me
        if g["type"] == "VirtualMachine":
            refresh_vm_group(world, c, g)
    _move_reservations(world, c)


def install(world: Any) -> None:
    """Register the cluster's reactions to power events on a World (idempotent)."""
    for event, fn in (("power_off", on_power_off), ("shutdown", on_shutdown), ("boot", on_boot)):
        hooks = world.hooks.setdefault(event, [])
        if fn not in hooks:
            hooks.append(fn)
