"""Shared pieces of the interpreter: node helpers, scopes, parameter and command-line records."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .conversions import to_string
from .errors import ErrorRecord, PSError
from .parser import Source

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
    "whatif": "WhatIf", "wi": "WhatIf", "confirm": "Confirm", "cf": "Confirm",
}
SWITCH_COMMON = {"Verbose", "Debug", "WhatIf", "Confirm"}
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
