"""Benchmark the interpreter: `python -m hvsim.powershell.bench [script.ps1 ...]`.

Without arguments it times the provider's scripts (hvprovider/scripts/*.ps1) through parsing and a
run of a CPU-bound sample; it prints figures and asserts nothing (tests never time anything).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

from . import execute
from .parser import parse

SAMPLE = r"""
$total = 0
$items = @()
for ($i = 0; $i -lt 2000; $i++) {
    $total += $i * 2
    if ($i % 100 -eq 0) { $items += [pscustomobject]@{ Id = $i; Name = "item$i"; Tags = @('a', 'b') } }
}
$top = $items | Where-Object { $_.Id -gt 500 } | Sort-Object -Property Id -Descending | Select-Object -First 3
$json = ConvertTo-Json -InputObject $items -Depth 4
"$total $($top.Count) $($json.Length)"
"""


def _ctx() -> SimpleNamespace:
    session = SimpleNamespace(host="HV01", user="HYPER\\Administrator", auth="local", can_delegate=False)
    return SimpleNamespace(session=session, world=None, runner=None, warnings=[], sleep=lambda s: None)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(
        (Path(__file__).resolve().parents[2] / "hvprovider" / "scripts").glob("*.ps1"))
    for path in paths:
        text = path.read_text(encoding="utf-8")
        parse.cache_clear()
        start = time.perf_counter()
        parse(text)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        parse(text)
        warm = time.perf_counter() - start
        print(f"parse {path.name:32} {len(text.splitlines()):4} lines  cold {cold * 1000:7.2f} ms  "
              f"cached {warm * 1000:6.3f} ms")
    runs = 5
    start = time.perf_counter()
    for _ in range(runs):
        result = execute(SAMPLE, _ctx(), None)
    elapsed = (time.perf_counter() - start) / runs
    print(f"run   2000-iteration sample: {elapsed * 1000:.1f} ms per run ({result.stdout.strip()})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
