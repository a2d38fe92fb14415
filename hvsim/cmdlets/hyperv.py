"""Emulated cmdlets: the Hyper-V module (see docs/DESIGN.md section 8).

State and rules live in hvsim.world.hyperv (switches and VMs per host) and hvsim.world.cluster (files on
Cluster Shared Volumes, clustered VMs). Every cmdlet needs the Hyper-V role installed (after its restart)
with vmms running, else the real "Hyper-V encountered an error trying to access an object on computer ..."
error. -ComputerName naming another host is a second hop: without a delegable credential it fails with
Hyper-V's "You do not have the required permission to complete this task. Contact the administrator of
the authorization policy for the computer 'HV02'." A clustered VM exists only on its current owner node.

Names: the VM, switch and adapter name parameters (-Name, -VMName) take wildcards (* ? [ ]), as on
Windows (the parameter tables in Microsoft's docs say "Accept wildcard characters: False", their
examples say otherwise: `Start-VM -Name Test*`, `Get-VMNetworkAdapter -VMName *`, `Get-VM -Name New* |
Remove-VM`), so `Remove-VMSwitch -Name 'VMNet*'` also removes 'VMNet'. -Id and piped objects are exact.

Output objects carry the real property names: VirtualMachine (Name, State as VMState, VMId, ComputerName,
Path, ConfigurationLocation, MemoryStartup, DynamicMemoryEnabled, ProcessorCount, Generation, Uptime,
IsClustered, NetworkAdapters, HardDrives, ...), VMSwitch, VMNetworkAdapter (SwitchName, Connected, ...),
HardDiskDrive, VirtualHardDisk (Get-VHD), VMProcessor / VMMemory for -Passthru.

Error texts (VirtualizationException; ids "<id>,Microsoft.HyperV.PowerShell.Commands.<Verb><Noun>"):
'Hyper-V was unable to find a virtual machine with name "X".' and '... a virtual switch with name "X".'
(InvalidParameter, InvalidArgument), the role-missing text above (Unspecified, ObjectNotFound), the
authorization-policy text (PermissionDenied), and for configuration changes that need the VM off
"Failed to modify device 'Processor'|'Memory'." + "The operation cannot be performed while the object is
in its current state." + the per-VM detail lines (InvalidState, InvalidOperation); the last detail line
is modelled, not verbatim. Start-VM/Stop-VM on a VM already in that state warn "The virtual machine is
already in the specified state." Remove-VM refuses a clustered VM (remove its role first).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

from ..powershell.values import PSEnum, PSObject
from ..world import cluster as wc
from ..world import files as wf
from ..world import hyperv as whv
from ..world import nested as wn
from .registry import CmdletContext, CmdletError, cmdlet, require_feature
from .storage import as_list

NS = "Microsoft.HyperV.PowerShell"
VM_STATES = {"Other": 1, "Running": 2, "Off": 3, "Stopping": 4, "Saved": 6, "Paused": 9, "Starting": 10,
             "Reset": 11, "Saving": 32773, "Pausing": 32776, "Resuming": 32777}
SWITCH_TYPES = {"Private": 0, "Internal": 1, "External": 2}
CONTROLLER_TYPES = {"IDE": 0, "SCSI": 1}
VHD_TYPES = {"Unknown": 0, "Fixed": 2, "Dynamic": 3, "Differencing": 4}
VHD_FORMATS = {"Unknown": 0, "VHD": 2, "VHDX": 3}


def hv_cmdlet(name: str) -> Callable:
    """@cmdlet plus: Hyper-V must be usable on the target host; world errors become error records."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def impl(ctx: CmdletContext, p: Any) -> Iterable[Any]:
            require_feature(ctx, name, "Hyper-V-PowerShell")
            try:
                return list(fn(ctx, p) or [])
            except whv.HyperVError as e:
                raise CmdletError(e.message, e.error_id, category=e.category, target=e.target,
                                  terminating=False, exception_type=e.exception_type) from None
            except wc.ClusterError as e:
                raise CmdletError(e.message, e.error_id or "Unspecified", category=e.category, target=e.target,
                                  terminating=False, exception_type=whv.VIRTUALIZATION_EXCEPTION) from None
        return cmdlet(name)(impl)
    return wrap


def _targets(ctx: CmdletContext, p: Any) -> list[dict]:
    """The host records the cmdlet works on: -ComputerName (second hop rules) or the local host."""
    world = ctx.world
    names = [str(x) for x in as_list(p.get("ComputerName"))] or [ctx.session.host]
    out = []
    for n in names:
        try:
            h = world.host(ctx.session.host if n.lower() in (".", "localhost") else n)
        except KeyError:
            raise whv.HyperVError(f"The operation on computer '{n}' failed: The WinRM client cannot process the "
                                  "request because the server name cannot be resolved.", "Unspecified",
                                  category="ObjectNotFound", target=n) from None
        if h["name"].lower() != world.host(ctx.session.host)["name"].lower():
            if not world.reachable(h["name"]):
                raise whv.HyperVError(f"The operation on computer '{n}' failed: The WS-Management service cannot "
                                      "process the request because the computer is not reachable.", "Unspecified",
                                      category="ConnectionError", target=n)
            if not ctx.session.can_delegate:
                raise whv.HyperVError(
                    "You do not have the required permission to complete this task. Contact the administrator of "
                    f"the authorization policy for the computer '{h['name']}'.", "Unspecified",
                    category="PermissionDenied", target=n)
        whv.require_hyperv(world, h["name"])
        out.append(h)
    return out


def _local(ctx: CmdletContext, p: Any) -> dict:
    return _targets(ctx, p)[0]


def _timespan(seconds: float) -> PSObject:
    s = int(seconds)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    text = (f"{d}." if d else "") + f"{h:02d}:{m:02d}:{sec:02d}"
    return PSObject({"Days": d, "Hours": h, "Minutes": m, "Seconds": sec, "Milliseconds": 0,
                     "Ticks": int(seconds * 10_000_000), "TotalDays": seconds / 86400, "TotalHours": seconds / 3600,
                     "TotalMinutes": seconds / 60, "TotalSeconds": float(seconds),
                     "TotalMilliseconds": seconds * 1000.0}, type_name="System.TimeSpan",
                    methods={"ToString": lambda: text})


def _named(type_name: str, props: dict) -> PSObject:
    name = props.get("Name")
    return PSObject(props, type_name=type_name, methods={"ToString": lambda: str(name)})


# ---------------------------------------------------------------------------------------- objects
def _on_off(value: bool) -> PSEnum:
    return PSEnum(f"{NS}.OnOffState", "On" if value else "Off", 1 if value else 2)


def processor_object(host: dict, vm: dict) -> PSObject:
    return PSObject({"Count": vm["processor_count"], "VMName": vm["name"], "VMId": vm["id"].lower(),
                     "ComputerName": host["name"], "Maximum": 100, "Reserve": 0, "RelativeWeight": 100,
                     "ExposeVirtualizationExtensions": bool(vm.get("expose_virtualization_extensions", False)),
                     "CompatibilityForMigrationEnabled": False, "CompatibilityForOlderOperatingSystemsEnabled": False,
                     "HwThreadCountPerCore": 1, "EnableHostResourceProtection": False, "IsDeleted": False},
                    type_name=f"{NS}.VMProcessor")


def adapter_object(host: dict, vm: dict, a: dict, world: Any = None) -> PSObject:
    obj = _adapter_props(host, vm, a, world)
    obj.type_names.insert(1, f"{NS}.VMNetworkAdapterBase")   # what -VMNetworkAdapter binds (the base class)
    return obj


def _adapter_props(host: dict, vm: dict, a: dict, world: Any = None) -> PSObject:
    # a running guest reports its addresses through the KVP integration service
    ips = wn.guest_addresses(world, vm, vm["network_adapters"].index(a)) if world is not None else []
    return _named(f"{NS}.VMNetworkAdapter", {
        "Name": a["name"], "VMName": vm["name"], "VMId": vm["id"].lower(), "SwitchName": a.get("switch"),
        "SwitchId": a.get("switch_id"), "MacAddress": a.get("mac", "000000000000"),
        "Status": ["Ok"] if vm["state"] == "Running" else [], "IPAddresses": ips,
        "Connected": bool(a.get("switch")), "IsManagementOs": False, "IsLegacy": False,
        "DynamicMacAddressEnabled": bool(a.get("dynamic_mac", True)),
        "MacAddressSpoofing": _on_off(a.get("mac_address_spoofing", False)),
        "Id": f"Microsoft:{vm['id']}\\{a['id']}",
        "ComputerName": host["name"], "IsDeleted": False})


def drive_object(host: dict, vm: dict, d: dict) -> PSObject:
    return _named(f"{NS}.HardDiskDrive", {
        "Name": f"Hard Drive on {d['controller_type']} controller number {d['controller_number']} at location "
                f"{d['controller_location']}",
        "Path": d["path"], "ControllerType": PSEnum(f"{NS}.ControllerType", d["controller_type"],
                                                    CONTROLLER_TYPES[d["controller_type"]]),
        "ControllerNumber": d["controller_number"], "ControllerLocation": d["controller_location"],
        "DiskNumber": None, "VMName": vm["name"], "VMId": vm["id"].lower(), "ComputerName": host["name"],
        "Id": f"Microsoft:{vm['id']}\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\{d['controller_number']}\\"
              f"{d['controller_location']}\\D", "IsDeleted": False, "SupportPersistentReservations": False})


def vm_object(ctx: CmdletContext, host: dict, vm: dict) -> PSObject:
    running = vm["state"] == "Running"
    return _named(f"{NS}.VirtualMachine", {
        "Name": vm["name"], "State": PSEnum(f"{NS}.VMState", vm["state"], VM_STATES[vm["state"]]),
        "CPUUsage": 1 if running else 0,
        "MemoryAssigned": vm["memory_startup"] if running else 0,
        "MemoryDemand": vm["memory_startup"] // 2 if running else 0,
        "MemoryStatus": "", "Uptime": _timespan(whv.uptime_seconds(vm)),
        "Status": "Operating normally", "ReplicationState": "Disabled", "Generation": vm["generation"],
        "VMId": vm["id"].lower(), "Id": vm["id"].lower(), "VMName": vm["name"], "ComputerName": host["name"],
        "Path": vm["path"], "ConfigurationLocation": vm["config_location"],
        "SnapshotFileLocation": vm["path"], "SmartPagingFilePath": vm["path"],
        "MemoryStartup": vm["memory_startup"], "MemoryMinimum": vm["memory_minimum"],
        "MemoryMaximum": vm["memory_maximum"], "DynamicMemoryEnabled": vm["dynamic_memory"],
        "ProcessorCount": vm["processor_count"], "IsClustered": bool(vm.get("clustered")),
        "Version": vm.get("version", "9.0"), "Notes": vm.get("notes", ""),
        "AutomaticStartAction": "StartIfRunning", "AutomaticStopAction": "Save",
        "CheckpointType": "Production", "IsDeleted": False,
        "NetworkAdapters": [adapter_object(host, vm, a, ctx.world) for a in vm["network_adapters"]],
        "HardDrives": [drive_object(host, vm, d) for d in vm["hard_drives"]],
        "VMIntegrationService": [], "ParentSnapshotName": None, "PrimaryOperationalStatus": "Ok",
        "OperationalStatus": ["Ok"]})


def switch_object(host: dict, sw: dict) -> PSObject:
    return _named(f"{NS}.VMSwitch", {
        "Name": sw["name"], "Id": sw["id"], "SwitchType": PSEnum(f"{NS}.VMSwitchType", sw["switch_type"],
                                                                  SWITCH_TYPES[sw["switch_type"]]),
        "NetAdapterInterfaceDescription": sw.get("net_adapter_description") or "",
        "NetAdapterInterfaceDescriptions": [sw["net_adapter_description"]] if sw.get("net_adapter_description") else [],
        "AllowManagementOS": sw["allow_management_os"], "ComputerName": host["name"], "Notes": "",
        "EmbeddedTeamingEnabled": False, "IovEnabled": False, "BandwidthReservationMode": "Absolute",
        "IsDeleted": False})


def vhd_object(host: dict, entry: dict) -> PSObject:
    meta = entry.get("vhd") or {}
    size = int(meta.get("size") or 0)
    mounted = wn.mounted_disk(host, entry["path"])
    return PSObject({
        "ComputerName": host["name"], "Path": entry["path"],
        "VhdFormat": PSEnum("Microsoft.Vhd.PowerShell.VhdFormat", meta.get("format", "VHDX"),
                            VHD_FORMATS.get(meta.get("format", "VHDX"), 0)),
        "VhdType": PSEnum("Microsoft.Vhd.PowerShell.VhdType", meta.get("type", "Dynamic"),
                          VHD_TYPES.get(meta.get("type", "Dynamic"), 0)),
        "FileSize": int(entry.get("size") or 0), "Size": size, "MinimumSize": None,
        "LogicalSectorSize": 512, "PhysicalSectorSize": 4096, "BlockSize": 33554432,
        "ParentPath": meta.get("parent_path") or "",
        "DiskIdentifier": meta.get("disk_identifier", ""), "FragmentationPercentage": 0, "Alignment": 1,
        "Attached": mounted is not None, "DiskNumber": mounted["number"] if mounted else None,
        "IsPMEMCompatible": False, "AddressAbstractionType": "None",
        "Number": mounted["number"] if mounted else None}, type_name="Microsoft.Vhd.PowerShell.VirtualHardDisk")


# ---------------------------------------------------------------------------------------- VM selection
def _vms(ctx: CmdletContext, p: Any, key: str = "Name") -> list[tuple[dict, dict]]:
    """(host, vm) pairs from the VM-name parameter (`key`: Name or VMName) or piped VM objects."""
    world = ctx.world
    out: list[tuple[dict, dict]] = []
    for obj in as_list(p.get("VM")):
        if isinstance(obj, PSObject):
            h = world.host(str(obj.get_prop("ComputerName") or ctx.session.host))
            whv.require_hyperv(world, h["name"])
            found = whv.find_vms(h, vm_id=str(obj.get_prop("VMId") or obj.get_prop("Id")))
            if not found:
                raise whv.vm_not_found(str(obj.get_prop("Name")))
            out.append((h, found[0]))
    names = [str(n) for n in as_list(p.get(key))]
    if names:
        hosts = _targets(ctx, p)
        for n in names:
            found = [(h, vm) for h in hosts for vm in whv.find_vms(h, n)]
            if not found and not any(ch in n for ch in "*?["):
                raise whv.vm_not_found(n)
            out.extend(found)
    return out


def _sync(ctx: CmdletContext) -> None:
    wc.sync_csv_files(ctx.world)


def _refresh_roles(ctx: CmdletContext, vm: dict) -> None:
    if vm.get("clustered") and vm.get("cluster"):
        c = wc.clusters(ctx.world).get(vm["cluster"])
        if c and vm.get("group") in c["groups"]:
            wc.refresh_vm_group(ctx.world, c, c["groups"][vm["group"]])


def _vms_of_cluster_objects(ctx: CmdletContext, objs: Any) -> list[tuple[dict, dict]]:
    """Get-ClusterGroup VM1 | Get-VM: the VM is looked up on the group's owner node, a second hop when
    that is another node (a CredSSP session is needed, as for -ComputerName)."""
    world = ctx.world
    c = wc.resolve_cluster(world, ctx.session.host)
    out = []
    for obj in as_list(objs):
        if not isinstance(obj, PSObject):
            continue
        vm_id = obj.get_prop("VMId") if obj.has_prop("VMId") else None
        if vm_id is None:
            name = str(obj.get_prop("Name"))
            g = wc.group(c, name) if obj.type_name.endswith("ClusterGroup") else \
                c["groups"].get(wc.resource(c, name).get("group") or "")
            vm_id = g.get("vm_id") if g else None
        found = wc.find_vm(world, c, str(vm_id).strip("{}").upper()) if vm_id else None
        if found is None:
            raise whv.HyperVError(f"The cluster object '{obj.get_prop('Name')}' is not a virtual machine role.",
                                  "InvalidParameter", category="InvalidArgument", target=obj.get_prop("Name"))
        host = world.host(found[0])
        _targets(ctx, {"ComputerName": [host["name"]]})      # reachability, second hop, Hyper-V running
        out.append((host, found[1]))
    return out


# ---------------------------------------------------------------------------------------- switches
@hv_cmdlet("Get-VMSwitch")
def get_vm_switch(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        out = []
        stype = as_list(p.get("SwitchType"))
        for h in _targets(ctx, p):
            name = p.get("Name")
            found = whv.find_switches(h, name)
            if stype:
                found = [s for s in found if s["switch_type"].lower() in {str(t).lower() for t in stype}]
            for sid in as_list(p.get("Id")):
                found = [s for s in whv.find_switches(h) if s["id"].lower() == str(sid).lower()]
            if name and not found and not any(ch in name for ch in "*?["):
                raise whv.switch_not_found(name)
            out.extend(switch_object(h, s) for s in found)
        return out


@hv_cmdlet("New-VMSwitch")
def new_vm_switch(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        h = _local(ctx, p)
        nic = None
        if p.get("NetAdapterName"):
            nic = str(as_list(p["NetAdapterName"])[0])
        elif p.get("NetAdapterInterfaceDescription"):
            desc = str(as_list(p["NetAdapterInterfaceDescription"])[0]).lower()
            match = next((n for n in h.get("nics") or [] if str(n.get("description", "")).lower() == desc), None)
            if match is None:
                raise whv.HyperVError(f"No MSFT_NetAdapter objects found with property 'InterfaceDescription' equal "
                                      f"to '{desc}'.", "CmdletizationQuery_NotFound_InterfaceDescription",
                                      category="ObjectNotFound", target=desc)
            nic = match["name"]
        sw = whv.new_switch(h, p["Name"], p.get("SwitchType"), nic, p.get("AllowManagementOS"))
    ctx.sleep(5 if nic else 1)
    return [switch_object(h, sw)]


@hv_cmdlet("Remove-VMSwitch")
def remove_vm_switch(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        h = _local(ctx, p)
        targets = []
        for obj in as_list(p.get("VMSwitch")):
            if isinstance(obj, PSObject):
                targets += [s for s in whv.find_switches(h) if s["id"] == obj.get_prop("Id")]
        for n in as_list(p.get("Name")):
            found = whv.find_switches(h, str(n))
            if not found:
                raise whv.switch_not_found(str(n))
            targets += found
        for sw in targets:
            whv.remove_switch(h, sw)
    return []


# ---------------------------------------------------------------------------------------- VMs
@hv_cmdlet("Get-VM")
def get_vm(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        _sync(ctx)
        if p.get("ClusterObject") is not None:
            return [vm_object(ctx, h, vm) for h, vm in _vms_of_cluster_objects(ctx, p["ClusterObject"])]
        hosts = _targets(ctx, p)
        if p.get("Id"):
            out = [(h, vm) for h in hosts for vm in whv.find_vms(h, vm_id=str(p["Id"]))]
            if not out:
                raise whv.HyperVError(f"Hyper-V was unable to find a virtual machine with id \"{p['Id']}\".",
                                      "InvalidParameter", category="InvalidArgument", target=str(p["Id"]))
        elif p.get("Name") is not None:
            out = []
            for n in as_list(p["Name"]):
                n = str(n.get_prop("Name")) if isinstance(n, PSObject) else str(n)
                found = [(h, vm) for h in hosts for vm in whv.find_vms(h, n)]
                if not found and not any(ch in n for ch in "*?["):
                    raise whv.vm_not_found(n)
                out.extend(found)
        else:
            out = [(h, vm) for h in hosts for vm in whv.find_vms(h)]
        for _, vm in out:
            _refresh_roles(ctx, vm)
        return [vm_object(ctx, h, vm) for h, vm in out]


@hv_cmdlet("New-VM")
def new_vm(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    world = ctx.world
    with world.transaction():
        h = _local(ctx, p)
        _sync(ctx)
        vm = whv.new_vm(world, h, p.get("Name") or "New Virtual Machine", p.get("Path"), p.get("MemoryStartupBytes"),
                        p.get("Generation"), p.get("NewVHDPath"), p.get("NewVHDSizeBytes"), p.get("VHDPath"),
                        p.get("SwitchName"))
    ctx.sleep(3)
    return [vm_object(ctx, h, vm)]


@hv_cmdlet("Set-VM")
def set_vm(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    dynamic = True if p.switch("DynamicMemory") else (False if p.switch("StaticMemory") else None)
    out = []
    with ctx.world.transaction():
        for h, vm in _vms(ctx, p):
            whv.set_vm(vm, p.get("ProcessorCount"), p.get("MemoryStartupBytes"), dynamic,
                       p.get("MemoryMinimumBytes"), p.get("MemoryMaximumBytes"), p.get("NewVMName"))
            if p.get("Notes") is not None:
                vm["notes"] = p["Notes"]
            if p.switch("Passthru"):
                out.append(vm_object(ctx, h, vm))
    return out


def _processor_vms(ctx: CmdletContext, p: Any) -> list[tuple[dict, dict]]:
    """-VMName, -VM, or VMProcessor objects piped from Get-VMProcessor (found by VMId)."""
    pairs = _vms(ctx, p, "VMName")
    for obj in as_list(p.get("VMProcessor")):
        if isinstance(obj, PSObject):
            pairs += _vms(ctx, {"VM": [obj]})
    return pairs


@hv_cmdlet("Get-VMProcessor")
def get_vm_processor(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        return [processor_object(h, vm) for h, vm in _vms(ctx, p, "VMName")]


@hv_cmdlet("Set-VMProcessor")
def set_vm_processor(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        for h, vm in _processor_vms(ctx, p):
            whv.set_vm(vm, processor_count=p.get("Count"),
                       expose_virtualization_extensions=p.get("ExposeVirtualizationExtensions"))
            if p.switch("Passthru"):
                out.append(processor_object(h, vm))
    return out


@hv_cmdlet("Set-VMMemory")
def set_vm_memory(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        for h, vm in _vms(ctx, p, "VMName"):
            dyn = p.get("DynamicMemoryEnabled")
            whv.set_vm(vm, memory_startup=p.get("StartupBytes"), dynamic_memory=None if dyn is None else bool(dyn),
                       memory_minimum=p.get("MinimumBytes"), memory_maximum=p.get("MaximumBytes"))
            if p.switch("Passthru"):
                out.append(PSObject({"Startup": vm["memory_startup"], "DynamicMemoryEnabled": vm["dynamic_memory"],
                                     "Minimum": vm["memory_minimum"], "Maximum": vm["memory_maximum"],
                                     "VMName": vm["name"], "VMId": vm["id"].lower(), "ComputerName": h["name"],
                                     "Buffer": 20, "Priority": 50}, type_name=f"{NS}.VMMemory"))
    return out


@hv_cmdlet("Start-VM")
def start_vm(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        pairs = _vms(ctx, p)
        for h, vm in pairs:
            if vm["state"] in ("Off", "Saved"):
                whv.require_hypervisor(h, vm)
                wn.check_startable(ctx.world, h, vm)   # no hypervisor in a guest, or a disk mounted on the host
            happened = whv.start_vm(vm)
            if happened == "already":
                ctx.warn("The virtual machine is already in the specified state.")
            elif happened in ("booted", "restored"):
                wn.vm_started(ctx.world, h, vm)  # its guest boots (the first time: Windows Setup)
            _refresh_roles(ctx, vm)
    ctx.sleep(3 * len(pairs))
    if p.switch("Passthru"):
        with ctx.world.transaction():
            out = [vm_object(ctx, h, vm) for h, vm in pairs]
    return out


@hv_cmdlet("Stop-VM")
def stop_vm(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    mode = "save" if p.switch("Save") else ("turnoff" if p.switch("TurnOff") else "shutdown")
    with ctx.world.transaction():
        pairs = _vms(ctx, p)
        for h, vm in pairs:
            if whv.stop_vm(vm, mode) == "already":
                ctx.warn("The virtual machine is already in the specified state.")
            else:
                wn.vm_stopped(ctx.world, vm, f"Stop-VM ({mode}) of VM {vm['name']}")
            _refresh_roles(ctx, vm)
    ctx.sleep({"save": 5, "turnoff": 1, "shutdown": 10}[mode] * len(pairs))
    if p.switch("Passthru"):
        with ctx.world.transaction():
            return [vm_object(ctx, h, vm) for h, vm in pairs]
    return []


@hv_cmdlet("Remove-VM")
def remove_vm(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    world = ctx.world
    with world.transaction():
        _sync(ctx)
        for h, vm in _vms(ctx, p):
            if vm.get("clustered"):
                raise whv.HyperVError(
                    f"Failed to remove virtual machine '{vm['name']}'. The virtual machine is clustered (role "
                    f"'{vm.get('group')}' of cluster '{vm.get('cluster')}'); remove it from the cluster first "
                    "(Remove-ClusterGroup -RemoveResources).", "InvalidOperation", category="InvalidOperation",
                    target=vm["name"])
            whv.stop_vm(vm, "turnoff")
            config_dir = vm["config_location"] + "\\Virtual Machines"
            for ext in (".vmcx", ".vmgs", ".vmrs"):
                path = f"{config_dir}\\{vm['id']}{ext}"
                if wc.file_entry(world, h["name"], path) is not None:
                    wc.remove_path(world, h["name"], path)
            del whv.state_of(h)["vms"][vm["id"]]
            wn.remove_guest(world, vm)      # the Windows that lived in it leaves the world
    return []


@hv_cmdlet("Get-VMNetworkAdapter")
def get_vm_network_adapter(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        if p.switch("ManagementOS"):
            h = _local(ctx, p)
            return [PSObject({"Name": s["name"], "VMName": None, "SwitchName": s["name"], "IsManagementOs": True,
                              "Connected": True, "MacAddress": "00155D000000", "ComputerName": h["name"]},
                             type_name=f"{NS}.VMInternalNetworkAdapter")
                    for s in whv.find_switches(h) if s["allow_management_os"]]
        if p.switch("All"):
            pairs = [(h, vm) for h in _targets(ctx, p) for vm in whv.find_vms(h)]
        else:
            pairs = _vms(ctx, p, "VMName")
        name = p.get("Name")
        out = []
        for h, vm in pairs:
            for a in whv.adapters(vm, name):
                if p.get("SwitchName") and (a.get("switch") or "").lower() != str(p["SwitchName"]).lower():
                    continue
                out.append(adapter_object(h, vm, a, ctx.world))
        return out


@hv_cmdlet("Connect-VMNetworkAdapter")
def connect_vm_network_adapter(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    world = ctx.world
    out = []
    with world.transaction():
        switch = p.get("SwitchName")
        if switch is None and isinstance(p.get("VMSwitch"), PSObject):
            switch = str(p["VMSwitch"].get_prop("Name"))
        pairs: list[tuple[dict, dict, str | None]] = []
        for obj in as_list(p.get("VMNetworkAdapter")):
            if isinstance(obj, PSObject):
                h = world.host(str(obj.get_prop("ComputerName") or ctx.session.host))
                found = whv.find_vms(h, vm_id=str(obj.get_prop("VMId")))
                if found:
                    pairs.append((h, found[0], str(obj.get_prop("Name"))))
        if p.get("VMName") is not None:
            names = as_list(p.get("Name"))
            for h, vm in _vms(ctx, p, "VMName"):
                pairs += [(h, vm, str(n)) for n in names] if names else [(h, vm, None)]
        for h, vm, aname in pairs:
            for a in whv.connect_adapter(h, vm, switch, aname):
                if p.switch("Passthru"):
                    out.append(adapter_object(h, vm, a))
    return out


def _adapter_targets(ctx: CmdletContext, p: Any) -> list[tuple[dict, dict, dict]]:
    """(host, vm, adapter) for -VMName/-VM with an optional -Name, or piped VMNetworkAdapter objects."""
    world = ctx.world
    out = []
    for obj in as_list(p.get("VMNetworkAdapter")):
        if isinstance(obj, PSObject):
            h = world.host(str(obj.get_prop("ComputerName") or ctx.session.host))
            for vm in whv.find_vms(h, vm_id=str(obj.get_prop("VMId"))):
                out += [(h, vm, a) for a in vm["network_adapters"]
                        if str(obj.get_prop("Id")).endswith("\\" + a["id"])]
    name = p.get("Name")
    for h, vm in _vms(ctx, p, "VMName"):
        found = whv.adapters(vm, str(name) if name is not None else None)
        if name is not None and not found and not any(ch in str(name) for ch in "*?["):
            raise whv.HyperVError(f'Hyper-V was unable to find a network adapter with name "{name}" in virtual '
                                  f'machine "{vm["name"]}".', "ObjectNotFound", category="ObjectNotFound",
                                  target=name)
        out += [(h, vm, a) for a in found]
    return out


@hv_cmdlet("Add-VMNetworkAdapter")
def add_vm_network_adapter(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    if p.switch("ManagementOS"):
        raise CmdletError("hvsim does not model adding management OS adapters.", "NotImplemented",
                          category="NotImplemented", terminating=True)
    if p.switch("IsLegacy"):
        raise CmdletError("hvsim does not model legacy network adapters.", "NotImplemented",
                          category="NotImplemented", terminating=True)
    out = []
    with ctx.world.transaction():
        for h, vm in _vms(ctx, p, "VMName"):
            a = whv.add_adapter(h, vm, p.get("SwitchName"), p.get("Name"), p.get("StaticMacAddress"))
            if p.switch("Passthru"):
                out.append(adapter_object(h, vm, a))
    ctx.sleep(1)
    return out


@hv_cmdlet("Set-VMNetworkAdapter")
def set_vm_network_adapter(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    if p.switch("ManagementOS"):
        raise CmdletError("hvsim does not model the management OS adapters' settings.", "NotImplemented",
                          category="NotImplemented", terminating=True)
    spoofing = p.get("MacAddressSpoofing")
    out = []
    with ctx.world.transaction():
        for h, vm, a in _adapter_targets(ctx, p):
            whv.set_adapter(vm, a, None if spoofing is None else str(spoofing) == "On",
                            p.get("StaticMacAddress"), p.switch("DynamicMacAddress"))
            if p.switch("Passthru"):
                out.append(adapter_object(h, vm, a))
    return out


@hv_cmdlet("Get-VMHardDiskDrive")
def get_vm_hard_disk_drive(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        out = []
        for h, vm in _vms(ctx, p, "VMName"):
            for d in vm["hard_drives"]:
                if p.get("ControllerType") is not None and str(p["ControllerType"]).upper() != d["controller_type"]:
                    continue
                if p.get("ControllerNumber") is not None and int(p["ControllerNumber"]) != d["controller_number"]:
                    continue
                if p.get("ControllerLocation") is not None and int(p["ControllerLocation"]) != d["controller_location"]:
                    continue
                out.append(drive_object(h, vm, d))
        return out


@hv_cmdlet("Get-VHD")
def get_vhd(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    world = ctx.world
    with world.transaction():
        h = _local(ctx, p)
        _sync(ctx)
        out = []
        paths = [str(x) for x in as_list(p.get("Path"))]
        for vid in as_list(p.get("VMId")):
            for vm in whv.find_vms(h, vm_id=str(vid)):
                paths += [d["path"] for d in vm["hard_drives"]]
        for path in paths:
            entry = wc.file_entry(world, h["name"], path)
            if entry is None or entry.get("kind") != "file" or not wf.leaf(path).lower().endswith((".vhd", ".vhdx")):
                raise whv.HyperVError(
                    f"Getting the mounted storage instance for the path '{path}' failed.\r\n"
                    "The operation cannot be performed while the object is in its current state.\r\n"
                    f"The system cannot find the file specified. '{path}'", "ObjectNotFound",
                    category="ObjectNotFound", target=path)
            out.append(vhd_object(h, entry))
        return out


# ---------------------------------------------------------------------------------------- VHDs
def _vhd_path(ctx: CmdletContext, path: Any) -> str:
    p = str(path)
    if not (len(p) > 1 and p[1] == ":") and not p.startswith("\\\\"):
        p = f"C:\\Users\\{ctx.session.user.split(chr(92))[-1]}\\Documents\\{p}"
    return wf.normalize(p)


@hv_cmdlet("New-VHD")
def new_vhd(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    kind = "Differencing" if p.parameter_set == "Differencing" else (
        "Fixed" if p.parameter_set.startswith("Fixed") else "Dynamic")
    if p.get("SourceDisk") is not None:
        raise CmdletError("hvsim emulates New-VHD without -SourceDisk.", "NotImplemented",
                          category="NotImplemented", terminating=True)
    out = []
    with ctx.world.transaction():
        h = _local(ctx, p)
        for path in as_list(p.get("Path")):
            full = _vhd_path(ctx, path)
            parent = _vhd_path(ctx, p["ParentPath"]) if p.get("ParentPath") else None
            entry = wn.new_vhd(h, full, p.get("SizeBytes"), kind, parent)
            out.append(vhd_object(h, entry))
    ctx.sleep(1)
    return out


@hv_cmdlet("Mount-VHD")
def mount_vhd(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        h = _local(ctx, p)
        for path in as_list(p.get("Path")):
            wn.mount(ctx.world, h, _vhd_path(ctx, path), read_only=p.switch("ReadOnly"),
                     no_letter=p.switch("NoDriveLetter"))
            if p.switch("Passthru"):
                out.append(vhd_object(h, wn.vhd_entry(h, _vhd_path(ctx, path))))
    ctx.sleep(2)
    return out


@hv_cmdlet("Dismount-VHD")
def dismount_vhd(ctx: CmdletContext, p: Any) -> Iterable[Any]:
    with ctx.world.transaction():
        h = _local(ctx, p)
        paths = [_vhd_path(ctx, x) for x in as_list(p.get("Path"))]
        if p.get("DiskNumber") is not None:
            disk = wn.disk_of_number(h, int(p["DiskNumber"]))
            if disk is None:
                # no Microsoft source gives this wording; kept short and plain
                raise whv.HyperVError(f"Disk {p['DiskNumber']} is not a virtual hard disk attached to this computer.",
                                      "ObjectNotFound", category="ObjectNotFound", target=p["DiskNumber"])
            paths.append(disk["source"]["path"])
        for path in paths:
            wn.dismount(ctx.world, h, path)
    ctx.sleep(1)
    return []
