"""Emulated cmdlets: the NetSecurity module's firewall rules, port filters and profiles (the world's
model and what a closed rule breaks: hvsim/world/firewall.py).

Objects carry the CIM classes' property names: MSFT_NetFirewallRule (Name = InstanceID, DisplayName,
DisplayGroup, Group, Enabled True/False, Direction, Action, Profile), MSFT_NetProtocolPortFilter
(Protocol, LocalPort, RemotePort, InstanceID = the rule's Name), MSFT_NetFirewallProfile (Name, Enabled).
Only inbound allow rules exist here (the lab needs nothing else); New-NetFirewallRule refuses others.
"""
from __future__ import annotations

from typing import Any, Iterable

from hvsim.powershell.values import PSEnum, PSObject
from hvsim.world import firewall

from .network import _cdxml_not_found
from .registry import BoundParameters, CmdletContext, CmdletError, cmdlet
from .wildcards import has_wildcard, like

_NS = "Microsoft.Management.Infrastructure.CimInstance#root/standardcimv2"
_ENABLED = {True: ("True", 1), False: ("False", 2)}


def _rule_object(r: dict) -> PSObject:
    name, value = _ENABLED[bool(r["enabled"])]
    return PSObject({
        "Name": r["name"], "ID": r["name"], "DisplayName": r["display_name"], "Description": r.get("description", ""),
        "DisplayGroup": r.get("group") or None, "Group": r.get("group") or None,
        "Enabled": PSEnum("Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Enabled", name, value),
        "Profile": PSEnum("Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Profile", "Any", 0),
        "Direction": PSEnum("Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Direction", "Inbound", 1),
        "Action": PSEnum("Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Action", "Allow", 2),
        "PrimaryStatus": PSEnum("Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.PrimaryStatus", "OK", 1),
        "InstanceID": r["name"], "PolicyStoreSourceType": "Local",
    }, type_name=f"{_NS}/MSFT_NetFirewallRule")


def _filter_object(r: dict) -> PSObject:
    return PSObject({"Protocol": r["protocol"], "LocalPort": r["local_port"], "RemotePort": "Any",
                     "IcmpType": "Any", "DynamicTarget": "Any", "InstanceID": r["name"]},
                    type_name=f"{_NS}/MSFT_NetProtocolPortFilter")


def _select(ctx: CmdletContext, p: BoundParameters, cmd: str, pipeline_rule: Any = None) -> list[dict]:
    """The rules a Get/Enable/Remove call names (by Name, DisplayName, DisplayGroup, Group, -InputObject)."""
    h = ctx.host()
    found = firewall.rules(h)
    if pipeline_rule is not None:
        wanted = str(pipeline_rule.get_prop("Name") if hasattr(pipeline_rule, "get_prop") else pipeline_rule)
        return [r for r in found if r["name"].lower() == wanted.lower()]
    for param, key in (("Name", "name"), ("DisplayName", "display_name"), ("DisplayGroup", "group"), ("Group", "group")):
        values = p.get(param)
        if values is None:
            continue
        picked: list[dict] = []
        for v in values if isinstance(values, list) else [values]:
            hits = [r for r in found if like(str(r.get(key) or ""), str(v))]
            if not hits and not has_wildcard(str(v)):
                raise _cdxml_not_found("MSFT_NetFirewallRule", param, v, cmd)
            picked += [r for r in hits if r not in picked]
        found = picked
    enabled = p.get("Enabled")
    if enabled is not None:
        found = [r for r in found if str(bool(r["enabled"])).lower() == str(enabled).lower()]
    # every rule here is an inbound allow rule (the parameters take arrays)
    for param, only in (("Direction", "inbound"), ("Action", "allow")):
        wanted = p.get(param)
        if wanted is not None and only not in {str(w).lower() for w in (wanted if isinstance(wanted, list) else [wanted])}:
            return []
    return found


@cmdlet("Get-NetFirewallRule")
def get_net_firewall_rule(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        via_filter = p.get("AssociatedNetFirewallPortFilter")
        if via_filter is not None:
            names = {str(f.get_prop("InstanceID")).lower() for f in (via_filter if isinstance(via_filter, list) else [via_filter])}
            return [_rule_object(r) for r in firewall.rules(ctx.host()) if r["name"].lower() in names]
        return [_rule_object(r) for r in _select(ctx, p, "Get-NetFirewallRule")]


@cmdlet("Get-NetFirewallPortFilter")
def get_net_firewall_port_filter(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        rules = firewall.rules(ctx.host())
        assoc = p.get("AssociatedNetFirewallRule")
        if assoc is not None:
            names = {str(r.get_prop("Name")).lower() for r in (assoc if isinstance(assoc, list) else [assoc])}
            rules = [r for r in rules if r["name"].lower() in names]
        protocol = p.get("Protocol")
        if protocol is not None:
            rules = [r for r in rules if r["protocol"].lower() == str(protocol).lower()]
        return [_filter_object(r) for r in rules]


@cmdlet("Enable-NetFirewallRule")
def enable_net_firewall_rule(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.transaction():
        h = ctx.host()
        picked = _select(ctx, p, "Enable-NetFirewallRule", p.get("InputObject"))
        for r in picked:
            firewall.set_enabled(h, r["name"], True)
        return [_rule_object(firewall.find(h, r["name"])) for r in picked] if p.switch("PassThru") else []


@cmdlet("New-NetFirewallRule")
def new_net_firewall_rule(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    if str(p.get("Direction") or "Inbound").lower() != "inbound" or str(p.get("Action") or "Allow").lower() != "allow":
        raise CmdletError("hvsim emulates inbound allow rules only.", "NotImplemented", category="NotImplemented",
                          terminating=True)
    protocol = str(p.get("Protocol") or "Any").upper()
    ports = p.get("LocalPort")
    if protocol not in ("TCP", "UDP") or not ports:
        raise CmdletError("hvsim emulates TCP/UDP port rules only (give -Protocol and -LocalPort).", "NotImplemented",
                          category="NotImplemented", terminating=True)
    display = str(p["DisplayName"])
    name = str(p.get("Name") or display)
    with ctx.world.transaction():
        h = ctx.host()
        if firewall.find(h, name) is not None:
            raise CmdletError("Cannot create a file when that file already exists.", "Windows System Error 183",
                              category="ResourceExists", target=name,
                              exception_type="Microsoft.Management.Infrastructure.CimException")
        enabled = str(p.get("Enabled") if p.get("Enabled") is not None else "True").lower() == "true"
        rule = {"name": name, "display_name": display, "group": str(p.get("Group") or ""), "protocol": protocol,
                "local_port": [str(x) for x in (ports if isinstance(ports, list) else [ports])],
                "enabled": enabled, "description": str(p.get("Description") or "")}
        firewall.state_of(h)["rules"][name.lower()] = rule
        return [_rule_object(firewall.find(h, name))]


@cmdlet("Remove-NetFirewallRule")
def remove_net_firewall_rule(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.transaction():
        h = ctx.host()
        for r in _select(ctx, p, "Remove-NetFirewallRule", p.get("InputObject")):
            if r["builtin"]:
                # a built-in rule of a feature: hvsim keeps it (it comes back with the feature); switch it off
                firewall.set_enabled(h, r["name"], False)
            else:
                firewall.state_of(h)["rules"].pop(r["name"].lower(), None)
    return []


@cmdlet("Get-NetFirewallProfile")
def get_net_firewall_profile(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        profiles = dict((ctx.host().get("firewall") or {}).get("profiles") or {n: True for n in firewall.PROFILES})
    names = p.get("Name")
    out = []
    for name in firewall.PROFILES:
        if names is not None and not any(like(name, str(n)) for n in (names if isinstance(names, list) else [names])):
            continue
        flag, value = _ENABLED[bool(profiles.get(name, True))]
        out.append(PSObject({"Name": name, "Enabled": PSEnum(
            "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.GpoBoolean", flag, value)},
            type_name=f"{_NS}/MSFT_NetFirewallProfile"))
    return out
