"""Emulated cmdlets: Storage module (Get-Disk, Set-Disk, Initialize-Disk, Clear-Disk, Get-Partition,
New-Partition, Get-Volume, Format-Volume, Update-HostStorageCache, Get-PartitionSupportedSize,
Resize-Partition).

Objects are CIM instances (MSFT_Disk, MSFT_Partition, MSFT_Volume) with the real property names;
enum-like properties (PartitionStyle, OperationalStatus, HealthStatus, BusType, OfflineReason, Type,
DriveType, FileSystemType) are strings, as the Storage module's type data presents them.
Errors: the StorageWMI codes and texts of the Storage Management API ("StorageWMI 41001,Initialize-Disk"
= "The disk has already been initialized."), and the cmdletization "No MSFT_Disk objects found with
property 'Number' equal to '9'" for queries that match nothing. The state lives in hvsim.world.storage.

Also holds the helpers the iSCSI cmdlet modules share (fault translation, CIM object construction).
"""
from __future__ import annotations

from typing import Any, Iterable

from ..powershell.values import PSObject, UInt32
from ..world import storage as st
from .registry import CmdletContext, CmdletError, cmdlet

STORAGE_NS = "ROOT/Microsoft/Windows/Storage"


# ---------------------------------------------------------------------------------------- shared helpers
def cim_type(cls: str, ns: str = STORAGE_NS) -> str:
    return f"Microsoft.Management.Infrastructure.CimInstance#{ns}/{cls}"


def cim(cls: str, props: dict, ns: str = STORAGE_NS) -> PSObject:
    obj = PSObject(props, type_name=cim_type(cls, ns))
    # CIM instances also carry the short form PowerShell uses for ParameterType matching.
    obj.type_names.insert(1, f"Microsoft.Management.Infrastructure.CimInstance#{cls}")
    obj.type_names.insert(2, "Microsoft.Management.Infrastructure.CimInstance")
    return obj


def fault_error(fault: st.StorageFault, command_id: str) -> CmdletError:
    """A StorageFault as the CmdletError Windows writes (error id gets ',<command>' appended)."""
    target = fault.target
    if isinstance(target, tuple):  # (name, CIM class path): CategoryInfo shows "(name:ROOT/.../MSFT_Disk)"
        name, type_name = target
        target = PSObject({}, type_name=type_name, methods={"ToString": lambda *a: name})
    return CmdletError(fault.message, f"{fault.error_id},{command_id}", category=fault.category,
                       target=target, terminating=False, exception_type=fault.exception_type)


def not_found(cls: str, prop: str, value: Any, command: str) -> CmdletError:
    """The cmdletization error for a query parameter that matched nothing."""
    return CmdletError(
        f"No {cls} objects found with property '{prop}' equal to '{value}'.  Verify the value of the property "
        f"and retry.", f"CmdletizationQuery_NotFound_{prop},{command}", category="ObjectNotFound", target=value,
        terminating=False, exception_type="Microsoft.PowerShell.Cmdletization.Cim.CimJobException")


def host_of(ctx: CmdletContext) -> str:
    return ctx.session.host


def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def is_cim(obj: Any, cls: str) -> bool:
    return isinstance(obj, PSObject) and any(t.lower().endswith("/" + cls.lower()) or t.lower().endswith("#" + cls.lower())
                                             for t in obj.type_names)


# ---------------------------------------------------------------------------------------- object builders
def _host_guid(host: str) -> str:
    return st._stable_guid("storage-provider", host.upper())


def disk_object(ctx: CmdletContext, disk: dict) -> PSObject:
    host = host_of(ctx)
    v = st.disk_view(ctx.world, host, disk)
    object_id = (f'{{1}}\\\\{host.upper()}\\root/Microsoft/Windows/Storage/Providers_v2\\SPACES_Disk.ObjectId='
                 f'"{_host_guid(host)}:DI:{disk["unique_id"]}"')
    props = {
        "DiskNumber": v["Number"], "PartitionStyle": v["PartitionStyle"], "ProvisioningType": "Fixed",
        "OperationalStatus": v["OperationalStatus"], "HealthStatus": v["HealthStatus"], "BusType": v["BusType"],
        "UniqueIdFormat": "Vendor Specific" if v["BusType"] != "iSCSI" else "FCPH Name",
        "OfflineReason": v["OfflineReason"], "ObjectId": object_id, "PassThroughClass": None,
        "PassThroughIds": None, "PassThroughNamespace": None, "PassThroughServer": None,
        "UniqueId": v["UniqueId"], "AdapterSerialNumber": "", "AllocatedSize": v["AllocatedSize"],
        "BootFromDisk": v["BootFromDisk"], "FirmwareVersion": "1.0" if v["BusType"] != "iSCSI" else "0001",
        "FriendlyName": v["FriendlyName"], "Guid": v["Guid"], "IsBoot": v["IsBoot"], "IsClustered": v["IsClustered"],
        "IsHighlyAvailable": v["IsHighlyAvailable"], "IsOffline": v["IsOffline"], "IsReadOnly": v["IsReadOnly"],
        "IsScaleOut": False, "IsSystem": v["IsSystem"], "LargestFreeExtent": v["LargestFreeExtent"],
        "Location": v["Location"], "LogicalSectorSize": v["LogicalSectorSize"], "Manufacturer": v["Manufacturer"],
        "Model": v["Model"], "Number": UInt32(v["Number"]), "NumberOfPartitions": v["NumberOfPartitions"], "Path": v["Path"],
        "PhysicalSectorSize": v["PhysicalSectorSize"], "SerialNumber": v["SerialNumber"], "Signature": v["Signature"],
        "Size": v["Size"], "PSComputerName": None,
    }
    return cim("MSFT_Disk", props)     # Number is a UInt32 there, as MSFT_Disk declares it


def partition_object(ctx: CmdletContext, disk: dict, part: dict) -> PSObject:
    host = host_of(ctx)
    v = st.disk_view(ctx.world, host, disk)
    letter = st.partition_letter(disk, part)
    vol = part.get("volume")
    access = ([f"{letter}:\\"] if letter else []) + ([f"\\\\?\\Volume{vol['guid']}\\"] if vol else [])
    object_id = (f'{{1}}\\\\{host.upper()}\\root/Microsoft/Windows/Storage/Providers_v2\\WSP_Partition.ObjectId='
                 f'"{_host_guid(host)}:PA:{disk["unique_id"]}:{part["guid"]}"')
    gpt = v["PartitionStyle"] == "GPT"
    props = {
        "OperationalStatus": "Offline" if v["IsOffline"] else "Online", "Type": part["type"],
        "DiskPath": disk["path"], "ObjectId": object_id, "PassThroughClass": None, "PassThroughIds": None,
        "PassThroughNamespace": None, "PassThroughServer": None,
        "UniqueId": f"{{00000000-0000-0000-0000-{part['offset'] // 512:012x}}}{disk['unique_id']}",
        "AccessPaths": access, "DiskId": disk["path"], "DiskNumber": v["Number"], "DriveLetter": letter,
        "GptType": part.get("gpt_type") if gpt else None, "Guid": part["guid"] if gpt else None,
        "IsActive": False, "IsBoot": part["type"] == "Basic" and bool(disk.get("is_boot")),
        "IsDAX": False, "IsHidden": False, "IsOffline": v["IsOffline"], "IsReadOnly": v["IsReadOnly"],
        "IsShadowCopy": False, "IsSystem": part["type"] == "System", "MbrType": None if gpt else 7,
        "NoDefaultDriveLetter": part["type"] != "Basic", "Offset": part["offset"],
        "PartitionNumber": part["number"], "Size": part["size"], "TransitionState": 1, "PSComputerName": None,
    }
    return cim("MSFT_Partition", props)


def volume_object(ctx: CmdletContext, disk: dict, part: dict) -> PSObject:
    host = host_of(ctx)
    vol = part["volume"]
    letter = st.partition_letter(disk, part)
    path = f"\\\\?\\Volume{vol['guid']}\\"
    object_id = (f'{{1}}\\\\{host.upper()}\\root/Microsoft/Windows/Storage/Providers_v2\\WSP_Volume.ObjectId='
                 f'"{_host_guid(host)}:VO:{path}"')
    props = {
        "OperationalStatus": "OK", "HealthStatus": "Healthy", "DriveType": "Fixed",
        "FileSystemType": vol["file_system"], "DedupMode": "NotAvailable", "ObjectId": object_id,
        "PassThroughClass": None, "PassThroughIds": None, "PassThroughNamespace": None, "PassThroughServer": None,
        "UniqueId": path, "AllocationUnitSize": vol["allocation_unit"], "DriveLetter": letter,
        "FileSystem": vol["file_system"], "FileSystemLabel": vol["label"], "Path": path,
        "Size": part["size"] - 8 * st.MB if part["size"] > 16 * st.MB else part["size"],
        "SizeRemaining": vol["size_remaining"], "PSComputerName": None,
    }
    return cim("MSFT_Volume", props)


# ---------------------------------------------------------------------------------------- lookups
def cim_objects(p) -> list[PSObject]:
    """Every CIM instance bound to any parameter. The catalog has no PSTypeName attributes, so a piped
    MSFT_Disk may land in -VirtualDisk rather than -InputObject: cmdlets dispatch on the object's class."""
    out = []
    for value in p.values():
        for item in as_list(value):
            if isinstance(item, PSObject) and any(t.startswith("Microsoft.Management.Infrastructure.CimInstance")
                                                  for t in item.type_names):
                out.append(item)
    return out


def _disk_from_cim(ctx: CmdletContext, obj: PSObject, command: str) -> list[dict]:
    host = host_of(ctx)
    w = ctx.world
    if is_cim(obj, "MSFT_Disk"):
        d = st.find_disk_by_unique_id(w, host, str(obj.get_prop("UniqueId") or ""))
        found = [d] if d else []
    elif is_cim(obj, "MSFT_Partition"):
        oid = str(obj.get_prop("ObjectId") or "")
        found = [d for d in st.host_disks(w, host) if f":PA:{d['unique_id']}:" in oid]
    elif is_cim(obj, "MSFT_iSCSISession"):
        iqn = str(obj.get_prop("TargetNodeAddress") or "").lower()
        found = [d for d in st.host_disks(w, host) if d.get("source", {}).get("target_iqn", "").lower() == iqn]
        return found
    else:
        found = []
    if not found:
        raise CmdletError("The requested object could not be found.", f"CimJobException,{command}",
                          category="ObjectNotFound")
    return found


def disks_from_input(ctx: CmdletContext, p, command: str, *, number_key: str = "Number",
                     allow_all: bool = False) -> list[dict]:
    """Resolve the target disks of a Storage cmdlet from Number / UniqueId / FriendlyName / Path /
    SerialNumber / piped CIM objects (MSFT_Disk, MSFT_Partition, MSFT_iSCSISession); raises the
    cmdletization not-found error."""
    host = host_of(ctx)
    w = ctx.world
    objs = cim_objects(p)
    if objs:
        out: list[dict] = []
        for obj in objs:
            for d in _disk_from_cim(ctx, obj, command):
                if d not in out:
                    out.append(d)
        return out
    for key, kw, prop in ((number_key, "number", "Number"), ("UniqueId", "unique_id", "UniqueId"),
                          ("FriendlyName", "friendly_name", "FriendlyName"), ("Path", "path", "Path"),
                          ("SerialNumber", "serial", "SerialNumber")):
        if p.get(key) is not None:
            out = []
            for value in as_list(p[key]):
                found = st.find_disk(w, host, **{kw: value})
                if not found:
                    raise not_found("MSFT_Disk", prop, value, command)
                out.extend(found)
            return out
    if allow_all:
        return st.host_disks(w, host)
    return []


def _fault(fn, command: str):
    try:
        return fn()
    except st.StorageFault as f:
        raise fault_error(f, command) from None


# ---------------------------------------------------------------------------------------- cmdlets
@cmdlet("Get-Disk")
def get_disk(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        return [disk_object(ctx, d) for d in disks_from_input(ctx, p, "Get-Disk", allow_all=True)]


@cmdlet("Set-Disk")
def set_disk(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        disks = disks_from_input(ctx, p, "Set-Disk")
        for d in disks:
            offline = p.get("IsOffline")
            read_only = p.get("IsReadOnly")
            if p.get("PartitionStyle") is not None:
                style = str(p["PartitionStyle"]).upper()
                layout = st.layout_of(ctx.world, d)
                if layout["partition_style"] == "RAW":
                    raise fault_error(st.storage_wmi(41000, "The disk has not been initialized."), "Set-Disk")
                if layout["partition_style"] != style and layout["partitions"]:
                    raise fault_error(st.storage_wmi(
                        41013, "Cannot convert the style of a disk with data or other known partitions on it."),
                        "Set-Disk")
                layout["partition_style"] = style
            if p.get("Guid") is not None:
                st.layout_of(ctx.world, d)["guid"] = "{" + str(p["Guid"]).strip("{}").lower() + "}"
            _fault(lambda: st.set_disk(ctx.world, host_of(ctx), d, offline=offline, read_only=read_only),
                   "Set-Disk")
    return []


@cmdlet("Initialize-Disk")
def initialize_disk(ctx: CmdletContext, p) -> Iterable[Any]:
    style = str(p.get("PartitionStyle") or "GPT")
    if style.lower() == "unknown":
        style = "GPT"
    out = []
    with ctx.world.transaction():
        for d in disks_from_input(ctx, p, "Initialize-Disk"):
            _fault(lambda: st.initialize_disk(ctx.world, host_of(ctx), d, style), "Initialize-Disk")
            if p.switch("PassThru"):
                out.append(disk_object(ctx, d))
    return out


@cmdlet("Clear-Disk")
def clear_disk(ctx: CmdletContext, p) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        for d in disks_from_input(ctx, p, "Clear-Disk"):
            _fault(lambda: st.clear_disk(ctx.world, host_of(ctx), d, p.switch("RemoveData"), p.switch("RemoveOEM")),
                   "Clear-Disk")
            if p.switch("PassThru"):
                out.append(disk_object(ctx, d))
    return out


def _all_partitions(ctx: CmdletContext) -> list[tuple[dict, dict]]:
    return [(d, part) for d in st.host_disks(ctx.world, host_of(ctx)) for part in st.partitions(ctx.world, host_of(ctx), d)]


@cmdlet("Get-Partition")
def get_partition(ctx: CmdletContext, p) -> Iterable[Any]:
    host = host_of(ctx)
    with ctx.world.transaction():
        pairs = _all_partitions(ctx)
        for obj in cim_objects(p):
            if is_cim(obj, "MSFT_Volume"):
                vid = str(obj.get_prop("UniqueId") or "")
                pairs = [(d, x) for d, x in pairs if x.get("volume") and x["volume"]["guid"] in vid]
            else:
                disks = _disk_from_cim(ctx, obj, "Get-Partition")
                pairs = [(d, x) for d, x in pairs if d in disks]
        if p.get("DiskNumber") is not None:
            numbers = [int(n) for n in as_list(p["DiskNumber"])]
            for n in numbers:  # a disk without partitions (RAW, or only just initialized) is "not found" too
                if not any(d["number"] == n for d, _ in pairs):
                    raise not_found("MSFT_Partition", "DiskNumber", n, "Get-Partition")
            pairs = [(d, x) for d, x in pairs if d["number"] in numbers]
        if p.get("PartitionNumber") is not None:
            numbers = [int(n) for n in as_list(p["PartitionNumber"])]
            pairs = [(d, x) for d, x in pairs if x["number"] in numbers]
            if not pairs:
                raise not_found("MSFT_Partition", "PartitionNumber", numbers[0], "Get-Partition")
        if p.get("DiskId") is not None:
            ids = [str(i).lower() for i in as_list(p["DiskId"])]
            pairs = [(d, x) for d, x in pairs if d["path"].lower() in ids or d["unique_id"].lower() in ids]
            if not pairs:
                raise not_found("MSFT_Partition", "DiskId", as_list(p["DiskId"])[0], "Get-Partition")
        if p.get("Offset") is not None:
            offs = [int(o) for o in as_list(p["Offset"])]
            pairs = [(d, x) for d, x in pairs if x["offset"] in offs]
        if p.get("DriveLetter") is not None:
            letters = [str(c).upper()[:1] for c in as_list(p["DriveLetter"])]
            for c in letters:
                if not any(st.partition_letter(d, x) == c for d, x in pairs):
                    raise not_found("MSFT_Partition", "DriveLetter", c, "Get-Partition")
            pairs = [(d, x) for d, x in pairs if st.partition_letter(d, x) in letters]
        if p.get("UniqueId") is not None:
            uids = [str(u).lower() for u in as_list(p["UniqueId"])]
            pairs = [(d, x) for d, x in pairs
                     if partition_object(ctx, d, x).get_prop("UniqueId").lower() in uids]
            if not pairs:
                raise not_found("MSFT_Partition", "UniqueId", as_list(p["UniqueId"])[0], "Get-Partition")
        return [partition_object(ctx, d, x) for d, x in pairs]


@cmdlet("New-Partition")
def new_partition(ctx: CmdletContext, p) -> Iterable[Any]:
    host = host_of(ctx)
    out = []
    with ctx.world.transaction():
        if p.get("DiskId") is not None or p.get("DiskPath") is not None:
            disks = []
            for value in as_list(p.get("DiskId")) + as_list(p.get("DiskPath")):
                found = [d for d in st.host_disks(ctx.world, host)
                         if str(value).lower() in (d["path"].lower(), d["unique_id"].lower())]
                if not found:
                    raise not_found("MSFT_Disk", "Path" if p.get("DiskPath") is not None else "ObjectId", value,
                                    "New-Partition")
                disks.extend(found)
        else:
            disks = disks_from_input(ctx, p, "New-Partition", number_key="DiskNumber")
        for d in disks:
            part = _fault(lambda: st.new_partition(
                ctx.world, host, d, size=p.get("Size"), use_max=p.switch("UseMaximumSize"),
                drive_letter=p.get("DriveLetter"), assign_letter=p.switch("AssignDriveLetter")), "New-Partition")
            out.append(partition_object(ctx, d, part))
    return out


def _partitions_from_input(ctx: CmdletContext, p, command: str) -> list[tuple[dict, dict]]:
    """The partitions a Get-PartitionSupportedSize / Resize-Partition call names: -DiskNumber
    [-PartitionNumber], -DiskId -Offset, -DriveLetter or piped MSFT_Partition objects."""
    host = host_of(ctx)
    pairs = _all_partitions(ctx)
    if p.parameter_set == "InputObject (cdxml)":
        out = []
        for obj in as_list(p.get("InputObject")):
            found = _find_partition(ctx, _partition_guid_from(obj) or "")
            if found is None:
                raise CmdletError("The requested object could not be found.", f"CimJobException,{command}",
                                  category="ObjectNotFound")
            out.append(found)
        return out
    if p.parameter_set == "ByNumber":
        numbers = [int(n) for n in as_list(p["DiskNumber"])]
        for n in numbers:
            if not any(d["number"] == n for d, _ in pairs):
                raise not_found("MSFT_Partition", "DiskNumber", n, command)
        pairs = [(d, x) for d, x in pairs if d["number"] in numbers]
        if p.get("PartitionNumber") is not None:
            wanted = [int(n) for n in as_list(p["PartitionNumber"])]
            pairs = [(d, x) for d, x in pairs if x["number"] in wanted]
            if not pairs:
                raise not_found("MSFT_Partition", "PartitionNumber", wanted[0], command)
        return pairs
    if p.parameter_set == "ByDriveLetter":
        out = []
        for c in [str(c).upper()[:1] for c in as_list(p["DriveLetter"])]:
            hits = [(d, x) for d, x in pairs if st.partition_letter(d, x) == c]
            if not hits:
                raise not_found("MSFT_Partition", "DriveLetter", c, command)
            out.extend(hits)
        return out
    if p.parameter_set == "ById":
        ids = [str(i).lower() for i in as_list(p["DiskId"])]
        pairs = [(d, x) for d, x in pairs if d["path"].lower() in ids or d["unique_id"].lower() in ids]
        if not pairs:
            raise not_found("MSFT_Partition", "DiskId", as_list(p["DiskId"])[0], command)
        if p.get("Offset") is not None:
            offsets = [int(o) for o in as_list(p["Offset"])]
            pairs = [(d, x) for d, x in pairs if x["offset"] in offsets]
            if not pairs:
                raise not_found("MSFT_Partition", "Offset", offsets[0], command)
        return pairs
    # ByUniqueId with no parameters: Windows has no partition to act on either
    raise CmdletError("The requested object could not be found.", f"CimJobException,{command}",
                      category="ObjectNotFound")


@cmdlet("Get-PartitionSupportedSize")
def get_partition_supported_size(ctx: CmdletContext, p) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        for d, x in _partitions_from_input(ctx, p, "Get-PartitionSupportedSize"):
            size_min, size_max = st.partition_supported_size(ctx.world, host_of(ctx), d, x)
            out.append(cim("MSFT_PartitionSupportedSize", {"SizeMin": size_min, "SizeMax": size_max,
                                                           "ExtendedStatus": None, "PSComputerName": None}))
    return out


@cmdlet("Resize-Partition")
def resize_partition(ctx: CmdletContext, p) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        for d, x in _partitions_from_input(ctx, p, "Resize-Partition"):
            _fault(lambda: st.resize_partition(ctx.world, host_of(ctx), d, x, int(p["Size"])), "Resize-Partition")
            if p.switch("PassThru"):
                out.append(partition_object(ctx, d, x))
    return out


def _volume_pairs(ctx: CmdletContext) -> list[tuple[dict, dict]]:
    return st.volumes(ctx.world, host_of(ctx))


@cmdlet("Get-Volume")
def get_volume(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        pairs = _volume_pairs(ctx)
        for obj in cim_objects(p):
            if is_cim(obj, "MSFT_Partition"):
                guid = _partition_guid_from(obj)
                pairs = [(d, x) for d, x in pairs if x["guid"] == guid]
            else:
                disks = _disk_from_cim(ctx, obj, "Get-Volume")
                pairs = [(d, x) for d, x in pairs if d in disks]
        for key, fn in (("DriveLetter", lambda d, x, v: st.partition_letter(d, x) == str(v).upper()[:1]),
                        ("UniqueId", lambda d, x, v: x["volume"]["guid"].lower() in str(v).lower()),
                        ("Path", lambda d, x, v: x["volume"]["guid"].lower() in str(v).lower()),
                        ("ObjectId", lambda d, x, v: x["volume"]["guid"].lower() in str(v).lower()),
                        ("FileSystemLabel", lambda d, x, v: x["volume"]["label"].lower() == str(v).lower())):
            if p.get(key) is not None:
                selected = []
                for v in as_list(p[key]):
                    hits = [(d, x) for d, x in pairs if fn(d, x, v)]
                    if not hits:
                        raise not_found("MSFT_Volume", key, str(v).upper()[:1] if key == "DriveLetter" else v,
                                        "Get-Volume")
                    selected.extend(hits)
                pairs = selected
        if p.get("FilePath") is not None:
            fp = str(p["FilePath"])
            pairs = [(d, x) for d, x in pairs if st.partition_letter(d, x) and fp.upper().startswith(
                st.partition_letter(d, x) + ":")]
        return [volume_object(ctx, d, x) for d, x in pairs]


def _partition_guid_from(obj: Any) -> str | None:
    oid = str(obj.get_prop("ObjectId") or "") if isinstance(obj, PSObject) else ""
    if ":PA:" in oid:
        return oid.rsplit(":", 1)[-1].rstrip('"')
    return None


def _find_partition(ctx: CmdletContext, guid: str) -> tuple[dict, dict] | None:
    for d, x in _all_partitions(ctx):
        if x["guid"] == guid:
            return d, x
    return None


@cmdlet("Format-Volume")
def format_volume(ctx: CmdletContext, p) -> Iterable[Any]:
    host = host_of(ctx)
    out = []
    with ctx.world.transaction():
        targets: list[tuple[dict, dict]] = []
        for obj in cim_objects(p):
            if is_cim(obj, "MSFT_Partition"):
                found = _find_partition(ctx, _partition_guid_from(obj) or "")
            else:
                vid = str(obj.get_prop("UniqueId") or "") if isinstance(obj, PSObject) else ""
                found = next(((d, x) for d, x in _all_partitions(ctx)
                              if x.get("volume") and x["volume"]["guid"].lower() in vid.lower()), None)
            if found is None:
                raise CmdletError("The requested object could not be found.", "CimJobException,Format-Volume",
                                  category="ObjectNotFound")
            targets.append(found)
        for key in ("DriveLetter", "Path", "ObjectId", "FileSystemLabel"):
            for v in as_list(p.get(key)):
                if key == "DriveLetter":
                    hits = [(d, x) for d, x in _all_partitions(ctx) if st.partition_letter(d, x) == str(v).upper()[:1]]
                elif key == "FileSystemLabel":
                    hits = [(d, x) for d, x in _volume_pairs(ctx) if x["volume"]["label"].lower() == str(v).lower()]
                else:
                    hits = [(d, x) for d, x in _volume_pairs(ctx) if x["volume"]["guid"].lower() in str(v).lower()]
                if not hits:
                    raise not_found("MSFT_Volume", key, str(v).upper()[:1] if key == "DriveLetter" else v,
                                    "Format-Volume")
                targets.extend(hits)
        unique: list[tuple[dict, dict]] = []
        for pair in targets:
            if not any(pair[1] is q[1] for q in unique):
                unique.append(pair)
        targets = unique
        for d, x in targets:
            _fault(lambda: st.format_partition(ctx.world, host, d, x, str(p.get("FileSystem") or "NTFS"),
                                               str(p.get("NewFileSystemLabel") or ""), p.get("AllocationUnitSize")),
                   "Format-Volume")
            out.append(volume_object(ctx, d, x))
    if targets:
        ctx.sleep(st.FORMAT_SECONDS * len(targets))
    return out


@cmdlet("Update-HostStorageCache")
def update_host_storage_cache(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        st.rescan(ctx.world, host_of(ctx))
    return []
