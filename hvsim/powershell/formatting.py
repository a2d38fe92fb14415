"""Rendering output objects as text (Out-Default / Out-String), minimally.

Strings print verbatim, numbers and booleans as PowerShell prints them, objects as a list
view ("Name : value" lines, names padded), hashtables as the Name/Value table.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

from .conversions import format_datetime, to_string
from .errors import ErrorRecord
from .values import Hashtable, PSObject, is_collection


def _scalar_text(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        return format_datetime(value, "dddd, MMMM d, yyyy h:mm:ss tt")
    return to_string(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if is_collection(value):
        items = [_cell(v) for v in list(value)[:4]]
        more = len(value) > 4
        return "{" + ", ".join(items) + (", ..." if more else "") + "}"
    if isinstance(value, PSObject) and value.type_name.endswith("PSCustomObject"):
        return to_string(value)
    return _scalar_text(value)


def _list_view(obj: PSObject) -> list[str]:
    props = list(obj.props.items())
    if not props:
        return []
    width = max(len(k) for k, _ in props)
    return [f"{k.ljust(width)} : {_cell(v)}" for k, v in props]


def _hashtable_view(table: Hashtable) -> list[str]:
    keys = [to_string(k) for k in table.keys()]
    width = max([30] + [len(k) for k in keys])      # 5.1 gives the Name column 30 characters
    lines = ["", f"{'Name'.ljust(width)} Value", f"{'----'.ljust(width)} -----"]
    for k, v in zip(keys, table.values()):
        lines.append(f"{k.ljust(width)} {_cell(v)}".rstrip())
    lines.append("")
    return lines


def render_output(values: list) -> list[str]:
    """Text lines for output objects reaching the host."""
    lines: list[str] = []
    in_objects = False
    for value in values:
        if isinstance(value, PSObject) and not isinstance(value, ErrorRecord):
            if not in_objects:
                lines.append("")
            lines.extend(_list_view(value))
            lines.append("")
            in_objects = True
            continue
        if in_objects:
            lines.append("")
            in_objects = False
        if value is None:
            continue
        if isinstance(value, Hashtable):
            lines.extend(_hashtable_view(value))
        elif isinstance(value, ErrorRecord):
            lines.extend(value.default_view().rstrip("\r\n").split("\r\n"))
        elif is_collection(value):
            lines.extend(render_output(list(value)))
        else:
            # the host writes a multi-line string line by line (CRLF each)
            lines.extend(_scalar_text(value).replace("\r\n", "\n").split("\n"))
    if in_objects:
        lines.append("")
    return lines


def out_string(values: list) -> str:
    """Out-String: the rendered text, each line ending in CRLF."""
    return "".join(line + "\r\n" for line in render_output(values))
