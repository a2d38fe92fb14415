"""Parameter binding against the catalog, the way Windows PowerShell 5.1 binds a cmdlet's arguments.

Order (as in PowerShell's ParameterBinderController): named arguments (exact name, alias, unique
prefix), then positional arguments in the parameter set that can take them, then per pipeline
record ByValue (no coercion), ByPropertyName, ByValue with coercion; then mandatory parameters and
the parameter set. Error texts and ids are Windows' own.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..powershell.values import PSEnum, PSObject, ScriptBlock, TypedArray, net_type_name, typed_int

if TYPE_CHECKING:
    from .registry import Arg, CmdletInfo

ALL_SETS = "__AllParameterSets"

# Common parameters: canonical name -> (type, aliases)
COMMON_PARAMETERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Verbose": ("SwitchParameter", ("vb",)),
    "Debug": ("SwitchParameter", ("db",)),
    "ErrorAction": ("ActionPreference", ("ea",)),
    "WarningAction": ("ActionPreference", ("wa",)),
    "InformationAction": ("ActionPreference", ("infa",)),
    "ErrorVariable": ("String", ("ev",)),
    "WarningVariable": ("String", ("wv",)),
    "InformationVariable": ("String", ("iv",)),
    "OutVariable": ("String", ("ov",)),
    "OutBuffer": ("Int32", ("ob",)),
    "PipelineVariable": ("String", ("pv",)),
}
SHOULD_PROCESS_PARAMETERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "WhatIf": ("SwitchParameter", ("wi",)),
    "Confirm": ("SwitchParameter", ("cf",)),
}
ACTION_PREFERENCE = ["SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"]

_INT_RANGES = {
    "Byte": (0, 2**8 - 1), "SByte": (-2**7, 2**7 - 1), "Int16": (-2**15, 2**15 - 1), "UInt16": (0, 2**16 - 1),
    "Int32": (-2**31, 2**31 - 1), "UInt32": (0, 2**32 - 1), "Int64": (-2**63, 2**63 - 1), "UInt64": (0, 2**64 - 1),
}
_FLOATS = {"Double", "Single", "Decimal"}
_SUFFIX = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}
# Types whose values the binder passes through untouched (objects the cmdlet inspects itself).
_PASS_THROUGH = {"Object", "PSObject", "CimInstance", "CimSession", "Hashtable", "IDictionary", "PSSession",
                 "Uri", "TimeSpan", "Version", "Guid", "XmlElement", "PSSessionOption", "JoinOptions"}
# Catalog types the binder converts like a simpler one (their .NET types convert from strings).
TYPE_EQUIVALENTS = {"StringCollection": "String[]", "InitiatorId": "String", "InitiatorId[]": "String[]",
                    "Iqn": "String", "Feature[]": "String[]", "Guid": "String", "Guid[]": "String[]"}


class _Unconvertible(Exception):
    pass


def short_type(t: str) -> str:
    """'System.Management.Automation.Runspaces.AuthenticationMechanism' -> 'AuthenticationMechanism'."""
    base = t[:-2] if t.endswith("[]") else t
    return base.rsplit(".", 1)[-1]


def full_type(t: str) -> str:
    """The .NET name Windows prints in binding errors ('String' -> 'System.String')."""
    base = short_type(t)
    arr = "[]" if t.endswith("[]") else ""
    if base in _INT_RANGES or base in _FLOATS or base in ("String", "Boolean", "Object", "Char", "DateTime"):
        return f"System.{base}{arr}"
    if base in ("SwitchParameter", "PSCredential", "ScriptBlock", "PSObject"):
        return f"System.Management.Automation.{base}{arr}"
    if base == "CimInstance":
        return f"Microsoft.Management.Infrastructure.CimInstance{arr}"
    return t


@dataclass
class ParamSpec:
    name: str
    type: str
    aliases: list[str]
    accepted_values: list[str]
    sets: dict[str, dict]          # set name -> {mandatory, position, value_from_pipeline, ..._by_property_name}
    common: bool = False
    catalog_type: str = ""         # the documented type when `type` is a simpler equivalent (Feature[] -> String[])

    @property
    def is_switch(self) -> bool:
        return short_type(self.type) == "SwitchParameter"

    @property
    def is_array(self) -> bool:
        return self.type.endswith("[]")


class BoundParameters(dict):
    """Canonical parameter name -> converted value; lookups are case-insensitive.

    .parameter_set: the resolved parameter set; .common: common parameters (ErrorAction, Verbose,
    WhatIf, ...) by canonical name; .pipeline: names bound from the current pipeline record."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parameter_set: str = ALL_SETS
        self.common: dict[str, Any] = {}
        self.pipeline: list[str] = []

    def _key(self, name: str) -> str | None:
        if dict.__contains__(self, name):
            return name
        low = str(name).lower()
        for k in self.keys():
            if k.lower() == low:
                return k
        return None

    def __getitem__(self, name: str) -> Any:
        k = self._key(name)
        if k is None:
            raise KeyError(name)
        return dict.__getitem__(self, k)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        k = self._key(name)
        return default if k is None else dict.__getitem__(self, k)

    def switch(self, name: str) -> bool:
        """True when a switch (or Boolean) parameter was given as true."""
        return bool(self.get(name, False))

    def copy(self) -> "BoundParameters":
        out = BoundParameters(self)
        out.parameter_set = self.parameter_set
        out.common = dict(self.common)
        out.pipeline = list(self.pipeline)
        return out


@dataclass
class Partial:
    """The result of binding the command line (before any pipeline record)."""
    bound: BoundParameters
    candidates: list[str]
    specs: dict[str, ParamSpec] = field(default_factory=dict)


def _registry():
    from . import registry   # the error classes live there; imported late (registry imports this module)
    return registry


def binding_error(info: "CmdletInfo", message: str, error_id: str, target: Any = None,
                  category: str = "InvalidArgument") -> Exception:
    reg = _registry()
    return reg.ParameterBindingError(message, f"{error_id},{info.implementing_type}", category=category,
                                     target=target)


# --------------------------------------------------------------------------- name resolution
def param_specs(info: "CmdletInfo") -> dict[str, ParamSpec]:
    specs = {}
    for name, p in info.spec.get("parameters", {}).items():
        t = p.get("type", "Object")
        specs[name] = ParamSpec(name, TYPE_EQUIVALENTS.get(t, t), list(p.get("aliases", [])),
                                list(p.get("accepted_values", [])), dict(p.get("sets", {})), catalog_type=t)
    common = dict(COMMON_PARAMETERS)
    if info.supports_should_process:
        common.update(SHOULD_PROCESS_PARAMETERS)
    for name, (t, aliases) in common.items():
        if name not in specs:
            specs[name] = ParamSpec(name, t, list(aliases), ACTION_PREFERENCE if t == "ActionPreference" else [],
                                    {}, common=True)
    return specs


def resolve_name(info: "CmdletInfo", specs: dict[str, ParamSpec], typed: str) -> ParamSpec:
    low = typed.lower()
    for spec in specs.values():
        if spec.name.lower() == low or any(a.lower() == low for a in spec.aliases):
            return spec
    matches = [s for s in specs.values()
               if s.name.lower().startswith(low) or any(a.lower().startswith(low) for a in s.aliases)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise binding_error(info, f"A parameter cannot be found that matches parameter name '{typed}'.",
                            "NamedParameterNotFound")
    names = " ".join(f"-{s.name}" for s in matches)
    raise binding_error(info, f"Parameter cannot be processed because the parameter name '{typed}' is ambiguous. "
                              f"Possible matches include: {names}.", "AmbiguousParameter")


# --------------------------------------------------------------------------- type conversion
def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return "System.Object[]"
    if isinstance(value, PSObject):
        return str(value.type_name)
    return str(value)


def _type_of(value: Any) -> str:
    """The .NET type name binding errors print: a CIM instance keeps its class (...CimInstance#ROOT/...)."""
    if isinstance(value, PSObject):
        return value.type_name
    return net_type_name(value)


def _is_enum(value: Any) -> bool:
    return isinstance(value, PSEnum)


def _to_int(value: Any, base: str) -> int:
    if _is_enum(value):
        value = value.value
    if isinstance(value, bool):
        n = int(value)
    elif isinstance(value, int):
        n = value
    elif isinstance(value, float):
        n = round(value)
    elif isinstance(value, str):
        text = value.strip().replace("_", "")
        m = re.fullmatch(r"([+-]?)(0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(kb|mb|gb|tb|pb)?", text, re.I)
        if not m:
            raise _Unconvertible("Input string was not in a correct format.")
        num = m.group(2)
        n = int(num, 16) if num.lower().startswith("0x") else (round(float(num)) if re.search(r"[.eE]", num) else int(num))
        if m.group(3):
            n *= _SUFFIX[m.group(3).lower()]
        if m.group(1) == "-":
            n = -n
    else:
        raise _Unconvertible("")
    lo, hi = _INT_RANGES[base]
    if not lo <= n <= hi:
        # .NET's OverflowException text: "an Int32", "a UInt32"
        raise _Unconvertible(f"Value was either too large or too small for a{'n' if base[0] == 'I' else ''} {base}.")
    return typed_int(n, base)     # the value keeps its .NET type (GetType(), -is, ConvertTo-Json)


def convert(info: "CmdletInfo", spec: ParamSpec, value: Any) -> Any:
    """Convert an argument to the parameter's type, raising Windows' binding errors."""
    if spec.is_array:
        items = value if isinstance(value, list) else [value]
        if value is None:
            return None
        converted = [_convert_one(info, spec, v, element=True) for v in items]
        if short_type(spec.type) == "String":
            return TypedArray(converted, type_name="System.String[]")
        return converted
    if isinstance(value, list) and short_type(spec.type) not in _PASS_THROUGH and not spec.is_switch:
        if len(value) == 1:
            value = value[0]
        else:
            raise binding_error(
                info, f"Cannot convert '{_type_of(value)}' to the type '{full_type(spec.type)}' required by parameter "
                      f"'{spec.name}'. Specified method is not supported.", "CannotConvertArgument", target=value)
    return _convert_one(info, spec, value)


def _convert_one(info: "CmdletInfo", spec: ParamSpec, value: Any, element: bool = False) -> Any:
    base = short_type(spec.type)
    target = full_type(base)
    try:
        if base == "SwitchParameter":
            if _is_enum(value):
                return bool(value.value)
            return bool(value) if not isinstance(value, list) else len(value) > 0
        if base == "Boolean":
            if isinstance(value, bool) or value is None:
                return bool(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value != 0
            raise binding_error(
                info, f"Cannot process argument transformation on parameter '{spec.name}'. Cannot convert value "
                      f"\"{_type_of(value)}\" to type \"System.Boolean\". Boolean parameters accept only Boolean values "
                      f"and numbers, such as $True, $False, 1 or 0.", "ParameterArgumentTransformationError", target=value)
        if base in _INT_RANGES:
            if value is None:
                return 0
            return _to_int(value, base)
        if base in _FLOATS:
            if value is None:
                return 0.0
            try:
                return float(value.value if _is_enum(value) else value)
            except (TypeError, ValueError):
                raise _Unconvertible("Input string was not in a correct format.")
        if base in ("String", "Char"):
            if spec.catalog_type and _has_type(value, short_type(spec.catalog_type)):
                value = value.get_prop("Name")    # a Feature object given for a Feature[] parameter
            if value is None:
                text = ""
            elif isinstance(value, bool):
                text = "True" if value else "False"
            else:
                text = str(value)
            return _validate_set(info, spec, text) if spec.accepted_values else text
        if base == "ActionPreference" or (spec.accepted_values and base not in _PASS_THROUGH):
            return _enum(info, spec, value, base)
        if base == "ScriptBlock":
            if not isinstance(value, ScriptBlock):
                raise binding_error(
                    info, f"Cannot bind parameter '{spec.name}'. Cannot convert the \"{_describe(value)}\" value of type "
                          f"\"{_type_of(value)}\" to type \"System.Management.Automation.ScriptBlock\".",
                    "CannotConvertArgumentNoMessage", target=value)
            return value
        if base == "CimInstance" and value is not None and not _is_cim(value):
            # a CimInstance parameter takes CIM objects only (no silent "matches nothing" for a string)
            raise binding_error(
                info, f"Cannot bind parameter '{spec.name}'. Cannot convert the \"{_describe(value)}\" value of type "
                      f"\"{_type_of(value)}\" to type \"{target}\".", "CannotConvertArgumentNoMessage", target=value)
        if base == "DateTime":
            if isinstance(value, str):
                try:
                    return _dt.datetime.fromisoformat(value)
                except ValueError:
                    raise _Unconvertible("String was not recognized as a valid DateTime.")
            return value
        return value
    except _Unconvertible as exc:
        detail = f" Error: \"{exc.args[0]}\"" if exc.args and exc.args[0] else ""
        raise binding_error(
            info, f"Cannot bind parameter '{spec.name}'. Cannot convert value \"{_describe(value)}\" to type "
                  f"\"{target}\".{detail}", "CannotConvertArgumentNoMessage", target=value) from None


def _validate_set(info: "CmdletInfo", spec: ParamSpec, text: str) -> str:
    for v in spec.accepted_values:
        if v.lower() == text.lower():
            return v
    allowed = ",".join(spec.accepted_values)
    raise binding_error(
        info, f"Cannot validate argument on parameter '{spec.name}'. The argument \"{text}\" does not belong to the set "
              f"\"{allowed}\" specified by the ValidateSet attribute. Supply an argument that is in the set and then "
              f"try the command again.", "ParameterArgumentValidationError", target=text)


def _enum(info: "CmdletInfo", spec: ParamSpec, value: Any, base: str) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value.name if _is_enum(value) else value)
    parts = [t.strip() for t in text.split(",")] if "," in text else [text]
    out = []
    for part in parts:
        for v in spec.accepted_values:
            if v.lower() == part.lower():
                out.append(v)
                break
        else:
            names = ", ".join(spec.accepted_values)
            raise binding_error(
                info, f"Cannot bind parameter '{spec.name}'. Cannot convert value \"{text}\" to type \"{full_type(spec.type)}\". "
                      f"Error: \"Unable to match the identifier name {text} to a valid enumerator name. Specify one of "
                      f"the following enumerator names and try again:\n{names}\"", "CannotConvertArgumentNoMessage",
                target=value)
    return ",".join(out)


# --------------------------------------------------------------------------- binding
def _sets_of(info: "CmdletInfo") -> list[str]:
    return list(info.spec.get("parameter_sets") or [ALL_SETS])


def _in_set(spec: ParamSpec, set_name: str) -> bool:
    return spec.common or set_name in spec.sets


def bind_command_line(info: "CmdletInfo", args: list["Arg"]) -> Partial:
    """Bind named and positional arguments; returns the bound values and the candidate sets."""
    specs = param_specs(info)
    bound = BoundParameters()
    positional: list[Any] = []
    for arg in args:
        if arg.name is None:
            positional.append(arg.value)
            continue
        spec = resolve_name(info, specs, arg.name)
        if spec.name in bound or spec.name in bound.common:
            raise binding_error(
                info, f"Cannot bind parameter because parameter '{spec.name}' is specified more than once. To provide "
                      f"multiple values to parameters that can accept multiple values, use the array syntax. For "
                      f"example, \"-parameter value1,value2,value3\".", "ParameterAlreadyBound")
        if arg.switch and not spec.is_switch:
            raise binding_error(
                info, f"Missing an argument for parameter '{spec.name}'. Specify a parameter of type "
                      f"'{full_type(spec.type)}' and try again.", "MissingArgument")
        value = convert(info, spec, arg.value)
        if spec.common:
            bound.common[spec.name] = value
        else:
            _check_not_null(info, spec, arg.value, bound_sets=None)
            bound[spec.name] = value
    sets = _sets_of(info)
    candidates = [s for s in sets if all(_in_set(specs[n], s) for n in bound)]
    if not candidates:
        raise binding_error(info, "Parameter set cannot be resolved using the specified named parameters.",
                            "AmbiguousParameterSet")
    if positional:
        # Default set first; among sets that can take every argument, prefer the one whose parameters
        # take the values without conversion (a ScriptBlock goes to -ScriptBlock, not -FilePath).
        order = sorted(candidates, key=lambda s: (s != info.default_parameter_set, sets.index(s)))
        options = []
        for rank, s in enumerate(order):
            slots = sorted((spec.sets[s]["position"], spec.name) for spec in specs.values()
                           if not spec.common and s in spec.sets and spec.sets[s].get("position") is not None
                           and spec.name not in bound)
            if len(slots) < len(positional):
                continue
            natural = converts = 0
            for value, (_, name) in zip(positional, slots):
                natural += _natural(specs[name], value)
                try:
                    convert(info, specs[name], value)
                    converts += 1
                except Exception:
                    pass
            options.append((converts == len(positional), natural, -rank, s, slots))
        chosen = max(options)[3:] if options else None
        if chosen is None:
            # The first argument no set can take is the one Windows names.
            most = max((len([1 for spec in specs.values() if not spec.common and s in spec.sets
                             and spec.sets[s].get("position") is not None and spec.name not in bound])
                        for s in candidates), default=0)
            extra = positional[min(most, len(positional) - 1)]
            raise binding_error(info, f"A positional parameter cannot be found that accepts argument '{_describe(extra)}'.",
                                "PositionalParameterNotFound", target=extra)
        _, slots = chosen
        for value, (_, name) in zip(positional, slots):
            spec = specs[name]
            _check_not_null(info, spec, value, bound_sets=None)
            bound[name] = convert(info, spec, value)
        candidates = [s for s in candidates if all(_in_set(specs[n], s) for n in bound)]
    return Partial(bound, candidates, specs)


def _check_not_null(info: "CmdletInfo", spec: ParamSpec, value: Any, bound_sets: list[str] | None) -> None:
    """Mandatory parameters refuse $null and '' (ParameterArgumentValidationErrorNullNotAllowed)."""
    mandatory_everywhere = spec.sets and all(v.get("mandatory") for v in spec.sets.values())
    if not mandatory_everywhere or spec.is_switch:
        return
    if value is None:
        raise binding_error(info, f"Cannot bind argument to parameter '{spec.name}' because it is null.",
                            "ParameterArgumentValidationErrorNullNotAllowed", category="InvalidData")
    if value == "" and short_type(spec.type) == "String":
        raise binding_error(info, f"Cannot bind argument to parameter '{spec.name}' because it is an empty string.",
                            "ParameterArgumentValidationErrorEmptyStringNotAllowed", category="InvalidData")


def _coercible(spec: ParamSpec) -> bool:
    base = short_type(spec.type)
    return base in ("String", "Char", "Boolean", "SwitchParameter", "Object", "PSObject") or base in _INT_RANGES \
        or base in _FLOATS


def _has_type(value: Any, base: str) -> bool:
    names = [str(n) for n in getattr(value, "type_names", [])]
    return any(short_type(n.split("#")[0]) == base or n.endswith("#" + base) for n in names)


def _is_cim(value: Any) -> bool:
    return any(str(n).startswith("Microsoft.Management.Infrastructure.CimInstance")
               for n in getattr(value, "type_names", []))


def _natural(spec: ParamSpec, record: Any) -> bool:
    """Does the record already have the parameter's type (ByValue without coercion)?"""
    base = short_type(spec.type)
    if spec.catalog_type and _has_type(record, short_type(spec.catalog_type)):
        return True
    if base in ("Object", "PSObject"):
        return True
    if base in ("String", "Char"):
        return isinstance(record, str)
    if base in _INT_RANGES:
        return isinstance(record, int) and not isinstance(record, bool)
    if base == "Boolean" or base == "SwitchParameter":
        return isinstance(record, bool)
    if base == "ScriptBlock":
        return isinstance(record, ScriptBlock)
    if base == "CimInstance":
        return _is_cim(record)
    names = [str(n) for n in getattr(record, "type_names", [])]
    return any(short_type(n.split("#")[0]) == base or n.endswith("#" + base) for n in names)


def _record_prop(record: Any, spec: ParamSpec) -> tuple[bool, Any]:
    props = getattr(record, "props", None)
    if props is None and isinstance(record, dict):
        props = record
    if props is None:
        return False, None
    for key in [spec.name, *spec.aliases]:
        if key in props:
            return True, props[key]
        for k in props:
            if isinstance(k, str) and k.lower() == key.lower():
                return True, props[k]
    return False, None


def bind_pipeline_record(info: "CmdletInfo", partial: Partial, record: Any) -> BoundParameters:
    bound = partial.bound.copy()
    specs = partial.specs
    candidates = list(partial.candidates)

    def pipeline_params(flag: str) -> list[ParamSpec]:
        return [s for s in specs.values() if not s.common and s.name not in bound
                and any(c in s.sets and s.sets[c].get(flag) for c in candidates)]

    def bind_by_value(spec: ParamSpec) -> None:
        nonlocal candidates
        bound[spec.name] = convert(info, spec, record)
        bound.pipeline.append(spec.name)
        candidates = [c for c in candidates if c in spec.sets and spec.sets[c].get("value_from_pipeline")]

    bound_any = False
    # 1. ByValue without coercion, 2. ByPropertyName, 3. ByValue with coercion.
    for spec in pipeline_params("value_from_pipeline"):
        if _natural(spec, record) or (spec.is_array and isinstance(record, list)):
            bind_by_value(spec)
            bound_any = True
            break
    for spec in pipeline_params("value_from_pipeline_by_property_name"):
        found, value = _record_prop(record, spec)
        if not found:
            continue
        sets_ok = [c for c in candidates if c in spec.sets and spec.sets[c].get("value_from_pipeline_by_property_name")]
        if not sets_ok:
            continue
        try:
            bound[spec.name] = convert(info, spec, value)
        except _registry().ParameterBindingError:    # this property does not convert: try the next parameter
            continue
        bound.pipeline.append(spec.name)
        candidates = sets_ok
        bound_any = True
    if not bound_any:
        for spec in pipeline_params("value_from_pipeline"):
            # Coercion makes strings and numbers out of a record, never a CimInstance or a typed object.
            if not _coercible(spec) or spec.name in bound:
                continue
            try:
                bind_by_value(spec)
            except _registry().ParameterBindingError:
                continue
            bound_any = True
            break
    if not bound_any:
        raise binding_error(
            info, "The input object cannot be bound to any parameters for the command either because the command "
                  "does not take pipeline input or the input and its properties do not match any of the parameters "
                  "that take pipeline input.", "InputObjectNotBound", target=record)
    return finish(info, Partial(bound, candidates, specs))


def finish(info: "CmdletInfo", partial: Partial) -> BoundParameters:
    """Check mandatory parameters and pick the parameter set."""
    bound, specs = partial.bound, partial.specs
    candidates = [c for c in partial.candidates if all(_in_set(specs[n], c) for n in bound)]
    if not candidates:
        raise binding_error(info, "Parameter set cannot be resolved using the specified named parameters.",
                            "AmbiguousParameterSet")

    def missing(set_name: str) -> list[str]:
        return [s.name for s in specs.values() if not s.common and set_name in s.sets
                and s.sets[set_name].get("mandatory") and s.name not in bound]

    satisfied = [c for c in candidates if not missing(c)]
    default = info.default_parameter_set
    if len(satisfied) == 1:
        chosen = satisfied[0]
    elif satisfied:
        if default in satisfied:
            chosen = default
        else:
            # Prefer the set in which the most of the bound parameters are specific to it.
            def score(c: str) -> tuple[int, int]:
                own = sum(1 for n in bound if len(specs[n].sets) < len(_sets_of(info)) and c in specs[n].sets)
                return own, -len(specs)
            ranked = sorted(satisfied, key=score, reverse=True)
            if len(ranked) > 1 and score(ranked[0]) == score(ranked[1]):
                raise binding_error(info, "Parameter set cannot be resolved using the specified named parameters.",
                                    "AmbiguousParameterSet")
            chosen = ranked[0]
    else:
        if default in candidates:
            chosen = default
        elif len(candidates) == 1:
            chosen = candidates[0]
        else:
            raise binding_error(info, "Parameter set cannot be resolved using the specified named parameters.",
                                "AmbiguousParameterSet")
        names = " ".join(missing(chosen))
        raise binding_error(info, f"Cannot process command because of one or more missing mandatory parameters: {names}.",
                            "MissingMandatoryParameter")
    bound.parameter_set = chosen
    return bound
