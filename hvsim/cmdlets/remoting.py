"""Emulated cmdlets: CredSSP configuration, Invoke-Command and Enable-PSRemoting (docs/DESIGN.md
sections 2 and 8).

The double hop: a WinRM session (NTLM, Basic) cannot delegate. `Invoke-Command -Authentication Credssp
-Credential <domain account>` gives the inner session `can_delegate=True` when the calling host's client
role delegates to the name used (`wsman/<name>` in its AllowFreshCredentials list) and the target's
server role is enabled. Every other way in runs with `can_delegate=False`.
"""
from __future__ import annotations

import fnmatch
from typing import Any, Iterable

from hvsim.powershell.values import PSObject
from hvsim.world import firewall

from .registry import BoundParameters, CmdletContext, CmdletError, Session, cmdlet

_REMOTING_HELP = " For more information, see the about_Remote_Troubleshooting Help topic."
_POLICY = ("Use gpedit.msc and look at the following policy: Computer Configuration -> Administrative Templates -> "
           "System -> Credentials Delegation -> Allow Delegating Fresh Credentials.  Verify that it is enabled and "
           "configured with an SPN appropriate for the target computer. For example, for a target computer name "
           "\"myserver.domain.com\", the SPN can be one of the following: WSMAN/myserver.domain.com or "
           "WSMAN/*.domain.com.")
CONNECT_SECONDS = 1


# ----------------------------------------------------------------------------- CredSSP
def _auth_element(role: str) -> PSObject:
    if role == "Client":
        return PSObject({"cfg": "http://schemas.microsoft.com/wbem/wsman/1/config/client/auth", "lang": "en-US",
                         "Basic": "true", "Digest": "true", "Kerberos": "true", "Negotiate": "true",
                         "Certificate": "true", "CredSSP": "true"}, type_name="System.Xml.XmlElement")
    return PSObject({"cfg": "http://schemas.microsoft.com/wbem/wsman/1/config/service/auth", "lang": "en-US",
                     "Basic": "false", "Kerberos": "true", "Negotiate": "true", "Certificate": "false",
                     "CredSSP": "true", "CbtHardeningLevel": "Relaxed"}, type_name="System.Xml.XmlElement")


@cmdlet("Enable-WSManCredSSP")
def enable_wsman_credssp(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    role = p["Role"]
    delegates = p.get("DelegateComputer") or []
    if role == "Client" and not delegates:
        raise CmdletError("The DelegateComputer parameter must be specified when the Role parameter is Client.",
                          "InvalidArgument", category="InvalidArgument", terminating=True,
                          exception_type="System.InvalidOperationException")
    if role == "Server" and delegates:
        raise CmdletError("The DelegateComputer parameter can only be used when the Role parameter is Client.",
                          "InvalidArgument", category="InvalidArgument", terminating=True,
                          exception_type="System.InvalidOperationException")
    with ctx.world.transaction():
        cred = ctx.host().setdefault("credssp", {"server": False, "client": False, "delegate": []})
        if role == "Client":
            cred["client"] = True
            for d in delegates:
                spn = f"wsman/{d}"
                if spn.lower() not in (x.lower() for x in cred["delegate"]):
                    cred["delegate"].append(spn)
        else:
            cred["server"] = True
    return [_auth_element(role)]


@cmdlet("Disable-WSManCredSSP")
def disable_wsman_credssp(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.transaction():
        cred = ctx.host().setdefault("credssp", {"server": False, "client": False, "delegate": []})
        if p["Role"] == "Client":
            cred["client"] = False
            cred["delegate"] = []
        else:
            cred["server"] = False
    return []


@cmdlet("Get-WSManCredSSP")
def get_wsman_credssp(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.read():
        cred = ctx.host().get("credssp") or {}
        client = bool(cred.get("client")) and bool(cred.get("delegate"))
        # GetWSManCredSSPCommand (PowerShell's CredSSP.cs) prepends each AllowFreshCredentials value and
        # joins with the culture's list separator (en-US ","), so the last added prints first, no blanks
        targets = ",".join(reversed(cred.get("delegate") or []))
        server = bool(cred.get("server"))
    first = (f"The machine is configured to allow delegating fresh credentials to the following target(s): {targets}"
             if client else "The machine is not configured to allow delegating fresh credentials.")
    second = ("This computer is configured to receive credentials from a remote client computer." if server
              else "This computer is not configured to receive credentials from a remote client computer.")
    return [first, second]


def delegation_allowed(client_host: dict, target_name: str) -> bool:
    """Does the client's AllowFreshCredentials list (wsman/<name>, wildcards allowed) cover target_name?"""
    cred = client_host.get("credssp") or {}
    if not cred.get("client"):
        return False
    spn = f"wsman/{target_name}".lower()
    return any(fnmatch.fnmatchcase(spn, d.lower()) for d in cred.get("delegate") or [])


# ----------------------------------------------------------------------------- Invoke-Command
def _remote_error(target: str, text: str, error_id: str, category: str = "OpenError") -> CmdletError:
    return CmdletError(f"Connecting to remote server {target} failed with the following error message : {text}"
                       f"{_REMOTING_HELP}", f"{error_id},PSSessionStateBroken", category=category, target=target,
                       exception_type="System.Management.Automation.Remoting.PSRemotingTransportException")


def _credential(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value, ""
    user = value.get_prop("UserName")
    pw = value.get_prop("Password")
    return str(user), (pw.reveal() if hasattr(pw, "reveal") else str(pw or ""))


def open_session(ctx: CmdletContext, target: str, credential: Any, authentication: str | None) -> Session:
    """The session Invoke-Command -ComputerName target gets, or the error Windows gives."""
    world = ctx.world
    local = target.lower() in (".", "localhost", "127.0.0.1", "::1")
    try:
        h = world.host(ctx.session.host if local else target)
    except KeyError:
        raise _remote_error(target, f"WinRM cannot process the request. The following error occurred while using "
                                    f"Kerberos authentication: Cannot find the computer {target}. Verify that the "
                                    f"computer exists on the network and that the name provided is spelled correctly.",
                            "NetworkPathNotFound")
    name = h["name"]
    if not world.reachable(name):
        raise _remote_error(target, "WinRM cannot complete the operation. Verify that the specified computer name is "
                                    "valid, that the computer is accessible over the network, and that a firewall "
                                    "exception for the WinRM service is enabled and allows access from this computer. "
                                    "By default, the WinRM firewall exception for public profiles limits access to "
                                    "remote computers within the same local subnet.", "WinRMOperationTimeout")
    auth = (authentication or "Default").lower()
    cred = _credential(credential)
    access_denied = _remote_error(target, "Access is denied.", "AccessDenied")
    if auth == "credssp":
        if cred is None:
            raise CmdletError("The WinRM client cannot process the request. Requests must include user name and "
                              "password when CredSSP authentication mechanism is used. Add the user name and password "
                              "or change the authentication mechanism and try the request again.",
                              "PSSessionStateBroken", category="OpenError", target=target,
                              exception_type="System.Management.Automation.Remoting.PSRemotingTransportException")
        with world.read():
            caller = world.host(ctx.session.host)
            client_enabled = bool((caller.get("credssp") or {}).get("client"))
            allowed = delegation_allowed(caller, target)
            server_enabled = bool((h.get("credssp") or {}).get("server"))
        if not client_enabled:
            raise _remote_error(target, "The WinRM client cannot process the request. CredSSP authentication is "
                                        "currently disabled in the client configuration. Change the client "
                                        "configuration and try the request again. CredSSP authentication must also be "
                                        "enabled in the server configuration. Also, Group Policy must be edited to "
                                        "allow credential delegation to the target computer. " + _POLICY,
                                "-2144108126")
        if not allowed:
            raise _remote_error(target, "The WinRM client cannot process the request. A computer policy does not allow "
                                        "the delegation of the user credentials to the target computer. " + _POLICY,
                                "-2144108124")
        if not server_enabled:
            raise _remote_error(target, "The WinRM client cannot process the request. The authentication mechanism "
                                        "requested by the client is not supported by the server or unencrypted traffic "
                                        "is disabled in the service configuration. Verify the unencrypted traffic "
                                        "setting in the service configuration or specify one of the authentication "
                                        "mechanisms supported by the server.  To use Kerberos, specify the computer "
                                        "name as the remote destination. Also verify that the client computer and the "
                                        "destination computer are joined to a domain. To use Basic, specify the "
                                        "computer name as the remote destination, specify Basic authentication and "
                                        "provide user name and password. Possible authentication mechanisms reported "
                                        "by server:     Negotiate Kerberos", "-2144108322")
        user = world.check_credential(name, *cred)
        if user is None:
            raise access_denied
        domain_user = world.check_domain_credential(*cred)
        return Session(host=name, user=user, auth="credssp", can_delegate=domain_user is not None)
    if cred is not None:
        user = world.check_credential(name, *cred)
        if user is None:
            raise access_denied
        return Session(host=name, user=user, auth="ntlm", can_delegate=False)
    # Implicit credentials: the loopback works from any session; another host needs a delegable logon.
    if name.lower() != ctx.session.host.lower() and not ctx.session.can_delegate:
        raise access_denied
    return Session(host=name, user=ctx.session.user, auth="ntlm", can_delegate=False)


def _mark_remote(obj: Any, computer: str) -> Any:
    if isinstance(obj, PSObject):
        clone = PSObject(dict(obj.props), type_name=obj.type_name)
        clone.type_names = ["Deserialized." + obj.type_name] + [t for t in obj.type_names[1:]]
        clone.set_prop("PSComputerName", computer)
        clone.set_prop("RunspaceId", "00000000-0000-0000-0000-000000000000")
        clone.set_prop("PSShowComputerName", True)
        return clone
    return obj


# ----------------------------------------------------------------------------- PowerShell Direct
# From the Hyper-V host to a VM's guest over VMBus: no network needed. Texts: PowerShell's remoting
# strings (InvalidVMNameNotSingle, InvalidVMIdNotSingle, InvalidVMState) and the PowerShell Direct
# troubleshooting page of Microsoft's virtualization docs ("A remote session might have ended.", "The
# credential is invalid.").
_PS_DIRECT = "Microsoft.PowerShell.Commands.InvokeCommandCommand"
# New-PSSession -VMId/-VMName: the sessions opened so far, by InstanceId (a PSSession object refers to one)
_SESSIONS: dict[str, dict] = {}
_SESSION_IDS = iter(range(1, 1 << 30))


def _direct_error(message: str, error_id: str, category: str, target: Any, exc: str) -> CmdletError:
    return CmdletError(message, error_id, category=category, target=target, exception_type=exc)


def _session_ended(target: Any) -> CmdletError:
    return _direct_error("An error has occurred which Windows PowerShell cannot handle. A remote session might have "
                         "ended.", "CreateRemoteRunspaceForVMFailed", "InvalidOperation", target,
                         "System.Management.Automation.Remoting.PSRemotingDataStructureException")


def open_vm_session(ctx: CmdletContext, vm_name: Any = None, vm_id: Any = None,
                    credential: Any = None) -> tuple[Session, dict, dict]:
    """(Session in the guest, VM record, guest host) for PowerShell Direct, or Windows' error."""
    from hvsim.world import hyperv as whv

    world = ctx.world
    with world.read():
        host = world.host(ctx.session.host)
        hv_ok = (host.get("features") or {}).get("Hyper-V", {}).get("state") == "Installed"
        if vm_id is not None:
            found = whv.find_vms(host, vm_id=str(vm_id)) if hv_ok else []
            if len(found) != 1:
                raise _direct_error(f"The input VMId {vm_id} does not resolve to a single virtual machine.",
                                    "InvalidVMIdNotSingle", "InvalidArgument", vm_id, "System.ArgumentException")
        else:
            found = [vm for vm in (whv.find_vms(host) if hv_ok else []) if vm["name"].lower() == str(vm_name).lower()]
            if len(found) != 1:
                raise _direct_error(f"The input VMName {vm_name} does not resolve to a single virtual machine.",
                                    "InvalidVMNameNotSingle", "InvalidArgument", vm_name, "System.ArgumentException")
        vm = found[0]
        if vm["state"] != "Running":
            raise _direct_error(f"The virtual machine {vm['name']} is not in running state.", "InvalidVMState",
                                "InvalidArgument", vm["name"], "System.ArgumentException")
        guest_name = vm.get("guest")
    if not guest_name or not world.reachable(guest_name):
        raise _session_ended(vm["name"])      # still in Windows Setup, at OOBE, or no Windows at all
    cred = _credential(credential)
    user = world.check_credential(guest_name, *cred) if cred else None
    if user is None:
        raise _direct_error("The credential is invalid.", "InvalidCredential", "InvalidArgument", vm["name"],
                            "System.Management.Automation.Remoting.PSRemotingTransportException")
    guest = world.host(guest_name)
    return Session(host=guest["name"], user=user, auth="vmbus", can_delegate=False), vm, guest


def _mark_vm(obj: Any, vm: dict) -> Any:
    obj = _mark_remote(obj, vm["name"])
    if isinstance(obj, PSObject):
        obj.set_prop("VMId", vm["id"].lower())
        obj.set_prop("VMName", vm["name"])
    return obj


def _run_in_vm(ctx: CmdletContext, block: Any, args: list, session: Session, vm: dict) -> list:
    ctx.world.audit("remoting", host=ctx.session.host, user=ctx.session.user, target=session.host,
                    target_user=session.user, auth="powershell_direct", can_delegate=False, vm_id=vm["id"])
    ctx.sleep(CONNECT_SECONDS)
    return [_mark_vm(r, vm) for r in ctx.runner.invoke_scriptblock(block, args, session) or []]


def _session_object(rec: dict) -> PSObject:
    vm = rec["vm"]
    return PSObject({"Id": rec["id"], "Name": rec["name"], "ComputerName": vm["name"], "ComputerType": "VirtualMachine",
                     "State": rec["state"], "ConfigurationName": "Microsoft.PowerShell",
                     "Availability": "Available" if rec["state"] == "Opened" else "None",
                     "InstanceId": rec["instance_id"], "VMId": vm["id"].lower(), "VMName": vm["name"]},
                    type_name="System.Management.Automation.Runspaces.PSSession")


@cmdlet("New-PSSession")
def new_ps_session(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    import uuid

    if p.parameter_set not in ("VMId", "VMName"):
        raise CmdletError("hvsim emulates New-PSSession -VMId / -VMName (PowerShell Direct) only.", "NotImplemented",
                          category="NotImplemented", terminating=True)
    out = []
    for target in p.get("VMId") or p.get("VMName") or []:
        kw = {"vm_id": target} if p.parameter_set == "VMId" else {"vm_name": target}
        session, vm, guest = open_vm_session(ctx, credential=p.get("Credential"), **kw)
        sid = next(_SESSION_IDS)
        names = p.get("Name") or []
        rec = {"id": sid, "name": str(names[len(out)]) if len(names) > len(out) else f"Runspace{sid}",
               "instance_id": str(uuid.uuid4()), "session": session,
               "vm": vm, "host": ctx.session.host, "guest": guest["name"], "boot_id": guest.get("boot_id"),
               "state": "Opened"}
        _SESSIONS[rec["instance_id"]] = rec
        ctx.sleep(CONNECT_SECONDS)
        out.append(_session_object(rec))
    return out


def _session_record(obj: Any) -> dict | None:
    if isinstance(obj, PSObject):
        return _SESSIONS.get(str(obj.get_prop("InstanceId")))
    return None


@cmdlet("Remove-PSSession")
def remove_ps_session(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    recs = [r for r in (_session_record(o) for o in p.get("Session") or []) if r is not None]
    recs += [r for r in _SESSIONS.values() if r["host"] == ctx.session.host and (
        r["id"] in {int(x) for x in p.get("Id") or []} or r["name"] in {str(x) for x in p.get("Name") or []}
        or r["vm"]["name"].lower() in {str(x).lower() for x in p.get("VMName") or []}
        or r["vm"]["id"].lower() in {str(x).strip("{}").lower() for x in p.get("VMId") or []})]
    for rec in recs:
        rec["state"] = "Closed"     # a PSSession object still held by the caller now reads Closed
    return []


def _invoke_in_session(ctx: CmdletContext, block: Any, args: list, objs: Any) -> list:
    out: list = []
    for obj in objs or []:
        rec = _session_record(obj)
        if rec is None:
            raise CmdletError("hvsim emulates Invoke-Command -Session for PowerShell Direct sessions only.",
                              "NotImplemented", category="NotImplemented", terminating=True)
        if rec["state"] != "Opened":
            raise CmdletError(f"Because the session state for session {rec['name']}, {rec['instance_id']}, "
                              f"{rec['vm']['name']} is not equal to Open, you cannot run a command in the session.  "
                              f"The session state is {rec['state']}.", "InvalidSessionState",
                              category="InvalidOperation", target=rec["name"],
                              exception_type="System.Management.Automation.Runspaces.InvalidRunspaceStateException")
        world = ctx.world
        with world.read():
            guest = world.data["hosts"].get(rec["guest"])
            alive = guest is not None and guest.get("boot_id") == rec["boot_id"]
        if not alive or not world.reachable(rec["guest"]):
            rec["state"] = "Broken"       # the guest restarted, stopped or went away under the session
            raise _session_ended(rec["vm"]["name"])
        out += _run_in_vm(ctx, block, args, rec["session"], rec["vm"])
    return out


@cmdlet("Invoke-Command")
def invoke_command(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    block = p.get("ScriptBlock")
    if block is None:
        raise CmdletError("hvsim emulates Invoke-Command -ScriptBlock only (not -FilePath, -ConnectionUri).",
                          "NotImplemented", category="NotImplemented", terminating=True)
    args = list(p.get("ArgumentList") or [])
    if p.parameter_set == "InProcess":
        return ctx.runner.invoke_scriptblock(block, args, ctx.session)
    if p.parameter_set == "Session":
        return _invoke_in_session(ctx, block, args, p.get("Session"))
    if p.parameter_set in ("VMId", "VMName"):
        out: list = []
        for target in p.get("VMId") or p.get("VMName") or []:
            kw = {"vm_id": target} if p.parameter_set == "VMId" else {"vm_name": target}
            session, vm, _guest = open_vm_session(ctx, credential=p.get("Credential"), **kw)
            out += _run_in_vm(ctx, block, args, session, vm)
        return out
    targets = p.get("ComputerName") or ["localhost"]
    out: list = []
    for target in targets:
        session = open_session(ctx, str(target), p.get("Credential"), p.get("Authentication"))
        ctx.world.audit("remoting", host=ctx.session.host, user=ctx.session.user, target=session.host,
                        target_user=session.user, auth=session.auth, can_delegate=session.can_delegate)
        ctx.sleep(CONNECT_SECONDS)
        results = ctx.runner.invoke_scriptblock(block, args, session)
        out += [_mark_remote(r, str(target) if str(target).lower() not in (".", "localhost") else "localhost")
                for r in results or []]
    return out


# ----------------------------------------------------------------------------- Enable-PSRemoting
def listener_enabled(h: dict) -> bool:
    """Whether the host's WinRM service has its HTTP listener (`host["winrm"]["http_listener"]`; absent
    means yes: Windows Server ships with remoting enabled, and the lab's hosts were reached over WinRM)."""
    return bool((h.get("winrm") or {}).get("http_listener", True))


@cmdlet("Enable-PSRemoting")
def enable_ps_remoting(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    """Set-WSManQuickConfig's steps (service Automatic and running, an HTTP listener on *, the firewall
    exception), each only where it differs; the messages are the ones it writes. Session configurations
    are not modelled."""
    if not p.switch("Force"):
        # without -Force it asks for confirmation, which a remote session cannot answer
        raise CmdletError("Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not "
                          "available.", "System.Management.Automation.PSInvalidOperationException", category="InvalidOperation",
                          terminating=True, exception_type="System.Management.Automation.PSInvalidOperationException")
    out: list[str] = []
    with ctx.world.transaction():
        h = ctx.host()
        public = [n for n in h.get("nics", []) if n.get("network_category") == "Public"]
        if public and h["os"].get("product_type") != "server" and not p.switch("SkipNetworkProfileCheck"):
            raise CmdletError(
                "WinRM firewall exception will not work since one of the network connection types on this machine "
                "is set to Public. Change the network connection type to either Domain or Private and try again.",
                "WsManError", category="InvalidOperation", terminating=True,
                exception_type="System.InvalidOperationException")
        service = h["services"]["WinRM"]
        receive = []
        if service.get("start_type") != "Automatic":
            service["start_type"] = "Automatic"
            receive.append("WinRM service type changed successfully.")
        if service.get("status") != "Running":
            service["status"] = "Running"
            receive.append("WinRM service started.")
        manage = []
        if not listener_enabled(h):
            h.setdefault("winrm", {})["http_listener"] = True
            manage.append("Created a WinRM listener on HTTP://* to accept WS-Man requests to any IP on this machine.")
        rule = firewall.find(h, "WINRM-HTTP-In-TCP")
        if rule is not None and not rule["enabled"]:
            firewall.set_enabled(h, "WINRM-HTTP-In-TCP", True)
            manage.append("WinRM firewall exception enabled.")
    out.append("WinRM has been updated to receive requests.\r\n" + "\r\n".join(receive) if receive
               else "WinRM is already set up to receive requests on this computer.")
    out.append("WinRM has been updated for remote management.\r\n" + "\r\n".join(manage) if manage
               else "WinRM is already set up for remote management on this computer.")
    return out
