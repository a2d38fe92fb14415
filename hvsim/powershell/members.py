"""Member access and method calls: the .NET surface our scripts touch, and no more.

Unknown members read as $null (strict mode off, like Windows); unknown METHODS fail loudly with
Windows' "Method invocation failed" text so a script outside the subset cannot pass silently.
"""
from __future__ import annotations

import base64
import datetime as _dt
import math
import os
import re
from typing import TYPE_CHECKING, Any

from .conversions import (UTC, canonical_type, convert_to, dotnet_date_format, format_datetime, parse_datetime, to_int, to_number, to_string, truthy)
from .errors import ErrorRecord, PSError, category_value
from .operators import compile_regex, runtime_error
from .values import (ArrayList, Guid, Hashtable, PSCredential, PSEnum, PSObject, ScriptBlock, SecureString,
                     Version, is_collection, net_type_name, plain_datetime)

if TYPE_CHECKING:  # pragma: no cover
    from .interpreter import Interpreter

VOID = object()   # a method that returns nothing (void): emits nothing in statement position


class TypeRef:
    """A type literal used as a value ([string], [datetime]::UtcNow's [datetime])."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.canonical = canonical_type(name)

    def __str__(self) -> str:
        return self.name

    type_name = "System.RuntimeType"


class Encoding:
    def __init__(self, name: str) -> None:
        self.name = name
        self.type_name = "System.Text." + {"utf-8": "UTF8Encoding", "utf-16-le": "UnicodeEncoding",
                                           "ascii": "ASCIIEncoding"}[name]

    def __str__(self) -> str:
        return self.type_name


def method_not_found(target: Any, name: str) -> PSError:
    type_name = net_type_name(target) if not isinstance(target, TypeRef) else target.name
    return PSError(ErrorRecord(
        message=f"Method invocation failed because [{type_name}] does not contain a method named '{name}'.",
        fully_qualified_error_id="MethodNotFound", category="InvalidOperation",
        target_name="", target_type="", exception_type="System.Management.Automation.RuntimeException"))


def null_method(name: str) -> PSError:
    return PSError(ErrorRecord(message="You cannot call a method on a null-valued expression.",
                               fully_qualified_error_id="InvokeMethodOnNull", category="InvalidOperation",
                               exception_type="System.Management.Automation.RuntimeException"))


def not_supported(what: str) -> PSError:
    from .errors import NotSupportedError
    return NotSupportedError(ErrorRecord(
        message=f"hvsim's PowerShell subset does not support {what}.",
        fully_qualified_error_id="hvsim.NotSupported", category="NotImplemented",
        exception_type="System.NotSupportedException"), script_terminating=True)


# ---------------------------------------------------------------------------- properties
def _error_record_member(rec: ErrorRecord, name: str) -> Any:
    n = name.lower()
    if n == "exception":
        exc = PSObject({"Message": rec.message}, type_name=rec.exception_type,
                       methods={"ToString": lambda: f"{rec.exception_type}: {rec.message}"})
        exc.props["InnerException"] = None
        return exc
    if n == "fullyqualifiederrorid":
        return rec.fully_qualified_error_id
    if n == "categoryinfo":
        info = PSObject({
            "Category": PSEnum("System.Management.Automation.ErrorCategory", rec.category, category_value(rec.category)),
            "Activity": rec.command if rec.activity is None else rec.activity, "Reason": rec.exception_short_type,
            "TargetName": rec.target_name, "TargetType": rec.target_type},
            type_name="System.Management.Automation.ErrorCategoryInfo",
            methods={"ToString": rec.category_info_text, "GetMessage": rec.category_info_text})
        return info
    if n == "invocationinfo":
        return PSObject({
            "MyCommand": rec.command or None, "ScriptLineNumber": rec.line, "OffsetInLine": rec.column,
            "Line": rec.line_text, "ScriptName": rec.script_name, "InvocationName": rec.command,
            "PositionMessage": "\r\n".join(rec._position_lines())},
            type_name="System.Management.Automation.InvocationInfo")
    if n == "targetobject":
        return rec.target_object
    if n == "errordetails":
        return None
    if n == "scriptstacktrace":
        return f"at <ScriptBlock>, <No file>: line {rec.line}"
    return None


def _date_member(d: _dt.datetime, name: str) -> Any:
    d = plain_datetime(d)
    n = name.lower()
    simple = {"year": d.year, "month": d.month, "day": d.day, "hour": d.hour, "minute": d.minute,
              "second": d.second, "millisecond": d.microsecond // 1000,
              "dayofyear": d.timetuple().tm_yday}
    if n in simple:
        return simple[n]
    if n == "dayofweek":
        names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        return PSEnum("System.DayOfWeek", names[d.weekday()], (d.weekday() + 1) % 7)
    if n == "date":
        return d.replace(hour=0, minute=0, second=0, microsecond=0)
    if n == "ticks":
        return int((d - _dt.datetime(1, 1, 1, tzinfo=d.tzinfo)).total_seconds() * 10**7)
    if n == "kind":
        return PSEnum("System.DateTimeKind", "Utc", 1)
    if n == "timeofday":
        return _dt.timedelta(hours=d.hour, minutes=d.minute, seconds=d.second, microseconds=d.microsecond)
    return None


def _timespan_member(t: _dt.timedelta, name: str) -> Any:
    n = name.lower()
    total = t.total_seconds()
    table = {
        "totalseconds": total, "totalminutes": total / 60, "totalhours": total / 3600, "totaldays": total / 86400,
        "totalmilliseconds": total * 1000, "days": int(total // 86400) if total >= 0 else -int(-total // 86400),
        "hours": int(abs(total) // 3600 % 24), "minutes": int(abs(total) // 60 % 60),
        "seconds": int(abs(total) % 60), "milliseconds": int(abs(total) * 1000 % 1000),
        "ticks": int(total * 10**7)}
    return table.get(n)


class PropertyInfo(PSObject):
    """An entry of $obj.PSObject.Properties."""

    def __init__(self, name: str, value: Any, member_type: str = "NoteProperty") -> None:
        super().__init__({"Name": name, "Value": value, "MemberType": member_type,
                          "IsSettable": True, "IsGettable": True,
                          "TypeNameOfValue": net_type_name(value) or "System.Object"},
                         type_name="System.Management.Automation.PSNoteProperty")
        self.methods["ToString"] = lambda: f"{net_type_name(value) or 'System.Object'} {name}={to_string(value)}"


class PropertyCollection(list):
    """$obj.PSObject.Properties: enumerable, indexable by name, .Match(), .Item()."""
    type_name = "System.Management.Automation.PSMemberInfoCollection"

    def by_name(self, name: str) -> Any:
        for p in self:
            if p.props["Name"].lower() == str(name).lower():
                return p
        return None


def psobject_view(value: Any) -> PSObject:
    if isinstance(value, PSObject):
        props = PropertyCollection(PropertyInfo(k, v) for k, v in value.props.items())
        names = list(value.type_names)
    elif isinstance(value, Hashtable):
        props = PropertyCollection([PropertyInfo("Count", len(value), "Property"),
                                    PropertyInfo("Keys", list(value.keys()), "Property"),
                                    PropertyInfo("Values", list(value.values()), "Property")])
        names = [value.type_name, "System.Object"]
    else:
        props = PropertyCollection()
        names = [net_type_name(value), "System.Object"]
    view = PSObject({"Properties": props, "TypeNames": names, "BaseObject": value, "ImmediateBaseObject": value},
                    type_name="System.Management.Automation.PSObject")
    view.methods["Copy"] = lambda: PSObject(dict(value.props), value.type_name) if isinstance(value, PSObject) else value
    return view


_CIM_TYPES = {"System.String": "String", "System.Boolean": "Boolean", "System.Int32": "SInt32",
              "System.UInt32": "UInt32", "System.Int64": "SInt64", "System.UInt64": "UInt64",
              "System.UInt16": "UInt16", "System.Int16": "SInt16", "System.Byte": "UInt8",
              "System.Double": "Real64", "System.DateTime": "DateTime", "System.String[]": "StringArray"}


def _cim_type(v: Any) -> str:
    if isinstance(v, list):
        return "StringArray" if v and all(isinstance(x, str) for x in v) else "InstanceArray"
    if isinstance(v, PSObject):
        return "Instance"
    return _CIM_TYPES.get(net_type_name(v), "Unknown")


def psbase_view(value: Any) -> Any:
    """$x.psbase: the object without its PowerShell adapter. For a CIM instance that is the .NET
    CimInstance, whose CimInstanceProperties (indexable by name) hold Name / Value / CimType."""
    if not (isinstance(value, PSObject) and "#" in value.type_name):
        return value
    path = value.type_name.split("#", 1)[1]
    namespace, _, cls = path.rpartition("/")
    props = PropertyCollection(
        PSObject({"Name": k, "Value": v, "CimType": _cim_type(v), "IsValueModified": False},
                 type_name="Microsoft.Management.Infrastructure.CimProperty")
        for k, v in value.props.items() if not k.startswith("PS"))
    props.type_name = "Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection"
    system = PSObject({"Namespace": namespace or None, "ServerName": None,
                       "ClassName": cls, "Path": None},
                      type_name="Microsoft.Management.Infrastructure.CimSystemProperties")
    return PSObject({"CimClass": f"{namespace}:{cls}", "CimInstanceProperties": props,
                     "CimSystemProperties": system}, type_name="Microsoft.Management.Infrastructure.CimInstance")


def get_member(value: Any, name: str) -> Any:
    """$value.Name (no member enumeration; see get_member_enumerating)."""
    n = name.lower()
    if value is None:
        return 0 if n in ("count", "length") else None
    if n == "psobject":
        return psobject_view(value)
    if n == "psbase":
        return psbase_view(value)
    if isinstance(value, Hashtable):
        if name in value:
            return value[name]
        if n == "count":
            return len(value)
        if n == "keys":
            return list(value.keys())
        if n == "values":
            return list(value.values())
        return None
    if isinstance(value, dict):          # a plain dict from an emulated cmdlet reads like a hashtable
        for k, v in value.items():
            if isinstance(k, str) and k.lower() == n:
                return v
        return len(value) if n == "count" else None
    if isinstance(value, PSObject):
        if value.has_prop(name):
            prop = value.get_prop(name)
            return prop() if getattr(prop, "_ps_computed", False) else prop
        if n == "pstypenames":
            return list(value.type_names)
        if n in ("count", "length"):      # PowerShell 3+'s intrinsic Count/Length of a scalar
            return 1
        return None
    if isinstance(value, ErrorRecord):
        return _error_record_member(value, name)
    if isinstance(value, str):
        if n == "length":
            return len(value)
        return None
    if isinstance(value, bool):
        if n == "ispresent":
            return value
        return None
    if isinstance(value, (list, tuple, bytes, bytearray)):
        if n in ("count", "length"):
            return len(value)
        if n == "rank":
            return 1
        return _enumerate_member(value, name)
    if isinstance(value, _dt.datetime):
        return _date_member(value, name)
    if isinstance(value, _dt.timedelta):
        return _timespan_member(value, name)
    if isinstance(value, PSEnum):
        if n == "value__":
            return value.value
        return None
    if isinstance(value, SecureString):
        return value.Length if n == "length" else None
    if isinstance(value, Version):
        return getattr(value, name.capitalize(), None) if n in ("major", "minor", "build", "revision") else None
    if isinstance(value, ScriptBlock):
        return None
    if isinstance(value, TypeRef):
        if n in ("name", "fullname"):
            return value.name
        return None
    if n in ("count", "length") and not isinstance(value, (int, float)):
        return 1
    if n == "count":
        return 1
    return None


def _enumerate_member(items: Any, name: str) -> Any:
    out = []
    for item in items:
        if isinstance(item, (PSObject, Hashtable, ErrorRecord)) or not is_collection(item):
            v = get_member(item, name)
            if v is None and isinstance(item, PSObject) and not item.has_prop(name):
                continue
            if is_collection(v):
                out.extend(v)
            else:
                out.append(v)
    if not out:
        return None
    return out[0] if len(out) == 1 else out


def set_member(target: Any, name: str, value: Any) -> None:
    if isinstance(target, Hashtable):
        target[name] = value
        return
    if isinstance(target, PSObject):
        if target.has_prop(name) or "#" in target.type_name or target.type_name != "System.Management.Automation.PSCustomObject":
            target.set_prop(name, value)
            return
    if target is None:
        raise PSError(ErrorRecord(message=f"The property '{name}' cannot be found on this object. Verify that the "
                                          "property exists and can be set.",
                                  fully_qualified_error_id="PropertyNotFound", category="InvalidOperation",
                                  exception_type="System.Management.Automation.RuntimeException"))
    raise PSError(ErrorRecord(message=f"The property '{name}' cannot be found on this object. Verify that the "
                                      "property exists and can be set.",
                              fully_qualified_error_id="PropertyNotFound", category="InvalidOperation",
                              exception_type="System.Management.Automation.RuntimeException"))


# ---------------------------------------------------------------------------- instance methods
def _arg(args: list, i: int, default: Any = None) -> Any:
    return args[i] if i < len(args) else default


def _str_method(s: str, n: str, args: list) -> Any:
    cmp_ci = len(args) > 1 and "ignorecase" in to_string(args[-1]).lower()
    if n == "tolower" or n == "tolowerinvariant":
        return s.lower()
    if n == "toupper" or n == "toupperinvariant":
        return s.upper()
    if n in ("trim", "trimstart", "trimend"):
        # Trim(params char[]): every argument is a character (or an array of them) to remove
        chars = "".join(to_string(c) for a in args for c in (a if is_collection(a) else [a])) if args else None
        return {"trim": s.strip, "trimstart": s.lstrip, "trimend": s.rstrip}[n](chars)
    if n == "split":
        if not args:
            return re.split(r"\s", s)
        seps = args[0]
        chars = "".join(to_string(x) for x in seps) if is_collection(seps) else to_string(seps)
        parts = re.split("|".join(re.escape(c) for c in chars), s) if chars else [s]
        if len(args) > 1 and "removeemptyentries" in to_string(args[-1]).lower():
            parts = [p for p in parts if p]
        return parts
    if n == "replace":
        return s.replace(to_string(args[0]), to_string(_arg(args, 1, "")))
    if n == "startswith":
        a = to_string(args[0])
        return s.lower().startswith(a.lower()) if cmp_ci else s.startswith(a)
    if n == "endswith":
        a = to_string(args[0])
        return s.lower().endswith(a.lower()) if cmp_ci else s.endswith(a)
    if n == "contains":
        return to_string(args[0]) in s
    if n == "substring":
        start = to_int(args[0])
        if start > len(s) or start < 0:
            raise runtime_error('Exception calling "Substring" with "1" argument(s): "startIndex cannot be larger '
                                'than length of string.', "ArgumentOutOfRangeException", "NotSpecified",
                                "System.Management.Automation.MethodInvocationException")
        if len(args) > 1:
            length = to_int(args[1])
            if start + length > len(s):
                raise runtime_error('Exception calling "Substring" with "2" argument(s): "Index and length must '
                                    'refer to a location within the string.', "ArgumentOutOfRangeException",
                                    "NotSpecified", "System.Management.Automation.MethodInvocationException")
            return s[start:start + length]
        return s[start:]
    if n == "indexof":
        return s.find(to_string(args[0]), to_int(args[1]) if len(args) > 1 and not cmp_ci else 0) \
            if not cmp_ci else s.lower().find(to_string(args[0]).lower())
    if n == "lastindexof":
        return s.rfind(to_string(args[0]))
    if n == "padleft":
        return s.rjust(to_int(args[0]), to_string(_arg(args, 1, " ")))
    if n == "padright":
        return s.ljust(to_int(args[0]), to_string(_arg(args, 1, " ")))
    if n == "equals":
        return s == to_string(args[0]) if not cmp_ci else s.lower() == to_string(args[0]).lower()
    if n == "tostring":
        return s
    if n == "tochararray":
        return list(s)
    if n == "insert":
        i = to_int(args[0])
        return s[:i] + to_string(args[1]) + s[i:]
    if n == "remove":
        i = to_int(args[0])
        return s[:i] + (s[i + to_int(args[1]):] if len(args) > 1 else "")
    if n == "compareto":
        o = to_string(args[0])
        return (s > o) - (s < o)
    if n == "gethashcode":
        return hash(s) & 0x7FFFFFFF
    raise KeyError(n)


def _date_method(d: _dt.datetime, n: str, args: list) -> Any:
    d = plain_datetime(d)
    if n in ("touniversaltime", "tolocaltime"):
        return d.astimezone(UTC)
    if n == "tostring":
        if args:
            return dotnet_date_format(d, to_string(args[0]))
        return format_datetime(d)
    units = {"addseconds": "seconds", "addminutes": "minutes", "addhours": "hours", "adddays": "days",
             "addmilliseconds": "milliseconds"}
    if n in units:
        return d + _dt.timedelta(**{units[n]: float(to_number(args[0]))})
    if n == "addticks":
        return d + _dt.timedelta(microseconds=to_number(args[0]) / 10)
    if n == "add":
        return d + args[0]
    if n == "subtract":
        return d - (args[0] if isinstance(args[0], (_dt.datetime, _dt.timedelta)) else parse_datetime(to_string(args[0])))
    if n == "tofiletimeutc" or n == "tofiletime":
        return int((d - _dt.datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10**7)
    if n == "compareto":
        o = args[0]
        return (d > o) - (d < o)
    if n == "equals":
        return d == args[0]
    raise KeyError(n)


def _list_method(items: list, n: str, args: list, interp: "Interpreter") -> Any:
    from .operators import _eq_scalar
    if n == "contains":
        return any(_eq_scalar(x, args[0], True) if not isinstance(x, str) else x == to_string(args[0]) for x in items)
    if n == "indexof":
        for i, x in enumerate(items):
            if _eq_scalar(x, args[0], True):
                return i
        return -1
    if n == "tostring":
        return net_type_name(items)
    if isinstance(items, ArrayList):
        if n == "add":
            items.append(_arg(args, 0))
            return len(items) - 1 if items.type_name == "System.Collections.ArrayList" else VOID
        if n == "addrange":
            items.extend(list(args[0]) if is_collection(args[0]) else [args[0]])
            return VOID
        if n == "remove":
            for i, x in enumerate(items):
                if _eq_scalar(x, args[0], True):
                    del items[i]
                    break
            return VOID if items.type_name == "System.Collections.ArrayList" else True
        if n == "removeat":
            del items[to_int(args[0])]
            return VOID
        if n == "insert":
            items.insert(to_int(args[0]), args[1])
            return VOID
        if n == "clear":
            items.clear()
            return VOID
        if n == "toarray":
            return list(items)
        if n == "sort":
            from functools import cmp_to_key

            from .operators import sort_key_compare
            items.sort(key=cmp_to_key(sort_key_compare))
            return VOID
    else:
        if n in ("add", "remove", "insert", "removeat", "clear", "addrange"):
            raise runtime_error(f'Exception calling "{n.capitalize()}" with "{len(args)}" argument(s): "Collection '
                                'was of a fixed size."', "NotSupportedException", "NotSpecified",
                                "System.Management.Automation.MethodInvocationException")
    if n == "clone":
        return list(items)
    if n == "getenumerator":
        return list(items)
    if n == "where" or n == "foreach":
        block = args[0]
        out = []
        for item in items:
            res = interp.invoke_with_item(block, item)
            if n == "where":
                if truthy(res[0] if len(res) == 1 else res):
                    out.append(item)
            else:
                out.extend(res)
        return out
    raise KeyError(n)


def _hashtable_method(h: Hashtable, n: str, args: list) -> Any:
    if n == "containskey" or n == "contains":
        return args[0] in h
    if n == "containsvalue":
        return any(v == args[0] for v in h.values())
    if n == "add":
        if args[0] in h:
            raise runtime_error(f'Exception calling "Add" with "2" argument(s): "Item has already been added. '
                                f"Key in dictionary: '{to_string(args[0])}'  Key being added: '{to_string(args[0])}'\"",
                                "ArgumentException", "NotSpecified",
                                "System.Management.Automation.MethodInvocationException")
        h[args[0]] = _arg(args, 1)
        return VOID
    if n == "remove":
        h.pop(args[0], None)
        return VOID
    if n == "clear":
        h.clear()
        return VOID
    if n == "clone":
        return h.copy()
    if n == "getenumerator":
        return [PSObject({"Name": k, "Key": k, "Value": v}, type_name="System.Collections.DictionaryEntry")
                for k, v in h.items()]
    if n == "tostring":
        return h.type_name
    raise KeyError(n)


def call_method(value: Any, name: str, args: list, interp: "Interpreter") -> Any:
    """$value.Name(args)."""
    n = name.lower()
    if value is None:
        raise null_method(name)
    try:
        if n == "gettype" and not args:
            full = net_type_name(value)
            return PSObject({"Name": full.rsplit(".", 1)[-1], "FullName": full,
                             "Namespace": full.rsplit(".", 1)[0] if "." in full else ""},
                            type_name="System.RuntimeType", methods={"ToString": lambda: full})
        if isinstance(value, str):
            return _str_method(value, n, args)
        if isinstance(value, _dt.datetime):
            return _date_method(value, n, args)
        if isinstance(value, Hashtable):
            return _hashtable_method(value, n, args)
        if isinstance(value, PSObject):
            if n in value.methods:
                result = value.methods[name](*args)
                return VOID if result is None else result     # a Python None is a void method
            prop = value.get_prop(name)
            if isinstance(prop, ScriptBlock):   # ScriptMethod
                return interp.invoke_block_value(prop, args)
            if n == "tostring":
                return to_string(value)
            raise KeyError(n)
        if isinstance(value, PropertyCollection):
            if n in ("item", "match"):
                return value.by_name(args[0])
        if isinstance(value, (list, tuple)):
            return _list_method(value if isinstance(value, list) else list(value), n, args, interp)
        if isinstance(value, ScriptBlock):
            if n in ("invoke", "invokereturnasis"):
                return interp.invoke_block_value(value, args)
            if n == "tostring":
                return value.text
            raise KeyError(n)
        if isinstance(value, ErrorRecord):
            if n == "tostring":
                return value.message
            raise KeyError(n)
        if isinstance(value, Encoding):
            if n == "getbytes":
                return bytes(to_string(args[0]).encode(value.name))
            if n == "getstring":
                data = args[0]
                raw = bytes(data) if isinstance(data, (bytes, bytearray)) else bytes(to_int(b) for b in data)
                return raw.decode(value.name, errors="replace")
            raise KeyError(n)
        if isinstance(value, _dt.timedelta):
            if n == "tostring":
                return to_string(value)
            raise KeyError(n)
        if isinstance(value, (bool, int, float)):
            if n == "tostring":
                if args and isinstance(value, (int, float)) and not isinstance(value, bool):
                    return _format_number(value, to_string(args[0]))
                return to_string(value)
            if n == "equals":
                return value == args[0]
            if n == "compareto":
                return (value > args[0]) - (value < args[0])
            raise KeyError(n)
        if n == "tostring":
            return to_string(value)
        if n == "equals":
            return value == args[0]
        raise KeyError(n)
    except KeyError:
        raise method_not_found(value, name) from None
    except (IndexError, TypeError) as exc:
        raise runtime_error(f'Cannot find an overload for "{name}" and the argument count: "{len(args)}".',
                            "MethodCountCouldNotFindBest", "NotSpecified",
                            "System.Management.Automation.MethodException") from exc


def _format_number(value: int | float, fmt: str) -> str:
    m = re.fullmatch(r"([NnFfDdXxPp])(\d*)", fmt)
    if not m:
        return to_string(value)
    kind, digits = m.group(1).upper(), m.group(2)
    if kind == "N":
        return f"{value:,.{int(digits) if digits else 2}f}"
    if kind == "F":
        return f"{value:.{int(digits) if digits else 2}f}"
    if kind == "D":
        return str(int(value)).rjust(int(digits) if digits else 0, "0")
    if kind == "X":
        text = format(int(value), "X" if m.group(1) == "X" else "x")
        return text.rjust(int(digits) if digits else 0, "0")
    if kind == "P":
        return f"{value * 100:,.{int(digits) if digits else 2}f} %"
    return to_string(value)


# ---------------------------------------------------------------------------- static members
def _static_name(type_ref: TypeRef) -> str:
    n = type_ref.name.lower()
    return n[7:] if n.startswith("system.") else n


def get_static(type_ref: TypeRef, name: str, interp: "Interpreter") -> Any:
    t = _static_name(type_ref)
    n = name.lower()
    if t == "datetime":
        if n in ("utcnow", "now"):
            return interp.now()
        if n == "today":
            return interp.now().replace(hour=0, minute=0, second=0, microsecond=0)
        if n == "minvalue":
            return _dt.datetime(1, 1, 1, tzinfo=UTC)
        if n == "maxvalue":
            return _dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    if t in ("int", "int32") and n in ("maxvalue", "minvalue"):
        return 2**31 - 1 if n == "maxvalue" else -2**31
    if t in ("long", "int64") and n in ("maxvalue", "minvalue"):
        return 2**63 - 1 if n == "maxvalue" else -2**63
    if t == "string" and n == "empty":
        return ""
    if t in ("text.encoding",):
        if n == "utf8":
            return Encoding("utf-8")
        if n == "unicode":
            return Encoding("utf-16-le")
        if n == "ascii":
            return Encoding("ascii")
    if t == "environment":
        if n == "machinename":
            return interp.env_value("COMPUTERNAME")
        if n == "username":
            return interp.env_value("USERNAME")
        if n == "userdomainname":
            return interp.env_value("USERDOMAIN")
        if n == "newline":
            return "\r\n"
        if n == "osversion":
            return PSObject({"Version": Version(interp.os_version()), "Platform": "Win32NT",
                             "VersionString": f"Microsoft Windows NT {interp.os_version()}.0"},
                            type_name="System.OperatingSystem")
        if n == "is64bitoperatingsystem":
            return True
    if t == "math" and n == "pi":
        return math.pi
    if t in ("io.path",) and n == "directoryseparatorchar":
        return "\\"
    if t in ("management.automation.actionpreference", "actionpreference"):
        return _action_pref(name)
    if t == "guid" and n == "empty":
        return Guid("00000000-0000-0000-0000-000000000000")
    if t == "timespan" and n == "zero":
        return _dt.timedelta(0)
    raise not_supported(f"the static member [{type_ref.name}]::{name}")


def _io_file(n: str, args: list, interp: "Interpreter") -> Any:
    """[System.IO.File]::WriteAllText(path, text) (UTF-8 without a BOM), ReadAllText(path), Exists(path)
    on the session's host, absolute paths only. A .NET call is no cmdlet: hvsim's audit does not see it,
    as Windows' module logging (event 4103) does not record it."""
    from hvsim.world import files

    ctx = interp.ctx
    path = args[0] if args else ""
    if not re.match(r"^[A-Za-z]:\\", path):
        raise not_supported("[System.IO.File] with a relative path (.NET resolves it against the process's "
                            "working directory, not PowerShell's location)")
    world = ctx.world
    with (world.transaction() if n == "writealltext" else world.read()):
        h = ctx.host()
        entry = files.get(h, path)
        if n == "exists":
            return entry is not None and entry["kind"] == "file"
        if n == "readalltext":
            if entry is None or entry["kind"] != "file":
                raise PSError(ErrorRecord(message=f'Exception calling "ReadAllText" with "1" argument(s): "Could not '
                                          f"find file '{path}'.\"", fully_qualified_error_id="FileNotFoundException",
                                          category="NotSpecified", exception_type="System.IO.FileNotFoundException"))
            return str(entry.get("content") or "")
        parent = files.parent(path)
        if parent is not None and files.get(h, parent) is None:
            raise PSError(ErrorRecord(message=f'Exception calling "WriteAllText" with "2" argument(s): "Could not find '
                                      f"a part of the path '{path}'.\"", fully_qualified_error_id="DirectoryNotFoundException",
                                      category="NotSpecified", exception_type="System.IO.DirectoryNotFoundException"))
        text = args[1] if len(args) > 1 else ""
        files.put_file(h, path, len(text.encode("utf-8")), content=text)
    return None


def _action_pref(name: str) -> PSEnum:
    values = {"silentlycontinue": 0, "stop": 1, "continue": 2, "inquire": 3, "ignore": 4, "suspend": 5}
    canonical = {"silentlycontinue": "SilentlyContinue", "stop": "Stop", "continue": "Continue",
                 "inquire": "Inquire", "ignore": "Ignore", "suspend": "Suspend"}
    return PSEnum("System.Management.Automation.ActionPreference", canonical[name.lower()], values[name.lower()])


def _win_path_parts(path: str) -> tuple[str, str]:
    path = path.replace("/", "\\")
    idx = path.rfind("\\")
    if idx == -1:
        colon = path.find(":")
        return (path[:colon + 1], path[colon + 1:]) if colon == 1 else ("", path)
    return path[:idx], path[idx + 1:]


def call_static(type_ref: TypeRef, name: str, args: list, interp: "Interpreter") -> Any:
    t = _static_name(type_ref)
    n = name.lower()
    try:
        if t == "math":
            nums = [to_number(a) for a in args]
            if n == "max":
                return max(nums[0], nums[1])
            if n == "min":
                return min(nums[0], nums[1])
            if n == "round":
                digits = int(nums[1]) if len(nums) > 1 else 0
                r = round(float(nums[0]), digits)
                return r if digits or isinstance(nums[0], float) else int(r)
            if n == "floor":
                return float(math.floor(nums[0]))
            if n == "ceiling":
                return float(math.ceil(nums[0]))
            if n == "abs":
                return abs(nums[0])
            if n == "pow":
                return float(nums[0]) ** float(nums[1])
            if n == "truncate":
                return float(math.trunc(nums[0]))
            if n == "sqrt":
                return math.sqrt(nums[0])
        if t == "string":
            if n == "isnullorempty":
                return args[0] is None or to_string(args[0]) == ""
            if n == "isnullorwhitespace":
                return args[0] is None or to_string(args[0]).strip() == ""
            if n == "join":
                items = args[1] if len(args) == 2 and is_collection(args[1]) else args[1:]
                return to_string(args[0]).join(to_string(x) for x in items)
            if n == "format":
                from .expressions import format_operator
                rest = args[1] if len(args) == 2 and is_collection(args[1]) else args[1:]
                return format_operator(to_string(args[0]), list(rest))
            if n == "concat":
                return "".join(to_string(x) for x in args)
            if n == "equals":
                return to_string(args[0]) == to_string(args[1])
        if t == "convert":
            if n == "tobase64string":
                data = args[0]
                raw = bytes(data) if isinstance(data, (bytes, bytearray)) else bytes(to_int(b) for b in data)
                return base64.b64encode(raw).decode("ascii")
            if n == "frombase64string":
                try:
                    return bytes(base64.b64decode(to_string(args[0]), validate=True))
                except ValueError:
                    raise runtime_error('Exception calling "FromBase64String" with "1" argument(s): "The input is '
                                        'not a valid Base-64 string as it contains a non-base 64 character, more than '
                                        'two padding characters, or an illegal character among the padding '
                                        'characters. "', "FormatException", "NotSpecified",
                                        "System.Management.Automation.MethodInvocationException") from None
            if n in ("toint32", "toint64"):
                if len(args) == 2:
                    return int(to_string(args[0]), to_int(args[1]))
                return to_int(args[0], 64 if n == "toint64" else 32)
            if n == "tostring":
                return to_string(args[0])
            if n == "toboolean":
                return truthy(args[0]) if not isinstance(args[0], str) else args[0].strip().lower() == "true"
        if t == "scriptblock" or t == "management.automation.scriptblock":
            if n == "create":
                return interp.create_scriptblock(to_string(args[0]))
        if t == "guid":
            if n == "newguid":
                return Guid()
            if n == "parse":
                return convert_to(args[0], "guid")
        if t == "datetime":
            if n == "parse":
                return parse_datetime(to_string(args[0]))
            if n == "specifykind":
                return args[0]
            if n == "fromfiletimeutc":
                return _dt.datetime(1601, 1, 1, tzinfo=UTC) + _dt.timedelta(microseconds=to_number(args[0]) / 10)
        if t == "timespan":
            units = {"fromseconds": "seconds", "fromminutes": "minutes", "fromhours": "hours",
                     "fromdays": "days", "frommilliseconds": "milliseconds"}
            if n in units:
                return _dt.timedelta(**{units[n]: float(to_number(args[0]))})
        if t == "io.file" and n in ("writealltext", "readalltext", "exists"):
            return _io_file(n, [to_string(a) for a in args], interp)
        if t == "io.path":
            p = to_string(args[0]) if args else ""
            if n == "combine":
                out = ""
                for part in (to_string(a) for a in args):
                    if part.startswith("\\") or re.match(r"^[A-Za-z]:", part):
                        out = part
                    elif out and not out.endswith("\\"):
                        out = out + "\\" + part
                    else:
                        out = out + part
                return out
            if n == "getfilename":
                return _win_path_parts(p)[1]
            if n == "getdirectoryname":
                parent, _leaf = _win_path_parts(p)
                if re.fullmatch(r"[A-Za-z]:\\?", p) or not p:
                    return None
                return parent + "\\" if re.fullmatch(r"[A-Za-z]:", parent) else parent
            if n == "getextension":
                leaf = _win_path_parts(p)[1]
                return leaf[leaf.rfind("."):] if "." in leaf else ""
            if n == "getfilenamewithoutextension":
                leaf = _win_path_parts(p)[1]
                return leaf[:leaf.rfind(".")] if "." in leaf else leaf
            if n == "getpathroot":
                m = re.match(r"^[A-Za-z]:\\?", p)
                return m.group(0) if m else ""
            if n == "gettempfilename":
                return "C:\\Windows\\TEMP\\tmp" + os.urandom(2).hex().upper() + ".tmp"
        if t in ("int", "int32", "long", "int64", "double"):
            if n == "parse":
                return convert_to(to_string(args[0]), canonical_type(t) or "int")
            if n == "tryparse":
                raise not_supported(f"[{type_ref.name}]::TryParse (it needs a [ref] argument)")
        if t in ("regex", "text.regularexpressions.regex"):
            if n == "escape":
                return re.sub(r"([\\*+?|{\[()^$.#\s])", r"\\\1", to_string(args[0]))
            if n == "ismatch":
                return compile_regex(args[1], True).search(to_string(args[0])) is not None
            if n == "replace":
                from .operators import replacement
                return compile_regex(args[1], True).sub(replacement(to_string(args[2])), to_string(args[0]))
        if t == "environment" and n in ("getenvironmentvariable", "setenvironmentvariable"):
            # the process block of variables only ($env:): the User/Machine ones live in the registry
            at = 2 if n == "setenvironmentvariable" else 1  # the optional EnvironmentVariableTarget
            target = to_string(args[at]) if len(args) > at else "Process"
            if target.lower() != "process":
                raise not_supported(f"[Environment]::{name}() with the target '{target}' (only Process)")
            if n == "getenvironmentvariable":
                return interp.env_value(to_string(args[0]))
            interp.set_var(to_string(args[0]), args[1], prefix="env")  # $null or '' removes it, as on Windows
            return None
        if t in ("management.automation.pscredential", "pscredential") and n == "new":
            return PSCredential(to_string(args[0]), args[1])
        if (t in ("collections.arraylist",) or t.startswith("collections.generic.list")) and n == "new":
            kind = "System.Collections.ArrayList" if "arraylist" in t else "System.Collections.Generic.List"
            init = args[0] if args and is_collection(args[0]) else []
            return ArrayList(init, type_name=kind)
        if t in ("collections.hashtable", "hashtable") and n == "new":
            return Hashtable()
        if t in ("text.stringbuilder",):
            raise not_supported("[System.Text.StringBuilder]")
        if t == "version" and n in ("new", "parse"):
            return Version(".".join(to_string(a) for a in args) if n == "new" else to_string(args[0]))
    except IndexError:
        raise runtime_error(f'Cannot find an overload for "{name}" and the argument count: "{len(args)}".',
                            "MethodCountCouldNotFindBest", "NotSpecified",
                            "System.Management.Automation.MethodException") from None
    raise not_supported(f"the static method [{type_ref.name}]::{name}()")
