"""Expressions: literals, strings, variables, operators, members, casts, assignment.

A mixin of the Interpreter (hvsim/powershell/interpreter.py); `eval(node)` dispatches on the
tree-sitter node type to `_e_<type>`.
"""
from __future__ import annotations

import re
from typing import Any

from . import members
from .conversions import canonical_type, convert_to, is_instance, to_number, to_string, truthy
from .errors import ErrorRecord, PSError
from .members import VOID, TypeRef
from .model import collapse, named, text_of, unwrap, ESCAPES
from .operators import ARITHMETIC, compare, runtime_error, unary_join, unary_split
from .values import Hashtable, PSObject, ScriptBlock, is_collection


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


class Expressions:
    """Expression evaluation (mixed into Interpreter)."""

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
        if value >= 2**63 and not mult:
            value = float(value)          # beyond Int64 (and Decimal) a literal becomes a Double
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
    return body


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


def element(target: Any, index: Any, interp: Any = None) -> Any:
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
    try:
        i = int(to_number(index))
    except PSError:
        return None
    return target if i in (0, -1) else None
