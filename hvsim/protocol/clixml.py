"""Errors on stderr the way powershell.exe writes them when stderr is redirected (CLIXML).

    #< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">
    <S S="Error">Get-Disk : No MSFT_Disk objects found ..._x000D__x000A_</S> ... </Objs>

Each line of the default error view becomes one <S S="Error"> element; characters XML cannot carry
and the line ends are written as _xHHHH_ escapes, as PowerShell's serializer does. Warning, verbose
and debug records go to the same stream, in order with the errors, one element per record and without
a line end (the host serializes the message itself): <S S="warning">text</S>, <S S="verbose">text</S>,
<S S="debug">text</S> -- the form in captured Windows PowerShell 5.1 output (pywinrm#169 is about them).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

HEADER = "#< CLIXML\r\n"
_OBJS_OPEN = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
_ESCAPED_UNDERSCORE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def encode_text(text: str) -> str:
    """PowerShell serializer string encoding: XML entities plus _xHHHH_ for control characters."""
    text = _ESCAPED_UNDERSCORE.sub(r"_x005F_\1", text)
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            out.append("_x%04X_" % code)
        else:
            out.append(ch)
    return "".join(out)


def error_text(record: Any) -> str:
    """The default error view of one record (ErrorRecord.default_view(), else its message)."""
    view = getattr(record, "default_view", None)
    if callable(view):
        return view()
    text = str(record)
    return text if text.endswith("\r\n") else text + "\r\n"


# ExecResult.streams kinds -> the S attribute powershell.exe writes (errors are written line by line)
STREAM_NAMES = {"warning": "warning", "verbose": "verbose", "debug": "debug"}


def _error_elements(rec: Any) -> list[str]:
    text = error_text(rec).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    return ['<S S="Error">' + encode_text(line + "\r\n") + "</S>" for line in lines]


def _document(parts: list[str]) -> str:
    return HEADER + _OBJS_OPEN + "".join(parts) + "</Objs>" if parts else ""


def render_errors(records: Iterable[Any]) -> str:
    """The whole stderr text for these error records ('' when there are none)."""
    return _document([el for rec in records for el in _error_elements(rec)])


def render_streams(streams: Iterable[tuple[str, Any]]) -> str:
    """The whole stderr text for ExecResult.streams: ("error", record) | ("warning"|"verbose"|"debug", text),
    in order ('' when there are none). Other kinds (information, progress) are not written."""
    parts: list[str] = []
    for kind, payload in streams:
        if kind == "error":
            parts.extend(_error_elements(payload))
        elif kind in STREAM_NAMES:
            parts.append(f'<S S="{STREAM_NAMES[kind]}">' + encode_text(str(payload)) + "</S>")
    return _document(parts)

