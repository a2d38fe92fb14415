"""Rendering output objects as text (Out-Default / Out-String).

Strings print verbatim, numbers and booleans as PowerShell prints them. An object whose type has a
default view in Windows' format files (DEFAULT_VIEWS: Get-Service, Get-Disk, Get-VM, Get-Cluster*,
Get-WindowsFeature, Install-WindowsFeature's result) prints as that table: the same headers, fixed
column widths with "..." truncation, alignment. Other objects with up to four properties print as a
table (5.1's rule for types without a view), larger ones as a list view ("Name : value" lines,
names padded), hashtables as the Name/Value table.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Callable

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


# ------------------------------------------------------------------ Windows' default table views
class Column:
    """One column of a default table view: header, width (None = as wide as its widest cell, like
    -AutoSize), alignment and the value (a property name or a function of the object)."""

    def __init__(self, header: str, value: "str | Callable[[PSObject], Any]", width: int | None = None,
                 right: bool = False) -> None:
        self.header, self.value, self.width, self.right = header, value, width, right

    def text(self, obj: PSObject) -> str:
        v = obj.get_prop(self.value) if isinstance(self.value, str) else self.value(obj)
        return v if isinstance(v, str) else _cell(v)


def _size_text(obj: PSObject) -> str:
    """Storage.format.ps1xml's Total Size: divide by 1024 while >= 1024, Round(.., 2), then the unit."""
    size = obj.get_prop("Size")
    if size is None:
        return ""
    size, units, i = float(size), ["B", "KB", "MB", "GB", "TB", "PB"], 0
    while size >= 1024 and i < len(units) - 1:
        size, i = size / 1024, i + 1
    return f"{to_string(round(size, 2))} {units[i]}"


def _feature_display(obj: PSObject) -> str:
    """Get-WindowsFeature's tree: four spaces a level, [X] installed, [ ] not."""
    depth = int(obj.get_prop("Depth") or 1)
    mark = "[X]" if obj.get_prop("Installed") else "[ ]"
    return "    " * (depth - 1) + f"{mark} {to_string(obj.get_prop('DisplayName'))}"


def _feature_results(obj: PSObject) -> str:
    names = [to_string(r.get_prop("DisplayName")) if isinstance(r, PSObject) else to_string(r)
             for r in (obj.get_prop("FeatureResult") or [])]
    return "{" + ", ".join(names) + "}"


def _megabytes(obj: PSObject) -> str:
    return to_string(int(round((obj.get_prop("MemoryAssigned") or 0) / 1048576)))


_FC = "Microsoft.FailoverClusters.PowerShell"
# type name -> columns. Widths and headers as Windows PowerShell 5.1 prints them (sources in
# docs/hvsim-powershell.md and tests/hvsim/golden/powershell_views.yaml).
DEFAULT_VIEWS: dict[str, list[Column]] = {
    "System.ServiceProcess.ServiceController": [
        Column("Status", "Status", 8), Column("Name", "Name", 18), Column("DisplayName", "DisplayName", 38)],
    "Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/MSFT_Disk": [
        Column("Number", "Number", 6), Column("Friendly Name", "FriendlyName", 26),
        Column("OperationalStatus", "OperationalStatus", 26), Column("Total Size", _size_text, 10, right=True),
        Column("Partition Style", "PartitionStyle")],
    f"{_FC}.ClusterNode": [Column("Name", "Name", 14), Column("ID", "Id", 5), Column("State", "State")],
    f"{_FC}.ClusterGroup": [Column("Name", "Name", 26), Column("OwnerNode", "OwnerNode", 45),
                            Column("State", "State", 6, right=True)],
    f"{_FC}.ClusterResource": [Column("Name", "Name", 19), Column("State", "State", 19),
                               Column("Group", "OwnerGroup", 19), Column("ResourceType", "ResourceType", 19)],
    "Microsoft.HyperV.PowerShell.VirtualMachine": [
        Column("Name", "Name"), Column("State", "State"), Column("CPUUsage(%)", "CPUUsage"),
        Column("MemoryAssigned(M)", _megabytes), Column("Uptime", "Uptime"), Column("Status", "Status"),
        Column("Version", "Version")],
    "Microsoft.Windows.ServerManager.Commands.Feature": [
        Column("Display Name", _feature_display, 55), Column("Name", "Name", 26),
        Column("Install State", "InstallState", 13, right=True)],
    "Microsoft.Windows.ServerManager.Commands.FeatureOperationResult": [
        Column("Success", "Success", 7), Column("Restart Needed", "RestartNeeded", 14),
        Column("Exit Code", "ExitCode", 14), Column("Feature Result", _feature_results)],
}


def default_view(value: Any) -> list[Column] | None:
    if isinstance(value, PSObject) and not isinstance(value, ErrorRecord):
        for name in value.type_names:
            view = DEFAULT_VIEWS.get(name)
            if view is not None:
                return view
    return None


def _fit(text: str, width: int | None) -> str:
    """A fixed-width cell: longer text is cut to width-3 characters and '...'."""
    if width is None or len(text) <= width:
        return text
    return text[:max(width - 3, 0)] + "..."


def table_lines(headers: list[str], rows: list[list[str]], widths: list[int | None],
                right: list[bool], hide_headers: bool = False) -> list[str]:
    """A table as 5.1 prints it: a blank line, header, dashes under each header, rows, a blank line."""
    rows = [[_fit(c, w) for c, w in zip(row, widths)] for row in rows]
    headers = [_fit(h, w) for h, w in zip(headers, widths)]
    final = [w if w is not None else max([len(h)] + [len(r[i]) for r in rows])
             for i, (h, w) in enumerate(zip(headers, widths))]

    def line(values: list[str]) -> str:
        return " ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, final, right)).rstrip()

    out = [""]
    if not hide_headers:
        out += [line(headers), line(["-" * len(h) for h in headers])]
    out.extend(line(r) for r in rows)
    out.append("")
    return out


def view_table(objs: list[PSObject], view: list[Column]) -> list[str]:
    return table_lines([c.header for c in view], [[c.text(o) for c in view] for o in objs],
                       [c.width for c in view], [c.right for c in view])


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
        view = default_view(value)
        if view is not None:
            j = i
            while j < len(values) and default_view(values[j]) is view:
                j += 1
            if in_objects:
                lines.append("")
                in_objects = False
            lines.extend(view_table(values[i:j], view))
            i = j
            continue
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
