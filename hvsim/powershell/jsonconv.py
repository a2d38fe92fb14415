"""ConvertTo-Json / ConvertFrom-Json with Windows PowerShell 5.1's exact behaviour.

5.1 serializes with JavaScriptSerializer (compact text; `<`, `>`, `&`, `'` escaped as \\u003c etc.;
dates as "\\/Date(ms)\\/"; enums as numbers) after walking the object graph to -Depth (default 2;
anything deeper becomes its string form), then re-indents the compact text with its own
formatter: 4 spaces per level, two spaces after the colon, and nested containers indented from
the column where the value starts (so `"a":  [` is followed by elements indented past the key).
"""
from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from .conversions import EPOCH, format_double, to_string
from .errors import ErrorRecord, PSError
from .values import (ArrayList, DisplayDateTime, Guid, Hashtable, PSEnum, PSObject, PSCUSTOMOBJECT, ScriptBlock,
                     SecureString, Version, is_collection)

_ESCAPE_ALWAYS = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_UNICODE = {"<", ">", "&", "'", "\u0085", "\u2028", "\u2029"}


def js_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _ESCAPE_ALWAYS:
            out.append(_ESCAPE_ALWAYS[ch])
        elif ch in _ESCAPE_UNICODE or ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _number(value: int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return format_double(value)


def _to_graph(value: Any, depth: int, max_depth: int) -> Any:
    """Walk the object graph like 5.1's ConvertToJsonCommand.ProcessValue."""
    if value is None:
        return None
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, PSEnum):
        return value.value
    if isinstance(value, DisplayDateTime):
        # Get-Date's PSObject wrapper: 5.1 serializes the note property and the DateTime script property too
        from .conversions import format_datetime
        plain = _dt.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                             value.microsecond, value.tzinfo)
        return {"value": plain, "DisplayHint": value.display_hint,
                "DateTime": format_datetime(plain, "dddd, MMMM d, yyyy h:mm:ss tt")}
    if isinstance(value, _dt.datetime):
        return value
    if isinstance(value, (Guid,)):
        return str(value)
    if isinstance(value, ErrorRecord):
        value = PSObject({"Exception": value.message, "TargetObject": value.target_object,
                          "FullyQualifiedErrorId": value.fully_qualified_error_id},
                         type_name="System.Management.Automation.ErrorRecord")
    if depth > max_depth:
        # LanguagePrimitives.ConvertTo(obj, [string]): "@{A=1}" for a PSCustomObject, "1 2" for an array,
        # the type name for a hashtable
        return to_string(value) if not isinstance(value, PSObject) or value.type_name == PSCUSTOMOBJECT \
            else _net_to_string(value)
    if isinstance(value, Hashtable) or isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                type_name = value.type_name if isinstance(value, Hashtable) else "System.Collections.Hashtable"
                raise PSError(ErrorRecord(
                    message=f"The type '{type_name}' is not supported for serialization or deserialization of a "
                            "dictionary. Keys must be strings.",
                    fully_qualified_error_id="NonStringKeyInDictionary,Microsoft.PowerShell.Commands.ConvertToJsonCommand",
                    category="InvalidOperation", command="ConvertTo-Json", target_object=value,
                    exception_type="System.InvalidOperationException"))
        return {k: _to_graph(v, depth + 1, max_depth) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)) or is_collection(value):
        return [_to_graph(v, depth + 1, max_depth) for v in value]
    if isinstance(value, PSObject):
        return {k: _to_graph(v, depth + 1, max_depth) for k, v in value.props.items()
                if not getattr(v, "_ps_computed", False)}
    if isinstance(value, SecureString):
        return {"Length": value.Length}
    if isinstance(value, Version):
        return {"Major": value.Major, "Minor": value.Minor, "Build": value.Build, "Revision": value.Revision,
                "MajorRevision": -1 if value.Revision < 0 else value.Revision >> 16,
                "MinorRevision": -1 if value.Revision < 0 else value.Revision & 0xFFFF}
    if isinstance(value, _dt.timedelta):
        total = value.total_seconds()
        return {"Ticks": int(total * 10**7), "Days": value.days, "Hours": value.seconds // 3600,
                "Milliseconds": value.microseconds // 1000, "Minutes": value.seconds // 60 % 60,
                "Seconds": value.seconds % 60, "TotalDays": total / 86400, "TotalHours": total / 3600,
                "TotalMilliseconds": total * 1000, "TotalMinutes": total / 60, "TotalSeconds": total}
    if isinstance(value, ScriptBlock):
        return to_string(value)
    return to_string(value)


def _net_to_string(value: Any) -> str:
    if isinstance(value, (list, tuple)) and not isinstance(value, ArrayList):
        return "System.Object[]"
    if isinstance(value, ArrayList):
        return value.type_name
    if isinstance(value, PSObject):
        return value.type_name.split("#")[0] if "#" not in value.type_name else \
            "Microsoft.Management.Infrastructure.CimInstance"
    return to_string(value)


def _compact(graph: Any) -> str:
    if graph is None:
        return "null"
    if isinstance(graph, str):
        return js_string(graph)
    if isinstance(graph, (bool, int, float)):
        return _number(graph)
    if isinstance(graph, _dt.datetime):
        ms = int((graph - EPOCH).total_seconds() * 1000) if graph.tzinfo else \
            int((graph.replace(tzinfo=_dt.timezone.utc) - EPOCH).total_seconds() * 1000)
        return '"\\/Date(' + str(ms) + ')\\/"'
    if isinstance(graph, dict):
        return "{" + ",".join(js_string(k) + ":" + _compact(v) for k, v in graph.items()) + "}"
    if isinstance(graph, list):
        return "[" + ",".join(_compact(v) for v in graph) + "]"
    return js_string(str(graph))


# ----------------------------------------------------------------------------- 5.1's pretty printer
def _skip_string(json_text: str, i: int, out: list[str]) -> int:
    """Copy the string literal starting at i; return the index of its closing quote."""
    out.append('"')
    i += 1
    while i < len(json_text):
        ch = json_text[i]
        out.append(ch)
        if ch == "\\":
            i += 1
            out.append(json_text[i])
        elif ch == '"':
            return i
        i += 1
    return i


def _pretty_list(js: str, index: int, out: list[str], pad: str, spaces: int) -> int:
    out.append("\r\n")
    new_pad = pad + " " * spaces + "    "
    head = True
    i = index
    while i < len(js):
        ch = js[i]
        if ch == "{":
            out.append(new_pad + "{")
            i = _pretty_dict(js, i + 1, out, new_pad, 0)
            head = False
        elif ch == "[":
            out.append(new_pad + "[")
            i = _pretty_list(js, i + 1, out, new_pad, 0)
            head = False
        elif ch == ",":
            out.append(",\r\n")
            head = True
        elif ch == "]":
            out.append("\r\n" + pad + " " * spaces + "]")
            return i
        elif ch == '"':
            if head:
                out.append(new_pad)
            i = _skip_string(js, i, out)
            head = False
        else:
            if head:
                out.append(new_pad)
                head = False
            out.append(ch)
        i += 1
    return i


def _pretty_dict(js: str, index: int, out: list[str], pad: str, spaces: int) -> int:
    out.append("\r\n")
    new_pad = pad + " " * spaces + "    "
    before_colon = True
    key_width = 0
    i = index
    while i < len(js):
        ch = js[i]
        if ch == "{":
            out.append("{")
            i = _pretty_dict(js, i + 1, out, new_pad, key_width)
        elif ch == "[":
            out.append("[")
            i = _pretty_list(js, i + 1, out, new_pad, key_width)
        elif ch == ",":
            out.append(",\r\n")
            before_colon = True
            key_width = 0
        elif ch == ":" and not before_colon:
            out.append(ch)
        elif ch == ":":
            out.append(":  ")
            key_width += 3
            before_colon = False
        elif ch == "}":
            out.append("\r\n" + pad + " " * spaces + "}")
            return i
        elif ch == '"':
            if before_colon:
                out.append(new_pad)
                start = i
                i = _skip_string(js, i, out)
                key_width += i - start + 1
            else:
                i = _skip_string(js, i, out)
        else:
            out.append(ch)
        i += 1
    return i


def pretty(js: str) -> str:
    if js.startswith("{"):
        out = ["{"]
        _pretty_dict(js, 1, out, "", 0)
        return "".join(out)
    if js.startswith("["):
        out = ["["]
        _pretty_list(js, 1, out, "", 0)
        return "".join(out)
    return js


def convert_to_json(value: Any, depth: int = 2, compress: bool = False) -> str:
    compact = _compact(_to_graph(value, 0, depth))
    return compact if compress else pretty(compact)


# ----------------------------------------------------------------------------- ConvertFrom-Json
def _from_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return PSObject({k: _from_plain(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_from_plain(v) for v in value]
    if isinstance(value, str) and value.startswith("/Date(") and value.endswith(")/"):
        try:
            return EPOCH + _dt.timedelta(milliseconds=int(value[6:-2]))
        except ValueError:
            return value
    return value


def convert_from_json(text: str) -> Any:
    try:
        data = json.loads(text, parse_constant=lambda c: float(c) if c != "NaN" else float("nan"))
    except json.JSONDecodeError as exc:
        raise PSError(ErrorRecord(
            message=f"Invalid JSON primitive: {text.strip()[:30]}." if text.strip() else
            "Cannot bind argument to parameter 'InputObject' because it is an empty string.",
            fully_qualified_error_id="System.ArgumentException,Microsoft.PowerShell.Commands.ConvertFromJsonCommand",
            category="NotSpecified", command="ConvertFrom-Json",
            exception_type="System.ArgumentException")) from exc
    return _from_plain(data)
