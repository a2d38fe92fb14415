"""Emulated cmdlets: Get-NetAdapter / Rename-NetAdapter (NetAdapter), Get-/New-/Remove-NetIPAddress
(NetTCPIP), Test-Connection, Get-/Set-NetConnectionProfile (NetConnection), Resolve-DnsName and
Get-/Set-DnsClientServerAddress (DnsClient).

Adapters come from `host["nics"]` plus a `vEthernet (<switch>)` adapter for each Hyper-V switch shared
with the management OS. NIC addresses are data only: nothing ever connects to them (a guest's static
loopback address is the exception: hvsim.world's guest hosts bind a WinRM listener there).

A NIC record keeps one IPv4 address in "ipv4"/"prefix" (the one the rest of hvsim reads); the
configuration cmdlets add, per NIC, "ipv4_more" (further addresses: [{"ipv4", "prefix"}]), "gateway",
"dns_servers" and "network_category". The vEthernet adapters are derived from the switches, so the
cmdlets that change an adapter refuse them (not modelled) rather than pretend.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Iterable

from hvsim.powershell.values import PSEnum, PSObject, TypedArray

from .registry import BoundParameters, CmdletContext, CmdletError, cmdlet
from .wildcards import has_wildcard, like

_STD = "Microsoft.Management.Infrastructure.CimInstance#ROOT/StandardCimv2"


def _adapters(h: dict) -> list[dict]:
    """Physical NICs plus a vEthernet adapter for each Hyper-V switch shared with the management OS.

    An external switch shared with the management OS takes over its NIC's IP address (Windows moves
    the address to the vEthernet adapter, which also takes the NIC's MAC address); the NIC stays
    listed, without an address."""
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
                    "if_index": 20 + 2 * i,
                    "mac": (nic or {}).get("mac") or sw.get("mac") or f"00-15-5D-00-0A-{i + 1:02X}", "status": "Up",
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


_ORIGINS = {"Manual": 1, "WellKnown": 2, "Dhcp": 3, "Link": 4}


def _ip_object(alias: str, index: int, ip: str, prefix: int, family: str = "IPv4", origin: str = "Manual",
               store: str = "ActiveStore") -> PSObject:
    """An MSFT_NetIPAddress. origin: "Manual" (static), "WellKnown" (loopback) or "Link" (APIPA, whose
    prefix is WellKnown and suffix Link)."""
    prefix_origin = "WellKnown" if origin in ("WellKnown", "Link") else origin
    return PSObject({
        "IPAddress": ip,
        "InterfaceIndex": index,
        "InterfaceAlias": alias,
        "AddressFamily": PSEnum("AddressFamily", family, 2 if family == "IPv4" else 23),
        "Type": PSEnum("Type", "Unicast", 1),
        "PrefixLength": prefix,
        "PrefixOrigin": PSEnum("PrefixOrigin", prefix_origin, _ORIGINS[prefix_origin]),
        "SuffixOrigin": PSEnum("SuffixOrigin", origin, _ORIGINS[origin]),
        "AddressState": PSEnum("AddressState", "Preferred", 4),
        "ValidLifetime": None,
        "PreferredLifetime": None,
        "SkipAsSource": False,
        "PolicyStore": store,
    }, type_name=f"{_STD}/MSFT_NetIPAddress")


def _addresses(a: dict) -> list[tuple[str, int]]:
    """(address, prefix) of an adapter: its main IPv4 and any added with New-NetIPAddress."""
    out = [(str(a["ipv4"]), int(a.get("prefix", 24)))] if a.get("ipv4") else []
    return out + [(str(x["ipv4"]), int(x["prefix"])) for x in a.get("ipv4_more") or []]


def _origin(ip: str) -> str:
    return "Link" if ip.startswith("169.254.") else "Manual"


def _all_ip_objects(h: dict) -> list[PSObject]:
    objs = [_ip_object(a["name"], a["if_index"], ip, prefix, origin=_origin(ip))
            for a in _adapters(h) for ip, prefix in _addresses(a)]
    objs.append(_ip_object("Loopback Pseudo-Interface 1", 1, "127.0.0.1", 8, origin="WellKnown"))
    return objs


def _filter(objs: list[PSObject], p: BoundParameters, checks: tuple[str, ...], cls: str) -> list[PSObject]:
    """CDXML query parameters: each value must match (wildcards in strings), else the not-found error."""
    for param in checks:
        wanted = p.get(param)
        if wanted is None:
            continue
        picked = []
        for w in wanted if isinstance(wanted, list) else [wanted]:
            hits = [o for o in objs if (str(o.get_prop(param)).lower() == str(w).lower()
                                        or (isinstance(w, str) and like(str(o.get_prop(param)), w)))]
            if not hits and not (isinstance(w, str) and has_wildcard(w)):
                raise _cdxml_not_found(cls, param, w, "")
            picked += [o for o in hits if o not in picked]
        objs = picked
    return objs


@cmdlet("Get-NetIPAddress")
def get_net_ip_address(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        objs = _all_ip_objects(ctx.host())
    return _filter(objs, p, ("IPAddress", "InterfaceAlias", "InterfaceIndex", "AddressFamily", "PrefixLength"),
                   "MSFT_NetIPAddress")


def _raw_nic(h: dict, p: BoundParameters, cls: str = "MSFT_NetAdapter",
             missing: CmdletError | None = None) -> dict:
    """The NIC record that -InterfaceIndex / -InterfaceAlias (one value) names; else `missing`, or the
    CDXML query's not-found error for `cls`. A vEthernet adapter is derived from its switch: changing
    one is not modelled, and says so."""
    if p.get("InterfaceIndex") is not None:
        key, value = "if_index", p["InterfaceIndex"]
        value = value[0] if isinstance(value, list) else value
        prop = "InterfaceIndex"
    else:
        key, value = "name", p["InterfaceAlias"]
        value = value[0] if isinstance(value, list) else value
        prop = "InterfaceAlias"
    def same(n: dict) -> bool:
        return int(n[key]) == int(value) if key == "if_index" else str(n[key]).lower() == str(value).lower()
    nic = next((n for n in h.get("nics", []) if same(n)), None)
    if nic is None:
        if any(same(a) for a in _adapters(h)):
            raise CmdletError("hvsim does not model changing the settings of a vEthernet adapter.", "NotImplemented",
                              category="NotImplemented", target=value)
        raise missing or _cdxml_not_found(cls, prop, value, "")
    return nic


def _windows_error(message: str, code: int, category: str, target: Any) -> CmdletError:
    # CDXML cmdlets report a Win32 error as "Windows System Error <code>,<cmdlet>"
    return CmdletError(message, f"Windows System Error {code}", category=category, target=target)


@cmdlet("New-NetIPAddress")
def new_net_ip_address(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    ip = str(p["IPAddress"])
    family = str(p.get("AddressFamily") or ("IPv6" if ":" in ip else "IPv4"))
    if family != "IPv4" or ":" in ip:
        raise CmdletError("hvsim models IPv4 addresses only.", "NotImplemented", category="NotImplemented", target=ip)
    try:
        parsed = ipaddress.IPv4Address(ip)
    except ValueError:
        raise _windows_error("The parameter is incorrect.", 87, "InvalidArgument", "MSFT_NetIPAddress") from None
    prefix = int(p["PrefixLength"]) if p.get("PrefixLength") is not None else 32
    if prefix > 32:
        raise _windows_error("The parameter is incorrect.", 87, "InvalidArgument", "MSFT_NetIPAddress")
    gateway = p.get("DefaultGateway")
    with ctx.world.transaction():
        h = ctx.host()
        # New-NetIPAddress creates an instance (no query): an interface that is not there is the Win32
        # error ERROR_NOT_FOUND, as when a new switch's vEthernet adapter is not up yet
        nic = _raw_nic(h, p, missing=_windows_error("Element not found.", 1168, "ObjectNotFound",
                                                    "MSFT_NetIPAddress"))
        if any(addr == ip for a in h.get("nics", []) for addr, _ in _addresses(a)):
            # the wording Windows gives for an address already on the machine
            raise _windows_error("Instance MSFT_NetIPAddress already exists", 87, "InvalidArgument",
                                 "MSFT_NetIPAddress")
        if gateway and nic.get("gateway"):
            raise _windows_error("Instance DefaultGateway already exists", 87, "InvalidArgument",
                                 "MSFT_NetRoute")
        if nic.get("ipv4") and not str(nic["ipv4"]).startswith("169.254."):
            nic.setdefault("ipv4_more", []).append({"ipv4": str(parsed), "prefix": prefix})
        else:
            # a static address turns DHCP off on the interface: the APIPA address goes away
            nic["ipv4"], nic["prefix"] = str(parsed), prefix
        if gateway:
            nic["gateway"] = str(gateway)
        alias, index = nic["name"], nic["if_index"]
    # Windows writes the address to the active and the persistent store and returns both
    return [_ip_object(alias, index, ip, prefix, store=store) for store in ("ActiveStore", "PersistentStore")]


@cmdlet("Remove-NetIPAddress")
def remove_net_ip_address(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.transaction():
        h = ctx.host()
        objs = [o for o in _all_ip_objects(h) if o.get_prop("InterfaceIndex") != 1]
        if p.get("InputObject") is not None:
            wanted = {(str(o.get_prop("IPAddress")), int(o.get_prop("InterfaceIndex"))) for o in p["InputObject"]}
            objs = [o for o in objs if (o.get_prop("IPAddress"), o.get_prop("InterfaceIndex")) in wanted]
        else:
            objs = _filter(objs, p, ("IPAddress", "InterfaceAlias", "InterfaceIndex", "AddressFamily",
                                     "PrefixLength"), "MSFT_NetIPAddress")
        removed = []
        for o in objs:
            nic = next((n for n in h.get("nics", []) if n["if_index"] == o.get_prop("InterfaceIndex")), None)
            if nic is None:
                raise CmdletError("hvsim does not model changing the settings of a vEthernet adapter.",
                                  "NotImplemented", category="NotImplemented", target=o.get_prop("IPAddress"))
            ip = o.get_prop("IPAddress")
            more = nic.get("ipv4_more") or []
            if nic.get("ipv4") == ip:
                nic["ipv4"], nic["prefix"] = (more[0]["ipv4"], more[0]["prefix"]) if more else (None, 24)
                nic["ipv4_more"] = more[1:]
            else:
                nic["ipv4_more"] = [x for x in more if x["ipv4"] != ip]
            if p.get("DefaultGateway") and str(nic.get("gateway")) == str(p["DefaultGateway"]):
                nic["gateway"] = None
            removed.append(o)
    return removed if p.switch("PassThru") else []


@cmdlet("Rename-NetAdapter")
def rename_net_adapter(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    new = str(p["NewName"])
    with ctx.world.transaction():
        h = ctx.host()
        if p.get("InputObject") is not None:
            names = [str(o.get_prop("Name")) for o in p["InputObject"]]
        elif p.get("InterfaceDescription") is not None:
            names = [a["name"] for a in _adapters(h) for d in p["InterfaceDescription"]
                     if like(a["description"], str(d))]
        else:
            names = [a["name"] for a in _adapters(h) for n in p["Name"] if like(a["name"], str(n))]
            missing = [n for n in p["Name"] if not has_wildcard(str(n)) and
                       not any(a["name"].lower() == str(n).lower() for a in _adapters(h))]
            if missing:
                raise _cdxml_not_found("MSFT_NetAdapter", "Name", missing[0], "Rename-NetAdapter")
        out = []
        for name in names:
            nic = _raw_nic(h, BoundParameters(InterfaceAlias=name))
            if nic["name"] == new:
                out.append(nic)
                continue
            if any(a["name"].lower() == new.lower() and a is not nic for a in h.get("nics", [])) or \
                    any(a["name"].lower() == new.lower() for a in _adapters(h) if a.get("virtual")):
                # no source gives this wording; Windows refuses a name another adapter has
                raise _windows_error(f"The name '{new}' is already used by another network adapter.", 183,
                                     "ResourceExists", name)
            for sw in ((h.get("hyperv") or {}).get("switches") or {}).values():
                if str(sw.get("net_adapter") or "").lower() == nic["name"].lower():
                    sw["net_adapter"] = new     # an external switch stays bound to its (renamed) NIC
            nic["name"] = new
            out.append(nic)
        objs = [_adapter_object(n) for n in out]
    return objs if p.switch("PassThru") else []


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
    """A category set with Set-NetConnectionProfile applies until the machine is a domain member: then
    Windows identifies the network as the domain's. One the lab file sets stays (a preflight case)."""
    if nic.get("network_category") and not (h.get("domain") and nic.get("network_category_by") == "cmdlet"):
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


@cmdlet("Set-NetConnectionProfile")
def set_net_connection_profile(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    category = str(p["NetworkCategory"]) if p.get("NetworkCategory") is not None else None
    if category == "DomainAuthenticated":
        raise CmdletError("Unable to set NetworkCategory to 'DomainAuthenticated'. This NetworkCategory type will be "
                          "set automatically when authenticated to a domain network.", "Windows System Error 87",
                          category="InvalidArgument", target="MSFT_NetConnectionProfile")
    profiles = get_net_connection_profile(ctx, BoundParameters())
    if p.get("InputObject") is not None:
        wanted = {int(o.get_prop("InterfaceIndex")) for o in p["InputObject"]}
        profiles = [o for o in profiles if o.get_prop("InterfaceIndex") in wanted]
    else:
        profiles = _filter(profiles, p, ("Name", "InterfaceAlias", "InterfaceIndex"), "MSFT_NetConnectionProfile")
    with ctx.world.transaction():
        h = ctx.host()
        for o in profiles:
            if category is None:
                continue
            nic = next((n for n in h.get("nics", []) if n["if_index"] == o.get_prop("InterfaceIndex")
                        or f"({n['name']})" in str(o.get_prop("InterfaceAlias"))), None)
            if nic is not None and not (h.get("domain") and network_category(h, nic) == "DomainAuthenticated"):
                nic["network_category"] = category   # a domain network stays DomainAuthenticated
                nic["network_category_by"] = "cmdlet"
    if not (p.switch("PassThru") and profiles):
        return []
    return get_net_connection_profile(ctx, BoundParameters(InterfaceAlias=[o.get_prop("InterfaceAlias")
                                                                           for o in profiles]))


# ----------------------------------------------------------------------------- DnsClient
def dns_client_uses_dc(world: Any, h: dict) -> bool:
    """Whether h's DNS client asks the domain's DNS server (the DC, with the DNS Server role).

    A host whose NIC records carry no "dns_servers" is one the lab file set up to use the DC (True).
    Once Set-DnsClientServerAddress has run, or for a new machine whose NICs start with none, one of
    the addresses must be the DC's (or, on the DC itself, loopback)."""
    nics = h.get("nics", [])
    if not any("dns_servers" in n for n in nics):
        return True
    dom = world.domain()
    dc = world.host(dom["controller"]) if dom and dom.get("controller") else None
    if dc is None or dc["features"].get("DNS", {}).get("state") != "Installed":
        return False
    servers = {str(s) for n in nics for s in n.get("dns_servers") or []}
    dc_addresses = {addr for n in dc.get("nics", []) for addr, _ in _addresses(n)}
    if h["name"].lower() == dc["name"].lower():
        dc_addresses |= {"127.0.0.1", "::1"}
    return bool(servers & dc_addresses)


def _resolve(world: Any, h: dict, name: str) -> str | None:
    """The IPv4 address `name` resolves to from host h, or None. Short names of the lab's hosts resolve
    (LLMNR/NetBIOS on the segment) unless the lab file sets `dns: broken` on h; a FQDN of the domain,
    and the domain name itself, resolve only while a DC of the domain with the DNS Server role is up and
    h's DNS client uses it (dns_client_uses_dc)."""
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
        if not dns_client_uses_dc(world, h):
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


def _dns_objects(h: dict) -> list[PSObject]:
    """MSFT_DNSClientServerAddress: one IPv4 and one IPv6 object per adapter, as Windows lists them."""
    out = []
    for a in _adapters(h):
        servers = list(a.get("dns_servers") or [])
        for number, addresses in ((2, servers), (23, [])):          # AddressFamily: 2 IPv4, 23 IPv6
            out.append(PSObject({"InterfaceAlias": a["name"], "InterfaceIndex": a["if_index"],
                                 "AddressFamily": number,
                                 "ServerAddresses": TypedArray(addresses, type_name="System.String[]"),
                                 "ElementName": a["name"]}, type_name=f"{_STD}/MSFT_DNSClientServerAddress"))
    out.append(PSObject({"InterfaceAlias": "Loopback Pseudo-Interface 1", "InterfaceIndex": 1, "AddressFamily": 2,
                         "ServerAddresses": TypedArray([], type_name="System.String[]"),
                         "ElementName": "Loopback Pseudo-Interface 1"},
                        type_name=f"{_STD}/MSFT_DNSClientServerAddress"))
    return out


@cmdlet("Get-DnsClientServerAddress")
def get_dns_client_server_address(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        objs = _dns_objects(ctx.host())
    if p.get("AddressFamily") is not None:
        numbers = {2 if str(f) == "IPv4" else 23 for f in p["AddressFamily"]}
        objs = [o for o in objs if o.get_prop("AddressFamily") in numbers]
    return _filter(objs, p, ("InterfaceAlias", "InterfaceIndex"), "MSFT_DNSClientServerAddress")


@cmdlet("Set-DnsClientServerAddress")
def set_dns_client_server_address(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    servers = [str(x) for x in p.get("ServerAddresses") or []]
    for server in servers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise _windows_error("The parameter is incorrect.", 87, "InvalidArgument", server) from None
    with ctx.world.transaction():
        h = ctx.host()
        if p.get("InputObject") is not None:
            aliases = sorted({str(o.get_prop("InterfaceAlias")) for o in p["InputObject"]})
            nics = [_raw_nic(h, BoundParameters(InterfaceAlias=a)) for a in aliases]
        else:
            key = "InterfaceIndex" if p.get("InterfaceIndex") is not None else "InterfaceAlias"
            nics = [_raw_nic(h, BoundParameters({key: v}), "MSFT_DNSClientServerAddress") for v in p[key]]
        for nic in nics:
            nic["dns_servers"] = [] if p.switch("ResetServerAddresses") else servers
        objs = [o for o in _dns_objects(h) if o.get_prop("InterfaceIndex") in {n["if_index"] for n in nics}]
    return objs if p.switch("PassThru") else []
