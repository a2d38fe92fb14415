"""ClusterNode: a Hyper-V host made ready to be a failover-cluster node.

Inputs (``ClusterNodeArgs``)                 diff
    connection              ConnectionArgs     host: replace; other fields: update
    features                list[str]          update (missing ones are installed; default: Hyper-V,
                                                 Failover-Clustering, RSAT-Clustering-PowerShell, Hyper-V-PowerShell)
    domain_name             str | None         update (joins when not a member; a member of another domain is an error)
    domain_join_username    str | None         update ("HYPER\\Administrator"; required with domain_name)
    domain_join_password    secret | None      update
    credssp                 bool = True        update (CredSSP server role + client role delegating to own name/FQDN,
                                                 DESIGN section 2: how FailoverCluster solves the double hop)
    target_portal_address   str | None         update (the iSCSI Target Server's address as the node reaches it)
    target_iqns             list[str] = []     update (persistent sessions to these targets)
    disk_serial_numbers     list[str] = []     update (LUNs to wait for and, while still RAW, bring online + writable)
    disk_sizes              list[size] | None  update (the LUNs' sizes, in the order of disk_serial_numbers: usually
                                                 [IscsiVolume.size_bytes, ...]; a grown LUN makes the node rescan)
    switch_name             str | None         update (external virtual switch, same name on every node)
    switch_adapter          str | None         update (the NIC the switch is bound to, e.g. "Ethernet 2")
    attach_storage          bool = True        update (False: a NodeStorage resource attaches this node's iSCSI
                                                 storage; target_iqns, disk_serial_numbers, disk_sizes stay empty
                                                 and the node neither connects nor logs off any target)
    allow_restart           bool = True        update (False: fail instead of restarting the host)
    restart_timeout         int = 900          ignore (seconds to wait for a restart)
    remove_features_on_delete bool = False     update (delete also uninstalls ``features``, restarting)
    leave_domain_on_delete  bool = False       update (delete also leaves the domain, restarting)
Outputs: every input, plus computer_name, fqdn, domain, initiator_iqn, connected_targets,
disks ([{serial_number, unique_id, number}]), last_boot_time, restarts (restarts done by the last
create/update), last_changes, delete_policy (computed at check, so ``pulumi preview --diff``
shows what a delete will undo), and switch_id (the switch it created or adopted; update and delete
act on that Id alone, never on ``switch_name`` as a pattern). With ``attach_storage=False``,
initiator_iqn is None and connected_targets and disks are empty: the NodeStorage reports them.

Storage apart (``attach_storage=False`` + ``NodeStorage``, what ClusterLab declares): the node's long
part (features, domain join, restart) then starts without waiting for the target and its volumes;
only NodeStorage waits for them. A node that attached targets before and is switched to
``attach_storage=False`` hands its sessions over: its update logs nothing off (NodeStorage adopts them).

Delete policy: disconnect the listed targets (dropping their persistent logins), remove the portal
when no session is left, remove the virtual switch, disable both CredSSP roles. Features, domain
membership and the MSiSCSI service settings stay unless the two ``*_on_delete`` flags say otherwise.
Scripts: scripts/cluster_node_prepare.ps1 (features, domain: the steps that need a restart),
scripts/cluster_node.ps1 (everything else), scripts/host_restart.ps1 + host_boot_time.ps1 (restart, wait).
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure

from . import errors, progress  # transport (the WinRM stack) is imported inside the operations: the program process never needs it
from .base import HvProvider, HvResource
from .connection import CONNECTION_PROP, ConnectionArgs
from .validation import (Prop, dns_name, host_address, iqn, is_unknown, nonempty, number_between, require_unique,
                         size_between)

SCRIPT = "cluster_node.ps1"
PREPARE_SCRIPT = "cluster_node_prepare.ps1"
DEFAULT_FEATURES = ("Hyper-V", "Failover-Clustering", "RSAT-Clustering-PowerShell", "Hyper-V-PowerShell")
MIN_LUN, MAX_LUN = 8 * 1024 ** 2, 64 * 1024 ** 4   # what an iSCSI virtual disk can be
_FEATURE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def feature_name(v: str) -> str | None:
    return None if _FEATURE_NAME.match(v) else f"'{v}' is not a Windows feature name (e.g. Hyper-V, Failover-Clustering)"


def account_name(v: str) -> str | None:
    """A domain account as Add-Computer needs it: DOMAIN\\user or user@domain.fqdn."""
    if "\\" in v.strip("\\") or ("@" in v and not v.startswith("@") and not v.endswith("@")):
        return None
    return f"'{v}' must name the domain: DOMAIN\\user or user@domain (e.g. HYPER\\Administrator)"


def switch_name_check(v: str) -> str | None:
    if not v.strip() or len(v) > 100 or any(ord(c) < 32 for c in v):
        return "must be 1-100 printable characters"
    return None


class ClusterNodeArgs:
    """Inputs of a ClusterNode (see the module docstring for every field and its diff behaviour)."""

    def __init__(self, connection: ConnectionArgs | pulumi.Input[dict],
                 features: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
                 domain_name: Optional[pulumi.Input[str]] = None,
                 domain_join_username: Optional[pulumi.Input[str]] = None,
                 domain_join_password: Optional[pulumi.Input[str]] = None,
                 credssp: Optional[pulumi.Input[bool]] = None,
                 target_portal_address: Optional[pulumi.Input[str]] = None,
                 target_iqns: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
                 disk_serial_numbers: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
                 disk_sizes: Optional[pulumi.Input[Sequence[pulumi.Input[int | str]]]] = None,
                 switch_name: Optional[pulumi.Input[str]] = None,
                 switch_adapter: Optional[pulumi.Input[str]] = None,
                 attach_storage: Optional[pulumi.Input[bool]] = None,
                 allow_restart: Optional[pulumi.Input[bool]] = None,
                 restart_timeout: Optional[pulumi.Input[int]] = None,
                 remove_features_on_delete: Optional[pulumi.Input[bool]] = None,
                 leave_domain_on_delete: Optional[pulumi.Input[bool]] = None) -> None:
        self.connection = connection
        self.features = features
        self.domain_name = domain_name
        self.domain_join_username = domain_join_username
        self.domain_join_password = domain_join_password
        self.credssp = credssp
        self.target_portal_address = target_portal_address
        self.target_iqns = target_iqns
        self.disk_serial_numbers = disk_serial_numbers
        self.disk_sizes = disk_sizes
        self.switch_name = switch_name
        self.switch_adapter = switch_adapter
        self.attach_storage = attach_storage
        self.allow_restart = allow_restart
        self.restart_timeout = restart_timeout
        self.remove_features_on_delete = remove_features_on_delete
        self.leave_domain_on_delete = leave_domain_on_delete


# -- the iSCSI attachment: shared with NodeStorage (node_storage.py), which runs the same
#    lib/node_iscsi.ps1 on its own ------------------------------------------------------------
STORAGE_PROPS = ("target_portal_address", "target_iqns", "disk_serial_numbers", "disk_sizes")


def storage_params(inputs: dict, olds: dict | None = None) -> dict:
    """The iSCSI parameters of cluster_node.ps1 and node_storage.ps1."""
    return {
        "TargetPortalAddress": inputs.get("target_portal_address") or "",
        "TargetIqns": list(inputs.get("target_iqns") or []),
        # the targets this resource connected before: the only sessions an update may log off
        "PreviousTargetIqns": list((olds or {}).get("target_iqns") or []),
        "DiskSerialNumbers": list(inputs.get("disk_serial_numbers") or []),
        "DiskSizes": [int(n) for n in inputs.get("disk_sizes") or []],
    }


def storage_failures(news: dict) -> list:
    """The iSCSI inputs' cross-property rules."""
    failures = []
    if news.get("target_iqns") and not news.get("target_portal_address"):
        failures.append(CheckFailure("target_portal_address", "is required with target_iqns (the address of the "
                                     "iSCSI Target Server as this node reaches it, e.g. 192.168.10.10)"))
    for prop in ("target_iqns", "disk_serial_numbers"):
        if isinstance(news.get(prop), list):
            failures.extend(require_unique(news[prop], prop))
    sizes, serials = news.get("disk_sizes"), news.get("disk_serial_numbers")
    if sizes and isinstance(sizes, list) and isinstance(serials, list) and len(sizes) != len(serials):
        failures.append(CheckFailure("disk_sizes", f"has {len(sizes)} sizes for {len(serials)} disk_serial_numbers: "
                                     "give one size per serial number, in the same order, or none"))
    return failures


def storage_facts(state: dict) -> dict:
    sessions = state.get("Sessions") or []
    return {
        "initiator_iqn": state.get("InitiatorIqn"),
        "connected_targets": sorted({s["TargetNodeAddress"] for s in sessions if s.get("IsConnected")}),
        # no size: growing the IscsiVolume (another resource) changes it (docs/provider.md)
        "disks": [{"serial_number": d.get("SerialNumber"), "unique_id": d.get("UniqueId"),
                   "number": d.get("Number")} for d in state.get("Disks") or []],
    }


def storage_observed(desired: dict, state: dict) -> dict:
    """The iSCSI inputs as the host currently fulfils them (drift shows as a difference)."""
    connected = {s["TargetNodeAddress"].lower() for s in state.get("Sessions") or [] if s.get("IsConnected")}
    visible = {str(d.get("SerialNumber")).lower() for d in state.get("Disks") or []}
    observed = {
        "target_iqns": [t for t in desired.get("target_iqns") or [] if t.lower() in connected],
        "disk_serial_numbers": [s for s in desired.get("disk_serial_numbers") or [] if s.lower() in visible],
    }
    if desired.get("disk_sizes"):
        # a LUN this host sees smaller than listed (grown, not rescanned yet) is drift the next up
        # repairs; one it sees larger (grown out of band) fulfils the input
        seen = {str(d.get("SerialNumber")).lower(): d.get("Size") for d in state.get("Disks") or []}
        serials = list(desired.get("disk_serial_numbers") or [])
        observed["disk_sizes"] = [
            min(size, seen.get(str(serials[i]).lower()) or size) if i < len(serials) else size
            for i, size in enumerate(desired["disk_sizes"])]
    return observed


def delete_policy(inputs: dict) -> str:
    """One sentence that says what deleting this node undoes (shown at preview)."""
    undo = []
    if inputs.get("target_iqns"):
        undo.append("disconnect iSCSI targets " + ", ".join(str(t) for t in inputs["target_iqns"]))
    if inputs.get("switch_name"):
        undo.append(f"remove virtual switch [{inputs['switch_name']}]")
    if inputs.get("credssp", True):
        undo.append("disable the CredSSP roles")
    if inputs.get("remove_features_on_delete"):
        undo.append("uninstall " + ", ".join(inputs.get("features") or []) + " (restart)")
    if inputs.get("leave_domain_on_delete"):
        undo.append(f"leave domain {inputs.get('domain_name')} (restart)")
    keep = []
    if not inputs.get("remove_features_on_delete"):
        keep.append("features")
    if inputs.get("domain_name") and not inputs.get("leave_domain_on_delete"):
        keep.append("domain membership")
    text = "delete will " + ("; ".join(undo) if undo else "change nothing on the host")
    return text + (("; keeps " + " and ".join(keep)) if keep else "")


class ClusterNodeProvider(HvProvider):
    RESOURCE = "ClusterNode"
    SPEC = (
        CONNECTION_PROP,
        Prop("features", "list", default=lambda: list(DEFAULT_FEATURES), items=(feature_name,), unordered=True,
             case_insensitive=True),
        Prop("domain_name", "str", checks=(dns_name,), case_insensitive=True),
        Prop("domain_join_username", "str", checks=(account_name,)),
        Prop("domain_join_password", "str", secret=True),
        Prop("credssp", "bool", default=True),
        Prop("target_portal_address", "str", checks=(host_address,), case_insensitive=True),
        Prop("target_iqns", "list", default=lambda: [], items=(iqn,), unordered=True, case_insensitive=True),
        Prop("disk_serial_numbers", "list", default=lambda: [], items=(nonempty,), unordered=True,
             case_insensitive=True),
        # no default: a stack created before this input existed shows no change for it
        Prop("disk_sizes", "list", item_kind="size", items=(size_between(MIN_LUN, MAX_LUN),),
             doc="the LUNs' sizes in the order of disk_serial_numbers (IscsiVolume.size_bytes)"),
        Prop("switch_name", "str", checks=(switch_name_check,), case_insensitive=True),
        Prop("switch_adapter", "str", checks=(switch_name_check,), case_insensitive=True),
        # no default: a stack created before this input existed shows no change for it (None = True)
        Prop("attach_storage", "bool", doc="False: NodeStorage attaches this node's iSCSI storage"),
        Prop("allow_restart", "bool", default=True),
        Prop("restart_timeout", "int", default=900, checks=(number_between(10, 7200),), on_change="ignore"),
        Prop("remove_features_on_delete", "bool", default=False),
        Prop("leave_domain_on_delete", "bool", default=False),
    )
    OUTPUTS = ("computer_name", "fqdn", "domain", "initiator_iqn", "connected_targets", "disks",
               "last_boot_time", "restarts", "last_changes", "delete_policy", "switch_id")

    # facts of the host that only another host (connection) or a domain join can change
    KEPT_OUTPUTS = {"computer_name": ("connection",), "fqdn": ("connection", "domain_name"),
                    "initiator_iqn": ("connection", "domain_name")}

    def derived_inputs(self, inputs: dict) -> dict:
        # known at check, so that preview (and preview --diff) shows what a delete would undo
        return {"delete_policy": delete_policy(inputs)}

    def check_more(self, olds: dict, news: dict) -> list:
        failures = []
        if news.get("domain_name") and not (news.get("domain_join_username") and news.get("domain_join_password")):
            failures.append(CheckFailure("domain_join_password", "domain_join_username and domain_join_password are "
                                         "required with domain_name (the account that may join computers)"))
        if news.get("leave_domain_on_delete") and not news.get("domain_name"):
            failures.append(CheckFailure("leave_domain_on_delete", "needs domain_name and the join credential"))
        if news.get("attach_storage") is False:
            given = [p for p in STORAGE_PROPS if news.get(p)]
            if given:
                failures.append(CheckFailure("attach_storage", "is false (a NodeStorage resource attaches this node's "
                                             "iSCSI storage): leave " + ", ".join(given) + " out"))
        failures.extend(storage_failures(news))
        if bool(news.get("switch_name")) != bool(news.get("switch_adapter")):
            failures.append(CheckFailure("switch_adapter", "switch_name and switch_adapter go together (the external "
                                         "switch's name and the NIC it is bound to, e.g. \"Ethernet 2\")"))
        if isinstance(news.get("features"), list):
            failures.extend(require_unique(news["features"], "features"))
        return failures

    def make_id(self, inputs: dict) -> str:
        return f"{inputs['connection']['host']}/cluster-node"

    # -- parameters ---------------------------------------------------------------------
    @staticmethod
    def _node_params(inputs: dict, mode: str, olds: dict | None = None) -> dict:
        return {
            "Mode": mode,
            "Features": list(inputs.get("features") or []),
            "EnableCredSSP": bool(inputs.get("credssp", True)),
            **storage_params(inputs, olds),
            # False: NodeStorage owns the sessions (those this node made before are handed over, not logged off)
            "AttachStorage": inputs.get("attach_storage") is not False,
            "SwitchName": inputs.get("switch_name") or "",
            "SwitchAdapter": inputs.get("switch_adapter") or "",
            # the switch this resource created or adopted (update and delete act on it alone)
            "SwitchId": inputs.get("switch_id") or "",
        }

    @staticmethod
    def _prepare_params(inputs: dict, mode: str, features: list, leave_domain: bool = False) -> dict:
        return {
            "Mode": mode,
            "Features": features,
            "DomainName": inputs.get("domain_name") or "",
            "JoinUser": inputs.get("domain_join_username") or "",
            "JoinPassword": inputs.get("domain_join_password") or "",
            "LeaveDomain": leave_domain,
        }

    # -- state -> outputs ------------------------------------------------------------------
    @staticmethod
    def _facts(state: dict, inputs: dict) -> dict:
        # with attach_storage=False the iSCSI facts are NodeStorage's (here they would go stale as it connects)
        attached = inputs.get("attach_storage") is not False
        return {
            "computer_name": state.get("ComputerName"),
            "fqdn": state.get("Fqdn"),
            "domain": state.get("Domain"),
            **(storage_facts(state) if attached else {"initiator_iqn": None, "connected_targets": [], "disks": []}),
            "last_boot_time": state.get("LastBootUpTime"),
            "switch_id": (state.get("Switch") or {}).get("Id"),
        }

    @staticmethod
    def _observed_inputs(desired: dict, state: dict) -> dict:
        """The inputs as the host currently fulfils them (drift shows as a difference)."""
        installed = {f["Name"].lower() for f in state.get("Features") or [] if f.get("Installed")}
        credssp = state.get("CredSSP") or {}
        own = {f"wsman/{str(state.get('Fqdn') or '').lower()}", f"wsman/{str(state.get('ComputerName') or '').lower()}"}
        credssp_ok = bool(credssp.get("Server")) and bool(credssp.get("Client")) and own <= {
            str(d).lower() for d in credssp.get("Delegates") or []}
        switch = state.get("Switch") or None
        switch_ok = bool(switch) and str(switch.get("SwitchType")) == "External" and \
            str(switch.get("NetAdapterName") or "").lower() == str(desired.get("switch_adapter") or "").lower()
        observed = {
            "features": [f for f in desired.get("features") or [] if f.lower() in installed],
            "domain_name": state.get("Domain") if desired.get("domain_name") else desired.get("domain_name"),
            **storage_observed(desired, state),
        }
        if desired.get("credssp", True):
            observed["credssp"] = credssp_ok
        if desired.get("switch_name"):
            observed["switch_name"] = desired["switch_name"] if switch_ok else None
        return observed

    # -- operations ----------------------------------------------------------------------------
    def _restart(self, inputs: dict, why: str) -> None:
        from . import transport
        if not inputs.get("allow_restart", True):
            raise errors.InputError(self.RESOURCE, "allow_restart",
                                    f"{inputs['connection']['host']} needs a restart ({why}) and allow_restart is "
                                    f"false: restart it yourself, then run pulumi up again")
        timeout = float(inputs.get("restart_timeout") or 900)
        progress.status(f"restarting {inputs['connection']['host']} ({why}); waiting up to {timeout:.0f} s for it")
        transport.restart_and_wait(inputs["connection"], timeout)

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        from . import transport
        conn = inputs["connection"]
        features = list(inputs.get("features") or [])
        changes: list[str] = []
        restarts = 0
        for _ in range(3):  # features + join, restart, confirm (a feature may need a second pass)
            prepared = transport.run_script(conn, PREPARE_SCRIPT, self._prepare_params(inputs, "Set", features))
            changes.extend(prepared.get("Changes") or [])
            if not prepared.get("RestartNeeded"):
                break
            self._restart(inputs, ", ".join(prepared.get("Changes") or []) or "pending changes")
            restarts += 1
        recorded = {"switch_id": (olds or {}).get("switch_id")}
        state = transport.run_script(conn, SCRIPT, self._node_params({**inputs, **recorded}, "Set", olds))
        changes.extend(state.get("Changes") or [])
        facts = self._facts(state, inputs)
        facts.update(restarts=restarts, last_changes=changes, delete_policy=delete_policy(inputs))
        return facts

    def observe(self, id: str, outputs: dict) -> dict | None:
        from . import transport
        state = transport.run_script(outputs["connection"], SCRIPT, self._node_params(outputs, "Get"))
        facts = self._facts(state, outputs)
        facts.update(self._observed_inputs(outputs, state))
        return facts

    def remove(self, id: str, outputs: dict) -> None:
        from . import transport
        conn = outputs["connection"]
        transport.run_script(conn, SCRIPT, self._node_params(outputs, "Remove"))
        features = list(outputs.get("features") or []) if outputs.get("remove_features_on_delete") else []
        leave = bool(outputs.get("leave_domain_on_delete"))
        if features or leave:
            result = transport.run_script(conn, PREPARE_SCRIPT, self._prepare_params(outputs, "Remove", features, leave))
            if result.get("RestartNeeded"):
                self._restart(outputs, ", ".join(result.get("Changes") or []))


@pulumi.output_type
class NodeDisk(dict):
    """A LUN as the node sees it (``ClusterNode.disks``): ``disk["number"]`` or ``disk.number``, ints as ints
    (no size: a grown volume would show here as drift of the node; IscsiVolume.size_bytes has it)."""

    serial_number: str = pulumi.property("serial_number")
    unique_id: str = pulumi.property("unique_id")
    number: Optional[int] = pulumi.property("number")


class ClusterNode(HvResource):
    """A Hyper-V host made ready for the cluster (see the module docstring)."""

    connection: pulumi.Output[dict]
    features: pulumi.Output[list]
    domain_name: pulumi.Output[Optional[str]]
    credssp: pulumi.Output[bool]
    target_portal_address: pulumi.Output[Optional[str]]
    target_iqns: pulumi.Output[list]
    disk_serial_numbers: pulumi.Output[list]
    switch_name: pulumi.Output[Optional[str]]
    switch_adapter: pulumi.Output[Optional[str]]
    attach_storage: pulumi.Output[Optional[bool]]
    computer_name: pulumi.Output[str]
    fqdn: pulumi.Output[str]
    domain: pulumi.Output[Optional[str]]
    initiator_iqn: pulumi.Output[str]
    connected_targets: pulumi.Output[list]
    disks: pulumi.Output[list[NodeDisk]]
    last_boot_time: pulumi.Output[str]
    restarts: pulumi.Output[int]
    last_changes: pulumi.Output[list]
    delete_policy: pulumi.Output[str]

    PROVIDER = ClusterNodeProvider
