"""Preflight: check every host of a lab stack as the lab will use it, before the first `pulumi up`
against real servers, and print for each failure the exact fix. Read-only.

    python -m hvprovider.preflight --stack <stack> [--json]

It reads the stack's config (``pulumi config --show-secrets``; run it where you run `pulumi` for the
stack) and, for the storage host and each node, in this order:

| check | how | fails when |
|---|---|---|
| WinRM | connects with the configured transport, port and certificate settings and runs a script | no answer, TLS not trusted, credentials refused, or access denied (UAC remote restrictions filter a local account's token) |
| OS | Win32_OperatingSystem | not Windows Server 2016, 2019, 2022, 2025 or Hyper-V Server 2019 (build 14393, 17763, 20348, 26100) |
| PowerShell | $PSVersionTable | not Windows PowerShell 5.1 |
| features | Get-WindowsFeature | a feature the lab installs is Removed from the image (needs -Source) |
| network profile | Get-NetConnectionProfile | a network is Public (WinRM and the cluster are limited to the local subnet) |
| clock | Get-Date on the host against this machine | more than 300 s off (Kerberos' default skew) |
| names | Resolve-DnsName of the other hosts, the domain and the storage host's FQDN | a name does not resolve (the domain's names only once its DC exists) |
| CredSSP | Get-WSManCredSSP | never: reported, since ClusterNode enables the roles it needs |

With ``machineHost`` (the lab as nested VMs) the servers do not exist yet: it checks that one Hyper-V
host the same way (Hyper-V installed or installable); the switch and images are checked by each
LabMachine before it changes anything.

Exit status 1 when a check failed, else 0.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import errors
from .stackconfig import connection, read_config

SCRIPT = "preflight.ps1"
SUPPORTED_BUILDS = {"14393": "Windows Server 2016", "17763": "Windows Server 2019 / Hyper-V Server 2019",
                    "20348": "Windows Server 2022", "26100": "Windows Server 2025"}
MAX_SKEW_SECONDS = 300
NODE_FEATURES = ("Hyper-V", "Failover-Clustering", "RSAT-Clustering-PowerShell", "Hyper-V-PowerShell")
STORAGE_FEATURES = ("FS-iSCSITarget-Server",)
MACHINE_HOST_FEATURES = ("Hyper-V", "Hyper-V-PowerShell")  # machineHost: the host that carries the LabMachines
ACCESS_DENIED = 5


@dataclass
class Row:
    host: str
    check: str
    ok: bool
    result: str
    fix: str = ""


def _winrm_fix(exc: errors.HvProviderError, conn: dict) -> str:
    where = f"{conn.get('host')}:{conn.get('port') or (5986 if conn.get('https') else 5985)}"
    if isinstance(exc, errors.InvalidCredentialsError):
        return ("check the user name and password in the stack config (hostPasswords / domainPassword): a local "
                "account as HOST\\user, a domain account as DOMAIN\\user")
    if isinstance(exc, errors.TlsError):
        return ("the listener's certificate is not trusted or not issued for this name: set the connection's "
                "ca_trust_path to your CA bundle (or connect with the name on the certificate)")
    if isinstance(exc, errors.WinRMFaultError) and exc.code == ACCESS_DENIED:
        return ("UAC remote restrictions filter this local account's token: connect as the built-in Administrator or a "
                "domain account, or on the host: New-ItemProperty -Path "
                "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System -Name "
                "LocalAccountTokenFilterPolicy -Value 1 -PropertyType DWord -Force")
    if isinstance(exc, errors.ConnectionFailedError):
        return (f"WinRM does not answer at {where}: on the host run Enable-PSRemoting -Force (HTTPS also needs a "
                f"listener with a certificate), and allow the port in the firewall (rule group Windows Remote Management)")
    return "see the message; docs/provider.md, 'Connecting to a host'"


def check_host(name: str, conn: dict, features: tuple[str, ...], names: list[str], dns_server: str | None,
               domain_pending: bool, domain: str) -> list[Row]:
    from . import transport

    label = f"WinRM ({conn.get('transport') or 'ntlm'}{', https' if conn.get('https') else ''})"
    try:
        with transport.operation():
            state = transport.run_script(conn, SCRIPT, {"Features": list(features), "Names": names}, retries=1)
    except errors.HvProviderError as exc:
        return [Row(name, label, False, str(exc).splitlines()[0][:200], _winrm_fix(exc, conn))]
    rows = [Row(name, label, True, f"{state.get('ComputerName')} answered as {conn.get('username')}")]

    build, caption = str(state.get("OsBuild")), str(state.get("OsCaption"))
    server = int(state.get("ProductType") or 0) in (2, 3) and ("Server" in caption)
    rows.append(Row(name, "OS", build in SUPPORTED_BUILDS and server, f"{caption} (build {build})",
                    "" if build in SUPPORTED_BUILDS and server else
                    "use Windows Server 2016, 2019, 2022 or 2025 (Standard/Datacenter) or Hyper-V Server 2019"))

    ps = str(state.get("PSVersion") or "")
    rows.append(Row(name, "PowerShell", ps.startswith("5.1"), f"Windows PowerShell {ps}",
                    "" if ps.startswith("5.1") else "install Windows Management Framework 5.1"))

    removed = [f["Name"] for f in state.get("Features") or [] if f.get("InstallState") == "Removed"]
    listed = ", ".join(f"{f['Name']} {f['InstallState']}" for f in state.get("Features") or [])
    rows.append(Row(name, "features", not removed, listed or "none needed",
                    "" if not removed else
                    f"the payload of {', '.join(removed)} was removed from the image: Install-WindowsFeature "
                    f"{', '.join(removed)} -Source <the install media's \\sources\\sxs or a WIM: index>"))

    public = [p["InterfaceAlias"] for p in state.get("Profiles") or [] if p.get("NetworkCategory") == "Public"]
    profiles = ", ".join(f"{p['InterfaceAlias']} {p['NetworkCategory']}" for p in state.get("Profiles") or [])
    rows.append(Row(name, "network profile", not public, profiles or "no connected network",
                    "" if not public else "; ".join(
                        f"Set-NetConnectionProfile -InterfaceAlias '{a}' -NetworkCategory Private" for a in public)))

    host_time = datetime.fromisoformat(str(state["UtcNow"]).replace("Z", "+00:00"))
    skew = (host_time - datetime.now(timezone.utc)).total_seconds()
    rows.append(Row(name, "clock", abs(skew) <= MAX_SKEW_SECONDS, f"{skew:+.0f} s against this machine",
                    "" if abs(skew) <= MAX_SKEW_SECONDS else
                    "set the clock: w32tm /resync /force (a domain member syncs from the DC; the DC from an NTP "
                    "source: w32tm /config /manualpeerlist:<ntp server> /syncfromflags:manual /update)"))

    failed = [r for r in state.get("Resolved") or [] if not r.get("Ok")]
    domain_names = [r["Name"] for r in failed if str(r["Name"]).lower().endswith(domain.lower())]
    hard = [r["Name"] for r in failed if not (domain_pending and r["Name"] in domain_names)]
    result = f"{len(names) - len(failed)} of {len(names)} resolve"
    if domain_pending and domain_names:
        result += f" ({', '.join(domain_names)}: once the domain exists)"
    fix = ""
    if hard:
        server = dns_server or "<the DC's address>"
        fix = (f"{', '.join(hard)} do not resolve: point the DNS client at the DC: Set-DnsClientServerAddress "
               f"-InterfaceAlias '{(state.get('Profiles') or [{}])[0].get('InterfaceAlias', 'Ethernet')}' "
               f"-ServerAddresses {server}")
    rows.append(Row(name, "names", not hard, result, fix))

    rows.append(Row(name, "CredSSP", True, " / ".join(state.get("CredSSP") or []) or "no answer",
                    ""))
    return rows


def run(config: dict) -> list[Row]:
    shape = config["lab"]
    passwords = config["hostPasswords"]
    domain = str(shape["domain"]["fqdn"])
    storage = shape["storageHost"]
    if shape.get("machineHost"):
        # the lab's servers do not exist yet: the stack builds them as LabMachines on this one host
        host = shape["machineHost"]
        return check_host(host["name"], connection(host, passwords), MACHINE_HOST_FEATURES, [], None, True, domain)
    hosts = [(storage, STORAGE_FEATURES)] + [(n, NODE_FEATURES) for n in shape["nodes"]]
    all_names = [h["name"] for h, _ in hosts]
    # a stack that creates the forest (DomainController) starts before the domain exists
    domain_pending = bool(shape.get("domainController"))
    rows: list[Row] = []
    for host, features in hosts:
        # the other hosts by name, the domain and its DC's FQDN (the nodes' FQDNs register only once they join)
        others = [n for n in all_names if n != host["name"]]
        names = others + [domain] + ([f"{storage['name'].lower()}.{domain}"] if host is not storage else [])
        rows += check_host(host["name"], connection(host, passwords), features, names, storage.get("address"),
                           domain_pending, domain)
    return rows


def render(rows: list[Row]) -> str:
    widths = (8, 18, 6, 60)
    out = ["HOST".ljust(widths[0]) + "  " + "CHECK".ljust(widths[1]) + "  " + "OK".ljust(widths[2]) + "  RESULT"]
    for r in rows:
        out.append(f"{r.host:<{widths[0]}}  {r.check:<{widths[1]}}  {'ok' if r.ok else 'FAIL':<{widths[2]}}  {r.result}")
        if r.fix:
            out.append(" " * (widths[0] + widths[1] + widths[2] + 6) + f"fix: {r.fix}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hvprovider.preflight", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stack", required=True)
    ap.add_argument("--cwd", type=Path, default=Path.cwd(), help="the Pulumi project directory (default: here)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = run(read_config(args.stack, args.cwd))
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        print(render(rows))
        failed = sum(not r.ok for r in rows)
        print(f"\n{failed} check(s) failed" if failed else "\nall checks passed: ready for `pulumi up`")
    return 1 if any(not r.ok for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
