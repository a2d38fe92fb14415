"""hvsim command line.

    python -m hvsim serve --lab hvsim/labs/seed.yaml --state .hvsim-state [--time-factor 0.01]
    python -m hvsim status --state .hvsim-state [--json]
    python -m hvsim power-off|power-on|restart HOST --state DIR
    python -m hvsim drop-connections HOST N --state DIR
    python -m hvsim latency HOST MS --state DIR
    python -m hvsim fail-cmdlet HOST CMDLET [--message TEXT] --state DIR
    python -m hvsim fail-operation HOST OPERATION [--kind reset|timeout] [--after] [--count N] [--seconds S] --state DIR
    python -m hvsim clear-faults [HOST] --state DIR
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable

DEFAULT_STATE = ".hvsim-state"


# ----------------------------------------------------------------------------------------- serve
def cmd_serve(args: argparse.Namespace) -> int:
    import yaml

    from hvsim.server import LabServer

    with open(args.lab, encoding="utf-8") as fh:
        lab = yaml.safe_load(fh)
    if not isinstance(lab, dict) or not isinstance(lab.get("hosts"), dict):
        print(f"hvsim: {args.lab}: a lab file needs a 'hosts' mapping", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = LabServer(lab, args.state, time_factor=args.time_factor)
    try:
        endpoints = server.start()
    except OSError as exc:
        print(f"hvsim: cannot start the lab: {exc}", file=sys.stderr)
        server.stop()
        return 1
    hosts = ", ".join(f"{n} http://{e['address']}:{e['http_port']} https://{e['address']}:{e['https_port']}"
                      for n, e in endpoints["hosts"].items())
    print(f"hvsim ready: state {Path(args.state).resolve()}; control {endpoints['control']}; {hosts}; "
          f"CA {endpoints['ca']}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        print("hvsim stopped", flush=True)
    return 0


# ----------------------------------------------------------------------------------------- faults
def _control_url(state: str) -> str:
    path = Path(state) / "endpoints.json"
    if not path.exists():
        raise SystemExit(f"hvsim: no {path}: is `python -m hvsim serve --state {state}` running?")
    return json.loads(path.read_text(encoding="utf-8"))["control"]


def cmd_fault(args: argparse.Namespace) -> int:
    from hvsim.control import ControlError, call_control

    kw: dict[str, Any] = {}
    if getattr(args, "host", None):
        kw["host"] = args.host
    if args.command == "drop-connections":
        kw["count"] = args.count
    elif args.command == "latency":
        kw["ms"] = args.ms
    elif args.command == "fail-operation":
        kw.update(operation=args.operation, kind=args.kind, after=args.after, count=args.count, seconds=args.seconds)
    elif args.command == "fail-cmdlet":
        kw["cmdlet"] = args.cmdlet
        if args.message:
            kw["message"] = args.message
    try:
        result = call_control(_control_url(args.state), args.command, **kw)
    except ControlError as exc:
        print(f"hvsim: {args.command}: {exc}", file=sys.stderr)
        return 1
    host = result.get("host")
    state = result.get("state") or {}
    if host:
        print(f"{args.command} {host}: power={state.get('power')} reachable={state.get('reachable')} "
              f"boot_id={state.get('boot_id')}")
    print("faults: " + json.dumps(result.get("faults") or {}, sort_keys=True))
    return 0


# ----------------------------------------------------------------------------------------- status
def _table(title: str, headers: list[str], rows: Iterable[list[Any]]) -> str:
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    out = [title]
    if not rows:
        out.append("  (none)")
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out.append(line.rstrip())
    out.append("  " + "  ".join("-" * w for w in widths))
    for r in rows:
        out.append(("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths))).rstrip())
    return "\n".join(out)


def _size(n: Any) -> str:
    try:
        n = int(n)
    except (TypeError, ValueError):
        return "" if n is None else str(n)
    for unit, div in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= div:
            val = n / div
            return f"{val:.0f} {unit}" if val == int(val) else f"{val:.1f} {unit}"
    return f"{n} B"


def _when(iso: Any) -> str:
    """2026-11-26T05:11:43.241+00:00 -> 2026-11-26 05:11:43Z"""
    if not iso:
        return ""
    text = str(iso).replace("T", " ")
    return text[:19] + "Z" if len(text) >= 19 and text[19:].startswith((".", "+00:00", "Z")) else text


def _get(d: Any, *keys: str, default: Any = None) -> Any:
    """First present key (several spellings tolerated: other layers own these sections)."""
    if not isinstance(d, dict):
        return default
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    lower = {str(k).lower(): v for k, v in d.items()}
    for k in keys:
        if k.lower() in lower and lower[k.lower()] is not None:
            return lower[k.lower()]
    return default


def _items(container: Any) -> list[tuple[str, dict]]:
    """A dict keyed by name, or a list of dicts with a name: (name, item) pairs."""
    if isinstance(container, dict):
        return [(str(k), v if isinstance(v, dict) else {"value": v}) for k, v in container.items()]
    if isinstance(container, list):
        out = []
        for i, v in enumerate(container):
            if isinstance(v, dict):
                out.append((str(_get(v, "name", "Name", "id", default=i)), v))
        return out
    return []


def _join(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(str(k) for k in v)
    return "" if v is None else str(v)


def render_status(world: dict) -> str:
    try:
        from hvsim.world.features import BASE_FEATURES
        base = {str(f) for f in BASE_FEATURES}
    except Exception:
        base = set()
    hosts = world.get("hosts") or {}
    sections = []

    rows = []
    for name, h in _items(hosts):
        feats = h.get("features") or {}
        shown = []
        for fname, f in (feats.items() if isinstance(feats, dict) else []):
            state = (f or {}).get("state") if isinstance(f, dict) else f
            if state == "Installed" and fname not in base:
                shown.append(fname)
            elif state and state not in ("Installed", "Available"):
                shown.append(f"{fname} ({state})")
        pending = h.get("pending") or {}
        power = h.get("power")
        if pending.get("restart_required"):
            power = f"{power}, restart pending"
        ep = h.get("endpoints") or {}
        vm = h.get("vm") or {}      # a guest of the nested lab lives in a VM of another host
        winrm = f"{ep.get('address', '')}:{ep.get('http_port', '')}/{ep.get('https_port', '')}" \
            if ep.get("address") else "-"
        rows.append([name, power, h.get("domain") or f"workgroup {h.get('workgroup') or 'WORKGROUP'}",
                     (h.get("os") or {}).get("caption"), _when(h.get("last_boot")), _join(shown) or "-",
                     winrm, f"VM {vm.get('vm_name')} on {vm.get('host')}" if vm else "-"])
    sections.append(_table("Hosts", ["HOST", "POWER", "DOMAIN", "OS", "BOOT TIME", "FEATURES", "WINRM", "VM"], rows))

    trows, vrows = [], []
    vdisk_sizes: dict[tuple[str, str], Any] = {}
    for hname, h in _items(hosts):
        tsrv = h.get("iscsi_target_server") or {}
        mapped: dict[str, list[str]] = {}
        for tkey, t in _items(tsrv.get("targets")):
            tname = _get(t, "name", "TargetName", default=tkey)
            luns = []
            for m in _get(t, "luns", "mappings", default=[]) or []:
                if isinstance(m, dict):
                    path = str(_get(m, "path", "Path", default=""))
                    luns.append(f"{_get(m, 'lun', 'Lun', default='?')}:{path.rsplit(chr(92), 1)[-1]}")
                    mapped.setdefault(path.lower(), []).append(tname)
            trows.append([hname, tname, _get(t, "iqn", "TargetIqn", default=""),
                          _join(_get(t, "initiator_ids", "InitiatorIds", default=[])), _join(luns) or "-"])
        for vkey, v in _items(tsrv.get("virtual_disks")):
            path = str(_get(v, "path", "Path", default=vkey))
            vdisk_sizes[(hname.lower(), path.lower())] = (_get(v, "size", "Size"), (v.get("layout") or {}))
            vrows.append([hname, path, _size(_get(v, "size", "Size")), _get(v, "disk_type", default=""),
                          _get(v, "serial", "SerialNumber", default=""), _join(mapped.get(path.lower())) or "-"])
    sections.append(_table("iSCSI targets", ["HOST", "TARGET", "IQN", "INITIATOR IDS", "LUNS"], trows))
    sections.append(_table("iSCSI virtual disks", ["HOST", "PATH", "SIZE", "TYPE", "SERIAL", "TARGETS"], vrows))

    drows = []
    for hname, h in _items(hosts):
        disks = h.get("disks") or []
        disk_list = [d for _, d in _items(disks)] if isinstance(disks, dict) else [d for d in disks if isinstance(d, dict)]
        for d in disk_list:
            if d.get("present") is False:
                continue
            src = d.get("source") or {}
            size, layout = _get(d, "size", "Size"), d.get("layout") or {}
            if src.get("kind") == "iscsi":
                size, layout = vdisk_sizes.get((str(src.get("target_host", "")).lower(),
                                                str(src.get("vdisk", "")).lower()), (size, layout))
            style = _get(d, "partition_style", "PartitionStyle", default=None) or layout.get("partition_style", "")
            drows.append([hname, _get(d, "number", "Number"), _get(d, "bus_type", "BusType", default=""),
                          _size(size), _get(d, "serial", "SerialNumber", default=""), style,
                          "offline" if _get(d, "offline", "IsOffline") else "online",
                          "read-only" if _get(d, "read_only", "IsReadOnly") else "",
                          f"{src.get('target_host')} LUN {src.get('lun')}" if src.get("kind") == "iscsi" else "local"])
    drows.sort(key=lambda r: (r[0], str(r[1]).zfill(4)))
    sections.append(_table("Disks", ["HOST", "NUMBER", "BUS", "SIZE", "SERIAL", "STYLE", "STATE", "RO",
                                      "SOURCE"], drows))

    crows, csv_rows = [], []
    vm_roles: dict[str, tuple[str, str, dict]] = {}
    for cname, c in _items(world.get("clusters")):
        nodes = _get(c, "nodes", "Nodes", default=[])
        node_names = [(_get(n, "name", "Name", default=k) if isinstance(n, dict) else n)
                      for k, n in (nodes.items() if isinstance(nodes, dict) else enumerate(nodes))]
        quorum = c.get("quorum") or {}
        witness = "-"
        if isinstance(quorum, dict):
            witness = f"{quorum.get('type', '')}" + (f" ({quorum['resource']})" if quorum.get("resource") else "")
        crows.append([_get(c, "name", default=cname), _join(node_names),
                      _join(_get(c, "static_address", "ip", default="")), witness or "-",
                      _get(c, "fqdn", "domain", default="")])
        for sname, s in _items(c.get("csvs")):
            csv_rows.append([cname, _get(s, "name", default=sname), _get(s, "path", default=""),
                             _get(s, "owner", default=""), _get(s, "state", default="Online")])
        for gname, g in _items(c.get("groups")):
            if str(g.get("type", "")).lower() == "virtualmachine":
                vm_roles[str(g.get("vm_id") or gname).lower()] = (cname, gname, g)
    sections.append(_table("Clusters", ["CLUSTER", "NODES", "IP", "QUORUM", "FQDN"], crows))
    sections.append(_table("Cluster Shared Volumes", ["CLUSTER", "NAME", "PATH", "OWNER", "STATE"], csv_rows))

    vm_rows = []
    for hname, h in _items(hosts):
        for vkey, vm in _items((h.get("hyperv") or {}).get("vms")):
            name = _get(vm, "name", "Name", default=vkey)
            role = vm_roles.get(str(vm.get("id") or vkey).lower()) or vm_roles.get(str(name).lower())
            vm_rows.append([name, hname, _get(vm, "state", "State", default=""),
                            f"{role[0]}/{role[1]}" if role else "-",
                            (role[2].get("owner") or "-") if role else "-",
                            (role[2].get("state") or "") if role else "", _get(vm, "path", "Path", default="")])
    sections.append(_table("VMs", ["VM", "HOST", "STATE", "CLUSTER ROLE", "OWNER NODE", "ROLE STATE", "PATH"],
                           vm_rows))

    faults = world.get("faults") or {}
    frows = []
    for host, n in (faults.get("drop_connections") or {}).items():
        frows.append([host, f"drop next {n} connection(s)"])
    for host, ms in (faults.get("latency_ms") or {}).items():
        frows.append([host, f"latency {ms} ms"])
    for f in faults.get("cmdlet_fail_once") or []:
        frows.append([f.get("host"), f"{f.get('cmdlet')} fails once: {f.get('message')}"])
    for f in faults.get("operations") or []:
        frows.append([f.get("host"), f"next {f.get('count')} {f.get('operation')} answer(s) lost: {f.get('kind')}"
                      + (" after the work" if f.get("after") else "")])
    sections.append(_table("Injected faults", ["HOST", "FAULT"], frows))
    return "\n\n".join(sections) + "\n"


def current_power(world: dict, now: float | None = None) -> dict:
    """The world as of now: a boot whose ready_at has passed reads as "on".

    state.json is written only on the next change, so a finished boot can still say "booting"
    there; the status derives the power on read, as World.reachable() does."""
    now = time.time() if now is None else now
    for h in (world.get("hosts") or {}).values():
        if isinstance(h, dict) and h.get("power") == "booting" and now >= float(h.get("ready_at") or 0):
            h["power"] = "on"
    return world


def cmd_status(args: argparse.Namespace) -> int:
    path = Path(args.state) / "state.json"
    if not path.exists():
        print(f"hvsim: no {path}: start the lab with `python -m hvsim serve --state {args.state}`",
              file=sys.stderr)
        return 1
    world = current_power(json.loads(path.read_text(encoding="utf-8")))
    if args.json:
        print(json.dumps(world, indent=1))
    else:
        sys.stdout.write(render_status(world))
    return 0


# ----------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hvsim", description="hvsim: a simulated Hyper-V cluster lab")
    sub = p.add_subparsers(dest="command", required=True)

    def state_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--state", default=DEFAULT_STATE, help=f"state directory (default {DEFAULT_STATE})")

    sp = sub.add_parser("serve", help="run the lab's WinRM endpoints and control interface")
    sp.add_argument("--lab", default=str(Path(__file__).resolve().parent / "labs" / "seed.yaml"))
    sp.add_argument("--time-factor", type=float, default=None,
                    help="simulated seconds -> real seconds (default: the lab file's)")
    state_arg(sp)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("status", help="print hosts, iSCSI, disks, clusters, CSVs and VMs")
    sp.add_argument("--json", action="store_true", help="print the raw world JSON")
    state_arg(sp)
    sp.set_defaults(func=cmd_status)

    for name, help_text in (("power-off", "pull the plug on HOST (roles fail over)"),
                            ("power-on", "power HOST on (it boots)"), ("restart", "restart HOST")):
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("host")
        state_arg(sp)
        sp.set_defaults(func=cmd_fault)
    sp = sub.add_parser("drop-connections", help="reset the next N new connections to HOST")
    sp.add_argument("host")
    sp.add_argument("count", type=int)
    state_arg(sp)
    sp.set_defaults(func=cmd_fault)
    sp = sub.add_parser("latency", help="add MS milliseconds before every answer of HOST (0 clears)")
    sp.add_argument("host")
    sp.add_argument("ms", type=int)
    state_arg(sp)
    sp.set_defaults(func=cmd_fault)
    sp = sub.add_parser("fail-cmdlet", help="make CMDLET fail once on HOST")
    sp.add_argument("host")
    sp.add_argument("cmdlet")
    sp.add_argument("--message", default=None)
    state_arg(sp)
    sp.set_defaults(func=cmd_fault)
    sp = sub.add_parser("fail-operation", help="lose the answer to the next WS-Management OPERATION of HOST")
    sp.add_argument("host")
    sp.add_argument("operation", help="Create, Command, Send, Receive, Signal or Delete")
    sp.add_argument("--kind", default="reset", choices=("reset", "timeout"),
                    help="reset the connection, or stay silent for --seconds (client read timeout)")
    sp.add_argument("--after", action="store_true",
                    help="only after the host did the work (a Receive: the one that reports the command done)")
    sp.add_argument("--count", type=int, default=1)
    sp.add_argument("--seconds", type=float, default=60.0)
    state_arg(sp)
    sp.set_defaults(func=cmd_fault)
    sp = sub.add_parser("clear-faults", help="remove injected faults (of HOST, or all)")
    sp.add_argument("host", nargs="?")
    state_arg(sp)
    sp.set_defaults(func=cmd_fault)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
