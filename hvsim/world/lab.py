"""Build the initial world tree from a lab description (docs/DESIGN.md section 9).

`load_lab(path)` reads the YAML lab file; `build_world(lab)` returns the JSON tree a fresh World starts
from. Only the keys world-core owns get content here; the storage and cluster/Hyper-V parts of each
host start as the empty containers of DESIGN section 5 (their owners fill them).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from . import features as _features
from . import firewall as _firewall
from . import nested as _nested
from .core import DEFAULT_BOOT_SECONDS, DEFAULT_RESTART_DELAY, DEFAULT_TIME_FACTOR, iso, utcnow

DEFAULT_OS = {"caption": "Microsoft Windows Server 2022 Datacenter", "version": "10.0.20348", "product_type": "server"}


def load_lab(path: str | Path) -> dict:
    import yaml

    with open(path, encoding="utf-8") as fh:
        lab = yaml.safe_load(fh)
    if not isinstance(lab, dict) or not isinstance(lab.get("hosts"), dict):
        raise ValueError(f"{path}: a lab file needs a 'hosts' mapping")
    return lab


def _mac(host: str, index: int) -> str:
    digest = hashlib.sha256(f"{host}/{index}".encode()).hexdigest().upper()
    return "00-15-5D-" + "-".join(digest[i:i + 2] for i in range(0, 6, 2))


def _with_parents(names: list[str]) -> list[str]:
    out: list[str] = []
    for raw in names:
        name = _features.known(raw) or raw
        chain = []
        while name is not None:
            chain.append(name)
            info = _features.FEATURES.get(name)
            name = info[2] if info else None
        for n in reversed(chain):
            if n not in out:
                out.append(n)
    return out


def build_host(name: str, spec: dict[str, Any], domain: dict | None) -> dict:
    os_spec = {**DEFAULT_OS, **(spec.get("os") or {})}
    version = str(os_spec["version"])
    os_info = {
        "caption": os_spec["caption"],
        "version": version,
        "build": str(os_spec.get("build") or version.split(".")[-1]),
        "product_type": os_spec.get("product_type", "server"),
    }
    member = bool(spec.get("domain_member", False)) and domain is not None
    is_dc = bool(domain and str(domain.get("controller", "")).lower() == name.lower())
    installed = _with_parents(list(_features.BASE_FEATURES) + list(spec.get("features") or []))
    nics = []
    for i, nic in enumerate(spec.get("nics") or [{"name": "Ethernet"}]):
        nics.append({
            "name": nic["name"],
            "description": nic.get("description", "Microsoft Hyper-V Network Adapter" + (f" #{i + 1}" if i else "")),
            "if_index": int(nic.get("if_index", 4 + 2 * i)),
            "mac": nic.get("mac", _mac(name, i)),
            "status": nic.get("status", "Up"),
            "ipv4": nic.get("ipv4"),
            "prefix": int(nic.get("prefix", 24)),
            "link_speed": nic.get("link_speed", "10 Gbps"),
            **({"network_category": nic["network_category"]} if nic.get("network_category") else {}),
        })
    services = {
        sname: {"display_name": display, "status": "Running" if start == "Automatic" else "Stopped", "start_type": start}
        for sname, (display, start) in _features.BASE_SERVICES.items()
    }
    for feat, svcs in _features.FEATURE_SERVICES.items():
        if feat in installed:
            for sname, (display, start) in svcs.items():
                services[sname] = {"display_name": display, "status": "Running" if start == "Automatic" else "Stopped",
                                   "start_type": start}
    fqdn = f"{name.lower()}.{domain['fqdn']}" if (member or is_dc) and domain else name.lower()
    files = {}
    for d in ("C:\\Windows", "C:\\Users", "C:\\Program Files"):
        files[d.lower()] = {"path": d, "kind": "dir", "size": 0, "mtime": iso(utcnow())}
    return {
        "name": name,
        "os": os_info,
        "endpoints": {
            "address": spec.get("address", "127.0.0.1"),
            "http_port": int(spec.get("http_port", 5985)),
            "https_port": int(spec.get("https_port", 5986)),
            "allow_unencrypted": bool(spec.get("allow_unencrypted", False)),
        },
        "power": "on",
        "boot_id": 1,
        "last_boot": iso(utcnow()),
        "ready_at": 0.0,
        "boot_seconds": float(spec.get("boot_seconds", DEFAULT_BOOT_SECONDS)),
        "domain": domain["fqdn"] if (member or is_dc) and domain else None,
        "workgroup": None if (member or is_dc) and domain else spec.get("workgroup", "WORKGROUP"),
        "domain_controller": is_dc,
        "pending": {"restart_required": False},
        "local_users": {u: {"password": str(v.get("password", ""))} for u, v in (spec.get("local_users") or {}).items()},
        "features": {**{f: {"state": "Removed"} for f in spec.get("removed_features") or []},
                     **{f: {"state": "Installed"} for f in installed}},
        "services": services,
        "nics": nics,
        "files": files,
        "credssp": {"server": False, "client": False, "delegate": []},
        # what a preflight looks for (docs/hvsim.md, "Lab file"): clock off by this many seconds, the DNS
        # client broken, UAC remote restrictions lifted for local accounts
        "clock_skew_seconds": float(spec.get("clock_skew_seconds", 0)),
        "dns": spec.get("dns", "ok"),
        "local_account_token_filter_policy": int(spec.get("local_account_token_filter_policy", 0)),
        "firewall": _firewall.from_lab(spec.get("firewall")),
        "iscsi_target_server": {"targets": {}, "virtual_disks": {}},
        "iscsi_initiator": {"portals": [], "sessions": [], "iqn": f"iqn.1991-05.com.microsoft:{fqdn}"},
        "disks": [],
        "hyperv": {"switches": {}, "vms": {}},
        # a host that is itself a VM: {"extensions": false} = no nested virtualization (hvsim.world.hyperv)
        **({"virtualization": {"extensions": bool(spec["virtualization"].get("extensions", True))}}
           if isinstance(spec.get("virtualization"), dict) else {}),
    }


def build_world(lab: dict) -> dict:
    dom_spec = lab.get("domain")
    domain = None
    if dom_spec:
        domain = {
            "fqdn": str(dom_spec["fqdn"]).lower(),
            "netbios": str(dom_spec.get("netbios") or dom_spec["fqdn"].split(".")[0]).upper(),
            "controller": dom_spec.get("controller"),
            "users": {u: {"password": str(v.get("password", ""))} for u, v in (dom_spec.get("users") or {}).items()},
            "computers": {},
            "cluster_objects": {},
        }
    hosts = {}
    for name, spec in (lab.get("hosts") or {}).items():
        hosts[name] = build_host(name, spec or {}, domain)
        _nested.apply_lab_host(hosts[name], spec or {})
        if domain and hosts[name]["domain"]:
            domain["computers"][name] = {"dns_host_name": f"{name.lower()}.{domain['fqdn']}", "enabled": True,
                                         "created": iso(utcnow())}
    if domain and domain["controller"] and domain["controller"] not in hosts:
        raise ValueError(f"domain controller {domain['controller']!r} is not one of the lab's hosts")
    return {
        "version": 1,
        "time_factor": float(lab.get("time_factor", DEFAULT_TIME_FACTOR)),
        "restart_delay": float(lab.get("restart_delay", DEFAULT_RESTART_DELAY)),
        "control": dict(lab.get("control") or {}),
        "domain": domain,
        "hosts": hosts,
        "clusters": {},
        "faults": {},
        # the nested lab: ports and boot times of VMs that become hosts (hvsim/world/nested.py)
        "guests": {**_nested.DEFAULT_GUESTS, **(lab.get("guests") or {})},
    }
