"""FailoverCluster: a Windows failover cluster over ClusterNode hosts, with a disk witness.

    cluster = FailoverCluster("cluster", FailoverClusterArgs(
        connection=hv01_connection,                  # WinRM to any one node
        domain_username="HYPER\\Administrator",      # a domain account allowed to create the cluster
        domain_password=cfg.require_secret("domainPassword"),
        name="CLUSTER1", nodes=["HV01", "HV02"], static_address="192.168.10.20",
        witness_disk_serial=quorum_volume.serial_number))

What it does (script ``scripts/failover_cluster.ps1``):
- create: cluster validation first (``Test-Cluster``; the report path and a summary are outputs; a
  failed validation stops here, nothing created, unless ``skip_validation=True``), then
  ``New-Cluster -Name -Node -StaticAddress -NoStorage``, then the disk witness: the LUN is found by
  its serial number on every node (never by disk number), initialized and formatted once if it is
  raw, added with ``Add-ClusterDisk`` once every node sees it, and made the witness with
  ``Set-ClusterQuorum -DiskWitness``;
- update in place: nodes (``Add-ClusterNode -NoStorage`` / ``Remove-ClusterNode``), the witness disk;
- replace: ``name``, ``static_address`` (delete before replace: nodes belong to one cluster at a time);
- delete: ``Remove-Cluster -Force -CleanupAD`` (the nodes stay domain members with their features;
  the witness LUN keeps its data and leaves the cluster).

The double hop: the cluster cmdlets contact every node, which a WinRM logon cannot do on its own
behalf. The script runs them in a loopback CredSSP session with the domain credential given here
(ClusterNode already enabled CredSSP); see docs/provider-cluster.md.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure, DiffResult

from . import progress
from .base import HvProvider, HvResource
from .cluster_common import (ALTERNATE_CONNECTIONS_PROP, CLUSTER_CONNECTION_PROP, DOMAIN_CREDENTIAL_PROPS, domain_params, node_name,
                             same_names, short_name)
from .connection import ConnectionArgs
from .validation import Prop, ipv4, is_unknown, netbios_name, number_between, require_unique

SCRIPT = "failover_cluster.ps1"

# ---------------------------------------------------------------------------------------------
# FailoverCluster

SPEC: tuple[Prop, ...] = (
    CLUSTER_CONNECTION_PROP,
    ALTERNATE_CONNECTIONS_PROP,
    *DOMAIN_CREDENTIAL_PROPS,
    Prop("name", "str", required=True, checks=(netbios_name,), on_change="replace", case_insensitive=True,
         doc="cluster name (NetBIOS, at most 15 characters): the cluster's computer object in AD"),
    Prop("nodes", "list", required=True, items=(node_name,), unordered=True, case_insensitive=True,
         doc="cluster nodes by NetBIOS name or FQDN; added/removed in place"),
    Prop("static_address", "str", required=True, checks=(ipv4,), on_change="replace",
         doc="the cluster's IPv4 address (the management network's subnet)"),
    Prop("witness_disk_serial", "str",
         doc="serial number of the LUN that becomes the disk witness (IscsiVolume.serial_number); none = no witness"),
    Prop("skip_validation", "bool", default=False, on_change="ignore",
         doc="create the cluster even when Test-Cluster reports failures"),
    Prop("disk_wait_seconds", "int", default=300, checks=(number_between(0, 3600),), on_change="ignore",
         doc="how long to wait for the witness LUN to be visible on every node"),
)

OUTPUTS = ("fqdn", "cluster_id", "node_states", "quorum_type", "witness_resource",
           "validation_report", "validation_summary", "validation_outcome")


class FailoverClusterArgs:
    """Inputs of a FailoverCluster (see the module docstring)."""

    def __init__(
        self,
        connection: "ConnectionArgs | Mapping[str, Any]",
        domain_username: pulumi.Input[str],
        domain_password: pulumi.Input[str],
        name: pulumi.Input[str],
        nodes: pulumi.Input[Sequence[pulumi.Input[str]]],
        static_address: pulumi.Input[str],
        witness_disk_serial: Optional[pulumi.Input[str]] = None,
        skip_validation: Optional[pulumi.Input[bool]] = None,
        disk_wait_seconds: Optional[pulumi.Input[int]] = None,
        alternate_connections: "Optional[Sequence[ConnectionArgs | Mapping[str, Any]]]" = None,
    ) -> None:
        self.connection = connection
        self.domain_username = domain_username
        self.domain_password = domain_password
        self.name = name
        self.nodes = nodes
        self.static_address = static_address
        self.witness_disk_serial = witness_disk_serial
        self.skip_validation = skip_validation
        self.disk_wait_seconds = disk_wait_seconds
        self.alternate_connections = alternate_connections


def summarize_validation(validation: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """(outcome, report path, one-line summary) from the script's validation record."""
    if not validation:
        return "NotRun", "", "not run (the cluster already existed)"
    outcome = str(validation.get("Outcome") or "")
    report = str(validation.get("Report") or "")
    messages = [str(m).strip() for m in (validation.get("Messages") or []) if str(m).strip()]
    if outcome == "Skipped":
        return outcome, report, "skipped (skip_validation=True)"
    if outcome == "Passed":
        return outcome, report, "passed"
    detail = "; ".join(messages[:5]) + (f" (+{len(messages) - 5} more)" if len(messages) > 5 else "")
    word = "passed with warnings" if outcome == "PassedWithWarnings" else outcome.lower()
    verdict = str(validation.get("Verdict") or "")
    if verdict:
        word += f" ({verdict})"
    return outcome, report, f"{word}: {detail}" if detail else word


class FailoverClusterProvider(HvProvider):
    """check/diff/create/read/update/delete of a FailoverCluster (holds no state of its own)."""

    RESOURCE = "FailoverCluster"
    SCRIPT = SCRIPT
    SPEC = SPEC
    OUTPUTS = OUTPUTS
    # decided when the cluster is created: only a new cluster (name, address) changes them
    KEPT_OUTPUTS = {k: ("name", "static_address") for k in (
        "fqdn", "cluster_id", "validation_report", "validation_summary", "validation_outcome")}
    DELETE_BEFORE_REPLACE = True  # the nodes can belong to one cluster at a time

    def check_more(self, olds: dict, news: dict) -> list[CheckFailure]:
        nodes = news.get("nodes")
        if not isinstance(nodes, list):
            return []
        if not nodes:
            return [CheckFailure("nodes", "needs at least one node (e.g. [\"HV01\", \"HV02\"])")]
        return require_unique([n if is_unknown(n) else short_name(n) for n in nodes], "nodes")

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        return self.diff_with(olds, news, {"nodes": same_names, "name": lambda a, b: short_name(a) == short_name(b)})

    def make_id(self, inputs: dict) -> str:
        return str(inputs["name"]).upper()

    @staticmethod
    def script_params(props: Mapping[str, Any], mode: str) -> dict:
        return {
            "Mode": mode,
            "Name": props["name"],
            "Nodes": list(props.get("nodes") or []),
            "StaticAddress": props.get("static_address") or "",
            "WitnessDiskSerial": props.get("witness_disk_serial") or "",
            "SkipValidation": bool(props.get("skip_validation")),
            "DiskWaitSeconds": int(props["disk_wait_seconds"] if props.get("disk_wait_seconds") is not None else 300),
            **domain_params(props),
        }

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        if olds is None:
            progress.status(f"validating {', '.join(inputs['nodes'])} (Test-Cluster), then creating cluster "
                            f"{inputs['name']}" + (" (validation skipped)" if inputs.get("skip_validation") else ""))
        result = self.run_mode(inputs, "Set")
        return computed_outputs(result, olds)

    def observe(self, id: str, outputs: dict) -> dict | None:
        result = self.run_mode(outputs, "Get")
        state = result.get("State") or {}
        if not state.get("Exists"):
            return None
        observed = computed_outputs(result, outputs)
        # Drift in the inputs' own terms, keeping the user's spelling where nothing changed.
        actual_nodes = [n.get("Name") for n in state.get("Nodes") or []]
        if not same_names(actual_nodes, outputs.get("nodes")):
            observed["nodes"] = actual_nodes
        observed["witness_disk_serial"] = state.get("WitnessDiskSerial") or None
        if state.get("StaticAddress"):
            observed["static_address"] = state["StaticAddress"]
        return observed


def computed_outputs(result: Mapping[str, Any], olds: Mapping[str, Any] | None) -> dict:
    """The computed outputs from the script's record; the validation facts of creation are kept."""
    state = result.get("State") or {}
    outs = {
        "fqdn": state.get("Fqdn") or "",
        "cluster_id": state.get("Id") or "",
        "node_states": [{"name": n.get("Name"), "state": n.get("State")} for n in state.get("Nodes") or []],
        "quorum_type": state.get("QuorumType") or "",
        "witness_resource": state.get("WitnessResource") or "",
    }
    if result.get("Validation"):
        outcome, report, summary = summarize_validation(result["Validation"])
    elif olds and olds.get("validation_outcome"):
        outcome, report, summary = (olds["validation_outcome"], olds.get("validation_report") or "",
                                    olds.get("validation_summary") or "")
    else:
        outcome, report, summary = summarize_validation(None)
    outs.update(validation_outcome=outcome, validation_report=report, validation_summary=summary)
    return outs


class FailoverCluster(HvResource):
    """A failover cluster (see the module docstring for what create, update and delete do)."""

    fqdn: pulumi.Output[str]
    cluster_id: pulumi.Output[str]
    name: pulumi.Output[str]
    nodes: pulumi.Output[list]
    node_states: pulumi.Output[list]
    static_address: pulumi.Output[str]
    witness_disk_serial: pulumi.Output[Optional[str]]
    witness_resource: pulumi.Output[str]
    quorum_type: pulumi.Output[str]
    validation_report: pulumi.Output[str]
    validation_summary: pulumi.Output[str]
    validation_outcome: pulumi.Output[str]

    PROVIDER = FailoverClusterProvider
