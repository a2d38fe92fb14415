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


def _list_view(obj: PSObject, width: int = 0) -> list[str]:
    return list_lines([(k, _cell(v)) for k, v in obj.props.items()], width)


def list_lines(pairs: list[tuple[str, str]], width: int = 0) -> list[str]:
    """One object in list form as 5.1's list writer prints it: labels padded to the longest (cut to fit
    the line), ' : ', the value; a value's own line breaks are kept and a line longer than the console
    wraps at blanks, continuation lines indented under the value."""
    if not pairs:
        return []
    width = width or TABLE_WIDTH
    label = min(max(len(k) for k, _ in pairs), max(width - 4, 1))
    field = max(width - label - 3, 1)
    out = []
    for k, v in pairs:
        prefix = (k[:label] if len(k) > label else k.ljust(label)) + " : "
        first = True
        for text_line in v.replace("\r\n", "\n").split("\n"):
            for piece in (_wrap(text_line, field) if len(text_line) > field else [text_line]):
                out.append((prefix if first else " " * (label + 3)) + piece)
                first = False
    return out


def _hashtable_view(table: Hashtable, width: int = 0) -> list[str]:
    """Name (30 characters, the DictionaryEntry view's width) and Value (the rest of the line)."""
    rows = [[to_string(k), _cell(v)] for k, v in table.items()]
    return table_lines(["Name", "Value"], rows, [30, None], [False, False], table_width=width or TABLE_WIDTH)


def _table_view(objs: list[PSObject], width: int = 0) -> list[str]:
    """5.1's default for objects with up to 4 properties: one table sized from the objects, numbers
    right-aligned."""
    names = list(objs[0].props.keys())
    cells = [[_cell(o.props.get(n)) for n in names] for o in objs]
    right = [all(isinstance(o.props.get(n), (int, float)) and not isinstance(o.props.get(n), bool)
                 for o in objs if o.props.get(n) is not None) for n in names]
    return table_lines(names, cells, [None] * len(names), right, autosize=True, table_width=width or TABLE_WIDTH)


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
        Column("Number", "Number", 6), Column("Friendly Name", "FriendlyName"),
        Column("Serial Number", "SerialNumber", 32), Column("HealthStatus", "HealthStatus", 20),
        Column("OperationalStatus", "OperationalStatus", 22), Column("Total Size", _size_text, 10, right=True),
        Column("Partition Style", "PartitionStyle", 10)],
    f"{_FC}.ClusterNode": [Column("Name", "Name"), Column("ID", "Id"), Column("State", "State")],
    f"{_FC}.ClusterGroup": [Column("Name", "Name"), Column("OwnerNode", "OwnerNode"), Column("State", "State")],
    f"{_FC}.ClusterResource": [Column("Name", "Name"), Column("State", "State"), Column("OwnerGroup", "OwnerGroup"),
                               Column("ResourceType", "ResourceType")],
    f"{_FC}.ClusterSharedVolume": [Column("Name", "Name"), Column("State", "State"), Column("Node", "OwnerNode")],
    f"{_FC}.Cluster": [Column("Name", "Name")],
    "Microsoft.HyperV.PowerShell.VirtualMachine": [
        Column("Name", "Name"), Column("State", "State"), Column("CPUUsage(%)", "CPUUsage"),
        Column("MemoryAssigned(M)", _megabytes), Column("Uptime", "Uptime"), Column("Status", "Status"),
        Column("Version", "Version")],
    "Microsoft.Windows.ServerManager.Commands.Feature": [
        Column("Display Name", _feature_display, 55), Column("Name", "Name", 26),
        Column("Install State", "InstallState", 13, right=True)],
    "Microsoft.Windows.ServerManager.Commands.FeatureOperationResult": [
        Column("Success", "Success", 7), Column("Restart Needed", "RestartNeeded", 14),
        Column("Exit Code", "ExitCode", 14), Column("Feature Result", _feature_results, 45)],
}


def default_view(value: Any) -> list[Column] | None:
    if isinstance(value, PSObject) and not isinstance(value, ErrorRecord):
        for name in value.type_names:
            view = DEFAULT_VIEWS.get(name)
            if view is not None:
                return view
    return None


# powershell.exe under WinRM writes to the console WinRM gives it: 120 columns on Windows Server 2016 and
# later (the console default since Windows 10; 2012 R2 and older had 80, pywinrm issues 216 and 301 show
# a 79-wide table there). The console writer leaves the last column free.
HOST_COLUMNS = 120
TABLE_WIDTH = HOST_COLUMNS - 1


def fit_columns(widths: list[int | None], table_width: int = TABLE_WIDTH) -> list[int]:
    """Windows PowerShell's column sizing (ColumnWidthManager, minimum width 1, one-space separator):
    columns without a width share what the fixed ones leave, one character at a time from the left;
    a table wider than the screen loses width from the right, hiding (-1) a column that would go
    below one character."""
    w = [x if x is not None else 0 for x in widths]
    if any(x <= 0 for x in w):
        fixed = [x > 0 for x in w]
        w = [x if x > 0 else 1 for x in w]
        available = table_width - (sum(w) + len(w) - 1)
        if available >= 0:
            while available > 0:
                for k in range(len(w)):
                    if not fixed[k]:
                        w[k] += 1
                        available -= 1
                        if available == 0:
                            break
            return w
    while True:
        shown = [x for x in w if x > 0]
        excess = sum(shown) + len(shown) - 1 - table_width
        if excess <= 0 or not shown:
            return w
        last = next((k - 1 for k, x in enumerate(w) if x < 0), len(w) - 1)
        if last < 0:
            return w
        w[last] = -1 if w[last] - excess < 1 else w[last] - excess


def _field(text: str, width: int, right: bool) -> str:
    """One cell: padded to the width; longer text cut to width-3 characters plus '...' (a right-aligned
    column keeps the tail: '...' first); a column of three or fewer characters is cut without dots."""
    text = text.split("\n")[0].rstrip("\r")
    if len(text) > width:
        if width - 3 > 0:
            text = "..." + text[len(text) - (width - 3):] if right else text[:width - 3] + "..."
        else:
            text = text[len(text) - width:] if right else text[:width]
    return text.rjust(width) if right else text.ljust(width)


def _wrap(text: str, width: int) -> list[str]:
    """A header longer than its column wraps at blanks ("Partition Style" in 10 -> "Partition", "Style");
    a word longer than the column is split."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return lines


def table_lines(headers: list[str], rows: list[list[str]], widths: list[int | None],
                right: list[bool], hide_headers: bool = False, autosize: bool = False,
                table_width: int = TABLE_WIDTH) -> list[str]:
    """A table as 5.1 prints it: a blank line, the header (wrapped within its column), dashes as long
    as each header (at most the column), the rows with every cell padded to its column, a blank line.
    autosize: every column as wide as its header or widest cell (Windows PowerShell 5.1 sizes a table
    without widths from its first objects), then fitted to the screen like any table."""
    if autosize:
        widths = [max([len(h)] + [len(r[i].split("\n")[0]) for r in rows]) or 1 for i, h in enumerate(headers)]
    final = fit_columns(list(widths), table_width)
    shown = [i for i, w in enumerate(final) if w > 0]

    def line(cells: list[str]) -> str:
        return " ".join(_field(cells[i], final[i], right[i]) for i in shown)

    out = [""]
    if not hide_headers:
        wrapped = {i: _wrap(headers[i], final[i]) for i in shown}
        height = max(len(v) for v in wrapped.values()) if wrapped else 1
        for n in range(height):
            out.append(line([wrapped[i][n] if i in wrapped and n < len(wrapped[i]) else "" for i in range(len(headers))]))
        out.append(line(["-" * min(len(h), max(final[i], 0)) for i, h in enumerate(headers)]))
    out.extend(line(r) for r in rows)
    out.append("")
    return out


def view_table(objs: list[PSObject], view: list[Column], width: int = 0) -> list[str]:
    """A view without any width is sized from its objects (5.1); one with widths shares the rest."""
    return table_lines([c.header for c in view], [[c.text(o) for c in view] for o in objs],
                       [c.width for c in view], [c.right for c in view],
                       autosize=all(c.width is None for c in view), table_width=width or TABLE_WIDTH)


def _shape(value: Any) -> tuple | None:
    if isinstance(value, PSObject) and not isinstance(value, ErrorRecord):
        return (value.type_name, tuple(k.lower() for k in value.props.keys()))
    return None


def render_output(values: list, width: int = 0) -> list[str]:
    """Text lines for output objects reaching the host (width: the table width, 0 = the console's;
    Out-String -Width N gives N)."""
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
            lines.extend(view_table(values[i:j], view, width))
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
            lines.extend(_table_view(values[i:j], width))
            i = j
            continue
        i += 1
        if shape is not None:
            if not in_objects:
                lines.append("")
            lines.extend(_list_view(value, width))
            lines.append("")
            in_objects = True
            continue
        if in_objects:
            lines.append("")
            in_objects = False
        if value is None:
            continue
        if isinstance(value, Hashtable):
            lines.extend(_hashtable_view(value, width))
        elif isinstance(value, ErrorRecord):
            lines.extend(value.default_view().rstrip("\r\n").split("\r\n"))
        elif is_collection(value):
            lines.extend(render_output(list(value), width))
        else:
            # the host writes a multi-line string line by line (CRLF each)
            lines.extend(_scalar_text(value).replace("\r\n", "\n").split("\n"))
    if in_objects:
        lines.append("")
    return lines


def out_string(values: list, width: int = 0) -> str:
    """Out-String: the rendered text, each line ending in CRLF."""
    return "".join(line + "\r\n" for line in render_output(values, width))
