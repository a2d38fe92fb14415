"""Golden cases for hvsim's PowerShell interpreter (tests/hvsim/golden/*.yaml).

Each case: `script` (and optional `stdin`) -> `stdout` (written with LF; the interpreter must print
CRLF), `error` (the first error record's FullyQualifiedErrorId), `error_category`, `message`,
`errors` (how many error records), `streams` (warning/verbose/debug records in order), `exit`
(the exit code; 0 unless the case says otherwise).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from hvsim.powershell import execute

GOLDEN = Path(__file__).parent / "golden"


def _cases():
    for path in sorted(GOLDEN.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            yield pytest.param(case, id=f"{path.stem}:{case['name']}")


class Stdin:
    def __init__(self, text: str) -> None:
        self.text = text

    def read_all(self) -> str:
        return self.text


def make_ctx():
    """A context without a world: the interpreter's own cmdlets only (the registry is never reached)."""
    session = SimpleNamespace(host="HV01", user="HYPER\\Administrator", auth="ntlm", can_delegate=False)
    slept = []
    return SimpleNamespace(session=session, world=None, runner=None, warnings=[],
                           sleep=slept.append, warn=lambda m: None, slept=slept)


@pytest.mark.parametrize("case", list(_cases()))
def test_golden(case):
    stdin = Stdin(case["stdin"]) if "stdin" in case else None
    result = execute(case["script"], make_ctx(), stdin)
    if "stdout" in case:
        assert "\n" not in result.stdout.replace("\r\n", ""), "every line must end in CRLF"
        assert result.stdout.replace("\r\n", "\n") == case["stdout"], \
            "\n".join(e.default_view() for e in result.errors)
    if "error" in case:
        assert result.errors, "expected an error record"
        assert result.errors[0].fully_qualified_error_id == case["error"], result.errors[0].default_view()
    elif "errors" not in case and "error_category" not in case:
        assert result.errors == [], "\n".join(e.default_view() for e in result.errors)
    if "errors" in case:
        assert len(result.errors) == case["errors"], [e.message for e in result.errors]
    if "error_category" in case:
        assert result.errors and result.errors[0].category == case["error_category"]
    if "message" in case:
        assert result.errors[0].message == case["message"]
    if "streams" in case:
        assert [[kind, text] for kind, text in result.streams if kind != "error"] == case["streams"]
    expected_exit = case.get("exit", 0)
    assert result.exit_code == expected_exit
