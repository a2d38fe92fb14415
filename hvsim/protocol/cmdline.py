"""WinRS command lines: split like Windows (CommandLineToArgvW), then powershell.exe's own parameters.

WinRS runs `<Command> <Arguments...>` through cmd.exe (unless WINRS_SKIP_CMD_SHELL). hvsim knows two
kinds of program: powershell.exe (the real work) and a few cmd.exe built-ins; anything else is
"not recognized", as cmd.exe says it.
"""
from __future__ import annotations

import base64
import binascii
import ntpath
from dataclasses import dataclass, field

# cmd.exe's longest command line (WinRS runs commands through cmd.exe unless WINRS_SKIP_CMD_SHELL)
CMD_MAX_LINE = 8191

# powershell.exe exit code for a bad command line (ConsoleHost's ExitCodeBadCommandLineParameter)
EXIT_BAD_COMMAND_LINE = 64

EXECUTION_POLICIES = ("Unrestricted", "RemoteSigned", "AllSigned", "Restricted", "Default", "Bypass", "Undefined")


def split_command_line(line: str) -> list[str]:
    """CommandLineToArgvW: whitespace separates; quotes group; 2n backslashes + quote -> n and a toggle,
    2n+1 backslashes + quote -> n and a literal quote; "" inside quotes -> a literal quote."""
    args: list[str] = []
    cur: list[str] = []
    in_quotes = False
    have_arg = False
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == "\\":
            j = i
            while j < n and line[j] == "\\":
                j += 1
            count = j - i
            if j < n and line[j] == '"':
                cur.append("\\" * (count // 2))
                if count % 2:
                    cur.append('"')
                    i = j + 1
                else:
                    i = j
                have_arg = True
                continue
            cur.append("\\" * count)
            have_arg = True
            i = j
            continue
        if ch == '"':
            if in_quotes and i + 1 < n and line[i + 1] == '"':
                cur.append('"')
                i += 2
                have_arg = True
                continue
            in_quotes = not in_quotes
            have_arg = True
            i += 1
            continue
        if ch in " \t" and not in_quotes:
            if have_arg:
                args.append("".join(cur))
                cur, have_arg = [], False
            i += 1
            continue
        cur.append(ch)
        have_arg = True
        i += 1
    if have_arg:
        args.append("".join(cur))
    return args


@dataclass
class Invocation:
    """What a command line asks for."""
    program: str                      # "powershell" | "builtin" | "unknown"
    command_line: str
    script: str | None = None         # PowerShell script text (None with script_from_stdin)
    script_from_stdin: bool = False
    options: dict = field(default_factory=dict)
    builtin: str | None = None        # cmd.exe built-in name
    builtin_args: str = ""
    error: str | None = None          # powershell.exe command-line error (plain text on stderr)
    exe: str = ""


# (name, shortest accepted prefix, takes a value); checked in this order, as powershell.exe 5.1 does.
_PS_SWITCHES = [
    ("help", 1, False), ("?", 1, False),
    ("psconsolefile", 3, True), ("version", 1, True),
    ("nologo", 3, False), ("noexit", 3, False), ("sta", 1, False), ("mta", 3, False),
    ("noprofile", 3, False), ("noninteractive", 4, False),
    ("inputformat", 2, True), ("if", 2, True), ("outputformat", 1, True), ("of", 2, True),
    ("windowstyle", 1, True), ("configurationname", 6, True),
    ("encodedarguments", 8, True), ("encodedcommand", 1, True), ("ec", 2, True),
    ("executionpolicy", 2, True), ("ep", 2, True),
    ("file", 1, True), ("command", 1, True),
]
_CANONICAL = {"?": "help", "if": "inputformat", "of": "outputformat", "ec": "encodedcommand", "ep": "executionpolicy"}


def _match_switch(arg: str) -> str | None:
    key = arg[1:].lower()
    if not key:
        return None
    for name, shortest, _ in _PS_SWITCHES:
        if len(key) >= shortest and name.startswith(key):
            return _CANONICAL.get(name, name)
    return None


def _takes_value(name: str) -> bool:
    return any(n == name and v for n, _, v in _PS_SWITCHES)


def parse_powershell(args: list[str], command_line: str, exe: str) -> Invocation:
    inv = Invocation("powershell", command_line, exe=exe)
    opts = inv.options
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-":
            inv.script_from_stdin = True
            i += 1
            continue
        if arg[:1] not in ("-", "/") or _match_switch(arg) is None:
            # the first argument that is not a parameter starts the command (-Command is implied)
            inv.script = " ".join(args[i:])
            break
        name = _match_switch(arg)
        value = None
        if _takes_value(name):
            if i + 1 >= len(args) and name != "command":
                inv.error = f"Missing argument for parameter {arg}."  # generic fallback wording
                if name == "encodedcommand":
                    inv.error = ("Cannot process the command because of a missing parameter. "
                                 "A command must follow -EncodedCommand.")
                elif name == "executionpolicy":
                    inv.error = "Missing argument for parameter -ExecutionPolicy."
                return inv
            value = args[i + 1] if i + 1 < len(args) else None
        if name == "help":
            inv.error = "powershell.exe -Help is not available in hvsim."
            return inv
        if name == "command":
            rest = args[i + 1:]
            if not rest:
                inv.error = ("Cannot process the command because of a missing parameter. "
                             "A command must follow -Command.")
                return inv
            if rest == ["-"]:
                inv.script_from_stdin = True
            else:
                inv.script = " ".join(rest)
            break
        if name == "encodedcommand":
            try:
                raw = base64.b64decode(value, validate=True)
                inv.script = raw.decode("utf-16-le")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                inv.error = ("Cannot process the command because the value specified with -EncodedCommand "
                             "is not properly encoded. The value must be Base64 encoded.")
                return inv
            opts["EncodedCommand"] = True
            i += 2
            continue
        if name == "file":
            inv.error = f"The argument '{value}' to the -File parameter does not exist. Provide the path to an " \
                        "existing '.ps1' file as an argument to the -File parameter."
            return inv
        if name == "executionpolicy":
            match = [p for p in EXECUTION_POLICIES if p.lower() == str(value).lower()]
            if not match:
                inv.error = (f"Invalid argument '{value}' to -ExecutionPolicy. Valid values are: "
                             + ", ".join(EXECUTION_POLICIES[:-1]) + ".")
                return inv
            opts["ExecutionPolicy"] = match[0]
        elif name in ("inputformat", "outputformat"):
            fmt = str(value).lower()
            if not ("text".startswith(fmt) or "xml".startswith(fmt)) or not fmt:
                inv.error = f"Invalid argument '{value}' to -{name.capitalize()}. Valid values are Text and XML."
                return inv
            if "xml".startswith(fmt):
                inv.error = f"-{'InputFormat' if name == 'inputformat' else 'OutputFormat'} XML is not supported " \
                            "by hvsim (only Text)."
                return inv
            opts["InputFormat" if name == "inputformat" else "OutputFormat"] = "Text"
        elif value is not None:
            opts[name] = value
        else:
            opts[{"noprofile": "NoProfile", "noninteractive": "NonInteractive"}.get(name, name)] = True
        i += 2 if _takes_value(name) else 1
    if inv.script is None and not inv.script_from_stdin:
        # powershell.exe without a command and with redirected stdin reads the script from stdin
        inv.script_from_stdin = True
    return inv


_BUILTINS = {"echo", "hostname", "whoami", "exit", "ver", "cd"}


def parse(command: str, arguments: list[str] | None = None) -> Invocation:
    """Classify `<command> <arguments...>` as WinRS receives it."""
    line = " ".join([command or ""] + [a for a in (arguments or []) if a is not None]).strip()
    return parse_line(line)


def parse_line(line: str) -> Invocation:
    argv = split_command_line(line)
    if not argv:
        return Invocation("builtin", line, builtin="", exe="")
    exe = argv[0]
    base = ntpath.basename(exe).lower()
    stem = base[:-4] if base.endswith(".exe") else base
    if stem == "powershell":
        return parse_powershell(argv[1:], line, exe)
    if stem == "cmd" and len(argv) > 1 and argv[1].lower() in ("/c", "/k"):
        rest = line.split(None, 1)[1].strip()
        rest = rest[2:].strip()
        return parse_line(rest)
    if base in _BUILTINS or stem in ("hostname", "whoami"):
        raw = line[len(exe):] if line.startswith(exe) else " ".join(argv[1:])
        return Invocation("builtin", line, builtin=stem, builtin_args=raw[1:] if raw.startswith(" ") else raw,
                          exe=exe)
    return Invocation("unknown", line, exe=exe)
