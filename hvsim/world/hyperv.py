"""Hyper-V on the simulated hosts: virtual switches, VMs, their disks and adapters.

World shape (owned here), under every host record:

    host["hyperv"] = {
        "switches": {<switch id>: {"id", "name", "switch_type": "External"|"Internal"|"Private",
                                   "net_adapter": <NIC name>|None, "net_adapter_description": str,
                                   "allow_management_os": bool}},
        "vms": {<vm id>: VM record, see new_vm()},
    }

Hyper-V allows several VMs (and switches) with the same name, so both maps are keyed by id.
Nested virtualization: a VM record's "expose_virtualization_extensions" (Set-VMProcessor) and each
adapter's "mac_address_spoofing"; a host record's "virtualization": {"extensions": bool} says whether
the host (itself a VM) can run a hypervisor (absent: physical hardware that can).
A clustered VM lives only in the record of its current owner node; migrations and failovers
move the record (see hvsim.world.cluster).

Files (config, VHDX) are written through hvsim.world.cluster's file helpers, which put a file
on a Cluster Shared Volume into the shared CSV namespace and everything else into the host's
own files map. A VHDX file entry carries its virtual-disk metadata under "vhd".

Errors are HyperVError; the cmdlet layer turns them into CmdletError with the FullyQualifiedErrorId
"<error_id>,Microsoft.HyperV.PowerShell.Commands.<Verb><Noun>". The texts follow Hyper-V's
VirtualizationException wording ("Hyper-V was unable to find a virtual machine with name ...",
"Failed to modify device 'Processor'." + per-VM detail lines).
"""
from __future__ import annotations

import fnmatch
import uuid
from datetime import datetime, timezone
from typing import Any

VIRTUALIZATION_EXCEPTION = "Microsoft.HyperV.PowerShell.VirtualizationException"

VM_CONFIG_SIZE = 32768            # a fresh .vmcx
VM_GUEST_STATE_SIZE = 5263360     # the .vmgs of a generation 2 VM
NEW_DYNAMIC_VHDX_SIZE = 4194304   # an empty dynamic VHDX file on disk
DEFAULT_MEMORY = 536870912        # New-VM without -MemoryStartupBytes
MIN_MEMORY = 32 * 1024 * 1024


class HyperVError(Exception):
    """A Hyper-V failure as the cmdlet would report it."""

    def __init__(self, message: str, error_id: str, category: str = "InvalidOperation",
                 target: object = None, exception_type: str = VIRTUALIZATION_EXCEPTION) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.category = category
        self.target = target
        self.exception_type = exception_type


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def state_of(host: dict) -> dict:
    """The host's Hyper-V record, created empty on first use."""
    hv = host.setdefault("hyperv", {})
    hv.setdefault("switches", {})
    hv.setdefault("vms", {})
    return hv


def _feature_state(host: dict, name: str) -> str:
    feat = (host.get("features") or {}).get(name)
    if isinstance(feat, dict):
        return str(feat.get("state", "Available"))
    return "Available"


def require_hyperv(world: Any, host_name: str) -> dict:
    """The host record, if Hyper-V is installed (after its restart) and vmms runs."""
    host = world.host(host_name)
    service = (host.get("services") or {}).get("vmms")
    running = service is None or str(service.get("status", "Running")).lower() == "running"
    if _feature_state(host, "Hyper-V") != "Installed" or not running:
        raise HyperVError(
            f"Hyper-V encountered an error trying to access an object on computer '{host['name']}' "
            "because the object was not found. The object might have been deleted. Verify that the "
            "Virtual Machine Management service on the computer is running.",
            "Unspecified", category="ObjectNotFound")
    return host


# ---------------------------------------------------------------- switches

def find_switches(host: dict, name: str | None = None, switch_type: str | None = None) -> list[dict]:
    out = []
    for sw in state_of(host)["switches"].values():
        if name is not None and not fnmatch.fnmatchcase(sw["name"].lower(), name.lower()):
            continue
        if switch_type is not None and sw["switch_type"].lower() != switch_type.lower():
            continue
        out.append(sw)
    return sorted(out, key=lambda s: s["name"].lower())


def switch_not_found(name: str) -> HyperVError:
    return HyperVError(f'Hyper-V was unable to find a virtual switch with name "{name}".',
                       "InvalidParameter", category="InvalidArgument", target=name)


def new_switch(host: dict, name: str, switch_type: str | None, net_adapter: str | None,
               allow_management_os: bool | None) -> dict:
    hv = state_of(host)
    description = ""
    if net_adapter is not None:
        nic = next((n for n in host.get("nics") or [] if n.get("name", "").lower() == net_adapter.lower()), None)
        if nic is None:
            raise HyperVError(f"No MSFT_NetAdapter objects found with property 'Name' equal to '{net_adapter}'. "
                              "Verify the value of the property and retry.",
                              "CmdletizationQuery_NotFound_Name", category="ObjectNotFound", target=net_adapter,
                              exception_type="Microsoft.Management.Infrastructure.CimException")
        for other in hv["switches"].values():
            if (other.get("net_adapter") or "").lower() == nic["name"].lower():
                raise HyperVError(
                    "Failed while adding virtual Ethernet switch connections.\r\n"
                    f"External Ethernet adapter '{nic.get('description') or nic['name']}' is already bound to "
                    "the Microsoft Virtual Switch protocol.",
                    "InvalidParameter", category="InvalidArgument", target=name)
        switch_type = "External"
        description = nic.get("description") or "Microsoft Hyper-V Network Adapter"
        net_adapter = nic["name"]
    else:
        switch_type = switch_type or "Private"
    sw = {"id": str(uuid.uuid4()), "name": name, "switch_type": switch_type.capitalize(),
          "net_adapter": net_adapter, "net_adapter_description": description,
          "allow_management_os": bool(allow_management_os if allow_management_os is not None
                                      else switch_type in ("External", "Internal"))}
    hv["switches"][sw["id"]] = sw
    return sw


def remove_switch(host: dict, sw: dict) -> None:
    hv = state_of(host)
    hv["switches"].pop(sw["id"], None)
    for vm in hv["vms"].values():
        for nic in vm["network_adapters"]:
            if nic.get("switch_id") == sw["id"]:
                nic["switch"] = None
                nic["switch_id"] = None


def switch_by_name(host: dict, name: str) -> dict:
    found = [s for s in state_of(host)["switches"].values() if s["name"].lower() == name.lower()]
    if not found:
        raise switch_not_found(name)
    return found[0]


# ---------------------------------------------------------------- VMs

def find_vms(host: dict, name: str | None = None, vm_id: str | None = None) -> list[dict]:
    out = []
    for vm in state_of(host)["vms"].values():
        if name is not None and not fnmatch.fnmatchcase(vm["name"].lower(), name.lower()):
            continue
        if vm_id is not None and vm["id"].lower() != str(vm_id).strip("{}").lower():
            continue
        out.append(vm)
    return sorted(out, key=lambda v: v["name"].lower())


def vm_not_found(name: str) -> HyperVError:
    return HyperVError(f'Hyper-V was unable to find a virtual machine with name "{name}".',
                       "InvalidParameter", category="InvalidArgument", target=name)


def _join(*parts: str) -> str:
    out = parts[0].rstrip("\\")
    for p in parts[1:]:
        out += "\\" + p.strip("\\")
    return out


def new_vm(world: Any, host: dict, name: str, path: str | None, memory: int | None, generation: int | None,
           new_vhd_path: str | None, new_vhd_size: int | None, vhd_path: str | None,
           switch_name: str | None) -> dict:
    from . import cluster  # files on a CSV belong to the cluster's shared namespace

    generation = int(generation or 1)
    if generation not in (1, 2):
        raise HyperVError(f"Cannot validate argument on parameter 'Generation'. The {generation} argument is "
                          "greater than the maximum allowed range of 2.", "ParameterArgumentValidationError",
                          category="InvalidData", exception_type="System.Management.Automation.ParameterBindingValidationException")
    memory = int(memory if memory is not None else DEFAULT_MEMORY)
    switch = switch_by_name(host, switch_name) if switch_name else None
    vm_id = str(uuid.uuid4()).upper()
    base = path or "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V"
    vm_dir = _join(base, name) if path else base
    if memory < MIN_MEMORY or memory % (2 * 1024 * 1024):
        raise HyperVError(
            f"Failed to modify device 'Memory'.\r\nInvalid startup memory amount assigned for '{name}'.\r\n"
            f"'{name}' failed to modify device 'Memory'. (Virtual machine ID {vm_id})\r\n"
            f"Invalid startup memory amount assigned for '{name}'. The minimum amount of memory you can "
            f"assign to this virtual machine is '32' MB. (Virtual machine ID {vm_id})",
            "InvalidParameter", category="InvalidArgument", target=name)
    drives: list[dict] = []
    controller = "SCSI" if generation == 2 else "IDE"
    if new_vhd_path:
        full = new_vhd_path if (":" in new_vhd_path or new_vhd_path.startswith("\\\\")) else \
            _join(vm_dir, "Virtual Hard Disks", new_vhd_path)
        if cluster.file_entry(world, host["name"], full) is not None:
            raise HyperVError(
                f"Failed to create the virtual hard disk.\r\nThe system failed to create '{full}'.\r\n"
                f"The system failed to create '{full}': The file exists. (0x80070050).",
                "InvalidParameter", category="InvalidArgument", target=name)
        if not new_vhd_size:
            raise HyperVError("Cannot create a new virtual hard disk without a size: specify NewVHDSizeBytes.",
                              "InvalidParameter", category="InvalidArgument", target=name)
        cluster.write_file(world, host["name"], full, NEW_DYNAMIC_VHDX_SIZE, extra={
            "vhd": {"size": int(new_vhd_size), "type": "Dynamic",
                    "format": "VHDX" if full.lower().endswith(".vhdx") else "VHD",
                    "disk_identifier": str(uuid.uuid4()).upper()}})
        drives.append({"path": full, "controller_type": controller, "controller_number": 0, "controller_location": 0})
    elif vhd_path:
        entry = cluster.file_entry(world, host["name"], vhd_path)
        if entry is None:
            raise HyperVError(f"Failed to add device 'Virtual Hard Disk'.\r\nThe system cannot find the file "
                              f"specified: '{vhd_path}'.", "ObjectNotFound", category="ObjectNotFound", target=name)
        drives.append({"path": entry["path"], "controller_type": controller, "controller_number": 0,
                       "controller_location": 0})
    config_dir = _join(vm_dir, "Virtual Machines")
    cluster.write_file(world, host["name"], _join(config_dir, vm_id + ".vmcx"), VM_CONFIG_SIZE)
    if generation == 2:
        cluster.write_file(world, host["name"], _join(config_dir, vm_id + ".vmgs"), VM_GUEST_STATE_SIZE)
    vm = {
        "id": vm_id, "name": name, "state": "Off", "generation": generation,
        "version": "9.0", "path": vm_dir, "config_location": vm_dir, "created": now_iso(),
        "memory_startup": memory, "dynamic_memory": False,
        "memory_minimum": 536870912, "memory_maximum": 1099511627776,
        "processor_count": 1, "expose_virtualization_extensions": False,
        "hard_drives": drives,
        "network_adapters": [{
            "name": "Network Adapter", "id": str(uuid.uuid4()).upper(),
            "switch": switch["name"] if switch else None, "switch_id": switch["id"] if switch else None,
            "mac": "000000000000", "dynamic_mac": True, "mac_address_spoofing": False}],
        "boot_id": 0, "started_at": None, "clustered": False, "cluster": None, "group": None,
    }
    state_of(host)["vms"][vm_id] = vm
    return vm


def disk_in_use(world: Any, host: dict, path: str) -> dict | None:
    """The running (or paused) VM that has `path` open as a virtual disk, seen from `host`: a VM of
    the host itself, or for a file on a Cluster Shared Volume, a VM on any node. Hyper-V holds the file
    open while the VM runs; a saved or off VM does not."""
    key = str(path).replace("/", "\\").rstrip("\\").lower()
    shared = key.startswith("c:\\clusterstorage\\")
    hosts = world.data["hosts"].values() if shared else [host]
    for h in hosts:
        for vm in state_of(h)["vms"].values():
            if vm["state"] in ("Running", "Paused") and \
                    any(str(d.get("path") or "").lower() == key for d in vm["hard_drives"]):
                return vm
    return None


def vm_files(vm: dict) -> list[str]:
    """Every path a VM depends on: its configuration folder and its virtual disks."""
    return [vm["config_location"], *[d["path"] for d in vm["hard_drives"] if d.get("path")]]


def running_error(vm: dict, device: str) -> HyperVError:
    return HyperVError(
        f"Failed to modify device '{device}'.\r\n"
        "The operation cannot be performed while the object is in its current state.\r\n"
        f"'{vm['name']}' failed to modify device '{device}'. (Virtual machine ID {vm['id']})\r\n"
        f"Changing the {device.lower()} configuration of '{vm['name']}' requires the virtual machine to be "
        f"turned off. (Virtual machine ID {vm['id']})",
        "InvalidState", category="InvalidOperation", target=vm["name"])


def set_vm(vm: dict, processor_count: int | None = None, memory_startup: int | None = None,
           dynamic_memory: bool | None = None, memory_minimum: int | None = None,
           memory_maximum: int | None = None, new_name: str | None = None,
           expose_virtualization_extensions: bool | None = None) -> None:
    """Apply Set-VM / Set-VMProcessor / Set-VMMemory: what needs the VM off is refused while it runs."""
    off = vm["state"] == "Off"
    if expose_virtualization_extensions is not None and \
            bool(expose_virtualization_extensions) != bool(vm.get("expose_virtualization_extensions")) and not off:
        raise running_error(vm, "Processor")
    if processor_count is not None and int(processor_count) != vm["processor_count"]:
        if not off:
            raise running_error(vm, "Processor")
        if not 1 <= int(processor_count) <= 240:
            raise HyperVError(
                f"Failed to modify device 'Processor'.\r\nThe virtual machine '{vm['name']}' cannot have "
                f"{processor_count} virtual processors: the range is 1 through 240.",
                "InvalidParameter", category="InvalidArgument", target=vm["name"])
    memory_change = any(v is not None for v in (memory_startup, memory_minimum, memory_maximum)) and (
        (memory_startup is not None and int(memory_startup) != vm["memory_startup"])
        or (memory_minimum is not None and int(memory_minimum) != vm["memory_minimum"])
        or (memory_maximum is not None and int(memory_maximum) != vm["memory_maximum"]))
    if (memory_change or (dynamic_memory is not None and bool(dynamic_memory) != vm["dynamic_memory"])) and not off:
        raise running_error(vm, "Memory")
    for value in (memory_startup, memory_minimum, memory_maximum):
        if value is not None and (int(value) < MIN_MEMORY or int(value) % (2 * 1024 * 1024)):
            raise HyperVError(
                f"Failed to modify device 'Memory'.\r\nInvalid memory amount assigned for '{vm['name']}'. "
                "Memory must be at least 32 MB and a multiple of 2 MB.",
                "InvalidParameter", category="InvalidArgument", target=vm["name"])
    if processor_count is not None:
        vm["processor_count"] = int(processor_count)
    if expose_virtualization_extensions is not None:
        vm["expose_virtualization_extensions"] = bool(expose_virtualization_extensions)
    if memory_startup is not None:
        vm["memory_startup"] = int(memory_startup)
    if dynamic_memory is not None:
        vm["dynamic_memory"] = bool(dynamic_memory)
    if memory_minimum is not None:
        vm["memory_minimum"] = int(memory_minimum)
    if memory_maximum is not None:
        vm["memory_maximum"] = int(memory_maximum)
    if new_name:
        vm["name"] = new_name


def state_change_error(vm: dict) -> HyperVError:
    return HyperVError(
        f"'{vm['name']}' failed to change state.\r\n"
        "The operation cannot be performed while the object is in its current state.",
        "InvalidState", category="InvalidOperation", target=vm["name"])


def hypervisor_running(host: dict) -> bool:
    """Whether the host's hypervisor can run: a physical host (no "virtualization" record) can; a guest
    host can only when its VM exposes the processor's virtualization extensions (nested
    virtualization), which hvsim.world's guest hosts copy into host["virtualization"]["extensions"]."""
    return bool((host.get("virtualization") or {}).get("extensions", True))


def require_hypervisor(host: dict, vm: dict) -> None:
    """Starting a VM needs the hypervisor: a Hyper-V guest without nested virtualization has the role but
    no running hypervisor (the first line is Start-VM's; the detail line is modelled on Hyper-V's
    "could not be started because the hypervisor is not running")."""
    if not hypervisor_running(host):
        raise HyperVError(
            f"'{vm['name']}' failed to start.\r\n"
            f"Virtual machine '{vm['name']}' could not be started because the hypervisor is not running. "
            f"(Virtual machine ID {vm['id']})", "Unspecified", category="NotSpecified", target=vm["name"])


def start_vm(vm: dict) -> str:
    """Start or resume; returns what happened: 'booted', 'restored', 'resumed' or 'already'."""
    if vm["state"] == "Running":
        return "already"
    if vm["state"] == "Saved":
        vm["state"] = "Running"
        return "restored"
    if vm["state"] == "Paused":
        vm["state"] = "Running"
        return "resumed"
    vm["state"] = "Running"
    vm["boot_id"] = int(vm.get("boot_id", 0)) + 1
    vm["started_at"] = now_iso()
    return "booted"


def stop_vm(vm: dict, mode: str) -> str:
    """mode: 'shutdown' | 'turnoff' | 'save'. Returns 'already' when nothing changed."""
    if mode == "save":
        if vm["state"] == "Saved":
            return "already"
        if vm["state"] not in ("Running", "Paused"):
            raise state_change_error(vm)
        vm["state"] = "Saved"
        return "saved"
    if vm["state"] == "Off":
        return "already"
    if vm["state"] == "Saved" and mode != "turnoff":
        raise state_change_error(vm)
    vm["state"] = "Off"
    vm["started_at"] = None
    return "off"


def host_down(host: dict, graceful: bool) -> None:
    """The host goes down; its non-clustered VMs follow their automatic actions (defaults: stop action Save,
    start action StartIfRunning). A graceful shutdown saves running VMs; a power loss leaves them off. Either
    way a VM that was running is started again when the host boots (see host_up). Clustered VMs are the
    cluster's business (drain or failover)."""
    for vm in state_of(host)["vms"].values():
        if vm.get("clustered") or vm["state"] not in ("Running", "Paused"):
            continue
        vm["auto_start"] = True
        if graceful:
            vm["state"] = "Saved"
        else:
            vm["state"] = "Off"
            vm["started_at"] = None


def host_up(host: dict) -> None:
    """Boot: VMs that were running when the host went down start again (restored if saved)."""
    for vm in state_of(host)["vms"].values():
        if vm.pop("auto_start", False) and not vm.get("clustered"):
            start_vm(vm)


def adapters(vm: dict, name: str | None = None) -> list[dict]:
    return [a for a in vm["network_adapters"]
            if name is None or fnmatch.fnmatchcase(a["name"].lower(), name.lower())]


def connect_adapter(host: dict, vm: dict, switch_name: str, adapter_name: str | None = None) -> list[dict]:
    sw = switch_by_name(host, switch_name)
    changed = adapters(vm, adapter_name)
    for a in changed:
        a["switch"] = sw["name"]
        a["switch_id"] = sw["id"]
    return changed


def _mac_text(value: str) -> str:
    """A MAC as Hyper-V stores it: 12 hex digits, no separators ("00155D0A0B0C")."""
    text = "".join(ch for ch in str(value) if ch not in "-:.").upper()
    if len(text) != 12 or any(ch not in "0123456789ABCDEF" for ch in text):
        raise HyperVError(f"The MAC address '{value}' is not valid: give 12 hexadecimal digits.",
                          "InvalidParameter", category="InvalidArgument", target=value)
    return text


def add_adapter(host: dict, vm: dict, switch_name: str | None, name: str | None,
                static_mac: str | None = None) -> dict:
    """Add-VMNetworkAdapter: a generation 2 VM takes a new adapter while it runs, generation 1 only off.
    The MAC stays 000000000000 until Hyper-V assigns a dynamic one at start (unless a static one is given)."""
    switch = switch_by_name(host, switch_name) if switch_name else None
    if vm["state"] != "Off" and int(vm["generation"]) == 1:
        raise HyperVError(
            "Failed to add device 'Network Adapter'.\r\n"
            "The operation cannot be performed while the object is in its current state.\r\n"
            f"'{vm['name']}' failed to add device 'Network Adapter'. (Virtual machine ID {vm['id']})",
            "InvalidState", category="InvalidOperation", target=vm["name"])
    adapter = {"name": name or "Network Adapter", "id": str(uuid.uuid4()).upper(),
               "switch": switch["name"] if switch else None, "switch_id": switch["id"] if switch else None,
               "mac": _mac_text(static_mac) if static_mac else "000000000000", "dynamic_mac": not static_mac,
               "mac_address_spoofing": False}
    vm["network_adapters"].append(adapter)
    return adapter


def set_adapter(vm: dict, adapter: dict, mac_address_spoofing: bool | None = None,
                static_mac: str | None = None, dynamic_mac: bool = False) -> None:
    """Set-VMNetworkAdapter: MAC spoofing changes at any time; the MAC address itself only while off."""
    if (static_mac or dynamic_mac) and vm["state"] != "Off":
        raise HyperVError(
            "Failed to modify device 'Network Adapter'.\r\n"
            "The operation cannot be performed while the object is in its current state.\r\n"
            f"'{vm['name']}' failed to modify device 'Network Adapter'. (Virtual machine ID {vm['id']})",
            "InvalidState", category="InvalidOperation", target=vm["name"])
    if mac_address_spoofing is not None:
        adapter["mac_address_spoofing"] = bool(mac_address_spoofing)
    if static_mac:
        adapter["mac"], adapter["dynamic_mac"] = _mac_text(static_mac), False
    elif dynamic_mac:
        adapter["dynamic_mac"] = True


def uptime_seconds(vm: dict) -> float:
    if vm["state"] not in ("Running", "Paused") or not vm.get("started_at"):
        return 0.0
    started = datetime.fromisoformat(vm["started_at"])
    return max(0.0, (datetime.now(timezone.utc) - started).total_seconds())
