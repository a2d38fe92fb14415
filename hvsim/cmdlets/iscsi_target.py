"""Emulated cmdlets: IscsiTarget module (iSCSI Target Server, role service FS-iSCSITarget-Server).

Get/New/Set/Remove-IscsiServerTarget, Get/New/Import/Resize/Remove-IscsiVirtualDisk,
Add/Remove-IscsiVirtualDiskTargetMapping. Output types Microsoft.Iscsi.Target.Commands.IscsiServerTarget
and .IscsiVirtualDisk with the real property names; InitiatorIds are InitiatorId objects (Method, Value;
ToString "IQN:iqn..."), LunMappings are LunMapping objects (TargetName, Path, Lun).

Behaviour (hvsim.world.storage): the module needs the role service installed and WinTarget running;
New-IscsiVirtualDisk creates the .vhdx (the folder must exist, the file must not) and takes time for a
fixed disk (zeroing, proportional to size); Remove-IscsiVirtualDisk keeps the .vhdx file, which
Import-IscsiVirtualDisk registers again as it is (its size, type and data; a new serial number); shrinking is
refused unless the end of the disk is unallocated. Errors are IscsiCmdException records. The exact
wording of the target server's messages is not published; hvsim's texts say the same thing in
Windows' style (see the world module), the error ids and exception types are Windows'.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

from ..powershell.values import PSEnum, PSObject
from ..world import storage as st
from .registry import CmdletContext, CmdletError, CommandNotFoundError, cmdlet
from .storage import as_list, fault_error, host_of

NS = "Microsoft.Iscsi.Target.Commands"
ID_METHOD_VALUES = {"IQN": 1, "DNSName": 2, "IPAddress": 3, "IPv6Address": 4, "MACAddress": 5}
VHD_TYPE_VALUES = {"Fixed": 2, "Dynamic": 3, "Differencing": 4}


def _impl(verb_noun: str) -> str:
    return f"{NS}.{verb_noun.replace('-', '')}Command"


def target_server_cmdlet(name: str) -> Callable:
    """@cmdlet for the IscsiTarget module: the implementation gets the target server (-ComputerName or this
    host), which must have the role service (else the command is not recognized); faults of the world's
    storage functions become this cmdlet's IscsiCmdException records."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def impl(ctx: CmdletContext, p: Any) -> list:
            host = server(ctx, p)
            require_module(ctx, host, name)
            try:
                return list(fn(ctx, p, host) or [])
            except st.StorageFault as f:
                raise fault_error(f, _impl(name)) from None
        return cmdlet(name)(impl)
    return wrap


def server(ctx: CmdletContext, p) -> str:
    """The target server the cmdlet works on: -ComputerName (name, FQDN, address, localhost) or this host."""
    name = p.get("ComputerName")
    if name in (None, "", ".", "localhost") or str(name).lower() in ("localhost", "127.0.0.1"):
        return host_of(ctx)
    with ctx.world.read():
        try:
            return ctx.world.host(str(name))["name"]
        except KeyError:
            raise CmdletError(f"The RPC server is unavailable. (Exception from HRESULT: 0x800706BA)",
                              "IscsiCmdException", category="ConnectionError", target=name,
                              exception_type=st.ISCSI_TARGET_EXC) from None


def require_module(ctx: CmdletContext, host: str, command: str) -> None:
    """Without the role service the IscsiTarget module is absent: the command is not recognized."""
    with ctx.world.read():
        installed = st.target_server_installed(ctx.world, host)
    if not installed:
        raise CommandNotFoundError(command)


# The IdMethod enum's member names, which Windows prints ("InitiatorIds : {DnsName:VL-CL1, DnsName:VL-CL2}",
# "{Iqn:*}" on a real Windows Server; the docs' examples write "IpAddress:10.10.1.1"); input is case-insensitive.
ID_METHOD_NAMES = {"IQN": "Iqn", "DNSName": "DnsName", "IPAddress": "IpAddress", "IPv6Address": "IPv6Address",
                   "MACAddress": "MacAddress"}


def initiator_id_object(text: str) -> PSObject:
    method, value = st.parse_initiator_id(text)
    name = ID_METHOD_NAMES[method]
    return PSObject({"Method": PSEnum(f"{NS}.IdMethod", name, ID_METHOD_VALUES[method]), "Value": value},
                    type_name=f"{NS}.InitiatorId", methods={"ToString": lambda *a: f"{name}:{value}"})


def _lun_mapping(target: dict, m: dict) -> PSObject:
    text = f'TargetName:{target["name"]};VHD:"{m["path"]}";LUN:{m["lun"]}'
    return PSObject({"TargetName": target["name"], "Path": m["path"], "Lun": m["lun"]},
                    type_name=f"{NS}.LunMapping", methods={"ToString": lambda *a: text})


def _fqdn(ctx: CmdletContext, host: str) -> str:
    h = ctx.world.host(host)
    return f"{h['name']}.{h['domain']}" if h.get("domain") else h["name"]


def target_object(ctx: CmdletContext, host: str, target: dict) -> PSObject:
    conns = st.target_connections(ctx.world, host, target["iqn"])
    sessions = [PSObject({"InitiatorIqn": st.initiator_iqn(ctx.world, hn), "SessionId": s["id"],
                          "TargetIqn": target["iqn"]}, type_name=f"{NS}.Session") for hn, s in conns]
    status = "Connected" if conns else "NotConnected"
    props = {
        "ChapUserName": "", "ClusterGroupName": "", "ComputerName": _fqdn(ctx, host),
        "Description": target["description"], "EnableChap": False, "EnableReverseChap": False,
        "EnforceIdleTimeoutDetection": True, "FirstBurstLength": 65536, "IdleDuration": "00:00:00",
        "InitiatorIds": [initiator_id_object(x) for x in target["initiator_ids"]],
        "LastLogin": None, "LunMappings": [_lun_mapping(target, m) for m in target["luns"]],
        "MaxBurstLength": 262144, "MaxReceiveDataSegmentLength": 65536, "ReceiveBufferCount": 10,
        "ReverseChapUserName": "", "Sessions": sessions,
        "Status": PSEnum(f"{NS}.TargetStatus", status, 1 if conns else 0),
        "TargetIqn": target["iqn"], "TargetName": target["name"], "Enable": target.get("enabled", True),
    }
    return PSObject(props, type_name=f"{NS}.IscsiServerTarget")


def vdisk_object(ctx: CmdletContext, host: str, vd: dict) -> PSObject:
    connected = st.vdisk_connected(ctx.world, host, vd)
    props = {
        "ClusterGroupName": "", "ComputerName": _fqdn(ctx, host), "Description": vd["description"],
        "DiskType": PSEnum(f"{NS}.VhdType", vd["disk_type"], VHD_TYPE_VALUES[vd["disk_type"]]),
        "HostVolumeId": st._stable_guid("hostvol", host, vd["path"][:3].upper()),
        "LocalMountDeviceId": "", "OriginalPath": "", "ParentPath": vd.get("parent_path") or "",
        "Path": vd["path"], "SerialNumber": vd["serial"], "Size": vd["size"], "SnapshotIds": None,
        "Status": PSEnum(f"{NS}.VirtualDiskStatus", "Connected" if connected else "NotConnected",
                         1 if connected else 0),
        "VirtualDiskIndex": vd["index"],
    }
    return PSObject(props, type_name=f"{NS}.IscsiVirtualDisk")


def _initiator_ids(p, command: str) -> list[str] | None:
    """Validate -InitiatorIds / -InitiatorId like the InitiatorId type converter does."""
    raw = p.get("InitiatorIds")
    if raw is None:
        return None
    out = []
    for item in as_list(raw):
        if isinstance(item, PSObject) and item.has_prop("Method"):
            out.append(f"{item.get_prop('Method')}:{item.get_prop('Value')}")
            continue
        try:
            st.parse_initiator_id(str(item))
        except ValueError as exc:
            raise CmdletError(
                f"Cannot bind parameter 'InitiatorIds'. Cannot convert value \"{item}\" to type "
                f"\"{NS}.InitiatorId\". Error: \"{exc}\"", f"CannotConvertArgumentNoMessage,{_impl(command)}",
                category="InvalidArgument", target=item, terminating=True,
                exception_type="System.Management.Automation.ParameterBindingException") from None
        out.append(str(item))
    return out


def _target_name(p) -> str:
    if p.get("InputObject") is not None:
        return str(p["InputObject"].get_prop("TargetName"))
    return str(p["TargetName"])


def _vdisk_path(p) -> str:
    if p.get("InputObject") is not None:
        return str(p["InputObject"].get_prop("Path"))
    return str(p["Path"])


@target_server_cmdlet("Get-IscsiServerTarget")
def get_iscsi_server_target(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    with ctx.world.transaction():
        tgs = st.require_target_server(ctx.world, host)
        targets = sorted(tgs["targets"].values(), key=lambda t: t["created"])
        if p.get("TargetName") is not None:
            name = str(p["TargetName"])
            targets = [t for t in targets if t["name"].lower() == name.lower()]
            if not targets:
                raise fault_error(st._missing_target(name), _impl("Get-IscsiServerTarget"))
        if p.get("Path") is not None:
            key = st.vdisk_key(str(p["Path"]))
            targets = [t for t in targets if any(st.vdisk_key(m["path"]) == key for m in t["luns"])]
        if p.get("InitiatorId") is not None:
            wanted = str(p["InitiatorId"]).lower()
            targets = [t for t in targets if wanted in [x.lower() for x in t["initiator_ids"]]]
        return [target_object(ctx, host, t) for t in targets]


@target_server_cmdlet("New-IscsiServerTarget")
def new_iscsi_server_target(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    ids = _initiator_ids(p, "New-IscsiServerTarget")
    with ctx.world.transaction():
        target = st.create_target(ctx.world, host, str(p["TargetName"]), ids)
        return [target_object(ctx, host, target)]


@target_server_cmdlet("Set-IscsiServerTarget")
def set_iscsi_server_target(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    ids = _initiator_ids(p, "Set-IscsiServerTarget")
    with ctx.world.transaction():
        target = st.set_target(ctx.world, host, _target_name(p), initiator_ids=ids,
                               description=p.get("Description"), enable=p.get("Enable"))
        return [target_object(ctx, host, target)] if p.switch("PassThru") else []


@target_server_cmdlet("Remove-IscsiServerTarget")
def remove_iscsi_server_target(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    with ctx.world.transaction():
        st.remove_target(ctx.world, host, _target_name(p))
    return []


@target_server_cmdlet("Get-IscsiVirtualDisk")
def get_iscsi_virtual_disk(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    with ctx.world.transaction():
        tgs = st.require_target_server(ctx.world, host)
        disks = sorted(tgs["virtual_disks"].values(), key=lambda v: v["index"])
        if p.get("Path") is not None:
            key = st.vdisk_key(str(p["Path"]))
            disks = [v for v in disks if st.vdisk_key(v["path"]) == key]
            if not disks:
                raise fault_error(st._missing_vdisk(str(p["Path"])), _impl("Get-IscsiVirtualDisk"))
        if p.get("TargetName") is not None:
            t = tgs["targets"].get(str(p["TargetName"]).lower())
            if t is None:
                raise fault_error(st._missing_target(str(p["TargetName"])), _impl("Get-IscsiVirtualDisk"))
            keys = [st.vdisk_key(m["path"]) for m in t["luns"]]
            disks = [v for v in disks if st.vdisk_key(v["path"]) in keys]
        if p.get("InitiatorId") is not None:
            wanted = str(p["InitiatorId"]).lower()
            keys = {st.vdisk_key(m["path"]) for t in tgs["targets"].values()
                    if wanted in [x.lower() for x in t["initiator_ids"]] for m in t["luns"]}
            disks = [v for v in disks if st.vdisk_key(v["path"]) in keys]
        return [vdisk_object(ctx, host, v) for v in disks]


@target_server_cmdlet("New-IscsiVirtualDisk")
def new_iscsi_virtual_disk(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    if p.get("ParentPath") is not None:
        disk_type = "Differencing"
    elif p.switch("UseFixed"):
        disk_type = "Fixed"
    else:
        disk_type = "Dynamic"
    with ctx.world.transaction():
        vd = st.create_virtual_disk(ctx.world, host, str(p["Path"]), p.get("SizeBytes"),
                                    disk_type=disk_type, description=str(p.get("Description") or ""),
                                    parent_path=p.get("ParentPath"))
        result = vdisk_object(ctx, host, vd)
    ctx.sleep(st.creation_seconds(vd["size"], disk_type))
    return [result]


@target_server_cmdlet("Import-IscsiVirtualDisk")
def import_iscsi_virtual_disk(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    with ctx.world.transaction():
        vd = st.import_virtual_disk(ctx.world, host, str(p["Path"]),
                                    description=str(p.get("Description") or ""))
        return [vdisk_object(ctx, host, vd)] if p.switch("PassThru") else []


@target_server_cmdlet("Resize-IscsiVirtualDisk")
def resize_iscsi_virtual_disk(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    with ctx.world.transaction():
        before = st.get_virtual_disk(ctx.world, host, _vdisk_path(p))
        old_size = before["size"] if before else 0
        vd = st.resize_virtual_disk(ctx.world, host, _vdisk_path(p), int(p["SizeBytes"]))
        result = vdisk_object(ctx, host, vd)
    ctx.sleep(st.creation_seconds(max(0, vd["size"] - old_size), vd["disk_type"]))
    return [result] if p.switch("PassThru") else []


@target_server_cmdlet("Remove-IscsiVirtualDisk")
def remove_iscsi_virtual_disk(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    with ctx.world.transaction():
        st.remove_virtual_disk(ctx.world, host, _vdisk_path(p))
    return []


@target_server_cmdlet("Add-IscsiVirtualDiskTargetMapping")
def add_iscsi_virtual_disk_target_mapping(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    with ctx.world.transaction():
        st.add_mapping(ctx.world, host, str(p["TargetName"]), str(p["Path"]), p.get("Lun"))
    return []


@target_server_cmdlet("Remove-IscsiVirtualDiskTargetMapping")
def remove_iscsi_virtual_disk_target_mapping(ctx: CmdletContext, p, host: str) -> Iterable[Any]:
    with ctx.world.transaction():
        st.remove_mapping(ctx.world, host, str(p["TargetName"]), str(p["Path"]))
    return []
