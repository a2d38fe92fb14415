"""Emulated cmdlets: a new forest and its first domain controller (ADDSDeployment) and the two
ActiveDirectory module reads the provider needs (Get-ADDomain, Get-ADForest).

What Windows does, as modelled here (world changes in hvsim.world.core, `pending["dcpromo"]`):
- Install-ADDSForest needs the AD DS role (AD-Domain-Services) installed; it checks its prerequisites
  first (not already a DC, not a member of a domain, a DSRM password given, no domain of that name on
  the network), then configures the server and restarts it at once unless -NoRebootOnCompletion.
  The forest exists only after that restart: the server comes back as the domain's first DC, its
  local Administrator becomes the domain's Administrator (same password), and the server has no
  local accounts any more. With -InstallDns (the default for a new forest) the DNS Server role is
  installed and serves the domain's zone.
- Uninstall-ADDSDomainController -LastDomainControllerInDomain removes the domain at the next restart;
  the server comes back in a workgroup with a local Administrator whose password is
  -LocalAdministratorPassword.
- Get-ADDomain / Get-ADForest (RSAT-AD-PowerShell) answer on the DC and on members while the DC is up;
  elsewhere with Windows' "Unable to find a default server with Active Directory Web Services running."

The deployment cmdlets return a DeploymentResult (Message, Context, RebootRequired, Status). The
prerequisite failures' wording follows the field reports of the DCPromo checks ("Verification of
prerequisites for Domain Controller promotion failed. ..."); Microsoft does not publish the full set.
"""
from __future__ import annotations

from typing import Any, Iterable

from hvsim.powershell.values import PSEnum, PSObject

from .registry import BoundParameters, CmdletContext, CmdletError, cmdlet, require_feature

_DEPLOY = "Microsoft.DirectoryServices.Deployment.Types.DeploymentResult"
_AD = "Microsoft.ActiveDirectory.Management"
# Install-ADDSForest's -ForestMode/-DomainMode values -> the functional levels Get-ADForest/Get-ADDomain show.
LEVELS = {"win2008": ("Windows2008", 3), "win2008r2": ("Windows2008R2", 4), "win2012": ("Windows2012", 5),
          "win2012r2": ("Windows2012R2", 6), "winthreshold": ("Windows2016", 7), "win2025": ("Windows2025", 10),
          "default": ("Windows2016", 7)}
PROMOTE_SECONDS = 120   # simulated configuration time before the restart

_PREREQ = "Verification of prerequisites for Domain Controller promotion failed. "


def _deploy_error(message: str, context: str) -> CmdletError:
    return CmdletError(_PREREQ + message, f"Test.VerifyDcPromoCore.{context}", category="NotSpecified",
                       terminating=True, exception_type="Microsoft.DirectoryServices.Deployment.DCPromoExecutionException")


def _result(message: str, context: str, reboot: bool) -> PSObject:
    return PSObject({"Message": message, "Context": context, "RebootRequired": reboot, "Status": "Success"},
                    type_name=_DEPLOY)


def _secure_text(p: BoundParameters, name: str) -> str | None:
    value = p.get(name)
    if value is None:
        return None
    return value.reveal() if hasattr(value, "reveal") else str(value)


def _no_prompt(name: str) -> CmdletError:
    # A NonInteractive session cannot ask for the password the cmdlet would prompt for.
    return CmdletError(f"Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available. "
                       f"(-{name} was not given)", "System.Management.Automation.PSInvalidOperationException",
                       category="InvalidOperation", terminating=True,
                       exception_type="System.Management.Automation.PSInvalidOperationException")


@cmdlet("Install-ADDSForest")
def install_addsforest(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    require_feature(ctx, "Install-ADDSForest", "AD-Domain-Services")
    world = ctx.world
    fqdn = str(p["DomainName"]).strip().rstrip(".").lower()
    netbios = str(p.get("DomainNetbiosName") or fqdn.split(".")[0]).upper()
    if len(netbios) > 15:
        raise _deploy_error(f"The NetBIOS name '{netbios}' is longer than 15 characters.", "DCPromo.General.11")
    password = _secure_text(p, "SafeModeAdministratorPassword")
    if not password:
        raise _no_prompt("SafeModeAdministratorPassword")
    forest = LEVELS[str(p.get("ForestMode") or "default").lower()]
    domain_level = LEVELS[str(p.get("DomainMode") or "default").lower()]
    if domain_level[1] < forest[1]:
        raise _deploy_error("The domain functional level cannot be lower than the forest functional level.",
                            "DCPromo.General.17")
    with world.read():
        h = ctx.host()
        dom = world.domain()
        pending = (h.get("pending") or {}).get("dcpromo")
        if h.get("domain_controller") or (pending and pending.get("action") == "promote"):
            raise _deploy_error("This computer is already a domain controller, or its promotion waits for a restart.",
                                "DCPromo.General.40")
        if h.get("domain"):
            raise _deploy_error(f"The computer is a member of the domain '{h['domain']}': a new forest's first domain "
                                f"controller must not be joined to a domain.", "DCPromo.General.41")
        if dom and fqdn in (dom["fqdn"].lower(),) and world.dc_up():
            raise _deploy_error(f"The domain name '{fqdn}' already exists on the network.", "DCPromo.General.54")
        admin = next((u for n, u in (h.get("local_users") or {}).items() if n.lower() == "administrator"), None)
        if not admin or not admin.get("password"):
            raise _deploy_error("The local Administrator account's password is blank: it becomes the domain "
                                "Administrator's password and must meet the domain's password requirements.",
                                "DCPromo.General.60")
    ctx.sleep(PROMOTE_SECONDS)
    with world.transaction():
        h = ctx.host()
        pend = h.setdefault("pending", {})
        pend["dcpromo"] = {"action": "promote", "fqdn": fqdn, "netbios": netbios, "forest_mode": forest[0],
                           "domain_mode": domain_level[0], "dns": p.switch("InstallDns") or "InstallDns" not in p,
                           "administrator_password": admin["password"], "dsrm_password": password}
        pend["restart_required"] = True
    if p.switch("NoRebootOnCompletion"):
        return [_result("You must restart this computer to complete the operation.", "DCPromo.General.4", True)]
    world.schedule_restart(ctx.session.host)
    return [_result("Operation completed successfully", "DCPromo.General.3", False)]


@cmdlet("Uninstall-ADDSDomainController")
def uninstall_addsdomaincontroller(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    require_feature(ctx, "Uninstall-ADDSDomainController", "AD-Domain-Services")
    world = ctx.world
    with world.read():
        h = ctx.host()
        if not h.get("domain_controller"):
            raise _deploy_error("This computer is not a domain controller.", "DCPromo.General.46")
    if not p.switch("LastDomainControllerInDomain"):
        raise _deploy_error("This is the last domain controller of its domain: give -LastDomainControllerInDomain "
                            "to remove the domain with it.", "DCPromo.General.48")
    password = _secure_text(p, "LocalAdministratorPassword")
    if not password:
        raise _no_prompt("LocalAdministratorPassword")
    ctx.sleep(PROMOTE_SECONDS)
    with world.transaction():
        h = ctx.host()
        pend = h.setdefault("pending", {})
        pend["dcpromo"] = {"action": "demote", "administrator_password": password}
        pend["restart_required"] = True
    if p.switch("NoRebootOnCompletion"):
        return [_result("You must restart this computer to complete the operation.", "DCPromo.General.4", True)]
    world.schedule_restart(ctx.session.host)
    return [_result("Operation completed successfully", "DCPromo.General.3", False)]


# ----------------------------------------------------------------------------- ActiveDirectory reads
def _directory(ctx: CmdletContext, name: str) -> dict:
    """The domain this host can reach through Active Directory Web Services, else Windows' error."""
    require_feature(ctx, name, "RSAT-AD-PowerShell")
    world = ctx.world
    with world.read():
        h = ctx.host()
        dom = world.domain()
        reachable = dom is not None and (h.get("domain_controller") or (h.get("domain") and world.dc_up()))
        if not reachable:
            raise CmdletError("Unable to find a default server with Active Directory Web Services running.",
                              "ActiveDirectoryServer:1355", category="ResourceUnavailable",
                              exception_type="Microsoft.ActiveDirectory.Management.ADServerDownException",
                              terminating=True)
        return dict(dom)


def _dn(fqdn: str) -> str:
    return ",".join(f"DC={label}" for label in fqdn.split("."))


def _level(dom: dict, key: str) -> tuple[str, str, int]:
    """(the DC's FQDN, the functional level's name and number) of the domain or forest (key: domain_mode
    or forest_mode, as Install-ADDSForest set it)."""
    mode = dom.get(key, "Windows2016")
    return f"{dom['controller']}.{dom['fqdn']}", mode, next((v for n, v in LEVELS.values() if n == mode), 7)


@cmdlet("Get-ADDomain")
def get_addomain(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    dom = _directory(ctx, "Get-ADDomain")
    dc, mode, level = _level(dom, "domain_mode")
    return [PSObject({
        "DNSRoot": dom["fqdn"],
        "NetBIOSName": dom["netbios"],
        "Name": dom["fqdn"].split(".")[0],
        "DistinguishedName": _dn(dom["fqdn"]),
        "Forest": dom["fqdn"],
        "DomainMode": PSEnum(f"{_AD}.ADDomainMode", f"{mode}Domain", level),
        "PDCEmulator": dc,
        "RIDMaster": dc,
        "InfrastructureMaster": dc,
        "ReplicaDirectoryServers": [dc],
        "ParentDomain": None,
        "ChildDomains": [],
        "DomainSID": dom.get("sid", ""),
        "ObjectGUID": dom.get("guid", ""),
    }, type_name=f"{_AD}.ADDomain")]


@cmdlet("Get-ADForest")
def get_adforest(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    dom = _directory(ctx, "Get-ADForest")
    dc, mode, level = _level(dom, "forest_mode")
    return [PSObject({
        "Name": dom["fqdn"],
        "RootDomain": dom["fqdn"],
        "ForestMode": PSEnum(f"{_AD}.ADForestMode", f"{mode}Forest", level),
        "Domains": [dom["fqdn"]],
        "GlobalCatalogs": [dc],
        "SchemaMaster": dc,
        "DomainNamingMaster": dc,
        "Sites": ["Default-First-Site-Name"],
    }, type_name=f"{_AD}.ADForest")]
