"""The seed's three tests as a drill a lab user runs against a running lab and its stack:

    python -m hvprovider.drill --stack hvsim [--hvsim-state .hvsim-state] [--json]
    tools/lab.sh drill                       (the same against the hvsim lab of `make lab`)

1. live migration of the VM to the other node (the seed: one lost ping reply);
2. quick migration back (the seed: nine lost replies: the VM is saved, moved and restored);
3. power loss of the VM's owner: the cluster restarts the VM on the survivor.

For each it prints the owner before and after, the VM's downtime and whether the stack needs a
refresh (the owner the Pulumi state recorded differs from the real one). Downtime, as the lab reports it:
- on hvsim (``--hvsim-state``): hvsim's simulated timeline (the cluster's event for the move, in
  simulated seconds);
- on real servers: Hyper-V's own clock. The VM's ``Uptime`` counts the seconds it has been running, so
  the wall time a move took minus the uptime it gained is the time the VM did not run (a live migration
  shows about 0); after a power loss the VM was started again, and its uptime tells when.
  Power loss on real servers is a manual step: the drill asks you to cut the owner's power (or turn off
  its VM in a nested lab) and press Enter; without a terminal it skips that test and says so.

It reads the stack's config (``pulumi config --show-secrets``: connections, passwords, the VM) and its
state (``pulumi stack export``: the owner the HighlyAvailableVM last recorded) with the `pulumi` CLI from
the current directory, so run it where you run `pulumi` for the stack, with the same environment.
Nothing here changes the Pulumi state: after the drill, `pulumi refresh` shows where the VM is and
`pulumi up` moves it back if the program pins ``ownerNode``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .stackconfig import connection, read_config, read_state

SCRIPT = "drill.ps1"


@dataclass
class Step:
    test: str
    owner_before: str
    owner_after: str
    downtime_seconds: float | None
    downtime_source: str
    vm_state_after: str
    state_owner: str | None          # what the Pulumi state records as the VM's owner
    needs_refresh: bool
    note: str = ""


@dataclass
class Lab:
    """What the drill needs from the stack: node connections, the domain credential, the VM."""

    nodes: dict[str, dict]            # name -> connection inputs (with password)
    domain_username: str
    domain_password: str
    vm_name: str
    pinned_owner: str | None
    state_owner: str | None = None


def read_lab(stack: str, cwd: Path) -> Lab:
    """The lab from the stack's config (the shape __main__.py reads) and the VM's owner from its state."""
    config = read_config(stack, cwd)
    shape = config["lab"]
    nodes = {node["name"].upper(): connection(node, config["hostPasswords"], shape) for node in shape["nodes"]}
    vm = shape.get("vm") or {}
    lab = Lab(nodes=nodes, domain_username=shape["domain"]["username"], domain_password=config["domainPassword"],
              vm_name=vm.get("name", "TestVM"), pinned_owner=(vm.get("ownerNode") or "").upper() or None)
    lab.state_owner = state_owner(read_state(stack, cwd), lab.vm_name)
    return lab


def state_owner(resources: list[dict], vm_name: str) -> str | None:
    """owner_node of the HighlyAvailableVM resource for vm_name, as the Pulumi state has it."""
    for res in resources:
        outs = res.get("outputs") or {}
        if "vm_id" in outs and str(outs.get("name", "")).lower() == vm_name.lower():
            return str(outs.get("owner_node") or "").split(".")[0].upper() or None
    return None


class Drill:
    def __init__(self, lab: Lab, hvsim_state: Path | None, confirm: Callable[[str], bool], out: Callable[[str], None]):
        self.lab, self.hvsim_state, self.confirm, self.out = lab, hvsim_state, confirm, out

    # -- remote ------------------------------------------------------------------------------------
    def run(self, mode: str, prefer: str | None = None, avoid: str | None = None, **params: Any) -> dict:
        from . import transport

        names = sorted(self.lab.nodes, key=lambda n: (n == avoid, n != prefer))
        conns = [self.lab.nodes[n] for n in names if n != avoid] or [self.lab.nodes[n] for n in names]
        return transport.run_script_any(conns, SCRIPT, {
            "Mode": mode, "Name": self.lab.vm_name, "DomainUser": self.lab.domain_username,
            "DomainPassword": self.lab.domain_password, **params})

    def observe(self, avoid: str | None = None) -> dict:
        return self.run("Observe", avoid=avoid)["After"]

    # -- hvsim ------------------------------------------------------------------------------------
    def _hvsim_event(self, kinds: tuple[str, ...], since: str) -> dict | None:
        world = json.loads((self.hvsim_state / "state.json").read_text(encoding="utf-8"))
        found = [e for c in (world.get("clusters") or {}).values() for e in c.get("events", [])
                 if e.get("kind") in kinds and str(e.get("vm", "")).lower() == self.lab.vm_name.lower()
                 and str(e.get("time", "")) >= since]
        return found[-1] if found else None

    def _control(self, action: str, host: str) -> None:
        from hvsim.control import call_control

        endpoints = json.loads((self.hvsim_state / "endpoints.json").read_text(encoding="utf-8"))
        call_control(endpoints["control"], action, host=host)

    # -- the three tests ------------------------------------------------------------------------
    def move(self, test: str, target: str, migration: str) -> Step:
        started = _now_iso()
        result = self.run("Move", prefer=target, Node=target, MigrationType=migration)
        before, after = result["Before"], result["After"]
        if self.hvsim_state:
            event = self._hvsim_event((f"{migration.lower()}_migration",), started)
            downtime = float(event["downtime_seconds"]) if event else None
            source = "hvsim's simulated timeline"
        else:
            wall = (_parse(after["Time"]) - _parse(before["Time"])).total_seconds()
            gained = float(after["UptimeSeconds"]) - float(before["UptimeSeconds"])
            downtime = round(max(0.0, wall - gained), 2) if gained >= 0 else round(wall, 2)
            source = "Hyper-V uptime vs wall time"
        return self._step(test, before, after, downtime, source)

    def power_loss(self, owner: str) -> Step:
        test = f"power loss of {owner}"
        before = self.observe()
        if self.hvsim_state:
            started = _now_iso()
            self._control("power-off", owner)
        else:
            if not self.confirm(f"Cut the power of {owner} now (or turn off its VM in a nested lab), then press "
                                f"Enter. Type 'skip' to skip this test: "):
                return Step(test, owner, owner, None, "skipped", before["VMState"], self.lab.state_owner,
                            self._needs_refresh(owner), note="skipped: no confirmation (run it from a terminal)")
            started = _now_iso()
        after = self._wait_for_failover(owner)
        if self.hvsim_state:
            event = self._hvsim_event(("failover",), started)
            downtime = float(event["downtime_seconds"]) if event else None
            source = "hvsim's simulated timeline"
        else:
            restarted = _parse(after["Time"]).timestamp() - float(after["UptimeSeconds"])
            downtime = round(max(0.0, restarted - _parse(started).timestamp()), 2)
            source = "Hyper-V uptime (until the VM started again; the guest's boot comes on top)"
        step = self._step(test, before, after, downtime, source)
        if self.hvsim_state:
            self._control("power-on", owner)
            step.note = f"{owner} powered on again"
        else:
            step.note = f"power {owner} on again when you are done"
        return step

    def _wait_for_failover(self, dead: str, timeout: float = 600.0) -> dict:
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            try:
                last = self.observe(avoid=dead)
                if last["OwnerNode"] != dead and last["VMState"] == "Running":
                    return last
            except Exception as exc:  # the survivor may be busy taking over: keep asking
                last = {"error": str(exc)}
            time.sleep(1.0)
        raise SystemExit(f"drill: the VM did not come up on another node within {timeout:.0f} s (last seen: {last})")

    def _needs_refresh(self, owner: str) -> bool:
        return bool(self.lab.state_owner) and owner != self.lab.state_owner

    def _step(self, test: str, before: dict, after: dict, downtime: float | None, source: str) -> Step:
        return Step(test, before["OwnerNode"], after["OwnerNode"], downtime, source, after["VMState"],
                    self.lab.state_owner, self._needs_refresh(after["OwnerNode"]))

    def all(self) -> list[Step]:
        start = self.observe()
        first = start["OwnerNode"]
        others = [n for n in self.lab.nodes if n != first]
        if not others:
            raise SystemExit("drill: the lab has one node; the drill needs two")
        second = others[0]
        steps = [self.move("live migration", second, "Live")]
        self.out(render([steps[-1]], header=False))
        steps.append(self.move("quick migration", first, "Quick"))
        self.out(render([steps[-1]], header=False))
        steps.append(self.power_loss(first))
        self.out(render([steps[-1]], header=False))
        return steps


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()  # the form hvsim's events use


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


COLUMNS = ("test", "owner", "downtime", "measured by", "state says", "refresh needed")


def render(steps: list[Step], header: bool = True) -> str:
    rows = []
    for s in steps:
        downtime = "-" if s.downtime_seconds is None else f"{s.downtime_seconds:.2f} s"
        refresh = "yes" if s.needs_refresh else "no"
        rows.append((s.test, f"{s.owner_before} -> {s.owner_after}", downtime, s.downtime_source,
                     s.state_owner or "?", refresh + (f"  ({s.note})" if s.note else "")))
    widths = [max(len(c), 18) for c in COLUMNS[:4]]
    widths[3] = 30
    lines = []
    if header:
        lines.append("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths + [10, 0])).rstrip())
    for r in rows:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(r, widths + [10, 0])).rstrip())
    return "\n".join(lines)


def summary(lab: Lab, steps: list[Step]) -> str:
    final = steps[-1].owner_after if steps else None
    lines = []
    if final and lab.state_owner and final != lab.state_owner:
        lines.append(f"The VM runs on {final}; the Pulumi state says {lab.state_owner}: run `pulumi refresh` "
                     f"(or `pulumi up --refresh`).")
        if lab.pinned_owner and lab.pinned_owner != final:
            lines.append(f"The program pins ownerNode {lab.pinned_owner}: the next `pulumi up` live-migrates the VM back.")
    else:
        lines.append("The VM is where the Pulumi state says: no refresh needed.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hvprovider.drill", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stack", required=True, help="the Pulumi stack of the lab (its config and state are read)")
    ap.add_argument("--cwd", type=Path, default=Path.cwd(), help="the Pulumi project directory (default: here)")
    ap.add_argument("--hvsim-state", type=Path, help="hvsim's state directory: power loss through hvsim, "
                                                    "downtime from its simulated timeline")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)

    lab = read_lab(args.stack, args.cwd)

    def confirm(prompt: str) -> bool:
        if not sys.stdin.isatty():
            return False
        return input(prompt).strip().lower() != "skip"

    quiet = args.json
    out = (lambda text: None) if quiet else print
    if not quiet:
        print(f"drill: VM {lab.vm_name} on nodes {', '.join(lab.nodes)}; the state records owner {lab.state_owner or '?'}")
        print(render([], header=True))
    steps = Drill(lab, args.hvsim_state, confirm, out).all()
    if quiet:
        print(json.dumps({"steps": [asdict(s) for s in steps], "state_owner": lab.state_owner,
                          "pinned_owner": lab.pinned_owner}, indent=1))
    else:
        print(summary(lab, steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
