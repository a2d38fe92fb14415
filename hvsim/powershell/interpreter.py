"""The interpreter: walks tree-sitter-powershell trees with Windows PowerShell 5.1 semantics.

Statements emit into an output list; pipelines run eagerly (each command gets the whole list of
upstream objects); errors follow ErrorActionPreference; anything outside the documented subset
(docs/hvsim-powershell.md) raises NotSupportedError naming the construct and its line.

This module holds the runspace (variables, scopes, errors, function and script block invocation
with parameter binding); the mixins hold the rest: statements.py (control flow), expressions.py
(values and operators), commands.py (pipelines, arguments, dispatch to functions, utility cmdlets
and the cmdlet registry).
"""
from __future__ import annotations

import copy
import datetime as _dt
from typing import Any

from . import members
from .commands import Commands
from .conversions import UTC, canonical_type, convert_to, to_number, to_string, truthy
from .errors import ErrorRecord, ExitScript, FlowControl, NotSupportedError, PSError, ReturnFromBlock, ps_type_of
from .expressions import Expressions, format_operator  # noqa: F401  (format_operator: re-exported)
from .members import VOID
from .model import (COMMON_PARAMS, MISSING, SWITCH_COMMON, FunctionDef, Invocation, ParamDef, Scope, Token,
                    action_name, named, text_of, unwrap)
from .operators import runtime_error
from .parser import Parsed, Source, parse
from .statements import Statements
from .values import ArrayList, Hashtable, PSObject, ScriptBlock, Version, is_collection


class Interpreter(Statements, Expressions, Commands):
    """One PowerShell runspace: global scope, error stream, host output."""

    def __init__(self, ctx: Any, stdin: Any = None) -> None:
        self.ctx = ctx
        if ctx is not None:
            try:
                ctx.runner = self
            except AttributeError:
                pass
        self.errors: list[ErrorRecord] = []
        self.streams: list[tuple[str, Any]] = []   # ("error", record) / ("warning"|"verbose"|"debug", text)
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
        self._host_partial = False                # Write-Host -NoNewline left the line open
        self.last_ok = True                       # $?
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
        return self._world_now() + self.clock_offset + self._clock_skew()

    def _clock_skew(self) -> _dt.timedelta:
        """The host's clock error (a lab file's clock_skew_seconds): what a preflight compares."""
        world, session = getattr(self.ctx, "world", None), getattr(self.ctx, "session", None)
        try:
            return _dt.timedelta(seconds=float(world.data["hosts"][session.host].get("clock_skew_seconds") or 0))
        except (AttributeError, KeyError, TypeError, ValueError):
            return _dt.timedelta(0)

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
        if lname == "?":
            return self.last_ok
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
        except RecursionError:
            self._record_error(ErrorRecord(message="The script failed due to call depth overflow.",
                                           fully_qualified_error_id="CallDepthOverflow", category="InvalidOperation",
                                           exception_type="System.Management.Automation.ScriptCallDepthException"))
            return 1
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
            self._host_partial = False
            self.host_lines.extend(render_output(values))
            values.clear()

    def write_host(self, text: str, newline: bool = True) -> None:
        parts = text.replace("\r\n", "\n").split("\n")
        if self._host_partial and self.host_lines:
            self.host_lines[-1] += parts.pop(0)
        self.host_lines.extend(parts)
        self._host_partial = not newline

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
            self.streams.append(("error", record))

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
        if action != "Ignore":
            self._collect("error_sink", record)
        if action == "Stop":
            raise PSError(record, script_terminating=True)
        self.failures += 1
        if action == "Ignore":
            return []
        if action == "SilentlyContinue":
            self._record_error(record, to_stream=False)
            return []
        # The error stream of a command run inside a script block or function flows into its caller's:
        # the nearest command with a 2> / *> redirection decides (`& $block 2>&1` gets the block's errors).
        redirected = next((i for i in reversed(self.invocations) if i.merge_errors or i.discard_errors), None)
        if redirected is not None and redirected.merge_errors:
            self.error_list.insert(0, record)
            return [record]
        self._record_error(record, to_stream=redirected is None)
        return []

    def _collect(self, sink_name: str, item: Any) -> None:
        """-ErrorVariable / -WarningVariable: every enclosing command that asked for one collects the
        record, so an advanced function's variable holds what the commands inside it wrote."""
        seen: list = []
        for inv in self.invocations:
            sink = getattr(inv, sink_name)
            if sink is not None and not any(sink is s for s in seen):
                seen.append(sink)
                sink.append(item)

    def warn(self, message: str, action: str | None = None) -> None:
        self._collect("warning_sink", message)
        action = action or self.preference("WarningPreference")
        if action in ("SilentlyContinue", "Ignore"):
            return
        if action == "Stop":
            raise PSError(ErrorRecord(
                message=f'The running command stopped because the preference variable "WarningPreference" or '
                        f'common parameter is set to Stop: {message}',
                fully_qualified_error_id="ActionPreferenceStop", category="OperationStopped",
                exception_type="System.Management.Automation.ActionPreferenceStopException"), True)
        self.streams.append(("warning", message))

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
                            if pipe_param and input_items is not None:
                                self._bind_pipeline_item(pipe_param, item)
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
                    if pipe_param and input_items:
                        for item in input_items:       # no process block: the last record stays bound
                            self._bind_pipeline_item(pipe_param, item)
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

    def _bind_pipeline_item(self, pipe_params: list, item: Any) -> None:
        """ValueFromPipeline takes the record; ValueFromPipelineByPropertyName takes its property."""
        for pdef in pipe_params:
            if pdef.from_pipeline:
                value = item
            else:
                names = [pdef.name] + list(pdef.aliases)
                holder = next((n for n in names if isinstance(item, PSObject) and item.has_prop(n)
                               or isinstance(item, Hashtable) and n in item), None)
                if holder is None:
                    continue
                value = members.get_member(item, holder)
            self.set_var(pdef.name, convert_to(value, pdef.type) if pdef.type else value)

    def _binding_error(self, message: str, error_id: str, command: str, target: Any = None,
                       category: str = "InvalidArgument") -> PSError:
        return PSError(ErrorRecord(
            message=message, fully_qualified_error_id=f"{error_id},{command}" if command else error_id,
            category=category, target_name=to_string(target) if target is not None else "",
            target_type=ps_type_of(target) if target is not None else "", command=command,
            exception_type="System.Management.Automation.ParameterBindingException", target_object=target))

    def _bind(self, fdef: FunctionDef, tokens: list[Token], input_items: list | None,
              invocation_name: str | None) -> list:
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
                        on = value is MISSING or truthy(value)
                        if common == "Verbose" and on:
                            self.scope.vars["verbosepreference"] = ["VerbosePreference", "Continue"]
                        elif common == "WhatIf":
                            self.scope.vars["whatifpreference"] = ["WhatIfPreference", on]
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
                if fdef.advanced:
                    raise self._binding_error(f"A parameter cannot be found that matches parameter name "
                                              f"'{tok.name}'.", "NamedParameterNotFound", cmd, tok.name)
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
        # with any explicit Position, only the parameters that declare one are positional (as in PowerShell)
        explicit = any(p.position is not None for p in fdef.params)
        open_params = [p for p in fdef.params if p.name not in bound and not p.is_switch
                       and (p.position is not None or not explicit)]
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
        pipe_params: list[ParamDef] = []
        if input_items is not None:
            by_value = next((p for p in fdef.params if p.from_pipeline and p.name not in bound), None)
            pipe_params = ([by_value] if by_value is not None else []) + [
                p for p in fdef.params if p.from_pipeline_by_name and not p.from_pipeline and p.name not in bound]
        missing = [p.name for p in fdef.params if p.mandatory and p.name not in bound and p not in pipe_params]
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
        self.scope.vars["myinvocation"] = ["MyInvocation", self._my_invocation(cmd, bound)]
        if fdef.advanced:
            self.scope.vars["pscmdlet"] = ["PSCmdlet", self._ps_cmdlet(cmd)]
        self.scope.vars["args"] = ["args", extra_args]
        return pipe_params

    def _my_invocation(self, name: str, bound: dict) -> PSObject:
        command = PSObject({"Name": name, "CommandType": "Function" if name else "Script"},
                           type_name="System.Management.Automation.FunctionInfo", methods={"ToString": lambda: name})
        return PSObject({"MyCommand": command, "InvocationName": name, "BoundParameters": Hashtable(bound),
                         "ScriptName": "", "PSScriptRoot": "", "PSCommandPath": "", "Line": ""},
                        type_name="System.Management.Automation.InvocationInfo")

    def _ps_cmdlet(self, name: str) -> PSObject:
        """$PSCmdlet in an advanced function: the members scripts use."""
        def throw_terminating(record: Any) -> None:
            if not isinstance(record, ErrorRecord):
                raise members.not_supported("$PSCmdlet.ThrowTerminatingError with anything but an error record")
            raise PSError(record)

        def write_error(record: Any) -> Any:
            if not isinstance(record, ErrorRecord):
                raise members.not_supported("$PSCmdlet.WriteError with anything but an error record")
            self.write_error(record)
            return VOID

        return PSObject({"ParameterSetName": "__AllParameterSets", "MyInvocation": self._my_invocation(name, {})},
                        type_name="System.Management.Automation.PSScriptCmdlet",
                        methods={"ShouldProcess": lambda *a: not truthy(self.get_var("WhatIfPreference")),
                         "ShouldContinue": lambda *a: True,
                                 "ThrowTerminatingError": throw_terminating, "WriteError": write_error,
                                 "WriteVerbose": lambda m: (self.streams.append(("verbose", to_string(m)))
                                                            if self.preference("VerbosePreference") == "Continue"
                                                            else None) or VOID,
                                 "WriteWarning": lambda m: self.warn(to_string(m)) or VOID})

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
        inner.streams = self.streams
        inner.host_lines = self.host_lines
        inner.scope = Scope(inner.global_scope, "script")
        if ctx is not None and self.ctx is not None:
            try:
                self.ctx.runner = self
            except AttributeError:
                pass
        errors_before = len(self.errors)
        try:
            return inner.invoke_block_value(block, list(args))
        finally:
            inner.errors, inner.streams = [], []
            if len(self.errors) > errors_before:
                self.failures += 1     # errors in the remote block leave the caller's $? false

    # ------------------------------------------------------------------ statements
    def exec_statement(self, node: Any, out: list) -> None:
        before = self.failures
        try:
            self._exec(node, out)
            if node.type not in ("function_statement", "empty_statement", "comment", "label"):
                self.last_ok = self.failures == before       # $?
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
            self.last_ok = False
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


