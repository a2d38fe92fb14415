"""ManagementTools: the seed's step 4, the cluster and Hyper-V management tools on the server the lab is
run from (DC01 in the seed), installed when missing.

Inputs (``ManagementToolsArgs``)         diff
    connection      ConnectionArgs      host: replace; other fields: update
    features        list[str]           update; default RSAT-Clustering (Failover Cluster Manager and its
                                        PowerShell module come with its sub-features) and RSAT-Hyper-V-Tools
Outputs: every input, plus ``installed_features`` (those this resource installed and owns),
``feature_states`` ({name: InstallState}), ``restart_needed`` (Windows said so; tools need none), and
``delete_policy``.

Delete policy: uninstalls only the features this resource installed (recorded at create and update);
features that were there before stay. Script: scripts/management_tools.ps1.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi

from .base import HvProvider, HvResource
from .cluster_node import feature_name
from .connection import CONNECTION_PROP, ConnectionArgs
from .validation import Prop, require_unique

SCRIPT = "management_tools.ps1"
DEFAULT_TOOLS = ("RSAT-Clustering", "RSAT-Clustering-Mgmt", "RSAT-Clustering-PowerShell", "RSAT-Hyper-V-Tools",
                 "Hyper-V-Tools", "Hyper-V-PowerShell")


class ManagementToolsArgs:
    """Inputs of a ManagementTools (see the module docstring)."""

    def __init__(self, connection: ConnectionArgs | pulumi.Input[dict],
                 features: Optional[pulumi.Input[Sequence[str]]] = None) -> None:
        self.connection = connection
        self.features = features


class ManagementToolsProvider(HvProvider):
    RESOURCE = "ManagementTools"
    SCRIPT = SCRIPT
    SPEC = (
        CONNECTION_PROP,
        Prop("features", "list", default=lambda: list(DEFAULT_TOOLS), items=(feature_name,), unordered=True,
             case_insensitive=True, doc="management features to install"),
    )
    OUTPUTS = ("installed_features", "feature_states", "restart_needed", "delete_policy")

    def check_more(self, olds: dict, news: dict) -> list:
        features = news.get("features")
        return require_unique(features, "features") if isinstance(features, list) else []

    def make_id(self, inputs: dict) -> str:
        return f"{inputs['connection']['host']}/management-tools"

    @staticmethod
    def script_params(props: dict, mode: str) -> dict:
        return {"Mode": mode, "Features": list(props.get("features") or []),
                "Owned": list(props.get("installed_features") or [])}

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        owned = list((olds or {}).get("installed_features") or [])
        state = self.run_mode({**inputs, "installed_features": owned}, "Set")
        owned += [f for f in state.get("Installed") or [] if f not in owned]
        return {"installed_features": owned,
                "feature_states": {f["Name"]: f["InstallState"] for f in state.get("Features") or []},
                "restart_needed": bool(state.get("RestartNeeded")),
                "delete_policy": "delete uninstalls " + (", ".join(owned) if owned else "nothing")
                                 + " (the features this resource installed)"}

    def observe(self, id: str, outputs: dict) -> dict | None:
        state = self.run_mode(outputs, "Get")
        return {"feature_states": {f["Name"]: f["InstallState"] for f in state.get("Features") or []}}


class ManagementTools(HvResource):
    """Management consoles and modules on the admin server (see the module docstring)."""

    connection: pulumi.Output[dict]
    features: pulumi.Output[list]
    installed_features: pulumi.Output[list]
    feature_states: pulumi.Output[dict]
    restart_needed: pulumi.Output[bool]
    delete_policy: pulumi.Output[str]

    PROVIDER = ManagementToolsProvider
