"""Emulated cmdlets: ServerManager features, domain membership and restarts, CIM classes, the time zone
(docs/DESIGN.md section 8, owner world-core).

Output objects carry Windows' property names and types; enums are PSEnum values of the real .NET
enum types. Services live in services.py, network adapters and addresses in network.py, CredSSP and
Invoke-Command in remoting.py, files and directories in filesystem.py.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Iterable

from hvsim.powershell.values import PSEnum, PSObject
from hvsim.world import features as feature_catalog
from hvsim.world import hyperv
from hvsim.world.core import parse_iso

from . import network
from .registry import BoundParameters, CmdletContext, CmdletError, cmdlet
from .wildcards import like

_SM = "Microsoft.Windows.ServerManager.Commands"
INSTALL_STATE = {"Available": 0, "Installed": 1, "InstallPending": 2, "Removed": 3, "UninstallPending": 4}
RESTART_STATE = {"No": 0, "Yes": 1, "Maybe": 2}
EXIT_CODE = {"Success": 0, "NoChangeNeeded": 1003, "SuccessRestartRequired": 3010, "Failed": 1000}

# Simulated durations (seconds before time_factor).
FEATURE_SECONDS = 30
JOIN_SECONDS = 10

# ----------------------------------------------------------------------------- ServerManager
def _feature_object(h: dict, name: str) -> PSObject:
    display, ftype, parent, tools, _ = feature_catalog.FEATURES[name]
    state = h["features"].get(name, {}).get("state", "Available")
    subs = [n for n, info in feature_catalog.FEATURES.items() if info[2] == name]
    depth = 1
    p = parent
    while p:
        depth += 1
        p = feature_catalog.FEATURES[p][2]
    return PSObject({
        "Name": name,
        "DisplayName": display,
        "Description": display,
        "Installed": state == "Installed",
        "InstallState": PSEnum(f"{_SM}.InstallState", state, INSTALL_STATE[state]),
        "FeatureType": ftype,
        "Path": display if parent is None else f"{feature_catalog.FEATURES[parent][0]}\\{display}",
        "Depth": depth,
        "DependsOn": [],
        "Parent": parent,
        "ServerComponentDescriptor": f"ServerComponent_{name.replace('-', '_')}",
        "SubFeatures": subs,
        "SystemService": sorted(feature_catalog.FEATURE_SERVICES.get(name, {})),
        "Notification": [],
        "BestPracticesModelId": None,
        "EventQuery": None,
        "PostConfigurationNeeded": False,
        "AdditionalInfo": {"MajorVersion": 10, "MinorVersion": 0, "NumericId": abs(hash(name)) % 1000,
                           "InstallName": name},
    }, type_name=f"{_SM}.Feature")


@cmdlet("Get-WindowsFeature")
def get_windows_feature(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        h = ctx.host()
        patterns = p.get("Name") or ["*"]
        out = []
        for name in feature_catalog.FEATURES:
            if any(like(name, pat) for pat in patterns):
                out.append(_feature_object(h, name))
        return out


def _resolve_features(ctx: CmdletContext, names: list[str], cmd: str) -> list[str]:
    resolved = []
    for raw in names:
        name = feature_catalog.known(str(raw))
        if name is None:
            raise CmdletError(
                f"ArgumentNotValid: The role, role service, or feature name is not valid: '{raw}'. The name was not found.",
                "NameDoesNotExist", category="InvalidArgument", target=raw, terminating=True,
                exception_type="System.Exception")
        resolved.append(name)
    return resolved


def _feature_result(name: str, success: bool, restart: bool, skipped: bool = False) -> PSObject:
    display = feature_catalog.FEATURES[name][0]
    return PSObject({"DisplayName": display, "Id": abs(hash(name)) % 1000, "Message": "", "Name": name,
                     "RestartNeeded": restart, "SkipReason": "AlreadyInstalled" if skipped else "NotSkipped",
                     "Success": success}, type_name=f"{_SM}.FeatureResult")


def _operation_result(results: list[PSObject], restart: bool, changed: bool) -> PSObject:
    code = "SuccessRestartRequired" if restart and changed else ("Success" if changed else "NoChangeNeeded")
    return PSObject({
        "Success": True,
        "RestartNeeded": PSEnum(f"{_SM}.RestartState", "Yes" if restart else "No", RESTART_STATE["Yes" if restart else "No"]),
        "FeatureResult": results,
        "ExitCode": PSEnum(f"{_SM}.FeatureOperationExitCode", code, EXIT_CODE[code]),
    }, type_name=f"{_SM}.FeatureOperationResult")


@cmdlet("Install-WindowsFeature")
def install_windows_feature(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    names = _resolve_features(ctx, list(p["Name"]), "Install-WindowsFeature")
    wanted: list[str] = []
    for name in names:
        chain = []
        parent = feature_catalog.FEATURES[name][2]
        while parent:
            chain.insert(0, parent)
            parent = feature_catalog.FEATURES[parent][2]
        extra = list(feature_catalog.FEATURES[name][3]) if p.switch("IncludeManagementTools") else []
        for tool in list(extra):
            tparent = feature_catalog.FEATURES[tool][2]
            while tparent:
                extra.insert(0, tparent)
                tparent = feature_catalog.FEATURES[tparent][2]
        if p.switch("IncludeAllSubFeature"):
            extra += [n for n, info in feature_catalog.FEATURES.items() if info[2] == name]
        for n in chain + [name] + extra:
            if n not in wanted:
                wanted.append(n)
    with ctx.world.read():
        h = ctx.host()
        todo = [n for n in wanted if h["features"].get(n, {}).get("state", "Available") in ("Available", "Removed")]
        removed = [n for n in todo if h["features"].get(n, {}).get("state") == "Removed"]
    if "Hyper-V" in todo and not hyperv.hypervisor_running(h):
        # in a VM whose processor does not expose virtualization extensions (no nested virtualization)
        raise CmdletError(
            "A prerequisite check for the Hyper-V feature failed.\r\n1. Hyper-V cannot be installed: The processor "
            "does not have required virtualization capabilities.", "Alteration_PrerequisiteCheck_Failed",
            category="InvalidOperation", target="Hyper-V", terminating=True, exception_type="System.Exception")
    if removed and not p.get("Source"):
        # the feature's payload was removed from the image (Features on Demand): it needs -Source
        raise CmdletError(
            "Installation of one or more roles, role services, or features failed. The source files could not be "
            "found. Use the \"Source\" option to specify the location of the files that are required to restore the "
            "feature. For more information on specifying a source location, see "
            "http://go.microsoft.com/fwlink/?LinkId=243077. Error: 0x800f081f", "DISMAPI_Error__Failed_To_Enable_Updates",
            category="NotSpecified", target=removed, terminating=True,
            exception_type="System.Exception")
    if todo:
        ctx.sleep(FEATURE_SECONDS * len(todo))
    results = []
    restart = False
    with ctx.world.transaction():
        h = ctx.host()
        pending = h.setdefault("pending", {})
        for n in todo:
            needs_restart = feature_catalog.FEATURES[n][4]
            if needs_restart:
                h["features"].setdefault(n, {})["state"] = "InstallPending"
                pending.setdefault("features", {})[n] = "install"
                restart = True
            else:
                h["features"].setdefault(n, {})["state"] = "Installed"
                for sname, (display, start) in feature_catalog.FEATURE_SERVICES.get(n, {}).items():
                    h["services"].setdefault(sname, {"display_name": display, "status": "Running" if start == "Automatic" else "Stopped",
                                                     "start_type": start})
            results.append(_feature_result(n, True, needs_restart))
        if restart:
            pending["restart_required"] = True
        already_pending = any(h["features"].get(n, {}).get("state") == "InstallPending" for n in wanted)
    if restart and p.switch("Restart"):
        ctx.world.schedule_restart(ctx.session.host, "Install-WindowsFeature -Restart")
    elif restart:
        ctx.warn("You must restart this server to finish the installation process.")
    return [_operation_result(results, restart or already_pending, bool(todo))]


@cmdlet("Uninstall-WindowsFeature")
def uninstall_windows_feature(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    names = _resolve_features(ctx, list(p["Name"]), "Uninstall-WindowsFeature")
    wanted = list(names)
    if p.switch("IncludeManagementTools"):
        for n in names:
            wanted += [t for t in feature_catalog.FEATURES[n][3] if t not in wanted]
    with ctx.world.read():
        h = ctx.host()
        todo = [n for n in wanted if h["features"].get(n, {}).get("state") in ("Installed", "InstallPending")]
    if todo:
        ctx.sleep(FEATURE_SECONDS * len(todo))
    results, restart = [], False
    with ctx.world.transaction():
        h = ctx.host()
        pending = h.setdefault("pending", {})
        for n in todo:
            state = h["features"][n]["state"]
            if state == "InstallPending":
                h["features"][n]["state"] = "Available"
                pending.get("features", {}).pop(n, None)
                results.append(_feature_result(n, True, False))
            elif feature_catalog.FEATURES[n][4]:
                h["features"][n]["state"] = "UninstallPending"
                pending.setdefault("features", {})[n] = "uninstall"
                restart = True
                results.append(_feature_result(n, True, True))
            else:
                h["features"][n]["state"] = "Removed" if p.switch("Remove") else "Available"
                for sname in feature_catalog.FEATURE_SERVICES.get(n, {}):
                    h["services"].pop(sname, None)
                results.append(_feature_result(n, True, False))
        if restart:
            pending["restart_required"] = True
    if restart and p.switch("Restart"):
        ctx.world.schedule_restart(ctx.session.host, "Uninstall-WindowsFeature -Restart")
    elif restart:
        ctx.warn("You must restart this server to finish the removal process.")
    return [_operation_result(results, restart, bool(todo))]


# ----------------------------------------------------------------------------- domain membership
def _credential(p: BoundParameters, name: str = "Credential") -> tuple[str, str] | None:
    cred = p.get(name)
    if cred is None:
        return None
    if isinstance(cred, str):
        return cred, ""
    user = cred.get_prop("UserName") if hasattr(cred, "get_prop") else getattr(cred, "user_name", "")
    pw = cred.get_prop("Password") if hasattr(cred, "get_prop") else None
    plain = pw.reveal() if hasattr(pw, "reveal") else ("" if pw is None else str(pw))
    return str(user), plain


def _join_error(h: dict, domain: str, reason: str) -> CmdletError:
    current = f"domain '{h['domain']}'" if h.get("domain") else f"workgroup '{h.get('workgroup') or 'WORKGROUP'}'"
    frm = "Domain" if h.get("domain") else "Workgroup"
    return CmdletError(
        f"Computer '{h['name']}' failed to join domain '{domain}' from its current {current} with following error "
        f"message: {reason}", f"FailToJoinDomainFrom{frm}", category="OperationStopped", target=h["name"],
        exception_type="System.InvalidOperationException")


def _effective_domain(h: dict) -> str | None:
    """The domain Windows reports: a join or unjoin shows at once, logons follow after the restart."""
    pend = (h.get("pending") or {}).get("domain")
    if pend is not None:
        return pend["fqdn"] if pend.get("action") == "join" else None
    return h.get("domain")


@cmdlet("Add-Computer")
def add_computer(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    world = ctx.world
    if p.parameter_set == "Workgroup":
        raise CmdletError("hvsim does not emulate joining a workgroup with Add-Computer; use Remove-Computer.",
                          "NotImplemented", category="NotImplemented", terminating=True)
    if p.get("ComputerName") and any(c.lower() not in (".", "localhost", ctx.session.host.lower())
                                     for c in p["ComputerName"]):
        raise CmdletError("hvsim emulates Add-Computer for the local computer only.", "NotImplemented",
                          category="NotImplemented", terminating=True)
    if p.get("NewName"):
        raise CmdletError("hvsim does not emulate renaming a computer while joining it (-NewName).", "NotImplemented",
                          category="NotImplemented", terminating=True)
    domain_name = str(p["DomainName"])
    with world.read():
        h = ctx.host()
        dom = world.domain()
        current = _effective_domain(h)
    if current and current.lower() == domain_name.lower() or (
            current and dom and domain_name.upper() == dom["netbios"] and current == dom["fqdn"]):
        raise CmdletError(f"Cannot add computer '{h['name']}' to domain '{domain_name}' because it is already in that domain.",
                          "AddComputerToSameDomain", category="InvalidOperation", target=h["name"],
                          exception_type="System.InvalidOperationException")
    ctx.sleep(JOIN_SECONDS)
    known_domain = dom and domain_name.lower() in (dom["fqdn"].lower(), dom["netbios"].lower())
    with world.read():
        # the DC is located through DNS: the joining machine's DNS client must ask the DC
        located = world.dc_up() and network.dns_client_uses_dc(world, ctx.host())
    if not known_domain or not located:
        raise _join_error(h, domain_name, "The specified domain either does not exist or could not be contacted.")
    cred = _credential(p)
    if cred is None or world.check_domain_credential(*cred) is None:
        raise _join_error(h, domain_name, "The user name or password is incorrect.")
    with world.transaction():
        h = ctx.host()
        dom = world.domain()
        h.setdefault("pending", {})["domain"] = {"action": "join", "fqdn": dom["fqdn"]}
        h["pending"]["restart_required"] = True
        dom["computers"][h["name"]] = {"dns_host_name": f"{h['name'].lower()}.{dom['fqdn']}", "enabled": True,
                                       "created": world.now().isoformat()}
    return _after_domain_change(ctx, p, h["name"], "Add-Computer")


@cmdlet("Remove-Computer")
def remove_computer(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    world = ctx.world
    with world.read():
        h = ctx.host()
        current = _effective_domain(h)
    if not current:
        raise CmdletError(f"Computer '{h['name']}' cannot be removed from the domain because it is not in a domain.",
                          "ComputerNotInDomain", category="InvalidOperation", target=h["name"],
                          exception_type="System.InvalidOperationException")
    cred = _credential(p, "UnjoinDomainCredential")
    if cred is not None and world.check_domain_credential(*cred) is None:
        raise CmdletError(f"Failed to unjoin computer '{h['name']}' from domain '{current}' with the following error "
                          f"message: The user name or password is incorrect.", "FailToUnjoinDomain",
                          category="OperationStopped", target=h["name"], exception_type="System.InvalidOperationException")
    ctx.sleep(JOIN_SECONDS)
    with world.transaction():
        h = ctx.host()
        dom = world.domain()
        pend = h.setdefault("pending", {})
        if pend.get("domain", {}).get("action") == "join" and not h.get("domain"):
            pend.pop("domain")
        else:
            pend["domain"] = {"action": "unjoin", "workgroup": str(p.get("WorkgroupName") or "WORKGROUP")}
        pend["restart_required"] = True
        if dom and h["name"] in dom["computers"]:
            dom["computers"][h["name"]]["enabled"] = False
    return _after_domain_change(ctx, p, h["name"], "Remove-Computer")


def _after_domain_change(ctx: CmdletContext, p: BoundParameters, name: str, command: str) -> list:
    """Add-/Remove-Computer's ending: -Restart restarts (shortly), else the restart warning; -PassThru's result."""
    if p.switch("Restart"):
        ctx.world.schedule_restart(ctx.session.host, f"{command} -Restart")
    else:
        ctx.warn(f"The changes will take effect after you restart the computer {name}.")
    if p.switch("PassThru"):
        return [PSObject({"HasSucceeded": True, "ComputerName": name},
                         type_name="Microsoft.PowerShell.Commands.ComputerChangeInfo")]
    return []


def _is_local(ctx: CmdletContext, name: str) -> bool:
    n = str(name).lower()
    n = n.rstrip(".") if len(n) > 1 else n
    if n in (".", "localhost", "127.0.0.1", "::1"):
        return True
    try:
        return ctx.world.host(n)["name"].lower() == ctx.session.host.lower()
    except KeyError:
        return False


@cmdlet("Restart-Computer")
def restart_computer(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    world = ctx.world
    targets = p.get("ComputerName") or ["."]
    for target in targets:
        if _is_local(ctx, target):
            # The restart starts just after this command, so that its WinRM reply still gets out.
            world.schedule_restart(ctx.session.host, "Restart-Computer")
            continue
        try:
            name = world.host(target)["name"]
        except KeyError:
            name = None
        if name is None or not world.reachable(name):
            raise CmdletError(f"Failed to restart the computer {target} with the following error message: The RPC server "
                              f"is unavailable. (Exception from HRESULT: 0x800706BA)", "RestartcomputerFailed",
                              category="OperationStopped", target=target, exception_type="System.InvalidOperationException")
        cred = _credential(p)
        if cred is None and not ctx.session.can_delegate or (
                cred is not None and world.check_credential(name, *cred) is None):
            raise CmdletError(f"Failed to restart the computer {target} with the following error message: Access is "
                              f"denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))", "RestartcomputerFailed",
                              category="OperationStopped", target=target, exception_type="System.InvalidOperationException")
        world.schedule_restart(name, f"Restart-Computer from {ctx.session.host}")
    return []


# ----------------------------------------------------------------------------- CIM
_CIMV2 = "Microsoft.Management.Infrastructure.CimInstance#root/cimv2"


def _domain_role(world: Any, h: dict) -> int:
    if h.get("domain_controller"):
        return 5
    return 3 if _effective_domain(h) else 2


def _win32_operating_system(world: Any, h: dict) -> PSObject:
    os_info = h["os"]
    product_type = 2 if h.get("domain_controller") else (1 if os_info.get("product_type") == "workstation" else 3)
    return PSObject({
        "Caption": os_info["caption"],
        "Version": os_info["version"],
        "BuildNumber": os_info["build"],
        "CSName": h["name"],
        "LastBootUpTime": parse_iso(h["last_boot"]),
        "LocalDateTime": world.now() + _dt.timedelta(seconds=float(h.get("clock_skew_seconds") or 0)),
        "OSArchitecture": "64-bit",
        "OSType": 18,
        "ProductType": product_type,
        "Manufacturer": "Microsoft Corporation",
        "Name": f"{os_info['caption']}|C:\\Windows|\\Device\\Harddisk0\\Partition2",
        "Status": "OK",
        "SystemDirectory": "C:\\Windows\\system32",
        "SystemDrive": "C:",
        "WindowsDirectory": "C:\\Windows",
        "TotalVisibleMemorySize": 8388608,
        "FreePhysicalMemory": 6291456,
    }, type_name=f"{_CIMV2}/Win32_OperatingSystem")


def _win32_computer_system(world: Any, h: dict) -> PSObject:
    domain = _effective_domain(h)
    return PSObject({
        "Name": h["name"],
        "Domain": domain or (h.get("workgroup") or "WORKGROUP"),
        "PartOfDomain": bool(domain),
        "DNSHostName": h["name"],
        "Workgroup": None if domain else (h.get("workgroup") or "WORKGROUP"),
        "DomainRole": _domain_role(world, h),
        "Manufacturer": "Microsoft Corporation",
        "Model": "Virtual Machine",
        "NumberOfLogicalProcessors": 4,
        "NumberOfProcessors": 1,
        "TotalPhysicalMemory": 8589934592,
        "HypervisorPresent": True,
        "PrimaryOwnerName": "Windows User",
        "SystemType": "x64-based PC",
        "Status": "OK",
    }, type_name=f"{_CIMV2}/Win32_ComputerSystem")


def _win32_service(world: Any, h: dict) -> list[PSObject]:
    out = []
    for name, svc in sorted(h["services"].items(), key=lambda kv: kv[0].lower()):
        mode = {"Automatic": "Auto"}.get(svc["start_type"], svc["start_type"])
        out.append(PSObject({"Name": name, "DisplayName": svc.get("display_name", name), "State": svc["status"],
                             "StartMode": mode, "Started": svc["status"] == "Running", "Status": "OK"},
                            type_name=f"{_CIMV2}/Win32_Service"))
    return out


CIM_CLASSES = {
    "win32_operatingsystem": lambda w, h: [_win32_operating_system(w, h)],
    "win32_computersystem": lambda w, h: [_win32_computer_system(w, h)],
    "win32_service": _win32_service,
}


def _filter(objs: list[PSObject], text: str | None) -> list[PSObject]:
    """WQL filters of the form  Prop = 'value' [AND ...]  (what our scripts use)."""
    if not text:
        return objs
    clauses = re.split(r"\s+and\s+", text.strip(), flags=re.I)
    tests = []
    for clause in clauses:
        m = re.fullmatch(r"\s*(\w+)\s*(=|<>|!=|like)\s*(?:'([^']*)'|\"([^\"]*)\"|(\S+))\s*", clause, re.I)
        if not m:
            raise CmdletError("Invalid query ", "HRESULT 0x80041017", category="InvalidArgument", target=text)
        prop, op = m.group(1), m.group(2).lower()
        value = next(g for g in (m.group(3), m.group(4), m.group(5)) if g is not None)
        tests.append((prop, op, value))

    def ok(o: PSObject) -> bool:
        for prop, op, value in tests:
            actual = o.get_prop(prop)
            actual_s = str(actual).lower() if not isinstance(actual, bool) else str(actual).lower()
            if op == "=" and actual_s != value.lower():
                return False
            if op in ("<>", "!=") and actual_s == value.lower():
                return False
            if op == "like" and not like(actual_s, value.replace("%", "*").replace("_", "?")):
                return False
        return True
    return [o for o in objs if ok(o)]


@cmdlet("Get-CimInstance")
def get_cim_instance(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    class_name = p.get("ClassName")
    if class_name is None:
        raise CmdletError("hvsim emulates Get-CimInstance -ClassName only.", "NotImplemented",
                          category="NotImplemented", terminating=True)
    builder = CIM_CLASSES.get(str(class_name).lower())
    if builder is None:
        raise CmdletError("Invalid class ", "HRESULT 0x80041010", category="MetadataError", target=class_name)
    hosts = p.get("ComputerName") or [ctx.session.host]
    out = []
    for target in hosts:
        name = ctx.session.host if _is_local(ctx, target) else None
        if name is None:
            try:
                name = ctx.world.host(target)["name"]
            except KeyError:
                name = None
            if name is None or not ctx.world.reachable(name):
                raise CmdletError("WinRM cannot complete the operation. Verify that the specified computer name is valid, "
                                  "that the computer is accessible over the network, and that a firewall exception for "
                                  "the WinRM service is enabled and allows access from this computer. By default, the "
                                  "WinRM firewall exception for public profiles limits access to remote computers "
                                  "within the same local subnet. ", "HRESULT 0x80338126", category="ConnectionError",
                                  target=target)
        with ctx.world.read():
            out += _filter(builder(ctx.world, ctx.world.host(name)), p.get("Filter"))
    return out


# ----------------------------------------------------------------------------- time zone
# A few of Windows' time zones (Id: display name, standard name, daylight name, UTC offset in minutes,
# daylight saving). A host's zone is host["time_zone"] (an Id; "UTC" when the lab file gives none).
TIME_ZONES: dict[str, tuple[str, str, str, int, bool]] = {
    "UTC": ("(UTC) Coordinated Universal Time", "Coordinated Universal Time", "Coordinated Universal Time", 0, False),
    "GMT Standard Time": ("(UTC+00:00) Dublin, Edinburgh, Lisbon, London", "GMT Standard Time",
                          "GMT Daylight Time", 0, True),
    "W. Europe Standard Time": ("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
                                "W. Europe Standard Time", "W. Europe Daylight Time", 60, True),
    "Romance Standard Time": ("(UTC+01:00) Brussels, Copenhagen, Madrid, Paris", "Romance Standard Time",
                              "Romance Daylight Time", 60, True),
    "Eastern Standard Time": ("(UTC-05:00) Eastern Time (US & Canada)", "Eastern Standard Time",
                              "Eastern Daylight Time", -300, True),
    "Central Standard Time": ("(UTC-06:00) Central Time (US & Canada)", "Central Standard Time",
                              "Central Daylight Time", -360, True),
    "Pacific Standard Time": ("(UTC-08:00) Pacific Time (US & Canada)", "Pacific Standard Time",
                              "Pacific Daylight Time", -480, True),
    "Tokyo Standard Time": ("(UTC+09:00) Osaka, Sapporo, Tokyo", "Tokyo Standard Time", "Tokyo Daylight Time",
                            540, False),
}
_TZ_ERROR = "TimeZoneNotFound"


def _time_zone_object(tz_id: str) -> PSObject:
    display, standard, daylight, minutes, dst = TIME_ZONES[tz_id]
    sign, m = ("-" if minutes < 0 else ""), abs(minutes)
    offset = PSObject({"Hours": int(minutes / 60), "Minutes": minutes % 60 if minutes >= 0 else -(m % 60),
                       "TotalMinutes": float(minutes), "TotalHours": minutes / 60, "Ticks": minutes * 600_000_000},
                      type_name="System.TimeSpan", methods={"ToString": lambda: f"{sign}{m // 60:02d}:{m % 60:02d}:00"})
    return PSObject({"Id": tz_id, "DisplayName": display, "StandardName": standard, "DaylightName": daylight,
                     "BaseUtcOffset": offset, "SupportsDaylightSavingTime": dst},
                    type_name="System.TimeZoneInfo", methods={"ToString": lambda: display})


def _zone_id(text: str) -> str | None:
    return next((z for z in TIME_ZONES if z.lower() == str(text).lower()), None)


def _zone_not_found(tz_id: str, terminating: bool) -> CmdletError:
    # .NET's TimeZoneNotFoundException text for an unknown Id
    return CmdletError(f"The time zone ID '{tz_id}' was not found on the local computer.", _TZ_ERROR,
                       category="InvalidArgument", target="Id", terminating=terminating,
                       exception_type="System.TimeZoneNotFoundException")


def _zones_named(name: str) -> list[str]:
    return [z for z, info in TIME_ZONES.items() if like(info[1], name) or like(info[2], name)]


@cmdlet("Get-TimeZone")
def get_time_zone(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    if p.switch("ListAvailable"):
        return [_time_zone_object(z) for z in TIME_ZONES]
    if p.get("Id") is not None:
        out = []
        for tz in p["Id"]:
            if _zone_id(tz) is None:
                raise _zone_not_found(str(tz), terminating=False)
            out.append(_time_zone_object(_zone_id(tz)))
        return out
    if p.get("Name") is not None:
        out = []
        for name in p["Name"]:
            found = _zones_named(str(name))
            if not found:
                # PowerShell's TimeZoneNameNotFound resource: no source at hand gives its wording
                raise CmdletError(f'Time zone "{name}" not found.', _TZ_ERROR, category="InvalidArgument",
                                  target="Name", exception_type="System.TimeZoneNotFoundException")
            out += [_time_zone_object(z) for z in found]
        return out
    with ctx.world.read():
        return [_time_zone_object(_zone_id(ctx.host().get("time_zone") or "UTC") or "UTC")]


@cmdlet("Set-TimeZone")
def set_time_zone(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    if p.get("Id") is not None:
        tz = _zone_id(p["Id"])
        if tz is None:
            raise _zone_not_found(str(p["Id"]), terminating=True)
    elif p.get("InputObject") is not None:
        obj = p["InputObject"]
        tz = _zone_id(obj.get_prop("Id") if isinstance(obj, PSObject) else obj)
        if tz is None:
            raise _zone_not_found(str(obj), terminating=True)
    else:
        found = _zones_named(str(p["Name"]))
        if len(found) != 1:
            if found:
                raise CmdletError(f'Multiple time zones match "{p["Name"]}".', "MultipleMatchingTimeZones",
                                  category="InvalidArgument", target="Name", terminating=True,
                                  exception_type="System.Management.Automation.PSArgumentException")
            raise CmdletError(f'Time zone "{p["Name"]}" not found.', _TZ_ERROR, category="InvalidArgument",
                              target="Name", terminating=True, exception_type="System.TimeZoneNotFoundException")
        tz = found[0]
    with ctx.world.transaction():
        ctx.host()["time_zone"] = tz
    return [_time_zone_object(tz)] if p.switch("PassThru") else []
