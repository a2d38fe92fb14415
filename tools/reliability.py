#!/usr/bin/env python3
"""Reliability suite: measures, against hvsim with the real engine and pywinrm, what issue 8 asks of
the provider, and prints figures (docs/reliability.md records a run).

    .venv/bin/python tools/reliability.py [--only faults,invalid,hostile,secrets,cycles]
                                          [--cycles 20] [--faults full|quick] [--time-factor 0.001]

Run it with the engine on PATH (as `make test` does: `set -a; . .venv/hvprovider.env; set +a;
PATH="$PULUMI_ENGINE_BIN:.venv/bin:$PATH"`). Every case uses a fresh hvsim lab and a fresh stack in a
temporary directory; nothing outside it is touched. Sections:

faults   For each phase of the seed lab (create = the first `up`, update = an `up` that grows the
         storage volume, adds an initiator, changes the VM's memory and owner; delete = `destroy`)
         a clean run lists the mutating cmdlets per host. Then, one case each: that cmdlet fails
         once (fail-cmdlet), and, per host, a WinRM request loses its answer after the host did the
         work (fail-operation on Command, Send, Receive, Signal, Delete, reset and timeout). The run
         with the fault may fail; the re-run without it must succeed; a third run must change
         nothing; and the world must hold exactly what the clean run left (no duplicate, no orphan:
         the inventory of targets, disks, sessions, switches, VMs, cluster groups and CSVs).
invalid  At least 50 invalid inputs through a real `pulumi preview`: each must fail naming the
         property, and hvsim must see no WinRM call.
hostile  At least 20 hostile strings through every string input that reaches PowerShell, in real
         `up`s: the objects carry the literal strings, and hvsim ran no cmdlet that our scripts do not
         name.
secrets  Every lab password searched for in the state, the engine's `-v=9` logs, hvsim's audit and
         log, and the output of a failing run.
cycles   N up/destroy cycles of the seed lab: the world back to its baseline each time, the open-shell
         count of every host flat.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "provider")]

from engine_harness import PulumiProject, engine_environment, find_engine  # noqa: E402
from hvsim.testing import LabProcess  # noqa: E402
from test_lab_e2e import KEPT_AFTER_DESTROY, changed_paths, lab_shape, secrets_of  # noqa: E402

HOSTS = ("DC01", "HV01", "HV02")
OPERATIONS = ("Command", "Send", "Receive", "Signal", "Delete")


# ---------------------------------------------------------------------------------------------- a case
class Case:
    """A fresh hvsim lab and a fresh stack of the repo's __main__.py in a temporary directory."""

    def __init__(self, root: Path, time_factor: float, shape_changes: dict | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="case-", dir=root))
        self.lab = LabProcess.for_tests(self.dir, time_factor=time_factor)
        self.lab.start()
        engine = find_engine()
        if engine is None:
            raise SystemExit("reliability: no Pulumi engine (run tools/setup.sh and put it on PATH)")
        self.env = engine_environment(engine, self.dir / "pulumi-state")
        program = self.dir / "program"
        program.mkdir()
        shutil.copy(REPO / "__main__.py", program / "__main__.py")
        (program / "Pulumi.yaml").write_text(
            f"name: hvlab\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / '.venv'}\n")
        self.project = PulumiProject(program, "rel", self.env)
        self.project.init_stack()
        self.set_shape(shape_changes or {})
        for key, value in secrets_of(self.lab).items():
            self.project.set_config(key, value, secret=True)

    def set_shape(self, changes: dict) -> None:
        shape = lab_shape(self.lab, owner="HV01")
        for path, value in changes.items():
            node = shape
            *parents, last = path.split(".")
            for p in parents:
                node = node[p]
            node[last] = value
        self.project.set_config("lab", shape)

    def close(self) -> None:
        self.lab.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def mutating(self, since: int = 0) -> list[str]:
        return [f"{r['host']}:{r['cmdlet']}" for r in self.lab.audit()[since:]
                if r.get("kind") == "cmdlet" and r.get("mutating")]

    def shells(self) -> dict[str, int]:
        status = self.lab.control("status")["hosts"]
        return {h: int(status[h].get("shells", 0)) for h in HOSTS}


def inventory(world: dict) -> dict[str, Any]:
    """What the lab's resources own, counted: two runs that converged have the same inventory."""
    inv: dict[str, Any] = {}
    dc = world["hosts"]["DC01"]["iscsi_target_server"]
    inv["targets"] = sorted(dc["targets"])
    inv["virtual_disks"] = sorted(dc["virtual_disks"])
    for h in ("HV01", "HV02"):
        host = world["hosts"][h]
        inv[f"{h}.sessions"] = sorted(s.get("target_iqn", s.get("target", "")) for s in
                                      host.get("iscsi_initiator", {}).get("sessions", []))
        inv[f"{h}.switches"] = sorted(s["name"] for s in host["hyperv"]["switches"].values())
        inv[f"{h}.vms"] = sorted(v["name"] for v in host["hyperv"]["vms"].values())
        inv[f"{h}.domain"] = host.get("domain")
    for name, c in (world.get("clusters") or {}).items():
        inv[f"cluster {name}.nodes"] = sorted(c["nodes"])
        inv[f"cluster {name}.groups"] = sorted(c["groups"])
        inv[f"cluster {name}.resources"] = len(c["resources"])
        inv[f"cluster {name}.csvs"] = sorted(v["path"] for v in c["csvs"].values())
        inv[f"cluster {name}.witness"] = bool(c["quorum"].get("resource"))
    return inv


# ---------------------------------------------------------------------------------------------- faults
UPDATE = {"storage.storageSize": "6GB", "vm.memoryStartupBytes": "2GB", "vm.allowRestartForChanges": True,
          "vm.ownerNode": "HV02"}


def _phase_run(case: Case, phase: str, **kw: Any):
    if phase == "delete":
        return case.project.destroy(**kw)
    return case.project.up(**kw)


def _prepare(case: Case, phase: str) -> None:
    if phase in ("update", "delete"):
        case.project.up()
    if phase == "update":
        case.set_shape(UPDATE)


def fault_plan(root: Path, tf: float, phase: str) -> tuple[list[tuple[str, str]], dict]:
    """A clean run of the phase: the (host, cmdlet) pairs it calls that change something, in order, and
    the inventory it ends with."""
    case = Case(root, tf)
    try:
        _prepare(case, phase)
        n = len(case.lab.audit())
        _phase_run(case, phase)
        seen: list[tuple[str, str]] = []
        for item in case.mutating(n):
            host, cmdlet = item.split(":", 1)
            if (host, cmdlet) not in seen:
                seen.append((host, cmdlet))
        return seen, inventory(case.lab.world())
    finally:
        case.close()


def run_fault_case(root: Path, tf: float, phase: str, inject: Callable[[Case], None], expected: dict) -> dict:
    case = Case(root, tf)
    started = time.monotonic()
    result = {"ok": False}
    try:
        _prepare(case, phase)
        inject(case)
        first = _phase_run(case, phase, expect_failure=None)
        result["first_run"] = "ok" if first.ok else "failed"
        result["traceback"] = "Traceback" in first.output
        case.lab.control("clear-faults")
        second = _phase_run(case, phase, expect_failure=None)
        result["rerun"] = "ok" if second.ok else "failed: " + _last_error(second.output)
        n = len(case.lab.audit())
        third = _phase_run(case, phase, expect_failure=None)
        result["third_run_mutations"] = len(case.mutating(n)) if third.ok else None
        got = inventory(case.lab.world())
        diff = {k: (expected.get(k), got.get(k)) for k in set(expected) | set(got) if expected.get(k) != got.get(k)}
        result["inventory_diff"] = diff
        result["ok"] = second.ok and third.ok and result["third_run_mutations"] == 0 and not diff \
            and not result["traceback"]
    except Exception as exc:  # a case that breaks the harness is a failed case, reported
        result["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        result["seconds"] = round(time.monotonic() - started, 1)
        case.close()
    return result


def _last_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if "rror" in ln]
    return (lines[-1] if lines else output.strip().splitlines()[-1] if output.strip() else "")[:200]


def section_faults(root: Path, tf: float, mode: str, report: Callable[[str], None]) -> dict:
    totals = {"cases": 0, "converged": 0, "failed_first": 0, "tracebacks": 0}
    failures = []
    for phase in ("create", "update", "delete"):
        plan, expected = fault_plan(root, tf, phase)
        cases: list[tuple[str, Callable[[Case], None]]] = []
        for host, cmdlet in plan:
            cases.append((f"{phase}: {cmdlet} fails once on {host}",
                          lambda c, h=host, m=cmdlet: c.lab.control("fail-cmdlet", host=h, cmdlet=m)))
        for host in HOSTS:
            for op in OPERATIONS:
                for kind in ("reset", "timeout"):
                    cases.append((f"{phase}: {op} answer lost on {host} ({kind}, after the work)",
                                  lambda c, h=host, o=op, k=kind: c.lab.control(
                                      "fail-operation", host=h, operation=o, kind=k, after=True, seconds=3)))
        if mode == "quick":
            cases = cases[:: max(1, len(cases) // 6)]
        for label, inject in cases:
            res = run_fault_case(root, tf, phase, inject, expected)
            totals["cases"] += 1
            totals["converged"] += bool(res["ok"])
            totals["failed_first"] += res.get("first_run") == "failed"
            totals["tracebacks"] += bool(res.get("traceback"))
            report(f"  {'ok  ' if res['ok'] else 'FAIL'} {label}: first run {res.get('first_run')}, re-run "
                   f"{res.get('rerun')}, then {res.get('third_run_mutations')} changes, {res['seconds']} s"
                   + (f", inventory {res['inventory_diff']}" if res.get("inventory_diff") else "")
                   + (f", {res['error']}" if res.get("error") else ""))
            if not res["ok"]:
                failures.append(label)
    totals["failures"] = failures
    return totals


# ---------------------------------------------------------------------------------------------- invalid
INVALID: list[tuple[str, Any, str]] = [
    # (lab config path, bad value, the property the error must name)
    ("storageHost.name", "DC_01", "storageHost.name"), ("storageHost.name", "", "storageHost.name"),
    ("storageHost.address", "300.1.1.1", "address"), ("storageHost.address", "dc 01", "address"),
    ("storageHost.connection.port", 0, "port"), ("storageHost.connection.port", 70000, "port"),
    ("storageHost.connection.port", "http", "port"), ("storageHost.connection.username", "", "username"),
    ("storageHost.connection.transport", "telnet", "transport"), ("storageHost.connection.host", "", "host"),
    ("storageHost.connection.host", "bad host name", "host"), ("storageHost.connection.https", "maybe", "https"),
    ("nodes.0.name", "HV-01-TOO-LONG-NAME", "name"), ("nodes.0.name", "1234", "name"),
    ("nodes.1.name", "HV01", "name"), ("nodes.0.vmNic", "", "nic"), ("nodes.0.connection.port", -1, "port"),
    ("domain.fqdn", "hyper_local", "domain"), ("domain.fqdn", "", "domain"), ("domain.fqdn", "-hyper.local", "domain"),
    ("domain.username", "Administrator", "username"), ("domain.username", "", "username"),
    ("cluster.name", "CLUSTER_1", "name"), ("cluster.name", "", "name"), ("cluster.name", "A" * 16, "name"),
    ("cluster.address", "192.168.10.300", "address"), ("cluster.address", "", "address"),
    ("cluster.skipValidation", "no", "skip"), ("cluster.skipValidation", "perhaps", "skip"),
    ("storage.targetName", "bad target!", "target"), ("storage.targetName", "", "target"),
    ("storage.quorumSize", "1XB", "size"), ("storage.quorumSize", "0GB", "size"), ("storage.quorumSize", -5, "size"),
    ("storage.storageSize", "1.5MB", "size"), ("storage.storageSize", "100PB", "size"),
    ("storage.folder", "iSCSI", "folder"), ("storage.folder", "C:\\bad|folder", "folder"),
    ("storage.folder", "C:\\x?y", "folder"), ("switchName", "", "switch"), ("switchName", "a" * 101, "switch"),
    ("vm.name", "Test*VM", "name"), ("vm.name", "Test?1", "name"), ("vm.name", "", "name"),
    ("vm.name", " TestVM", "name"), ("vm.memoryStartupBytes", "1KB", "memory"),
    ("vm.memoryStartupBytes", "lots", "memory"), ("vm.processorCount", 0, "processor"),
    ("vm.processorCount", 65, "processor"), ("vm.processorCount", "two", "processor"),
    ("vm.generation", 3, "generation"), ("vm.diskSizeBytes", "1MB", "disk"), ("vm.state", "Paused", "state"),
    ("vm.ownerNode", "HV03", "owner"), ("vm.preferredOwners", ["HV01", "HV09"], "preferred"),
    ("vm.preferredOwners", ["HV01", "HV01"], "preferred"), ("vm.migrationType", "Teleport", "migration"),
    ("vm.allowRestartForChanges", "yes please", "restart"), ("vm.bogusKey", 1, "bogus"),
]


def _set_path(shape: dict, path: str, value: Any) -> None:
    node: Any = shape
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


def section_invalid(root: Path, tf: float, report: Callable[[str], None]) -> dict:
    case = Case(root, tf)
    caught = named = 0
    winrm_calls = 0
    misses = []
    try:
        for path, value, words in INVALID:
            shape = lab_shape(case.lab, owner="HV01")
            _set_path(shape, path, value)
            case.project.set_config("lab", shape)
            n = len(case.lab.audit())
            res = case.project.preview(expect_failure=None)
            calls = len([r for r in case.lab.audit()[n:] if r.get("kind") in ("command", "cmdlet")])
            winrm_calls += calls
            text = res.output
            ok_fail = not res.ok
            names = words.lower() in text.lower()
            caught += ok_fail
            named += ok_fail and names
            if not (ok_fail and names and calls == 0):
                misses.append(f"{path}={value!r}: {'failed' if ok_fail else 'PASSED'}, "
                              f"{'named' if names else 'not named'}, {calls} WinRM calls")
        report(f"  {len(INVALID)} invalid inputs: {caught} refused at preview, {named} naming the property, "
               f"{winrm_calls} WinRM calls in all")
        for m in misses:
            report(f"  miss: {m}")
    finally:
        case.close()
    return {"inputs": len(INVALID), "refused": caught, "named": named, "winrm_calls": winrm_calls, "misses": misses}


# ---------------------------------------------------------------------------------------------- hostile
HOSTILE = [
    "it's", 'say "hi"', "$(Remove-Item C:\\ -Recurse)", "${env:COMPUTERNAME}", "a`nb", "semi; Stop-Computer",
    "amp & calc", "pipe | Out-File x", "@{x=1}", "back`tick", "dollar $x", "paren (1+1)", "brace {0}",
    "percent %PATH%", "caret ^ and !", "hash # comment", "<redirect> 2>&1", "unicode \u00e9\u00e8\u00fc",
    "tab\there", "quote' + 'mix", "-Force", "--% stop parsing",
]
# string inputs of the seed lab that reach PowerShell, where these characters are allowed by Windows
HOSTILE_PATHS = {"switchName": "{}", "vm.name": "VM {}", "storage.csvLabel": "{}"}


def _allowed_cmdlets() -> set[str]:
    """Every cmdlet name our scripts contain, plus the interpreter's utility cmdlets."""
    names: set[str] = set()
    for path in (REPO / "hvprovider" / "scripts").rglob("*.ps1"):
        names |= {m.lower() for m in re.findall(r"\b([A-Z][a-z]+-[A-Za-z]+)\b", path.read_text(encoding="ascii"))}
    return names


def _strings(tree: Any) -> set[str]:
    """Every string value in a JSON tree (the world), to find a literal as it was stored."""
    if isinstance(tree, str):
        return {tree}
    if isinstance(tree, dict):
        return set().union(*(_strings(v) for v in tree.values())) if tree else set()
    if isinstance(tree, list):
        return set().union(*(_strings(v) for v in tree)) if tree else set()
    return set()


def section_hostile(root: Path, tf: float, report: Callable[[str], None]) -> dict:
    allowed = _allowed_cmdlets()
    strange: set[str] = set()
    runs = ok = 0
    failures = []
    for i, text in enumerate(HOSTILE):
        prop, template = list(HOSTILE_PATHS.items())[i % len(HOSTILE_PATHS)]
        value = template.format(text)
        if prop == "vm.name" and any(c in value for c in '\\/:*?"<>|[]') or prop == "vm.name" and value != value.strip():
            value = template.format(re.sub(r'[\\/:*?"<>|\[\]]', "_", text)).strip()
        if "\n" in value or "\t" in value:
            value = value.replace("\n", " ").replace("\t", " ")
        case = Case(root, tf, {prop: value})
        try:
            res = case.project.up(expect_failure=None)
            runs += 1
            world = case.lab.world()
            cmdlets = {r["cmdlet"].lower() for r in case.lab.audit() if r.get("kind") == "cmdlet"}
            strange |= cmdlets - allowed
            literal = value in _strings(world)
            good = res.ok and literal and not (cmdlets - allowed)
            ok += good
            if not good:
                failures.append(f"{prop}={value!r}: up {'ok' if res.ok else 'failed: ' + _last_error(res.output)}, "
                                f"literal in the world: {literal}, unexpected cmdlets: {sorted(cmdlets - allowed)}")
        finally:
            case.close()
    report(f"  {runs} real ups with hostile strings in {', '.join(HOSTILE_PATHS)}: {ok} built with the literal "
           f"string and only the scripts' cmdlets; unexpected cmdlets seen: {sorted(strange) or 'none'}")
    for f in failures:
        report(f"  miss: {f}")
    return {"runs": runs, "ok": ok, "unexpected_cmdlets": sorted(strange), "failures": failures}


# ---------------------------------------------------------------------------------------------- secrets
def section_secrets(root: Path, tf: float, report: Callable[[str], None]) -> dict:
    case = Case(root, tf)
    try:
        secrets = secrets_of(case.lab)
        passwords = {secrets["domainPassword"], *secrets["hostPasswords"].values()}
        up = case.project.run("up", "--yes", "--skip-preview", "--logtostderr", "-v=9", "--logflow")
        # a failing run: a wrong domain password, its error output
        case.project.set_config("domainPassword", secrets["domainPassword"] + "-wrong", secret=True)
        case.set_shape({"vm.memoryStartupBytes": "2GB", "vm.allowRestartForChanges": True})
        bad = case.project.up(expect_failure=None)
        places = {
            "state (stack export)": case.project.export_text(),
            "engine logs (-v=9) and output": up.stdout + up.stderr,
            "failing run's output": bad.output,
            "hvsim audit": (case.lab.state_dir / "audit.jsonl").read_text(encoding="utf-8"),
            "hvsim log": (case.lab.state_dir / "server.log").read_text(encoding="utf-8", errors="replace"),
            "hvsim state": (case.lab.state_dir / "state.json").read_text(encoding="utf-8"),
        }
        found = {place: sorted(p for p in passwords if p in text) for place, text in places.items()}
        leaks = {k: v for k, v in found.items() if v and k != "hvsim state"}
        sizes = {k: len(v) for k, v in places.items()}
        report(f"  {len(passwords)} passwords searched in {', '.join(f'{k} ({sizes[k]} chars)' for k in places)}")
        report(f"  found: {leaks or 'nowhere'} (hvsim's own state.json holds the simulated accounts by design)")
        return {"passwords": len(passwords), "leaks": leaks, "sizes": sizes}
    finally:
        case.close()


# ---------------------------------------------------------------------------------------------- cycles
def section_cycles(root: Path, tf: float, n: int, report: Callable[[str], None]) -> dict:
    case = Case(root, tf)
    try:
        baseline_shells = case.shells()
        baseline = None
        bad_cycles = []
        shell_counts = []
        durations = []
        for i in range(1, n + 1):
            t0 = time.monotonic()
            case.project.up()
            case.project.destroy()
            durations.append(time.monotonic() - t0)
            world = case.lab.world()
            shell_counts.append(case.shells())
            if baseline is None:
                baseline = world
            else:
                changed = [p for p in changed_paths(baseline, world) if not any(k.search(p) for k in KEPT_AFTER_DESTROY)]
                if changed:
                    bad_cycles.append((i, changed[:5]))
        flat = all(c == baseline_shells for c in shell_counts)
        report(f"  {n} up/destroy cycles: {n - len(bad_cycles)} back to the baseline world, open shells "
               f"{'flat at ' + str(baseline_shells) if flat else 'NOT flat: ' + str(shell_counts)}; "
               f"cycle median {sorted(durations)[len(durations) // 2]:.1f} s")
        for i, changed in bad_cycles:
            report(f"  cycle {i} left: {changed}")
        return {"cycles": n, "back_to_baseline": n - len(bad_cycles), "shells_flat": flat,
                "shells": shell_counts[-1], "median_seconds": round(sorted(durations)[len(durations) // 2], 1)}
    finally:
        case.close()


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="faults,invalid,hostile,secrets,cycles")
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--faults", choices=("full", "quick"), default="full")
    ap.add_argument("--time-factor", type=float, default=0.001)
    ap.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = ap.parse_args(list(argv) if argv is not None else None)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    root = Path(tempfile.mkdtemp(prefix="hvprovider-reliability-"))
    figures: dict[str, Any] = {"load_before": os.getloadavg(), "nproc": os.cpu_count()}
    started = time.monotonic()

    def report(line: str) -> None:
        print(line, flush=True)

    try:
        for name in sections:
            t0 = time.monotonic()
            report(f"== {name}")
            if name == "faults":
                figures[name] = section_faults(root, args.time_factor, args.faults, report)
            elif name == "invalid":
                figures[name] = section_invalid(root, args.time_factor, report)
            elif name == "hostile":
                figures[name] = section_hostile(root, args.time_factor, report)
            elif name == "secrets":
                figures[name] = section_secrets(root, args.time_factor, report)
            elif name == "cycles":
                figures[name] = section_cycles(root, args.time_factor, args.cycles, report)
            else:
                raise SystemExit(f"unknown section {name!r}")
            figures[name]["seconds"] = round(time.monotonic() - t0, 1)
            report(f"   ({figures[name]['seconds']} s)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["load_after"] = os.getloadavg()
    report(f"== done in {figures['seconds']} s; load average before {figures['load_before']}, after "
           f"{figures['load_after']} on {figures['nproc']} cores")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
