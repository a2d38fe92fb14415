"""DomainController: a Windows Server promoted to the first domain controller of a new forest (the
seed's step 1: DC01 becomes the DC of hyper.local, with DNS).

Inputs (``DomainControllerArgs``)         diff
    connection           ConnectionArgs     host: replace; other fields: update. Log on as the server's
                                            built-in ``Administrator`` with no computer prefix: the promotion
                                            makes it the domain's Administrator (same password), and a DC has
                                            no local accounts, so ``DC01\\Administrator`` stops working.
    domain_name          str                replace (the forest root domain's FQDN, e.g. hyper.local)
    domain_netbios_name  str | None         replace (default: the first label in upper case, e.g. HYPER)
    forest_mode          str = WinThreshold  fixed after create (Win2012R2, WinThreshold = 2016, Win2025)
    domain_mode          str = WinThreshold  fixed after create; not lower than forest_mode
    install_dns          bool = True        fixed after create (the DNS Server role serving the domain)
    safe_mode_password   secret             ignore (the DSRM password; only used by the promotion)
    demote_on_delete     bool = False       update (see the delete policy)
    restart_timeout      int = 1800         ignore (seconds to wait for the restart and for the domain)
Outputs: every input, plus computer_name, domain_fqdn, netbios_name, dns_server_address (what members
use as their DNS server), domain_functional_level, forest_functional_level, adopted, restarts,
last_changes, delete_policy.

Create: installs AD-Domain-Services with its management tools, runs Install-ADDSForest (with
-NoRebootOnCompletion), restarts the server itself, waits for the new boot and then until Active
Directory answers (Get-ADDomain), so that the next resources (ClusterNode's domain join) find the
domain. An existing forest of the same name whose DC this server already is, is adopted (nothing
runs). A server that is a member or DC of another domain is refused before any change; at preview
already when the connection's account names another domain.

Delete policy: by default a delete leaves the forest as it is (removing the last DC destroys the
domain and every account in it): the resource is only dropped from the state. With
``demote_on_delete=True`` a delete runs Uninstall-ADDSDomainController -LastDomainControllerInDomain,
restarts, and the server comes back in a workgroup whose local Administrator has the connection's
password. Script: scripts/domain_controller.ps1.
"""
from __future__ import annotations

import time
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult

from . import errors
from .base import HvProvider, HvResource
from .connection import CONNECTION_PROP, ConnectionArgs
from .validation import Prop, dns_name, is_unknown, netbios_name, number_between

SCRIPT = "domain_controller.ps1"
LEVELS = ("Win2012R2", "WinThreshold", "Win2025")
_FIXED = ("forest_mode", "domain_mode", "install_dns")


def forest_root_name(v: str) -> str | None:
    """A new forest's root domain: a DNS name of at least two labels (single-label domains break DNS)."""
    err = dns_name(v)
    if err:
        return err
    if "." not in v.strip("."):
        return f"'{v}' is a single-label name: use at least two labels (e.g. hyper.local)"
    return None


def dsrm_password(v: str) -> str | None:
    """Windows' default password policy: at least 7 characters from 3 of 4 classes."""
    classes = sum((any(c.islower() for c in v), any(c.isupper() for c in v), any(c.isdigit() for c in v),
                   any(not c.isalnum() for c in v)))
    if len(v) < 7 or classes < 3:
        return ("does not meet Windows' default password policy: at least 7 characters with three of: lower case, "
                "upper case, digits, symbols")
    return None


class DomainControllerArgs:
    """Inputs of a DomainController (see the module docstring for every field)."""

    def __init__(self, connection: ConnectionArgs | pulumi.Input[dict], domain_name: pulumi.Input[str],
                 safe_mode_password: pulumi.Input[str],
                 domain_netbios_name: Optional[pulumi.Input[str]] = None,
                 forest_mode: Optional[pulumi.Input[str]] = None,
                 domain_mode: Optional[pulumi.Input[str]] = None,
                 install_dns: Optional[pulumi.Input[bool]] = None,
                 demote_on_delete: Optional[pulumi.Input[bool]] = None,
                 restart_timeout: Optional[pulumi.Input[int]] = None) -> None:
        self.connection = connection
        self.domain_name = domain_name
        self.safe_mode_password = safe_mode_password
        self.domain_netbios_name = domain_netbios_name
        self.forest_mode = forest_mode
        self.domain_mode = domain_mode
        self.install_dns = install_dns
        self.demote_on_delete = demote_on_delete
        self.restart_timeout = restart_timeout


def delete_policy(inputs: dict) -> str:
    if inputs.get("demote_on_delete"):
        return (f"delete will demote the server and remove the domain {inputs.get('domain_name')} with every account "
                f"in it (restart)")
    return f"delete keeps the forest {inputs.get('domain_name')}: the resource is only dropped from the state"


class DomainControllerProvider(HvProvider):
    RESOURCE = "DomainController"
    SCRIPT = SCRIPT
    SPEC = (
        CONNECTION_PROP,
        Prop("domain_name", "str", required=True, checks=(forest_root_name,), on_change="replace",
             case_insensitive=True, doc="FQDN of the new forest's root domain"),
        Prop("domain_netbios_name", "str", checks=(netbios_name,), on_change="replace", case_insensitive=True,
             doc="NetBIOS name of the domain (default: first label, upper case)"),
        Prop("forest_mode", "str", default="WinThreshold", choices=LEVELS, on_change="ignore",
             doc="forest functional level"),
        Prop("domain_mode", "str", default="WinThreshold", choices=LEVELS, on_change="ignore",
             doc="domain functional level"),
        Prop("install_dns", "bool", default=True, on_change="ignore", doc="install the DNS Server role"),
        Prop("safe_mode_password", "str", required=True, checks=(dsrm_password,), secret=True, on_change="ignore",
             doc="Directory Services Restore Mode password"),
        Prop("demote_on_delete", "bool", default=False, doc="demote (and remove the domain) on delete"),
        Prop("restart_timeout", "int", default=1800, checks=(number_between(60, 7200),), on_change="ignore",
             doc="seconds to wait for the restart and for Active Directory"),
    )
    OUTPUTS = ("computer_name", "domain_fqdn", "netbios_name", "dns_server_address", "domain_functional_level",
               "forest_functional_level", "adopted", "restarts", "last_changes", "delete_policy")

    def check(self, olds: dict, news: dict) -> CheckResult:
        result = super().check(olds, news)
        inputs = result.inputs
        if not result.failures and not is_unknown(inputs.get("domain_name")) and not inputs.get("domain_netbios_name"):
            inputs["domain_netbios_name"] = str(inputs["domain_name"]).split(".")[0].upper()[:15]
        if not any(is_unknown(v) for v in inputs.values()):
            inputs["delete_policy"] = delete_policy(inputs)
        return result

    def check_more(self, olds: dict, news: dict) -> list[CheckFailure]:
        failures: list[CheckFailure] = []
        name = news.get("domain_name")
        netbios = news.get("domain_netbios_name")
        if isinstance(name, str) and not is_unknown(name) and not netbios:
            derived = name.split(".")[0]
            if len(derived) > 15:
                failures.append(CheckFailure("domain_netbios_name", (
                    f"the default NetBIOS name '{derived.upper()}' (the first label of domain_name) is longer than 15 "
                    f"characters: set domain_netbios_name")))
        levels = {lv: i for i, lv in enumerate(LEVELS)}
        fm, dm = news.get("forest_mode"), news.get("domain_mode")
        if fm in levels and dm in levels and levels[dm] < levels[fm]:
            failures.append(CheckFailure("domain_mode", f"{dm} is lower than forest_mode {fm}: the domain functional "
                                         f"level cannot be lower than the forest's"))
        # The connection's account tells what the server belongs to where it names a domain.
        conn = news.get("connection") if isinstance(news.get("connection"), dict) else {}
        user = conn.get("username")
        if isinstance(user, str) and isinstance(name, str) and not is_unknown(user) and not is_unknown(name):
            authority = user.split("\\", 1)[0] if "\\" in user else (user.split("@", 1)[1] if "@" in user else "")
            host = str(conn.get("host") or "").split(".")[0]
            own = {name.lower(), name.split(".")[0].lower(), str(netbios or "").lower(), ".", ""}
            if authority.lower() == host.lower() and authority:
                failures.append(CheckFailure("connection.username", (
                    f"'{user}' is a local account: after the promotion the server has no local accounts. Log on as "
                    f"'Administrator' (no prefix): it becomes {name}'s Administrator with the same password")))
            elif authority.lower() not in own:
                failures.append(CheckFailure("connection.username", (
                    f"'{user}' is an account of the domain '{authority}': a server that belongs to another domain "
                    f"cannot become the first DC of a new forest {name}; log on as the server's 'Administrator'")))
        if olds:
            for prop in _FIXED:
                old, new = olds.get(prop), news.get(prop)
                if old is not None and new is not None and not is_unknown(new) and old != new:
                    failures.append(CheckFailure(prop, (
                        f"cannot change from {old!r} to {new!r} after the forest exists: the provider does not raise "
                        f"functional levels or move DNS (do it with Set-ADForestMode / Set-ADDomainMode, then "
                        f"declare the new value)")))
        return failures

    def make_id(self, inputs: dict) -> str:
        return f"{inputs['connection']['host']}/domain-controller/{str(inputs['domain_name']).lower()}"

    @staticmethod
    def script_params(props: dict, mode: str) -> dict:
        return {
            "Mode": mode,
            "DomainName": str(props["domain_name"]).lower(),
            "DomainNetbiosName": props.get("domain_netbios_name") or "",
            "ForestMode": props.get("forest_mode") or "WinThreshold",
            "DomainMode": props.get("domain_mode") or "WinThreshold",
            "InstallDns": bool(props.get("install_dns", True)),
            "SafeModePassword": (props.get("safe_mode_password") or "") if mode == "Set" else "",
            # a demoted server's new local Administrator keeps the connection's password
            "LocalAdministratorPassword": (props["connection"].get("password") or "") if mode == "Remove" else "",
        }

    @staticmethod
    def _facts(state: dict) -> dict:
        return {
            "computer_name": state.get("ComputerName"),
            "domain_fqdn": state.get("DomainFqdn"),
            "netbios_name": state.get("NetbiosName"),
            "dns_server_address": state.get("DnsServerAddress"),
            "domain_functional_level": state.get("DomainMode"),
            "forest_functional_level": state.get("ForestMode"),
        }

    def _wait_for_domain(self, props: dict, deadline: float) -> dict:
        """After the restart: Get until Active Directory answers on the new DC (ADWS starts late)."""
        last = ""
        while True:
            try:
                state = self.run_mode(props, "Get")
                if state.get("IsDomainController") and state.get("DomainFqdn"):
                    return state
                last = "the server is not a domain controller yet"
            except (errors.RemoteScriptError, errors.ConnectionFailedError) as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise errors.HvProviderError(
                    f"{props['connection']['host']}: the domain {props['domain_name']} did not answer within "
                    f"{props.get('restart_timeout') or 1800} s after the promotion's restart ({last}); run "
                    f"`pulumi up` again once Get-ADDomain works on the server")
            time.sleep(2)

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        from . import transport

        timeout = float(inputs.get("restart_timeout") or 1800)
        state = self.run_mode(inputs, "Set")
        changes = list(state.get("Changes") or [])
        restarts = 0
        if state.get("RestartRequired"):
            transport.restart_and_wait(inputs["connection"], timeout=timeout)
            restarts = 1
            state = self._wait_for_domain(inputs, time.monotonic() + timeout)
        facts = self._facts(state)
        facts.update(
            # adopted: this server already was the forest's DC when the resource first ensured it
            adopted=bool(olds.get("adopted")) if olds else not restarts,
            restarts=restarts, last_changes=changes, delete_policy=delete_policy(inputs))
        return facts

    def observe(self, id: str, outputs: dict) -> dict | None:
        state = self.run_mode(outputs, "Get")
        if not state.get("IsDomainController") or str(state.get("DomainFqdn") or "").lower() != \
                str(outputs.get("domain_name") or "").lower():
            return None
        return self._facts(state)

    def remove(self, id: str, outputs: dict) -> None:
        if not outputs.get("demote_on_delete"):
            return  # the documented default: the forest stays
        from . import transport

        state = self.run_mode(outputs, "Remove")
        if state.get("RestartRequired"):
            transport.restart_and_wait(outputs["connection"], timeout=float(outputs.get("restart_timeout") or 1800))


class DomainController(HvResource):
    """The first domain controller of a new forest (see the module docstring)."""

    connection: pulumi.Output[dict]
    domain_name: pulumi.Output[str]
    domain_netbios_name: pulumi.Output[str]
    computer_name: pulumi.Output[str]
    domain_fqdn: pulumi.Output[str]
    netbios_name: pulumi.Output[str]
    dns_server_address: pulumi.Output[str]
    domain_functional_level: pulumi.Output[str]
    forest_functional_level: pulumi.Output[str]
    adopted: pulumi.Output[bool]
    restarts: pulumi.Output[int]
    last_changes: pulumi.Output[list]
    delete_policy: pulumi.Output[str]

    PROVIDER = DomainControllerProvider
