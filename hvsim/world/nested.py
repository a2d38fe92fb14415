"""The nested lab: VHDX contents, VHDs mounted on a Hyper-V host, and VMs whose first boot makes them
new simulated Windows hosts ("guests") of the world.

World shapes (owned here):

    file entry of a .vhdx (host["files"]):  entry["vhd"] = {
        "size", "type": "Dynamic"|"Fixed"|"Differencing", "format": "VHDX"|"VHD", "disk_identifier",
        "parent_path": null | "C:\\Images\\x.vhdx",           # differencing: reads go through to the parent
        "layout": "windows" | "data" | "raw",                 # what a mount shows as partitions
        "volume": {"files": {<relative path lower>: {"path": "Windows\\Panther\\unattend.xml", "kind":
                   "file"|"dir", "size", "mtime", "content"?} | {"path": ..., "deleted": true}}},
        "os": null | {"caption", "version", "features": [...], "computer_name"?, "administrator_password"?}}
    the Windows volume's overlay holds what the provider reads and writes (State.ini, unattend.xml);
    a write while mounted goes into the disk that was mounted (the child of a differencing chain).
    host["disks"] entry of a mounted VHD: source {"kind": "vhd", "path": <vhdx path>}, bus_type "File
    Backed Virtual", location = the path, "layout" with the partitions, "letters" (the Windows volume).
    While mounted, the volume's files are also in host["files"] under the drive letter (so every file
    cmdlet works on them); Dismount-VHD takes them back into the VHD's overlay.
    VM record (hvsim.world.hyperv) gets "guest": <host name> once its first boot made one, or
    "guest_state": "oobe" | "no_os" | "name_conflict" when Windows never became ready.
    guest host record (world["hosts"][name], an ordinary host) gets "vm": {"host", "vm_id", "vm_name"}
    and "winrm": {"http_listener": true} (the default HTTP listener; the protocol binds it once a NIC has a
    127.x.y.z address, see hvsim.protocol.service).
    world["guests"] = {"http_port", "https_port", "first_boot_seconds", "boot_seconds", "subnet"?}

Windows Setup: a generalized image (State.ini ImageState=IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE) with
<volume>\\Windows\\Panther\\unattend.xml runs specialize + OOBE (first_boot_seconds), names the
computer from specialize/Microsoft-Windows-Shell-Setup/ComputerName ("*" or none: WIN-<11 random>),
sets the Administrator password from oobeSystem UserAccounts/AdministratorPassword (PlainText false:
base64 of UTF-16LE(password + "AdministratorPassword")), replaces the password in the cached answer file
with *SENSITIVE*DATA*DELETED* and completes the image state. Without an answer file (or without a
password in it) Setup stops at OOBE: never ready. A non-generalized image boots as its template.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import random
import string
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from . import files as _files
from . import hyperv as _hv
from .core import iso, utcnow

GENERALIZED = "IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE"
COMPLETE = "IMAGE_STATE_COMPLETE"
STATE_INI = "Windows\\Setup\\State\\State.ini"
UNATTEND = "Windows\\Panther\\unattend.xml"
SENSITIVE = "*SENSITIVE*DATA*DELETED*"
DEFAULT_GUESTS = {"http_port": 5985, "https_port": 5986, "first_boot_seconds": 240.0, "boot_seconds": 60.0}
BUS_TYPE = "File Backed Virtual"
MB = 1024 * 1024
IN_USE = "The process cannot access the file because it is being used by another process. (0x80070020)"
WINDOWS_DIRS = ("Windows", "Windows\\System32", "Windows\\Setup", "Windows\\Setup\\State", "Windows\\Panther",
                "Users", "Program Files")


# ---------------------------------------------------------------------------- lab file
def guests_config(world_data: dict) -> dict:
    return {**DEFAULT_GUESTS, **(world_data.get("guests") or {})}


def _entry(rel: str, kind: str, content: str | None = None) -> dict:
    e = {"path": rel, "kind": kind, "size": len(content.encode("utf-8")) if content is not None else 0,
         "mtime": iso(utcnow())}
    if content is not None:
        e["content"] = content
    return e


def _put(overlay: dict, rel: str, content: str | None, kind: str = "file") -> None:
    rel = rel.strip("\\")
    parts = rel.split("\\")
    for i in range(1, len(parts)):
        d = "\\".join(parts[:i])
        overlay.setdefault(d.lower(), _entry(d, "dir"))
    overlay[rel.lower()] = _entry(rel, kind, content)


def state_ini(state: str) -> str:
    return f"[State]\r\nImageState={state}\r\n"


def image_meta(spec: dict) -> dict:
    """The "vhd" metadata of an image from its lab-file entry (see docs/hvsim.md, Nested lab)."""
    overlay: dict = {}
    os_spec = spec.get("os")
    if os_spec:
        for d in WINDOWS_DIRS:
            _put(overlay, d, None, "dir")
        _put(overlay, STATE_INI, state_ini(str(os_spec.get("image_state", GENERALIZED))))
    for rel, content in (spec.get("files") or {}).items():
        _put(overlay, str(rel), str(content))
    meta = {"size": int(spec.get("size", 127 * 1024 * MB)), "type": spec.get("type", "Dynamic"),
            "format": "VHDX" if str(spec["path"]).lower().endswith(".vhdx") else "VHD",
            "disk_identifier": str(uuid.uuid5(uuid.NAMESPACE_URL, str(spec["path"]))).upper(),
            "parent_path": None, "layout": "windows" if os_spec else "data",
            "volume": {"files": overlay}, "os": None}
    if os_spec:
        meta["os"] = {"caption": os_spec.get("caption", "Microsoft Windows Server 2022 Datacenter"),
                      "version": str(os_spec.get("version", "10.0.20348")),
                      "features": list(os_spec.get("features") or [])}
        for key in ("computer_name", "administrator_password"):
            if os_spec.get(key) is not None:
                meta["os"][key] = str(os_spec[key])
    return meta


def apply_lab_host(h: dict, spec: dict) -> None:
    """Lab-file keys of a host: `switches` (present at start) and `images` (VHDX files with contents)."""
    for sw in spec.get("switches") or []:
        _hv.new_switch(h, sw["name"], sw.get("type", "Internal"), sw.get("net_adapter"), sw.get("allow_management_os"))
    for img in spec.get("images") or []:
        meta = image_meta(img)
        _files.put_file(h, img["path"], int(img.get("file_size", 8 * 1024 * MB)), vhd=meta)


# ---------------------------------------------------------------------------- VHD contents
def vhd_entry(host: dict, path: str) -> dict | None:
    e = _files.get(host, path)
    return e if e is not None and e.get("kind") == "file" and isinstance(e.get("vhd"), dict) else None


def chain(host: dict, path: str) -> list[dict]:
    """The VHDX entries of a differencing chain, the named disk first."""
    out = []
    e = vhd_entry(host, path)
    while e is not None and len(out) < 16:
        out.append(e)
        parent = e["vhd"].get("parent_path")
        if not parent:
            break
        e = vhd_entry(host, parent)
        if e is None:
            raise _hv.HyperVError(
                f"The chain of virtual hard disks is broken. The system cannot locate the parent virtual hard disk "
                f"for the differencing disk '{out[-1]['path']}'.", "ObjectNotFound", category="ObjectNotFound",
                target=path)
    return out


def volume(host: dict, path: str) -> dict:
    """The Windows (or data) volume of a VHD as {relative path lower: entry}, read through the chain."""
    view: dict = {}
    for e in reversed(chain(host, path)):
        for k, item in ((e["vhd"].get("volume") or {}).get("files") or {}).items():
            if item.get("deleted"):
                view.pop(k, None)
            else:
                view[k] = item
    return view


def image_os(host: dict, path: str) -> dict | None:
    for e in chain(host, path):
        if e["vhd"].get("os"):
            return e["vhd"]["os"]
    return None


def layout_kind(host: dict, path: str) -> str:
    """The partitions a disk shows are its base disk's (a differencing child has its parent's)."""
    c = chain(host, path)
    return str(c[-1]["vhd"].get("layout") or "raw") if c else "raw"


def text_of(entry: dict | None) -> str | None:
    """A file's text (Set-Content / New-Item -Value keep it under "content")."""
    if entry is None or entry.get("kind") != "file":
        return None
    value = entry.get("content")
    if isinstance(value, list):
        value = "\r\n".join(str(x) for x in value)
    return None if value is None else str(value)


def image_state(view: dict) -> str | None:
    text = text_of(view.get(STATE_INI.lower()))
    if text is None:
        return None
    for line in text.splitlines():
        k, _, v = line.partition("=")
        if k.strip().lower() == "imagestate":
            return v.strip()
    return None


def write_overlay(top: dict, rel: str, content: str) -> None:
    _put(top["vhd"].setdefault("volume", {}).setdefault("files", {}), rel, content)


def new_vhd(host: dict, path: str, size: int | None, kind: str, parent_path: str | None) -> dict:
    """New-VHD: a dynamic, fixed or differencing disk (empty: no partitions; a child reads its parent)."""
    if _files.get(host, path) is not None:
        raise _hv.HyperVError(
            f"Failed to create the virtual hard disk.\r\nThe system failed to create '{path}'.\r\n"
            f"The system failed to create '{path}': The file exists. (0x80070050).",
            "InvalidParameter", category="InvalidArgument", target=path)
    fmt = "VHDX" if path.lower().endswith(".vhdx") else "VHD"
    meta: dict[str, Any] = {"type": kind, "format": fmt, "disk_identifier": str(uuid.uuid4()).upper(),
                            "parent_path": None, "layout": "raw", "volume": {"files": {}}, "os": None}
    if kind == "Differencing":
        parent = vhd_entry(host, parent_path or "")
        if parent is None:
            raise _hv.HyperVError(
                f"Failed to create the virtual hard disk.\r\nThe system failed to create '{path}'.\r\n"
                f"The system cannot find the file specified. '{parent_path}' (0x80070002).",
                "ObjectNotFound", category="ObjectNotFound", target=parent_path)
        meta["parent_path"] = parent["path"]
        meta["size"] = int(parent["vhd"].get("size") or 0)
        meta["layout"] = parent["vhd"].get("layout") or "raw"
        file_size = 4 * MB
    else:
        if not size:
            raise _hv.HyperVError("Cannot create a new virtual hard disk without a size: specify SizeBytes.",
                                  "InvalidParameter", category="InvalidArgument", target=path)
        meta["size"] = int(size)
        file_size = int(size) if kind == "Fixed" else 4 * MB
    return _files.put_file(host, path, file_size, vhd=meta)


# ---------------------------------------------------------------------------- Mount-VHD / Dismount-VHD
def mounted_disk(host: dict, path: str) -> dict | None:
    key = _files.key(path)
    for d in host.get("disks") or []:
        src = d.get("source") or {}
        if src.get("kind") == "vhd" and _files.key(src.get("path", "")) == key and d.get("present"):
            return d
    return None


def in_use_by_vm(host: dict, path: str) -> dict | None:
    """The running (or saved/paused) VM whose disk chain includes path."""
    key = _files.key(path)
    for vm in _hv.state_of(host)["vms"].values():
        if vm["state"] == "Off":
            continue
        for d in vm["hard_drives"]:
            try:
                if any(_files.key(e["path"]) == key for e in chain(host, d["path"])):
                    return vm
            except _hv.HyperVError:
                continue
    return None


def _stable(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest().upper()


def _guid(*parts: str) -> str:
    return "{" + str(uuid.UUID(_stable(*parts)[:32])) + "}"


def _layout(host: dict, path: str, size: int) -> tuple[dict, str | None]:
    """The partitions a mount shows, and the guid of the partition that gets a letter."""
    from .storage import GPT_BASIC, GPT_EFI, GPT_MSR
    kind = layout_kind(host, path)
    base = (host["name"], _files.key(path))
    if kind == "raw":
        return {"partition_style": "RAW", "guid": None, "signature": None, "partitions": []}, None
    parts = []
    if kind == "windows":
        parts.append({"number": 1, "type": "System", "gpt_type": GPT_EFI, "guid": _guid(*base, "efi"),
                      "offset": MB, "size": 100 * MB,
                      "volume": {"guid": _guid(*base, "efi-vol"), "file_system": "FAT32", "label": "",
                                 "size_remaining": 70 * MB, "allocation_unit": 4096}})
    parts.append({"number": len(parts) + 1, "type": "Reserved", "gpt_type": GPT_MSR, "guid": _guid(*base, "msr"),
                  "offset": (101 if kind == "windows" else 1) * MB, "size": 16 * MB, "volume": None})
    start = (117 if kind == "windows" else 17) * MB
    basic = {"number": len(parts) + 1, "type": "Basic", "gpt_type": GPT_BASIC, "guid": _guid(*base, "data"),
             "offset": start, "size": max(0, size - start - MB),
             "volume": {"guid": _guid(*base, "data-vol"), "file_system": "NTFS", "label": "",
                        "size_remaining": max(0, size - start - MB) // 2, "allocation_unit": 4096}}
    parts.append(basic)
    return ({"partition_style": "GPT", "guid": _guid(*base, "disk"), "signature": None, "partitions": parts},
            basic["guid"])


def mount(world: Any, host: dict, path: str, read_only: bool = False, no_letter: bool = False) -> dict:
    """Mount-VHD: the VHD becomes a disk of the host; its Windows/data volume gets the next free letter."""
    from . import storage as _st
    entry = vhd_entry(host, path)
    if entry is None:
        raise _hv.HyperVError(f"Failed to mount the virtual disk.\r\nThe system failed to mount '{path}'.\r\n"
                              f"The system cannot find the file specified. (0x80070002).", "ObjectNotFound",
                              category="ObjectNotFound", target=path)
    if mounted_disk(host, entry["path"]) is not None or in_use_by_vm(host, entry["path"]) is not None:
        raise _hv.HyperVError(f"Failed to mount the virtual disk.\r\nThe system failed to mount '{entry['path']}': "
                              f"{IN_USE}", "InvalidOperation", category="InvalidOperation", target=path)
    size = int(entry["vhd"].get("size") or 0)
    layout, data_guid = _layout(host, entry["path"], size)
    letter = None if no_letter or data_guid is None else _st._free_letter(world, host["name"])
    disks = _st._disks(host)
    used = {d["number"] for d in disks if d.get("present")}
    number = next(i for i in range(len(used) + 1) if i not in used)
    uid = "6002248" + _stable("vhd", host["name"], _files.key(entry["path"]))[:25]
    disk = {"unique_id": uid, "serial": "", "number": number, "present": True, "offline": False,
            "offline_reason": None, "read_only": bool(read_only), "bus_type": BUS_TYPE,
            "friendly_name": "Msft Virtual Disk", "model": "Virtual Disk", "manufacturer": "Msft",
            "location": entry["path"],
            "path": "\\\\?\\scsi#disk&ven_msft&prod_virtual_disk#2&1f4adffe&0&" + f"{number:06x}"
                    + "#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}",
            "source": {"kind": "vhd", "path": entry["path"]}, "size": size, "is_boot": False,
            "layout": layout, "letters": {data_guid: letter} if letter else {}}
    disks.append(disk)
    if letter:
        for item in volume(host, entry["path"]).values():
            full = f"{letter}:\\{item['path']}"
            host["files"][full.lower()] = {**item, "path": full}
    return disk


def _letter(disk: dict) -> str | None:
    letters = list((disk.get("letters") or {}).values())
    return letters[0].upper() if letters else None


def _same(a: dict, b: dict) -> bool:
    keys = set(a) | set(b)
    return all(a.get(k) == b.get(k) for k in keys if k not in ("mtime", "path"))


def absorb(host: dict, disk: dict) -> None:
    """Take the mounted volume's files (host["files"] under its letter) into the VHD that is mounted:
    its overlay becomes what differs from its parent (tombstones for what was deleted)."""
    letter = _letter(disk)
    entry = vhd_entry(host, disk["source"]["path"])
    if letter is None or entry is None:
        return
    prefix = f"{letter.lower()}:\\"
    current = {k[len(prefix):]: {**e, "path": e["path"][3:]} for k, e in host["files"].items()
               if k.startswith(prefix)}
    parent = entry["vhd"].get("parent_path")
    base = volume(host, parent) if parent else {}
    overlay = {k: e for k, e in current.items() if k not in base or not _same(base[k], e)}
    overlay.update({k: {"path": e["path"], "deleted": True} for k, e in base.items() if k not in current})
    entry["vhd"].setdefault("volume", {})["files"] = overlay


def dismount(world: Any, host: dict, path: str) -> None:
    disk = mounted_disk(host, path)
    if disk is None:
        # no Microsoft source gives this wording; kept short and plain
        raise _hv.HyperVError(f"The disk '{path}' is not attached to this computer.", "ObjectNotFound",
                              category="ObjectNotFound", target=path)
    if not disk.get("read_only"):
        absorb(host, disk)
    letter = _letter(disk)
    if letter:
        prefix = f"{letter.lower()}:\\"
        for k in [k for k in host["files"] if k.startswith(prefix)]:
            del host["files"][k]
    host["disks"].remove(disk)


def disk_of_number(host: dict, number: int) -> dict | None:
    for d in host.get("disks") or []:
        if d.get("present") and d.get("number") == int(number) and (d.get("source") or {}).get("kind") == "vhd":
            return d
    return None


def check_startable(world: Any, host: dict, vm: dict) -> None:
    """Start-VM fails as Windows does when the host is a guest whose VM does not expose the virtualization
    extensions (no hypervisor runs there), or when the VM's disk is mounted on the host (file in use)."""
    if not virtualization_exposed(world, host):
        vid = vm["id"]
        raise _hv.HyperVError(
            f"'{vm['name']}' failed to start.\r\n"
            f"Virtual machine '{vm['name']}' could not be started because the hypervisor is not running.\r\n"
            f"'{vm['name']}' failed to start. (Virtual machine ID {vid})\r\n"
            f"Virtual machine '{vm['name']}' could not be started because the hypervisor is not running "
            f"(Virtual machine ID {vid}).\r\n"
            "The following actions may help you resolve the problem:\r\n"
            "1) Verify that the processor of the physical computer has a supported version of hardware-assisted "
            "virtualization.\r\n"
            "2) Verify that hardware-assisted virtualization and hardware-assisted data execution protection are "
            "enabled in the BIOS of the physical computer. (If you edit the BIOS to enable either setting, you must "
            "turn off the power to the physical computer and then turn it back on. Resetting the physical computer "
            "is not sufficient.)\r\n"
            "3) If you have made changes to the Boot Configuration Data store, review these changes to ensure that "
            "the hypervisor is configured to launch automatically.",
            "OperationFailed", category="NotSpecified", target=vm["name"])
    for d in vm["hard_drives"]:
        for e in chain(host, d["path"]) if vhd_entry(host, d["path"]) else []:
            if mounted_disk(host, e["path"]) is not None:
                raise _hv.HyperVError(
                    f"'{vm['name']}' failed to start.\r\n"
                    f"Synthetic SCSI Controller (Instance ID {_guid(vm['id'], 'scsi')[1:-1].upper()}): Failed to Power "
                    f"on with Error '{IN_USE[:-13]}'.\r\n"
                    f"'{vm['name']}' failed to start. (Virtual machine ID {vm['id']})",
                    "OperationFailed", category="NotSpecified", target=vm["name"])


# ---------------------------------------------------------------------------- Windows Setup
_NS = "{urn:schemas-microsoft-com:unattend}"


def parse_unattend(text: str) -> dict:
    """ComputerName, TimeZone (specialize) and the Administrator password (oobeSystem) of an answer file."""
    out: dict[str, Any] = {"computer_name": None, "time_zone": None, "password": None}
    try:
        root = ET.fromstring(text.encode("utf-8") if isinstance(text, str) else text)
    except ET.ParseError:
        return out
    for settings in root.iter(_NS + "settings"):
        pass_name = settings.get("pass")
        for comp in settings.findall(_NS + "component"):
            if comp.get("name") != "Microsoft-Windows-Shell-Setup":
                continue
            if pass_name == "specialize":
                cn = comp.find(_NS + "ComputerName")
                tz = comp.find(_NS + "TimeZone")
                out["computer_name"] = (cn.text or "").strip() if cn is not None else None
                out["time_zone"] = (tz.text or "").strip() if tz is not None else None
            if pass_name == "oobeSystem":
                pw = comp.find(f"{_NS}UserAccounts/{_NS}AdministratorPassword")
                if pw is not None:
                    value = pw.find(_NS + "Value")
                    plain = pw.find(_NS + "PlainText")
                    raw = (value.text or "") if value is not None else ""
                    if plain is not None and (plain.text or "").strip().lower() == "false":
                        try:
                            decoded = base64.b64decode(raw).decode("utf-16-le")
                        except (ValueError, UnicodeDecodeError):
                            decoded = None
                        suffix = "AdministratorPassword"
                        raw = decoded[:-len(suffix)] if decoded and decoded.endswith(suffix) else None
                    out["password"] = raw
    return out


def scrub_unattend(text: str) -> str:
    """What Windows Setup leaves in the cached answer file: passwords replaced."""
    try:
        ET.register_namespace("", _NS[1:-1])
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError:
        return text
    for pw in root.iter(_NS + "AdministratorPassword"):
        value = pw.find(_NS + "Value")
        if value is not None:
            value.text = SENSITIVE
    return ET.tostring(root, encoding="unicode")


def _random_name(rng: random.Random) -> str:
    return "WIN-" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(11))


def _dynamic_mac(rng: random.Random) -> str:
    return "00155D" + "".join(rng.choice("0123456789ABCDEF") for _ in range(6))


def _apipa(rng: random.Random) -> str:
    return f"169.254.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def vm_started(world: Any, host: dict, vm: dict) -> None:
    """A VM powered on (Start-VM from Off, or restored): its guest boots; the first start runs Windows Setup.
    Call inside a transaction."""
    name = vm.get("guest")
    if name and name in world.data["hosts"]:
        guest = world.data["hosts"][name]
        # what the guest's hypervisor can do follows its VM's processor (it changes only while Off)
        guest["virtualization"] = {"extensions": bool(vm.get("expose_virtualization_extensions"))}
        if guest["power"] == "off":
            world.power_on(name, reason=f"VM {vm['name']} started")
        return
    rng = random.Random()
    for a in vm["network_adapters"]:
        if a.get("mac", "000000000000") == "000000000000":
            a["mac"] = _dynamic_mac(rng)      # Hyper-V assigns a dynamic MAC at the first start
    vm.pop("guest_state", None)
    if not vm["hard_drives"] or vhd_entry(host, vm["hard_drives"][0]["path"]) is None:
        vm["guest_state"] = "no_os"
        return
    path = vm["hard_drives"][0]["path"]
    top = vhd_entry(host, path)
    view = volume(host, path)
    os_info = image_os(host, path)
    state = image_state(view)
    if not os_info or state is None:
        vm["guest_state"] = "no_os"
        return
    cfg = guests_config(world.data)
    time_zone = None
    if state == GENERALIZED:
        unattend = text_of(view.get(UNATTEND.lower()))
        answers = parse_unattend(unattend) if unattend is not None else None
        if not answers or not answers.get("password"):
            vm["guest_state"] = "oobe"
            return
        computer = answers["computer_name"]
        computer = _random_name(rng) if not computer or computer == "*" else computer
        password = answers["password"]
        time_zone = answers.get("time_zone")
        first = float(cfg["first_boot_seconds"])
        write_overlay(top, UNATTEND, scrub_unattend(unattend))
        write_overlay(top, STATE_INI, state_ini(COMPLETE))
    else:
        computer = str(os_info.get("computer_name") or _random_name(rng))
        password = str(os_info.get("administrator_password") or "")
        first = float(cfg["boot_seconds"])
    if any(n.lower() == computer.lower() for n in world.data["hosts"]):
        vm["guest_state"] = "name_conflict"
        return
    guest = build_guest(world, host, vm, computer, password, os_info, time_zone)
    world.data["hosts"][computer] = guest
    guest["virtualization"] = {"extensions": bool(vm.get("expose_virtualization_extensions"))}
    vm["guest"] = computer
    guest["boot_seconds"] = first
    world._boot(guest, f"first boot of VM {vm['name']} on {host['name']}")
    guest["boot_seconds"] = float(cfg["boot_seconds"])


def build_guest(world: Any, host: dict, vm: dict, computer: str, password: str, os_info: dict,
                time_zone: str | None) -> dict:
    from .lab import build_host
    rng = random.Random()
    cfg = guests_config(world.data)
    nics = []
    for i, a in enumerate(vm["network_adapters"]):
        mac = a["mac"].replace("-", "").upper()
        nics.append({"name": "Ethernet" if i == 0 else f"Ethernet {i + 1}",
                     "mac": "-".join(mac[j:j + 2] for j in range(0, 12, 2)),
                     "ipv4": _apipa(rng), "prefix": 16, "network_category": "Public",
                     "if_index": 4 + 2 * i})
    spec = {"os": {"caption": os_info["caption"], "version": os_info["version"]},
            "features": list(os_info.get("features") or []),
            "local_users": {"Administrator": {"password": password}},
            "nics": nics or [{"name": "Ethernet"}],
            "http_port": cfg["http_port"], "https_port": cfg["https_port"],
            "boot_seconds": cfg["boot_seconds"]}
    g = build_host(computer, spec, None)
    g["endpoints"]["address"] = None               # bound once a NIC has a 127.x.y.z address
    g["power"] = "off"
    g["boot_id"] = 0
    g["vm"] = {"host": host["name"], "vm_id": vm["id"], "vm_name": vm["name"]}
    g["winrm"] = {"http_listener": True}   # Windows Server's default HTTP listener (Enable-PSRemoting's record)
    g["time_zone"] = time_zone or "Pacific Standard Time"
    # the guest's C: is the VM's Windows volume as Setup left it
    for item in volume(host, vm["hard_drives"][0]["path"]).values():
        full = f"C:\\{item['path']}"
        g["files"][full.lower()] = {**item, "path": full}
    return g


# ---------------------------------------------------------------------------- guest lifecycle
def guest_vm(world: Any, guest: dict) -> tuple[dict, dict] | None:
    link = guest.get("vm")
    if not link:
        return None
    h = world.data["hosts"].get(link["host"])
    vm = (h or {}).get("hyperv", {}).get("vms", {}).get(link["vm_id"])
    return (h, vm) if vm is not None else None


def virtualization_exposed(world: Any, host: dict) -> bool:
    """Whether a hypervisor can run on this host: always on a physical host; in a guest only when its VM
    exposes the virtualization extensions (Set-VMProcessor -ExposeVirtualizationExtensions $true, kept in
    the VM record as "expose_virtualization_extensions"). Install-WindowsFeature Hyper-V and starting VMs
    in a guest ask this."""
    found = guest_vm(world, host)
    if not host.get("vm"):
        return True
    return bool(found and found[1].get("expose_virtualization_extensions"))


def guest_addresses(world: Any, vm: dict, index: int) -> list[str]:
    """What Get-VMNetworkAdapter's IPAddresses shows: the running guest's addresses on that adapter."""
    name = vm.get("guest")
    if vm["state"] != "Running" or not name or not world.reachable(name):
        return []
    nics = world.data["hosts"][name].get("nics") or []
    nic = nics[index] if index < len(nics) else None
    return [nic["ipv4"]] if nic and nic.get("ipv4") else []


def vm_stopped(world: Any, vm: dict, reason: str) -> None:
    name = vm.get("guest")
    if name and name in world.data["hosts"] and world.data["hosts"][name]["power"] != "off":
        world.power_off(name, reason=reason)


def remove_guest(world: Any, vm: dict) -> None:
    """Remove-VM: the guest host leaves the world (with the forest if it was its DC)."""
    name = vm.get("guest")
    if not name or name not in world.data["hosts"]:
        return
    world.power_off(name, reason=f"VM {vm['name']} removed")
    dom = world.data.get("domain")
    if dom and str(dom.get("controller", "")).lower() == name.lower():
        world.data["domain"] = None
    del world.data["hosts"][name]
    world.audit("guest_removed", host=name, vm_id=vm["id"], vm_name=vm["name"])


def loopback_address(guest: dict) -> str | None:
    """The first 127.x.y.z IPv4 of the guest's NICs (what its WinRM listeners bind)."""
    for n in guest.get("nics") or []:
        for addr in [n.get("ipv4")] + [a.get("ipv4") if isinstance(a, dict) else a for a in n.get("ipv4_all") or []]:
            try:
                if addr and ipaddress.ip_address(str(addr)) in ipaddress.ip_network("127.0.0.0/8"):
                    return str(addr)
            except ValueError:
                continue
    return None


def _on_power_off(world: Any, name: str) -> None:
    h = world.data["hosts"].get(name)
    if h is None:
        return
    found = guest_vm(world, h)
    if found and found[1]["state"] == "Running":       # hvsim power-off of a guest: its VM is Off
        found[1]["state"] = "Off"
        found[1]["started_at"] = None
    for vm in _hv.state_of(h)["vms"].values():         # the physical host went down: so do its guests
        vm_stopped(world, vm, f"host {name} powered off")


def _on_shutdown(world: Any, name: str) -> None:
    h = world.data["hosts"].get(name)
    if h is not None:
        for vm in _hv.state_of(h)["vms"].values():
            vm_stopped(world, vm, f"host {name} restarted")


def _on_boot(world: Any, name: str) -> None:
    h = world.data["hosts"].get(name)
    if h is None:
        return
    for vm in _hv.state_of(h)["vms"].values():
        if vm["state"] == "Running" and vm.get("guest"):
            vm_started(world, h, vm)


def install(world: Any) -> None:
    for event, fn in (("power_off", _on_power_off), ("shutdown", _on_shutdown), ("boot", _on_boot)):
        hooks = world.hooks.setdefault(event, [])
        if fn not in hooks:
            hooks.append(fn)
