"""Operators with Windows PowerShell 5.1 semantics.

Arithmetic follows the LEFT operand's type; comparisons convert the right operand to the left
one's type, are case-insensitive unless the -c form is used, and filter when the left operand is
a collection.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Callable

from .conversions import parse_number, to_number, to_string, truthy
from .errors import ErrorRecord, PSError
from .values import Int64, ArrayList, Hashtable, PSEnum, Version, is_collection, plain_datetime


def runtime_error(message: str, error_id: str, category: str = "InvalidOperation",
                  exception_type: str = "System.Management.Automation.RuntimeException") -> PSError:
    return PSError(ErrorRecord(message=message, fully_qualified_error_id=error_id, category=category,
                               exception_type=exception_type))


# ---------------------------------------------------------------------------- arithmetic
def _numeric_pair(left: Any, right: Any, op: str) -> tuple[Any, Any]:
    try:
        r = to_number(right)
    except PSError:
        raise runtime_error(
            f'Cannot convert value "{to_string(right)}" to type "System.{"Int32" if isinstance(left, int) else "Double"}". '
            'Error: "Input string was not in a correct format."',
            "InvalidCastFromStringToInteger" if isinstance(left, int) else "InvalidCastFromStringToDoubleOrSingle",
            "InvalidArgument", "System.Management.Automation.PSInvalidCastException") from None
    return to_number(left), r


def _widen(result: Any, left: Any, right: Any) -> Any:
    """Integer arithmetic with an Int64 operand gives an Int64 (Int32 op Int32 stays Int32, as in .NET)."""
    if isinstance(result, int) and not isinstance(result, bool) and (isinstance(left, Int64) or isinstance(right, Int64)):
        lo, hi = Int64.bounds
        return Int64(result) if lo <= result <= hi else float(result)
    return result


def add(left: Any, right: Any) -> Any:
    if left is None:
        if right is None:
            return None
        if is_collection(right):
            return list(right)
        return right
    if isinstance(left, str):
        return left + to_string(right)
    if isinstance(left, ArrayList) or (is_collection(left) and not isinstance(left, (bytes, bytearray))):
        return list(left) + (list(right) if is_collection(right) else [right])
    if isinstance(left, Hashtable):
        if not isinstance(right, Hashtable):
            raise runtime_error("A hash table can only be added to another hash table.", "AddHashTableToNonHashTable")
        merged = left.copy()
        for k, v in right.items():
            if k in merged:
                raise runtime_error(f"Item has already been added. Key in dictionary: '{k}'  Key being added: '{k}'",
                                    "System.ArgumentException", "NotSpecified", "System.ArgumentException")
            merged[k] = v
        return merged
    if isinstance(left, _dt.datetime):
        left = plain_datetime(left)
        if isinstance(right, _dt.timedelta):
            return left + right
        return left + _dt.timedelta(microseconds=to_number(right) / 10)
    if isinstance(left, _dt.timedelta) and isinstance(right, _dt.timedelta):
        return left + right
    a, b = _numeric_pair(left, right, "+")
    return _widen(a + b, a, b)


def subtract(left: Any, right: Any) -> Any:
    if isinstance(left, _dt.datetime):
        left = plain_datetime(left)
        if isinstance(right, _dt.datetime):
            return left - right
        if isinstance(right, _dt.timedelta):
            return left - right
    if isinstance(left, _dt.timedelta) and isinstance(right, _dt.timedelta):
        return left - right
    if isinstance(left, str) and parse_number(left) is None or is_collection(left) or isinstance(left, Hashtable):
        raise runtime_error(f"Method invocation failed because [{_type_word(left)}] does not contain a method "
                            "named 'op_Subtraction'.", "MethodNotFound")
    a, b = _numeric_pair(left, right, "-")
    return _widen(a - b, a, b)


def _type_word(v: Any) -> str:
    if isinstance(v, str):
        return "System.String"
    if isinstance(v, Hashtable):
        return "System.Collections.Hashtable"
    return "System.Object[]"


def multiply(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        return left * int(to_number(right))
    if is_collection(left):
        return list(left) * int(to_number(right))
    a, b = _numeric_pair(left, right, "*")
    return _widen(a * b, a, b)


def divide(left: Any, right: Any) -> Any:
    a, b = _numeric_pair(left, right, "/")
    if b == 0:
        raise runtime_error("Attempted to divide by zero.", "RuntimeException", "NotSpecified")
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return _widen(a // b, a, b)
    return a / b


def modulo(left: Any, right: Any) -> Any:
    a, b = _numeric_pair(left, right, "%")
    if b == 0:
        raise runtime_error("Attempted to divide by zero.", "RuntimeException", "NotSpecified")
    result = abs(a) % abs(b)
    return -result if a < 0 else result


ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": add, "-": subtract, "*": multiply, "/": divide, "%": modulo,
}


# ---------------------------------------------------------------------------- comparison
def _coerce_right(left: Any, right: Any) -> Any:
    """Convert the right operand to the left operand's type, as PowerShell does."""
    if isinstance(left, bool):
        return truthy(right)
    if isinstance(left, (int, float)) and not isinstance(left, bool):
        if isinstance(right, (int, float)) and not isinstance(right, bool):
            return right
        if isinstance(right, bool):
            return int(right)
        if isinstance(right, str):
            n = parse_number(right)
            return right if n is None else n
        if isinstance(right, PSEnum):
            return right.value
        return right
    if isinstance(left, str):
        return None if right is None else to_string(right)
    return right


def _eq_scalar(left: Any, right: Any, case: bool) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, PSEnum):
        if isinstance(right, str):
            return left.name.lower() == right.lower() if not case else left.name == right
        if isinstance(right, (int, PSEnum)):
            return left.value == (right.value if isinstance(right, PSEnum) else right)
        return False
    r = _coerce_right(left, right)
    if isinstance(left, str):
        if not isinstance(r, str):
            return False
        return left == r if case else left.lower() == r.lower()
    if isinstance(left, (int, float)) and not isinstance(r, (int, float)):
        return False
    if isinstance(left, _dt.datetime) and isinstance(r, str):
        from .conversions import parse_datetime
        try:
            r = parse_datetime(r)
        except PSError:
            return False
    if isinstance(left, Version) and isinstance(r, str):
        try:
            r = Version(r)
        except ValueError:
            return False
    try:
        return bool(left == r)
    except Exception:  # noqa: BLE001 - incomparable values are simply unequal
        return False


def _order_scalar(left: Any, right: Any, case: bool) -> int | None:
    """-1/0/1, or None when the values cannot be ordered."""
    if left is None and right is None:
        return 0
    if left is None:
        return -1
    if right is None:
        return 1
    if isinstance(left, PSEnum):
        left = left.value
        if isinstance(right, PSEnum):
            right = right.value
    r = _coerce_right(left, right)
    if isinstance(left, str):
        a, b = (left, r) if case else (left.lower(), str(r).lower())
    else:
        a, b = left, r
        if isinstance(a, _dt.datetime) and isinstance(b, str):
            from .conversions import parse_datetime
            b = parse_datetime(b)
        if isinstance(a, Version) and isinstance(b, str):
            b = Version(b)
    try:
        return (a > b) - (a < b)
    except TypeError:
        raise runtime_error(f'Cannot compare "{to_string(left)}" to "{to_string(right)}" because the objects are '
                            'not the same type or the object "' + to_string(left) + '" does not implement "IComparable".',
                            "NotIcomparable") from None


def wildcard_to_regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "`" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                out.append("[" + pattern[i + 1:j].replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "^" + "".join(out) + "$"


def like(value: Any, pattern: Any, case: bool = False) -> bool:
    return re.match(wildcard_to_regex(to_string(pattern)), to_string(value),
                    0 if case else re.IGNORECASE | re.S) is not None


def dotnet_regex(pattern: str) -> str:
    """.NET named groups (?<name>..) -> Python's (?P<name>..)."""
    return re.sub(r"\(\?<(?![=!])([A-Za-z_]\w*)>", r"(?P<\1>", pattern).replace(r"\k<", r"(?P=")


def compile_regex(pattern: Any, case: bool) -> re.Pattern:
    text = to_string(pattern)
    try:
        return re.compile(dotnet_regex(text), 0 if case else re.IGNORECASE)
    except re.error as exc:
        raise runtime_error(f'The regular expression pattern {text} is not valid.', "InvalidRegularExpression",
                            "InvalidOperation") from exc


def match_groups(m: re.Match) -> Hashtable:
    table = Hashtable()
    names = {v: k for k, v in m.re.groupindex.items()}
    for i in range(m.re.groups, 0, -1):
        if m.group(i) is not None:
            table[names.get(i, i)] = m.group(i)
    table[0] = m.group(0)
    return table


def replacement(text: str) -> Callable[[re.Match], str]:
    """A .NET replacement string ($1, ${name}, $0, $$) as a Python function."""
    def expand(m: re.Match) -> str:
        def sub(t: re.Match) -> str:
            token = t.group(0)
            if token == "$$":
                return "$"
            key = t.group(1) or t.group(2)
            try:
                val = m.group(int(key)) if key.isdigit() else m.group(key)
            except (IndexError, error_type):
                return token
            return val or ""
        return re.sub(r"\$\{(\w+)\}|\$(\d+)|\$\$", sub, text)
    return expand


error_type = re.error


def _compare_scalar(op: str, left: Any, right: Any, case: bool, matches: dict) -> bool:
    if op == "eq":
        return _eq_scalar(left, right, case)
    if op == "ne":
        return not _eq_scalar(left, right, case)
    if op in ("gt", "ge", "lt", "le"):
        order = _order_scalar(left, right, case)
        return {"gt": order > 0, "ge": order >= 0, "lt": order < 0, "le": order <= 0}[op]
    if op == "like":
        return like(left, right, case)
    if op == "notlike":
        return not like(left, right, case)
    if op in ("match", "notmatch"):
        m = compile_regex(right, case).search(to_string(left))
        if m is not None:
            matches["last"] = match_groups(m)
        return (m is not None) == (op == "match")
    raise runtime_error(f"operator -{op}", "NotSupported")


FILTERING = {"eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch"}


def compare(op: str, left: Any, right: Any, set_matches: Callable[[Any], None] | None = None) -> Any:
    """Evaluate a comparison/text operator given without its dash (e.g. 'eq', 'ceq', 'inotlike')."""
    name = op.lower()
    case = False
    if name[0] in "ci" and name[1:] in FILTERING | {"contains", "notcontains", "in", "notin", "replace", "split"}:
        case = name[0] == "c"
        name = name[1:]
    matches: dict = {}
    if name in FILTERING:
        if is_collection(left):
            result = [item for item in left if _compare_scalar(name, item, right, case, {})]
            return result
        result = _compare_scalar(name, left, right, case, matches)
        if name in ("match", "notmatch") and set_matches is not None and "last" in matches:
            set_matches(matches["last"])
        return result
    if name in ("contains", "notcontains"):
        items = list(left) if is_collection(left) else [left]
        found = any(_eq_scalar(item, right, case) for item in items)
        return found if name == "contains" else not found
    if name in ("in", "notin"):
        items = list(right) if is_collection(right) else [right]
        found = any(_eq_scalar(item, left, case) for item in items)
        return found if name == "in" else not found
    if name == "replace":
        pattern, repl = right, ""
        if is_collection(right):
            parts = list(right)
            if len(parts) > 2:
                raise runtime_error("The -replace operator allows only two elements to follow it, not "
                                    f"{len(parts)}.", "BadReplaceArgument")
            pattern = parts[0]
            repl = parts[1] if len(parts) > 1 else ""
        regex = compile_regex(pattern, case)
        fn = replacement(to_string(repl))
        if is_collection(left):
            return [regex.sub(fn, to_string(v)) for v in left]
        return regex.sub(fn, to_string(left))
    if name == "split":
        pattern, limit = right, 0
        if is_collection(right):
            parts = list(right)
            pattern = parts[0]
            limit = int(to_number(parts[1])) if len(parts) > 1 else 0
        regex = compile_regex(pattern, case)
        out: list[str] = []
        for item in (left if is_collection(left) else [left]):
            out.extend(_split(regex, to_string(item), limit))
        return out
    if name == "join":
        items = left if is_collection(left) else [left]
        return to_string(right).join(to_string(v) for v in items)
    if name in ("is", "isnot", "as"):
        raise AssertionError("type operators are evaluated by the interpreter")
    raise runtime_error(f"hvsim does not support the -{op} operator.", "NotSupported", "NotImplemented")


def _split(regex: re.Pattern, text: str, limit: int) -> list[str]:
    if regex.groups:
        return regex.split(text, maxsplit=max(limit - 1, 0))
    return regex.split(text, maxsplit=max(limit - 1, 0))


def unary_split(value: Any) -> list[str]:
    out: list[str] = []
    for item in (value if is_collection(value) else [value]):
        out.extend([p for p in re.split(r"\s+", to_string(item).strip())] if to_string(item).strip() else [""])
    return out


def unary_join(value: Any) -> str:
    return "".join(to_string(v) for v in (value if is_collection(value) else [value]))


def sort_key_compare(a: Any, b: Any, case: bool = False) -> int:
    """Sort-Object's ordering: nulls first (as _order_scalar orders them), numbers numerically,
    strings case-insensitively."""
    try:
        order = _order_scalar(a, b, case)
    except PSError:
        order = None
    if order is None:
        sa, sb = to_string(a).lower(), to_string(b).lower()
        return (sa > sb) - (sa < sb)
    return order
