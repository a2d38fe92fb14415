"""Emulated cmdlets: Get-NetAdapter (NetAdapter), Get-NetIPAddress (NetTCPIP), Test-Connection,
Get-NetConnectionProfile (NetConnection), Resolve-DnsName (DnsClient).

Adapters come from `host["nics"]` plus a `vEthernet (<switch>)` adapter for each Hyper-V switch shared
with the management OS. NIC addresses are data only: nothing ever connects to them.
"""
from __future__ import annotations

from typing import Any, Iterable

from hvsim.powershell.values import PSEnum, PSObject

from .registry import BoundParameters, CmdletContext, CmdletError, cmdlet
from .wildcards import has_wildcard, like

_STD = "Microsoft.Management.Infrastructure.CimInstance#ROOT/StandardCimv2"


def _adapters(h: dict) -> list[dict]:
    """Physical NICs plus a vEthernet adapter for each Hyper-V switch shared with the management OS.

    An external switch shared with the management OS takes over its NIC's IP address (Windows moves
    the address to the vEthernet adapter); the NIC stays listed, without an address."""
    out = [dict(n) for n in h.get("nics", [])]
    switches = ((h.get("hyperv") or {}).get("switches") or {})
    shared = [sw for sw in switches.values() if isinstance(sw, dict) and sw.get("allow_management_os")]
    for i, sw in enumerate(sorted(shared, key=lambda s: str(s.get("name", "")).lower())):
        nic = next((n for n in out if str(n["name"]).lower() == str(sw.get("net_adapter") or "").lower()), None)
        ipv4, prefix = (nic.get("ipv4"), nic.get("prefix", 24)) if nic else (None, 24)
        if nic is not None:
            nic["ipv4"] = None
        out.append({"name": f"vEthernet ({sw.get('name')})",
                    "description": "Hyper-V Virtual Ethernet Adapter" + (f" #{i + 1}" if i else ""),
                    "if_index": 20 + 2 * i, "mac": sw.get("mac") or f"00-15-5D-00-0A-{i + 1:02X}", "status": "Up",
                    "ipv4": ipv4, "prefix": prefix, "link_speed": "10 Gbps", "virtual": True})
    return out


def _adapter_object(n: dict) -> PSObject:
    status = n.get("status", "Up")
    return PSObject({
        "Name": n["name"],
        "InterfaceDescription": n["description"],
        "ifIndex": n["if_index"],
        "Status": status,
        "MacAddress": n["mac"],
        "LinkSpeed": n.get("link_speed", "10 Gbps"),
        "ifAlias": n["name"],
        "InterfaceAlias": n["name"],
        "InterfaceIndex": n["if_index"],
        "ifDesc": n["description"],
        "InterfaceName": f"ethernet_{n['if_index']}",
        "Virtual": bool(n.get("virtual", False)),
        "MediaConnectionState": PSEnum("MediaConnectState", "Connected" if status == "Up" else "Disconnected",
                                       1 if status == "Up" else 2),
        "DriverDescription": n["description"],
        "AdminStatus": PSEnum("AdminStatus", "Up", 1),
    }, type_name=f"{_STD}/MSFT_NetAdapter")


def _cdxml_not_found(cls: str, prop: str, value: Any, cmd: str) -> CmdletError:
    return CmdletError(f"No {cls} objects found with property '{prop}' equal to '{value}'.  Verify the value of the "
                       f"property and retry.", f"CmdletizationQuery_NotFound_{prop}", category="ObjectNotFound",
                       target=value)


@cmdlet("Get-NetAdapter")
def get_net_adapter(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        adapters = _adapters(ctx.host())
    if p.switch("Physical"):
        adapters = [a for a in adapters if not a.get("virtual")]
    for prop, key, param in (("Name", "name", "Name"), ("InterfaceDescription", "description", "InterfaceDescription"),
                             ("InterfaceIndex", "if_index", "InterfaceIndex")):
        wanted = p.get(param)
        if wanted is None:
            continue
        picked = []
        for w in wanted:
            hits = [a for a in adapters if (like(str(a[key]), str(w)) if key != "if_index" else a[key] == w)]
            if not hits and not has_wildcard(str(w)):
                raise _cdxml_not_found("MSFT_NetAdapter", prop, w, "Get-NetAdapter")
            picked += [a for a in hits if a not in picked]
        adapters = picked
    return [_adapter_object(a) for a in adapters]


def _ip_object(alias: str, index: int, ip: str, prefix: int, family: str = "IPv4", origin: str = "Manual") -> PSObject:
    """origin: Manual (a static address), WellKnown (the loopback pseudo-interface), Link (an APIPA
    169.254.x.y address a NIC without DHCP answer gives itself: PrefixOrigin WellKnown, SuffixOrigin Link)."""
    prefix_origin = "Manual" if origin == "Manual" else "WellKnown"
    return PSObject({
        "IPAddress": ip,
        "InterfaceIndex": index,
        "InterfaceAlias": alias,
        "AddressFamily": PSEnum("AddressFamily", family, 2 if family == "IPv4" else 23),
        "Type": PSEnum("Type", "Unicast", 1),
        "PrefixLength": prefix,
        "PrefixOrigin": PSEnum("PrefixOrigin", prefix_origin, {"Manual": 1, "WellKnown": 2}[prefix_origin]),
        "SuffixOrigin": PSEnum("SuffixOrigin", origin, {"Manual": 1, "WellKnown": 2, "Link": 4}[origin]),
        "AddressState": PSEnum("AddressState", "Preferred", 4),
        "ValidLifetime": None,
        "PreferredLifetime": None,
        "SkipAsSource": False,
        "PolicyStore": "ActiveStore",
    }, type_name=f"{_STD}/MSFT_NetIPAddress")


@cmdlet("Get-NetIPAddress")
def get_net_ip_address(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        adapters = _adapters(ctx.host())
    objs = [_ip_object(a["name"], a["if_index"], a["ipv4"], a.get("prefix", 24), origin="Link" if a.get("apipa") else "Manual")
            for a in adapters if a.get("ipv4")]
    objs.append(_ip_object("Loopback Pseudo-Interface 1", 1, "127.0.0.1", 8, origin="WellKnown"))
    checks = (("IPAddress", "IPAddress"), ("InterfaceAlias", "InterfaceAlias"), ("InterfaceIndex", "InterfaceIndex"),
              ("AddressFamily", "AddressFamily"), ("PrefixLength", "PrefixLength"))
    for param, prop in checks:
        wanted = p.get(param)
        if wanted is None:
            continue
        picked = []
        for w in wanted:
            hits = [o for o in objs if (str(o.get_prop(prop)).lower() == str(w).lower()
                                        or (isinstance(w, str) and like(str(o.get_prop(prop)), w)))]
            if not hits and not (isinstance(w, str) and has_wildcard(w)):
                raise _cdxml_not_found("MSFT_NetIPAddress", prop, w, "Get-NetIPAddress")
            picked += [o for o in hits if o not in picked]
        objs = picked
    return objs


@cmdlet("Test-Connection")
def test_connection(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    out = []
    for target in p["ComputerName"]:
        try:
            h = ctx.world.host(target)
            up = ctx.world.reachable(h["name"])
            address = next((n["ipv4"] for n in h.get("nics", []) if n.get("ipv4")), target)
        except KeyError:
            h, up, address = None, False, target
        if p.switch("Quiet"):
            out.append(up)
            continue
        if not up:
            raise CmdletError(f"Testing connection to computer '{target}' failed: Error due to lack of resources",
                              "TestConnectionException", category="ResourceUnavailable", target=target,
                              exception_type="System.Net.NetworkInformation.PingException")
        for _ in range(int(p.get("Count") or 4)):
            out.append(PSObject({"Source": ctx.session.host, "Destination": target, "Address": target,
                                 "IPV4Address": address, "ResponseTime": 0, "StatusCode": 0,
                                 "BufferSize": int(p.get("BufferSize") or 32)},
                                type_name="System.Management.ManagementObject#root\\cimv2\\Win32_PingStatus"))
    return out


# ----------------------------------------------------------------------------- NetConnection
# NetworkCategory as MSFT_NetConnectionProfile returns it. A lab file sets a NIC's category with
# `network_category`; by default a domain member's networks are DomainAuthenticated and a workgroup
# server's Private (as an administrator sets them up for remoting: a Public profile limits WinRM to the
# local subnet, which is what a preflight looks for).
NETWORK_CATEGORY = {"Public": 0, "Private": 1, "DomainAuthenticated": 2}


def network_category(h: dict, nic: dict) -> str:
    if nic.get("network_category"):
        return str(nic["network_category"])
    return "DomainAuthenticated" if h.get("domain") else "Private"


@cmdlet("Get-NetConnectionProfile")
def get_net_connection_profile(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        h = ctx.host()
        nics = [n for n in _adapters(h) if n.get("ipv4") and n.get("status", "Up") == "Up"]
        raw = {str(n["name"]): n for n in h.get("nics", [])}
        out = []
        for n in nics:
            # a vEthernet adapter carries the profile of the NIC it took the address from
            source = next((r for r in raw.values() if f"({r['name']})" in n["name"]), raw.get(n["name"], n))
            category = network_category(h, source)
            name = h["domain"] if h.get("domain") and category == "DomainAuthenticated" else "Network"
            out.append(PSObject({
                "Name": name, "InterfaceAlias": n["name"], "InterfaceIndex": n["if_index"],
                "NetworkCategory": PSEnum("NetConnectionProfile.NetworkCategory", category, NETWORK_CATEGORY[category]),
                "IPv4Connectivity": PSEnum("NetConnectionProfile.IPv4Connectivity", "LocalNetwork", 3),
                "IPv6Connectivity": PSEnum("NetConnectionProfile.IPv6Connectivity", "NoTraffic", 1),
            }, type_name=f"{_STD}/MSFT_NetConnectionProfile"))
    for param in ("InterfaceAlias", "NetworkCategory"):
        wanted = p.get(param)
        if wanted is not None:
            out = [o for o in out if any(like(str(o.get_prop(param)), str(w)) for w in (wanted if isinstance(wanted, list) else [wanted]))]
    return out


# ----------------------------------------------------------------------------- DnsClient
def _resolve(world: Any, h: dict, name: str) -> str | None:
    """The IPv4 address `name` resolves to from host h, or None. Short names of the lab's hosts resolve
    (LLMNR/NetBIOS on the segment) unless the lab file sets `dns: broken` on h; a FQDN of the domain,
    and the domain name itself, resolve only while a DC of the domain with the DNS Server role is up."""
    if str(h.get("dns", "")).lower() == "broken":
        return None
    name = name.rstrip(".").lower()
    dom = world.domain()
    short, _, suffix = name.partition(".")
    def first_ip(host: dict) -> str | None:
        return next((n["ipv4"] for n in host.get("nics", []) if n.get("ipv4")), None)
    if suffix:
        if not dom or (suffix != dom["fqdn"].lower() and name != dom["fqdn"].lower()):
            return None
        dc = world.host(dom["controller"]) if dom.get("controller") else None
        if dc is None or not world.reachable(dc["name"]) or dc["features"].get("DNS", {}).get("state") != "Installed":
            return None
        if name == dom["fqdn"].lower():
            return first_ip(dc)
        try:
            target = world.host(short)
        except KeyError:
            return None
        return first_ip(target) if target.get("domain") == dom["fqdn"] or target.get("domain_controller") else None
    try:
        return first_ip(world.host(short))
    except KeyError:
        return None


@cmdlet("Resolve-DnsName")
def resolve_dns_name(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    name = str(p["Name"])
    with ctx.world.read():
        address = _resolve(ctx.world, ctx.host(), name)
    if address is None:
        raise CmdletError(f"{name} : DNS name does not exist", "DNS_ERROR_RCODE_NAME_ERROR", category="ResourceUnavailable",
                          target=name, exception_type="System.ComponentModel.Win32Exception")
    return [PSObject({"Name": name, "Type": PSEnum("Microsoft.DnsClient.Commands.RecordType", "A", 1), "TTL": 1200,
                      "Section": PSEnum("Microsoft.DnsClient.Commands.Section", "Answer", 1), "IPAddress": address,
                      "IP4Address": address, "DataLength": 4}, type_name="Microsoft.DnsClient.Commands.DnsRecord_A")]
