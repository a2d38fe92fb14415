"""PowerShell's conversions (LanguagePrimitives): to string, number, bool and the casts we support."""
from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from .errors import ErrorRecord, PSError
from .values import (NET_INTS, ArrayList, Guid, Hashtable, PSCredential, PSEnum, PSObject, PSCUSTOMOBJECT,
                     ScriptBlock, SecureString, TypedArray, Version, is_collection, net_type_name, typed_int)

UTC = _dt.timezone.utc
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)

# canonical short names of the types the interpreter knows, keyed by every accepted spelling
_TYPE_ALIASES = {
    "string": "string", "system.string": "string",
    "int": "int", "int32": "int", "system.int32": "int",
    "long": "long", "int64": "long", "system.int64": "long",
    "uint32": "uint32", "system.uint32": "uint32", "uint64": "uint64", "system.uint64": "uint64",
    "ulong": "uint64", "uint16": "uint16", "system.uint16": "uint16", "int16": "int16", "short": "int16",
    "system.int16": "int16", "sbyte": "sbyte", "system.sbyte": "sbyte",
    "byte": "byte", "system.byte": "byte", "char": "char", "system.char": "char",
    "bool": "bool", "boolean": "bool", "system.boolean": "bool",
    "double": "double", "system.double": "double", "float": "double", "single": "double",
    "system.single": "double", "decimal": "double", "system.decimal": "double",
    "array": "array", "system.array": "array", "object[]": "array", "system.object[]": "array",
    "object": "object", "system.object": "object", "psobject": "psobject",
    "system.management.automation.psobject": "psobject",
    "pscustomobject": "pscustomobject", "system.management.automation.pscustomobject": "pscustomobject",
    "hashtable": "hashtable", "system.collections.hashtable": "hashtable",
    "ordered": "ordered", "system.collections.specialized.ordereddictionary": "ordered",
    "datetime": "datetime", "system.datetime": "datetime",
    "timespan": "timespan", "system.timespan": "timespan",
    "version": "version", "system.version": "version",
    "guid": "guid", "system.guid": "guid",
    "scriptblock": "scriptblock", "system.management.automation.scriptblock": "scriptblock",
    "pscredential": "pscredential", "system.management.automation.pscredential": "pscredential",
    "securestring": "securestring", "system.security.securestring": "securestring",
    "switch": "switch", "switchparameter": "switch", "system.management.automation.switchparameter": "switch",
    "void": "void", "regex": "regex", "system.text.regularexpressions.regex": "regex",
    "system.collections.arraylist": "arraylist", "collections.arraylist": "arraylist",
    "errorrecord": "errorrecord", "system.management.automation.errorrecord": "errorrecord",
}

NET_NAMES = {
    "string": "System.String", "int": "System.Int32", "long": "System.Int64", "bool": "System.Boolean",
    "double": "System.Double", "array": "System.Object[]", "hashtable": "System.Collections.Hashtable",
    "datetime": "System.DateTime", "version": "System.Version", "guid": "System.Guid",
    "scriptblock": "System.Management.Automation.ScriptBlock", "byte": "System.Byte", "char": "System.Char",
    "pscredential": "System.Management.Automation.PSCredential", "object": "System.Object",
    "securestring": "System.Security.SecureString", "pscustomobject": PSCUSTOMOBJECT,
    "psobject": "System.Management.Automation.PSObject", "timespan": "System.TimeSpan",
    "switch": "System.Management.Automation.SwitchParameter", "ordered": "System.Collections.Specialized.OrderedDictionary",
    "arraylist": "System.Collections.ArrayList", "uint32": "System.UInt32", "uint64": "System.UInt64",
    "uint16": "System.UInt16", "int16": "System.Int16", "sbyte": "System.SByte",
}
# canonical integer type -> the short .NET name values.typed_int takes
_INT_TYPES = {"int": "Int32", "long": "Int64", "uint32": "UInt32", "uint64": "UInt64", "uint16": "UInt16",
              "int16": "Int16", "byte": "Byte", "sbyte": "SByte"}


def canonical_type(name: str) -> str | None:
    """'System.Int32' / 'int' -> 'int'; arrays end in '[]'; None if unknown."""
    n = name.strip().lower()
    if n.endswith("[]") and n not in _TYPE_ALIASES:
        inner = canonical_type(n[:-2])
        return inner + "[]" if inner else None
    if n in _TYPE_ALIASES:
        return _TYPE_ALIASES[n]
    if n.startswith("system.collections.generic.list[") or n.startswith("collections.generic.list["):
        return "list"
    if not n.startswith("system.") and "system." + n in _TYPE_ALIASES:
        return _TYPE_ALIASES["system." + n]
    return None


def conversion_error(value: Any, type_name: str, detail: str) -> PSError:
    shown = to_string(value)
    net = NET_NAMES.get(type_name.rstrip("[]"), type_name)
    if type_name.endswith("[]"):
        net += "[]"
    record = ErrorRecord(
        message=f'Cannot convert value "{shown}" to type "{net}". Error: "{detail}"',
        fully_qualified_error_id="InvalidCastFromStringToInteger" if isinstance(value, str) and type_name in ("int", "long") else "RuntimeException",
        category="InvalidArgument" if isinstance(value, str) else "NotSpecified",
        exception_type="System.Management.Automation.RuntimeException")
    return PSError(record)


# ---------------------------------------------------------------------------- strings
def format_double(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = format(value, ".15g")
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = exp[0]
        digits = exp[1:].lstrip("0").rjust(2, "0")
        text = f"{mantissa}E{sign}{digits}"
    return text


def format_datetime(value: _dt.datetime, fmt: str | None = None, invariant: bool = False) -> str:
    if fmt is None:
        if invariant:   # [string]$date, "$date": the invariant culture
            return value.strftime("%m/%d/%Y %H:%M:%S")
        hour = value.hour % 12 or 12
        return f"{value.month}/{value.day}/{value.year} {hour}:{value.minute:02d}:{value.second:02d} " \
               f"{'AM' if value.hour < 12 else 'PM'}"
    return dotnet_date_format(value, fmt)


_DATE_TOKENS = re.compile(r"yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|fffffff|ffffff|fffff|ffff|fff|ff|f|tt|zzz|K|'[^']*'|\\.|.", re.S)


def dotnet_date_format(value: _dt.datetime, fmt: str) -> str:
    if fmt in ("o", "O"):
        frac = f"{value.microsecond:06d}0"
        offset = value.utcoffset()
        zone = "Z" if offset is not None and offset == _dt.timedelta(0) else (
            "" if offset is None else value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:])
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + frac + zone
    if fmt == "s":
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if fmt == "u":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if len(fmt) == 1:
        fmt = {"d": "M/d/yyyy", "D": "dddd, MMMM d, yyyy", "t": "h:mm tt", "T": "h:mm:ss tt",
               "g": "M/d/yyyy h:mm tt", "G": "M/d/yyyy h:mm:ss tt", "f": "dddd, MMMM d, yyyy h:mm tt",
               "F": "dddd, MMMM d, yyyy h:mm:ss tt"}.get(fmt, fmt)
    out = []
    for tok in _DATE_TOKENS.findall(fmt):
        if tok.startswith("'"):
            out.append(tok[1:-1])
        elif tok.startswith("\\") and len(tok) == 2:
            out.append(tok[1])
        elif tok == "yyyy":
            out.append(f"{value.year:04d}")
        elif tok == "yy":
            out.append(f"{value.year % 100:02d}")
        elif tok == "MMMM":
            out.append(value.strftime("%B"))
        elif tok == "MMM":
            out.append(value.strftime("%b"))
        elif tok == "MM":
            out.append(f"{value.month:02d}")
        elif tok == "M":
            out.append(str(value.month))
        elif tok == "dddd":
            out.append(value.strftime("%A"))
        elif tok == "ddd":
            out.append(value.strftime("%a"))
        elif tok == "dd":
            out.append(f"{value.day:02d}")
        elif tok == "d":
            out.append(str(value.day))
        elif tok == "HH":
            out.append(f"{value.hour:02d}")
        elif tok == "H":
            out.append(str(value.hour))
        elif tok == "hh":
            out.append(f"{(value.hour % 12 or 12):02d}")
        elif tok == "h":
            out.append(str(value.hour % 12 or 12))
        elif tok == "mm":
            out.append(f"{value.minute:02d}")
        elif tok == "m":
            out.append(str(value.minute))
        elif tok == "ss":
            out.append(f"{value.second:02d}")
        elif tok == "s":
            out.append(str(value.second))
        elif tok.startswith("f"):
            out.append(f"{value.microsecond:06d}0"[:len(tok)])
        elif tok == "tt":
            out.append("AM" if value.hour < 12 else "PM")
        elif tok in ("zzz", "K"):
            z = value.strftime("%z") or "+0000"
            out.append("Z" if tok == "K" and z == "+0000" else z[:3] + ":" + z[3:])
        else:
            out.append(tok)
    return "".join(out)


def format_timespan(value: _dt.timedelta) -> str:
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    micro = abs(value.days * 86400 * 10**6 + value.seconds * 10**6 + value.microseconds)
    days, rem = divmod(micro, 86400 * 10**6)
    hours, rem = divmod(rem, 3600 * 10**6)
    minutes, rem = divmod(rem, 60 * 10**6)
    seconds, micros = divmod(rem, 10**6)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if days:
        text = f"{days}.{text}"
    if micros:
        text += f".{micros:06d}0"
    return sign + text


def to_string(value: Any, ofs: str = " ") -> str:
    """[string]$value (LanguagePrimitives, invariant culture)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_double(value)
    if isinstance(value, _dt.datetime):
        return format_datetime(value, invariant=True)
    if isinstance(value, _dt.timedelta):
        return format_timespan(value)
    if isinstance(value, (bytes, bytearray)):
        return ofs.join(str(b) for b in value)
    if is_collection(value):
        return ofs.join(to_string(v) for v in value)
    if isinstance(value, Hashtable):
        return value.type_name
    if isinstance(value, PSEnum):
        return value.name
    if isinstance(value, ScriptBlock):
        return value.text
    if isinstance(value, (SecureString, Version, Guid)):
        return str(value)
    if isinstance(value, PSCredential):
        return value.type_name
    if isinstance(value, PSObject):
        if "ToString" in value.methods:
            return to_string(value.methods["ToString"]())
        if value.type_name == PSCUSTOMOBJECT:
            inner = "; ".join(f"{k}={to_string(v)}" for k, v in value.props.items())
            return "@{" + inner + "}"
        return value.type_name.split("#")[0] if "#" not in value.type_name else \
            "Microsoft.Management.Infrastructure.CimInstance"
    to_s = getattr(value, "ps_string", None)
    if callable(to_s):
        return to_s()
    return str(value)


# ---------------------------------------------------------------------------- numbers
_HEX = re.compile(r"^\s*([+-]?)0x([0-9a-f]+)\s*$", re.I)
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_SUFFIXED = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)(kb|mb|gb|tb|pb)\s*$", re.I)
_MULT = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}


def parse_number(text: str) -> int | float | None:
    """A string as PowerShell's arithmetic reads it; None if it is not a number."""
    t = text.strip()
    if t == "":
        return 0
    if _INT.match(t):
        return int(t)
    m = _HEX.match(t)
    if m:
        return int(m.group(2), 16) * (-1 if m.group(1) == "-" else 1)
    m = _SUFFIXED.match(t)
    if m:
        num = float(m.group(1)) * _MULT[m.group(2).lower()]
        return int(num) if num == int(num) else num
    try:
        value = float(t)
    except ValueError:
        return None
    return value


def to_number(value: Any, for_what: str = "double") -> int | float:
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, PSEnum):
        return value.value
    if isinstance(value, str):
        n = parse_number(value)
        if n is None:
            raise conversion_error(value, "int" if for_what == "int" else "double",
                                   "Input string was not in a correct format.")
        return n
    if is_collection(value) and len(value) == 1:
        return to_number(value[0], for_what)
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    raise conversion_error(value, for_what, "Invalid cast.")


def round_half_even(value: float) -> int:
    return int(round(value))


def to_int(value: Any, bits: int = 32) -> int:
    n = to_number(value, "int")
    if isinstance(n, float):
        if math.isnan(n) or math.isinf(n):
            raise conversion_error(value, "int", "Value was either too large or too small for an Int32.")
        n = round_half_even(n)
    limit = 2 ** (bits - 1)
    if not -limit <= n < limit:
        raise conversion_error(value, "int" if bits == 32 else "long",
                               f"Value was either too large or too small for an Int{bits}.")
    return n


def to_typed_int(value: Any, t: str) -> int:
    """[int] / [long] / [uint32] ... $value: the number in range, carrying its .NET type."""
    short = _INT_TYPES[t]
    n = value.value if isinstance(value, PSEnum) else to_int(value, 64)
    lo, hi = NET_INTS[short].bounds if short in NET_INTS else (-2**31, 2**31 - 1)
    if not lo <= n <= hi:
        raise conversion_error(value, t, f"Value was either too large or too small for {_article(short)} {short}.")
    return typed_int(n, short)


def _article(short: str) -> str:
    return "an" if short.startswith("Int") else "a"


# ---------------------------------------------------------------------------- booleans
def truthy(value: Any) -> bool:
    """PowerShell's truthiness."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value != ""
    if isinstance(value, PSEnum):
        return value.value != 0
    if is_collection(value):
        if len(value) == 0:
            return False
        if len(value) == 1:
            return truthy(value[0])
        return True
    return True


# ---------------------------------------------------------------------------- dates
def parse_datetime(text: str) -> _dt.datetime:
    t = text.strip()
    m = re.match(r"^/Date\((-?\d+)\)/$", t)
    if m:
        return EPOCH + _dt.timedelta(milliseconds=int(m.group(1)))
    iso = t.replace("Z", "+00:00")
    iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)
    for candidate in (iso,):
        try:
            value = _dt.datetime.fromisoformat(candidate)
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        except ValueError:
            pass
    for fmt in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S"):
        try:
            return _dt.datetime.strptime(t, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    raise conversion_error(text, "datetime", "String was not recognized as a valid DateTime.")


# ---------------------------------------------------------------------------- casts
def convert_to(value: Any, type_name: str) -> Any:
    """[type]$value for a canonical type name (see canonical_type)."""
    t = type_name
    if t.endswith("[]"):
        inner = t[:-2]
        items = list(value) if is_collection(value) else ([] if value is None else [value])
        converted = [convert_to(v, inner) for v in items]
        if inner in ("object", "psobject", "array"):
            return converted
        return TypedArray(converted, type_name=NET_NAMES.get(inner, inner) + "[]")
    if t in ("object", "psobject"):
        return value
    if t == "string":
        return to_string(value)
    if t in _INT_TYPES:
        return to_typed_int(value, t)
    if t == "char":
        if isinstance(value, str) and len(value) == 1:
            return value
        return chr(to_int(value))
    if t == "double":
        return float(to_number(value))
    if t in ("bool", "switch"):
        return truthy(value)
    if t == "array":
        if value is None:
            return []
        return list(value) if is_collection(value) else [value]
    if t == "arraylist":
        return ArrayList(list(value) if is_collection(value) else ([] if value is None else [value]))
    if t == "list":
        return ArrayList(list(value) if is_collection(value) else ([] if value is None else [value]),
                         type_name="System.Collections.Generic.List")
    if t == "hashtable":
        if isinstance(value, Hashtable):
            return value
        if isinstance(value, PSObject):
            return Hashtable(value.props)
        raise conversion_error(value, t, "Invalid cast.")
    if t == "ordered":
        if isinstance(value, Hashtable):
            return Hashtable(value, ordered=True)
        raise conversion_error(value, t, "Invalid cast.")
    if t == "pscustomobject":
        if isinstance(value, Hashtable):
            return PSObject({str(k): v for k, v in value.items()})
        return value
    if t == "datetime":
        if isinstance(value, _dt.datetime):
            from .values import plain_datetime
            return plain_datetime(value)
        if isinstance(value, str):
            return parse_datetime(value)
        if isinstance(value, int):
            return _dt.datetime(1, 1, 1, tzinfo=UTC) + _dt.timedelta(microseconds=value // 10)
        raise conversion_error(value, t, "Invalid cast.")
    if t == "timespan":
        if isinstance(value, _dt.timedelta):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _dt.timedelta(microseconds=value / 10)
        raise conversion_error(value, t, "Invalid cast.")
    if t == "version":
        if isinstance(value, Version):
            return value
        try:
            return Version(to_string(value))
        except ValueError:
            raise conversion_error(value, t, "Version string portion was too short or too long.") from None
    if t == "guid":
        if isinstance(value, Guid):
            return value
        try:
            return Guid(to_string(value))
        except ValueError:
            raise conversion_error(value, t, "Guid should contain 32 digits with 4 dashes "
                                             "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).") from None
    if t == "securestring":
        if isinstance(value, SecureString):
            return value
        raise conversion_error(value, t, "Invalid cast.")
    if t == "pscredential":
        if isinstance(value, PSCredential) or value is None:
            return value
        raise conversion_error(value, t, "Invalid cast.")
    if t == "scriptblock":
        if isinstance(value, ScriptBlock) or value is None:
            return value
        raise conversion_error(value, t, "Invalid cast.")
    if t == "errorrecord":
        if isinstance(value, ErrorRecord) or value is None:
            return value
        raise conversion_error(value, t, "Invalid cast.")
    if t == "void":
        return None
    raise conversion_error(value, t, "Invalid cast.")


def is_instance(value: Any, type_name: str) -> bool:
    """$value -is [type] for a canonical type name."""
    t = type_name
    if t.endswith("[]"):
        if isinstance(value, TypedArray):
            return t[:-2] in ("object", "psobject") or value.type_name.lower() == NET_NAMES.get(t[:-2], t[:-2]).lower() + "[]"
        return isinstance(value, list) and not isinstance(value, ArrayList) and t[:-2] in ("object", "psobject")
    if t in _INT_TYPES:
        return net_type_name(value) == NET_NAMES.get(t, "System.Int32") and not isinstance(value, bool)
    checks = {
        "string": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -2**31 <= v < 2**31,
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool) and not -2**31 <= v < 2**31,
        "double": lambda v: isinstance(v, float),
        "bool": lambda v: isinstance(v, bool),
        "switch": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list) and not isinstance(v, ArrayList),
        "arraylist": lambda v: isinstance(v, ArrayList),
        "list": lambda v: isinstance(v, ArrayList),
        "hashtable": lambda v: isinstance(v, Hashtable) and not v.ordered,
        "ordered": lambda v: isinstance(v, Hashtable) and v.ordered,
        "object": lambda v: v is not None,
        "psobject": lambda v: isinstance(v, PSObject),
        "pscustomobject": lambda v: isinstance(v, PSObject),
        "datetime": lambda v: isinstance(v, _dt.datetime),
        "timespan": lambda v: isinstance(v, _dt.timedelta),
        "version": lambda v: isinstance(v, Version),
        "guid": lambda v: isinstance(v, Guid),
        "scriptblock": lambda v: isinstance(v, ScriptBlock),
        "pscredential": lambda v: isinstance(v, PSCredential),
        "securestring": lambda v: isinstance(v, SecureString),
        "errorrecord": lambda v: isinstance(v, ErrorRecord),  # what 2>&1 mixes into the output
        "char": lambda v: False,
        "byte": lambda v: False,
    }
    check = checks.get(t)
    return bool(check(value)) if check else False
