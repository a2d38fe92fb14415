"""Emulated cmdlets: Get-Service, Set-Service, Start-Service, Stop-Service (Microsoft.PowerShell.Management).

Services live in `host["services"]` ({name: {display_name, status, start_type}}); a boot starts the
Automatic ones (hvsim/world/core.py). Objects are ServiceController with Status / StartType enums.
"""
from __future__ import annotations

from typing import Any, Iterable

from hvsim.powershell.values import PSEnum, PSObject

from .registry import BoundParameters, CmdletContext, CmdletError, cmdlet
from .wildcards import has_wildcard, like

SERVICE_STATUS = {"Stopped": 1, "StartPending": 2, "StopPending": 3, "Running": 4, "Paused": 7}
START_MODE = {"Boot": 0, "System": 1, "Automatic": 2, "Manual": 3, "Disabled": 4}
SERVICE_SECONDS = 2   # simulated seconds to start or stop a service

def _service_object(name: str, svc: dict) -> PSObject:
    status = svc["status"]
    start = svc["start_type"]
    return PSObject({
        "Name": name,
        "DisplayName": svc.get("display_name", name),
        "Status": PSEnum("System.ServiceProcess.ServiceControllerStatus", status, SERVICE_STATUS[status]),
        "StartType": PSEnum("System.ServiceProcess.ServiceStartMode", start, START_MODE[start]),
        "ServiceName": name,
        "CanStop": status == "Running",
        "CanPauseAndContinue": False,
        "ServiceType": PSEnum("System.ServiceProcess.ServiceType", "Win32OwnProcess", 16),
        "MachineName": ".",
        "DependentServices": [],
        "ServicesDependedOn": [],
    }, type_name="System.ServiceProcess.ServiceController")


def _not_found(name: str) -> CmdletError:
    return CmdletError(f"Cannot find any service with service name '{name}'.", "NoServiceFoundForGivenName",
                       category="ObjectNotFound", target=name,
                       exception_type="Microsoft.PowerShell.Commands.ServiceCommandException")


def _select_services(ctx: CmdletContext, p: BoundParameters, errors: list[CmdletError]) -> list[str]:
    """Service names selected by -Name / -DisplayName / -InputObject (wildcards allowed)."""
    services = ctx.host()["services"]
    picked: list[str] = []
    if p.get("InputObject") is not None:
        objs = p["InputObject"] if isinstance(p["InputObject"], list) else [p["InputObject"]]
        names = [str(o.get_prop("Name")) if hasattr(o, "get_prop") else str(o) for o in objs]
        key = "name"
    elif p.get("DisplayName") is not None:
        names = p["DisplayName"] if isinstance(p["DisplayName"], list) else [p["DisplayName"]]
        key = "display"
    else:
        names = p.get("Name") or ["*"]
        if isinstance(names, str):
            names = [names]
        key = "name"
    for pattern in names:
        hits = [s for s, svc in services.items()
                if like(s if key == "name" else svc.get("display_name", s), pattern)]
        if not hits and not has_wildcard(pattern):
            if key == "display":
                errors.append(CmdletError(f"Cannot find any service with display name '{pattern}'.",
                                          "NoServiceFoundForGivenDisplayName", category="ObjectNotFound", target=pattern,
                                          exception_type="Microsoft.PowerShell.Commands.ServiceCommandException"))
            else:
                errors.append(_not_found(pattern))
        for s in sorted(hits, key=str.lower):
            if s not in picked:
                picked.append(s)
    include = p.get("Include")
    exclude = p.get("Exclude")
    if include:
        picked = [s for s in picked if any(like(s, i) for i in include)]
    if exclude:
        picked = [s for s in picked if not any(like(s, x) for x in exclude)]
    return picked


@cmdlet("Get-Service")
def get_service(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    errors: list[CmdletError] = []
    with ctx.world.read():
        names = _select_services(ctx, p, errors)
        services = ctx.host()["services"]
        out = [_service_object(n, services[n]) for n in names]
    if errors:
        # A name that matches nothing is an error (non-terminating on Windows, which still returns the
        # services it found; the registry contract has one outcome per call, so the error wins).
        raise errors[0]
    return out


@cmdlet("Set-Service")
def set_service(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    name = p.get("Name")
    if name is None and p.get("InputObject") is not None:
        name = p["InputObject"].get_prop("Name")
    with ctx.world.transaction():
        services = ctx.host()["services"]
        real = next((s for s in services if s.lower() == str(name).lower()), None)
        if real is None:
            raise CmdletError(f"Service '{name}' was not found on computer '.'.", "InvalidOperationException",
                              category="InvalidOperation", target=name, exception_type="System.InvalidOperationException")
        svc = services[real]
        if p.get("StartupType") is not None:
            svc["start_type"] = p["StartupType"]
        if p.get("DisplayName") is not None:
            svc["display_name"] = p["DisplayName"]
        if p.get("Status") is not None:
            if p["Status"] == "Running" and svc["start_type"] == "Disabled":
                raise _cannot_start(real, svc, "Set-Service")
            svc["status"] = "Stopped" if p["Status"] == "Stopped" else p["Status"]
        result = _service_object(real, svc)
    return [result] if p.switch("PassThru") else []


def _cannot_start(name: str, svc: dict, cmd: str) -> CmdletError:
    display = svc.get("display_name", name)
    return CmdletError(f"Service '{display} ({name})' cannot be started due to the following error: Cannot start "
                       f"service {name} on computer '.'.", "CouldNotStartService", category="OpenError", target=name,
                       exception_type="Microsoft.PowerShell.Commands.ServiceCommandException")


def _change_status(ctx: CmdletContext, p: BoundParameters, target: str) -> list:
    errors: list[CmdletError] = []
    with ctx.world.read():
        names = _select_services(ctx, p, errors)
    if errors:
        raise errors[0]
    out = []
    for n in names:
        with ctx.world.read():
            svc = ctx.host()["services"][n]
            if svc["status"] == target:
                out.append(_service_object(n, svc))
                continue
            if target == "Running" and svc["start_type"] == "Disabled":
                raise _cannot_start(n, svc, "Start-Service")
        ctx.sleep(SERVICE_SECONDS)
        with ctx.world.transaction():
            svc = ctx.host()["services"][n]
            svc["status"] = target
            out.append(_service_object(n, svc))
    return out if p.switch("PassThru") else []


@cmdlet("Start-Service")
def start_service(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    return _change_status(ctx, p, "Running")


@cmdlet("Stop-Service")
def stop_service(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    return _change_status(ctx, p, "Stopped")
