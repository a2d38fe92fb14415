"""PowerShell values as Python objects (the contract in docs/DESIGN.md section 4).

Plain values stay plain: str, int, float, bool, None, list (an object[] array),
datetime.datetime (aware, UTC). The classes here cover what has no Python twin:
PSObject (a PSCustomObject or a CIM instance), PSEnum, Hashtable, ScriptBlock,
SecureString, PSCredential, plus a few .NET types scripts touch (ArrayList,
Version, Guid).
"""
from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any, Callable, Mapping

PSCUSTOMOBJECT = "System.Management.Automation.PSCustomObject"


class CaseInsensitiveDict(dict):
    """An insertion-ordered dict whose string keys compare case-insensitively.

    The original spelling of the first insertion is kept (Windows shows it).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._index: dict[Any, Any] = {}
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    @staticmethod
    def _fold(key: Any) -> Any:
        return key.lower() if isinstance(key, str) else key

    def _real(self, key: Any) -> Any:
        return self._index.get(self._fold(key), key)

    def __setitem__(self, key: Any, value: Any) -> None:
        folded = self._fold(key)
        if folded in self._index:
            key = self._index[folded]
        else:
            self._index[folded] = key
        super().__setitem__(key, value)

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._real(key))

    def __delitem__(self, key: Any) -> None:
        real = self._real(key)
        super().__delitem__(real)
        del self._index[self._fold(key)]

    def __contains__(self, key: object) -> bool:
        return self._fold(key) in self._index

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._real(key), default)

    def pop(self, key: Any, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = self[key]
        del self[key]
        return value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def clear(self) -> None:
        super().clear()
        self._index.clear()

    def copy(self) -> "CaseInsensitiveDict":
        return type(self)(self)


class Hashtable(CaseInsensitiveDict):
    """@{...}: case-insensitive keys, insertion ordered (also serves [ordered])."""

    def __init__(self, *args: Any, ordered: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ordered = ordered

    def copy(self) -> "Hashtable":
        return Hashtable(self, ordered=self.ordered)

    @property
    def type_name(self) -> str:
        return ("System.Collections.Specialized.OrderedDictionary" if self.ordered
                else "System.Collections.Hashtable")


class PSObject:
    """A PSCustomObject or an emulated .NET/CIM object: ordered, case-insensitive properties."""

    def __init__(self, props: Mapping[str, Any] | None = None,
                 type_name: str = PSCUSTOMOBJECT,
                 methods: Mapping[str, Callable] | None = None) -> None:
        self.props: CaseInsensitiveDict = CaseInsensitiveDict(props or {})
        self.type_names: list[str] = [type_name]
        if type_name != "System.Object":
            self.type_names.append("System.Object")
        self.methods: CaseInsensitiveDict = CaseInsensitiveDict(methods or {})

    @property
    def type_name(self) -> str:
        return self.type_names[0]

    def get_prop(self, name: str, default: Any = None) -> Any:
        return self.props.get(name, default)

    def has_prop(self, name: str) -> bool:
        return name in self.props

    def set_prop(self, name: str, value: Any) -> None:
        self.props[name] = value

    def __repr__(self) -> str:
        return f"PSObject({self.type_name}, {dict(self.props)!r})"

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__


class PSEnum:
    """An enum value: prints as its name, compares to its name (case-insensitive) or value."""

    def __init__(self, type_name: str, name: str, value: int) -> None:
        self.type_name = type_name
        self.name = name
        self.value = value

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"PSEnum({self.type_name}, {self.name}, {self.value})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PSEnum):
            return self.value == other.value and self.type_name == other.type_name
        if isinstance(other, str):
            return other.lower() == self.name.lower()
        if isinstance(other, int) and not isinstance(other, bool):
            return other == self.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.type_name, self.value))

    def __int__(self) -> int:
        return self.value


class ScriptBlock:
    """A parsed script block. The interpreter runs it (runner.invoke_scriptblock)."""

    def __init__(self, node: Any, source: "Any", text: str, scope: Any = None,
                 is_script: bool = False) -> None:
        self.node = node          # tree-sitter node: script_block_expression / program
        self.source = source      # hvsim.powershell.parser.Source (text + lines)
        self.text = text          # the text between the braces (what ToString() gives)
        self.scope = scope        # defining scope (for $using:)
        self.is_script = is_script

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"ScriptBlock({self.text[:40]!r})"


class SecureString:
    """Holds the plain text; never prints it."""

    def __init__(self, plain: str) -> None:
        self._plain = plain

    def reveal(self) -> str:
        return self._plain

    @property
    def Length(self) -> int:  # noqa: N802  (the .NET property name)
        return len(self._plain)

    def __str__(self) -> str:
        return "System.Security.SecureString"

    def __repr__(self) -> str:
        return "SecureString(***)"


class PSCredential(PSObject):
    """System.Management.Automation.PSCredential: UserName, Password (SecureString)."""

    def __init__(self, user_name: str, password: SecureString | str) -> None:
        if isinstance(password, str):
            password = SecureString(password)
        super().__init__({"UserName": user_name, "Password": password},
                         type_name="System.Management.Automation.PSCredential",
                         methods={"GetNetworkCredential": self._network_credential})

    @property
    def user_name(self) -> str:
        return self.props["UserName"]

    @property
    def password(self) -> str:
        return self.props["Password"].reveal()

    def _network_credential(self) -> PSObject:
        user = self.user_name
        domain = ""
        if "\\" in user:
            domain, user = user.split("\\", 1)
        elif "@" in user:
            user, domain = user.split("@", 1)
        return PSObject({"UserName": user, "Password": self.password, "SecurePassword": self.props["Password"],
                         "Domain": domain}, type_name="System.Net.NetworkCredential")

    def __repr__(self) -> str:
        return f"PSCredential({self.user_name!r}, ***)"


class ArrayList(list):
    """System.Collections.ArrayList / Generic.List[T]: a growable list (Add returns the index)."""

    def __init__(self, items: Any = (), type_name: str = "System.Collections.ArrayList") -> None:
        super().__init__(items)
        self.type_name = type_name


class Version:
    """System.Version: Major.Minor[.Build[.Revision]]."""

    def __init__(self, text: str) -> None:
        parts = [int(p) for p in str(text).strip().split(".")]
        if not 2 <= len(parts) <= 4:
            raise ValueError(f"invalid version {text!r}")
        self.parts = parts

    def _get(self, i: int) -> int:
        return self.parts[i] if i < len(self.parts) else -1

    Major = property(lambda self: self._get(0))
    Minor = property(lambda self: self._get(1))
    Build = property(lambda self: self._get(2))
    Revision = property(lambda self: self._get(3))

    def _key(self) -> tuple:
        return tuple(self._get(i) for i in range(4))

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.parts)

    def __repr__(self) -> str:
        return f"Version({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: "Version") -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class Guid:
    """System.Guid."""

    def __init__(self, value: str | uuid.UUID | None = None) -> None:
        self.value = uuid.uuid4() if value is None else uuid.UUID(str(value))

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return f"Guid({self.value})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Guid):
            return self.value == other.value
        if isinstance(other, str):
            try:
                return uuid.UUID(other) == self.value
            except ValueError:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)


class NetInt(int):
    """An integer that remembers its .NET type where it is not Int32 ([long] 5, a UInt32 CIM property).

    Plain Python ints stay Int32 (Int64 past Int32's range); GetType(), -is and the binder read the type
    from here. Arithmetic gives plain ints (the operators re-wrap where PowerShell widens)."""

    net_type = "System.Int32"
    bounds = (-2**31, 2**31 - 1)


def _net_int(name: str, bits: int, signed: bool) -> type:
    lo, hi = ((-2**(bits - 1), 2**(bits - 1) - 1) if signed else (0, 2**bits - 1))
    return type(name, (NetInt,), {"net_type": f"System.{name}", "bounds": (lo, hi)})


Int64 = _net_int("Int64", 64, True)
UInt64 = _net_int("UInt64", 64, False)
UInt32 = _net_int("UInt32", 32, False)
Int16 = _net_int("Int16", 16, True)
UInt16 = _net_int("UInt16", 16, False)
Byte = _net_int("Byte", 8, False)
SByte = _net_int("SByte", 8, True)
NET_INTS: dict[str, type] = {t.__name__: t for t in (Int64, UInt64, UInt32, Int16, UInt16, Byte, SByte)}


def typed_int(value: int, type_short: str) -> int:
    """value as the .NET integer type named by its short name ('Int64', 'UInt32'; 'Int32' -> plain int)."""
    cls = NET_INTS.get(type_short)
    return int(value) if cls is None else cls(int(value))


class TypedArray(list):
    """A typed .NET array such as String[] ([string[]] casts, String[] parameters); Object[] is a plain list."""

    def __init__(self, items: Any = (), type_name: str = "System.String[]") -> None:
        super().__init__(items)
        self.type_name = type_name


def is_collection(value: Any) -> bool:
    """What PowerShell enumerates in a pipeline (arrays, lists); not strings, not hashtables."""
    return isinstance(value, (list, tuple, bytes, bytearray))


class DisplayDateTime(_dt.datetime):
    """A DateTime as Get-Date returns it: wrapped in a PSObject with the DisplayHint note property.

    It behaves as a datetime everywhere; only ConvertTo-Json shows the wrapper, like Windows
    PowerShell 5.1 does ({"value": "\\/Date(..)\\/", "DisplayHint": 2, "DateTime": "..."}).
    Arithmetic and methods return plain datetimes.
    """

    display_hint = 2      # Microsoft.PowerShell.Commands.DisplayHintType.DateTime

    @classmethod
    def wrap(cls, value: _dt.datetime) -> "DisplayDateTime":
        return cls(value.year, value.month, value.day, value.hour, value.minute, value.second,
                   value.microsecond, value.tzinfo)


def plain_datetime(value: _dt.datetime) -> _dt.datetime:
    """A DisplayDateTime as the bare DateTime (what methods and arithmetic return)."""
    if type(value) is _dt.datetime:
        return value
    return _dt.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                        value.microsecond, value.tzinfo)


def net_type_name(value: Any) -> str:
    """$value.GetType().FullName ('' for $null; a CIM instance is plain ...CimInstance here).

    The one mapping from Python values to .NET type names: the interpreter, error records
    (errors.ps_type_of) and the cmdlet binder's messages derive theirs from it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, NetInt):
        return value.net_type
    if isinstance(value, int):
        return "System.Int32" if -2**31 <= value < 2**31 else "System.Int64"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, (ArrayList, TypedArray)):
        return value.type_name
    if isinstance(value, (bytes, bytearray)):
        return "System.Byte[]"
    if isinstance(value, list):
        return "System.Object[]"
    if isinstance(value, _dt.datetime):
        return "System.DateTime"
    if isinstance(value, _dt.timedelta):
        return "System.TimeSpan"
    if isinstance(value, Hashtable):
        return value.type_name
    if isinstance(value, PSEnum):
        return value.type_name
    if isinstance(value, ScriptBlock):
        return "System.Management.Automation.ScriptBlock"
    if isinstance(value, SecureString):
        return "System.Security.SecureString"
    if isinstance(value, Version):
        return "System.Version"
    if isinstance(value, Guid):
        return "System.Guid"
    if isinstance(value, PSObject):
        name = value.type_name
        return "Microsoft.Management.Infrastructure.CimInstance" if "#" in name else name
    return getattr(value, "type_name", "System.Object")
