#!/usr/bin/env python3
"""Benchmark the seed lab on a fresh hvsim: how close `up` comes to its critical path, what a run costs
before any Windows work, and how `up`/`destroy` scale with extra HA VMs.

    .venv/bin/python tools/bench_lab.py [--time-factor 0.05] [--vms 1,8] [--repeat 2] [--keep DIR]

Run it after tools/setup.sh (it uses the engine setup recorded, like the tests). It prints:
1. the seed lab's `up` from a fresh hvsim world: wall time, the critical-path lower bound and their ratio.
   The bound is the longest path through the stack's dependency graph (`pulumi stack export`), each
   resource weighted by the seconds its commands ran in hvsim (audit `command` records, attributed by
   the script they ran and the host they ran on) plus, for a ClusterNode, its host's restarts (audit
   `boot` records: the restart delay and the boot). Resources that share a script and a host (the two
   iSCSI volumes) share their commands' time equally.
2. no-op `up`, `preview` and `refresh` of the seed lab beside the same of an empty program (the
   fixed cost of a run), the minimum of --repeat runs each.
3. for each N of --vms: `up` adding N extra highly available VMs (Off, small) to the lab, then the `up`
   that removes them again (the destroy), with each one's wall time, seconds per VM, the peak
   number of highly_available_vm.ps1 commands running at once in hvsim, and the median seconds hvsim
   spent on one of them (flat when the simulator is not what the figure measures).

Figures are wall-clock on whatever else this machine runs: compare the ratios of one run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "provider")]

from engine_harness import PulumiProject, _pulumi_yaml, engine_environment, find_engine  # noqa: E402
from hvsim.testing import LabProcess  # noqa: E402
from test_lab_e2e import lab_shape, secrets_of  # noqa: E402

# the script each resource type runs (hvprovider/scripts); ClusterNode also runs cluster_node_prepare.ps1
SCRIPTS = {
    "IscsiTarget": ("iscsi_target.ps1",), "IscsiVolume": ("iscsi_volume.ps1",),
    "ClusterNode": ("cluster_node.ps1", "cluster_node_prepare.ps1", "host_boot_time.ps1", "host_restart.ps1"),
    "NodeStorage": ("node_storage.ps1",),
    "FailoverCluster": ("failover_cluster.ps1",), "SharedVolume": ("shared_volume.ps1",),
    "HighlyAvailableVM": ("highly_available_vm.ps1",),
}

EXTRA_VMS = '''
# --- tools/bench_lab.py: N extra highly available VMs (config extraVms), Off and small
from hvprovider import HighlyAvailableVM, HighlyAvailableVMArgs
from hvprovider.lab import ClusterLabConfig as _Cfg

_cfg = _Cfg.from_dict(config.require_object("lab"), host_passwords, domain_password)
for _i in range(config.get_int("extraVms") or 0):
    HighlyAvailableVM(f"bench-vm-{_i + 1}", HighlyAvailableVMArgs(
        connection=_cfg.nodes[0].connection, domain_username=_cfg.domain_username,
        domain_password=_cfg.domain_password, name=f"BenchVM{_i + 1:03d}", path=lab.csv_path,
        memory_startup_bytes=512 * 2**20, disk_size_bytes=2**30, switch_name=_cfg.switch_name,
        state="Off", alternate_connections=[n.connection for n in _cfg.nodes[1:]]),
        opts=pulumi.ResourceOptions(depends_on=[lab]))
'''


TYPE_PREFIX = "pulumi-python:dynamic/hvprovider:"   # each resource's own type token (base.HvResource)
PER_HOST = ("ClusterNode", "NodeStorage")           # one per node, named <lab>-<node>[-storage]


def resource_kind(res: dict) -> str | None:
    """The hvprovider class of a dynamic resource, from its type token."""
    kind = str(res.get("type") or "")
    return kind[len(TYPE_PREFIX):] if kind.startswith(TYPE_PREFIX) and kind[len(TYPE_PREFIX):] in SCRIPTS else None


def critical_path(export: dict, audit: list[dict], since: str) -> tuple[float, list[str], dict]:
    """(lower bound seconds, the path's resource names, weight per resource) for the records after `since`."""
    resources = [r for r in export["deployment"]["resources"] if resource_kind(r)]
    # A ClusterNode's or NodeStorage's host is in its name (seed-hv01, seed-hv01-storage); the other kinds'
    # scripts are theirs alone, wherever they ran (the connection, which names the host, is a secret output).
    host_of = {r["urn"]: r["urn"].rsplit("::", 1)[-1].split("-")[1].upper() if resource_kind(r) in PER_HOST else None
               for r in resources}
    spent: dict[tuple[str, str | None], float] = defaultdict(float)
    boots: dict[str, float] = defaultdict(float)
    for rec in audit:
        if rec["time"] <= since:
            continue
        if rec["kind"] == "command" and rec.get("script"):
            spent[(rec["script"], rec["host"])] += float(rec.get("seconds") or 0)
            spent[(rec["script"], None)] += float(rec.get("seconds") or 0)
        elif rec["kind"] == "boot":
            boots[rec["host"]] += float(rec.get("ready_in") or 0) + RESTART_DELAY
    sharing: dict[tuple[str, str | None], int] = defaultdict(int)
    for r in resources:
        for script in SCRIPTS[resource_kind(r)]:
            sharing[(script, host_of[r["urn"]])] += 1
    weight = {}
    for r in resources:
        kind, host = resource_kind(r), host_of[r["urn"]]
        w = sum(spent[(s, host)] / sharing[(s, host)] for s in SCRIPTS[kind])
        weight[r["urn"]] = w + (boots[host] if kind == "ClusterNode" else 0.0)
    deps = {r["urn"]: [d for d in r.get("dependencies") or [] if d in weight] for r in resources}
    memo: dict[str, tuple[float, list[str]]] = {}

    def longest(urn: str) -> tuple[float, list[str]]:
        if urn not in memo:
            best = max((longest(d) for d in deps[urn]), default=(0.0, []), key=lambda x: x[0])
            memo[urn] = (best[0] + weight[urn], best[1] + [urn.rsplit("::", 1)[-1]])
        return memo[urn]

    total, path = max((longest(u) for u in weight), key=lambda x: x[0])
    return total, path, {u.rsplit("::", 1)[-1]: round(w, 2) for u, w in weight.items()}


def peak_overlap(audit: list[dict], script: str, since: str) -> int:
    """The most commands of `script` running at the same moment (intervals from each record's end time and seconds)."""
    events = []
    for rec in audit:
        if rec["kind"] == "command" and rec.get("script") == script and rec["time"] > since:
            end = dt.datetime.fromisoformat(rec["time"]).timestamp()
            events += [(end - float(rec["seconds"]), 1), (end, -1)]
    running = peak = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        running += step
        peak = max(peak, running)
    return peak


def median_command_seconds(audit: list[dict], script: str, since: str) -> float:
    """hvsim's own time per command of `script` (median): flat as N grows when hvsim scales."""
    times = sorted(float(r["seconds"]) for r in audit
                   if r["kind"] == "command" and r.get("script") == script and r["time"] > since)
    return times[len(times) // 2] if times else 0.0


def timed(fn) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


RESTART_DELAY = 0.5   # hvsim's default: Restart-Computer's host goes down this long after the reply


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--time-factor", type=float, default=0.05, help="hvsim's simulated->real seconds (default 0.05)")
    ap.add_argument("--vms", default="1,8", help="comma-separated counts of extra HA VMs (default 1,8; e.g. 1,8,32,64)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each no-op command; the minimum is printed")
    ap.add_argument("--keep", help="work in this directory and keep it (default: a temporary one, removed)")
    args = ap.parse_args()
    counts = [int(x) for x in args.vms.split(",") if x.strip()]
    engine = find_engine()
    if engine is None:
        print("bench_lab: no Pulumi engine: run tools/setup.sh first", file=sys.stderr)
        return 2
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-lab-"))
    work.mkdir(parents=True, exist_ok=True)
    lab = LabProcess.for_tests(work, time_factor=args.time_factor).start()
    try:
        return run(args, counts, engine, work, lab)
    finally:
        lab.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def project(engine: Path, work: Path, name: str, program: str, config: dict, secrets: dict) -> PulumiProject:
    env = engine_environment(engine, work / f"pulumi-{name}")
    directory = work / name
    directory.mkdir()
    (directory / "__main__.py").write_text(program)
    (directory / "Pulumi.yaml").write_text(_pulumi_yaml(f"bench{name}"))
    p = PulumiProject(directory, "bench", env, timeout=3600)
    p.init_stack()
    for key, value in config.items():
        p.set_config(key, value)
    for key, value in secrets.items():
        p.set_config(key, value, secret=True)
    return p


def run(args, counts, engine, work, lab) -> int:
    print(f"bench_lab: time factor {args.time_factor}, load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} (1/5/15 min), {os.cpu_count()} cores", flush=True)
    shape = lab_shape(lab)
    shape["storage"]["storageSize"] = "200GB"        # room for the extra VMs' disks
    seed = project(engine, work, "seed", (REPO / "__main__.py").read_text() + EXTRA_VMS,
                   {"lab": shape}, secrets_of(lab))
    empty = project(engine, work, "empty", "import pulumi\n", {}, {})

    # 1. the seed lab from a fresh world
    since = now_iso()
    wall = timed(seed.up)
    bound, path, weights = critical_path(seed.export(), lab.audit(), since)
    print(f"\nseed lab up: wall {wall:.1f} s, critical-path lower bound {bound:.1f} s, ratio {wall / bound:.2f}")
    print(f"  critical path: {' -> '.join(path)}")
    print(f"  resource weights (s): {json.dumps(weights)}", flush=True)

    # 2. the fixed cost of a run
    empty.up()
    print(f"\nno-op runs (min of {args.repeat}):   seed lab   empty program   ratio")
    for verb in ("up", "preview", "refresh"):
        s = min(timed(getattr(seed, verb)) for _ in range(args.repeat))
        e = min(timed(getattr(empty, verb)) for _ in range(args.repeat))
        print(f"  {verb:<8} {s:>22.1f} s {e:>12.1f} s {s / e:>8.2f}", flush=True)

    # 3. extra HA VMs
    print("\nextra HA VMs:   up s   s/VM  peak  hvsim s/cmd   destroy s   s/VM  peak  hvsim s/cmd")
    for n in counts:
        seed.set_config("extraVms", str(n))
        since = now_iso()
        up = timed(seed.up)
        audit = lab.audit()
        up_peak = peak_overlap(audit, SCRIPTS["HighlyAvailableVM"][0], since)
        up_cmd = median_command_seconds(audit, SCRIPTS["HighlyAvailableVM"][0], since)
        seed.set_config("extraVms", "0")
        since = now_iso()
        down = timed(seed.up)
        audit = lab.audit()
        down_peak = peak_overlap(audit, SCRIPTS["HighlyAvailableVM"][0], since)
        down_cmd = median_command_seconds(audit, SCRIPTS["HighlyAvailableVM"][0], since)
        print(f"  N={n:<4} {up:>12.1f} {up / n:>6.2f} {up_peak:>5} {up_cmd:>12.3f} {down:>11.1f} {down / n:>6.2f} "
              f"{down_peak:>5} {down_cmd:>12.3f}", flush=True)
    print(f"\nload at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
