"""LabFirewall: the seed's step 2 done the careful way. The seed switched the firewall off on all three
servers; this resource leaves it on and makes sure the inbound rules the lab needs are enabled.

Inputs (``LabFirewallArgs``)              diff
    connection             ConnectionArgs    host: replace; other fields: update
    purposes               list[str]         update: any of
                                               winrm           TCP 5985, or 5986 with https (WinRM's listener ports)
                                               iscsi-target    TCP 3260 (the iSCSI Target Server)
                                               cluster         TCP and UDP 3343 (the cluster service)
                                               live-migration  TCP 6600 (Hyper-V live migration)
    create_missing_rules   bool = True       update (False: fail when Windows has no rule for a port)
Outputs: every input, plus ``rules`` ([{purpose, protocol, port, rules, enabled}]), ``created_rules`` (the
rules this resource created and owns), ``profiles`` ({Domain, Private, Public: enabled}), ``last_changes``
(what the last create/update changed), ``delete_policy``.

How: rules are found by protocol and port (``Get-NetFirewallPortFilter``), not by name. A port with an
enabled inbound allow rule is left alone. Where Windows has rules for the port but all are disabled
(someone switched them off), they are enabled (``Enable-NetFirewallRule -Name``). Where there is none,
the resource creates ``hvprovider-<purpose>-<protocol>-<port>`` (``New-NetFirewallRule``). A profile
that is off is reported in ``profiles``, never changed. Script: scripts/lab_firewall.ps1.

Delete policy: removes the rules it created (by their recorded names); rules it enabled stay enabled,
since a cluster, an iSCSI session or this very WinRM connection may depend on them.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi

from .base import HvProvider, HvResource
from .connection import CONNECTION_PROP, ConnectionArgs
from .validation import Prop, require_unique

SCRIPT = "lab_firewall.ps1"
PURPOSES = {
    "iscsi-target": (("TCP", 3260),),
    "cluster": (("TCP", 3343), ("UDP", 3343)),
    "live-migration": (("TCP", 6600),),
}


def purpose_name(v: str) -> str | None:
    allowed = ("winrm", *PURPOSES)
    return None if str(v).lower() in allowed else f"'{v}' is not a purpose; choose from: {', '.join(allowed)}"


def needs(purposes: Sequence[str], connection: dict) -> list[dict]:
    """The (purpose, protocol, port) list the script ensures; WinRM's is the standard listener port of the
    connection's transport (a listener on another port is the administrator's own rule)."""
    out = []
    for purpose in purposes:
        if purpose == "winrm":
            out.append({"Purpose": purpose, "Protocol": "TCP", "Port": 5986 if connection.get("https") else 5985})
        else:
            out += [{"Purpose": purpose, "Protocol": proto, "Port": port} for proto, port in PURPOSES[purpose]]
    return out


def delete_policy(inputs: dict) -> str:
    return "delete removes the firewall rules this resource created; rules it enabled stay enabled"


class LabFirewallArgs:
    """Inputs of a LabFirewall (see the module docstring)."""

    def __init__(self, connection: ConnectionArgs | pulumi.Input[dict], purposes: pulumi.Input[Sequence[str]],
                 create_missing_rules: Optional[pulumi.Input[bool]] = None) -> None:
        self.connection = connection
        self.purposes = purposes
        self.create_missing_rules = create_missing_rules


class LabFirewallProvider(HvProvider):
    RESOURCE = "LabFirewall"
    SCRIPT = SCRIPT
    SPEC = (
        CONNECTION_PROP,
        Prop("purposes", "list", required=True, items=(purpose_name,), convert=str.lower, unordered=True,
             case_insensitive=True, doc="what the host serves in the lab: " + ", ".join(("winrm", *PURPOSES))),
        Prop("create_missing_rules", "bool", default=True, doc="create a rule where Windows has none"),
    )
    OUTPUTS = ("rules", "created_rules", "profiles", "last_changes", "delete_policy")

    def check_more(self, olds: dict, news: dict) -> list:
        purposes = news.get("purposes")
        failures = require_unique(purposes, "purposes") if isinstance(purposes, list) else []
        if isinstance(purposes, list) and not purposes:
            failures.append(pulumi.dynamic.CheckFailure("purposes", "must name at least one of winrm, "
                                                        + ", ".join(PURPOSES)))
        return failures

    def make_id(self, inputs: dict) -> str:
        return f"{inputs['connection']['host']}/lab-firewall"

    @staticmethod
    def script_params(props: dict, mode: str) -> dict:
        return {"Mode": mode, "Needs": needs(props.get("purposes") or [], props["connection"]),
                "Owned": list(props.get("created_rules") or []),
                "CreateMissing": bool(props.get("create_missing_rules", True))}

    @staticmethod
    def _facts(state: dict) -> dict:
        return {
            "rules": [{"purpose": n.get("Purpose"), "protocol": n.get("Protocol"), "port": n.get("Port"),
                       "rules": list(n.get("Rules") or []), "enabled": list(n.get("Enabled") or [])}
                      for n in state.get("Needs") or []],
            "created_rules": list(state.get("Owned") or []),
            "profiles": {p.get("Name"): bool(p.get("Enabled")) for p in state.get("Profiles") or []},
        }

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        # the rules created by earlier runs are this resource's: the script removes those no need uses
        props = {**inputs, "created_rules": (olds or {}).get("created_rules") or []}
        state = self.run_mode(props, "Set")
        return {**self._facts(state), "last_changes": list(state.get("Changes") or []),
                "delete_policy": delete_policy(inputs)}

    def observe(self, id: str, outputs: dict) -> dict | None:
        return self._facts(self.run_mode(outputs, "Get"))


class LabFirewall(HvResource):
    """The inbound firewall rules a lab host needs (see the module docstring)."""

    connection: pulumi.Output[dict]
    purposes: pulumi.Output[list]
    rules: pulumi.Output[list]
    created_rules: pulumi.Output[list]
    profiles: pulumi.Output[dict]
    last_changes: pulumi.Output[list]
    delete_policy: pulumi.Output[str]

    PROVIDER = LabFirewallProvider
