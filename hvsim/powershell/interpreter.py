"""The interpreter: walks tree-sitter-powershell trees with Windows PowerShell 5.1 semantics.

Statements emit into an output list; pipelines run eagerly (each command gets the whole list of
upstream objects); errors follow ErrorActionPreference; anything outside the documented subset
(docs/hvsim-powershell.md) raises NotSupportedError naming the construct and its line.
"""
from __future__ import annotations

import copy
import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from . import members
from .conversions import (UTC, canonical_type, convert_to, is_instance, to_number, to_string, truthy)
from .errors import (BreakLoop, ContinueLoop, ErrorRecord, ExitScript, FlowControl, NotSupportedError,
                     PSError, ReturnFromBlock, ps_type_of)
from .members import VOID, TypeRef
from .operators import ARITHMETIC, compare, runtime_error, unary_join, unary_split
from .parser import Parsed, Source, parse, parse_error
from .values import (ArrayList, Hashtable, PSCredential, PSObject, ScriptBlock, Version, is_collection)

CHAIN = frozenset({
    "logical_expression", "bitwise_expression", "comparison_expression", "additive_expression",
    "multiplicative_expression", "format_expression", "range_expression", "array_literal_expression",
    "unary_expression", "pipeline_chain", "logical_argument_expression", "bitwise_argument_expression",
    "comparison_argument_expression", "additive_argument_expression", "multiplicative_argument_expression",
    "format_argument_expression", "range_argument_expression", "argument_expression", "left_assignment_expression",
    "key_expression", "switch_clause_condition", "while_condition", "for_condition", "for_initializer",
    "for_iterator", "redirected_file_name",
})
STATEMENTS = frozenset({"if_statement", "switch_statement", "foreach_statement", "for_statement", "while_statement",
                        "do_statement", "try_statement"})
SKIP = frozenset({"comment", "command_argument_sep", "empty_statement"})
COMMON_PARAMS = {
    "erroraction": "ErrorAction", "ea": "ErrorAction", "warningaction": "WarningAction", "wa": "WarningAction",
    "errorvariable": "ErrorVariable", "ev": "ErrorVariable", "warningvariable": "WarningVariable",
    "wv": "WarningVariable", "outvariable": "OutVariable", "ov": "OutVariable", "verbose": "Verbose",
    "vb": "Verbose", "debug": "Debug", "db": "Debug", "informationaction": "InformationAction",
    "infa": "InformationAction", "informationvariable": "InformationVariable", "iv": "InformationVariable",
    "outbuffer": "OutBuffer", "ob": "OutBuffer", "pipelinevariable": "PipelineVariable", "pv": "PipelineVariable",
}
SWITCH_COMMON = {"Verbose", "Debug"}
NOT_FOUND_TEXT = ("The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable "
                  "program. Check the spelling of the name, or if a path was included, verify that the path is "
                  "correct and try again.")
ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
MISSING = object()


def named(node: Any) -> list:
    return [c for c in node.named_children if c.type not in SKIP]


def unwrap(node: Any) -> Any:
    while node.type in CHAIN:
        kids = [c for c in node.children if c.type != "comment"]
        if len(kids) != 1:
            break
        node = kids[0]
    return node


def text_of(node: Any) -> str:
    return node.text.decode("utf-8")


def collapse(items: list) -> Any:
    """Output captured into a value: nothing -> $null, one object -> itself, more -> an array."""
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return list(items)


def format_operator(fmt: str, args: list) -> str:
    def sub(m: re.Match) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        idx = int(m.group(1))
        spec = m.group(3)
        value = args[idx] if idx < len(args) else None
        text = members.call_method(value, "ToString", [spec], None) if spec and value is not None and \
            not isinstance(value, str) else to_string(value)
        if m.group(2):
            width = int(m.group(2))
            text = text.rjust(width) if width > 0 else text.ljust(-width)
        return text
    try:
        return re.sub(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}", sub, fmt)
    except IndexError:
        raise runtime_error("Error formatting a string: Index (zero based) must be greater than or equal to zero "
                            "and less than the size of the argument list..", "FormatError") from None


# ---------------------------------------------------------------------------- scopes and definitions
class Scope:
    __slots__ = ("vars", "functions", "parent", "kind")

    def __init__(self, parent: "Scope | None", kind: str) -> None:
        self.vars: dict[str, list] = {}          # lower name -> [name, value]
        self.functions: dict[str, "FunctionDef"] = {}
        self.parent = parent
        self.kind = kind

    def find(self, lname: str) -> "Scope | None":
        scope: Scope | None = self
        while scope is not None:
            if lname in scope.vars:
                return scope
            scope = scope.parent
        return None


@dataclass
class ParamDef:
    name: str
    type: str | None = None
    mandatory: bool = False
    default: Any = None            # tree-sitter node
    from_pipeline: bool = False
    from_pipeline_by_name: bool = False
    position: int | None = None
    aliases: list = field(default_factory=list)

    @property
    def is_switch(self) -> bool:
        return self.type == "switch"


@dataclass
class FunctionDef:
    name: str
    params: list
    body: Any                       # script_block / program node
    source: Source
    advanced: bool = False
    param_node: Any = None


@dataclass
class Token:
    """One command-line element: a -Parameter (maybe with a value) or a value."""
    kind: str                       # "param" | "value"
    value: Any = None
    name: str = ""
    has_value: bool = False         # -Name:value or splatted
    text: str = ""


@dataclass
class Invocation:
    """Per-command settings: error action, redirections, error variable."""
    name: str
    error_action: str
    merge_errors: bool = False
    discard_errors: bool = False
    error_sink: list | None = None
    error_variable: str | None = None
    node: Any = None
    warning_action: str | None = None
    warning_sink: list | None = None


class Interpreter:
    """One PowerShell runspace: global scope, error stream, host output."""

    def __init__(self, ctx: Any, stdin: Any = None) -> None:
        self.ctx = ctx
        if ctx is not None:
            try:
                ctx.runner = self
            except AttributeError:
                pass
        self.errors: list[ErrorRecord] = []
        self.host_lines: list[str] = []
        self.try_depth = 0
        self.call_depth = 0
        self.command_stack: list[str] = []
        self.invocations: list[Invocation] = []
        self.global_scope = Scope(None, "global")
        self.env = self._initial_env()
        self.error_list = ArrayList()
        self._stdin = stdin                       # StdinReader / list of lines / None
        self._stdin_lines: list[str] | None = None
        self.scope = self.global_scope
        self.source: Source | None = None
        self.clock_offset = _dt.timedelta(0)      # simulated time slept beyond the real sleep (Start-Sleep)
        self.failures = 0                         # errors written or statements abandoned ($? turned false)
        self.last_statement_failed = False
        self._init_automatic()
        from . import utility
        self.utilities = utility.UTILITIES

    # ------------------------------------------------------------------ environment
    def _session(self) -> Any:
        return getattr(self.ctx, "session", None)

    def host_name(self) -> str:
        session = self._session()
        return getattr(session, "host", None) or "LOCALHOST"

    def _host_record(self) -> dict | None:
        world = getattr(self.ctx, "world", None)
        if world is None:
            return None
        try:
            return world.host(self.host_name())
        except Exception:  # noqa: BLE001 - the world may not know this host
            return None

    def os_version(self) -> str:
        host = self._host_record() or {}
        os_info = host.get("os") or {}
        version = str(os_info.get("version") or "10.0.17763")
        return version

    def _initial_env(self) -> Hashtable:
        session = self._session()
        user = getattr(session, "user", None) or f"{self.host_name()}\\Administrator"
        domain, _, name = user.rpartition("\\")
        if not domain:
            domain = self.host_name()
        env = Hashtable({
            "COMPUTERNAME": self.host_name(), "USERNAME": name, "USERDOMAIN": domain.upper(),
            "SystemRoot": "C:\\Windows", "windir": "C:\\Windows", "SystemDrive": "C:",
            "ProgramFiles": "C:\\Program Files", "ProgramData": "C:\\ProgramData",
            "TEMP": f"C:\\Users\\{name}\\AppData\\Local\\Temp", "TMP": f"C:\\Users\\{name}\\AppData\\Local\\Temp",
            "USERPROFILE": f"C:\\Users\\{name}", "OS": "Windows_NT", "PROCESSOR_ARCHITECTURE": "AMD64",
            "PSModulePath": "C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules",
            "Path": "C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\",
            "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC",
            "NUMBER_OF_PROCESSORS": "2",
        })
        host = self._host_record() or {}
        if host.get("domain"):
            env["USERDNSDOMAIN"] = str(host["domain"]).upper()
        return env

    def stdin_lines(self) -> list[str]:
        """$input at top level: stdin's lines, read (blocking until the client's End) on first use."""
        if self._stdin_lines is None:
            src = self._stdin
            if src is None:
                self._stdin_lines = []
            elif isinstance(src, (list, tuple)):
                self._stdin_lines = [str(x) for x in src]
            else:
                text = src.read_all() if hasattr(src, "read_all") else str(src)
                self._stdin_lines = text.splitlines()
        return list(self._stdin_lines)

    def env_value(self, name: str) -> Any:
        return self.env.get(name)

    def now(self) -> _dt.datetime:
        return self._world_now() + self.clock_offset

    def _world_now(self) -> _dt.datetime:
        world = getattr(self.ctx, "world", None)
        clock = getattr(world, "now", None)
        if callable(clock):
            try:
                value = clock()
                if isinstance(value, _dt.datetime):
                    return value if value.tzinfo else value.replace(tzinfo=UTC)
                if isinstance(value, (int, float)):
                    return _dt.datetime.fromtimestamp(value, UTC)
            except Exception:  # noqa: BLE001
                pass
        return _dt.datetime.now(UTC)

    def _init_automatic(self) -> None:
        build = self.os_version().split(".")[-1]
        version = Version(f"5.1.{build}.1")
        table = Hashtable({
            "PSVersion": version, "PSEdition": "Desktop",
            "PSCompatibleVersions": [Version(v) for v in ("1.0", "2.0", "3.0", "4.0", "5.0", "5.1." + build + ".1")],
            "BuildVersion": Version(f"10.0.{build}.1"), "CLRVersion": Version("4.0.30319.42000"),
            "WSManStackVersion": Version("3.0"), "PSRemotingProtocolVersion": Version("2.3"),
            "SerializationVersion": Version("1.1.0.1"),
        })
        for name, value in {
            "true": True, "false": False, "null": None, "PSVersionTable": table, "Error": self.error_list,
            "ErrorActionPreference": "Continue", "VerbosePreference": "SilentlyContinue",
            "WarningPreference": "Continue", "InformationPreference": "SilentlyContinue",
            "DebugPreference": "SilentlyContinue", "ProgressPreference": "Continue", "ConfirmPreference": "High",
            "WhatIfPreference": False, "LASTEXITCODE": None, "PSHOME": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
            "HOME": self.env["USERPROFILE"], "PID": 4242, "ShellId": "Microsoft.PowerShell", "PSScriptRoot": "",
            "PSCommandPath": "", "OFS": " ", "PSCulture": "en-US", "PSUICulture": "en-US",
            "MaximumHistoryCount": 4096, "NestedPromptLevel": 0,
        }.items():
            self.global_scope.vars[name.lower()] = [name, value]

    # ------------------------------------------------------------------ variables
    def _split_var(self, raw: str) -> tuple[str, str]:
        name = raw
        if name.startswith("$") or name.startswith("@"):
            name = name[1:]
        if name.startswith("{") and name.endswith("}"):
            name = name[1:-1]
        if ":" in name:
            prefix, rest = name.split(":", 1)
            return prefix.lower(), rest
        return "", name

    def get_var(self, name: str, prefix: str = "") -> Any:
        lname = name.lower()
        if prefix == "env":
            return self.env.get(name)
        if prefix == "using":
            raise members.not_supported("$using: variables (pass values with -ArgumentList)")
        if prefix in ("variable",):
            prefix = ""
        if prefix == "global":
            entry = self.global_scope.vars.get(lname)
            return entry[1] if entry else None
        if prefix == "script":
            scope = self._script_scope()
            found = scope.find(lname)
            return found.vars[lname][1] if found else None
        if prefix not in ("", "local", "private"):
            raise members.not_supported(f"the variable drive or scope '{prefix}:'")
        if lname == "input" and self.scope.find("input") is None:
            return self.stdin_lines()
        if lname == "matches" and self.scope.find("matches") is None:
            return None
        found = self.scope.find(lname)
        if found is None:
            return None
        return found.vars[lname][1]

    def has_var(self, name: str) -> bool:
        return self.scope.find(name.lower()) is not None

    def _script_scope(self) -> Scope:
        scope: Scope | None = self.scope
        while scope is not None:
            if scope.kind in ("script", "global"):
                return scope
            scope = scope.parent
        return self.global_scope

    def set_var(self, name: str, value: Any, prefix: str = "") -> None:
        lname = name.lower()
        if prefix == "env":
            if value is None or value == "":
                self.env.pop(name, None)
            else:
                self.env[name] = to_string(value)
            return
        if lname in ("true", "false", "null") and prefix in ("", "local", "global", "script"):
            if lname == "null":
                return
            raise runtime_error(f"Cannot overwrite variable {name} because it is read-only or constant.",
                                "VariableNotWritable", "WriteError",
                                "System.Management.Automation.SessionStateUnauthorizedAccessException")
        if prefix == "global":
            target = self.global_scope
        elif prefix == "script":
            target = self._script_scope()
        elif prefix in ("", "local", "private", "variable"):
            target = self.scope
        else:
            raise members.not_supported(f"the variable drive or scope '{prefix}:'")
        entry = target.vars.get(lname)
        if entry is not None:
            entry[1] = value
        else:
            target.vars[lname] = [name, value]

    def preference(self, name: str) -> str:
        value = self.get_var(name)
        return action_name(value)

    # ------------------------------------------------------------------ running
    def run_script(self, text: str) -> int:
        """Run a whole script as powershell.exe would; returns the exit code."""
        try:
            parsed = parse(text)
        except PSError as err:
            self.errors.append(err.record)
            return 1
        script_scope = Scope(self.global_scope, "script")
        self.scope = script_scope
        block = ScriptBlock(parsed.root, parsed.source, text, scope=None, is_script=True)
        try:
            self._run_top_level(block, parsed)
        except ExitScript as ex:
            return ex.code
        except PSError as err:
            self._record_error(err.record)
            return 1
        except FlowControl:
            return 0
        # powershell.exe -Command/-EncodedCommand: exit 1 when the last statement failed ($? false)
        return 1 if self.last_statement_failed else 0

    def _run_top_level(self, block: ScriptBlock, parsed: Parsed) -> None:
        param_node, body, _named_blocks = self._block_parts(block.node)
        fdef = self._function_def("", param_node, block.node, parsed.source)
        self.source = parsed.source
        if fdef.params:
            self._bind(fdef, [], None, None)
        statements = self._statements(body) if body is not None else []
        for stmt in statements:
            out: list = []
            before = self.failures
            try:
                self.exec_statement(stmt, out)
                if stmt.type not in ("function_statement", "empty_statement", "comment"):
                    self.last_statement_failed = self.failures != before
            except ReturnFromBlock:
                self.render(out)
                return
            finally:
                self.render(out)

    def render(self, values: list) -> None:
        from .formatting import render_output
        if values:
            self.host_lines.extend(render_output(values))
            values.clear()

    def write_host(self, text: str) -> None:
        self.host_lines.extend(text.replace("\r\n", "\n").split("\n"))

    def stdout_text(self) -> str:
        return "".join(line + "\r\n" for line in self.host_lines)

    # ------------------------------------------------------------------ errors
    def locate(self, record: ErrorRecord, node: Any, source: Source | None = None) -> None:
        if record.line or node is None:
            return
        src = source or self.source
        row, col_b = node.start_point
        line = src.line_text(row) if src else ""
        col = len(line.encode("utf-8")[:col_b].decode("utf-8", "replace"))
        record.line = row + 1
        record.column = col + 1
        record.line_text = line
        first = text_of(node).split("\n")[0]
        record.extent_length = max(1, len(first.rstrip("\r")))

    def _record_error(self, record: ErrorRecord, to_stream: bool = True) -> None:
        self.error_list.insert(0, record)
        if to_stream:
            self.errors.append(record)

    def write_error(self, record: ErrorRecord, node: Any = None) -> list:
        """A non-terminating error: apply the current command's error action. Returns output (2>&1)."""
        inv = self.invocations[-1] if self.invocations else None
        if node is None and inv is not None:
            # Windows points at the command the record names (the calling function for Write-Error)
            named_inv = next((i for i in reversed(self.invocations)
                              if record.command and i.name.lower() == record.command.lower()), inv)
            node = named_inv.node
        self.locate(record, node)
        action = inv.error_action if inv else self.preference("ErrorActionPreference")
        if inv is not None and inv.error_sink is not None and action != "Ignore":
            inv.error_sink.append(record)
        if action == "Stop":
            raise PSError(record, script_terminating=True)
        self.failures += 1
        if action == "Ignore":
            return []
        if action == "SilentlyContinue":
            self._record_error(record, to_stream=False)
            return []
        if inv is not None and inv.merge_errors:
            self.error_list.insert(0, record)
            return [record]
        self._record_error(record, to_stream=not (inv is not None and inv.discard_errors))
        return []

    def warn(self, message: str, action: str | None = None) -> None:
        inv = self.invocations[-1] if self.invocations else None
        if inv is not None and inv.warning_sink is not None:
            inv.warning_sink.append(message)
        action = action or self.preference("WarningPreference")
        if action in ("SilentlyContinue", "Ignore"):
            return
        if action == "Stop":
            raise PSError(ErrorRecord(
                message=f'The running command stopped because the preference variable "WarningPreference" or '
                        f'common parameter is set to Stop: {message}',
                fully_qualified_error_id="ActionPreferenceStop", category="OperationStopped",
                exception_type="System.Management.Automation.ActionPreferenceStopException"), True)
        self.host_lines.append("WARNING: " + message)

    # ------------------------------------------------------------------ blocks
    def _statements(self, node: Any) -> list:
        if node is None:
            return []
        if node.type == "statement_list":
            return named(node)
        if node.type == "statement_block":
            inner = node.child_by_field_name("statement_list")
            return named(inner) if inner is not None else []
        return [node]

    def _block_parts(self, node: Any) -> tuple[Any, Any, Any]:
        """(param_block, statement_list, named_block_list) of a program / script block / function."""
        param_node = body = named_blocks = None
        todo = [node]
        while todo:
            n = todo.pop(0)
            for c in n.children:
                t = c.type
                if t == "param_block":
                    param_node = c
                elif t == "ERROR":
                    todo.append(c)
                elif t in ("script_block", "script_block_body"):
                    todo.append(c)
                elif t == "statement_list":
                    body = c
                elif t == "named_block_list":
                    named_blocks = c
                elif t == "function_parameter_declaration":
                    param_node = c
        return param_node, body, named_blocks

    def _function_def(self, name: str, param_node: Any, body: Any, source: Source) -> FunctionDef:
        params: list[ParamDef] = []
        advanced = False
        if param_node is not None:
            plist = next((c for c in param_node.named_children if c.type == "parameter_list"), None)
            for attr in param_node.named_children:
                if attr.type in ("attribute_list", "attribute"):
                    if "cmdletbinding" in text_of(attr).lower():
                        advanced = True
            parent = param_node.parent
            if parent is not None:
                for sib in parent.children:
                    if sib.type in ("attribute_list", "attribute") and "cmdletbinding" in text_of(sib).lower():
                        advanced = True
            if plist is not None:
                for sp in plist.named_children:
                    if sp.type != "script_parameter":
                        continue
                    pdef, adv = self._param_def(sp, len(params))
                    advanced = advanced or adv
                    params.append(pdef)
        # [CmdletBinding()] written before param( ... ) sits in the script block's attribute list
        return FunctionDef(name, params, body, source, advanced, param_node)

    def _param_def(self, sp: Any, index: int) -> tuple[ParamDef, bool]:
        var = next(c for c in sp.named_children if c.type == "variable")
        pdef = ParamDef(name=self._split_var(text_of(var))[1])
        advanced = False
        for c in sp.named_children:
            if c.type == "attribute_list":
                for attr in c.named_children:
                    if attr.type != "attribute":
                        continue
                    tl = next((x for x in attr.named_children if x.type == "type_literal"), None)
                    if tl is not None:
                        tname = text_of(tl)[1:-1]
                        canon = canonical_type(tname)
                        if canon is None:
                            raise self._not_supported(f"the parameter type [{tname}]", tl)
                        pdef.type = canon
                        continue
                    aname = next((x for x in attr.named_children if x.type == "attribute_name"), None)
                    lname = text_of(aname).lower() if aname is not None else ""
                    if lname == "parameter":
                        advanced = True
                        args = next((x for x in attr.named_children if x.type == "attribute_arguments"), None)
                        for arg in (args.named_children if args is not None else []):
                            parts = [x for x in arg.named_children]
                            key = text_of(parts[0]).lower() if parts else ""
                            val = True
                            if len(parts) > 1:
                                val = truthy(self.eval(parts[1])) if key != "position" else \
                                    int(to_number(self.eval(parts[1])))
                            if key == "mandatory":
                                pdef.mandatory = bool(val)
                            elif key == "valuefrompipeline":
                                pdef.from_pipeline = bool(val)
                            elif key == "valuefrompipelinebypropertyname":
                                pdef.from_pipeline_by_name = bool(val)
                            elif key == "position":
                                pdef.position = int(val)
                    elif lname == "alias":
                        args = next((x for x in attr.named_children if x.type == "attribute_arguments"), None)
                        if args is not None:
                            for arg in args.named_children:
                                value = self.eval(unwrap(arg.named_children[0])) if arg.named_children else None
                                for v in (value if is_collection(value) else [value]):
                                    pdef.aliases.append(to_string(v))
                    elif lname in ("validateset", "validatenotnullorempty", "validatenotnull", "validaterange",
                                   "validatepattern", "validatescript", "allownull", "allowemptystring",
                                   "allowemptycollection", "validatelength", "validatecount"):
                        advanced = True   # accepted; validation is the caller's job in our scripts
                    else:
                        raise self._not_supported(f"the parameter attribute [{text_of(attr)[1:-1]}]", attr)
            elif c.type == "script_parameter_default":
                pdef.default = named(c)[0] if named(c) else None
        return pdef, advanced

    def _not_supported(self, what: str, node: Any) -> NotSupportedError:
        err = members.not_supported(what)
        self.locate(err.record, node)
        return err  # type: ignore[return-value]

    def create_scriptblock(self, text: str) -> ScriptBlock:
        parsed = parse(text)
        return ScriptBlock(parsed.root, parsed.source, text, scope=self.scope, is_script=True)

    # ------------------------------------------------------------------ invoking functions and blocks
    def invoke_function(self, fdef: FunctionDef, tokens: list[Token], input_items: list | None,
                        dot_source: bool = False, invocation_name: str = "") -> list:
        if self.call_depth > 100:
            raise runtime_error("The script failed due to call depth overflow.", "CallDepthOverflow",
                                "InvalidOperation", "System.Management.Automation.ScriptCallDepthException")
        saved_scope, saved_source = self.scope, self.source
        if not dot_source:
            self.scope = Scope(self.scope, "function" if fdef.name else "block")
        self.source = fdef.source
        self.call_depth += 1
        self.command_stack.append(fdef.name or invocation_name)
        out: list = []
        try:
            param_node, body, named_blocks = self._block_parts(fdef.body)
            pipe_param = self._bind(fdef, tokens, input_items, invocation_name)
            input_list = list(input_items) if input_items is not None else []
            self.scope.vars["input"] = ["input", input_list]
            if named_blocks is not None:
                blocks = {}
                for nb in named(named_blocks):
                    bname = text_of(nb.named_children[0]).lower()
                    blocks[bname] = nb.child_by_field_name("statement_list") or next(
                        (c for c in nb.named_children if c.type == "statement_block"), None)
                try:
                    if "begin" in blocks:
                        self._run_body(blocks["begin"], out)
                    if "process" in blocks:
                        items = input_items if input_items is not None else [None]
                        for item in items:
                            self.scope.vars["_"] = ["_", item]
                            self.scope.vars["psitem"] = ["PSItem", item]
                            if pipe_param is not None and input_items is not None:
                                self._bind_pipeline_value(fdef, pipe_param, item)
                            try:
                                self._run_body(blocks["process"], out)
                            except ReturnFromBlock:
                                pass
                    if "end" in blocks:
                        self._run_body(blocks["end"], out)
                except ReturnFromBlock:
                    pass
            else:
                try:
                    if pipe_param is not None and input_items:
                        for item in input_items:
                            self._bind_pipeline_value(fdef, pipe_param, item)
                    for stmt in self._statements(body):
                        self.exec_statement(stmt, out)
                except ReturnFromBlock:
                    pass
        finally:
            self.command_stack.pop()
            self.call_depth -= 1
            self.scope, self.source = saved_scope, saved_source
        return out

    def _run_body(self, node: Any, out: list) -> None:
        for stmt in self._statements(node):
            self.exec_statement(stmt, out)

    def _bind_pipeline_value(self, fdef: FunctionDef, pdef: ParamDef, item: Any) -> None:
        value = convert_to(item, pdef.type) if pdef.type else item
        self.set_var(pdef.name, value)

    def _binding_error(self, message: str, error_id: str, command: str, target: Any = None,
                       category: str = "InvalidArgument") -> PSError:
        return PSError(ErrorRecord(
            message=message, fully_qualified_error_id=f"{error_id},{command}" if command else error_id,
            category=category, target_name=to_string(target) if target is not None else "",
            target_type=ps_type_of(target) if target is not None else "", command=command,
            exception_type="System.Management.Automation.ParameterBindingException", target_object=target))

    def _bind(self, fdef: FunctionDef, tokens: list[Token], input_items: list | None,
              invocation_name: str | None) -> ParamDef | None:
        """Bind arguments to a function's/script's parameters in the (new) current scope."""
        cmd = fdef.name or (invocation_name or "")
        bound: dict[str, Any] = {}
        by_name = {p.name.lower(): p for p in fdef.params}
        extra_args: list = []
        positional: list = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind == "value":
                positional.append(tok.value)
                i += 1
                continue
            lname = tok.name.lower()
            pdef = by_name.get(lname)
            if pdef is None:
                cands = [p for p in fdef.params if p.name.lower().startswith(lname)
                         or any(a.lower() == lname for a in p.aliases)]
                if len(cands) == 1:
                    pdef = cands[0]
                elif len(cands) > 1:
                    raise self._binding_error(
                        f"Parameter cannot be processed because the parameter name '{tok.name}' is ambiguous. "
                        f"Possible matches include: {' '.join('-' + c.name for c in cands)}.",
                        "AmbiguousParameter", cmd, tok.name)
            if pdef is None:
                common = COMMON_PARAMS.get(lname)
                if common and fdef.advanced:
                    value = tok.value if tok.has_value else MISSING
                    if common in SWITCH_COMMON:
                        if common == "Verbose" and (value is MISSING or truthy(value)):
                            self.scope.vars["verbosepreference"] = ["VerbosePreference", "Continue"]
                    else:
                        if value is MISSING and i + 1 < len(tokens) and tokens[i + 1].kind == "value":
                            value = tokens[i + 1].value
                            i += 1
                        if common == "ErrorAction":
                            self.scope.vars["erroractionpreference"] = ["ErrorActionPreference", action_name(value)]
                        elif common == "WarningAction":
                            self.scope.vars["warningpreference"] = ["WarningPreference", action_name(value)]
                    i += 1
                    continue
                if fdef.advanced or fdef.params and not fdef.name == "" and False:
                    raise self._binding_error(f"A parameter cannot be found that matches parameter name "
                                              f"'{tok.name}'.", "NamedParameterNotFound", cmd, tok.name)
                if fdef.advanced:
                    pass
                extra_args.append("-" + tok.name + (":" if tok.has_value else ""))
                if tok.has_value:
                    extra_args.append(tok.value)
                i += 1
                continue
            if pdef.name in bound:
                raise self._binding_error(f"Cannot bind parameter because parameter '{pdef.name}' is specified "
                                          "more than once. To provide multiple values to parameters that can accept "
                                          "multiple values, use the array syntax. For example, \"-parameter "
                                          "value1,value2,value3\".", "ParameterAlreadyBound", cmd, tok.name)
            if tok.has_value:
                value = tok.value
            elif pdef.is_switch:
                value = True
            elif i + 1 < len(tokens) and tokens[i + 1].kind == "value":
                value = tokens[i + 1].value
                i += 1
            else:
                tname = {"string": "System.String", "int": "System.Int32", "long": "System.Int64",
                         "bool": "System.Boolean"}.get(pdef.type or "", "System.Object")
                raise self._binding_error(f"Missing an argument for parameter '{pdef.name}'. Specify a parameter "
                                          f"of type '{tname}' and try again.", "MissingArgument", cmd, pdef.name)
            bound[pdef.name] = self._convert_param(pdef, value, cmd)
            i += 1
        # positionals in declared order (explicit Position first)
        open_params = [p for p in fdef.params if p.name not in bound and not p.is_switch]
        open_params.sort(key=lambda p: (p.position if p.position is not None else 1000 + fdef.params.index(p)))
        for value in positional:
            if open_params:
                pdef = open_params.pop(0)
                bound[pdef.name] = self._convert_param(pdef, value, cmd)
            elif fdef.advanced:
                raise self._binding_error(f"A positional parameter cannot be found that accepts argument "
                                          f"'{to_string(value)}'.", "PositionalParameterNotFound", cmd, value)
            else:
                extra_args.append(value)
        # pipeline input
        pipe_param = None
        if input_items is not None:
            pipe_param = next((p for p in fdef.params if p.from_pipeline and p.name not in bound), None)
        missing = [p.name for p in fdef.params if p.mandatory and p.name not in bound and p is not pipe_param]
        if missing:
            raise self._binding_error("Cannot process command because of one or more missing mandatory parameters: "
                                      f"{' '.join(missing)}.", "MissingMandatoryParameter", cmd)
        for pdef in fdef.params:
            if pdef.name in bound:
                self.scope.vars[pdef.name.lower()] = [pdef.name, bound[pdef.name]]
            else:
                self.scope.vars[pdef.name.lower()] = [pdef.name, None]
                if pdef.default is not None:
                    value = self.eval(pdef.default)
                    value = self._convert_param(pdef, value, cmd) if pdef.type else value
                else:
                    value = {"string": "", "int": 0, "long": 0, "double": 0.0, "bool": False,
                             "switch": False}.get(pdef.type or "", None)
                self.scope.vars[pdef.name.lower()] = [pdef.name, value]
        self.scope.vars["psboundparameters"] = ["PSBoundParameters", Hashtable(bound)]
        self.scope.vars["args"] = ["args", extra_args]
        return pipe_param

    def _convert_param(self, pdef: ParamDef, value: Any, cmd: str) -> Any:
        if not pdef.type:
            return value
        try:
            if pdef.type in ("string",) and is_collection(value):
                return to_string(value)
            return convert_to(value, pdef.type)
        except PSError as err:
            inner = err.record.message
            raise PSError(ErrorRecord(
                message=f"Cannot process argument transformation on parameter '{pdef.name}'. {inner}",
                fully_qualified_error_id=f"ParameterArgumentTransformationError,{cmd}" if cmd
                else "ParameterArgumentTransformationError",
                category="InvalidData", target_name="", target_type="", command=cmd,
                exception_type="System.Management.Automation.ParameterBindingArgumentTransformationException")) \
                from None

    def block_function(self, block: ScriptBlock) -> FunctionDef:
        param_node, _body, _nb = self._block_parts(block.node)
        saved = self.source
        self.source = block.source
        try:
            return self._function_def("", param_node, block.node, block.source)
        finally:
            self.source = saved

    def invoke_block_value(self, block: ScriptBlock, args: list, input_items: list | None = None,
                           dot_source: bool = False) -> list:
        fdef = self.block_function(block)
        tokens = [Token("value", a) for a in args]
        return self.invoke_function(fdef, tokens, input_items, dot_source=dot_source)

    def invoke_with_item(self, block: ScriptBlock, item: Any) -> list:
        """Run a block with $_ set, in the current scope (Where-Object / ForEach-Object / .Where())."""
        saved_source = self.source
        self.source = block.source
        prev = self.scope.vars.get("_"), self.scope.vars.get("psitem")
        self.scope.vars["_"] = ["_", item]
        self.scope.vars["psitem"] = ["PSItem", item]
        out: list = []
        try:
            _p, body, nb = self._block_parts(block.node)
            if nb is not None:
                raise self._not_supported("begin/process/end blocks in a ForEach-Object/Where-Object script block",
                                          block.node)
            for stmt in self._statements(body):
                self.exec_statement(stmt, out)
        except ReturnFromBlock:
            pass
        finally:
            for key, entry in (("_", prev[0]), ("psitem", prev[1])):
                if entry is None:
                    self.scope.vars.pop(key, None)
                else:
                    self.scope.vars[key] = entry
            self.source = saved_source
        return out

    def invoke_scriptblock(self, block: ScriptBlock, args: list, session: Any) -> list:
        """Run a block in a fresh runspace as `session` (Invoke-Command). Used by the cmdlet registry."""
        ctx = copy.copy(self.ctx)
        if ctx is not None:
            ctx.session = session
            if hasattr(ctx, "warnings"):
                ctx.warnings = []
        inner = Interpreter(ctx, None)
        inner.clock_offset = self.clock_offset
        inner.errors = self.errors
        inner.host_lines = self.host_lines
        inner.scope = Scope(inner.global_scope, "script")
        if ctx is not None and self.ctx is not None:
            try:
                self.ctx.runner = self
            except AttributeError:
                pass
        try:
            return inner.invoke_block_value(block, list(args))
        finally:
            inner.errors = []

    # ------------------------------------------------------------------ statements
    def exec_statement(self, node: Any, out: list) -> None:
        try:
            self._exec(node, out)
        except PSError as err:
            self.locate(err.record, node)
            if err.script_terminating or self.try_depth > 0 or \
                    self.preference("ErrorActionPreference") == "Stop":
                if not err.script_terminating:
                    err.script_terminating = True
                raise
            quiet = self.preference("ErrorActionPreference") in ("SilentlyContinue", "Ignore")
            self._record_error(err.record, to_stream=not quiet)
            self.failures += 1
        except FlowControl:
            raise
        except RecursionError:
            raise runtime_error("The script failed due to call depth overflow.", "CallDepthOverflow") from None
        except Exception as exc:  # noqa: BLE001 - an interpreter gap must fail loudly, not crash the host
            record = ErrorRecord(message=f"hvsim interpreter error ({type(exc).__name__}: {exc}) in: "
                                         f"{text_of(node).splitlines()[0][:80] if text_of(node) else ''}",
                                 fully_qualified_error_id="hvsim.InterpreterError", category="NotImplemented",
                                 exception_type="System.NotSupportedException")
            self.locate(record, node)
            raise NotSupportedError(record, script_terminating=True) from exc

    def _exec(self, node: Any, out: list) -> None:
        t = node.type
        if t == "pipeline":
            self._exec_pipeline(node, out)
        elif t == "if_statement":
            self._exec_if(node, out)
        elif t == "foreach_statement":
            self._exec_foreach(node, out)
        elif t == "for_statement":
            self._exec_for(node, out)
        elif t == "while_statement":
            self._exec_while(node, out)
        elif t == "do_statement":
            self._exec_do(node, out)
        elif t == "switch_statement":
            self._exec_switch(node, out)
        elif t == "try_statement":
            self._exec_try(node, out)
        elif t == "flow_control_statement":
            self._exec_flow(node, out)
        elif t == "function_statement":
            self._define_function(node)
        elif t in ("empty_statement", "comment", "label"):
            return
        elif t == "statement_block":
            for stmt in self._statements(node):
                self.exec_statement(stmt, out)
        elif t == "trap_statement":
            raise self._not_supported("trap statements (use try/catch)", node)
        elif t == "class_statement":
            raise self._not_supported("class definitions", node)
        elif t == "enum_statement":
            raise self._not_supported("enum definitions", node)
        elif t in ("data_statement", "parallel_statement", "sequence_statement", "inlinescript_statement"):
            raise self._not_supported(f"the '{t.split('_')[0]}' statement", node)
        elif t == "param_block":
            raise self._not_supported("a param() block that is not the first statement", node)
        else:
            raise self._not_supported(f"the construct '{t}'", node)

    def _define_function(self, node: Any) -> None:
        name_node = next(c for c in node.named_children if c.type == "function_name")
        name = text_of(name_node)
        if any(c.type in ("function", "filter", "workflow") and text_of(c).lower() != "function"
               for c in node.children):
            raise self._not_supported("filter/workflow definitions", node)
        param_node, _body, _nb = self._block_parts(node)
        fdef = self._function_def(name, param_node, node, self.source)
        self.scope.functions[name.lower()] = fdef

    def find_function(self, name: str) -> FunctionDef | None:
        lname = name.lower()
        scope: Scope | None = self.scope
        while scope is not None:
            if lname in scope.functions:
                return scope.functions[lname]
            scope = scope.parent
        return None

    def _exec_pipeline(self, node: Any, out: list) -> None:
        inner = unwrap(node)
        if inner.type == "pipeline" and inner is not node:
            return self._exec_pipeline(inner, out)
        kids = named(node)
        if len(kids) != 1:
            raise self._not_supported("this pipeline form", node)
        inner = unwrap(kids[0])
        if inner.type == "assignment_expression":
            self.assign(inner)
            return
        if inner.type == "pipeline_chain" or inner.type == "command":
            out.extend(self.run_pipeline(inner))
            return
        value = self.eval_statement_expression(inner)
        self.emit(out, value)

    def emit(self, out: list, value: Any) -> None:
        if value is VOID:
            return
        if is_collection(value):
            out.extend(value)
        else:
            out.append(value)

    def eval_statement_expression(self, node: Any) -> Any:
        t = node.type
        if t in ("post_increment_expression", "post_decrement_expression"):
            self.eval(node)
            return VOID
        if t == "expression_with_unary_operator":
            kids = named(node)
            if kids and kids[0].type in ("pre_increment_expression", "pre_decrement_expression"):
                self.eval(node)
                return VOID
            if kids and kids[0].type == "cast_expression" and text_of(kids[0]).lower().startswith("[void]"):
                self.eval(kids[0])
                return VOID
        if t == "cast_expression" and text_of(node).lower().startswith("[void]"):
            self.eval(node)
            return VOID
        if t == "invokation_expression":
            return self.eval_invocation(node, statement=True)
        if t == "parenthesized_expression":
            inner = unwrap(named(node)[0]) if named(node) else None
            if inner is not None and inner.type == "pipeline":
                inner = unwrap(named(inner)[0])
            if inner is not None and inner.type == "assignment_expression":
                return self.assign(inner)
        return self.eval(node)

    def pipeline_value(self, node: Any) -> Any:
        """The value of a pipeline used as an expression: `$x = <pipeline>`, `(...)`, conditions."""
        inner = unwrap(node)
        if inner.type == "pipeline":
            kids = named(inner)
            if len(kids) != 1:
                raise self._not_supported("this pipeline form", inner)
            inner = unwrap(kids[0])
        if inner.type == "assignment_expression":
            return self.assign(inner)
        if inner.type in ("pipeline_chain", "command"):
            return collapse(self.run_pipeline(inner))
        if inner.type in STATEMENTS:       # $x = if (...) {...} / switch / foreach ...
            out: list = []
            self.exec_statement(inner, out)
            return collapse(out)
        value = self.eval(inner)
        return None if value is VOID else value

    def _exec_if(self, node: Any, out: list) -> None:
        cond = node.child_by_field_name("condition")
        blocks = [c for c in node.children if c.type == "statement_block"]
        if truthy(self.pipeline_value(cond)):
            self._run_block(blocks[0], out)
            return
        elifs = node.child_by_field_name("elseif_clauses")
        if elifs is not None:
            for clause in named(elifs):
                c = clause.child_by_field_name("condition")
                if truthy(self.pipeline_value(c)):
                    self._run_block(next(x for x in clause.children if x.type == "statement_block"), out)
                    return
        els = node.child_by_field_name("else_clause")
        if els is not None:
            self._run_block(next(x for x in els.children if x.type == "statement_block"), out)

    def _run_block(self, block: Any, out: list) -> None:
        for stmt in self._statements(block):
            self.exec_statement(stmt, out)

    def _loop_body(self, block: Any, out: list) -> bool:
        """Run a loop body; False means break."""
        try:
            self._run_block(block, out)
        except BreakLoop:
            return False
        except ContinueLoop:
            return True
        return True

    def _exec_foreach(self, node: Any, out: list) -> None:
        var = next(c for c in node.named_children if c.type == "variable")
        if any(c.type == "foreach_parameter" for c in node.named_children):
            raise self._not_supported("foreach -parallel", node)
        source = next(c for c in node.named_children if c.type == "pipeline")
        block = next(c for c in node.named_children if c.type == "statement_block")
        value = self.pipeline_value(source)
        items = list(value) if is_collection(value) else ([] if value is None else [value])
        prefix, name = self._split_var(text_of(var))
        for item in items:
            self.set_var(name, item, prefix)
            if not self._loop_body(block, out):
                break

    def _exec_for(self, node: Any, out: list) -> None:
        init = node.child_by_field_name("for_initializer")
        cond = node.child_by_field_name("for_condition")
        it = node.child_by_field_name("for_iterator")
        block = next(c for c in node.named_children if c.type == "statement_block")
        if init is not None:
            self._exec_pipeline_discard(init)
        while cond is None or truthy(self.pipeline_value(named(cond)[0] if cond.type == "for_condition" else cond)):
            if not self._loop_body(block, out):
                break
            if it is not None:
                self._exec_pipeline_discard(it)

    def _exec_pipeline_discard(self, node: Any) -> None:
        for p in ([node] if node.type == "pipeline" else named(node)):
            sink: list = []
            self._exec_pipeline(p, sink)

    def _exec_while(self, node: Any, out: list) -> None:
        cond = node.child_by_field_name("condition")
        block = next(c for c in node.named_children if c.type == "statement_block")
        while truthy(self.pipeline_value(named(cond)[0])):
            if not self._loop_body(block, out):
                break

    def _exec_do(self, node: Any, out: list) -> None:
        cond = node.child_by_field_name("condition")
        block = next(c for c in node.named_children if c.type == "statement_block")
        until = any(c.type == "until" for c in node.children)
        while True:
            if not self._loop_body(block, out):
                break
            result = truthy(self.pipeline_value(named(cond)[0]))
            if result == until:
                break

    def _exec_switch(self, node: Any, out: list) -> None:
        params = [text_of(p).lower() for c in node.named_children if c.type == "switch_parameters"
                  for p in c.named_children]
        mode = "equal"
        case = False
        for p in params:
            if p in ("-wildcard",):
                mode = "wildcard"
            elif p in ("-regex",):
                mode = "regex"
            elif p in ("-exact",):
                mode = "equal"
            elif p in ("-casesensitive",):
                case = True
            else:
                raise self._not_supported(f"switch {p}", node)
        cond = next(c for c in node.named_children if c.type == "switch_condition")
        value = self.pipeline_value(named(cond)[0])
        items = list(value) if is_collection(value) else [value]
        body = next(c for c in node.named_children if c.type == "switch_body")
        clauses_node = next((c for c in body.named_children if c.type == "switch_clauses"), None)
        clauses = [c for c in clauses_node.named_children if c.type == "switch_clause"] if clauses_node else []
        prev = self.scope.vars.get("_")
        try:
            for item in items:
                self.scope.vars["_"] = ["_", item]
                self.scope.vars["psitem"] = ["PSItem", item]
                matched = False
                default_block = None
                try:
                    for clause in clauses:
                        cnode = next(c for c in clause.named_children if c.type == "switch_clause_condition")
                        block = next(c for c in clause.named_children if c.type == "statement_block")
                        if text_of(cnode).lower() == "default":
                            default_block = block
                            continue
                        if self._switch_matches(cnode, item, mode, case):
                            matched = True
                            self._run_block(block, out)
                    if not matched and default_block is not None:
                        self._run_block(default_block, out)
                except ContinueLoop:
                    continue
        except BreakLoop:
            pass
        finally:
            if prev is None:
                self.scope.vars.pop("_", None)
            else:
                self.scope.vars["_"] = prev

    def _switch_matches(self, cnode: Any, item: Any, mode: str, case: bool) -> bool:
        inner = unwrap(named(cnode)[0]) if named(cnode) else cnode
        if inner.type == "script_block_expression":
            block = self.eval(inner)
            return truthy(collapse(self.invoke_with_item(block, item)))
        if inner.type in ("generic_token", "simple_name") or (inner is cnode):
            pattern: Any = text_of(inner)
        else:
            pattern = self.eval(inner)
        prefix = "c" if case else ""
        if mode == "wildcard":
            return bool(compare(prefix + "like", to_string(item), pattern))
        if mode == "regex":
            return bool(compare(prefix + "match", to_string(item), pattern, self._set_matches))
        return bool(compare(prefix + "eq", item, pattern))

    def _set_matches(self, table: Hashtable) -> None:
        self.set_var("Matches", table)

    def _exec_try(self, node: Any, out: list) -> None:
        block = next(c for c in node.named_children if c.type == "statement_block")
        catches_node = next((c for c in node.named_children if c.type == "catch_clauses"), None)
        catches = [c for c in catches_node.named_children if c.type == "catch_clause"] if catches_node else []
        fin = next((c for c in node.named_children if c.type == "finally_clause"), None)
        try:
            self.try_depth += 1
            try:
                self._run_block(block, out)
            finally:
                self.try_depth -= 1
        except PSError as err:
            handler = self._find_catch(catches, err.record)
            if handler is None:
                if fin is not None:
                    self._run_block(next(c for c in fin.named_children if c.type == "statement_block"), out)
                raise
            if err.record not in self.error_list:
                self.error_list.insert(0, err.record)
            prev = self.scope.vars.get("_")
            self.scope.vars["_"] = ["_", err.record]
            self.scope.vars["psitem"] = ["PSItem", err.record]
            try:
                self._run_block(next(c for c in handler.named_children if c.type == "statement_block"), out)
            finally:
                if prev is not None:
                    self.scope.vars["_"] = prev
                if fin is not None:
                    self._run_block(next(c for c in fin.named_children if c.type == "statement_block"), out)
            return
        except FlowControl:
            if fin is not None:
                self._run_block(next(c for c in fin.named_children if c.type == "statement_block"), out)
            raise
        if fin is not None:
            self._run_block(next(c for c in fin.named_children if c.type == "statement_block"), out)

    def _find_catch(self, catches: list, record: ErrorRecord) -> Any:
        for clause in catches:
            types = next((c for c in clause.named_children if c.type == "catch_type_list"), None)
            if types is None:
                return clause
            for tl in types.named_children:
                if tl.type != "type_literal":
                    continue
                want = text_of(tl)[1:-1].lower()
                want_short = want.rsplit(".", 1)[-1]
                have = record.exception_type.lower()
                have_short = have.rsplit(".", 1)[-1]
                if want_short in ("exception", "systemexception") or want == have or want_short == have_short:
                    return clause
                if want_short == "runtimeexception" and have.startswith("system.management.automation."):
                    return clause
        return None

    def _exec_flow(self, node: Any, out: list) -> None:
        keyword = text_of(node.children[0]).lower()
        arg = next((c for c in node.named_children if c.type == "pipeline"), None)
        if keyword == "return":
            if arg is not None:
                self._exec_pipeline(arg, out)
            raise ReturnFromBlock()
        if keyword == "exit":
            code = 0
            if arg is not None:
                value = self.pipeline_value(arg)
                try:
                    code = int(to_number(value))
                except PSError:
                    code = 0
            raise ExitScript(code)
        if keyword == "break":
            if arg is not None or len(named(node)) > 0:
                raise self._not_supported("labelled break", node)
            raise BreakLoop()
        if keyword == "continue":
            if arg is not None or len(named(node)) > 0:
                raise self._not_supported("labelled continue", node)
            raise ContinueLoop()
        if keyword == "throw":
            value = self.pipeline_value(arg) if arg is not None else None
            raise self._throw(value, node)
        raise self._not_supported(f"'{keyword}'", node)

    def _throw(self, value: Any, node: Any) -> PSError:
        if isinstance(value, ErrorRecord):
            return PSError(value, script_terminating=True)
        if value is None:
            current = self.get_var("_")
            if isinstance(current, ErrorRecord):
                return PSError(current, script_terminating=True)
            message = "ScriptHalted"
        elif isinstance(value, PSObject) and value.type_name.endswith("Exception") and value.has_prop("Message"):
            message = to_string(value.get_prop("Message"))
            record = ErrorRecord(message=message, fully_qualified_error_id=message, category="OperationStopped",
                                 target_name="", exception_type=value.type_name)
            self.locate(record, node)
            return PSError(record, script_terminating=True)
        else:
            message = to_string(value)
        record = ErrorRecord(message=message, fully_qualified_error_id=message, category="OperationStopped",
                             target_name=message if isinstance(value, str) else to_string(value),
                             target_type=ps_type_of(value) if value is not None else "",
                             exception_type="System.Management.Automation.RuntimeException", target_object=value)
        self.locate(record, node)
        return PSError(record, script_terminating=True)

    # ------------------------------------------------------------------ assignment
    def assign(self, node: Any) -> Any:
        kids = named(node)
        left = unwrap(kids[0])
        op_node = next(c for c in kids if c.type == "assignement_operator")
        op = text_of(op_node)
        value_node = node.child_by_field_name("value") or kids[-1]
        value = self.pipeline_value(value_node)
        if op != "=":
            current = self.eval(left)
            arith = op[0]
            value = ARITHMETIC[arith](current, value)
        self._store(left, value)
        return value

    def _store(self, left: Any, value: Any) -> None:
        t = left.type
        if t == "variable":
            prefix, name = self._split_var(text_of(left))
            self.set_var(name, value, prefix)
        elif t == "member_access":
            kids = named(left)
            target = self.eval(kids[0])
            name = self._member_name(kids[-1])
            if is_collection(target):
                raise runtime_error(f"The property '{name}' cannot be found on this object. Verify that the "
                                    "property exists and can be set.", "PropertyNotFound")
            members.set_member(target, name, value)
        elif t == "element_access":
            kids = named(left)
            target = self.eval(kids[0])
            index = self.eval(kids[1])
            if isinstance(target, dict):
                target[index] = value
            elif isinstance(target, list):
                i = int(to_number(index))
                try:
                    target[i] = value
                except IndexError:
                    raise runtime_error("Index was outside the bounds of the array.", "IndexOutOfRange",
                                        "InvalidOperation") from None
            elif target is None:
                raise runtime_error("Cannot index into a null array.", "NullArray")
            else:
                raise runtime_error(f"Unable to index into an object of type {type(target).__name__}.",
                                    "CannotIndex")
        elif t == "array_literal_expression":
            targets = [unwrap(c) for c in named(left)]
            values = list(value) if is_collection(value) else [value]
            for i, tnode in enumerate(targets):
                if i == len(targets) - 1:
                    rest = values[i:]
                    self._store(tnode, collapse(rest) if len(rest) != 1 else rest[0])
                else:
                    self._store(tnode, values[i] if i < len(values) else None)
        elif t in ("cast_expression", "expression_with_unary_operator"):
            inner = left if t == "cast_expression" else named(left)[0]
            if inner.type != "cast_expression":
                raise self._not_supported(f"assignment to '{text_of(left)}'", left)
            tl, target = named(inner)[0], unwrap(named(inner)[1])
            self._store(target, self._cast(text_of(tl)[1:-1], value, tl))
        else:
            raise self._not_supported(f"assignment to '{text_of(left)}'", left)

    # ------------------------------------------------------------------ expressions
    def eval(self, node: Any) -> Any:
        node = unwrap(node)
        method = getattr(self, "_e_" + node.type, None)
        if method is None:
            raise self._not_supported(f"the expression '{text_of(node)[:40]}' ({node.type})", node)
        value = method(node)
        return None if value is VOID else value

    def _e_pipeline(self, node: Any) -> Any:
        return self.pipeline_value(node)

    def _e_integer_literal(self, node: Any) -> Any:
        return parse_number_literal(text_of(node))

    def _e_real_literal(self, node: Any) -> Any:
        return parse_number_literal(text_of(node))

    def _e_string_literal(self, node: Any) -> Any:
        inner = node.named_children[0] if node.named_children else node
        raw = text_of(inner)
        t = inner.type
        if t == "verbatim_string_characters":
            return raw[1:-1].replace("''", "'")
        if t == "verbatim_here_string_characters":
            return here_body(raw)
        if t in ("expandable_string_literal", "expandable_here_string_literal"):
            return self._expand(inner, here=t == "expandable_here_string_literal")
        raise self._not_supported(f"the string form {t}", node)

    def _expand(self, node: Any, here: bool) -> str:
        raw = node.text
        base = node.start_byte
        if here:
            first_nl = raw.find(b"\n")
            start = first_nl + 1
            end = raw.rfind(b"\n")
            if raw[end - 1:end] == b"\r":
                end -= 1
        else:
            start, end = 1, len(raw) - 1
        parts: list[str] = []
        pos = start
        for child in node.named_children:
            cs, ce = child.start_byte - base, child.end_byte - base
            if cs < start or ce > end:
                continue
            parts.append(unescape(raw[pos:cs].decode("utf-8"), here))
            if child.type == "variable":
                parts.append(to_string(self.eval(child), self._ofs()))
            elif child.type == "sub_expression":
                parts.append(to_string(self._e_sub_expression(child), self._ofs()))
            else:
                parts.append(raw[cs:ce].decode("utf-8"))
            pos = ce
        parts.append(unescape(raw[pos:end].decode("utf-8"), here))
        return "".join(parts)

    def _ofs(self) -> str:
        value = self.get_var("OFS")
        return " " if value is None else to_string(value)

    def _e_variable(self, node: Any) -> Any:
        raw = text_of(node)
        if raw.startswith("@"):
            raise self._not_supported("splatting outside a command's arguments", node)
        prefix, name = self._split_var(raw)
        return self.get_var(name, prefix)

    def _e_braced_variable(self, node: Any) -> Any:
        prefix, name = self._split_var(text_of(node))
        return self.get_var(name, prefix)

    def _e_array_literal_expression(self, node: Any) -> Any:
        return [self.eval(c) for c in named(node)]

    def _e_array_expression(self, node: Any) -> Any:
        stmts = node.child_by_field_name("statements")
        out: list = []
        if stmts is not None:
            for stmt in named(stmts):
                self.exec_statement(stmt, out)
        return out

    def _e_sub_expression(self, node: Any) -> Any:
        stmts = node.child_by_field_name("statements")
        out: list = []
        if stmts is not None:
            for stmt in named(stmts):
                self.exec_statement(stmt, out)
        return collapse(out)

    def _e_parenthesized_expression(self, node: Any) -> Any:
        kids = named(node)
        if not kids:
            return None
        return self.pipeline_value(kids[0])

    def _e_hash_literal_expression(self, node: Any, ordered: bool = False) -> Any:
        table = Hashtable(ordered=ordered)
        body = next((c for c in node.named_children if c.type == "hash_literal_body"), None)
        if body is None:
            return table
        for entry in body.named_children:
            if entry.type != "hash_entry":
                continue
            kids = named(entry)
            key_node = unwrap(kids[0])
            if key_node.type == "simple_name":
                key = text_of(key_node)
            else:
                key = self.eval(key_node)
            value_node = kids[-1] if len(kids) > 1 else None
            value = self.pipeline_value(value_node) if value_node is not None else None
            if key in table:
                raise PSError(ErrorRecord(message=f"Duplicate keys '{to_string(key)}' are not allowed in hash "
                                                  "literals.", fully_qualified_error_id="DuplicateKeyInHashLiteral",
                                          category="ParserError",
                                          exception_type="System.Management.Automation.ParseException"), True)
            table[key] = value
        return table

    def _e_script_block_expression(self, node: Any) -> Any:
        raw = text_of(node)
        return ScriptBlock(node, self.source, raw[1:-1], scope=self.scope)

    def _e_type_literal(self, node: Any) -> Any:
        return TypeRef(text_of(node)[1:-1])

    def _member_name(self, node: Any) -> str:
        if node.type == "member_name":
            kids = named(node)
            if kids and kids[0].type != "simple_name":
                return to_string(self.eval(kids[0]))
        return text_of(node)

    def _e_member_access(self, node: Any) -> Any:
        kids = [c for c in node.children if c.type != "comment"]
        target_node = kids[0]
        op = text_of(kids[1])
        name = self._member_name(kids[2])
        if op == "::":
            target = self.eval(target_node)
            if not isinstance(target, TypeRef):
                raise self._not_supported("static member access on a non-type", node)
            return members.get_static(target, name, self)
        target = self.eval(target_node)
        return members.get_member(target, name)

    def _e_element_access(self, node: Any) -> Any:
        kids = named(node)
        target = self.eval(kids[0])
        index = self.eval(kids[1])
        return element(target, index, self)

    def _e_invokation_expression(self, node: Any) -> Any:
        return self.eval_invocation(node)

    def eval_invocation(self, node: Any, statement: bool = False) -> Any:
        kids = [c for c in node.children if c.type != "comment"]
        target_node, op, name_node = kids[0], text_of(kids[1]), kids[2]
        arg_list = next((c for c in kids if c.type == "argument_list"), None)
        args = []
        if arg_list is not None:
            exprs = arg_list.child_by_field_name("argument_expression_list")
            if exprs is not None:
                args = [self.eval(c) for c in named(exprs)]
        name = self._member_name(name_node)
        target = self.eval(target_node)
        try:
            if op == "::":
                if not isinstance(target, TypeRef):
                    raise self._not_supported("static calls on a non-type", node)
                if name.lower() == "new":
                    result = self._construct(target, args, node)
                else:
                    result = members.call_static(target, name, args, self)
            else:
                if isinstance(target, TypeRef):
                    raise self._not_supported(f"the method {name}() on a type object", node)
                result = members.call_method(target, name, args, self)
        except PSError as err:
            self.locate(err.record, node)
            raise
        if result is VOID:
            return VOID if statement else None
        return result

    def _construct(self, type_ref: TypeRef, args: list, node: Any) -> Any:
        from .utility import construct_object
        return construct_object(self, type_ref.name, args, None)

    def _e_cast_expression(self, node: Any) -> Any:
        kids = named(node)
        tl, operand = kids[0], kids[1]
        tname = text_of(tl)[1:-1]
        canon = canonical_type(tname)
        if canon == "ordered" and unwrap(operand).type == "hash_literal_expression":
            return self._e_hash_literal_expression(unwrap(operand), ordered=True)
        if canon == "pscustomobject" and unwrap(operand).type == "hash_literal_expression":
            table = self._e_hash_literal_expression(unwrap(operand), ordered=True)
            return PSObject({to_string(k): v for k, v in table.items()})
        value = self.eval(operand)
        if canon == "void":
            return VOID
        return self._cast(tname, value, node)

    def _cast(self, tname: str, value: Any, node: Any) -> Any:
        canon = canonical_type(tname)
        if canon is None:
            raise self._not_supported(f"the type [{tname}]", node)
        try:
            return convert_to(value, canon)
        except PSError as err:
            self.locate(err.record, node)
            raise

    def _e_expression_with_unary_operator(self, node: Any) -> Any:
        kids = [c for c in node.children if c.type != "comment"]
        if len(kids) == 1:
            return self.eval(kids[0])
        op = text_of(kids[0]).lower() if not kids[0].is_named else None
        if kids[0].type in ("pre_increment_expression", "pre_decrement_expression", "cast_expression"):
            return self.eval(kids[0])
        operand_node = kids[1]
        if op == ",":
            return [self.eval(operand_node)]
        value = self.eval(operand_node)
        if op in ("-not", "!"):
            return not truthy(value)
        if op == "-":
            if isinstance(value, str):
                value = to_number(value)
            return -to_number(value)
        if op == "+":
            return to_number(value)
        if op == "-split":
            return unary_split(value)
        if op == "-join":
            return unary_join(value)
        if op == "-bnot":
            return ~int(to_number(value))
        raise self._not_supported(f"the unary operator {op}", node)

    def _incdec(self, node: Any, delta: int, post: bool) -> Any:
        target = unwrap(next(c for c in node.named_children))
        old = self.eval(target)
        new = ARITHMETIC["+"](old if old is not None else 0, delta)
        self._store(target, new)
        return old if post else new

    def _e_post_increment_expression(self, node: Any) -> Any:
        return self._incdec(node, 1, True)

    def _e_post_decrement_expression(self, node: Any) -> Any:
        return self._incdec(node, -1, True)

    def _e_pre_increment_expression(self, node: Any) -> Any:
        return self._incdec(node, 1, False)

    def _e_pre_decrement_expression(self, node: Any) -> Any:
        return self._incdec(node, -1, False)

    def _binary(self, node: Any) -> tuple[Any, str, Any]:
        kids = [c for c in node.children if c.type != "comment"]
        return kids[0], text_of(kids[1]).lower(), kids[2]

    def _e_additive_expression(self, node: Any) -> Any:
        left, op, right = self._binary(node)
        return ARITHMETIC[op](self.eval(left), self.eval(right))

    _e_multiplicative_expression = _e_additive_expression
    _e_additive_argument_expression = _e_additive_expression
    _e_multiplicative_argument_expression = _e_additive_expression

    def _e_comparison_expression(self, node: Any) -> Any:
        left_node, op, right_node = self._binary(node)
        op = op.lstrip("-")
        left = self.eval(left_node)
        if op in ("is", "isnot", "as"):
            rn = unwrap(right_node)
            type_value = self.eval(rn)
            tname = type_value.name if isinstance(type_value, TypeRef) else to_string(type_value)
            canon = canonical_type(tname)
            if canon is None:
                raise self._not_supported(f"the type [{tname}]", rn)
            if op == "as":
                try:
                    return convert_to(left, canon)
                except PSError:
                    return None
            result = is_instance(left, canon)
            return result if op == "is" else not result
        right = self.eval(right_node)
        return compare(op, left, right, self._set_matches)

    _e_comparison_argument_expression = _e_comparison_expression

    def _e_logical_expression(self, node: Any) -> Any:
        left_node, op, right_node = self._binary(node)
        left = truthy(self.eval(left_node))
        if op == "-and":
            return left and truthy(self.eval(right_node))
        if op == "-or":
            return left or truthy(self.eval(right_node))
        if op == "-xor":
            return left != truthy(self.eval(right_node))
        raise self._not_supported(f"the operator {op}", node)

    _e_logical_argument_expression = _e_logical_expression

    def _e_bitwise_expression(self, node: Any) -> Any:
        left_node, op, right_node = self._binary(node)
        a, b = int(to_number(self.eval(left_node))), int(to_number(self.eval(right_node)))
        if op == "-band":
            return a & b
        if op == "-bor":
            return a | b
        if op == "-bxor":
            return a ^ b
        if op == "-shl":
            return a << b
        if op == "-shr":
            return a >> b
        raise self._not_supported(f"the operator {op}", node)

    _e_bitwise_argument_expression = _e_bitwise_expression

    def _e_format_expression(self, node: Any) -> Any:
        left_node, _op, right_node = self._binary(node)
        fmt = to_string(self.eval(left_node))
        args = self.eval(right_node)
        return format_operator(fmt, list(args) if is_collection(args) else [args])

    _e_format_argument_expression = _e_format_expression

    def _e_range_expression(self, node: Any) -> Any:
        left_node, _op, right_node = self._binary(node)
        return make_range(self.eval(left_node), self.eval(right_node))

    _e_range_argument_expression = _e_range_expression

    def _e_command(self, node: Any) -> Any:
        return collapse(self.run_pipeline(node))

    _e_pipeline_chain = _e_command

    def _e_assignment_expression(self, node: Any) -> Any:
        return self.assign(node)

    def _e_argument_list(self, node: Any) -> Any:
        # `New-Object T($a, $b)`: a parenthesized argument list in command mode is one array argument
        exprs = node.child_by_field_name("argument_expression_list")
        values = [self.eval(c) for c in named(exprs)] if exprs is not None else []
        return values[0] if len(values) == 1 else values

    def _e_generic_token(self, node: Any) -> Any:
        return text_of(node)

    def _e_simple_name(self, node: Any) -> Any:
        return text_of(node)

    # ------------------------------------------------------------------ pipelines and commands
    def run_pipeline(self, node: Any) -> list:
        if node.type == "command":
            elements = [node]
        else:
            elements = [c for c in node.named_children if c.type not in SKIP]
        items: list | None = None
        for idx, element in enumerate(elements):
            element = unwrap(element)
            if element.type == "redirections":     # `<expression> > $null` / `2>&1` after an expression
                redirect: dict = {}
                for r in named(element):
                    self._redirection(r, redirect)
                if redirect.get("1") == "null" or redirect.get("*") == "null":
                    items = []
                continue
            if element.type == "command":
                items = self.run_command(element, items)
            elif idx == 0:
                value = self.eval(element)
                items = [] if value is VOID else (list(value) if is_collection(value) else [value])
            else:
                raise self._not_supported("an expression after '|' (only commands can follow a pipe)", element)
        return items or []

    def _range_command(self, node: Any) -> Any:
        """The grammar reads `1..3` / `1..$n` / `0..($n - 1)` at a statement start as a command."""
        name_node = node.child_by_field_name("command_name")
        name = text_of(name_node)
        left_text, _, right_text = name.partition("..")
        left = parse_number_literal(left_text)
        elements = [c for c in (node.child_by_field_name("command_elements").named_children
                                if node.child_by_field_name("command_elements") is not None else [])
                    if c.type not in SKIP]
        if right_text:
            if elements:
                raise self._not_supported(f"the range expression '{text_of(node)}'", node)
            parsed = parse(right_text)
            stmts = named(next(c for c in parsed.root.named_children if c.type == "statement_list"))
            saved = self.source
            self.source = parsed.source
            try:
                right = self.pipeline_value(stmts[0])
            finally:
                self.source = saved
        else:
            if len(elements) != 1:
                raise self._not_supported(f"the range expression '{text_of(node)}'", node)
            right = self.eval(elements[0])
        return make_range(left, right)

    def _command_tokens(self, node: Any) -> tuple[list[Token], dict]:
        elements_node = node.child_by_field_name("command_elements")
        tokens: list[Token] = []
        redirect: dict = {}
        if elements_node is None:
            return tokens, redirect
        kids = [c for c in elements_node.children if c.type != "comment"]
        i = 0
        while i < len(kids):
            c = kids[i]
            t = c.type
            if t == "command_argument_sep":
                i += 1
                continue
            if t == "command_parameter":
                name = text_of(c)[1:]
                if name.endswith(":"):
                    name = name[:-1]
                    j = i + 1
                    while j < len(kids) and kids[j].type == "command_argument_sep":
                        j += 1
                    tokens.append(Token("param", self._arg_value(kids[j]), name, True, text_of(c)))
                    i = j + 1
                    continue
                if i + 1 < len(kids) and kids[i + 1].type == "command_argument_sep" and text_of(kids[i + 1]) == ":":
                    tokens.append(Token("param", self._arg_value(kids[i + 2]), name, True, text_of(c)))
                    i += 3
                    continue
                tokens.append(Token("param", None, name, False, text_of(c)))
                i += 1
                continue
            if t == "redirection":
                self._redirection(c, redirect)
                i += 1
                continue
            if t == "generic_token" and re.fullmatch(r"[1-6*]?>>?\$null", text_of(c), re.I):
                stream = text_of(c)[0] if text_of(c)[0] in "123456*" else "1"
                redirect[stream] = "null"
                i += 1
                continue
            inner = unwrap(c)
            if inner.type == "variable" and text_of(inner).startswith("@"):
                prefix, vname = self._split_var(text_of(inner))
                splat = self.get_var(vname, prefix)
                if isinstance(splat, Hashtable):
                    for k, v in splat.items():
                        tokens.append(Token("param", v, to_string(k), True, "-" + to_string(k)))
                elif is_collection(splat):
                    tokens.extend(Token("value", v) for v in splat)
                elif splat is not None:
                    tokens.append(Token("value", splat))
                i += 1
                continue
            tokens.append(Token("value", self._arg_value(c)))
            i += 1
        return tokens, redirect

    def _redirection(self, node: Any, redirect: dict) -> None:
        text = text_of(node).replace(" ", "")
        m = re.fullmatch(r"([1-6*]?)>(&1|>?\$null)", text, re.I)
        if m is None:
            raise self._not_supported(f"the redirection '{text_of(node)}' (only >$null, 2>$null, 2>&1, *>$null)",
                                      node)
        stream = m.group(1) or "1"
        redirect[stream] = "merge" if m.group(2) == "&1" else "null"

    def _arg_value(self, node: Any) -> Any:
        inner = unwrap(node)
        if inner.type == "generic_token":
            text = text_of(inner)
            if "$" in text:
                return self._expand_bare(text)
            return text
        if inner.type == "command_parameter":
            return text_of(inner)
        return self.eval(inner)

    def _expand_bare(self, text: str) -> str:
        def sub(m: re.Match) -> str:
            prefix, name = self._split_var(m.group(0))
            return to_string(self.get_var(name, prefix))
        return re.sub(r"\$(\{[^}]+\}|(?:env:|script:|global:)?[A-Za-z_][\w]*)", sub, text)

    def run_command(self, node: Any, input_items: list | None) -> list:
        op_node = next((c for c in node.children if c.type == "command_invokation_operator"), None)
        name_node = node.child_by_field_name("command_name")
        dot = op_node is not None and text_of(op_node) == "."
        if name_node is not None and name_node.type == "command_name" and op_node is None:
            name = text_of(name_node)
            if re.match(r"^\d+\.\.", name):
                value = self._range_command(node)
                return list(value)
            if re.fullmatch(r"[\d.]+(?:e[+-]?\d+)?", name, re.I):
                return [parse_number_literal(name)]
            target: Any = name
        else:
            inner = unwrap(named(name_node)[0]) if name_node is not None and named(name_node) else name_node
            if inner.type == "path_command_name":
                inner = unwrap(named(inner)[0]) if named(inner) else inner
            target = self.eval(inner) if inner.type != "path_command_name_token" else text_of(inner)
        tokens, redirect = self._command_tokens(node)
        display = target if isinstance(target, str) else "<ScriptBlock>" if isinstance(target, ScriptBlock) \
            else to_string(target)
        error_action, ea_tokens = self._error_action(tokens)
        sink: list | None = None
        ev_name = None
        for j, tok in enumerate(tokens):
            if tok.kind == "param" and COMMON_PARAMS.get(tok.name.lower()) == "ErrorVariable":
                if tok.has_value:
                    ev_name = to_string(tok.value)
                elif j + 1 < len(tokens) and tokens[j + 1].kind == "value":
                    ev_name = to_string(tokens[j + 1].value)
        inv = Invocation(display, error_action, merge_errors=redirect.get("2") == "merge" or redirect.get("*") == "merge",
                         discard_errors=redirect.get("2") == "null" or redirect.get("*") == "null")
        if ev_name:
            append = ev_name.startswith("+")
            ev_name = ev_name.lstrip("+")
            sink = ArrayList() if not append or not isinstance(self.get_var(ev_name), list) else self.get_var(ev_name)
            inv.error_sink = sink
            inv.error_variable = ev_name
        inv.node = node
        wv_name = None
        for j, tok in enumerate(tokens):
            common = COMMON_PARAMS.get(tok.name.lower()) if tok.kind == "param" else None
            value = tok.value if tok.has_value else (tokens[j + 1].value if j + 1 < len(tokens) else None)
            if common == "WarningAction":
                inv.warning_action = action_name(value)
            elif common == "WarningVariable":
                wv_name = to_string(value)
        if wv_name:
            inv.warning_sink = ArrayList()
        self.invocations.append(inv)
        try:
            result = self._dispatch(target, tokens, input_items, node, dot, display)
        except PSError as err:
            self.locate(err.record, node)
            if not err.record.command and not err.script_terminating and isinstance(target, str):
                err.record.command = display
            raise
        finally:
            self.invocations.pop()
            if ev_name and sink is not None:
                self.set_var(ev_name, sink)
            if wv_name and inv.warning_sink is not None:
                self.set_var(wv_name.lstrip("+"), inv.warning_sink)
        if redirect.get("1") == "null" or redirect.get("*") == "null":
            return []
        return result

    def _error_action(self, tokens: list[Token]) -> tuple[str, list]:
        for i, tok in enumerate(tokens):
            if tok.kind == "param" and COMMON_PARAMS.get(tok.name.lower()) == "ErrorAction":
                value = tok.value if tok.has_value else (tokens[i + 1].value if i + 1 < len(tokens) else None)
                return action_name(value), tokens
        return self.preference("ErrorActionPreference"), tokens

    def _dispatch(self, target: Any, tokens: list[Token], input_items: list | None, node: Any, dot: bool,
                  display: str) -> list:
        if isinstance(target, ScriptBlock):
            fdef = self.block_function(target)
            return self.invoke_function(fdef, tokens, input_items, dot_source=dot, invocation_name="")
        if isinstance(target, FunctionDef):
            return self.invoke_function(target, tokens, input_items, dot_source=dot)
        if not isinstance(target, str):
            if target is None:
                raise runtime_error("The expression after '&' in a pipeline element produced an object that was "
                                    "not valid. It must result in a command name, a script block, or a "
                                    "CommandInfo object.", "BadExpression")
            target = to_string(target)
        name = target
        lname = name.lower()
        if lname in ("invoke-expression", "iex"):
            raise self._not_supported("Invoke-Expression (build a script block with [ScriptBlock]::Create)", node)
        fdef = self.find_function(name)
        if fdef is not None:
            return self.invoke_function(fdef, tokens, input_items, dot_source=dot)
        util = self.utilities.get(lname)
        if util is not None and not util.prefer_registry:
            return util.invoke(self, tokens, input_items)
        info = self._registry_lookup(name)
        if info is not None:
            return self._invoke_registry(info, tokens, input_items, name)
        if util is not None:
            return util.invoke(self, tokens, input_items)
        if re.match(r"^[a-z]:\\|^\.\\|\.ps1$|\.exe$", name, re.I):
            raise self._not_supported(f"running '{name}' (scripts and programs on the host)", node)
        raise PSError(ErrorRecord(
            message=NOT_FOUND_TEXT.format(name), fully_qualified_error_id="CommandNotFoundException",
            category="ObjectNotFound", target_name=name, target_type="String", command=name, activity="",
            exception_type="System.Management.Automation.CommandNotFoundException", target_object=name))

    def _registry(self) -> Any:
        try:
            from hvsim.cmdlets import registry  # noqa: PLC0415 - the layer below, loaded on first use
        except ImportError:
            return None
        return registry

    def _registry_lookup(self, name: str) -> Any:
        registry = self._registry()
        if registry is None or not hasattr(registry, "lookup"):
            return None
        return registry.lookup(name)

    def _invoke_registry(self, info: Any, tokens: list[Token], input_items: list | None, name: str) -> list:
        registry = self._registry()
        args = []
        i = 0
        takes_argument = getattr(info, "takes_argument", None)
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind == "value":
                args.append(registry.Arg(None, tok.value))
            elif tok.has_value:
                args.append(registry.Arg(tok.name, tok.value, False))
            else:
                is_switch = callable(takes_argument) and not takes_argument(tok.name)
                nxt = tokens[i + 1] if i + 1 < len(tokens) else None
                if not is_switch and nxt is not None and nxt.kind == "value":
                    args.append(registry.Arg(tok.name, nxt.value, False))
                    i += 1
                else:
                    args.append(registry.Arg(tok.name, True, True))
            i += 1
        ctx = self.ctx
        warnings = getattr(ctx, "warnings", None)
        start = len(warnings) if isinstance(warnings, list) else 0
        warning_action = None
        for j, tok in enumerate(tokens):
            if tok.kind == "param" and COMMON_PARAMS.get(tok.name.lower()) == "WarningAction":
                warning_action = action_name(tok.value if tok.has_value else
                                             (tokens[j + 1].value if j + 1 < len(tokens) else None))
        try:
            return list(registry.invoke(info, ctx, args, input_items) or [])
        except registry.CmdletError as exc:
            record = cmdlet_error_record(exc, name)
            terminating = bool(getattr(exc, "terminating", False)) or isinstance(exc, registry.ParameterBindingError)
            if terminating:
                raise PSError(record) from None
            return self.write_error(record)
        finally:
            if isinstance(warnings, list):
                for msg in warnings[start:]:
                    self.warn(to_string(msg), warning_action)
                del warnings[start:]


def cmdlet_error_record(exc: Any, command: str) -> ErrorRecord:
    target = getattr(exc, "target", None)
    message = getattr(exc, "message", None) or str(exc)
    error_id = getattr(exc, "error_id", None) or "NotSpecified"
    return ErrorRecord(
        message=message, fully_qualified_error_id=error_id,
        category=getattr(exc, "category", "NotSpecified") or "NotSpecified",
        target_name=to_string(target) if target is not None else "",
        target_type=ps_type_of(target) if target is not None else "",
        command=command,
        exception_type=getattr(exc, "exception_type", None) or "Microsoft.Management.Infrastructure.CimException",
        target_object=target)


# ---------------------------------------------------------------------------- helpers
def action_name(value: Any) -> str:
    names = {"silentlycontinue": "SilentlyContinue", "stop": "Stop", "continue": "Continue",
             "inquire": "Inquire", "ignore": "Ignore", "suspend": "Suspend"}
    if isinstance(value, int) and not isinstance(value, bool):
        return ["SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"][value] \
            if 0 <= value <= 5 else "Continue"
    text = to_string(value).strip().lower()
    if text not in names:
        if value is None:
            return "Continue"
        raise PSError(ErrorRecord(
            message=f'Cannot convert value "{to_string(value)}" to type "System.Management.Automation.ActionPreference". '
                    'Error: "Unable to match the identifier name ' + to_string(value) + ' to a valid enumerator name. '
                    'Specify one of the following enumerator names and try again:\r\nSilentlyContinue, Stop, Continue, '
                    'Inquire, Ignore, Suspend"',
            fully_qualified_error_id="RuntimeException", category="InvalidArgument",
            exception_type="System.Management.Automation.PSInvalidCastException"))
    return names[text]


_NUM = re.compile(r"^(0x[0-9a-f]+|\d*\.?\d+(?:e[+-]?\d+)?)(l|d)?(kb|mb|gb|tb|pb)?$", re.I)


def parse_number_literal(text: str) -> int | float:
    m = _NUM.match(text.strip())
    if not m:
        raise runtime_error(f"Bad numeric constant: {text}.", "BadNumericConstant", "ParserError",
                            "System.Management.Automation.ParseException")
    body, _type_suffix, mult = m.group(1), m.group(2), m.group(3)
    if body.lower().startswith("0x"):
        value: int | float = int(body, 16)
        if value >= 2**31 and value < 2**32 and not _type_suffix:
            value -= 2**32    # hex literals are Int32 in 5.1 (0xFFFFFFFF is -1)
    elif re.fullmatch(r"\d+", body):
        value = int(body)
    else:
        value = float(body)
    if mult:
        value = value * {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}[mult.lower()]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
    return value


def make_range(left: Any, right: Any) -> list:
    a, b = int(to_number(left)), int(to_number(right))
    if abs(b - a) > 50_000_000:
        raise runtime_error("The range operator produced too many elements.", "RangeTooBig")
    step = 1 if b >= a else -1
    return list(range(a, b + step, step))


def here_body(raw: str) -> str:
    first_nl = raw.find("\n")
    last_nl = raw.rfind("\n")
    body = raw[first_nl + 1:last_nl]
    if body.endswith("\r"):
        body = body[:-1]
    return body.replace("\r\n", "\n") if False else body


def unescape(text: str, here: bool) -> str:
    if "`" not in text and ('""' not in text or here):
        return text
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "`" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if c == '"' and not here and i + 1 < len(text) and text[i + 1] == '"':
            out.append('"')
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def element(target: Any, index: Any, interp: Interpreter | None = None) -> Any:
    if target is None:
        raise runtime_error("Cannot index into a null array.", "NullArray")
    if isinstance(target, members.PropertyCollection):
        return target.by_name(to_string(index))
    if isinstance(target, dict):
        if is_collection(index):
            return [target.get(k) for k in index]
        return target.get(index) if not isinstance(index, str) or index in target else None
    if isinstance(target, (list, tuple, str, bytes, bytearray)):
        if is_collection(index):
            out = [element(target, i) for i in index]
            return [x for x in out if x is not None]
        try:
            i = int(to_number(index))
        except PSError:
            return None
        if -len(target) <= i < len(target):
            value = target[i]
            return value
        return None
    if isinstance(target, PSObject):
        if isinstance(index, str) and target.has_prop(index):
            return None
        return target if to_number(index) in (0, -1) else None
    try:
        i = int(to_number(index))
    except PSError:
        return None
    return target if i in (0, -1) else None
