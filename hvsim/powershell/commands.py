"""Pipelines and commands: arguments, splatting, redirection, dispatch to functions, the utility
cmdlets and the cmdlet registry, with error actions applied.

A mixin of the Interpreter (hvsim/powershell/interpreter.py).
"""
from __future__ import annotations

import re
from typing import Any

from .conversions import to_string
from .errors import ErrorRecord, PSError, ps_type_of
from .expressions import make_range, parse_number_literal
from .members import VOID
from .model import (COMMON_PARAMS, NOT_FOUND_TEXT, SKIP, FunctionDef, Invocation, Token, action_name, named,
                    text_of, unwrap)
from .operators import runtime_error
from .parser import parse
from .values import ArrayList, Hashtable, ScriptBlock, is_collection


class Commands:
    """Pipeline and command execution (mixed into Interpreter)."""

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
        wv_name = ov_name = None
        for j, tok in enumerate(tokens):
            common = COMMON_PARAMS.get(tok.name.lower()) if tok.kind == "param" else None
            value = tok.value if tok.has_value else (tokens[j + 1].value if j + 1 < len(tokens) else None)
            if common == "WarningAction":
                inv.warning_action = action_name(value)
            elif common == "WarningVariable":
                wv_name = to_string(value)
            elif common == "OutVariable":
                ov_name = to_string(value)
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
        if ov_name:
            # -OutVariable keeps the command's output in an ArrayList ('+name' appends), whatever
            # happens to the output afterwards
            append = ov_name.startswith("+")
            ov_name = ov_name.lstrip("+")
            kept = self.get_var(ov_name) if append and isinstance(self.get_var(ov_name), list) else ArrayList()
            kept.extend(result)
            self.set_var(ov_name, kept)
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
        command=command, activity=getattr(exc, "activity", None),   # "" for a command that is not there
        exception_type=getattr(exc, "exception_type", None) or "Microsoft.Management.Infrastructure.CimException",
        target_object=target)
