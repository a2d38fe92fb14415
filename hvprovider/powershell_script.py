"""PowerShellScript: a PowerShell script of your own, run on a Windows host over WinRM as a resource:
pulumi-command's ``remote.Command`` model (create, update and delete scripts, triggers, environment,
stdout/stderr as outputs) for the hosts this project manages, through the same transport as every
other resource (docs/DESIGN.md section 1).

Inputs (``PowerShellScriptArgs``)       diff
    connection      ConnectionArgs        host: replace; other fields: update (no script runs)
    create          str                   update (runs ``update``, else ``create``); the script to run
                                          once when the resource is created
    update          str | None            update; the script to run when an input changes (default: ``create``)
    delete          str | None            update; the script to run when the resource is deleted
    triggers        list | None           any change re-runs: an update when ``update`` is set, else a
                                          replacement (delete script, then create script), as pulumi-command
    parameters      {name: value} | None  update; bound by name to the script's ``param()`` block;
                                          names are PowerShell identifiers, values any JSON data
    environment     {name: str} | None    update; process environment variables while the script runs;
                                          SECRET (state, outputs), and it makes stdout/stderr secret too
    add_previous_output_in_env  bool = True   update and delete scripts see the last run's output as
                                          $env:PULUMI_COMMAND_STDOUT and $env:PULUMI_COMMAND_STDERR
Outputs: every input, plus
    stdout          the script's output as text (Out-String of what it emitted, line ends "\\n")
    stderr          the errors it wrote without stopping (-ErrorAction Continue), one per line

How it runs (scripts/powershell_script.ps1): the script text, parameters and environment travel as
data in the JSON on stdin, never on a command line and never pasted into script text; the wrapper
makes the text a script block (``[ScriptBlock]::Create``) and splats the parameters into it by name,
so a parameter value is never parsed as code. The script inherits ``$ErrorActionPreference = 'Stop'``;
an error that ends it fails the step with host, line (in your script), cmdlet and message.
``pulumi refresh`` reads nothing (what a script did is not observable in general); ``destroy``
runs ``delete`` from the state; a failing delete script keeps the resource in the state.
"""
from __future__ import annotations

import re
import uuid
from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure, DiffResult

from .base import HvProvider, HvResource, resource_inputs, describe_diff
from .connection import CONNECTION_PROP, ConnectionArgs, connection_from_inputs
from .errors import RemoteScriptError, ScriptOutputError
from .validation import Prop, is_unknown, length_at_most

SCRIPT = "powershell_script.ps1"
SCRIPT_LIMIT = 256 * 1024  # characters: the payload travels through WinRM's stdin in chunks
# A name PowerShell binds with -Name / @splat: letters, digits and '_', not starting with a digit.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Windows refuses '=' in a variable name (it separates name and value in the environment block).
_ENV_NAME = re.compile(r"^[^=\x00-\x1f]{1,255}$")
PREVIOUS_STDOUT = "PULUMI_COMMAND_STDOUT"
PREVIOUS_STDERR = "PULUMI_COMMAND_STDERR"


def script_text(v: str) -> str | None:
    if not v.strip():
        return "must not be empty: give the PowerShell script to run (or leave the property out)"
    return length_at_most(SCRIPT_LIMIT)(v)


def parameter_names(v: Mapping[str, Any]) -> str | None:
    bad = [k for k in v if not _IDENTIFIER.match(k)]
    if bad:
        return (f"parameter name(s) {', '.join(repr(k) for k in bad)} are not PowerShell identifiers: use "
                f"letters, digits and '_', not starting with a digit (the names of the script's param() block)")
    return None


def environment_entries(v: Mapping[str, Any]) -> str | None:
    bad = [k for k in v if not _ENV_NAME.match(k)]
    if bad:
        return (f"variable name(s) {', '.join(repr(k) for k in bad)} are not allowed: 1-255 characters, "
                f"no '=' and no control characters")
    not_text = sorted(k for k, val in v.items() if not isinstance(val, str) and not is_unknown(val))
    if not_text:
        # the names only: the values are secret
        return f"the value(s) of {', '.join(not_text)} must be strings (environment variables are text)"
    return None


class PowerShellScriptArgs:
    """Inputs of a PowerShellScript.

    :param connection: WinRM connection to the host that runs the script.
    :param create: the script to run when the resource is created (PowerShell 5.1 text).
    :param update: the script to run when an input changes; default: ``create`` again.
    :param delete: the script to run when the resource is deleted.
    :param triggers: values whose change re-runs the script (update when ``update`` is set, else replace).
    :param parameters: {name: value} bound to the script's ``param()`` block by name.
    :param environment: {name: text} process environment variables while it runs (secret).
    :param add_previous_output_in_env: give update/delete the last stdout/stderr as
        $env:PULUMI_COMMAND_STDOUT / $env:PULUMI_COMMAND_STDERR (default True).
    """

    def __init__(self, connection: ConnectionArgs | pulumi.Input[dict], create: pulumi.Input[str],
                 update: Optional[pulumi.Input[str]] = None, delete: Optional[pulumi.Input[str]] = None,
                 triggers: Optional[pulumi.Input[Sequence[Any]]] = None,
                 parameters: Optional[pulumi.Input[Mapping[str, Any]]] = None,
                 environment: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
                 add_previous_output_in_env: Optional[pulumi.Input[bool]] = None) -> None:
        self.connection = connection
        self.create = create
        self.update = update
        self.delete = delete
        self.triggers = triggers
        self.parameters = parameters
        self.environment = environment
        self.add_previous_output_in_env = add_previous_output_in_env


class PowerShellScriptProvider(HvProvider):
    RESOURCE = "PowerShellScript"
    SCRIPT = SCRIPT
    SPEC = (
        CONNECTION_PROP,
        Prop("create", "str", required=True, checks=(script_text,), doc="the script to run on create"),
        Prop("update", "str", checks=(script_text,), doc="the script to run on update (default: create)"),
        Prop("delete", "str", checks=(script_text,), doc="the script to run on delete"),
        Prop("triggers", "list", item_kind="any", doc="values whose change re-runs the script"),
        Prop("parameters", "dict", checks=(parameter_names,), doc="{name: value} for the script's param() block"),
        Prop("environment", "dict", checks=(environment_entries,), secret=True,
             doc="{name: text} environment variables while the script runs"),
        Prop("add_previous_output_in_env", "bool", default=True),
    )
    OUTPUTS = ("stdout", "stderr")

    def make_id(self, inputs: dict) -> str:
        return f"{inputs['connection']['host']}/powershell-script/{uuid.uuid4().hex[:16]}"

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        result = self.diff_with(olds, news)
        # pulumi-command's rule: a trigger re-runs `update` where there is one, else replaces
        triggered, _ = describe_diff(tuple(p for p in self.SPEC if p.name == "triggers"), olds, news)
        if triggered and not news.get("update") and "triggers" not in result.replaces:
            result = DiffResult(changes=True, replaces=[*result.replaces, "triggers"],
                                stables=result.stables, delete_before_replace=False)
        return result

    def script_params(self, props: Mapping[str, Any], mode: str) -> dict:
        """``mode``: 'create' | 'update' | 'delete', the script of ``props`` to run."""
        text = props.get(mode) or (props.get("create") if mode == "update" else None)
        environment = dict(props.get("environment") or {})
        if mode != "create" and props.get("add_previous_output_in_env", True) is not False:
            for name, output in ((PREVIOUS_STDOUT, "stdout"), (PREVIOUS_STDERR, "stderr")):
                if props.get(output):
                    environment.setdefault(name, props[output])
        return {"Script": text, "Parameters": dict(props.get("parameters") or {}), "Environment": environment}

    def _run(self, props: Mapping[str, Any], mode: str) -> dict:
        try:
            record = self.run_mode(props, mode)
        except RemoteScriptError as exc:
            raise self._masked(exc, props) from None
        except ScriptOutputError as exc:
            raise ScriptOutputError(exc.host, exc.script, self._mask(exc.detail, props)) from None
        if record.get("Failed"):
            label = connection_from_inputs(props["connection"]).label
            message = str(record.get("Message") or "unknown error")
            stage = record.get("Stage")
            if stage == "parse":
                message = f"the script does not parse: {message}"
            elif stage == "bind":
                message = f"its parameters do not bind to the script's param() block: {message}"
            raise self._masked(RemoteScriptError(
                label, f"the {mode} script of a PowerShellScript", message,
                str(record.get("Category") or ""), str(record.get("ErrorId") or ""),
                record.get("Line") or None, str(record.get("Command") or "")), props)
        return {"stdout": _text(record.get("Stdout")), "stderr": _text(record.get("Stderr"))}

    @staticmethod
    def _mask(text: str, props: Mapping[str, Any]) -> str:
        """The environment is secret: none of its values may reach an error message."""
        secrets = [v for v in (props.get("environment") or {}).values() if isinstance(v, str) and len(v) >= 3]
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "********")
        return text

    @classmethod
    def _masked(cls, exc: RemoteScriptError, props: Mapping[str, Any]) -> RemoteScriptError:
        def mask(text: str) -> str:
            return cls._mask(text, props)
        return RemoteScriptError(exc.host, mask(exc.script), mask(exc.message), exc.category, mask(exc.error_id),
                                 exc.line, mask(exc.command), exc.exit_code)

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        if olds is None:
            return self._run(inputs, "create")
        names = [p.name for p in self.SPEC if p.name != "connection"]
        if all(olds.get(n) == inputs.get(n) for n in names):
            # only connection settings changed (a new password, a timeout): nothing to run again
            return {"stdout": olds.get("stdout"), "stderr": olds.get("stderr")}
        return self._run({**inputs, "stdout": olds.get("stdout"), "stderr": olds.get("stderr")}, "update")

    def observe(self, id: str, outputs: dict) -> dict | None:
        return {}  # what a script did cannot be read back in general: refresh keeps the state

    def remove(self, id: str, outputs: dict) -> None:
        if outputs.get("delete"):
            self._run(outputs, "delete")


def _text(value: Any) -> str:
    return "" if value is None else str(value).replace("\r\n", "\n")


class PowerShellScript(HvResource):
    """A PowerShell script of your own on a Windows host (see the module docstring)."""

    connection: pulumi.Output[dict]
    create: pulumi.Output[str]
    update: pulumi.Output[Optional[str]]
    delete: pulumi.Output[Optional[str]]
    triggers: pulumi.Output[Optional[list]]
    parameters: pulumi.Output[Optional[dict]]
    environment: pulumi.Output[Optional[dict]]
    add_previous_output_in_env: pulumi.Output[bool]
    stdout: pulumi.Output[str]
    stderr: pulumi.Output[str]

    PROVIDER = PowerShellScriptProvider

    def __init__(self, resource_name: str, args: PowerShellScriptArgs | None = None,
                 opts: pulumi.ResourceOptions | None = None, **kwargs: Any) -> None:
        inputs = resource_inputs(PowerShellScriptProvider(), args, kwargs)
        if inputs.get("environment"):
            # the output may repeat a secret it was given: it is as secret as the environment
            opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(additional_secret_outputs=["stdout", "stderr"]),
                                                opts)
        super().__init__(resource_name, inputs, opts)
