"""Storage in the simulated lab: iSCSI Target Server, iSCSI initiator, disks, partitions, volumes.

Functions here take the `World` and host names and read/modify `world.data`; call the mutating ones
inside `world.transaction()`. Failures raise `StorageFault` carrying the Windows message, the
FullyQualifiedErrorId stem (the cmdlet layer appends ",<Cmdlet-Name>"), the category and the .NET
exception type, so the cmdlets only translate it into a CmdletError.

World shapes (this module owns these keys of every host):

host["iscsi_target_server"] = {
  "targets": {"<target name lower>": {
      "name": "Cluster", "iqn": "iqn.1991-05.com.microsoft:dc01-cluster-target",
      "initiator_ids": ["IQN:iqn.1991-05.com.microsoft:hv01.hyper.local", "DNSName:hv02.hyper.local"],
      "description": "", "enabled": true, "created": iso,
      "luns": [{"path": "C:\\iSCSIVirtualDisks\\quorum.vhdx", "lun": 0}]}},
  "virtual_disks": {"<path lower>": {
      "path": "C:\\iSCSIVirtualDisks\\quorum.vhdx", "size": 1073741824, "disk_type": "Dynamic"|"Fixed"|"Differencing",
      "parent_path": null, "serial": "8F0B4E4C-...", "index": 1, "description": "", "created": iso,
      "layout": LAYOUT,                       # partition table + volumes: the LUN's data, seen by every initiator
      "reservation": null | {"cluster": "CLUSTER1", "owner": "HV01", "maintenance": false}}},
  "next_index": 2}
The .vhdx file of a virtual disk (host["files"], hvsim.world.files) carries the disk's own metadata
under "vhd", as Hyper-V's files do: {"size": virtual size, "type": "Dynamic"|"Fixed"|"Differencing",
"format": "VHDX"|"VHD", "parent_path"}; Remove-IscsiVirtualDisk leaves the LUN's data there too
("layout"), so Import-IscsiVirtualDisk of a kept file brings back its size, type and partitions.
host["iscsi_initiator"] = {
  "iqn": "iqn.1991-05.com.microsoft:hv01.hyper.local",   # refreshed from the FQDN (domain join changes it)
  "portals": [{"address": "dc01.hyper.local", "port": 3260, "target_host": "DC01",
               "initiator_portal": "", "discovered": ["iqn...-cluster-target"]}],
  "sessions": [{"id": "ffffe0001b5a4010-4000013700000001", "target_iqn": "...", "target_host": "DC01",
                "portal_address": "dc01.hyper.local", "port": 3260, "persistent": true, "created": iso}],
  "persistent": [{"target_iqn": "...", "target_host": "DC01", "portal_address": "...", "port": 3260}],
  "next_session": 2}
host["disks"] = [{   # every disk this host has ever seen; "present" says whether it is attached now
  "unique_id": "60003FF44DC75ADC...", "serial": "...", "number": 1 | null, "present": true,
  "offline": true, "read_only": true,  # this host's own attributes (SAN policy on arrival, Set-Disk)
  "offline_reason": "Policy" | null, "size_seen": int (an iSCSI LUN's capacity at arrival / last rescan),
  "bus_type": "iSCSI", "model": "Virtual HD", "manufacturer": "MSFT", "friendly_name": "MSFT Virtual HD", "location": "...", "path": "\\\\?\\scsi#...",
  "source": {"kind": "iscsi", "target_host": "DC01", "vdisk": "<path lower>", "target_iqn": "...", "lun": 0}
           | {"kind": "local"},
  "layout": LAYOUT (local disks only; iSCSI disks use the virtual disk's),
  "size": int (local disks only), "is_boot": bool, "letters": {"<partition guid>": "E"}}]
LAYOUT = {"partition_style": "RAW"|"GPT"|"MBR", "guid": null | "{...}", "signature": null | int,
          "partitions": [{"number": 1, "type": "Reserved"|"Basic"|"System", "gpt_type": "{...}",
                          "guid": "{...}", "offset": int, "size": int,
                          "volume": null | {"guid": "...", "file_system": "NTFS", "label": "", "size_remaining": int,
                                            "allocation_unit": 4096}}]}

Semantics: disks of iSCSI LUNs arrive offline and read-only (SAN policy OfflineShared) the first
time a host sees them; later arrivals keep that host's last attributes. Numbers are the lowest free
number at arrival; after a boot the LUNs of the persistent sessions arrive in an order that depends
on the boot, so numbers may change across restarts. A resized LUN keeps its old size on the
initiators until Update-HostStorageCache or a restart, and its partition keeps its size until
Resize-Partition (Get-PartitionSupportedSize offers the new space only after that rescan). GPT
initialisation writes the MSR (offset 17408, 15.98 MB); data partitions start at 16 MiB. A running initiator (MSiSCSI) keeps retrying
persistent logins that are not connected; Disconnect-IscsiTarget is refused (0xefff0040) while a
volume of the session is online. A cluster reservation on a virtual disk makes every host but the owner see
the disk offline, and disk-changing operations fail with StorageWMI 40018 unless in maintenance.
Discovery is cached per portal (New-/Update-IscsiTargetPortal, and at every boot), as on Windows.

For the cluster helper (all take the World; call inside a transaction when they modify):
  find_disk_by_serial(world, host, serial) / find_disk_by_unique_id(world, host, uid) -> disk | None
  disk_view(world, host, disk) -> dict of the MSFT_Disk facts (Number, IsOffline, Guid, Size, ...)
  disk_guid(world, unique_id) -> "{...}" | None            (set by Initialize-Disk -PartitionStyle GPT)
  hosts_seeing_disk(world, unique_id) -> ["HV01", "HV02"]   (present on those hosts now)
  set_reservation(world, unique_id, cluster, owner) / clear_reservation(world, unique_id)
  set_maintenance(world, unique_id, on)
  reservation(world, unique_id) -> dict | None
  disk_volumes(world, unique_id) -> [partition dicts with "volume"] (shared layout of the LUN)
  partition_supported_size(world, host, disk, part) / resize_partition(world, host, disk, part, size)
  lun_layout(world, unique_id) -> LAYOUT dict (mutable, shared by every node)
  install(world)  registers the boot/power_off hooks (World.__init__ calls it; idempotent)
  login_persistent(world, host)  what MSiSCSI does when it starts (rediscover, log in persistent targets)
"""
from __future__ import annotations

import copy
import hashlib
import ipaddress
import re
import uuid

from . import files as _files
from .core import iso, utcnow

CIM = "Microsoft.Management.Infrastructure.CimException"
ISCSI_TARGET_EXC = "Microsoft.Iscsi.Target.Commands.IscsiCmdException"

MICROSOFT_IQN_PREFIX = "iqn.1991-05.com.microsoft:"
GPT_BASIC = "{ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}"
GPT_MSR = "{e3c9e316-0b5c-4db8-817d-f92df00215ae}"
GPT_EFI = "{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}"
MB = 1024 * 1024
GB = 1024 * MB
# Initialize-Disk -PartitionStyle GPT writes a Microsoft Reserved partition right after the GPT
# header (offset 17408, 15.98 MB, "Reserved" in Get-Partition), so data partitions start at 16 MiB;
# MBR data partitions start at 1 MiB. The end of the disk keeps 1 MiB (backup GPT, alignment).
FIRST_OFFSET = MB
GPT_DATA_OFFSET = 16 * MB
MSR_OFFSET = 17408
MSR_SIZE = 16 * MB - MSR_OFFSET
# Simulated durations (seconds, scaled by the world's time factor)
FIXED_WRITE_BYTES_PER_SECOND = 200 * MB
DYNAMIC_CREATE_SECONDS = 1.0
LOGIN_SECONDS = 1.0
FORMAT_SECONDS = 2.0


class StorageFault(Exception):
    """A Windows error: message, FullyQualifiedErrorId stem, category, exception type, target
    (a (name, type) pair is shown by the cmdlet layer as CategoryInfo's "(name:type)")."""

    def __init__(self, message: str, error_id: str, category: str = "NotSpecified",
                 exception_type: str = CIM, target: object = None):
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.category = category
        self.exception_type = exception_type
        self.target = target


def _activity(message: str) -> str:
    # Storage cmdlets on Windows Server 2016+ append the request's Activity ID to the message.
    return f"{message}\r\n\r\nActivity ID: {{{uuid.uuid4()}}}"


def storage_wmi(code: int, message: str, cls: str = "MSFT_Disk") -> StorageFault:
    """A Storage Management API error: "StorageWMI <code>", target shown as (StorageWMI:ROOT/.../<cls>)."""
    category = "PermissionDenied" if code == 40001 else "NotSpecified"
    return StorageFault(_activity(message), f"StorageWMI {code}", category, CIM,
                        ("StorageWMI", f"ROOT/Microsoft/Windows/Storage/{cls}"))


def iscsi_initiator_fault(hresult: int, message: str, cls: str = "MSFT_iSCSITarget") -> StorageFault:
    """An iSCSI initiator error: "HRESULT 0xefff....", target shown as (<cls>:ROOT/.../<cls>)."""
    return StorageFault(message, f"HRESULT 0x{hresult:08x}", "NotSpecified", CIM,
                        (cls, f"ROOT/Microsoft/Windows/Storage/{cls}"))


def target_server_fault(message: str, error_id: str, category: str = "NotSpecified",
                        target: object = None) -> StorageFault:
    return StorageFault(message, error_id, category, ISCSI_TARGET_EXC, target)


# ---------------------------------------------------------------------------------------- helpers
def _host(world, name: str) -> dict:
    return world.host(name)


def _now() -> str:
    return iso(utcnow())


def _stable_hex(*parts: str, n: int = 32) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:n].upper()


def _stable_guid(*parts: str) -> str:
    h = hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()
    return "{" + str(uuid.UUID(h[:32])) + "}"


def unique_id_for_serial(serial: str) -> str:
    """The initiator-side UniqueId of a Microsoft iSCSI LUN: an NAA-6 id from Microsoft's vendor
    prefix and the virtual disk's serial (identical on every node)."""
    return "60003FF44DC75ADC" + _stable_hex("naa", serial.upper(), n=16)


def fqdn(world, host: dict) -> str:
    return world.fqdn(host)


def initiator_iqn(world, host: dict | str) -> str:
    """iqn.1991-05.com.microsoft:<fqdn lower> (follows the current FQDN, as the default node name does)."""
    h = _host(world, host) if isinstance(host, str) else host
    ini = h.setdefault("iscsi_initiator", {"portals": [], "sessions": []})
    if ini.get("iqn_explicit"):
        return ini["iqn"]
    iqn = MICROSOFT_IQN_PREFIX + fqdn(world, h).lower()
    ini["iqn"] = iqn
    return iqn


def _ini(h: dict) -> dict:
    ini = h.setdefault("iscsi_initiator", {})
    ini.setdefault("portals", [])
    ini.setdefault("sessions", [])
    ini.setdefault("persistent", [])
    ini.setdefault("next_session", 1)
    return ini


def _tgs(h: dict) -> dict:
    tgs = h.setdefault("iscsi_target_server", {})
    tgs.setdefault("targets", {})
    tgs.setdefault("virtual_disks", {})
    tgs.setdefault("next_index", 1 + len(tgs["virtual_disks"]))
    return tgs


def _service_running(h: dict, name: str) -> bool:
    for sname, svc in h.get("services", {}).items():
        if sname.lower() == name.lower():
            return svc.get("status") == "Running"
    return False


def _powered(h: dict) -> bool:
    return h.get("power") in ("on", "booting")


# ---------------------------------------------------------------------------------------- target server
def target_server_installed(world, host: str) -> bool:
    h = _host(world, host)
    return h.get("features", {}).get("FS-iSCSITarget-Server", {}).get("state") == "Installed"


def require_target_server(world, host: str) -> dict:
    """The host's target-server state; StorageFault if the role or its WinTarget service is not there."""
    h = _host(world, host)
    if not target_server_installed(world, host):
        raise StorageFault(
            "The iSCSI Target Server role service (FS-iSCSITarget-Server) is not installed on this computer.",
            "IscsiTargetServerNotInstalled", "ObjectNotFound", ISCSI_TARGET_EXC)
    if not _service_running(h, "WinTarget"):
        raise target_server_fault(
            "Unable to connect to the iSCSI Target Server: the Microsoft iSCSI Software Target service "
            "(WinTarget) is not running.", "IscsiCmdException", "ConnectionError")
    return _tgs(h)


def target_iqn(world, host: str, target_name: str) -> str:
    """iqn.1991-05.com.microsoft:<computer>-<target>-target, lower case, as the target server names it."""
    h = _host(world, host)
    return f"{MICROSOFT_IQN_PREFIX}{h['name'].lower()}-{target_name.lower()}-target"


INITIATOR_ID_METHODS = {"iqn": "IQN", "dnsname": "DNSName", "ipaddress": "IPAddress",
                        "ipv6address": "IPv6Address", "macaddress": "MACAddress"}
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([-:]?[0-9A-Fa-f]{2}){5}$")


def parse_initiator_id(text: str) -> tuple[str, str]:
    """'IQN:iqn...' -> ('IQN', 'iqn...'); ValueError with the reason for anything else."""
    s = str(text).strip()
    method, sep, value = s.partition(":")
    canon = INITIATOR_ID_METHODS.get(method.strip().lower())
    if not sep or canon is None:
        raise ValueError(f"The initiator ID '{s}' is not valid. Specify it as <Method>:<Value>, where Method is "
                         f"IQN, DNSName, IPAddress, IPv6Address or MACAddress.")
    value = value.strip()
    if not value:
        raise ValueError(f"The initiator ID '{s}' is not valid: the value is empty.")
    if canon == "IPAddress":
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError(f"The initiator ID '{s}' is not valid: '{value}' is not an IPv4 address.") from None
    elif canon == "IPv6Address":
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            raise ValueError(f"The initiator ID '{s}' is not valid: '{value}' is not an IPv6 address.") from None
    elif canon == "MACAddress":
        if not _MAC.match(value):
            raise ValueError(f"The initiator ID '{s}' is not valid: '{value}' is not a MAC address.")
        value = re.sub(r"[-:]", "", value).upper()
        value = "-".join(value[i:i + 2] for i in range(0, 12, 2))
    elif canon == "IQN" and value != "*" and not re.match(r"^(iqn\.|eui\.|naa\.)", value, re.I):
        raise ValueError(f"The initiator ID '{s}' is not valid: '{value}' is not an iSCSI qualified name.")
    return canon, value


def normalize_initiator_ids(ids: list[str] | None) -> list[str]:
    out = []
    for text in ids or []:
        method, value = parse_initiator_id(text)
        out.append(f"{method}:{value}")
    return out


def initiator_allowed(world, target: dict, initiator_host: str) -> bool:
    """Does the target's InitiatorIds list admit this initiator host (IQN, DNS name, IP or MAC)?"""
    h = _host(world, initiator_host)
    iqn = initiator_iqn(world, h).lower()
    names = {fqdn(world, h).lower(), h["name"].lower()}
    ips = {n.get("ipv4") for n in h.get("nics", []) if n.get("ipv4")}
    macs = {str(n.get("mac", "")).upper().replace(":", "-") for n in h.get("nics", [])}
    for text in target.get("initiator_ids", []):
        method, value = parse_initiator_id(text)
        if method == "IQN" and (value == "*" or value.lower() == iqn):
            return True
        if method == "DNSName" and value.lower().rstrip(".") in names:
            return True
        if method == "IPAddress" and value in ips:
            return True
        if method == "MACAddress" and value in macs:
            return True
    return False


def get_target(world, host: str, name: str) -> dict | None:
    return require_target_server(world, host)["targets"].get(name.lower())


def create_target(world, host: str, name: str, initiator_ids: list[str] | None = None,
                  description: str = "") -> dict:
    tgs = require_target_server(world, host)
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$", name) or len(name) > 200:
        raise target_server_fault(
            f"The target name '{name}' is not valid. A target name can contain only the characters a-z, A-Z, "
            f"0-9, '.' and '-'.", "IscsiCmdException", "InvalidArgument", name)
    if name.lower() in tgs["targets"]:
        raise target_server_fault(f"The target '{name}' already exists.", "IscsiCmdException",
                                  "ResourceExists", name)
    target = {"name": name, "iqn": target_iqn(world, host, name),
              "initiator_ids": normalize_initiator_ids(initiator_ids), "description": description or "",
              "enabled": True, "created": _now(), "luns": []}
    tgs["targets"][name.lower()] = target
    return target


def _missing_target(name: str) -> StorageFault:
    return target_server_fault(f"The target '{name}' does not exist.", "IscsiCmdException", "ObjectNotFound", name)


def set_target(world, host: str, name: str, *, initiator_ids: list[str] | None = None,
               description: str | None = None, enable: bool | None = None) -> dict:
    target = get_target(world, host, name)
    if target is None:
        raise _missing_target(name)
    if initiator_ids is not None:
        target["initiator_ids"] = normalize_initiator_ids(initiator_ids)
    if description is not None:
        target["description"] = description
    if enable is not None:
        target["enabled"] = bool(enable)
    return target


def remove_target(world, host: str, name: str) -> None:
    tgs = require_target_server(world, host)
    target = tgs["targets"].get(name.lower())
    if target is None:
        raise _missing_target(name)
    iqn = target["iqn"]
    del tgs["targets"][name.lower()]
    _drop_sessions_to(world, _host(world, host)["name"], iqn)


def vdisk_key(path: str) -> str:
    return _files.key(path)


def get_virtual_disk(world, host: str, path: str) -> dict | None:
    return require_target_server(world, host)["virtual_disks"].get(vdisk_key(path))


def _missing_vdisk(path: str) -> StorageFault:
    return target_server_fault("The specified virtual disk does not exist.", "IscsiCmdException",
                               "ObjectNotFound", path)


def _new_layout() -> dict:
    return {"partition_style": "RAW", "guid": None, "signature": None, "partitions": []}


def _absolute_path(path: str) -> str:
    """The normalized path of a virtual disk file; a relative path is the target server's InvalidArgument."""
    p = _files.normalize(path)
    if not re.match(r"^[A-Za-z]:\\", p):
        raise target_server_fault(f"The path '{path}' is not valid. Specify an absolute path.",
                                  "IscsiCmdException", "InvalidArgument", path)
    return p


def create_virtual_disk(world, host: str, path: str, size: int | None, *, disk_type: str = "Dynamic",
                        description: str = "", parent_path: str | None = None) -> dict:
    """Creates the VHDX file and the iSCSI virtual disk. The folder must exist; the file must not."""
    tgs = require_target_server(world, host)
    h = _host(world, host)
    p = _absolute_path(path)
    if not p.lower().endswith(".vhdx"):
        raise target_server_fault("The virtual disk file name must have a .vhdx file name extension.",
                                  "IscsiCmdException", "InvalidArgument", path)
    if vdisk_key(p) in tgs["virtual_disks"] or _files.exists(h, p):
        raise target_server_fault("The file exists.", "IscsiCmdException", "ResourceExists", path)
    folder = _files.parent(p)
    if folder is None or _files.get(h, folder) is None or _files.get(h, folder)["kind"] != "dir":
        raise target_server_fault("The system cannot find the path specified.", "IscsiCmdException",
                                  "ObjectNotFound", path)
    parent = None
    if disk_type == "Differencing":
        parent = tgs["virtual_disks"].get(vdisk_key(parent_path or ""))
        if parent is None and not _files.exists(h, parent_path or ""):
            raise target_server_fault("The system cannot find the file specified.", "IscsiCmdException",
                                      "ObjectNotFound", parent_path)
        size = size or (parent["size"] if parent else _files.get(h, parent_path)["size"])
    if not size or int(size) < 8 * MB:
        raise target_server_fault("The size of the virtual disk must be at least 8 MB.", "IscsiCmdException",
                                  "InvalidArgument", size)
    size = int(size)
    if size % 512:
        raise target_server_fault("The size of the virtual disk must be a multiple of 512 bytes.",
                                  "IscsiCmdException", "InvalidArgument", size)
    vd = _register(tgs, h, p, size, disk_type, parent_path, description, _new_layout())
    file_size = size if disk_type == "Fixed" else 4 * MB
    _files.put_file(h, p, file_size, kind_detail="vhdx", vhd=_file_meta(vd))
    return vd


def _register(tgs: dict, h: dict, p: str, size: int, disk_type: str, parent_path: str | None,
              description: str, layout: dict) -> dict:
    """A new iSCSI virtual disk object: the next index and a new serial number."""
    index = int(tgs["next_index"])
    tgs["next_index"] = index + 1
    serial = str(uuid.UUID(_stable_hex("serial", h["name"], p.lower(), _now(), str(index)))).upper()
    vd = {"path": p, "size": int(size), "disk_type": disk_type, "parent_path": parent_path, "serial": serial,
          "index": index, "description": description or "", "created": _now(),
          "layout": layout, "reservation": None}
    tgs["virtual_disks"][vdisk_key(p)] = vd
    return vd


def _file_meta(vd: dict) -> dict:
    """What the .vhdx file itself records about the disk (its "vhd" entry)."""
    return {"size": int(vd["size"]), "type": vd["disk_type"],
            "format": "VHD" if vd["path"].lower().endswith(".vhd") else "VHDX", "parent_path": vd.get("parent_path")}


def import_virtual_disk(world, host: str, path: str, description: str = "") -> dict:
    """Import-IscsiVirtualDisk: register an existing .vhdx/.vhd file as it is (size, type and data from
    the file). The file must exist and must not be registered already. The disk gets a new index and a
    new serial number (Windows does not document keeping the old one; the serial is the target server's,
    not the file's), so initiators see it as a new LUN."""
    tgs = require_target_server(world, host)
    h = _host(world, host)
    p = _absolute_path(path)
    if not p.lower().endswith((".vhdx", ".vhd")):
        raise target_server_fault("The virtual disk file name must have a .vhd or .vhdx file name extension.",
                                  "IscsiCmdException", "InvalidArgument", path)
    if vdisk_key(p) in tgs["virtual_disks"]:
        raise target_server_fault("The virtual disk already exists on the iSCSI Target Server.",
                                  "IscsiCmdException", "ResourceExists", path)
    entry = _files.get(h, p)
    if entry is None or entry.get("kind") != "file":
        raise target_server_fault("The system cannot find the file specified.", "IscsiCmdException",
                                  "ObjectNotFound", path)
    meta = entry.get("vhd") or {}
    if not meta.get("size"):
        raise target_server_fault("The file or directory is corrupted and unreadable.", "IscsiCmdException",
                                  "InvalidData", path)
    layout = copy.deepcopy(meta.get("layout")) or _new_layout()
    vd = _register(tgs, h, entry["path"], int(meta["size"]), str(meta.get("type") or "Dynamic"),
                   meta.get("parent_path"), description, layout)
    entry["vhd"] = {**meta, **_file_meta(vd)}
    entry["vhd"].pop("layout", None)    # while registered the data lives with the virtual disk
    return vd


def creation_seconds(size: int, disk_type: str) -> float:
    """Simulated time to create (or grow) a virtual disk: fixed disks are zeroed, others are quick."""
    if disk_type == "Fixed":
        return max(DYNAMIC_CREATE_SECONDS, size / FIXED_WRITE_BYTES_PER_SECOND)
    return DYNAMIC_CREATE_SECONDS


def resize_virtual_disk(world, host: str, path: str, size: int) -> dict:
    vd = get_virtual_disk(world, host, path)
    if vd is None:
        raise _missing_vdisk(path)
    size = int(size)
    if size < vd["size"]:
        used_end = max((pt["offset"] + pt["size"] for pt in vd["layout"]["partitions"]), default=0)
        if vd["layout"]["partition_style"] == "RAW" or size < used_end + MB:
            raise target_server_fault(
                "The virtual disk cannot be shrunk to the requested size: the space is in use or not "
                "unallocated at the end of the disk.", "IscsiCmdException", "InvalidOperation", path)
    if size % 512:
        raise target_server_fault("The size of the virtual disk must be a multiple of 512 bytes.",
                                  "IscsiCmdException", "InvalidArgument", size)
    vd["size"] = size
    h = _host(world, host)
    entry = _files.get(h, vd["path"])
    if entry is not None:
        entry.setdefault("vhd", {})["size"] = size
        if vd["disk_type"] == "Fixed":
            entry["size"] = size
    return vd


def remove_virtual_disk(world, host: str, path: str) -> None:
    """Removes the virtual disk from the target server; the VHDX file stays (as on Windows)."""
    tgs = require_target_server(world, host)
    vd = tgs["virtual_disks"].get(vdisk_key(path))
    if vd is None:
        raise _missing_vdisk(path)
    mapped = [t["name"] for t in tgs["targets"].values()
              if any(vdisk_key(m["path"]) == vdisk_key(path) for m in t["luns"])]
    if mapped:
        raise target_server_fault(
            f"The virtual disk is assigned to the target '{mapped[0]}'. Remove the mapping first.",
            "IscsiCmdException", "InvalidOperation", path)
    del tgs["virtual_disks"][vdisk_key(path)]
    entry = _files.get(_host(world, host), vd["path"])
    if entry is not None:   # the file keeps the LUN's data: a later Import-IscsiVirtualDisk finds it there
        entry["vhd"] = {**(entry.get("vhd") or {}), **_file_meta(vd), "layout": copy.deepcopy(vd["layout"])}


def add_mapping(world, host: str, target_name: str, path: str, lun: int | None = None) -> dict:
    tgs = require_target_server(world, host)
    target = tgs["targets"].get(target_name.lower())
    if target is None:
        raise _missing_target(target_name)
    vd = tgs["virtual_disks"].get(vdisk_key(path))
    if vd is None:
        raise _missing_vdisk(path)
    if any(vdisk_key(m["path"]) == vdisk_key(path) for m in target["luns"]):
        raise target_server_fault(f"The virtual disk is already assigned to the target '{target['name']}'.",
                                  "IscsiCmdException", "ResourceExists", path)
    used = {m["lun"] for m in target["luns"]}
    if lun is None:
        lun = next(i for i in range(len(used) + 1) if i not in used)
    elif int(lun) in used:
        raise target_server_fault(f"The LUN {lun} is already in use on the target '{target['name']}'.",
                                  "IscsiCmdException", "ResourceExists", lun)
    mapping = {"path": vd["path"], "lun": int(lun)}
    target["luns"].append(mapping)
    target["luns"].sort(key=lambda m: m["lun"])
    _sync_target_initiators(world, _host(world, host)["name"], target["iqn"])
    return mapping


def remove_mapping(world, host: str, target_name: str, path: str) -> None:
    tgs = require_target_server(world, host)
    target = tgs["targets"].get(target_name.lower())
    if target is None:
        raise _missing_target(target_name)
    before = len(target["luns"])
    target["luns"] = [m for m in target["luns"] if vdisk_key(m["path"]) != vdisk_key(path)]
    if len(target["luns"]) == before:
        raise target_server_fault(f"The virtual disk is not assigned to the target '{target['name']}'.",
                                  "IscsiCmdException", "ObjectNotFound", path)
    _sync_target_initiators(world, _host(world, host)["name"], target["iqn"])


def target_connections(world, target_host: str, iqn: str) -> list[tuple[str, dict]]:
    """(initiator host name, session) pairs of sessions logged in to this target now."""
    out = []
    for hname, h in world.data["hosts"].items():
        for s in _ini(h)["sessions"]:
            if s["target_host"].lower() == target_host.lower() and s["target_iqn"].lower() == iqn.lower():
                out.append((hname, s))
    return out


def vdisk_connected(world, target_host: str, vd: dict) -> bool:
    tgs = _tgs(_host(world, target_host))
    for t in tgs["targets"].values():
        if any(vdisk_key(m["path"]) == vdisk_key(vd["path"]) for m in t["luns"]) and \
                target_connections(world, target_host, t["iqn"]):
            return True
    return False


# ---------------------------------------------------------------------------------------- initiator
def require_initiator(world, host: str) -> dict:
    h = _host(world, host)
    if not _service_running(h, "MSiSCSI"):
        raise iscsi_initiator_fault(0xEFFF003E, "The Microsoft iSCSI initiator service has not been started.",
                                    "MSFT_iSCSITarget")
    initiator_iqn(world, h)
    retry_persistent(world, h["name"])
    return _ini(h)


def resolve_target_host(world, address: str) -> dict | None:
    try:
        return world.host(address)
    except KeyError:
        return None


def _target_server_up(world, h: dict) -> bool:
    from . import firewall  # a closed TCP 3260 looks like a server that does not answer

    return (_powered(h) and h.get("features", {}).get("FS-iSCSITarget-Server", {}).get("state") == "Installed"
            and _service_running(h, "WinTarget") and firewall.allows(h, "TCP", 3260))


def _discover(world, initiator_host: str, target_host: dict) -> list[str]:
    """SendTargets: the targets of that server whose InitiatorIds admit this initiator."""
    if not _target_server_up(world, target_host):
        return []
    out = []
    for t in _tgs(target_host)["targets"].values():
        if t.get("enabled", True) and initiator_allowed(world, t, initiator_host):
            out.append(t["iqn"])
    return out


def find_portal(ini: dict, address: str, port: int | None = None) -> dict | None:
    for p in ini["portals"]:
        if p["address"].lower() == str(address).lower() and (port is None or int(p["port"]) == int(port)):
            return p
    return None


def add_portal(world, host: str, address: str, port: int = 3260, initiator_portal: str = "") -> dict:
    ini = require_initiator(world, host)
    existing = find_portal(ini, address, port)
    th = resolve_target_host(world, address)
    if th is None or th.get("power") != "on":
        raise iscsi_initiator_fault(0xEFFF0003, "Connection Failed.", "MSFT_iSCSITargetPortal")
    if not _target_server_up(world, th) or int(port) != 3260:
        raise iscsi_initiator_fault(0xEFFF0003, "Connection Failed.", "MSFT_iSCSITargetPortal")
    discovered = _discover(world, _host(world, host)["name"], th)
    if existing is not None:
        existing["discovered"] = discovered
        return existing
    portal = {"address": address, "port": int(port), "target_host": th["name"],
              "initiator_portal": initiator_portal or "", "discovered": discovered}
    ini["portals"].append(portal)
    return portal


def refresh_portal(world, host: str, portal: dict) -> dict:
    th = world.data["hosts"].get(portal["target_host"])
    if th is None or not _target_server_up(world, th):
        raise iscsi_initiator_fault(0xEFFF0003, "Connection Failed.", "MSFT_iSCSITargetPortal")
    portal["discovered"] = _discover(world, _host(world, host)["name"], th)
    return portal


def discovered_targets(world, host: str) -> list[dict]:
    """[{iqn, target_host, portal, connected}] in discovery order, including connected ones."""
    ini = require_initiator(world, host)
    seen: dict[str, dict] = {}
    for p in ini["portals"]:
        for iqn in p.get("discovered", []):
            seen.setdefault(iqn.lower(), {"iqn": iqn, "target_host": p["target_host"], "portal": p})
    for s in ini["sessions"]:
        seen.setdefault(s["target_iqn"].lower(), {"iqn": s["target_iqn"], "target_host": s["target_host"],
                                                  "portal": find_portal(ini, s["portal_address"])})
    connected = {s["target_iqn"].lower() for s in ini["sessions"]}
    out = list(seen.values())
    for t in out:
        t["connected"] = t["iqn"].lower() in connected
    return out


def _target_by_iqn(world, target_host: str, iqn: str) -> dict | None:
    h = world.data["hosts"].get(target_host)
    if h is None:
        return None
    for t in _tgs(h)["targets"].values():
        if t["iqn"].lower() == iqn.lower():
            return t
    return None


def connect(world, host: str, node_address: str, *, portal_address: str | None = None,
            port: int | None = None, persistent: bool = False) -> dict:
    """Log in to a discovered target: the session makes its LUNs arrive as disks on this host."""
    ini = require_initiator(world, host)
    h = _host(world, host)
    known = [t for t in discovered_targets(world, host) if t["iqn"].lower() == node_address.lower()]
    if portal_address:
        known = [t for t in known if t["portal"] and t["portal"]["address"].lower() == portal_address.lower()]
    if not known:
        raise iscsi_initiator_fault(0xEFFF0029, "The target name is not found or is marked as hidden from login. ")
    entry = known[0]
    if any(s["target_iqn"].lower() == node_address.lower() for s in ini["sessions"]):
        raise iscsi_initiator_fault(0xEFFF003F, "The target has already been logged in via an iSCSI session.")
    th = world.data["hosts"].get(entry["target_host"])
    if th is None or not _target_server_up(world, th):
        raise iscsi_initiator_fault(0xEFFF0003, "Connection Failed.")
    target = _target_by_iqn(world, th["name"], node_address)
    if target is None or not target.get("enabled", True):
        raise iscsi_initiator_fault(0xEFFF0029, "The target name is not found or is marked as hidden from login. ")
    if not initiator_allowed(world, target, h["name"]):
        raise iscsi_initiator_fault(0xEFFF000A, "Authorization Failure.")
    portal = entry["portal"] or {"address": th["name"], "port": 3260}
    session = _new_session(ini, target["iqn"], th["name"], portal["address"], int(port or portal["port"]),
                           persistent)
    if persistent:
        ini["persistent"] = [x for x in ini["persistent"] if x["target_iqn"].lower() != target["iqn"].lower()]
        ini["persistent"].append({"target_iqn": target["iqn"], "target_host": th["name"],
                                  "portal_address": portal["address"], "port": session["port"]})
    sync_disks(world, h["name"])
    return session


def _new_session(ini: dict, iqn: str, target_host: str, portal_address: str, port: int, persistent: bool) -> dict:
    n = int(ini["next_session"])
    ini["next_session"] = n + 1
    prefix = _stable_hex("initiator", ini.get("iqn", ""), n=8).lower()
    session = {"id": f"ffffe000{prefix}-40000137{n:08x}", "target_iqn": iqn, "target_host": target_host,
               "portal_address": portal_address, "port": port, "persistent": bool(persistent), "created": _now(),
               "isid": f"400001370{n:03x}", "tsih": f"{n:04x}"}
    ini["sessions"].append(session)
    return session


def disconnect(world, host: str, node_address: str | None = None, session_id: str | None = None) -> list[dict]:
    """Log out of the matching sessions (and forget their persistent logins); their disks leave."""
    ini = require_initiator(world, host)
    gone = [s for s in ini["sessions"]
            if (node_address is None or s["target_iqn"].lower() == node_address.lower())
            and (session_id is None or s["id"].lower() == session_id.lower())]
    if not gone:
        raise iscsi_initiator_fault(0xEFFF001C, "Invalid session identifier (ID).", "MSFT_iSCSISession")
    h = _host(world, host)
    for s in gone:
        iqn = s["target_iqn"].lower()
        for d in _disks(h):
            if d.get("present") and d.get("source", {}).get("target_iqn", "").lower() == iqn and \
                    not disk_view(world, h["name"], d)["IsOffline"] and \
                    any(p.get("volume") for p in layout_of(world, d)["partitions"]):
                # a mounted volume keeps the device open: Windows refuses to log the session off
                raise iscsi_initiator_fault(
                    0xEFFF0040, "The session cannot be logged off because a device on that session is currently "
                                "being used.", "MSFT_iSCSISession")
    for s in gone:
        ini["sessions"].remove(s)
        ini["persistent"] = [x for x in ini["persistent"] if x["target_iqn"].lower() != s["target_iqn"].lower()]
    sync_disks(world, _host(world, host)["name"])
    return gone


def register_session(world, host: str, session_id: str) -> dict:
    ini = require_initiator(world, host)
    for s in ini["sessions"]:
        if s["id"].lower() == session_id.lower():
            s["persistent"] = True
            ini["persistent"] = [x for x in ini["persistent"] if x["target_iqn"].lower() != s["target_iqn"].lower()]
            ini["persistent"].append({"target_iqn": s["target_iqn"], "target_host": s["target_host"],
                                      "portal_address": s["portal_address"], "port": s["port"]})
            return s
    raise iscsi_initiator_fault(0xEFFF001C, "Invalid session identifier (ID).", "MSFT_iSCSISession")


def unregister_session(world, host: str, session_id: str) -> dict:
    ini = require_initiator(world, host)
    for s in ini["sessions"]:
        if s["id"].lower() == session_id.lower():
            s["persistent"] = False
            ini["persistent"] = [x for x in ini["persistent"] if x["target_iqn"].lower() != s["target_iqn"].lower()]
            return s
    raise iscsi_initiator_fault(0xEFFF001C, "Invalid session identifier (ID).", "MSFT_iSCSISession")


def _drop_sessions_to(world, target_host: str, iqn: str) -> None:
    for hname, s in target_connections(world, target_host, iqn):
        _ini(world.data["hosts"][hname])["sessions"].remove(s)
        sync_disks(world, hname)


def _sync_target_initiators(world, target_host: str, iqn: str) -> None:
    for hname in {hn for hn, _ in target_connections(world, target_host, iqn)}:
        sync_disks(world, hname)


def session_luns(world, session: dict) -> list[tuple[dict, dict]]:
    """(virtual disk, mapping) pairs the session's target exposes, by LUN."""
    th = world.data["hosts"].get(session["target_host"])
    if th is None:
        return []
    target = _target_by_iqn(world, th["name"], session["target_iqn"])
    if target is None:
        return []
    out = []
    for m in target["luns"]:
        vd = _tgs(th)["virtual_disks"].get(vdisk_key(m["path"]))
        if vd is not None:
            out.append((vd, m))
    return out


# ---------------------------------------------------------------------------------------- disks
def _disks(h: dict) -> list[dict]:
    disks = h.setdefault("disks", [])
    if not any(d.get("source", {}).get("kind") == "local" for d in disks):
        disks.insert(0, _system_disk(h))
    return disks


def _system_disk(h: dict) -> dict:
    """The host's OS disk: Disk 0, GPT, EFI + MSR + C: (NTFS)."""
    size = 127 * GB
    parts = [
        {"number": 1, "type": "System", "gpt_type": GPT_EFI, "guid": _stable_guid(h["name"], "efi"),
         "offset": MB, "size": 100 * MB,
         "volume": {"guid": _stable_guid(h["name"], "efi-vol"), "file_system": "FAT32", "label": "",
                    "size_remaining": 70 * MB, "allocation_unit": 4096}},
        {"number": 2, "type": "Reserved", "gpt_type": GPT_MSR, "guid": _stable_guid(h["name"], "msr"),
         "offset": 101 * MB, "size": 16 * MB, "volume": None},
        {"number": 3, "type": "Basic", "gpt_type": GPT_BASIC, "guid": _stable_guid(h["name"], "c"),
         "offset": 117 * MB, "size": size - 117 * MB - MB,
         "volume": {"guid": _stable_guid(h["name"], "c-vol"), "file_system": "NTFS", "label": "",
                    "size_remaining": 100 * GB, "allocation_unit": 4096}},
    ]
    serial = _stable_hex("sysdisk", h["name"], n=32)
    return {"unique_id": "60022480" + _stable_hex("sysuid", h["name"], n=24), "serial": serial, "number": 0,
            "present": True, "offline": False, "read_only": False, "bus_type": "SAS",
            "friendly_name": "Msft Virtual Disk", "model": "Virtual Disk", "manufacturer": "Msft",
            "location": "Integrated : Adapter 0 : Port 0 : Target 0 : LUN 0",
            "path": "\\\\?\\scsi#disk&ven_msft&prod_virtual_disk#5&1ec51bf7&0&000000#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}",
            "source": {"kind": "local"}, "size": size, "is_boot": True,
            "layout": {"partition_style": "GPT", "guid": _stable_guid(h["name"], "sysdisk"), "signature": None,
                       "partitions": parts},
            "letters": {parts[2]["guid"]: "C"}}


def _vdisk_of(world, disk: dict) -> dict | None:
    src = disk.get("source", {})
    if src.get("kind") != "iscsi":
        return None
    th = world.data["hosts"].get(src["target_host"])
    if th is None:
        return None
    return _tgs(th)["virtual_disks"].get(src["vdisk"])


def layout_of(world, disk: dict) -> dict:
    if disk.get("source", {}).get("kind") == "iscsi":
        vd = _vdisk_of(world, disk)
        return vd["layout"] if vd is not None else _new_layout()
    return disk["layout"]


def size_of(world, disk: dict) -> int:
    """The size this host knows: an iSCSI LUN's capacity as of its arrival or the last rescan
    (Resize-IscsiVirtualDisk is not seen by initiators until Update-HostStorageCache or a restart)."""
    if disk.get("source", {}).get("kind") == "iscsi":
        if disk.get("size_seen") is not None:
            return int(disk["size_seen"])
        vd = _vdisk_of(world, disk)
        return int(vd["size"]) if vd is not None else 0
    return int(disk["size"])


def rescan(world, host: str) -> None:
    """Update-HostStorageCache: pick up new LUNs and new capacities."""
    sync_disks(world, host)
    for d in host_disks(world, host):
        vd = _vdisk_of(world, d)
        if vd is not None:
            d["size_seen"] = int(vd["size"])


def host_disks(world, host: str) -> list[dict]:
    """Present disks of the host, by number."""
    h = _host(world, host)
    retry_persistent(world, h["name"])
    return sorted((d for d in _disks(h) if d.get("present")), key=lambda d: d["number"])


def sync_disks(world, host: str, enumeration_seed: str | None = None) -> None:
    """Make the host's present disks match its sessions' LUNs (arrivals get numbers and SAN policy).

    With an enumeration_seed (a boot), LUNs arriving together are numbered in a seed-dependent
    order, as Plug and Play enumerates them after a restart: disk numbers are not stable."""
    h = _host(world, host)
    disks = _disks(h)
    wanted: dict[str, tuple[dict, dict, dict]] = {}
    order: list[str] = []
    for s in _ini(h)["sessions"]:
        for vd, m in session_luns(world, s):
            uid = unique_id_for_serial(vd["serial"])
            if uid not in wanted:
                wanted[uid] = (vd, m, s)
                order.append(uid)
    if enumeration_seed is not None:
        order.sort(key=lambda u: _stable_hex(enumeration_seed, u))
    for d in disks:
        if d.get("source", {}).get("kind") == "iscsi" and d.get("present") and d["unique_id"] not in wanted:
            d["present"] = False
            d["number"] = None
    by_uid = {d["unique_id"]: d for d in disks}
    for uid in order:
        vd, m, s = wanted[uid]
        d = by_uid.get(uid)
        if d is not None and d.get("present"):
            continue
        used = {x["number"] for x in disks if x.get("present")}
        number = next(i for i in range(len(used) + 1) if i not in used)
        src = {"kind": "iscsi", "target_host": s["target_host"], "vdisk": vdisk_key(vd["path"]),
               "target_iqn": s["target_iqn"], "lun": m["lun"]}
        if d is None:
            d = {"unique_id": uid, "serial": vd["serial"], "offline": True, "read_only": True,
                 "offline_reason": "Policy", "bus_type": "iSCSI", "friendly_name": "MSFT Virtual HD",
                 "model": "Virtual HD", "manufacturer": "MSFT", "letters": {}, "is_boot": False,
                 "first_seen": _now()}
            disks.append(d)
            by_uid[uid] = d
        d["present"] = True
        d["number"] = number
        d["size_seen"] = int(vd["size"])
        d["source"] = src
        d["location"] = f"Integrated : Adapter 1 : Port 0 : Target 0 : LUN {m['lun']}"
        d["path"] = ("\\\\?\\scsi#disk&ven_msft&prod_virtual_hd#1&1c121344&0&" + f"{number:06x}"
                     + "#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}")
        d["arrived"] = _now()


def find_disk(world, host: str, *, number: int | None = None, unique_id: str | None = None,
              serial: str | None = None, path: str | None = None, friendly_name: str | None = None) -> list[dict]:
    out = []
    for d in host_disks(world, host):
        if number is not None and d["number"] != int(number):
            continue
        if unique_id is not None and d["unique_id"].lower() != str(unique_id).lower():
            continue
        if serial is not None and d["serial"].lower() != str(serial).lower().strip():
            continue
        if path is not None and d["path"].lower() != str(path).lower():
            continue
        if friendly_name is not None and d["friendly_name"].lower() != str(friendly_name).lower():
            continue
        out.append(d)
    return out


def find_disk_by_serial(world, host: str, serial: str) -> dict | None:
    found = find_disk(world, host, serial=serial)
    return found[0] if found else None


def find_disk_by_unique_id(world, host: str, unique_id: str) -> dict | None:
    found = find_disk(world, host, unique_id=unique_id)
    return found[0] if found else None


def _vdisk_by_uid(world, unique_id: str) -> tuple[str, dict] | None:
    for hname, h in world.data["hosts"].items():
        for vd in h.get("iscsi_target_server", {}).get("virtual_disks", {}).values():
            if unique_id_for_serial(vd["serial"]).lower() == unique_id.lower():
                return hname, vd
    return None


def reservation(world, unique_id: str) -> dict | None:
    found = _vdisk_by_uid(world, unique_id)
    return found[1].get("reservation") if found else None


def set_reservation(world, unique_id: str, cluster: str, owner: str) -> None:
    """Mark the LUN as a cluster disk owned by `owner` (the node that has it online)."""
    found = _vdisk_by_uid(world, unique_id)
    if found is None:
        raise KeyError(unique_id)
    old = found[1].get("reservation") or {}
    found[1]["reservation"] = {"cluster": cluster, "owner": owner, "maintenance": bool(old.get("maintenance"))}


def clear_reservation(world, unique_id: str) -> None:
    found = _vdisk_by_uid(world, unique_id)
    if found is not None:
        found[1]["reservation"] = None


def set_maintenance(world, unique_id: str, on: bool) -> None:
    found = _vdisk_by_uid(world, unique_id)
    if found is not None and found[1].get("reservation"):
        found[1]["reservation"]["maintenance"] = bool(on)


def lun_layout(world, unique_id: str) -> dict | None:
    found = _vdisk_by_uid(world, unique_id)
    return found[1]["layout"] if found else None


def disk_guid(world, unique_id: str) -> str | None:
    layout = lun_layout(world, unique_id)
    return layout.get("guid") if layout else None


def disk_volumes(world, unique_id: str) -> list[dict]:
    layout = lun_layout(world, unique_id) or _new_layout()
    return [p for p in layout["partitions"] if p.get("volume")]


def hosts_seeing_disk(world, unique_id: str) -> list[str]:
    out = []
    for hname, h in world.data["hosts"].items():
        if any(d.get("present") and d["unique_id"].lower() == unique_id.lower() for d in h.get("disks", [])):
            out.append(hname)
    return out


def _reservation_for(world, disk: dict) -> dict | None:
    vd = _vdisk_of(world, disk)
    return vd.get("reservation") if vd else None


def disk_view(world, host: str, disk: dict) -> dict:
    """What Get-Disk shows for this disk on this host."""
    h = _host(world, host)
    layout = layout_of(world, disk)
    res = _reservation_for(world, disk)
    offline = bool(disk.get("offline"))
    reason = disk.get("offline_reason") if offline else None
    clustered = res is not None
    if clustered:
        offline = res["owner"].lower() != h["name"].lower()
        reason = None
    size = size_of(world, disk)
    parts = layout["partitions"]
    used_end = max((p["offset"] + p["size"] for p in parts), default=FIRST_OFFSET)
    largest = max(0, size - used_end - MB) if layout["partition_style"] != "RAW" else 0
    allocated = sum(p["size"] for p in parts)
    return {
        "Number": disk["number"], "UniqueId": disk["unique_id"], "SerialNumber": disk["serial"],
        "FriendlyName": disk["friendly_name"], "Model": disk.get("model", ""), "Manufacturer": disk.get("manufacturer", ""),
        "Size": size, "AllocatedSize": allocated, "LargestFreeExtent": largest,
        "IsOffline": offline, "OfflineReason": reason, "IsReadOnly": bool(disk.get("read_only")) and not clustered,
        "PartitionStyle": layout["partition_style"],
        "Guid": layout["guid"] if layout["partition_style"] == "GPT" else None,
        "Signature": layout["signature"] if layout["partition_style"] == "MBR" else None,
        "NumberOfPartitions": len(parts), "BusType": disk["bus_type"],
        "OperationalStatus": "Offline" if offline else "Online", "HealthStatus": "Healthy",
        "IsClustered": clustered, "IsHighlyAvailable": clustered, "IsBoot": bool(disk.get("is_boot")),
        "IsSystem": bool(disk.get("is_boot")), "BootFromDisk": bool(disk.get("is_boot")),
        "Location": disk.get("location", ""), "Path": disk["path"], "LogicalSectorSize": 512,
        "PhysicalSectorSize": 4096 if disk["bus_type"] == "iSCSI" else 4096,
    }


def _guard_cluster(world, host: str, disk: dict) -> None:
    res = _reservation_for(world, disk)
    if res is not None and not res.get("maintenance"):
        raise storage_wmi(40018, "The specified object is managed by the Microsoft Failover Clustering component. "
                                 "The disk must be in cluster maintenance mode and the cluster resource status "
                                 "must be online to perform this operation.")


def _guard_writable(world, host: str, disk: dict) -> None:
    view = disk_view(world, host, disk)
    if view["IsOffline"]:
        raise storage_wmi(41003, "The disk is offline.")
    if view["IsReadOnly"]:
        raise storage_wmi(41002, "The disk is read only.")


def set_disk(world, host: str, disk: dict, *, offline: bool | None = None, read_only: bool | None = None) -> None:
    if _reservation_for(world, disk) is not None:
        _guard_cluster(world, host, disk)
    if offline is not None:
        disk["offline"] = bool(offline)
        disk["offline_reason"] = "Policy" if offline else None  # MSFT_Disk: "the user requested the disk offline"
        if not offline:
            _auto_mount(world, host, disk)
    if read_only is not None:
        disk["read_only"] = bool(read_only)


def initialize_disk(world, host: str, disk: dict, style: str = "GPT") -> None:
    _guard_cluster(world, host, disk)
    _guard_writable(world, host, disk)
    layout = layout_of(world, disk)
    if layout["partition_style"] != "RAW":
        raise storage_wmi(41001, "The disk has already been initialized.", "MSFT_Disk")
    style = style.upper()
    layout["partition_style"] = style
    size = size_of(world, disk)
    if style == "GPT":
        layout["guid"] = "{" + str(uuid.uuid4()) + "}"
        if size >= GPT_DATA_OFFSET + 8 * MB:
            layout["partitions"].append({"number": 1, "type": "Reserved", "gpt_type": GPT_MSR,
                                         "guid": "{" + str(uuid.uuid4()) + "}", "offset": MSR_OFFSET,
                                         "size": MSR_SIZE, "volume": None})
    else:
        layout["signature"] = int(_stable_hex("sig", disk["unique_id"], _now(), n=8), 16)


def clear_disk(world, host: str, disk: dict, remove_data: bool = False, remove_oem: bool = False) -> None:
    _guard_cluster(world, host, disk)
    _guard_writable(world, host, disk)
    layout = layout_of(world, disk)
    if any(p["type"] == "Basic" for p in layout["partitions"]) and not remove_data:
        raise storage_wmi(41008, "Cannot clear with data partitions present. To clear data partitions, use the "
                                 "RemoveData flag.")
    if disk.get("is_boot"):
        raise storage_wmi(41009, "Operation not supported on a critical disk.")
    layout.update(_new_layout())
    _forget_letters(world, disk)


def _forget_letters(world, disk: dict) -> None:
    for h in world.data["hosts"].values():
        for d in h.get("disks", []):
            if d["unique_id"] == disk["unique_id"]:
                d["letters"] = {}


def _letters_in_use(world, host: str) -> set[str]:
    used = set()
    for d in host_disks(world, host):
        used.update(d.get("letters", {}).values())
    return {x.upper() for x in used}


def _free_letter(world, host: str) -> str:
    used = _letters_in_use(world, host)
    for c in "DEFGHIJKLMNOPQRSTUVWXYZ":
        if c not in used:
            return c
    raise storage_wmi(42002, "The requested access path is already in use.")


def new_partition(world, host: str, disk: dict, *, size: int | None = None, use_max: bool = False,
                  drive_letter: str | None = None, assign_letter: bool = False) -> dict:
    if bool(size) == bool(use_max):
        raise storage_wmi(40005, "You must specify a size by using either the Size or the UseMaximumSize parameter. "
                                 "You can specify only one of these parameters at a time.")
    _guard_cluster(world, host, disk)
    _guard_writable(world, host, disk)
    layout = layout_of(world, disk)
    if layout["partition_style"] == "RAW":
        raise storage_wmi(41000, "The disk has not been initialized.")
    disk_size = size_of(world, disk)
    first = GPT_DATA_OFFSET if layout["partition_style"] == "GPT" else FIRST_OFFSET
    end = max((p["offset"] + p["size"] for p in layout["partitions"]), default=first)
    start = -(-max(end, first) // MB) * MB  # next 1 MiB boundary
    available = disk_size - start - MB
    if use_max:
        size = available
    size = int(size)
    if size <= 0 or size > available:
        raise storage_wmi(40000, "Not enough available capacity")
    if drive_letter:
        letter = str(drive_letter)[0].upper()
        if letter in _letters_in_use(world, host):
            raise storage_wmi(42002, "The requested access path is already in use.")
    else:
        letter = _free_letter(world, host) if assign_letter else None
    part = {"number": len(layout["partitions"]) + 1, "type": "Basic" if layout["partition_style"] == "GPT" else "IFS",
            "gpt_type": GPT_BASIC if layout["partition_style"] == "GPT" else None,
            "guid": "{" + str(uuid.uuid4()) + "}", "offset": start, "size": size, "volume": None}
    if layout["partition_style"] == "MBR":
        part["type"] = "IFS"
    layout["partitions"].append(part)
    if letter:
        disk.setdefault("letters", {})[part["guid"]] = letter
    return part


def partition_supported_size(world, host: str, disk: dict, part: dict) -> tuple[int, int]:
    """Get-PartitionSupportedSize: (SizeMin, SizeMax) of a partition as this host sees the disk. The
    maximum reaches the next partition or the end of the disk less 1 MiB (backup GPT, alignment), so a
    grown LUN offers more only after a rescan (size_of); the minimum is what the file system uses."""
    layout = layout_of(world, disk)
    following = [p["offset"] for p in layout["partitions"] if p["offset"] > part["offset"]]
    end = min(following) if following else size_of(world, disk) - MB
    size_max = max(int(part["size"]), (end - part["offset"]) // MB * MB)
    vol = part.get("volume")
    size_min = int(part["size"]) if not vol else max(32 * MB, int(part["size"]) - int(vol.get("size_remaining") or 0))
    return min(size_min, size_max), size_max


def resize_partition(world, host: str, disk: dict, part: dict, size: int) -> None:
    """Resize-Partition: the partition and its file system grow (or shrink) to `size`. A clustered disk
    is resized on the node that owns it (a CSV on its coordinator node); others see it offline."""
    view = disk_view(world, host, disk)
    if view["IsOffline"]:
        raise storage_wmi(41003, "The disk is offline.")
    if view["IsReadOnly"]:
        raise storage_wmi(41002, "The disk is read only.")
    size = int(size)
    if size == int(part["size"]):
        raise storage_wmi(4097, "Size Not Supported\r\n\r\nExtended information:\r\nThe partition is already "
                                "the requested size.", "MSFT_Partition")
    size_min, size_max = partition_supported_size(world, host, disk, part)
    if size > size_max:
        raise storage_wmi(40000, "Not enough available capacity", "MSFT_Partition")
    if size < size_min:
        raise storage_wmi(4097, "Size Not Supported\r\n\r\nExtended information:\r\nThe specified size is less "
                                "than the minimum size the file system supports.", "MSFT_Partition")
    delta = size - int(part["size"])
    part["size"] = size
    vol = part.get("volume")
    if vol is not None:
        vol["size_remaining"] = max(0, int(vol.get("size_remaining") or 0) + delta)


def partitions(world, host: str, disk: dict) -> list[dict]:
    return list(layout_of(world, disk)["partitions"])


def partition_letter(disk: dict, part: dict) -> str | None:
    return disk.get("letters", {}).get(part["guid"])


def format_partition(world, host: str, disk: dict, part: dict, file_system: str = "NTFS", label: str = "",
                     allocation_unit: int | None = None) -> dict:
    view = disk_view(world, host, disk)
    if view["IsOffline"]:
        raise storage_wmi(41003, "The disk is offline.")
    if view["IsReadOnly"]:
        raise storage_wmi(43006, "Cannot perform the requested operation when the drive is read only", "MSFT_Volume")
    fs = (file_system or "NTFS").upper()
    canon = {"NTFS": "NTFS", "REFS": "ReFS", "FAT32": "FAT32", "FAT": "FAT", "EXFAT": "exFAT"}.get(fs)
    if canon is None:
        raise storage_wmi(43001, "The specified file system is not supported", "MSFT_Volume")
    old = part.get("volume") or {}
    part["volume"] = {"guid": old.get("guid") or "{" + str(uuid.uuid4()) + "}", "file_system": canon,
                      "label": label or "", "size_remaining": max(0, part["size"] - 32 * MB),
                      "allocation_unit": int(allocation_unit or 4096)}
    return part["volume"]


def volumes(world, host: str) -> list[tuple[dict, dict]]:
    """(disk, partition) pairs with a volume, on disks online on this host."""
    out = []
    for d in host_disks(world, host):
        if disk_view(world, host, d)["IsOffline"]:
            continue
        for p in layout_of(world, d)["partitions"]:
            if p.get("volume"):
                out.append((d, p))
    return out


def _auto_mount(world, host: str, disk: dict) -> None:
    """A disk coming online gets drive letters for its formatted data partitions (automount)."""
    for p in layout_of(world, disk)["partitions"]:
        if p.get("volume") and p["type"] in ("Basic", "IFS") and p["guid"] not in disk.get("letters", {}):
            letter = _free_letter(world, host)
            disk.setdefault("letters", {})[p["guid"]] = letter


# ---------------------------------------------------------------------------------------- boot / power
def on_boot(world, host: str) -> None:
    """Boot hook: sessions die; persistent logins come back if MSiSCSI starts; disks renumber."""
    h = _host(world, host)
    initiator_iqn(world, h)
    ini = _ini(h)
    ini["sessions"] = []
    for d in _disks(h):
        if d.get("source", {}).get("kind") == "iscsi":
            d["present"] = False
            d["number"] = None
    sync_disks(world, h["name"])
    if _service_running(h, "MSiSCSI"):
        login_persistent(world, h["name"])
    # Initiators whose persistent logins failed while this target server was down log in again now.
    for other, oh in world.data["hosts"].items():
        if other != h["name"] and _powered(oh) and _service_running(oh, "MSiSCSI") and any(
                x["target_host"] == h["name"] for x in _ini(oh)["persistent"]):
            login_persistent(world, other)


def login_persistent(world, host: str) -> None:
    """What MSiSCSI does when it starts: rediscover every portal, then log in to every persistent target."""
    h = _host(world, host)
    ini = _ini(h)
    for p in ini["portals"]:
        th = world.data["hosts"].get(p["target_host"])
        if th is not None and _target_server_up(world, th):
            p["discovered"] = _discover(world, h["name"], th)
    _login_missing(world, h)


def retry_persistent(world, host: str) -> None:
    """A running initiator keeps retrying persistent logins that are not connected (for example after
    Start-Service MSiSCSI, or once the target server is back): called lazily by the cmdlets."""
    h = _host(world, host)
    if not _service_running(h, "MSiSCSI"):
        return
    ini = _ini(h)
    connected = {s["target_iqn"].lower() for s in ini["sessions"]}
    if any(x["target_iqn"].lower() not in connected for x in ini["persistent"]):
        _login_missing(world, h)


def _login_missing(world, h: dict) -> None:
    ini = _ini(h)
    for login in list(ini["persistent"]):
        if any(s["target_iqn"].lower() == login["target_iqn"].lower() for s in ini["sessions"]):
            continue
        th = world.data["hosts"].get(login["target_host"])
        if th is None or not _target_server_up(world, th):
            continue
        target = _target_by_iqn(world, th["name"], login["target_iqn"])
        if target is None or not initiator_allowed(world, target, h["name"]):
            continue
        _new_session(ini, target["iqn"], th["name"], login["portal_address"], int(login["port"]), True)
    sync_disks(world, h["name"], enumeration_seed=f"{h['name']}:{h.get('boot_id', 0)}")


def on_power_off(world, host: str) -> None:
    h = _host(world, host)
    _ini(h)["sessions"] = []
    for d in _disks(h):
        if d.get("source", {}).get("kind") == "iscsi":
            d["present"] = False
            d["number"] = None


def install(world) -> None:
    """Register the boot and power-off hooks on this World (idempotent)."""
    for event, fn in (("boot", on_boot), ("power_off", on_power_off)):
        hooks = world.hooks.setdefault(event, [])
        if fn not in hooks:
            hooks.append(fn)
