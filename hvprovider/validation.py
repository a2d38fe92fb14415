"""Argument specs declared as data, validated in ``check()`` before any WinRM call.

A resource declares its inputs once, as a tuple of ``Prop``::

    SPEC = (
        Prop("name", "str", required=True, checks=(iscsi_target_name,), on_change="replace",
             doc="Target name (letters, digits, '-', '.')"),
        Prop("initiator_ids", "list", required=True, items=(initiator_id,), unordered=True),
        Prop("description", "str", default=""),
    )

``validate(spec, inputs, resource="IscsiTarget") -> (normalized, failures)`` checks presence,
type, choices and the value checks, fills defaults and normalizes (numbers from the engine arrive
as floats: integral floats become ints; sizes like "10GB" become bytes; choices take their canonical
spelling). Stack config is parsed strictly: a bool is true/false or "true"/"false" (``parse_bool``;
"no" is a failure, not True), an int may be the string "2" but not "two"; a required string must not
be blank. ``failures`` is a list of ``pulumi.dynamic.CheckFailure(property, reason)`` whose reason
names what is allowed. Values that are still unknown during preview (``is_unknown``) skip the value
checks. The same ``Prop`` table drives ``base.diff`` (``on_change``: 'update' | 'replace' | 'ignore').

Value checks are plain functions ``check(value) -> str | None`` (None = fine, else the reason);
this module provides the ones the lab needs: ``netbios_name``, ``dns_name``, ``iqn``,
``initiator_id``, ``ipv4``, ``windows_path``, ``vhdx_path``, ``iscsi_target_name``,
``size_between(lo, hi)``, ``number_between(lo, hi)``, ``nonempty``, ``length_at_most(n)``.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import pulumi
from pulumi.dynamic import CheckFailure

# The value the engine sends for "not known yet" during preview (pulumi.runtime.rpc.UNKNOWN).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

Check = Callable[[Any], "str | None"]
TYPES = ("str", "int", "number", "bool", "list", "dict", "size", "any")


def is_unknown(value: Any) -> bool:
    """True when the value is not known yet: the engine's placeholder during preview (a value computed
    by another resource), or a ``pulumi.Output`` (when a program-side config like ClusterLab's is checked)."""
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, pulumi.Output):
        return True
    try:
        from pulumi.output import Unknown  # only exists in some SDK versions

        return isinstance(value, Unknown)
    except ImportError:  # pragma: no cover
        return False


def contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


@dataclass(frozen=True)
class Prop:
    """One input property: its type, whether it is required, its default, checks and diff behaviour.

    kind: 'str' | 'int' | 'number' | 'bool' | 'list' | 'dict' | 'size' (bytes; int or "10GB") | 'any'
    choices: allowed values (compared case-insensitively, normalized to the spelling given here)
    checks: value checks (the whole value); items: checks applied to each list element
    fields: a nested spec for 'dict' properties (validated recursively, reported as "parent.child")
    on_change: 'update' (in place) | 'replace' | 'ignore' (stored, never causes a diff)
    replace_fields: for 'dict' properties: changing these sub-fields replaces, others update
    unordered / case_insensitive: how ``base.diff`` compares old and new values
    convert: canonical form applied after the checks passed (to each item of a list)
    secret: the value is a secret (never printed; outputs marked secret)
    """

    name: str
    kind: str = "str"
    required: bool = False
    default: Any = None
    choices: tuple = ()
    checks: tuple = ()
    items: tuple = ()
    item_kind: str = "str"
    fields: tuple = ()
    on_change: str = "update"
    replace_fields: tuple = ()
    unordered: bool = False
    case_insensitive: bool = False
    secret: bool = False
    convert: "Callable[[Any], Any] | None" = None
    doc: str = ""

    def __post_init__(self) -> None:
        assert self.kind in TYPES, self.kind
        assert self.on_change in ("update", "replace", "ignore"), self.on_change


Spec = "tuple[Prop, ...]"


# ---------------------------------------------------------------------------------------------
# value checks

_NETBIOS = re.compile(r"^[A-Za-z0-9-]{1,15}$")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_IQN = re.compile(r"^iqn\.\d{4}-\d{2}\.[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[a-z0-9.:-]+)?$")
_EUI = re.compile(r"^eui\.[0-9A-Fa-f]{16}$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([-:]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")
_NAA = re.compile(r"^naa\.[0-9A-Fa-f]{16}([0-9A-Fa-f]{16})?$")
# the target IQN is iqn.1991-05.com.microsoft:<computer>-<name>-target, at most 223 bytes
_TARGET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,173})$")
_PATH = re.compile(r"^[A-Za-z]:\\")
_BAD_PATH_CHARS = set('<>"|?*') | {chr(c) for c in range(32)}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?B?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3,
          "T": 1024**4, "TB": 1024**4, "P": 1024**5, "PB": 1024**5}


def nonempty(v: Any) -> str | None:
    return None if str(v).strip() else "must not be empty"


def length_at_most(n: int) -> Check:
    def check(v: Any) -> str | None:
        return None if len(str(v)) <= n else f"must be at most {n} characters (got {len(str(v))})"
    return check


def netbios_name(v: str) -> str | None:
    """A Windows computer (NetBIOS) name: 1-15 letters, digits or '-', not only digits."""
    if not _NETBIOS.match(v) or v.isdigit() or v.startswith("-"):
        return (f"'{v}' is not a NetBIOS computer name: 1 to 15 letters, digits or '-', not starting with '-' "
                f"and not only digits")
    return None


def dns_name(v: str) -> str | None:
    """A DNS host or domain name (labels of letters, digits, '-', separated by dots)."""
    labels = v.rstrip(".").split(".")
    # (a last label of digits only is no DNS name: "300.1.1.1" is a mistyped address, not a host)
    if len(v) > 253 or not all(_DNS_LABEL.match(label) for label in labels) or (len(labels) > 1 and labels[-1].isdigit()):
        return f"'{v}' is not a DNS name: dot-separated labels of 1-63 letters, digits or '-' (e.g. hyper.local)"
    return None


def iqn(v: str) -> str | None:
    """An iSCSI qualified name: iqn.YYYY-MM.reversed.domain[:suffix] (lower case) or eui.<16 hex>."""
    if len(v) > 223 or not (_IQN.match(v) or _EUI.match(v) or _NAA.match(v)):
        return (f"'{v}' is not an iSCSI name: expected iqn.YYYY-MM.<reversed domain>[:<name>] in lower case "
                f"(e.g. iqn.1991-05.com.microsoft:dc01-cluster-target) or eui.<16 hex digits>")
    return None


def ipv4(v: str) -> str | None:
    try:
        ipaddress.IPv4Address(v)
        return None
    except ValueError:
        return f"'{v}' is not an IPv4 address (e.g. 192.168.10.10)"


def host_address(v: str) -> str | None:
    """A host to connect to: IPv4, IPv6 or DNS name."""
    try:
        ipaddress.ip_address(v)
        return None
    except ValueError:
        return None if dns_name(v) is None else f"'{v}' is not an IP address or DNS name"


def initiator_id(v: str) -> str | None:
    """An iSCSI target InitiatorIds entry: IQN:, DNSName:, IPAddress:, IPv6Address: or MACAddress: form."""
    kind, sep, value = v.partition(":")
    allowed = ("IQN:<iqn>, DNSName:<fqdn>, IPAddress:<ipv4>, IPv6Address:<ipv6> or MACAddress:<aa-bb-cc-dd-ee-ff>"
               " (e.g. DNSName:hv01.hyper.local)")
    k = kind.lower()
    if not sep or not value:
        return f"'{v}' is not an initiator id: use {allowed}"
    if k == "iqn":
        if value == "*":  # any initiator (Windows accepts IQN:*)
            return None
        return None if iqn(value) is None else f"'{v}': {iqn(value)}"
    if k == "dnsname":
        return None if dns_name(value) is None else f"'{v}': {dns_name(value)}"
    if k == "ipaddress":
        return None if ipv4(value) is None else f"'{v}': {ipv4(value)}"
    if k == "ipv6address":
        try:
            ipaddress.IPv6Address(value)
            return None
        except ValueError:
            return f"'{v}': not an IPv6 address"
    if k == "macaddress":
        return None if _MAC.match(value) else f"'{v}': not a MAC address (aa-bb-cc-dd-ee-ff)"
    return f"'{v}' is not an initiator id: use {allowed}"


def normalize_initiator_id(v: str) -> str:
    """Canonical spelling of the kind prefix: the docs' IQN:, DNSName:, IPAddress:, IPv6Address:, MACAddress:.
    Windows takes any case and prints the IdMethod names instead (Iqn:, DnsName:, IpAddress:, ...), so
    what Windows reports is normalized here too and the state stays stable."""
    kind, _, value = v.partition(":")
    canon = {"iqn": "IQN", "dnsname": "DNSName", "ipaddress": "IPAddress", "ipv6address": "IPv6Address",
             "macaddress": "MACAddress"}.get(kind.lower(), kind)
    if canon == "MACAddress":  # Windows prints AA-BB-CC-DD-EE-FF
        digits = re.sub(r"[-:]", "", value).upper()
        value = "-".join(digits[i:i + 2] for i in range(0, len(digits), 2))
    return f"{canon}:{value}"


def iscsi_target_name(v: str) -> str | None:
    """iSCSI Target Server target names become part of the target IQN: letters, digits, '-', '.'."""
    if not _TARGET_NAME.match(v):
        return (f"'{v}' is not a valid iSCSI target name: 1-174 letters, digits, '-' or '.', starting with a "
                f"letter or digit (the name becomes part of the target IQN)")
    return None


def windows_path(v: str) -> str | None:
    """An absolute local Windows path: X:\\dir\\file (no <>\"|?* or control characters)."""
    if not _PATH.match(v) or any(c in _BAD_PATH_CHARS for c in v) or ":" in v[2:] or len(v) > 259:
        return (f"'{v}' is not an absolute Windows path: expected X:\\folder\\file, at most 259 characters, "
                f"without < > \" | ? * or ':' after the drive")
    if v.endswith("\\") or v.endswith(" ") or v.endswith("."):
        return f"'{v}' must name a file: no trailing '\\', space or '.'"
    return None


def vhdx_path(v: str) -> str | None:
    err = windows_path(v)
    if err:
        return err
    return None if v.lower().endswith(".vhdx") else f"'{v}' must end in .vhdx (iSCSI Target Server disks are VHDX files)"


def size_between(lo: int, hi: int) -> Check:
    def check(v: int) -> str | None:
        if not lo <= v <= hi:
            return f"{v} bytes is out of range: allowed {format_size(lo)} to {format_size(hi)}"
        if v % (1024 * 1024):
            return f"{v} bytes is not a whole number of MB (use a multiple of 1MB, e.g. \"10GB\")"
        return None
    return check


def number_between(lo: float, hi: float) -> Check:
    def check(v: float) -> str | None:
        return None if lo <= v <= hi else f"{v} is out of range: allowed {lo} to {hi}"
    return check


def format_size(n: int) -> str:
    for unit in ("PB", "TB", "GB", "MB", "KB"):
        if n >= _UNITS[unit] and n % _UNITS[unit] == 0:
            return f"{n // _UNITS[unit]}{unit}"
    return f"{n}B"


def parse_size(v: Any) -> int | None:
    """Bytes from an int or a string like "10GB" / "512 MB" (powers of 1024, as PowerShell's suffixes)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else None
    if isinstance(v, str):
        m = _SIZE.match(v)
        if m:
            number, unit = float(m.group(1)), m.group(2).upper()
            value = number * _UNITS[unit]
            return int(value) if float(value).is_integer() else None
    return None


_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")


def parse_bool(value: Any) -> bool | None:
    """True/False from a boolean or the strings "true"/"false" (any case, as stack config may hold
    them); None for anything else: "no", "yes", 1, "" are not guessed at (``bool("no")`` is True)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


# ---------------------------------------------------------------------------------------------
# validation

def _type_name(v: Any) -> str:
    return {str: "string", bool: "boolean", int: "number", float: "number", list: "list", dict: "object"}.get(
        type(v), type(v).__name__)


def _coerce(prop: Prop, kind: str, value: Any, path: str, failures: list) -> Any:
    """Check one value's type; return its normalized form (or the value itself after a failure)."""
    if kind == "any":
        return value
    if kind == "str":
        if isinstance(value, str):
            return value
        failures.append(CheckFailure(path, f"must be a string, got {_type_name(value)} '{value}'"))
    elif kind == "bool":
        parsed = parse_bool(value)
        if parsed is not None:
            return parsed
        failures.append(CheckFailure(path, f"must be true or false, got {_type_name(value)} '{value}'"))
    elif kind in ("int", "number"):
        if isinstance(value, str) and _INT_TEXT.match(value):  # stack config may hold "2"; never "two" or "2.5"
            value = int(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if kind == "number":
                return int(value) if isinstance(value, float) and value.is_integer() else value
            if float(value).is_integer():
                return int(value)
        failures.append(CheckFailure(path, f"must be {'a whole number' if kind == 'int' else 'a number'}, "
                                           f"got {_type_name(value)} '{value}'"))
    elif kind == "size":
        n = parse_size(value)
        if n is not None:
            return n
        failures.append(CheckFailure(path, f"must be a size in bytes (a whole number) or a string like \"10GB\" "
                                           f"(KB, MB, GB, TB: powers of 1024), got '{value}'"))
    elif kind == "list":
        if isinstance(value, (list, tuple)):
            out = []
            for i, item in enumerate(value):
                item_path = f"{path}[{i}]"
                if is_unknown(item):
                    out.append(item)
                    continue
                n_before = len(failures)
                item = _coerce(prop, prop.item_kind, item, item_path, failures)
                if len(failures) == n_before:
                    item = _apply_checks(item, prop.items, prop.convert, item_path, failures)
                out.append(item)
            return out
        failures.append(CheckFailure(path, f"must be a list, got {_type_name(value)} '{value}'"))
    elif kind == "dict":
        if isinstance(value, Mapping):
            if prop.fields:
                return _validate(prop.fields, value, failures, prefix=f"{path}.")
            return dict(value)
        failures.append(CheckFailure(path, f"must be an object, got {_type_name(value)}"))
    return value


def _apply_checks(value: Any, checks: Iterable[Check], convert: Callable[[Any], Any] | None, path: str,
                  failures: list) -> Any:
    """The first check that refuses the value is its failure; a value all checks accept is converted."""
    for check in checks:
        reason = check(value)
        if reason:
            failures.append(CheckFailure(path, reason))
            return value
    return convert(value) if convert is not None else value


def _validate(spec: Iterable[Prop], inputs: Mapping[str, Any], failures: list, prefix: str = "",
              ignore: Iterable[str] = ()) -> dict:
    spec = tuple(spec)
    names = {p.name for p in spec}
    out: dict[str, Any] = {}
    ignored = set(ignore)
    for key, value in inputs.items():
        if key in names or key in ignored or key.startswith("__"):
            continue
        if value is None:  # declared outputs are passed to the engine as None placeholders
            continue
        allowed = ", ".join(sorted(names))
        failures.append(CheckFailure(f"{prefix}{key}", f"unknown property; allowed: {allowed}"))
    for prop in spec:
        path = f"{prefix}{prop.name}"
        value = inputs.get(prop.name)
        if value is None:
            if prop.required:
                what = f" ({prop.doc})" if prop.doc else ""
                failures.append(CheckFailure(path, f"is required{what}"))
                continue
            if prop.default is not None:
                value = prop.default() if callable(prop.default) else prop.default
            else:
                out[prop.name] = None
                continue
        if is_unknown(value):
            out[prop.name] = value
            continue
        n_before = len(failures)
        value = _coerce(prop, prop.kind, value, path, failures)
        if len(failures) > n_before:
            out[prop.name] = value
            continue
        if prop.required and prop.kind == "str" and not value.strip():
            what = f" ({prop.doc})" if prop.doc else ""
            failures.append(CheckFailure(path, f"must not be empty{what}"))
            out[prop.name] = value
            continue
        if prop.choices:
            canon = {str(c).lower(): c for c in prop.choices}
            key = str(value).lower()
            if key not in canon:
                failures.append(CheckFailure(path, f"'{value}' is not allowed; choose one of: "
                                                   + ", ".join(str(c) for c in prop.choices)))
                out[prop.name] = value
                continue
            value = canon[key]
        # (a list's convert applies to its items, above)
        value = _apply_checks(value, prop.checks, prop.convert if prop.kind != "list" else None, path, failures)
        out[prop.name] = value
    _mask_secrets(spec, inputs, failures, prefix)
    return out


def _mask_secrets(spec: tuple[Prop, ...], inputs: Mapping[str, Any], failures: list, prefix: str) -> None:
    """A failure of a secret property must not repeat its value (e.g. "got number '1234'")."""
    secrets = {f"{prefix}{p.name}": str(inputs.get(p.name)) for p in spec
               if p.secret and inputs.get(p.name) not in (None, "") and not is_unknown(inputs.get(p.name))}
    for i, failure in enumerate(failures):
        secret = secrets.get(failure.property)
        if secret and secret in failure.reason:
            failures[i] = CheckFailure(failure.property, failure.reason.replace(secret, "********"))


def validate(spec: Iterable[Prop], inputs: Mapping[str, Any], ignore: Iterable[str] = ()) -> tuple[dict, list]:
    """Validate ``inputs`` against ``spec``: returns (normalized inputs with defaults, [CheckFailure]).

    Keys that start with "__" (the engine's ``__provider``) and keys in ``ignore`` (declared outputs)
    pass through untouched; every other undeclared key is a failure.
    """
    failures: list = []
    out = _validate(spec, inputs, failures, ignore=ignore)
    for key, value in inputs.items():
        if key.startswith("__") or (key in set(ignore) and value is not None):
            out[key] = value
    return out, failures


def failures_by_property(failures: Iterable[CheckFailure]) -> dict[str, str]:
    """{property path: reason} of check failures, whether the path is in ``property`` or leads the
    reason as "path: reason" (how ``base.engine_failure`` hands them to the engine)."""
    out: dict[str, str] = {}
    for failure in failures:
        if failure.property:
            out[failure.property] = failure.reason
        else:
            path, _, reason = failure.reason.partition(": ")
            out[path] = reason
    return out


def require_unique(values: list, path: str, case_insensitive: bool = True) -> list:
    """Failures for duplicate list entries (Windows treats names case-insensitively)."""
    seen: set = set()
    failures = []
    for i, v in enumerate(values or []):
        if is_unknown(v):
            continue
        k = v.lower() if case_insensitive and isinstance(v, str) else v
        if k in seen:
            failures.append(CheckFailure(f"{path}[{i}]", f"'{v}' is listed twice"))
        seen.add(k)
    return failures
