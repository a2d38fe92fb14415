"""Emulated cmdlets: iSCSI module (the Microsoft iSCSI initiator) and Get-InitiatorPort.

Get/New/Remove/Update-IscsiTargetPortal, Get-IscsiTarget, Connect/Disconnect-IscsiTarget,
Get/Register/Unregister-IscsiSession, Get-InitiatorPort. Objects are CIM instances of
ROOT/Microsoft/Windows/Storage (MSFT_iSCSITargetPortal, MSFT_iSCSITarget, MSFT_iSCSISession,
MSFT_InitiatorPort) with the real property names.

Behaviour (hvsim.world.storage): every call but Get-InitiatorPort needs the MSiSCSI service running
("The Microsoft iSCSI initiator service has not been started.", HRESULT 0xefff003e). A portal is the
target host as the world resolves the address (name, FQDN or NIC address); adding it runs discovery,
which lists only the targets whose InitiatorIds admit this host, and the list is cached until
Update-IscsiTargetPortal or the next start of the service. Connect-IscsiTarget: undiscovered name ->
"The target name is not found or is marked as hidden from login." (0xefff0029), no longer admitted ->
"Authorization Failure." (0xefff000a), already connected -> 0xefff003f. -IsPersistent $true logins
come back at every boot; the session's LUNs arrive as disks (see the Storage cmdlets).
"""
from __future__ import annotations

from typing import Any, Iterable

from ..world import storage as st
from .registry import CmdletContext, CmdletError, cmdlet
from .storage import as_list, cim, cim_objects, fault_error, host_of, is_cim, not_found

INITIATOR_INSTANCE = "ROOT\\ISCSIPRT\\0000_0"


def _run(fn, command: str):
    try:
        return fn()
    except st.StorageFault as f:
        raise fault_error(f, command) from None


def portal_object(portal: dict) -> Any:
    return cim("MSFT_iSCSITargetPortal", {
        "InitiatorInstanceName": None, "InitiatorPortalAddress": portal.get("initiator_portal") or None,
        "IsDataDigest": False, "IsHeaderDigest": False, "TargetPortalAddress": portal["address"],
        "TargetPortalPortNumber": int(portal["port"]), "PSComputerName": None})


def target_object(t: dict) -> Any:
    return cim("MSFT_iSCSITarget", {"IsConnected": bool(t["connected"]), "NodeAddress": t["iqn"],
                                    "PSComputerName": None})


def session_object(ctx: CmdletContext, s: dict) -> Any:
    iqn = st.initiator_iqn(ctx.world, host_of(ctx))
    return cim("MSFT_iSCSISession", {
        "AuthenticationType": "NONE", "InitiatorInstanceName": INITIATOR_INSTANCE, "InitiatorNodeAddress": iqn,
        "InitiatorPortalAddress": "0.0.0.0", "InitiatorSideIdentifier": s["isid"], "IsConnected": True,
        "IsDataDigest": False, "IsDiscovered": True, "IsHeaderDigest": False, "IsPersistent": bool(s["persistent"]),
        "NumberOfConnections": 1, "SessionIdentifier": s["id"], "TargetNodeAddress": s["target_iqn"],
        "TargetSideIdentifier": s["tsih"], "PSComputerName": None})


def _ini(ctx: CmdletContext, command: str) -> dict:
    return _run(lambda: st.require_initiator(ctx.world, host_of(ctx)), command)


@cmdlet("Get-InitiatorPort")
def get_initiator_port(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        iqn = st.initiator_iqn(ctx.world, host_of(ctx))
    port = cim("MSFT_InitiatorPort", {
        "InstanceName": INITIATOR_INSTANCE, "NodeAddress": iqn, "PortAddress": "ISCSI ANY PORT",
        "ConnectionType": "iSCSI", "OtherConnectionTypeDescription": None, "PortType": "Unknown",
        "AlternateNodeAddress": None, "AlternatePortAddress": None,
        "ObjectId": f"{INITIATOR_INSTANCE}_0", "PSComputerName": None})
    if p.get("NodeAddress") is not None and iqn.lower() not in [str(x).lower() for x in as_list(p["NodeAddress"])]:
        raise not_found("MSFT_InitiatorPort", "NodeAddress", as_list(p["NodeAddress"])[0], "Get-InitiatorPort")
    if p.get("ConnectionType") is not None and "iscsi" not in [str(x).lower() for x in as_list(p["ConnectionType"])]:
        return []
    return [port]


@cmdlet("Get-IscsiTargetPortal")
def get_iscsi_target_portal(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        ini = _ini(ctx, "Get-IscsiTargetPortal")
        portals = list(ini["portals"])
        if p.get("TargetPortalAddress") is not None:
            out = []
            for a in as_list(p["TargetPortalAddress"]):
                hits = [x for x in portals if x["address"].lower() == str(a).lower()]
                if not hits:
                    raise not_found("MSFT_iSCSITargetPortal", "TargetPortalAddress", a, "Get-IscsiTargetPortal")
                out.extend(hits)
            portals = out
        if p.get("TargetPortalPortNumber") is not None:
            ports = [int(x) for x in as_list(p["TargetPortalPortNumber"])]
            portals = [x for x in portals if int(x["port"]) in ports]
        return [portal_object(x) for x in portals]


@cmdlet("New-IscsiTargetPortal")
def new_iscsi_target_portal(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        _ini(ctx, "New-IscsiTargetPortal")
        portal = _run(lambda: st.add_portal(ctx.world, host_of(ctx), str(p["TargetPortalAddress"]),
                                            int(p.get("TargetPortalPortNumber") or 3260),
                                            str(p.get("InitiatorPortalAddress") or "")), "New-IscsiTargetPortal")
        result = portal_object(portal)
    ctx.sleep(st.LOGIN_SECONDS)
    return [result]


def _portals_from(ctx: CmdletContext, p, ini: dict, command: str) -> list[dict]:
    if p.get("InputObject") is not None:
        addrs = [str(o.get_prop("TargetPortalAddress")) for o in as_list(p["InputObject"])]
    else:
        addrs = [str(a) for a in as_list(p.get("TargetPortalAddress"))]
    out = []
    for a in addrs:
        portal = st.find_portal(ini, a, p.get("TargetPortalPortNumber"))
        if portal is None:
            raise fault_error(st.iscsi_initiator_fault(0xEFFF0044, "The specified portal was not found.",
                                                       "MSFT_iSCSITargetPortal"), command)
        out.append(portal)
    return out


@cmdlet("Remove-IscsiTargetPortal")
def remove_iscsi_target_portal(ctx: CmdletContext, p) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        ini = _ini(ctx, "Remove-IscsiTargetPortal")
        for portal in _portals_from(ctx, p, ini, "Remove-IscsiTargetPortal"):
            ini["portals"].remove(portal)
            if p.switch("PassThru"):
                out.append(portal_object(portal))
    return out


@cmdlet("Update-IscsiTargetPortal")
def update_iscsi_target_portal(ctx: CmdletContext, p) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        ini = _ini(ctx, "Update-IscsiTargetPortal")
        for portal in _portals_from(ctx, p, ini, "Update-IscsiTargetPortal"):
            _run(lambda: st.refresh_portal(ctx.world, host_of(ctx), portal), "Update-IscsiTargetPortal")
            if p.switch("PassThru"):
                out.append(portal_object(portal))
    return out


@cmdlet("Get-IscsiTarget")
def get_iscsi_target(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        _ini(ctx, "Get-IscsiTarget")
        targets = st.discovered_targets(ctx.world, host_of(ctx))
        if p.get("NodeAddress") is not None:
            out = []
            for a in as_list(p["NodeAddress"]):
                hits = [t for t in targets if t["iqn"].lower() == str(a).lower()]
                if not hits:
                    raise not_found("MSFT_iSCSITarget", "NodeAddress", a, "Get-IscsiTarget")
                out.extend(hits)
            targets = out
        for obj in cim_objects(p):  # dispatch on the class: the binder cannot tell CIM classes apart
            if is_cim(obj, "MSFT_iSCSITargetPortal"):
                addr = str(obj.get_prop("TargetPortalAddress")).lower()
                targets = [t for t in targets if t["portal"] and t["portal"]["address"].lower() == addr]
            elif is_cim(obj, "MSFT_iSCSISession"):
                iqn = str(obj.get_prop("TargetNodeAddress")).lower()
                targets = [t for t in targets if t["iqn"].lower() == iqn]
            elif not is_cim(obj, "MSFT_InitiatorPort"):   # a host has one initiator port: it sees every target
                # e.g. an MSFT_Disk (Windows' PSTypeName check refuses it); never "all targets" silently
                raise CmdletError("The input object cannot be bound to any parameters for the command either because "
                                  "the command does not take pipeline input or the input and its properties do not "
                                  "match any of the parameters that take pipeline input.", "InputObjectNotBound",
                                  category="InvalidArgument", target=obj,
                                  exception_type="System.Management.Automation.ParameterBindingException")
        return [target_object(t) for t in targets]


@cmdlet("Connect-IscsiTarget")
def connect_iscsi_target(ctx: CmdletContext, p) -> Iterable[Any]:
    if p.get("InputObject") is not None:
        nodes = [str(o.get_prop("NodeAddress")) for o in as_list(p["InputObject"])]
    else:
        nodes = [str(p["NodeAddress"])]
    out = []
    for node in nodes:
        with ctx.world.transaction():
            _ini(ctx, "Connect-IscsiTarget")
            session = _run(lambda: st.connect(ctx.world, host_of(ctx), node,
                                              portal_address=p.get("TargetPortalAddress"),
                                              port=p.get("TargetPortalPortNumber"),
                                              persistent=bool(p.get("IsPersistent") or False)), "Connect-IscsiTarget")
            out.append(session_object(ctx, session))
        ctx.sleep(st.LOGIN_SECONDS)
    return out


@cmdlet("Disconnect-IscsiTarget")
def disconnect_iscsi_target(ctx: CmdletContext, p) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        _ini(ctx, "Disconnect-IscsiTarget")
        if p.get("InputObject") is not None:
            nodes = [str(o.get_prop("NodeAddress") or o.get_prop("TargetNodeAddress")) for o in as_list(p["InputObject"])]
        else:
            nodes = [str(x) for x in as_list(p.get("NodeAddress"))] or [None]
        for node in nodes:
            gone = _run(lambda: st.disconnect(ctx.world, host_of(ctx), node, p.get("SessionIdentifier")),
                        "Disconnect-IscsiTarget")
            if p.switch("PassThru"):
                out.extend(target_object({"iqn": s["target_iqn"], "connected": False}) for s in gone)
    return out


@cmdlet("Get-IscsiSession")
def get_iscsi_session(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        ini = _ini(ctx, "Get-IscsiSession")
        sessions = list(ini["sessions"])
        if p.get("SessionIdentifier") is not None:
            ids = [str(x).lower() for x in as_list(p["SessionIdentifier"])]
            sessions = [s for s in sessions if s["id"].lower() in ids]
            if not sessions:
                raise not_found("MSFT_iSCSISession", "SessionIdentifier", as_list(p["SessionIdentifier"])[0],
                                "Get-IscsiSession")
        for obj in cim_objects(p):  # dispatch on the class: the binder cannot tell CIM classes apart
            if is_cim(obj, "MSFT_iSCSITarget"):
                iqn = str(obj.get_prop("NodeAddress")).lower()
            elif is_cim(obj, "MSFT_Disk"):
                disk = st.find_disk_by_unique_id(ctx.world, host_of(ctx), str(obj.get_prop("UniqueId")))
                iqn = (disk or {}).get("source", {}).get("target_iqn", "").lower()
            elif is_cim(obj, "MSFT_iSCSITargetPortal"):
                addr = str(obj.get_prop("TargetPortalAddress")).lower()
                sessions = [s for s in sessions if s["portal_address"].lower() == addr]
                continue
            else:
                continue
            sessions = [s for s in sessions if s["target_iqn"].lower() == iqn]
        return [session_object(ctx, s) for s in sessions]


def _session_ids(p) -> list[str]:
    if p.get("InputObject") is not None:
        return [str(o.get_prop("SessionIdentifier")) for o in as_list(p["InputObject"])]
    return [str(x) for x in as_list(p.get("SessionIdentifier"))]


@cmdlet("Register-IscsiSession")
def register_iscsi_session(ctx: CmdletContext, p) -> Iterable[Any]:
    out = []
    with ctx.world.transaction():
        _ini(ctx, "Register-IscsiSession")
        for sid in _session_ids(p):
            s = _run(lambda: st.register_session(ctx.world, host_of(ctx), sid), "Register-IscsiSession")
            if p.switch("PassThru"):
                out.append(session_object(ctx, s))
    return out


@cmdlet("Unregister-IscsiSession")
def unregister_iscsi_session(ctx: CmdletContext, p) -> Iterable[Any]:
    with ctx.world.transaction():
        _ini(ctx, "Unregister-IscsiSession")
        for sid in _session_ids(p):
            _run(lambda: st.unregister_session(ctx.world, host_of(ctx), sid), "Unregister-IscsiSession")
    return []
