"""Error records, terminating errors and flow control for the interpreter.

ErrorRecord.default_view() renders a record the way Windows PowerShell 5.1's default
error view (ConciseView did not exist yet) prints it; the protocol layer wraps that text
in CLIXML for stderr.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .values import net_type_name

# System.Management.Automation.ErrorCategory, by value.
ERROR_CATEGORIES = [
    "NotSpecified", "OpenError", "CloseError", "DeviceError", "DeadlockDetected", "InvalidArgument",
    "InvalidData", "InvalidOperation", "InvalidResult", "InvalidType", "MetadataError",
    "NotImplemented", "NotInstalled", "ObjectNotFound", "OperationStopped", "OperationTimeout",
    "SyntaxError", "ParserError", "PermissionDenied", "ResourceBusy", "ResourceExists",
    "ResourceUnavailable", "ReadError", "WriteError", "FromStdErr", "SecurityError",
    "ProtocolError", "ConnectionError", "AuthenticationError", "LimitsExceeded", "QuotaExceeded",
    "NotEnabled",
]


def category_value(name: str) -> int:
    lowered = {c.lower(): i for i, c in enumerate(ERROR_CATEGORIES)}
    return lowered.get(str(name).lower(), 0)


def normalize_category(name: str) -> str:
    return ERROR_CATEGORIES[category_value(name)]


def short_type_name(full: str) -> str:
    return full.rsplit(".", 1)[-1] if full else ""


def ps_type_of(value: Any) -> str:
    """The short .NET type name CategoryInfo shows for a target object."""
    if isinstance(value, tuple):
        value = list(value)
    return short_type_name(net_type_name(value))


@dataclass
class ErrorRecord:
    """System.Management.Automation.ErrorRecord, as much of it as scripts and the error view use."""

    message: str
    fully_qualified_error_id: str
    category: str = "NotSpecified"
    target_name: str = ""
    target_type: str = ""
    command: str = ""                   # InvocationInfo.MyCommand (shown as "<Command> : ")
    activity: str | None = None         # CategoryInfo.Activity (shown in "[...]"); None = the command
    exception_type: str = "System.Management.Automation.RuntimeException"
    line: int = 0                       # 1-based; 0 = no position
    column: int = 0                     # 1-based
    line_text: str = ""
    extent_length: int = 1
    target_object: Any = None
    script_name: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.category = normalize_category(self.category)

    @property
    def exception_short_type(self) -> str:
        return short_type_name(self.exception_type)

    def category_info_text(self) -> str:
        activity = self.command if self.activity is None else self.activity
        return (f"{self.category}: ({self.target_name}:{self.target_type}) [{activity}], "
                f"{self.exception_short_type}")

    def _position_lines(self) -> list[str]:
        if not self.line:
            return []
        where = f"At {self.script_name}:{self.line} char:{self.column}" if self.script_name \
            else f"At line:{self.line} char:{self.column}"
        text = self.line_text.rstrip("\r\n")
        start = max(self.column - 1, 0)
        length = max(1, min(self.extent_length, max(len(text) - start, 1)))
        return [where, "+ " + text, "+ " + " " * start + "~" * length]

    def default_view(self) -> str:
        """The text Windows PowerShell 5.1 prints for this record (CRLF line ends)."""
        lines: list[str] = []
        if self.category == "ParserError":
            lines += self._position_lines()
            lines.append(self.message)
        else:
            lines.append(f"{self.command} : {self.message}" if self.command else self.message)
            lines += self._position_lines()
        lines.append(f"    + CategoryInfo          : {self.category_info_text()}")
        lines.append(f"    + FullyQualifiedErrorId : {self.fully_qualified_error_id}")
        lines.append(" ")
        return "\r\n".join(lines) + "\r\n"

    def __str__(self) -> str:
        return self.message


class PSError(Exception):
    """A terminating error carrying its ErrorRecord.

    script_terminating: `throw`, -ErrorAction Stop, parse errors. Otherwise the error is
    statement-terminating (a cmdlet's ThrowTerminatingError, a failed conversion, an unknown
    command): outside try/catch and without ErrorActionPreference=Stop the statement is
    abandoned, the error written, and the script goes on, as in Windows PowerShell.
    """

    def __init__(self, record: ErrorRecord, script_terminating: bool = False) -> None:
        super().__init__(record.message)
        self.record = record
        self.script_terminating = script_terminating


class NotSupportedError(PSError):
    """A construct outside hvsim's documented PowerShell subset (always terminating)."""


class FlowControl(Exception):
    pass


class BreakLoop(FlowControl):
    def __init__(self, label: str | None = None) -> None:
        super().__init__(label)
        self.label = label


class ContinueLoop(FlowControl):
    def __init__(self, label: str | None = None) -> None:
        super().__init__(label)
        self.label = label


class ReturnFromBlock(FlowControl):
    pass


class ExitScript(FlowControl):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code
