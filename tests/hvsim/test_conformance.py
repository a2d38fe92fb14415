"""Replay every transcript in tests/hvsim/transcripts/ against hvsim and report each difference.

A transcript is what tools/capture/capture.ps1 writes on a real Windows Server (or one built from
Microsoft's documented examples, each entry citing its page): {"source", "os", "host", "entries":
[{"name", "snippet", "output", "errors": [{"id", "message"}], "source"}]}. Each snippet runs in a fresh
seed-lab world on the transcript's host. Output is compared line by line after the one normalisation
a console capture needs (CRLF, trailing blanks on a line, blank lines at the start and end); errors by
FullyQualifiedErrorId (the part before the first ',') and message. A new transcript needs no code change.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hvsim.cmdlets.registry import CmdletContext, Session
from hvsim.powershell import execute
from hvsim.world import World

TRANSCRIPTS = Path(__file__).parent / "transcripts"
SEED = Path(__file__).resolve().parents[2] / "hvsim" / "labs" / "existing-domain.yaml"


def _normalize(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _transcripts():
    for path in sorted(TRANSCRIPTS.glob("*.json")):
        yield pytest.param(path, id=path.stem)


@pytest.mark.parametrize("path", list(_transcripts()))
def test_transcript_replays_alike(path, tmp_path):
    transcript = json.loads(path.read_text(encoding="utf-8-sig"))
    lab = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    host = transcript.get("host") or "HV01"
    differences = []
    for i, entry in enumerate(transcript["entries"]):
        world = World(tmp_path / f"state{i}", lab=lab)
        try:
            ctx = CmdletContext(world, Session(host, f"{lab['domain']['netbios']}\\Administrator", "ntlm", False))
            result = execute(entry["snippet"], ctx, None)
        finally:
            world.close()
        where = f"{entry['name']} ({entry.get('source', 'no source')})"
        want, got = _normalize(entry.get("output") or ""), _normalize(result.stdout)
        if want != got:
            differences.append(f"{where}: output differs\n  windows: {want!r}\n  hvsim:   {got!r}")
        want_errors = [(e["id"].split(",")[0], e.get("message")) for e in entry.get("errors") or []]
        got_errors = [(e.fully_qualified_error_id.split(",")[0], e.message) for e in result.errors]
        if want_errors != got_errors:
            differences.append(f"{where}: errors differ\n  windows: {want_errors!r}\n  hvsim:   {got_errors!r}")
    assert not differences, f"{path.name} (OS {transcript.get('os')}): {len(differences)} difference(s)\n" + \
        "\n".join(differences)
