"""Emulated cmdlets: the FailoverClusters module (see docs/DESIGN.md section 8).

The cluster state and its rules live in hvsim.world.cluster (whose docstring lists the world shape and
the double-hop error texts). Here: binding the parameters to world calls, durations, and the output
objects with the real property names: Cluster, ClusterNode, ClusterGroup, ClusterResource,
ClusterSharedVolume (+ ClusterSharedVolumeInfo / ClusterDiskPartitionInfo), ClusterDiskInfo,
ClusterParameter, ClusterQuorumSettings, ClusterOwnerNodeList, and System.IO.FileInfo for Test-Cluster.
State properties are PSEnum values of the real enum types; nested objects (OwnerNode, OwnerGroup,
Cluster, ResourceType) are small objects whose ToString() is their name, as on Windows.

Test-Cluster writes an .htm report into the host's files (default
C:\\Windows\\Cluster\\Reports\\Validation Report yyyy.MM.dd At HH.mm.ss.htm, or -ReportName + ".htm"), returns
its FileInfo and reports the verdict as Windows does, through warnings:
"Test Result:\\r\\nClusterConditionallyApproved\\r\\n..." (warnings found) or "...ClusterNotApproved..."
(failures; the report lists them). No warning when every test passed. Each run is also recorded in
data["cluster_validations"] (a list of {"time", "host", "nodes", "result", "report", "passed", "warnings",
"errors"}): validation runs before any cluster exists, so it cannot live under data["clusters"].

Error texts. Seen verbatim in the field (FailoverClusterDsc issues, Azure Stack HCI validation, cluster
blogs): "There was an error adding node 'X' to the cluster" + "You do not have administrative privileges
on the server 'x.domain'." + "Requested registry access is not allowed." (New-Cluster/Add-ClusterNode
without delegation); "The computer 'x.domain' is joined to a cluster."; "Unable to connect to x.domain
via WMI"; "The cluster service is not running.  Make sure that the service is running on all nodes in the
cluster." (ClusterEndpointNotRegistered, on a host that is no node); "Check the spelling of the cluster
name. ..." (ClusterRpcConnection); "The resource is already configured for high availability."; the
validation warnings "No disks were found on which to perform cluster validation tests" and "Node A is
reachable from Node B by only one pair of network interfaces...". Modelled on the Windows wording but not
verified letter for letter: the not-found texts ("An error occurred opening resource/cluster group 'X'."),
the storage and quorum refusals (witness vs. CSV, disk not visible on every node), the VM-role refusal for
files outside shared storage, and the migration failure ("Live migration of 'Virtual Machine VM1' failed."
+ "Virtual machine migration operation for 'VM1' failed at migration destination 'HV02'." + the reason).
FullyQualifiedErrorIds are "<Cmdlet-Name>,<implementing type>" unless a specific id is named.
"""
from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from ..powershell.values import PSEnum, PSObject
from ..world import cluster as wc
from ..world import files as wf
from ..world import hyperv as whv
from .registry import CmdletContext, CmdletError, cmdlet, require_feature

NS = "Microsoft.FailoverClusters.PowerShell"

NODE_STATES = {"Up": 0, "Down": 1, "Paused": 2, "Joining": 3, "Unknown": -1}
GROUP_STATES = {"Online": 0, "Offline": 1, "Failed": 2, "PartialOnline": 3, "Pending": 4, "Unknown": -1}
RESOURCE_STATES = {"Inherited": 0, "Initializing": 1, "Online": 2, "Offline": 3, "Failed": 4, "Pending": 128,
                   "OnlinePending": 129, "OfflinePending": 130, "Unknown": -1}
GROUP_TYPES = {"Cluster": 1, "AvailableStorage": 2, "Temporary": 3, "ClusterSharedVolume": 4,
               "FileServer": 100, "GenericApplication": 107, "VirtualMachine": 111, "Unknown": 9999}
QUORUM_TYPES = {"NodeMajority": 0, "NodeAndDiskMajority": 1, "NodeAndFileShareMajority": 2, "DiskOnly": 3,
                "Majority": 4, "Unknown": -1}


# ---------------------------------------------------------------------------------------- plumbing
def cluster_cmdlet(name: str) -> Callable:
    """@cmdlet plus translation of world errors into the cmdlet's error record."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def impl(ctx: CmdletContext, p: Any) -> Iterable[Any]:
            require_feature(ctx, name, "RSAT-Clustering-PowerShell")
            try:
                return list(fn(ctx, p) or [])
            except wc.ClusterError as e:
                raise CmdletError(e.message, e.error_id or name, category=e.category, target=e.target,
                                  terminating=e.terminating, exception_type=e.exception_type) from None
            except whv.HyperVError as e:
                raise CmdletError(e.message, e.error_id, category=e.category, target=e.target,
                                  terminating=False, exception_type=e.exception_type) from None
        return cmdlet(name)(impl)
    return wrap


def _enum(kind: str, table: dict, name: str) -> PSEnum:
    return PSEnum(f"{NS}.{kind}", name, table.get(name, -1))


def _named(type_name: str, props: dict) -> PSObject:
    name = props.get("Name")
    return PSObject(props, type_name=type_name, methods={"ToString": lambda: str(name)})


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in items:
        if isinstance(v, PSObject):
            v = v.get_prop("Name")
        out.append(str(v))
    return out


def _name_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return _name_of(value[0]) if value else None
    if isinstance(value, PSObject):
        return str(value.get_prop("Name"))
    return str(value)


def _cluster(ctx: CmdletContext, p: Any) -> dict:
    name = p.get("Cluster")
    obj = p.get("InputObject")
    if not name and isinstance(obj, PSObject) and obj.type_name == f"{NS}.Cluster":
        name = obj.get_prop("Name")
    return wc.resolve_cluster(ctx.world, ctx.session.host, name)


def _input_names(p: Any, kind: str) -> list[str]:
    """Names from -Name or from piped objects of the given type (ClusterGroup, ClusterResource, ...)."""
    names = _strings(p.get("Name"))
    obj = p.get("InputObject")
    for o in obj if isinstance(obj, list) else [obj]:
        if isinstance(o, PSObject) and o.type_name == f"{NS}.{kind}":
            names.append(str(o.get_prop("Name")))
        elif isinstance(o, str):
            names.append(o)
    return names


# ---------------------------------------------------------------------------------------- objects
def cluster_ref(c: dict) -> PSObject:
    return _named(f"{NS}.Cluster", {"Name": c["name"], "Id": c["id"], "Domain": c["domain"]})


def cluster_object(ctx: CmdletContext, c: dict) -> PSObject:
    return _named(f"{NS}.Cluster", {
        "Name": c["name"], "Domain": c["domain"], "Id": c["id"],
        "AdministrativeAccessPoint": c.get("admin_access_point", "ActiveDirectoryAndDns"),
        "SharedVolumesRoot": wc.CSV_ROOT, "EnableSharedVolumes": "Enabled", "DynamicQuorum": 1,
        "WitnessDynamicWeight": 1 if c["quorum"].get("resource") else 0,
        "QuorumArbitrationTimeMax": 20, "S2DEnabled": 0, "Description": "",
        "FunctionalLevel": 10, "ClusterFunctionalLevel": 10, "FixQuorum": 0, "SameSubnetThreshold": 10,
        "CrossSubnetThreshold": 20, "ResiliencyDefaultPeriod": 240})


def node_object(ctx: CmdletContext, c: dict, n: str) -> PSObject:
    rec = c["nodes"][n]
    state = wc.node_state(ctx.world, c, n)
    return _named(f"{NS}.ClusterNode", {
        "Name": n, "State": _enum("ClusterNodeState", NODE_STATES, state), "Id": rec["id"],
        "NodeName": n, "NodeWeight": rec.get("weight", 1), "DynamicWeight": 1 if state == "Up" else 0,
        "Cluster": cluster_ref(c), "Type": "Node", "StatusInformation": "Normal",
        "DrainStatus": "NotInitiated", "FaultDomain": None, "Model": "Virtual Machine",
        "Manufacturer": "Microsoft Corporation", "Description": ""})


def node_ref(ctx: CmdletContext, c: dict, n: str | None) -> PSObject | None:
    if n is None or n not in c["nodes"]:
        return None
    return node_object(ctx, c, n)


def group_object(ctx: CmdletContext, c: dict, g: dict) -> PSObject:
    wc.refresh_vm_group(ctx.world, c, g)
    state = g["state"]
    if g["type"] != "VirtualMachine" and wc.node_state(ctx.world, c, g["owner"]) != "Up":
        state = "Failed"
    return _named(f"{NS}.ClusterGroup", {
        "Name": g["name"], "OwnerNode": node_ref(ctx, c, g["owner"]),
        "State": _enum("ClusterGroupState", GROUP_STATES, state),
        "GroupType": _enum("GroupType", GROUP_TYPES, g["type"]), "Priority": g.get("priority", 2000),
        "Id": g["id"], "Cluster": cluster_ref(c), "IsCoreGroup": g["type"] in ("Cluster", "AvailableStorage"),
        "Description": "", "FailoverThreshold": 4294967295, "FailoverPeriod": 6, "AutoFailbackType": 0,
        "PersistentState": 1 if state == "Online" else 0, "DefaultOwner": 4294967295,
        "AntiAffinityClassNames": [], "StatusInformation": 0})


def resource_object(ctx: CmdletContext, c: dict, r: dict) -> PSObject:
    owner = wc.resource_owner(c, r)
    if r.get("group"):
        owner_group: Any = group_object(ctx, c, c["groups"][r["group"]])
    else:
        owner_group = _named(f"{NS}.ClusterGroup", {"Name": r["id"], "Id": r["id"]})
    state = r["state"]
    if owner and wc.node_state(ctx.world, c, owner) != "Up":
        state = "Failed"
    return _named(f"{NS}.ClusterResource", {
        "Name": r["name"], "State": _enum("ClusterResourceState", RESOURCE_STATES, state),
        "OwnerGroup": owner_group,
        "ResourceType": _named(f"{NS}.ClusterResourceType", {"Name": r["type"]}),
        "OwnerNode": node_ref(ctx, c, owner), "Id": r["id"], "Cluster": cluster_ref(c),
        "IsCoreResource": r.get("group") == wc.CORE_GROUP and r["type"] in ("Network Name", "IP Address")
        or c["quorum"].get("resource") == r["name"],
        "Characteristics": 0, "Description": "", "IsNetworkClassResource": r["type"] in ("Network Name", "IP Address"),
        "MaintenanceMode": False, "StatusInformation": 0})


def _partition_info(p: dict, size: int | None = None, free: int | None = None, name: str = "") -> PSObject:
    vol = p.get("volume") or {}
    psize = int(size if size is not None else (p.get("size") or 0))
    pfree = int(free if free is not None else (vol.get("free") or vol.get("size_remaining") or psize))
    return PSObject({
        "Name": name or p.get("access_path") or "", "DriveLetter": p.get("drive_letter") or "",
        "FileSystem": vol.get("file_system") or p.get("file_system") or "NTFS",
        "Size": psize, "FreeSpace": pfree, "UsedSpace": psize - pfree,
        "PercentFree": round(100.0 * pfree / psize, 6) if psize else 0.0,
        "PartitionNumber": p.get("number", 2), "MountPoints": [], "VolumeLabel": vol.get("label") or "",
        "VolumeGuid": vol.get("guid") or "", "IsCompressed": False, "IsDirty": 0, "IsFormatted": True,
        "IsNtfs": True, "IsPartitionNumberValid": True, "IsPartitionSizeValid": True, "IsSparse": False,
        "HasDriveLetter": bool(p.get("drive_letter")), "SerialNumber": 0},
        type_name=f"{NS}.ClusterDiskPartitionInfo")


def csv_object(ctx: CmdletContext, c: dict, csv: dict) -> PSObject:
    size, free = wc.csv_space(ctx.world, c, csv)
    res = c["resources"][csv["name"]]
    parts = wc._storage_partitions(ctx.world, c, res) or [{"number": 2, "size": size}]
    part = max(parts, key=lambda x: int(x.get("size") or 0))
    info = PSObject({
        "FaultState": "NoFaults", "FriendlyVolumeName": csv["path"], "MaintenanceMode": False,
        "Partition": _partition_info(part, size, free, name=f"\\\\?\\Volume{{{csv['id']}}}\\"),
        "PartitionNumber": part.get("number", 2), "RedirectedAccess": False, "VolumeOffset": part.get("offset", 0),
        "VolumeName": f"\\\\?\\Volume{{{csv['id']}}}\\"}, type_name=f"{NS}.ClusterSharedVolumeInfo")
    state = "Online" if wc.node_state(ctx.world, c, csv["owner"]) == "Up" else "Failed"
    return _named(f"{NS}.ClusterSharedVolume", {
        "Name": csv["name"], "State": _enum("ClusterResourceState", RESOURCE_STATES, state),
        "OwnerNode": node_ref(ctx, c, csv["owner"]), "SharedVolumeInfo": [info], "Id": csv["id"],
        "Cluster": cluster_ref(c), "Description": ""})


def disk_info_object(ctx: CmdletContext, c: dict, d: dict) -> PSObject:
    info = wc.disk_info_for(ctx.world, c, d, ctx.session.host)
    return _named(f"{NS}.ClusterDiskInfo", {
        "Cluster": cluster_ref(c), "Id": info["id"], "Name": info["name"], "Number": info["number"],
        "Size": info["size"], "Partitions": [_partition_info(x) for x in info["partitions"]],
        "ScsiAddress": 50331648})


def quorum_object(ctx: CmdletContext, c: dict) -> PSObject:
    qres = c["quorum"].get("resource")
    return PSObject({
        "Cluster": cluster_ref(c),
        "QuorumResource": resource_object(ctx, c, c["resources"][qres]) if qres in c["resources"] else None,
        "QuorumType": _enum("ClusterQuorumType", QUORUM_TYPES, c["quorum"].get("type", "Majority"))},
        type_name=f"{NS}.ClusterQuorumSettings")


def parameter_object(obj: PSObject, name: str, value: Any, ptype: str, readonly: bool = False) -> PSObject:
    return PSObject({"ClusterObject": obj, "Name": name, "IsReadOnly": readonly,
                     "ParameterType": PSEnum(f"{NS}.ClusterParameterType", ptype,
                                             {"String": 3, "UInt32": 2, "Int32": 7, "UInt64": 6, "Boolean": 2,
                                              "ByteArray": 4, "MultiString": 5}.get(ptype, 3)),
                     "Value": value}, type_name=f"{NS}.ClusterParameter")


def _disk_parameters(r: dict, obj: PSObject) -> list[PSObject]:
    d = r["disk"]
    gpt = d.get("partition_style") == "GPT"
    return [
        parameter_object(obj, "DiskIdType", 1 if gpt else 0, "UInt32"),
        parameter_object(obj, "DiskSignature", 0 if gpt else int(d.get("signature") or 0), "UInt32"),
        parameter_object(obj, "DiskIdGuid", d.get("guid") or "", "String"),
        parameter_object(obj, "DiskRunChkDsk", 0, "UInt32"),
        parameter_object(obj, "DiskUniqueIds", d.get("unique_id"), "ByteArray", readonly=True),
        parameter_object(obj, "DiskVolumeInfo", None, "ByteArray", readonly=True),
        parameter_object(obj, "DiskArbInterval", 3, "UInt32"),
        parameter_object(obj, "DiskPath", "", "String"),
        parameter_object(obj, "DiskReload", 0, "UInt32"),
        parameter_object(obj, "MaintenanceMode", 0, "UInt32"),
        parameter_object(obj, "MaxIoLatency", 1000, "UInt32"),
        parameter_object(obj, "CsvEnforceWriteThrough", 0, "UInt32"),
        parameter_object(obj, "DiskRecoveryAction", 0, "UInt32"),
    ]


def file_info_object(entry: dict) -> PSObject:
    path = entry["path"]
    name = wf.leaf(path)
    mtime = datetime.fromisoformat(entry["mtime"]) if entry.get("mtime") else datetime.now(timezone.utc)
    return _named("System.IO.FileInfo", {
        "Name": name, "FullName": path, "DirectoryName": wf.parent(path), "Length": int(entry.get("size") or 0),
        "Extension": "." + name.rsplit(".", 1)[1] if "." in name else "", "Exists": True, "IsReadOnly": False,
        "Mode": "-a----", "Attributes": "Archive", "CreationTime": mtime, "LastWriteTime": mtime,
        "CreationTimeUtc": mtime, "LastWriteTimeUtc": mtime, "BaseName": name.rsplit(".", 1)[0]})


# ---------------------------------------------------------------------------------------- Test-Cluster
CATEGORIES = ["Inventory", "Network", "Storage", "System Configuration", "Hyper-V Configuration",
              "Cluster Configuration"]


def _selected(p: Any) -> tuple[set[str], bool]:
    include = [s.lower() for s in _strings(p.get("Include"))]
    ignore = [s.lower() for s in _strings(p.get("Ignore"))]
    cats = {c for c in CATEGORIES if (not include or c.lower() in include) and c.lower() not in ignore}
    return cats, bool(include or ignore)


def _validate(ctx: CmdletContext, nodes: list[str], cats: set[str]) -> tuple[list[str], list[str], list[str]]:
    """(passed, warnings, errors) lines of the validation report."""
    world = ctx.world
    passed: list[str] = []
    warns: list[str] = []
    errs: list[str] = []
    reachable = []
    for n in nodes:
        if world.reachable(n):
            reachable.append(n)
        else:
            errs.append(f"Inventory - Unable to connect to {world.fqdn(n)} via WMI. The node is not reachable.")
    if "System Configuration" in cats:
        doms = {world.host(n).get("domain") for n in reachable}
        for n in reachable:
            for problem in wc.node_problems(world, n, adding=False):
                errs.append("System Configuration - Validate Active Directory Configuration: " + problem
                            if "domain" in problem else "System Configuration - Validate Required Services: " + problem)
        if len(doms) > 1:
            errs.append("System Configuration - Validate Active Directory Configuration: the servers are not all "
                        "members of the same domain.")
        versions = {world.host(n)["os"]["version"] for n in reachable}
        if len(versions) > 1:
            errs.append("System Configuration - Validate Operating System Version: the nodes run different "
                        f"operating system versions ({', '.join(sorted(versions))}).")
        else:
            passed.append("System Configuration - Validate Operating System Version")
        captions = {world.host(n)["os"]["caption"] for n in reachable}
        if len(captions) > 1:
            warns.append("System Configuration - Validate Operating System Edition: the nodes run different "
                         f"editions ({', '.join(sorted(captions))}).")
    if "Network" in cats:
        for n in reachable:
            nics = [x for x in world.host(n).get("nics") or [] if x.get("ipv4")]
            if not nics:
                errs.append(f"Network - Validate IP Configuration: node {n} has no IPv4 address.")
            elif len(nics) < 2 and len(reachable) > 1:
                other = next(x for x in reachable if x != n)
                warns.append(f"Network - Validate Network Communication: Node {n} is reachable from Node {other} by "
                             "only one pair of network interfaces. It is possible that this network path is a single "
                             "point of failure for communication within the cluster.")
        if not any(w.startswith("Network") for w in warns + errs):
            passed.append("Network - Validate Network Communication")
    if "Storage" in cats and len(reachable) == len(nodes):
        disks = wc.shared_disks(world, nodes)
        if not disks:
            warns.append("Storage - List Potential Cluster Disks: No disks were found on which to perform cluster "
                         "validation tests. To correct this, review the following possible causes: the disks are "
                         "not connected to all nodes, or they are already clustered or in use.")
        else:
            passed.append(f"Storage - List Potential Cluster Disks: {len(disks)} disk(s) are visible to all nodes")
    if "Hyper-V Configuration" in cats:
        with_hv = [n for n in reachable if world.feature_state(n, "Hyper-V") == "Installed"]
        if with_hv and len(with_hv) != len(reachable):
            warns.append("Hyper-V Configuration - Validate Hyper-V Role Installed: the Hyper-V role is not installed "
                         f"on {', '.join(sorted(set(reachable) - set(with_hv)))}.")
        names = [{s["name"].lower() for s in whv.state_of(world.host(n))["switches"].values()} for n in with_hv]
        if names and any(s != names[0] for s in names):
            diff = sorted(set().union(*names) - set.intersection(*names))
            warns.append("Hyper-V Configuration - Validate Hyper-V Virtual Machine Network Configuration: virtual "
                         f"switches are not present on every node with the same name: {', '.join(diff)}. Virtual "
                         "machines connected to them cannot fail over.")
        elif with_hv:
            passed.append("Hyper-V Configuration - Validate Hyper-V Virtual Machine Network Configuration")
    return passed, warns, errs


def _report_html(nodes: list[str], when: datetime, result: str, passed: list[str], warns: list[str],
                 errs: list[str]) -> str:
    rows = "".join(f"<tr><td>{t}</td><td>{s}</td></tr>" for s, items in
                   (("Success", passed), ("Warning", warns), ("Failed", errs)) for t in items)
    return ("<html><head><title>Failover Cluster Validation Report</title></head><body>"
            f"<h1>Failover Cluster Validation Report</h1><p>Nodes: {', '.join(nodes)}</p>"
            f"<p>Started: {when.isoformat()}</p><p>Validation Result: {result}</p>"
            f"<table><tr><th>Test</th><th>Result</th></tr>{rows}</table></body></html>")


@cluster_cmdlet("Test-Cluster")
def test_cluster(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    world = ctx.world
    local = ctx.session.host
    with world.transaction():
        if p.get("Node"):
            nodes = wc._canonical_hosts(world, _strings(p.get("Node")))
        else:
            nodes = sorted(_cluster(ctx, p)["nodes"])
        for n in list(nodes):
            c = wc.cluster_of(world, n)
            if c is not None:
                nodes += [x for x in sorted(c["nodes"]) if x not in nodes]
        wc.require_delegation(world, ctx.session.can_delegate, nodes)
    if p.switch("List"):
        return [PSObject({"Category": cat, "DisplayName": cat, "Description": ""}) for cat in CATEGORIES]
    cats, partial = _selected(p)
    ctx.sleep(30 + 10 * len(nodes))
    with world.transaction() as data:
        passed, warns, errs = _validate(ctx, nodes, cats)
        verdict = "ClusterNotApproved" if errs else ("ClusterConditionallyApproved" if warns else "ClusterApproved")
        result = ("HadUnselectedTests, " if partial else "") + verdict
        when = world.now()
        report = p.get("ReportName")
        if report:
            path = report if (":" in report or report.startswith("\\\\")) else \
                "C:\\Windows\\Cluster\\Reports\\" + report
            if not path.lower().endswith((".htm", ".html", ".mht")):
                path += ".htm"
        else:
            path = f"C:\\Windows\\Cluster\\Reports\\Validation Report {when:%Y.%m.%d} At {when:%H.%M.%S}.htm"
        html = _report_html(nodes, when, result, passed, warns, errs)
        entry = wc.write_file(world, local, path, len(html.encode()), extra={"content": html})
        data.setdefault("cluster_validations", []).append({
            "time": when.isoformat(), "host": world.host(local)["name"], "nodes": nodes, "result": result,
            "report": entry["path"], "passed": passed, "warnings": warns, "errors": errs})
    for w in warns + errs:
        ctx.warn(w)
    if errs:
        ctx.warn(f"Test Result:\r\n{result}\r\nTesting has completed for the tests you selected. You should review "
                 "the warnings in the Report. A cluster solution is supported by Microsoft only if you run all "
                 f"cluster validation tests, and all tests succeed (with or without warnings).\r\n"
                 f"Test report file path: {entry['path']}")
    elif warns or partial:
        ctx.warn(f"Test Result:\r\n{result}\r\nTesting has completed successfully. The configuration appears to be "
                 "suitable for clustering.  However, you should review the report because it may contain warnings "
                 f"which you should address to attain the highest availability.\r\nTest report file path: {entry['path']}")
    return [file_info_object(entry)]


# ---------------------------------------------------------------------------------------- cluster lifecycle
@cluster_cmdlet("New-Cluster")
def new_cluster(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    world = ctx.world
    with world.transaction():
        nodes = _strings(p.get("Node")) or [ctx.session.host]
        wc.require_delegation(world, ctx.session.can_delegate, wc._canonical_hosts(world, nodes), adding=True)
    ctx.sleep(40 + 10 * len(nodes))
    with world.transaction():
        wc.sync_csv_files(world)
        c = wc.create_cluster(world, ctx.session.host, p["Name"], nodes, _strings(p.get("StaticAddress")),
                              p.switch("NoStorage"), p.get("AdministrativeAccessPoint"), ctx.session.can_delegate)
        world.audit("cluster_created", host=ctx.session.host, user=ctx.session.user, cluster=c["name"],
                    nodes=sorted(c["nodes"]))
        return [cluster_object(ctx, c)]


@cluster_cmdlet("Get-Cluster")
def get_cluster(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = wc.resolve_cluster(ctx.world, ctx.session.host, p.get("Name"))
        return [cluster_object(ctx, c)]


@cluster_cmdlet("Remove-Cluster")
def remove_cluster(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    world = ctx.world
    with world.transaction():
        c = _cluster(ctx, p)
        wc.require_delegation(world, ctx.session.can_delegate, sorted(c["nodes"]))
    ctx.sleep(20)
    with world.transaction():
        c = _cluster(ctx, p)
        wc.sync_csv_files(world)
        wc.destroy_cluster(world, c, p.switch("CleanupAD"), ctx.session.can_delegate)
        world.audit("cluster_removed", host=ctx.session.host, user=ctx.session.user, cluster=c["name"],
                    cleanup_ad=p.switch("CleanupAD"))
    return []


@cluster_cmdlet("Get-ClusterNode")
def get_cluster_node(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        names = _strings(p.get("Name"))
        if names:
            return [node_object(ctx, c, wc.node_name(ctx.world, c, n)) for n in names]
        return [node_object(ctx, c, n) for n in sorted(c["nodes"], key=lambda x: int(c["nodes"][x]["id"]))]


@cluster_cmdlet("Add-ClusterNode")
def add_cluster_node(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    world = ctx.world
    names = _strings(p.get("Name"))
    with world.transaction():
        c = _cluster(ctx, p)
        wc.require_delegation(world, ctx.session.can_delegate, wc._canonical_hosts(world, names), adding=True)
    ctx.sleep(30 * max(1, len(names)))
    with world.transaction():
        c = _cluster(ctx, p)
        added = wc.add_node(world, c, names, p.switch("NoStorage"), ctx.session.can_delegate)
        return [node_object(ctx, c, n) for n in added]


@cluster_cmdlet("Remove-ClusterNode")
def remove_cluster_node(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    world = ctx.world
    names = _input_names(p, "ClusterNode")
    with world.transaction():
        c = _cluster(ctx, p)
        wc.require_delegation(world, ctx.session.can_delegate, [wc.node_name(world, c, n) for n in names])
    ctx.sleep(15)
    with world.transaction():
        c = _cluster(ctx, p)
        wc.sync_csv_files(world)
        for n in names:
            wc.remove_node(world, c, n, ctx.session.can_delegate)
    return []


# ---------------------------------------------------------------------------------------- disks and resources
@cluster_cmdlet("Get-ClusterAvailableDisk")
def get_cluster_available_disk(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    """-Disk (MSFT_Disk objects, e.g. `Get-Disk -UniqueId $id | Get-ClusterAvailableDisk`) narrows the list:
    the identity-based way to pick a disk, never by number."""
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        wanted = {str(o.get_prop("UniqueId")).lower() for o in
                  (p["Disk"] if isinstance(p.get("Disk"), list) else [p.get("Disk")])
                  if isinstance(o, PSObject) and o.get_prop("UniqueId")}
        out = []
        names_taken: list[str] = []
        for d, _ in wc.available_disks(ctx.world, c):
            if p.get("Disk") is not None and str(d["unique_id"]).lower() not in wanted:
                continue
            obj = disk_info_object(ctx, c, d)
            # each listed disk proposes the next free "Cluster Disk N" name
            n = 1
            taken = {r.lower() for r in c["resources"]} | {x.lower() for x in names_taken}
            while f"cluster disk {n}" in taken:
                n += 1
            obj.set_prop("Name", f"Cluster Disk {n}")
            names_taken.append(f"Cluster Disk {n}")
            out.append(obj)
        return out


@cluster_cmdlet("Add-ClusterDisk")
def add_cluster_disk(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    objs = p.get("InputObject")
    objs = objs if isinstance(objs, list) else [objs]
    ctx.sleep(5 * len(objs))
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        ids = []
        for o in objs:
            # a ClusterDiskInfo names its disk by Id (GPT GUID or MBR signature); an MSFT_Disk by UniqueId
            uid = o.get_prop("UniqueId") if isinstance(o, PSObject) else None
            if uid is None and isinstance(o, PSObject) and o.type_name == f"{NS}.ClusterDiskInfo":
                uid = wc.unique_id_for_disk_id(ctx.world, c, str(o.get_prop("Id")))
            if uid is None:
                raise CmdletError("The input object is not a disk returned by Get-ClusterAvailableDisk or Get-Disk.",
                                  "Add-ClusterDisk", category="InvalidArgument", target=o)
            ids.append(str(uid))
        return [resource_object(ctx, c, r) for r in wc.add_disks(ctx.world, c, ids)]


@cluster_cmdlet("Get-ClusterResource")
def get_cluster_resource(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        names = _strings(p.get("Name"))
        obj = p.get("InputObject")
        if isinstance(obj, PSObject) and obj.type_name == f"{NS}.ClusterGroup":
            return [resource_object(ctx, c, r) for r in wc.group_resources(c, str(obj.get_prop("Name")))]
        if p.get("VMId"):
            vid = str(p["VMId"]).strip("{}").upper()
            return [resource_object(ctx, c, r) for r in c["resources"].values() if r.get("vm_id") == vid]
        if names:
            return [resource_object(ctx, c, wc.resource(c, n)) for n in names]
        return [resource_object(ctx, c, r) for r in sorted(c["resources"].values(), key=lambda r: r["name"].lower())]


@cluster_cmdlet("Remove-ClusterResource")
def remove_cluster_resource(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        for n in _input_names(p, "ClusterResource"):
            wc.remove_resource(ctx.world, c, n)
    return []


@cluster_cmdlet("Get-ClusterParameter")
def get_cluster_parameter(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        obj = p.get("InputObject")
        wanted = [s.lower() for s in _strings(p.get("Name"))]
        if isinstance(obj, PSObject) and obj.type_name in (f"{NS}.ClusterResource", f"{NS}.ClusterSharedVolume"):
            r = wc.resource(c, str(obj.get_prop("Name")))
            target = resource_object(ctx, c, r)
            if r.get("disk"):
                params = _disk_parameters(r, target)
            else:
                params = [parameter_object(target, k, v, "UInt32" if isinstance(v, int) else "String")
                          for k, v in (r.get("params") or {}).items()]
        elif obj is None or (isinstance(obj, PSObject) and obj.type_name == f"{NS}.Cluster"):
            target = cluster_object(ctx, c)
            params = [parameter_object(target, "SharedVolumesRoot", wc.CSV_ROOT, "String")]
        else:
            target = obj
            params = []
        if wanted:
            found = [x for x in params if str(x.get_prop("Name")).lower() in wanted]
            missing = [w for w in _strings(p.get("Name")) if w.lower() not in
                       {str(x.get_prop("Name")).lower() for x in found}]
            if missing:
                raise CmdletError(f"Parameter '{missing[0]}' does not exist on the cluster object "
                                  f"'{target.get_prop('Name')}'. If you are trying to update an existing parameter, "
                                  "please make sure the parameter name is specified correctly. You can check for the "
                                  "current parameters on the cluster object by running the Get-ClusterParameter "
                                  "cmdlet.", "InvalidOperation", category="InvalidOperation", target=missing[0])
            return found
        return params


@cluster_cmdlet("Get-ClusterQuorum")
def get_cluster_quorum(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        return [quorum_object(ctx, _cluster(ctx, p))]


@cluster_cmdlet("Set-ClusterQuorum")
def set_cluster_quorum(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        if p.get("DiskWitness") is not None:
            wc.set_quorum(ctx.world, c, "disk", _name_of(p["DiskWitness"]))
        elif p.switch("NoWitness"):
            wc.set_quorum(ctx.world, c, "none")
        elif p.get("DiskOnly") is not None:
            wc.set_quorum(ctx.world, c, "disk", _name_of(p["DiskOnly"]))
            c["quorum"]["type"] = "DiskOnly"
        else:
            raise CmdletError("Specify the quorum configuration: DiskWitness, NoWitness (NodeMajority) or DiskOnly. "
                              "File share and cloud witnesses are not available in this lab.",
                              "Set-ClusterQuorum", category="InvalidArgument")
        return [quorum_object(ctx, c)]


# ---------------------------------------------------------------------------------------- CSV
@cluster_cmdlet("Get-ClusterSharedVolume")
def get_cluster_shared_volume(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        wc.sync_csv_files(ctx.world)
        names = _strings(p.get("Name"))
        if names:
            out = []
            for n in names:
                r = wc.resource(c, n)
                if r["name"] not in c["csvs"]:
                    raise wc.ClusterError(f"The resource '{r['name']}' is not a Cluster Shared Volume.", None,
                                          category="ObjectNotFound", target=n, terminating=False)
                out.append(csv_object(ctx, c, c["csvs"][r["name"]]))
            return out
        return [csv_object(ctx, c, v) for v in sorted(c["csvs"].values(), key=lambda v: v["number"])]


@cluster_cmdlet("Add-ClusterSharedVolume")
def add_cluster_shared_volume(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    ctx.sleep(5)
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        wc.sync_csv_files(ctx.world)
        return [csv_object(ctx, c, wc.add_csv(ctx.world, c, n)) for n in _input_names(p, "ClusterResource")]


@cluster_cmdlet("Remove-ClusterSharedVolume")
def remove_cluster_shared_volume(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        out = []
        for n in _input_names(p, "ClusterSharedVolume"):
            r = wc.remove_csv(ctx.world, c, n)
            out.append(resource_object(ctx, c, r))
        return out


# ---------------------------------------------------------------------------------------- groups and VM roles
def _group_names(p: Any) -> list[str]:
    return _input_names(p, "ClusterGroup")


@cluster_cmdlet("Get-ClusterGroup")
def get_cluster_group(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        if p.get("VMId"):
            vid = str(p["VMId"]).strip("{}").upper()
            return [group_object(ctx, c, g) for g in c["groups"].values() if g.get("vm_id") == vid]
        names = _strings(p.get("Name"))
        if names:
            return [group_object(ctx, c, wc.group(c, n)) for n in names]
        return [group_object(ctx, c, g) for g in sorted(c["groups"].values(), key=lambda g: g["name"].lower())]


@cluster_cmdlet("Start-ClusterGroup")
def start_cluster_group(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    ctx.sleep(5)
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        return [group_object(ctx, c, wc.start_group(ctx.world, c, n)) for n in _group_names(p)]


@cluster_cmdlet("Stop-ClusterGroup")
def stop_cluster_group(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    ctx.sleep(5)
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        return [group_object(ctx, c, wc.stop_group(ctx.world, c, n)) for n in _group_names(p)]


@cluster_cmdlet("Remove-ClusterGroup")
def remove_cluster_group(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        names = _group_names(p)
        if p.get("VMId"):
            vid = str(p["VMId"]).strip("{}").upper()
            names += [g["name"] for g in c["groups"].values() if g.get("vm_id") == vid]
        for n in names:
            wc.remove_group(ctx.world, c, n, p.switch("RemoveResources"))
    return []


def _move(ctx: CmdletContext, p: Any, migration: str | None) -> list:
    world = ctx.world
    with world.transaction():
        c = _cluster(ctx, p)
        names = _group_names(p)
        if p.get("VMId"):
            vid = str(p["VMId"]).strip("{}").upper()
            names += [g["name"] for g in c["groups"].values() if g.get("vm_id") == vid]
        plans = []
        for n in names:
            g = wc.group(c, n)
            found = wc.find_vm(world, c, g["vm_id"]) if g.get("vm_id") else None
            plans.append((g["name"], wc.migration_seconds(found[1], migration or "Live") if found else 2.0))
    out = []
    for gname, seconds in plans:
        ctx.sleep(seconds)
        with world.transaction():
            c = _cluster(ctx, p)
            g, _event = wc.move_vm_role(world, c, gname, p.get("Node"), migration or "Live")
            out.append(group_object(ctx, c, g))
    return out


@cluster_cmdlet("Move-ClusterGroup")
def move_cluster_group(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    return _move(ctx, p, None)


@cluster_cmdlet("Move-ClusterVirtualMachineRole")
def move_cluster_virtual_machine_role(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    migration = str(p.get("MigrationType") or "Live")
    if migration.lower() not in ("live", "quick"):
        # Shutdown / ShutdownForce / TurnOff restart the guest on the new node: not emulated (never a quiet Quick)
        raise CmdletError(f"hvsim emulates Move-ClusterVirtualMachineRole -MigrationType Live and Quick only, "
                          f"not {migration}.", "NotImplemented", category="NotImplemented", target=migration,
                          terminating=True)
    return _move(ctx, p, migration.capitalize())


@cluster_cmdlet("Add-ClusterVirtualMachineRole")
def add_cluster_virtual_machine_role(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    ctx.sleep(5)
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        vm_name = p.get("VMName") or _name_of(p.get("VirtualMachine"))
        obj = p.get("InputObject")
        vm_id = p.get("VMId")
        if isinstance(obj, PSObject) and obj.has_prop("VMId"):
            vm_id = vm_id or obj.get_prop("VMId")
            vm_name = vm_name or obj.get_prop("VMName") or obj.get_prop("Name")
        g = wc.add_vm_role(ctx.world, c, ctx.session.host, vm_name, str(vm_id) if vm_id else None, p.get("Name"))
        return [group_object(ctx, c, g)]


@cluster_cmdlet("Get-ClusterOwnerNode")
def get_cluster_owner_node(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        gname = p.get("Group") or _name_of(p.get("InputObject"))
        if p.get("Resource"):
            r = wc.resource(c, p["Resource"])
            owners = r.get("possible_owners") or sorted(c["nodes"])
            target: Any = resource_object(ctx, c, r)
        else:
            g = wc.group(c, gname)
            owners = g.get("preferred_owners") or []
            target = group_object(ctx, c, g)
        return [PSObject({"ClusterObject": target, "OwnerNodes": [node_object(ctx, c, n) for n in owners]},
                         type_name=f"{NS}.ClusterOwnerNodeList")]


@cluster_cmdlet("Set-ClusterOwnerNode")
def set_cluster_owner_node(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        c = _cluster(ctx, p)
        owners = _strings(p.get("Owners"))
        if p.get("Resource"):
            r = wc.resource(c, p["Resource"])
            r["possible_owners"] = [wc.node_name(ctx.world, c, o) for o in owners]
        else:
            wc.set_preferred_owners(ctx.world, c, p.get("Group") or _name_of(p.get("InputObject")), owners)
    return []
