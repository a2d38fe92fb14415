"""hvsim's restricted PowerShell interpreter (docs/hvsim-powershell.md lists the subset).

    from hvsim.powershell import execute
    result = execute(script_text, ctx, stdin)   # -> ExecResult(stdout, errors, exit_code)

`ctx` is an hvsim.cmdlets.registry.CmdletContext (or anything with .session/.world/.sleep/.warn);
the interpreter sets `ctx.runner` to itself so Invoke-Command can run script blocks.
Values live in hvsim.powershell.values, ErrorRecord in hvsim.powershell.errors.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from .errors import ErrorRecord, NotSupportedError, PSError

__all__ = ["execute", "ExecResult", "ErrorRecord", "PSError", "NotSupportedError", "Interpreter"]


@dataclass
class ExecResult:
    stdout: str                                   # as powershell.exe prints it: one line per output, CRLF
    errors: list = field(default_factory=list)    # ErrorRecord, in order
    exit_code: int = 0
    # every non-output stream record in order: ("error", ErrorRecord) and ("warning" | "verbose" | "debug", text).
    # powershell.exe -EncodedCommand writes these to stderr as CLIXML (<S S="warning">...), not to stdout.
    streams: list = field(default_factory=list)


def execute(script: str, ctx: Any, stdin: Any = None) -> ExecResult:
    """Run `script` as powershell.exe would run it; stdin (a StdinReader or None) feeds $input."""
    from .interpreter import Interpreter

    if sys.getrecursionlimit() < 20000:
        sys.setrecursionlimit(20000)     # a tree walk takes ~20 Python frames per PowerShell call level
    interp = Interpreter(ctx, stdin)     # stdin is read only if the script uses $input (like powershell.exe)
    code = interp.run_script(script)
    return ExecResult(stdout=interp.stdout_text(), errors=list(interp.errors), exit_code=code,
                      streams=list(interp.streams))


def __getattr__(name: str) -> Any:   # lazy: values/errors import without the interpreter
    if name == "Interpreter":
        from .interpreter import Interpreter
        return Interpreter
    raise AttributeError(name)
