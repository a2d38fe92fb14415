"""Parsing with tree-sitter-powershell, plus the grammar's known gaps (notes/POWERSHELL.md).

- Number suffixes: the grammar knows `1gb` but reads `1GB` as a command name (or an error).
  PowerShell's suffixes are case-insensitive, so a pre-pass lowercases KB/MB/GB/TB/PB after a
  number outside strings and comments. Same length, so every position stays valid.
- `function f { param($a) ... }` on one line: the grammar wraps the param block in an ERROR
  node; the interpreter accepts exactly that shape.
- One-line switch clauses (`switch ($x) { 'a' { 1 } default { 2 } }`): rejected with a clear
  message asking for one clause per line.
Parsed trees are cached by script text.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import tree_sitter
import tree_sitter_powershell

from .errors import ErrorRecord, PSError

_LANGUAGE = tree_sitter.Language(tree_sitter_powershell.language())
_local = threading.local()

_SUFFIX = re.compile(r"(?<![\w$.])(0x[0-9a-fA-F]+|\d+(?:\.\d+)?)(KB|MB|GB|TB|PB|kB|Kb|mB|Mb|gB|Gb|tB|Tb|pB|Pb)(?![\w])")
_TEXT_NODES = {"string_literal", "comment", "expandable_string_literal", "expandable_here_string_literal",
               "verbatim_string_characters", "verbatim_here_string_characters"}


def _parser() -> tree_sitter.Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = tree_sitter.Parser(_LANGUAGE)
        _local.parser = parser
    return parser


@dataclass(frozen=True)
class Source:
    """A script's text, split in lines for error positions."""
    text: str
    name: str = ""

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    def line_text(self, row: int) -> str:
        lines = self.lines
        return lines[row].rstrip("\r") if 0 <= row < len(lines) else ""


@dataclass(frozen=True)
class Parsed:
    source: Source
    tree: Any
    root: Any


def _inside_text(root: Any, start: int, end: int) -> bool:
    node = root.descendant_for_byte_range(start, end)
    while node is not None:
        if node.type in _TEXT_NODES:
            return True
        node = node.parent
    return False


def _lowercase_suffixes(text: str) -> str:
    if not _SUFFIX.search(text):
        return text
    data = text.encode("utf-8")
    tree = _parser().parse(data)
    chars = list(text)
    changed = False
    for m in _SUFFIX.finditer(text):
        start_b = len(text[:m.start()].encode("utf-8"))
        end_b = start_b + len(m.group(0).encode("utf-8"))
        if _inside_text(tree.root_node, start_b, end_b):
            continue
        s = m.start(2)
        for i in range(s, m.end(2)):
            chars[i] = chars[i].lower()
        changed = True
    return "".join(chars) if changed else text


def _allowed_error(node: Any) -> bool:
    """The one ERROR shape accepted: a param block right after a function's opening brace."""
    named = [c for c in node.named_children if c.type != "comment"]
    return (node.parent is not None and node.parent.type == "function_statement"
            and len(named) == 1 and named[0].type == "param_block")


def _first_error(node: Any) -> Any | None:
    if not node.has_error:
        return None
    for child in node.children:
        if child.type == "ERROR" and not _allowed_error(child):
            return child
        if child.is_missing:
            return child
        found = _first_error(child)
        if found is not None:
            return found
    if node.type == "ERROR" and not _allowed_error(node):
        return node
    return None


def parse_error(source: Source, node: Any, message: str, error_id: str = "UnexpectedToken") -> PSError:
    row, col_b = node.start_point
    line = source.line_text(row)
    col = len(line.encode("utf-8")[:col_b].decode("utf-8", "replace"))
    text = node.text.decode("utf-8", "replace") if node.text else ""
    record = ErrorRecord(
        message=message, fully_qualified_error_id=error_id, category="ParserError",
        exception_type="System.Management.Automation.ParentContainsErrorRecordException",
        line=row + 1, column=col + 1, line_text=line,
        extent_length=max(1, len(text.split("\n")[0])))
    return PSError(record, script_terminating=True)


def _describe_error(source: Source, node: Any) -> PSError:
    # One-line switch clauses: a known grammar gap, say so plainly.
    parent = node.parent
    while parent is not None and parent.type not in ("switch_statement", "program"):
        parent = parent.parent
    if parent is not None and parent.type == "switch_statement":
        return parse_error(source, node,
                           "hvsim's parser (tree-sitter-powershell) cannot read several switch clauses on "
                           "one line; put each clause on its own line.", "NotSupported.OneLineSwitch")
    row = node.start_point[0]
    line = source.line_text(row)
    if re.search(r"(^|\s)-?[A-Za-z_][\w.-]*\s*,\s*\S", line) and (node.is_missing or "," in (node.text or b"").decode(
            "utf-8", "replace") or node.type == "ERROR"):
        return parse_error(source, node,
                           "hvsim's parser (tree-sitter-powershell) cannot read unquoted comma-separated command "
                           "arguments such as `Select-Object Id, Name`; quote them: 'Id', 'Name'.",
                           "NotSupported.BarewordList")
    if node.is_missing:
        known = {"}": ("Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace"),
                 ")": ("Missing closing ')' in expression.", "MissingEndParenthesisInExpression"),
                 "]": ("Missing ']' at end of attribute or type literal.", "EndSquareBracketExpectedAtEndOfAttribute")}
        message, error_id = known.get(node.type, (f"Missing '{node.type}' in statement.", "MissingToken"))
        return parse_error(source, node, message, error_id)
    text = (node.text or b"").decode("utf-8", "replace").strip().split("\n")[0]
    if not text:
        return parse_error(source, node, "Incomplete statement.", "IncompleteParseException")
    token = text.split()[0] if text.split() else text
    return parse_error(source, node, f"Unexpected token '{token}' in expression or statement.")


_STRING_OR_WORD = re.compile(r"""'(?:[^']|'')*'|"(?:[^"`]|`.|"")*"|(?<![\w$@\-.\[:])([A-Za-z_][\w.*-]*)(?![\w(=:\[])""")


def _quote_bareword_lists(line: str) -> str:
    """`Select-Object Name, Size` -> `Select-Object 'Name', 'Size'` (the grammar cannot read bareword lists)."""
    out: list[str] = []
    pos = 0
    for m in _STRING_OR_WORD.finditer(line):
        word = m.group(1)
        if word is None:
            continue
        before = line[:m.start()].rstrip()
        after = line[m.end():].lstrip()
        if not (before.endswith(",") or after.startswith(",")):
            continue
        if before.endswith(("=", "(")) or re.search(r"(?:^|[\s;{(|])(?:param|function|foreach|if|elseif|while|switch)\s*$",
                                                    before, re.I):
            continue
        out.append(line[pos:m.start()] + "'" + word + "'")
        pos = m.end()
    out.append(line[pos:])
    return "".join(out)


_FOREACH_AT_START = re.compile(r"((?:^|[;{(])\s*)ForEach-Object\b", re.I)


def _bridge_line(line: str) -> str:
    """Same-length rewrites for the grammar's gaps on a line that failed to parse."""
    # `ForEach-Object` starting a statement reads as the foreach keyword: use its alias `%`
    line = _FOREACH_AT_START.sub(lambda m: m.group(1) + "%" + " " * 13, line)
    return _quote_bareword_lists(line)


def _error_rows(node: Any, rows: set[int]) -> None:
    if not node.has_error and not node.is_missing:
        return
    if (node.type == "ERROR" and not _allowed_error(node)) or node.is_missing:
        rows.add(node.start_point[0])
    for child in node.children:
        _error_rows(child, rows)


def _separate_param_blocks(tree: Any, text: str) -> tuple[Any, str]:
    """`function f { [CmdletBinding()] param() Write-Warning 'w' }` on one line: the grammar swallows
    the body's first command into an ERROR with the param block. PowerShell ends the param block at
    its ')'; a ';' in place of the blank after it tells the grammar the same (same length, so every
    position stays valid)."""
    data = bytearray(text.encode("utf-8"))
    for _attempt in range(16):
        spots = []

        def walk(node: Any) -> None:
            if (node.type == "ERROR" and node.parent is not None and node.parent.type == "function_statement"
                    and node.named_children and node.named_children[0].type == "param_block"
                    and not _allowed_error(node)):
                end = node.named_children[0].end_byte
                if end < len(data) and data[end:end + 1] in (b" ", b"\t"):
                    spots.append(end)
            for c in node.children:
                if c.has_error or c.type == "ERROR":
                    walk(c)
        walk(tree.root_node)
        if not spots:
            break
        for end in spots:
            data[end:end + 1] = b";"
        tree = _parser().parse(bytes(data))
    return tree, data.decode("utf-8")


def _has_code(text: str) -> bool:
    """False for a script of only whitespace and comments."""
    stripped = re.sub(r"<#.*?#>", "", text, flags=re.S)
    stripped = re.sub(r"(?m)#.*$", "", stripped)
    return bool(stripped.strip())


@lru_cache(maxsize=256)
def parse(text: str, name: str = "") -> Parsed:
    """Parse a script (cached by text). Raises PSError (ParserError) on a syntax error."""
    source = Source(text, name)
    prepared = _lowercase_suffixes(text)
    if not _has_code(prepared):
        prepared += "\n$null = $null"     # the grammar rejects a program without statements
    tree = _parser().parse(prepared.encode("utf-8"))
    bad = _first_error(tree.root_node)
    if bad is not None:
        tree, prepared = _separate_param_blocks(tree, prepared)
        bad = _first_error(tree.root_node)
    if bad is not None:
        # second chance for the grammar's one gap in command arguments: unquoted comma lists
        lines = prepared.split("\n")
        fixed = list(lines)
        retry = tree
        for _attempt in range(8):       # error recovery can hide later failing lines: repeat
            rows: set[int] = set()
            _error_rows(retry.root_node, rows)
            before = list(fixed)
            for row in rows:
                if 0 <= row < len(fixed):
                    fixed[row] = _bridge_line(fixed[row])
            if fixed == before:
                break
            retry = _parser().parse("\n".join(fixed).encode("utf-8"))
            if _first_error(retry.root_node) is None:
                return Parsed(source, retry, retry.root_node)
        raise _describe_error(source, bad)
    return Parsed(source, tree, tree.root_node)
