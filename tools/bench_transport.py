#!/usr/bin/env python3
"""Measure hvprovider's WinRM transport against a local hvsim lab and print the figures.

    .venv/bin/python tools/bench_transport.py [--calls 50] [--host HV01] [--restarts 5] [--time-factor 0.05]

Starts a private hvsim server (seed topology, free ports on 127.0.0.1), then runs the tiny
host_boot_time.ps1 script:
  1. on one reused, authenticated shell within one provider operation (what the providers do),
  2. with a new shell (new HTTP session + NTLM authentication) for every call (what pywinrm's
     Session.run_ps does, and a run_script outside any operation),
  3. from 4 threads at once (the provider process serves up to 4 calls concurrently),
and prints calls per second, milliseconds per call and the WS-Management requests per call. Then
restart detection (--restarts N, at --time-factor): N restarts of the host, each waited for with
transport.wait_for_restart (cheap probe at most every second, then the boot-time script) and with
the previous loop (the boot-time script with backoff up to 5 s), printing how late each noticed the
host answering again (from hvsim's ready_at) and how many requests it sent meanwhile.
No assertions: figures only.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hvprovider import transport  # noqa: E402
from hvprovider.connection import connection_from_inputs  # noqa: E402
from hvsim.testing import LabProcess  # noqa: E402

SCRIPT = "host_boot_time.ps1"


def timed_calls(conn, n: int, fresh_shell: bool) -> list[float]:
    times = []
    for _ in range(n):
        if fresh_shell:
            transport.discard_shells(conn, close=True)
        start = time.perf_counter()
        transport.run_script(conn, SCRIPT)
        times.append(time.perf_counter() - start)
    return times


def old_wait_for_restart(conn, previous: str, timeout: float = 600) -> str:
    """The loop wait_for_restart used before: the full boot-time script, backoff 0.2 s x1.5 up to 5 s."""
    transport.discard_shells(conn)
    deadline, interval = time.monotonic() + timeout, 0.2
    while time.monotonic() < deadline:
        try:
            current = transport.boot_time(conn, retries=0, timeout=60)
            if current != previous:
                return current
        except transport.errors.HvProviderError:
            transport.discard_shells(conn)
        time.sleep(interval)
        interval = min(interval * 1.5, 5.0)
    raise RuntimeError("no restart seen")


def restart_detection(lab, conn, host: str, restarts: int, wait) -> tuple[list[float], float, float]:
    """(seconds late per restart, probes per restart, boot-time scripts attempted per restart)."""
    late = []
    before = dict(transport.STATS)
    for _ in range(restarts):
        with transport.operation():
            previous = transport.boot_time(conn)
            lab.control("restart", host=host)
            wait(conn, previous)
            answered = time.time()
        late.append(answered - float(lab.world()["hosts"][host]["ready_at"]))
    after = dict(transport.STATS)
    scripts = after.get("shell_create", 0) - before.get("shell_create", 0)
    return late, (after.get("probe", 0) - before.get("probe", 0)) / restarts, scripts / restarts


def requests_per_call(before: dict, after: dict, calls: int) -> str:
    ops = ("shell_create", "command", "send", "receive", "signal", "shell_delete")
    return ", ".join(f"{op} {(after.get(op, 0) - before.get(op, 0)) / calls:.2f}" for op in ops)


def report(label: str, times: list[float], before: dict, after: dict) -> None:
    total = sum(times)
    print(f"{label:<34} {len(times) / total:7.1f} calls/s   median {statistics.median(times) * 1000:7.1f} ms"
          f"   p90 {sorted(times)[int(len(times) * 0.9) - 1] * 1000:7.1f} ms")
    print(f"{'':<34} per call: {requests_per_call(before, after, len(times))}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--host", default="HV01")
    ap.add_argument("--restarts", type=int, default=5)
    ap.add_argument("--time-factor", type=float, default=0.05, help="hvsim time factor (boot 60 s x factor)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LabProcess.for_tests(Path(tmp), time_factor=args.time_factor) as lab:
        user, password = lab.credentials(args.host)
        ep = lab.host_endpoint(args.host)
        conn = connection_from_inputs({"host": ep["address"], "port": ep["http_port"], "username": user,
                                       "password": password})
        transport.run_script(conn, SCRIPT)  # warm up: imports, first shell
        print(f"hvsim {args.host} at {conn.endpoint}, NTLM + message encryption, {args.calls} calls of {SCRIPT}")

        before = dict(transport.STATS)
        with transport.operation():   # one provider operation: its shell is reused, then deleted
            reused = timed_calls(conn, args.calls, fresh_shell=False)
        report("reused shell", reused, before, dict(transport.STATS))

        before = dict(transport.STATS)
        fresh = timed_calls(conn, args.calls, fresh_shell=True)
        report("new shell + authentication / call", fresh, before, dict(transport.STATS))

        transport.discard_shells(conn, close=True)
        before = dict(transport.STATS)
        per_thread = max(1, args.calls // 4)
        start = time.perf_counter()
        def operation(n: int) -> None:
            with transport.operation():
                timed_calls(conn, n, False)

        threads = [threading.Thread(target=operation, args=(per_thread,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        after = dict(transport.STATS)
        print(f"{'4 threads, pooled shells':<34} {4 * per_thread / elapsed:7.1f} calls/s   "
              f"shells opened {after.get('shell_create', 0) - before.get('shell_create', 0)}")
        print(f"speed-up of shell reuse: {statistics.median(fresh) / statistics.median(reused):.1f}x per call")
        print(f"shells left open on {args.host}: {lab.control('status')['hosts'][args.host]['shells']}")

        if args.restarts:
            boot = 60 * args.time_factor
            print(f"\nrestart detection: {args.restarts} restarts of {args.host}, boot {boot:.1f} s "
                  f"(time factor {args.time_factor}); seconds from the host answering to the wait returning")
            for label, wait in (("probe <= 1 s, then script (now)", transport.wait_for_restart),
                                ("script, backoff to 5 s (before)", old_wait_for_restart)):
                late, probes, scripts = restart_detection(lab, conn, args.host, args.restarts, wait)
                print(f"{label:<34} late median {statistics.median(late):5.2f} s  max {max(late):5.2f} s   "
                      f"per restart: {probes:4.1f} probes, {scripts:4.1f} shell/logon attempts")
        transport.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
