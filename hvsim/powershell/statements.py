"""Statements: pipelines as statements, if/foreach/for/while/do/switch, try/catch/finally, flow control.

A mixin of the Interpreter (hvsim/powershell/interpreter.py).
"""
from __future__ import annotations

from typing import Any

from .conversions import to_number, to_string, truthy
from .errors import BreakLoop, ContinueLoop, ErrorRecord, ExitScript, FlowControl, PSError, ReturnFromBlock, ps_type_of
from .members import VOID
from .model import STATEMENTS, FunctionDef, Scope, collapse, named, text_of, unwrap
from .operators import compare
from .values import Hashtable, PSObject, is_collection


class Statements:
    """Statement execution (mixed into Interpreter)."""

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
