"""What the cluster resources (FailoverCluster, SharedVolume, HighlyAvailableVM) share: the
connection property that lets any node serve, the domain credential properties and their script
parameters, and how node names are checked and compared."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from .connection import CONNECTION_FIELDS, CONNECTION_PROP, connection_check
from pulumi.dynamic import CheckFailure

from .validation import Prop, contains_unknown, dns_name, is_unknown, netbios_name, nonempty

#: Any node of the cluster serves: changing the connection (even its host) updates in place.
CLUSTER_CONNECTION_PROP = dataclasses.replace(CONNECTION_PROP, replace_fields=())

#: Other nodes of the same cluster, tried in order when ``connection``'s host does not answer (it lost
#: power, it is restarting): a cluster outlives any one node, so its resources must stay readable and
#: manageable through the survivors - above all when the node that lost power is the one we talk to.
ALTERNATE_CONNECTIONS_PROP = Prop(
    "alternate_connections", "list", item_kind="dict", fields=CONNECTION_FIELDS, items=(connection_check,),
    secret=True, doc="WinRM connections of other nodes, used in order when the connection's host does not answer")

DOMAIN_CREDENTIAL_PROPS: tuple[Prop, ...] = (
    Prop("domain_username", "str", required=True, checks=(nonempty,),
         doc="domain account the cluster cmdlets run as, e.g. HYPER\\Administrator"),
    Prop("domain_password", "str", required=True, secret=True, checks=(nonempty,),
         doc="that account's password (secret)"),
)


def domain_params(props: Mapping[str, Any]) -> dict:
    """The script parameters of DOMAIN_CREDENTIAL_PROPS (the scripts open a CredSSP session with them)."""
    return {"DomainUser": props["domain_username"], "DomainPassword": props["domain_password"]}


def node_name(value: str) -> str | None:
    """A cluster node: its NetBIOS name (HV01) or its FQDN (hv01.hyper.local)."""
    short = value.split(".")[0]
    if netbios_name(short):
        return f"{value!r} is not a node name: use the NetBIOS name (e.g. HV01) or the FQDN (e.g. hv01.hyper.local)"
    if "." in value and dns_name(value):
        return dns_name(value)
    return None


def short_name(value: Any) -> str:
    """HV01 for "hv01.hyper.local" or "HV01" (how Windows names cluster nodes)."""
    return str(value or "").split(".")[0].upper()


def same_names(a: Sequence[Any] | None, b: Sequence[Any] | None) -> bool:
    """Two node lists name the same nodes (order, case and FQDN/NetBIOS spelling ignored)."""
    return sorted(short_name(x) for x in (a or [])) == sorted(short_name(x) for x in (b or []))


def nodes_outside(cluster_nodes: Any, node: Any, path: str) -> list[CheckFailure]:
    """A failure when ``node`` is not one of ``cluster_nodes`` (skipped while either is unknown or unset)."""
    if not node or is_unknown(node) or not isinstance(cluster_nodes, list) or contains_unknown(cluster_nodes):
        return []
    if short_name(node) in {short_name(n) for n in cluster_nodes}:
        return []
    return [CheckFailure(path, f"{node!r} is not a node of the cluster; its nodes are: "
                               + ", ".join(str(n) for n in cluster_nodes))]
