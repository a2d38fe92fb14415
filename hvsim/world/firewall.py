"""Windows Firewall: the inbound rules the lab depends on, and what a closed one breaks.

World shape (owned here): `host["firewall"]`:

    {"profiles": {"Domain": true, "Private": true, "Public": true},     # Enabled of each profile
     "disabled": ["FailoverCluster-TCP-3343-In"],                        # built-in rules switched off
     "rules": {<name>: {"name", "display_name", "group", "protocol", "local_port", "enabled"}}}  # created ones

Built-in rules are not stored: a host has the base rules plus those of every installed feature, each
enabled unless its name is in "disabled" (features enable their rules when they install, as on
Windows). The names follow Windows' patterns but are representative: the provider finds rules by
protocol and port (Get-NetFirewallPortFilter), never by name. WinRM over HTTPS has no built-in rule on
Windows; hvsim's hosts carry one as the administrator who set up the HTTPS listener would have.

What a closed port breaks (`allows` is asked at each place):
- 5985/5986: new WinRM requests to the host are reset (the protocol layer);
- 3260 on the target server: portal discovery and iSCSI logins fail with "Connection Failed.";
- 3343 (TCP and UDP) on a node: Test-Cluster, New-Cluster and Add-ClusterNode cannot reach it;
- 6600 on the destination: a live migration fails (a quick migration needs no connection between hosts).
A profile that is switched off (lab file `firewall: {profiles_off: [Domain]}`) lets everything through,
as Windows does; nothing in the provider ever switches a profile off.

Lab file, per host: `firewall: {disabled: [<rule name>, ...], profiles_off: [<profile>, ...]}`.
"""
from __future__ import annotations

from typing import Any

# (name, display name, group, protocol, local port, feature or None for the base image)
BUILTIN = (
    ("WINRM-HTTP-In-TCP", "Windows Remote Management (HTTP-In)", "Windows Remote Management", "TCP", "5985", None),
    ("WINRM-HTTPS-In-TCP", "Windows Remote Management (HTTPS-In)", "Windows Remote Management", "TCP", "5986", None),
    ("iSCSITarget-TCP-In", "iSCSI Target (TCP-In)", "iSCSI Target Server", "TCP", "3260", "FS-iSCSITarget-Server"),
    ("FailoverCluster-TCP-3343-In", "Failover Clusters (TCP-In)", "Failover Clusters", "TCP", "3343",
     "Failover-Clustering"),
    ("FailoverCluster-UDP-3343-In", "Failover Clusters (UDP-In)", "Failover Clusters", "UDP", "3343",
     "Failover-Clustering"),
    ("VIRT-MIGL-In-TCP-NoScope", "Hyper-V (MIG-TCP-In)", "Hyper-V", "TCP", "6600", "Hyper-V"),
)
PROFILES = ("Domain", "Private", "Public")


def state_of(h: dict) -> dict:
    fw = h.setdefault("firewall", {})
    fw.setdefault("profiles", {p: True for p in PROFILES})
    fw.setdefault("disabled", [])
    fw.setdefault("rules", {})
    return fw


def from_lab(spec: dict | None) -> dict:
    spec = spec or {}
    off = {str(p).capitalize() for p in spec.get("profiles_off") or []}
    return {"profiles": {p: p not in off for p in PROFILES}, "disabled": list(spec.get("disabled") or []), "rules": {}}


def rules(h: dict) -> list[dict]:
    """Every inbound allow rule of the host, built-in and created, with its current Enabled."""
    fw = state_of(h)
    disabled = {n.lower() for n in fw["disabled"]}
    out = []
    for name, display, group, proto, port, feature in BUILTIN:
        if feature and h.get("features", {}).get(feature, {}).get("state") != "Installed":
            continue
        out.append({"name": name, "display_name": display, "group": group, "protocol": proto, "local_port": port,
                    "enabled": name.lower() not in disabled, "builtin": True})
    for r in fw["rules"].values():
        out.append({**r, "builtin": False})
    return out


def find(h: dict, name: str) -> dict | None:
    return next((r for r in rules(h) if r["name"].lower() == str(name).lower()), None)


def set_enabled(h: dict, name: str, enabled: bool) -> None:
    fw = state_of(h)
    rule = fw["rules"].get(name.lower())
    if rule is not None:
        rule["enabled"] = enabled
        return
    fw["disabled"] = [n for n in fw["disabled"] if n.lower() != name.lower()] + ([] if enabled else [name])


def allows(h: dict, protocol: str, port: int) -> bool:
    """Whether an inbound connection to this port gets through (any profile off lets it through: the
    lab's hosts have one network)."""
    fw = state_of(h)
    if not all(fw["profiles"].values()):
        return True
    for r in rules(h):
        if r["enabled"] and r["protocol"].upper() == protocol.upper() and str(port) in _ports(r["local_port"]):
            return True
    return False


def _ports(value: Any) -> set[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return {str(v).strip() for v in items}
