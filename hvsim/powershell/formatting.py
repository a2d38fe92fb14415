"""Rendering output objects as text (Out-Default / Out-String), minimally.

Strings print verbatim, numbers and booleans as PowerShell prints them, objects with up to four
properties as a table (like 5.1's default), larger ones as a list view ("Name : value" lines,
names padded), hashtables as the Name/Value table.
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


def _table_view(objs: list[PSObject]) -> list[str]:
    """5.1's default for objects with up to 4 properties: one table, numbers right-aligned."""
    names = list(objs[0].props.keys())
    cells = [[_cell(o.props.get(n)) for n in names] for o in objs]
    right = [all(isinstance(o.props.get(n), (int, float)) and not isinstance(o.props.get(n), bool)
                 for o in objs if o.props.get(n) is not None) for n in names]
    widths = [max([len(n)] + [len(row[i]) for row in cells]) for i, n in enumerate(names)]

    def line(values: list[str], align_right: list[bool]) -> str:
        return " ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, align_right)).rstrip()

    out = ["", line(names, right), line(["-" * len(n) for n in names], right)]
    out.extend(line(row, right) for row in cells)
    out.append("")
    return out


def _shape(value: Any) -> tuple | None:
    if isinstance(value, PSObject) and not isinstance(value, ErrorRecord):
        return (value.type_name, tuple(k.lower() for k in value.props.keys()))
    return None


def render_output(values: list) -> list[str]:
    """Text lines for output objects reaching the host."""
    lines: list[str] = []
    in_objects = False
    i = 0
    while i < len(values):
        value = values[i]
        shape = _shape(value)
        if shape is not None and 0 < len(shape[1]) <= 4:
            j = i
            while j < len(values) and _shape(values[j]) == shape:
                j += 1
            if in_objects:
                lines.append("")
                in_objects = False
            lines.extend(_table_view(values[i:j]))
            i = j
            continue
        i += 1
        if shape is not None:
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
