"""The `command` audit record: what ran, on whose behalf, which script, how it ended.

A record never holds stdin (it carries the provider's secrets) and, unless HVSIM_AUDIT_SCRIPTS=1, no
script text: the command line's script argument is replaced by its size and hash, and the script the
provider ran is named from its payload's "name" field (the payload's other fields, its parameters
among them, are never read here). docs/hvsim.md lists every record kind and field.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any

from hvsim.world.core import audit_scripts, script_summary

_SCRIPT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}\.ps1$")
_COMMAND_SWITCH = re.compile(r"^[-/]c(o(m(m(a(n(d)?)?)?)?)?)?$", re.IGNORECASE)


def payload_script(stdin: bytes) -> str | None:
    """The "name" of a provider payload on stdin (one JSON line), if it is a plain .ps1 file name."""
    text = stdin.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if not text.startswith("{"):
        return None
    try:
        name = json.loads(text.splitlines()[0]).get("name")
    except (ValueError, AttributeError, IndexError):
        return None
    return name if isinstance(name, str) and _SCRIPT_NAME.match(name) else None


def audited_command_line(command_line: str, inv: Any) -> str:
    """The command line with its script text replaced by script_summary (kept whole with HVSIM_AUDIT_SCRIPTS=1)."""
    script = getattr(inv, "script", None)
    if audit_scripts() or not script or getattr(inv, "program", "") != "powershell":
        return command_line
    tokens = command_line.split(" ")
    if (getattr(inv, "options", None) or {}).get("EncodedCommand"):
        encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
        return " ".join(script_summary(script) if t.strip('"') == encoded else t for t in tokens)
    for i, token in enumerate(tokens[1:], start=1):  # -Command: the rest of the line is the script
        if _COMMAND_SWITCH.match(token):
            return " ".join(tokens[:i + 1] + [script_summary(script)])
    return f"{tokens[0]} {script_summary(script)}"


def command_fields(sh: Any, cmd: Any, inv: Any, exit_code: int, seconds: float) -> dict:
    """The fields of one `command` record (World.audit adds time and kind)."""
    return {"host": sh.host, "user": sh.user, "shell_id": sh.id, "command_id": cmd.id,
            "command_line": audited_command_line(cmd.command_line, inv),
            "script": payload_script(cmd.stdin.data), "stdin_bytes": cmd.stdin.size,
            "exit_code": int(exit_code), "seconds": round(seconds, 4), "terminated": cmd.terminated}
