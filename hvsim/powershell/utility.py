"""The utility cmdlets the interpreter implements itself (Microsoft.PowerShell.Utility and friends).

Each is declared with its parameters (name, switch or not, position, aliases) and bound by one
binder that gives Windows' errors for an unknown or ambiguous parameter. Module cmdlets
(Get-Disk, New-Cluster, ...) live in hvsim.cmdlets and are reached through the registry.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any, Callable

from . import members
from .conversions import canonical_type, convert_to, to_int, to_number, to_string, truthy
from .errors import ErrorRecord, PSError, ps_type_of
from .formatting import out_string
from .jsonconv import convert_from_json, convert_to_json
from .operators import compare, sort_key_compare
from .values import (ArrayList, Hashtable, PSCredential, PSObject, ScriptBlock, SecureString, is_collection)

if TYPE_CHECKING:  # pragma: no cover
    from .interpreter import Interpreter, Token

UNSET = object()


@dataclass
class P:
    name: str
    switch: bool = False
    position: int | None = None
    aliases: tuple = ()
    remaining: bool = False      # ValueFromRemainingArguments


@dataclass
class Utility:
    name: str
    fn: Callable
    params: list
    class_name: str
    prefer_registry: bool = False
    aliases: tuple = ()
    lookup: dict = field(default_factory=dict)

    def invoke(self, interp: "Interpreter", tokens: list, input_items: list | None) -> list:
        bound = bind(self, tokens)
        interp.command_stack.append(self.name)
        try:
            return list(self.fn(interp, bound, input_items) or [])
        finally:
            interp.command_stack.pop()


UTILITIES: dict[str, Utility] = {}
_COMMON = {"erroraction", "ea", "warningaction", "wa", "errorvariable", "ev", "warningvariable", "wv",
           "outvariable", "ov", "verbose", "vb", "debug", "db", "informationaction", "infa",
           "informationvariable", "iv", "outbuffer", "ob", "pipelinevariable", "pv", "whatif", "wi", "confirm", "cf"}
_COMMON_SWITCH = {"verbose", "vb", "debug", "db", "whatif", "wi", "confirm", "cf"}


def utility(name: str, *params: P, aliases: tuple = (), class_name: str = "", prefer_registry: bool = False):
    def register(fn: Callable) -> Callable:
        cls = class_name or "Microsoft.PowerShell.Commands." + name.replace("-", "") + "Command"
        util = Utility(name, fn, list(params), cls, prefer_registry, aliases)
        for key in (name.lower(),) + tuple(a.lower() for a in aliases):
            UTILITIES[key] = util
        return fn
    return register


def binding_error(util: Utility, message: str, error_id: str, target: Any = None,
                  category: str = "InvalidArgument") -> PSError:
    return PSError(ErrorRecord(
        message=message, fully_qualified_error_id=f"{error_id},{util.class_name}", category=category,
        target_name=to_string(target) if target is not None else "",
        target_type=ps_type_of(target) if target is not None else "", command=util.name,
        exception_type="System.Management.Automation.ParameterBindingException", target_object=target))


def bind(util: Utility, tokens: list) -> dict:
    bound: dict[str, Any] = {}
    positional: list = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "value":
            positional.append(tok.value)
            i += 1
            continue
        lname = tok.name.lower()
        exact = [p for p in util.params if p.name.lower() == lname or lname in (a.lower() for a in p.aliases)]
        cands = exact or [p for p in util.params if p.name.lower().startswith(lname)]
        if not cands and lname in _COMMON:
            if lname not in _COMMON_SWITCH and not tok.has_value and i + 1 < len(tokens) \
                    and tokens[i + 1].kind == "value":
                i += 1
            i += 1
            continue
        if not cands:
            raise binding_error(util, f"A parameter cannot be found that matches parameter name '{tok.name}'.",
                                "NamedParameterNotFound", tok.name)
        if len(cands) > 1:
            raise binding_error(util, f"Parameter cannot be processed because the parameter name '{tok.name}' is "
                                      f"ambiguous. Possible matches include: "
                                      f"{' '.join('-' + c.name for c in cands)}.", "AmbiguousParameter", tok.name)
        p = cands[0]
        if tok.has_value:
            value = tok.value
        elif p.switch:
            value = True
        elif i + 1 < len(tokens) and tokens[i + 1].kind == "value":
            value = tokens[i + 1].value
            i += 1
        else:
            raise binding_error(util, f"Missing an argument for parameter '{p.name}'. Specify a parameter of type "
                                      "'System.Object' and try again.", "MissingArgument", p.name)
        if p.name in bound:
            raise binding_error(util, f"Cannot bind parameter because parameter '{p.name}' is specified more than "
                                      "once. To provide multiple values to parameters that can accept multiple "
                                      "values, use the array syntax. For example, \"-parameter "
                                      "value1,value2,value3\".", "ParameterAlreadyBound", tok.name)
        bound[p.name] = value
        i += 1
    slots = sorted([p for p in util.params if p.position is not None and p.name not in bound],
                   key=lambda p: p.position)
    for idx, value in enumerate(positional):
        if slots:
            p = slots[0]
            if p.remaining:
                bound.setdefault(p.name, []).append(value)
                continue
            slots.pop(0)
            bound[p.name] = value
        else:
            raise binding_error(util, f"A positional parameter cannot be found that accepts argument "
                                      f"'{to_string(value)}'.", "PositionalParameterNotFound", value)
    for p in util.params:
        if p.remaining and p.name in bound and isinstance(bound[p.name], list) and len(bound[p.name]) == 1 \
                and p.position is not None:
            bound[p.name] = bound[p.name][0]
    return bound


def _inputs(bound: dict, input_items: list | None, name: str = "InputObject") -> list:
    if name in bound:
        value = bound[name]
        return [value]
    return list(input_items) if input_items is not None else []


def _prop_value(interp: "Interpreter", item: Any, prop: Any) -> Any:
    if isinstance(prop, ScriptBlock):
        res = interp.invoke_with_item(prop, item)
        return res[0] if len(res) == 1 else (None if not res else res)
    if isinstance(prop, Hashtable):
        expr = prop.get("Expression", prop.get("E"))
        return _prop_value(interp, item, expr)
    return members.get_member(item, to_string(prop))


# ----------------------------------------------------------------------------- Where / ForEach
_WHERE_OPS = ["EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch", "Contains",
              "NotContains", "In", "NotIn", "Is", "IsNot"]
_WHERE_PARAMS = [P("FilterScript", position=0), P("Property"), P("Value", position=1),
                 P("InputObject")] + [P(op, switch=True) for op in _WHERE_OPS] + \
    [P("C" + op, switch=True) for op in _WHERE_OPS if op not in ("Is", "IsNot")]


@utility("Where-Object", *_WHERE_PARAMS, aliases=("where", "?"))
def where_object(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    items = _inputs(b, input_items)
    script = b.get("FilterScript")
    if script is not None and not isinstance(script, ScriptBlock):   # `Where-Object Name -eq x`
        b["Property"] = script
    if isinstance(script, ScriptBlock) and "Property" not in b:
        return [item for item in items if truthy(_collapse(interp.invoke_with_item(script, item)))]
    prop = b.get("Property", b.get("FilterScript"))
    ops = [k for k in b if k.upper() in (o.upper() for o in _WHERE_OPS) or
           k.upper() in ("C" + o.upper() for o in _WHERE_OPS)]
    out = []
    for item in items:
        value = members.get_member(item, to_string(prop))
        if not ops:
            keep = truthy(value)
        else:
            op = ops[0].lower()
            if op in ("is", "isnot"):
                canon = canonical_type(str(b.get("Value")))
                from .conversions import is_instance
                keep = is_instance(value, canon or "") == (op == "is")
            else:
                keep = truthy(compare(op, value, b.get("Value"), interp._set_matches))
        if keep:
            out.append(item)
    return out


def _collapse(items: list) -> Any:
    return None if not items else items[0] if len(items) == 1 else items


@utility("ForEach-Object", P("Process", position=0, remaining=True), P("Begin"), P("End"),
         P("MemberName", position=0), P("ArgumentList", aliases=("Args",)), P("InputObject"),
         aliases=("foreach", "%"))
def foreach_object(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    items = _inputs(b, input_items)
    out: list = []
    process = b.get("Process")
    blocks = process if isinstance(process, list) else ([process] if process is not None else [])
    if blocks and not isinstance(blocks[0], ScriptBlock):
        name = to_string(blocks[0])
        args = b.get("ArgumentList")
        for item in items:
            if args is not None:
                result = members.call_method(item, name, list(args) if is_collection(args) else [args], interp)
                if result is not members.VOID:
                    interp.emit(out, result)
            elif _has_property(item, name):
                interp.emit(out, members.get_member(item, name))
            else:
                try:
                    result = members.call_method(item, name, [], interp)
                except PSError:
                    continue      # neither a property nor a method: Windows writes nothing useful either
                if result is not members.VOID:
                    interp.emit(out, result)
        return out

    begin, end = b.get("Begin"), b.get("End")
    if len(blocks) == 2:
        begin, blocks = blocks[0], [blocks[1]]
    elif len(blocks) >= 3:
        begin, end, blocks = blocks[0], blocks[-1], blocks[1:-1]
    if isinstance(begin, ScriptBlock):
        out.extend(interp.invoke_with_item(begin, None))
    for item in items:
        for block in blocks:
            out.extend(interp.invoke_with_item(block, item))
    if isinstance(end, ScriptBlock):
        out.extend(interp.invoke_with_item(end, None))
    return out


def _has_property(item: Any, name: str) -> bool:
    if isinstance(item, PSObject):
        return item.has_prop(name)
    if isinstance(item, Hashtable):
        return True
    return members.get_member(item, name) is not None


# ----------------------------------------------------------------------------- Select / Sort / Measure / Group
def _property_specs(interp: "Interpreter", props: Any) -> list[tuple[str, Any]]:
    specs = []
    for p in (props if is_collection(props) else [props]):
        if isinstance(p, Hashtable):
            name = p.get("Name", p.get("N", p.get("Label", p.get("L"))))
            expr = p.get("Expression", p.get("E"))
            if name is None:
                name = to_string(expr)
            specs.append((to_string(name), expr))
        elif isinstance(p, ScriptBlock):
            specs.append((p.text.strip(), p))
        else:
            specs.append((to_string(p), to_string(p)))
    return specs


def _select_names(item: Any, pattern: str) -> list[str]:
    from .operators import like
    if isinstance(item, PSObject):
        names = list(item.props.keys())
    elif isinstance(item, Hashtable):
        names = ["Count", "Keys", "Values", "IsReadOnly", "IsFixedSize", "IsSynchronized", "SyncRoot"]
    else:
        names = []
    if "*" in pattern or "?" in pattern:
        return [n for n in names if like(n, pattern)]
    return [pattern]


@utility("Select-Object", P("Property", position=0), P("ExcludeProperty"), P("ExpandProperty"), P("Unique", True),
         P("First"), P("Last"), P("Skip"), P("Index"), P("InputObject"), aliases=("select",))
def select_object(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    items = _inputs(b, input_items)
    if "Skip" in b:
        items = items[to_int(b["Skip"]):]
    if "Index" in b:
        idx = b["Index"] if is_collection(b["Index"]) else [b["Index"]]
        items = [items[to_int(i)] for i in idx if -len(items) <= to_int(i) < len(items)]
    if "First" in b or "Last" in b:
        first = items[:to_int(b["First"])] if "First" in b else []
        last = items[len(items) - to_int(b["Last"]):] if "Last" in b and to_int(b["Last"]) else []
        items = first + last if "First" in b and "Last" in b else (first if "First" in b else last)
    out: list = []
    if "ExpandProperty" in b:
        name = to_string(b["ExpandProperty"])
        for item in items:
            if isinstance(item, (PSObject, Hashtable)) and not (
                    item.has_prop(name) if isinstance(item, PSObject) else name in item):
                out.extend(interp.write_error(ErrorRecord(
                    message=f'Property "{name}" cannot be found.',
                    fully_qualified_error_id="ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand",
                    category="InvalidArgument", target_name=to_string(item), target_type=ps_type_of(item),
                    command="Select-Object", exception_type="System.Management.Automation.PSArgumentException",
                    target_object=item)))
                continue
            interp.emit(out, members.get_member(item, name))
    elif "Property" in b:
        specs = _property_specs(interp, b["Property"])
        excluded = {to_string(x).lower() for x in (b["ExcludeProperty"] if is_collection(b.get("ExcludeProperty"))
                                                   else [b.get("ExcludeProperty")]) if x is not None}
        for item in items:
            props: dict = {}
            for name, expr in specs:
                if isinstance(expr, str):
                    for real in _select_names(item, expr):
                        if real.lower() not in excluded:
                            props[real] = members.get_member(item, real)
                else:
                    props[name] = _prop_value(interp, item, expr)
            out.append(PSObject(props, type_name="Selected." + (item.type_name if isinstance(item, PSObject)
                                                                 else "System.Object")))
        for o in out:
            o.type_names.append("System.Management.Automation.PSCustomObject")
            o.type_names[0], o.type_names[-1] = "System.Management.Automation.PSCustomObject", o.type_names[0]
    else:
        out = list(items)
    if "Unique" in b and truthy(b["Unique"]):
        uniq: list = []
        for item in out:
            if not any(_same(item, u) for u in uniq):
                uniq.append(item)
        out = uniq
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, PSObject) and isinstance(b, PSObject):
        return list(a.props.keys()) == list(b.props.keys()) and all(
            _same(x, y) for x, y in zip(a.props.values(), b.props.values()))
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    try:
        return bool(compare("ceq", a, b)) if not is_collection(a) else a == b
    except PSError:
        return False


@utility("Sort-Object", P("Property", position=0), P("Descending", True), P("Unique", True),
         P("CaseSensitive", True), P("InputObject"), aliases=("sort",))
def sort_object(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    items = _inputs(b, input_items)
    specs = []
    desc_all = truthy(b.get("Descending", False))
    for p in ((b["Property"] if is_collection(b["Property"]) else [b["Property"]]) if "Property" in b else [None]):
        desc = desc_all
        expr: Any = p
        if isinstance(p, Hashtable):
            expr = p.get("Expression", p.get("E"))
            if "Descending" in p:
                desc = truthy(p["Descending"])
            elif "Ascending" in p:
                desc = not truthy(p["Ascending"])
        specs.append((expr, desc))
    case = truthy(b.get("CaseSensitive", False))
    keyed = [(item, [(item if expr is None else _prop_value(interp, item, expr)) for expr, _ in specs])
             for item in items]

    def cmp(x: tuple, y: tuple) -> int:
        for (a, bb), (_expr, desc) in zip(zip(x[1], y[1]), specs):
            c = sort_key_compare(a, bb, case)
            if c:
                return -c if desc else c
        return 0

    ordered = [item for item, _ in sorted(keyed, key=cmp_to_key(cmp))]
    if truthy(b.get("Unique", False)):
        uniq: list = []
        for item in ordered:
            if not any(sort_key_compare(item if not isinstance(item, PSObject) else to_string(item),
                                        u if not isinstance(u, PSObject) else to_string(u), case) == 0 for u in uniq):
                uniq.append(item)
        ordered = uniq
    return ordered


@utility("Measure-Object", P("Property", position=0), P("Sum", True), P("Average", True), P("Maximum", True),
         P("Minimum", True), P("Line", True), P("Word", True), P("Character", True), P("InputObject"),
         aliases=("measure",))
def measure_object(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    items = _inputs(b, input_items)
    prop = b.get("Property")
    values = [members.get_member(i, to_string(prop)) if prop is not None else i for i in items]
    numbers = [to_number(v) for v in values if v is not None] if any(
        k in b for k in ("Sum", "Average", "Maximum", "Minimum")) else []
    result = PSObject({
        "Count": len([v for v in values if v is not None]) if prop is not None else len(items),
        "Average": (sum(numbers) / len(numbers) if numbers else None) if "Average" in b else None,
        "Sum": (sum(numbers) if numbers else 0) if "Sum" in b else None,
        "Maximum": (max(numbers) if numbers else None) if "Maximum" in b else None,
        "Minimum": (min(numbers) if numbers else None) if "Minimum" in b else None,
        "Property": to_string(prop) if prop is not None else None,
    }, type_name="Microsoft.PowerShell.Commands.GenericMeasureInfo")
    for k in ("Average", "Sum", "Maximum", "Minimum"):
        v = result.props[k]
        if isinstance(v, int) and not isinstance(v, bool):
            result.props[k] = float(v)
    return [result]


@utility("Group-Object", P("Property", position=0), P("NoElement", True), P("AsHashTable", True),
         P("AsString", True), P("CaseSensitive", True), P("InputObject"), aliases=("group",))
def group_object(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    items = _inputs(b, input_items)
    props = b.get("Property")
    groups: list[tuple[list, list]] = []
    for item in items:
        key = [(_prop_value(interp, item, p) if p is not None else item)
               for p in (props if is_collection(props) else [props])]
        for gkey, members_ in groups:
            if all(to_string(x).lower() == to_string(y).lower() for x, y in zip(gkey, key)):
                members_.append(item)
                break
        else:
            groups.append((key, [item]))
    if truthy(b.get("AsHashTable", False)):
        table = Hashtable()
        for key, group in groups:
            k = to_string(key[0]) if truthy(b.get("AsString", False)) or len(key) > 1 else key[0]
            table[k] = group
        return [table]
    out = []
    for key, group in groups:
        obj = PSObject({"Count": len(group), "Name": ", ".join(to_string(k) for k in key),
                        "Group": None if truthy(b.get("NoElement", False)) else group, "Values": key},
                       type_name="Microsoft.PowerShell.Commands.GroupInfo")
        out.append(obj)
    return out


# ----------------------------------------------------------------------------- JSON, strings, output
@utility("ConvertTo-Json", P("InputObject", position=0), P("Depth"), P("Compress", True),
         P("EnumsAsStrings", True), P("AsArray", True))
def convertto_json(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    if "EnumsAsStrings" in b or "AsArray" in b:
        raise members.not_supported("ConvertTo-Json -EnumsAsStrings/-AsArray (PowerShell 6+ only)")
    depth = to_int(b.get("Depth", 2))
    if "InputObject" in b:
        value = b["InputObject"]
    else:
        items = list(input_items or [])
        if not items:
            return []
        value = items[0] if len(items) == 1 else items
    return [convert_to_json(value, depth, truthy(b.get("Compress", False)))]


@utility("ConvertFrom-Json", P("InputObject", position=0))
def convertfrom_json(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    texts = [to_string(v) for v in _inputs(b, input_items)]
    if not texts:
        return []
    text = "\n".join(texts)
    value = convert_from_json(text)
    return [value] if not isinstance(value, list) else [value]


@utility("Out-String", P("InputObject"), P("Stream", True), P("Width"))
def out_string_cmd(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    items = _inputs(b, input_items)
    width = to_int(b["Width"]) if b.get("Width") is not None else 0     # -Width N: tables N wide
    if truthy(b.get("Stream", False)):
        from .formatting import render_output
        return render_output(items, width)
    return [out_string(items, width)]


@utility("Out-Null", P("InputObject"))
def out_null(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    return []


@utility("Out-Host", P("InputObject"), P("Paging", True))
def out_host(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    interp.render(list(_inputs(b, input_items)))
    return []


@utility("Out-Default", P("InputObject"))
def out_default(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    return out_host(interp, b, input_items)


@utility("Write-Output", P("InputObject", position=0, remaining=True), P("NoEnumerate", True),
         aliases=("echo", "write"))
def write_output(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    if "InputObject" not in b:
        return list(input_items or [])
    value = b["InputObject"]
    if truthy(b.get("NoEnumerate", False)):
        return [value]
    return list(value) if is_collection(value) else [value]


@utility("Write-Host", P("Object", position=0, remaining=True), P("NoNewline", True), P("Separator"),
         P("ForegroundColor"), P("BackgroundColor"))
def write_host(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    sep = to_string(b.get("Separator", " "))
    objects = b.get("Object", list(input_items or []))
    parts = objects if is_collection(objects) else [objects]
    text = sep.join(to_string(p, sep) for p in parts)
    interp.write_host(text, newline=not truthy(b.get("NoNewline", False)))
    return []


@utility("Write-Verbose", P("Message", position=0))
def write_verbose(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    message = to_string(b.get("Message", ""))
    if interp.preference("VerbosePreference") in ("Continue", "Inquire"):
        interp.streams.append(("verbose", message))
    return []


@utility("Write-Debug", P("Message", position=0))
def write_debug(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    if interp.preference("DebugPreference") in ("Continue", "Inquire"):
        interp.streams.append(("debug", to_string(b.get("Message", ""))))
    return []


@utility("Write-Warning", P("Message", position=0))
def write_warning(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    messages = [b["Message"]] if "Message" in b else list(input_items or [])
    for m in messages:
        interp.warn(to_string(m), _warning_action(interp))
    return []


def _warning_action(interp: "Interpreter") -> str | None:
    inv = interp.invocations[-1] if interp.invocations else None
    return inv.warning_action if inv is not None else None


@utility("Write-Information", P("MessageData", position=0), P("Tags", position=1))
def write_information(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    if interp.preference("InformationPreference") in ("Continue", "Inquire"):
        interp.write_host(to_string(b.get("MessageData")))
    return []


@utility("Write-Progress", P("Activity", position=0), P("Status", position=1), P("Id", position=2),
         P("PercentComplete"), P("SecondsRemaining"), P("CurrentOperation"), P("ParentId"), P("Completed", True))
def write_progress(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    return []


@utility("Write-Error", P("Message", position=0), P("Exception"), P("ErrorRecord"), P("Category"), P("ErrorId"),
         P("TargetObject"), P("RecommendedAction"), P("CategoryActivity"), P("CategoryReason"),
         P("CategoryTargetName"), P("CategoryTargetType"))
def write_error(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    if isinstance(b.get("ErrorRecord"), ErrorRecord):
        record = b["ErrorRecord"]
    else:
        message = to_string(b.get("Message", b.get("Exception", "")))
        caller = next((c for c in reversed(interp.command_stack[:-1]) if c), "")
        error_id = to_string(b["ErrorId"]) if "ErrorId" in b else "Microsoft.PowerShell.Commands.WriteErrorException"
        target = b.get("TargetObject")
        record = ErrorRecord(
            message=message, fully_qualified_error_id=f"{error_id},{caller}" if caller else error_id,
            category=to_string(b.get("Category", "NotSpecified")) or "NotSpecified",
            target_name=to_string(b.get("CategoryTargetName", target if target is not None else "")),
            target_type=to_string(b.get("CategoryTargetType", ps_type_of(target) if target is not None else "")),
            command=caller or "Write-Error", activity=to_string(b.get("CategoryActivity", "Write-Error")),
            exception_type="Microsoft.PowerShell.Commands.WriteErrorException", target_object=target)
    return interp.write_error(record)


# ----------------------------------------------------------------------------- misc
@utility("Start-Sleep", P("Seconds", position=0, aliases=("s",)), P("Milliseconds", aliases=("m",)),
         aliases=("sleep",))
def start_sleep(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    seconds = float(to_number(b.get("Seconds", 0))) + float(to_number(b.get("Milliseconds", 0))) / 1000
    sleep = getattr(interp.ctx, "sleep", None)
    if not callable(sleep):
        return []
    # The world scales durations (real = simulated * time_factor); the script's clock (Get-Date,
    # [DateTime]::UtcNow) moves by the full simulated amount so deadline loops end in simulated time.
    before = interp._world_now()
    sleep(seconds)
    real = (interp._world_now() - before).total_seconds()
    if real < seconds:
        interp.clock_offset += _dt.timedelta(seconds=seconds - real)
    return []


@utility("whoami", P("Option", position=0), aliases=("whoami.exe",), class_name="whoami.exe")
def whoami(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    """whoami.exe (a native program): the session's account as DOMAIN\\user, in lower case as whoami prints it."""
    if b.get("Option") is not None:
        raise members.not_supported(f"whoami {to_string(b.get('Option'))} (only plain whoami is emulated)")
    session = getattr(interp.ctx, "session", None)
    user = getattr(session, "user", None) or ""
    return [user.lower()]


@utility("Get-Date", P("Date", position=0), P("Format"), P("UFormat"), P("DisplayHint"),
         P("Year"), P("Month"), P("Day"), P("Hour"), P("Minute"), P("Second"), P("Millisecond"))
def get_date(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    value = convert_to(b["Date"], "datetime") if "Date" in b else interp.now()
    for unit in ("Year", "Month", "Day", "Hour", "Minute", "Second"):
        if unit in b:
            value = value.replace(**{unit.lower(): to_int(b[unit])})
    if "UFormat" in b:
        raise members.not_supported("Get-Date -UFormat (use -Format)")
    if "Format" in b:
        from .conversions import dotnet_date_format
        return [dotnet_date_format(value, to_string(b["Format"]))]
    from .values import DisplayDateTime
    return [DisplayDateTime.wrap(value)]


def construct_object(interp: "Interpreter", type_name: str, args: list, props: Any) -> Any:
    t = type_name.strip().lower()
    if t.startswith("system."):
        t = t[7:]
    if t in ("management.automation.pscredential", "pscredential"):
        if len(args) != 2:
            raise members.not_supported("PSCredential with other than (user, securestring) arguments")
        password = args[1]
        if not isinstance(password, SecureString):
            raise PSError(ErrorRecord(
                message='Cannot find an overload for "PSCredential" and the argument count: "2".',
                fully_qualified_error_id="ConstructorInvokedThrowException,Microsoft.PowerShell.Commands.NewObjectCommand",
                category="InvalidOperation", command="New-Object",
                exception_type="System.Management.Automation.MethodException"))
        return PSCredential(to_string(args[0]), password)
    if t in ("psobject", "management.automation.psobject", "object", "pscustomobject"):
        obj = PSObject()
        if isinstance(props, Hashtable):
            for k, v in props.items():
                obj.set_prop(to_string(k), v)
        return obj
    if t in ("collections.arraylist",):
        return ArrayList(list(args[0]) if args and is_collection(args[0]) else [])
    if t.startswith("collections.generic.list["):
        return ArrayList(list(args[0]) if args and is_collection(args[0]) else [],
                         type_name="System.Collections.Generic.List")
    if t in ("collections.hashtable", "hashtable"):
        return Hashtable()
    if t in ("collections.specialized.ordereddictionary",):
        return Hashtable(ordered=True)
    if t in ("datetime",):
        parts = [to_int(a) for a in args]
        return _dt.datetime(*parts, tzinfo=_dt.timezone.utc)
    if t in ("version",):
        from .values import Version
        return Version(".".join(to_string(a) for a in args))
    if t in ("exception", "invalidoperationexception", "argumentexception", "management.automation.runtimeexception"):
        message = to_string(args[0]) if args else ""
        return PSObject({"Message": message}, type_name="System." + type_name.split("System.")[-1]
                        if not type_name.lower().startswith("system.") else type_name)
    if t in ("text.stringbuilder", "net.webclient", "net.networkcredential"):
        raise members.not_supported(f"New-Object {type_name}")
    raise PSError(ErrorRecord(
        message=f"Cannot find type [{type_name}]: verify that the assembly containing this type is loaded.",
        fully_qualified_error_id="TypeNotFound,Microsoft.PowerShell.Commands.NewObjectCommand",
        category="InvalidType", command="New-Object",
        exception_type="System.Management.Automation.PSArgumentException"))


@utility("New-Object", P("TypeName", position=0), P("ArgumentList", position=1, aliases=("Args",)),
         P("Property"), P("ComObject"), P("Strict", True))
def new_object(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    if "ComObject" in b:
        raise members.not_supported("New-Object -ComObject")
    args = b.get("ArgumentList")
    arg_list = list(args) if is_collection(args) else ([] if args is None else [args])
    obj = construct_object(interp, to_string(b.get("TypeName", "")), arg_list, b.get("Property"))
    if isinstance(b.get("Property"), Hashtable) and not (isinstance(obj, PSObject) and obj.props):
        for k, v in b["Property"].items():
            members.set_member(obj, to_string(k), v)
    return [obj]


@utility("ConvertTo-SecureString", P("String", position=0), P("AsPlainText", True), P("Force", True),
         P("Key"), P("SecureKey"))
def convertto_securestring(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    if "Key" in b or "SecureKey" in b or not truthy(b.get("AsPlainText", False)):
        raise members.not_supported("ConvertTo-SecureString without -AsPlainText (encrypted standard strings)")
    if not truthy(b.get("Force", False)):
        raise PSError(ErrorRecord(
            message="The system cannot protect plain text input. To suppress this warning and convert the plain "
                    "text to a SecureString, reissue the command specifying the Force parameter. For more "
                    "information ,type: get-help ConvertTo-SecureString.",
            fully_qualified_error_id="ImportSecureString_ForceRequired,Microsoft.PowerShell.Commands."
                                     "ConvertToSecureStringCommand",
            category="InvalidArgument", command="ConvertTo-SecureString",
            exception_type="System.ArgumentException"))
    values = [b["String"]] if "String" in b else list(input_items or [])
    return [SecureString(to_string(v)) for v in values]


def _win_join(base: str, child: str) -> str:
    base = base.replace("/", "\\")
    child = child.replace("/", "\\")
    if not base:
        return child
    if not child:
        return base
    return base.rstrip("\\") + "\\" + child.lstrip("\\")


@utility("Join-Path", P("Path", position=0), P("ChildPath", position=1), P("AdditionalChildPath", position=2,
         remaining=True), P("Resolve", True))
def join_path(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    paths = b.get("Path", list(input_items or []))
    out = []
    extra = b.get("AdditionalChildPath", [])
    for base in (paths if is_collection(paths) else [paths]):
        result = _win_join(to_string(base), to_string(b.get("ChildPath", "")))
        for more in (extra if is_collection(extra) else [extra]):
            result = _win_join(result, to_string(more))
        out.append(result)
    return out


@utility("Split-Path", P("Path", position=0), P("Parent", True), P("Leaf", True), P("Qualifier", True),
         P("NoQualifier", True), P("IsAbsolute", True), P("Resolve", True), P("LiteralPath"))
def split_path(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    paths = b.get("Path", b.get("LiteralPath", list(input_items or [])))
    out: list = []
    for raw in (paths if is_collection(paths) else [paths]):
        p = to_string(raw).replace("/", "\\")
        m = re.match(r"^([A-Za-z]:)", p)
        if truthy(b.get("Qualifier", False)):
            out.append(m.group(1) if m else "")
        elif truthy(b.get("NoQualifier", False)):
            out.append(p[2:] if m else p)
        elif truthy(b.get("IsAbsolute", False)):
            out.append(bool(re.match(r"^([A-Za-z]:\\|\\\\)", p)))
        elif truthy(b.get("Leaf", False)):
            out.append(p.rstrip("\\").rsplit("\\", 1)[-1])
        else:
            stripped = p.rstrip("\\") if not re.fullmatch(r"[A-Za-z]:\\", p) else p
            if "\\" not in stripped or re.fullmatch(r"[A-Za-z]:\\?", stripped):
                out.append("")
                continue
            parent = stripped.rsplit("\\", 1)[0]
            out.append(parent + "\\" if re.fullmatch(r"[A-Za-z]:", parent) else parent)
    return out


@utility("Test-Path", P("Path", position=0), P("LiteralPath"), P("PathType"), P("IsValid", True),
         P("Credential"), P("Filter"), P("Include"), P("Exclude"), prefer_registry=True)
def test_path(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    paths = b.get("Path", b.get("LiteralPath", list(input_items or [])))
    out = []
    for raw in (paths if is_collection(paths) else [paths]):
        p = to_string(raw)
        if truthy(b.get("IsValid", False)):
            out.append(not re.search(r'[<>"|?*]', p))
            continue
        if p.lower().startswith("env:"):
            out.append(p[4:] in interp.env)
            continue
        if p.lower().startswith("variable:"):
            out.append(interp.has_var(p[9:]))
            continue
        entry = _world_entry(interp, p)
        kind = to_string(b.get("PathType", "Any")).lower()
        if entry is None:
            out.append(False)
        elif kind == "leaf":
            out.append(entry.get("kind", "file") == "file")
        elif kind == "container":
            out.append(entry.get("kind", "file") == "dir")
        else:
            out.append(True)
    return out


def _world_entry(interp: "Interpreter", path: str) -> dict | None:
    """The host's file or directory entry for a path (hvsim.world.files), None if absent."""
    if path.lower().startswith("filesystem::"):
        path = path[len("filesystem::"):]
    if not re.match(r"^[A-Za-z]:", path):
        path = "C:\\Users\\" + str(interp.env_value("USERNAME")) + "\\Documents\\" + path.lstrip("\\/")
    if re.fullmatch(r"[A-Za-z]:\\?", path):
        return {"path": path, "kind": "dir"}
    world = getattr(interp.ctx, "world", None)
    if world is None:
        return None
    try:
        from hvsim.world import files as world_files   # the layer below (read only)
    except ImportError:  # pragma: no cover - hvsim.world is part of the package
        return None
    lock = world.read() if hasattr(world, "read") else getattr(world, "lock", None)
    try:
        if lock is not None:
            with lock:
                return world_files.get(world.host(interp.host_name()), path)
        return world_files.get(world.host(interp.host_name()), path)
    except KeyError:
        return None


@utility("Get-Variable", P("Name", position=0), P("ValueOnly", True), P("Scope"), P("Include"), P("Exclude"))
def get_variable(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    names = b.get("Name")
    out = []
    for n in (names if is_collection(names) else [names]):
        name = to_string(n)
        if not interp.has_var(name) and name.lower() not in ("input",):
            record = ErrorRecord(
                message=f"Cannot find a variable with the name '{name}'.",
                fully_qualified_error_id="VariableNotFound,Microsoft.PowerShell.Commands.GetVariableCommand",
                category="ObjectNotFound", target_name=name, target_type="String", command="Get-Variable",
                exception_type="System.Management.Automation.ItemNotFoundException", target_object=name)
            out.extend(interp.write_error(record))
            continue
        value = interp.get_var(name)
        out.append(value if truthy(b.get("ValueOnly", False)) else
                   PSObject({"Name": name, "Value": value}, type_name="System.Management.Automation.PSVariable"))
    return out


@utility("Set-Variable", P("Name", position=0), P("Value", position=1), P("Scope"), P("Option"),
         P("PassThru", True), P("Force", True))
def set_variable(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    scope = to_string(b.get("Scope", "")).lower()
    prefix = {"global": "global", "script": "script", "local": ""}.get(scope, "")
    if scope and scope not in ("global", "script", "local", "0"):
        raise members.not_supported(f"Set-Variable -Scope {scope}")
    value = b.get("Value", _collapse(list(input_items)) if input_items else None)
    # the cmdlet runs in the caller's scope (the binder did not push one)
    interp.set_var(to_string(b["Name"]), value, prefix)
    return []


@utility("Get-Command", P("Name", position=0), P("Module"), P("CommandType"), P("ListImported", True))
def get_command(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    names = b.get("Name")
    out: list = []
    for n in (names if is_collection(names) else [names]):
        name = to_string(n)
        if interp.find_function(name) is not None:
            out.append(PSObject({"Name": name, "CommandType": "Function", "Source": ""},
                                type_name="System.Management.Automation.FunctionInfo"))
            continue
        util = UTILITIES.get(name.lower())
        info = interp._registry_lookup(name)
        if util is not None or info is not None:
            real = util.name if util is not None else getattr(info, "name", name)
            module = getattr(info, "module", "") if info is not None else "Microsoft.PowerShell.Utility"
            out.append(PSObject({"Name": real, "CommandType": "Cmdlet", "Source": module or "",
                                 "ModuleName": module or ""},
                                type_name="System.Management.Automation.CmdletInfo",
                                methods={"ToString": lambda real=real: real}))
            continue
        record = ErrorRecord(
            message=f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
                    "operable program. Check the spelling of the name, or if a path was included, verify that the "
                    "path is correct and try again.",
            fully_qualified_error_id="CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand",
            category="ObjectNotFound", target_name=name, target_type="String", command="Get-Command",
            exception_type="System.Management.Automation.CommandNotFoundException", target_object=name)
        out.extend(interp.write_error(record))
    return out


@utility("Add-Member", P("MemberType", position=0), P("Name", position=1), P("Value", position=2),
         P("NotePropertyName"), P("NotePropertyValue"), P("NotePropertyMembers"), P("InputObject"),
         P("PassThru", True), P("Force", True), P("TypeName"))
def add_member(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    targets = _inputs(b, input_items)
    out = []
    for target in targets:
        if not isinstance(target, PSObject):
            raise members.not_supported("Add-Member on anything but a PSCustomObject")
        if "NotePropertyMembers" in b:
            for k, v in b["NotePropertyMembers"].items():
                target.set_prop(to_string(k), v)
        elif "NotePropertyName" in b:
            target.set_prop(to_string(b["NotePropertyName"]), b.get("NotePropertyValue"))
        else:
            mtype = to_string(b.get("MemberType", "NoteProperty")).lower()
            if mtype not in ("noteproperty", "scriptmethod"):
                raise members.not_supported(f"Add-Member -MemberType {mtype}")
            name = to_string(b.get("Name"))
            if target.has_prop(name) and not truthy(b.get("Force", False)):
                raise PSError(ErrorRecord(
                    message=f'Cannot add a member with the name "{name}" because a member with that name already '
                            "exists. To overwrite the member anyway, add the Force parameter to your command.",
                    fully_qualified_error_id="MemberAlreadyExists,Microsoft.PowerShell.Commands.AddMemberCommand",
                    category="InvalidOperation", command="Add-Member",
                    exception_type="System.InvalidOperationException"))
            target.set_prop(name, b.get("Value"))
        if truthy(b.get("PassThru", False)):
            out.append(target)
    return out


@utility("Import-Module", P("Name", position=0), P("Force", True), P("Global", True), P("PassThru", True),
         P("DisableNameChecking", True), P("MinimumVersion"), P("RequiredVersion"), aliases=("ipmo",),
         prefer_registry=True)
def import_module(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    return []


@utility("Set-StrictMode", P("Version"), P("Off", True))
def set_strict_mode(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    if truthy(b.get("Off", False)):
        return []
    raise members.not_supported("Set-StrictMode (scripts run without strict mode)")


@utility("Invoke-Expression", P("Command", position=0), aliases=("iex",))
def invoke_expression(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    raise members.not_supported("Invoke-Expression (build a script block with [ScriptBlock]::Create)")


def _format_specs(interp: "Interpreter", item: Any, props: Any) -> list[tuple[str, Any]]:
    """(label, how to get the value) for one object; a wildcard (Format-List *) expands to the
    object's own property names, each with its value."""
    if props is None:
        if isinstance(item, PSObject):
            return [(k, k) for k in item.props.keys()]
        return [("Value", None)]
    out: list[tuple[str, Any]] = []
    for name, expr in _property_specs(interp, props):
        if isinstance(expr, str) and ("*" in expr or "?" in expr):
            out.extend((n, n) for n in _select_names(item, expr))
        else:
            out.append((name, expr))
    return out


def _format_value(interp: "Interpreter", item: Any, expr: Any) -> Any:
    if expr is None:
        return item
    if isinstance(expr, str):
        return members.get_member(item, expr)
    return _prop_value(interp, item, expr)


@utility("Format-List", P("Property", position=0), P("InputObject"), aliases=("fl",))
def format_list(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    """The list view as text lines (Windows emits format objects; printed, they read the same):
    per object, every label padded to the longest, ' : ', the value (formatting.list_lines)."""
    from .formatting import _cell, list_lines
    out = [""]
    for item in _inputs(b, input_items):
        specs = _format_specs(interp, item, b.get("Property"))
        out.extend(list_lines([(n, _cell(_format_value(interp, item, e))) for n, e in specs]))
        out.append("")
    out.append("")
    return out


@utility("Format-Table", P("Property", position=0), P("AutoSize", True), P("HideTableHeaders", True),
         P("Wrap", True), P("InputObject"), aliases=("ft",))
def format_table(interp: "Interpreter", b: dict, input_items: list | None) -> list:
    """A table as text lines. Without -Property a type with a Windows default view uses its columns
    (its widths; -AutoSize sizes them to their cells); otherwise the first object's properties, sized
    from the objects as 5.1 does, numbers right-aligned; fitted to the console width either way."""
    from .formatting import _cell, default_view, table_lines
    items = _inputs(b, input_items)
    if not items:
        return []
    hide = truthy(b.get("HideTableHeaders", False))
    view = default_view(items[0]) if b.get("Property") is None else None
    if view is not None:
        return table_lines([c.header for c in view], [[c.text(o) for c in view] for o in items],
                           [c.width for c in view], [c.right for c in view], hide,
                           autosize=truthy(b.get("AutoSize", False)) or all(c.width is None for c in view)) + [""]
    specs = _format_specs(interp, items[0], b.get("Property"))
    values = [[_format_value(interp, item, e) for _, e in specs] for item in items]
    right = [all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in col if v is not None)
             and any(v is not None for v in col) for col in zip(*values)] if values else []
    rows = [[_cell(v) for v in row] for row in values]
    return table_lines([n for n, _ in specs], rows, [None] * len(specs), right, hide, autosize=True) + [""]
