"""The one exception tree of hvprovider.

Every error a user can see from a provider is an ``HvProviderError`` whose message alone says what
happened, on which host, and what to do (the engine shows only the message and a traceback).

    HvProviderError
    +-- ConnectionFailedError     WinRM endpoint unreachable or lost mid-command (refused, reset, timeout), after retries
    +-- InvalidCredentialsError   HTTP 401: the endpoint rejected the user name / password
    +-- WinRMFaultError           a WS-Management fault that is not a PowerShell error
    +-- RemoteScriptError         the script ran and failed: PowerShell error record (message, category, id, line)
    +-- ScriptOutputError         the script finished but its output was not the expected JSON state record
    +-- ScriptTimeoutError        a script did not finish within its time limit
    +-- RestartTimeoutError       a host did not come back from a restart in time
    +-- TlsError                  the host's certificate is not trusted (https)
    +-- InputError                a value was refused outside check() (e.g. in diff or create)
    +-- ArgumentError             the program passed an argument or config value the resource cannot take
                                  (also a pulumi.RunError: shown as its message alone)

No message ever contains a password: constructors take only host, port, user names and PowerShell text.
"""
from __future__ import annotations

from pulumi.errors import RunError


class HvProviderError(Exception):
    """Base class of every error raised by hvprovider."""


class ConnectionFailedError(HvProviderError):
    """The WinRM endpoint could not be reached, or stopped answering mid-command (after the retries).

    ``during``: what was under way when the connection was lost (e.g. "running iscsi_target.ps1"); then
    the script may have finished on the host, and the next ``pulumi up`` adopts what it created."""

    def __init__(self, host: str, port: int, reason: str, attempts: int = 1, during: str | None = None) -> None:
        self.host, self.port, self.reason, self.attempts, self.during = host, port, reason, attempts, during
        if during:
            super().__init__(
                f"lost the connection to WinRM at {host}:{port} while {during} ({reason}; {attempts} attempt(s)); "
                f"the script may have finished on the host: check that the host is running and answers WinRM, "
                f"then run pulumi up again (it adopts what was already created)"
            )
        else:
            super().__init__(
                f"cannot reach WinRM at {host}:{port} ({reason}; {attempts} attempt(s)): check that the host is "
                f"running, that WinRM listens on that port (winrm quickconfig) and that the firewall allows it"
            )


class InvalidCredentialsError(HvProviderError):
    """The endpoint answered HTTP 401 to the given user."""

    def __init__(self, host: str, port: int, username: str, transport: str) -> None:
        self.host, self.port, self.username, self.transport = host, port, username, transport
        super().__init__(
            f"WinRM at {host}:{port} rejected the credentials for user '{username}' ({transport}): "
            f"check the password and the account (domain\\user for domain accounts)"
        )


class WinRMFaultError(HvProviderError):
    """A WS-Management fault (not a PowerShell error), e.g. quota exceeded or shell gone."""

    def __init__(self, host: str, port: int, operation: str, reason: str, code: int | None = None) -> None:
        self.host, self.port, self.operation, self.reason, self.code = host, port, operation, reason, code
        coded = f" (WS-Management code {code})" if code is not None else ""
        super().__init__(f"WinRM at {host}:{port} refused {operation}{coded}: {reason}")


class RemoteScriptError(HvProviderError):
    """A PowerShell script failed on the host; carries the PowerShell error record's facts."""

    def __init__(
        self,
        host: str,
        script: str,
        message: str,
        category: str = "",
        error_id: str = "",
        line: int | None = None,
        command: str = "",
        exit_code: int | None = None,
    ) -> None:
        self.host, self.script, self.message, self.category = host, script, message, category
        self.error_id, self.line, self.command, self.exit_code = error_id, line, command, exit_code
        where = f"{script} line {line}" if line else script
        cmd = f" in {command}" if command else ""
        details = ", ".join(x for x in (category and f"category {category}", error_id and f"error id {error_id}") if x)
        super().__init__(
            f"PowerShell failed on {host} running {where}{cmd}: {message.strip()}"
            + (f" [{details}]" if details else "")
        )


class ScriptOutputError(HvProviderError):
    """The script ended without the JSON state record the contract promises."""

    def __init__(self, host: str, script: str, detail: str) -> None:
        self.host, self.script, self.detail = host, script, detail
        super().__init__(f"{script} on {host} returned no usable result: {detail}")


class RestartTimeoutError(HvProviderError):
    """A restarted host did not answer with a new boot time within the timeout."""

    def __init__(self, host: str, timeout: float, last_error: str = "") -> None:
        self.host, self.timeout, self.last_error = host, timeout, last_error
        tail = f" (last error: {last_error})" if last_error else ""
        super().__init__(
            f"{host} did not come back from its restart within {timeout:.0f} s{tail}: check the host's console; "
            f"raise restart_timeout if it boots slowly, then run pulumi up again"
        )


class InputError(HvProviderError):
    """A property value was refused by a provider operation (outside check)."""

    def __init__(self, resource: str, prop: str, reason: str) -> None:
        self.resource, self.prop, self.reason = resource, prop, reason
        super().__init__(f"{resource}: property '{prop}': {reason}")


class ScriptTimeoutError(HvProviderError):
    """A script did not finish within its time limit (it was told to stop)."""

    def __init__(self, host: str, script: str, timeout: float) -> None:
        self.host, self.script, self.timeout = host, script, timeout
        super().__init__(
            f"{script} on {host} did not finish within {timeout:.0f} s and was stopped: check the host "
            f"(a hung cmdlet, a pending restart) and run pulumi up again"
        )


class TlsError(HvProviderError):
    """The TLS handshake failed (untrusted or mismatched certificate)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(
            f"TLS to WinRM at {host}:{port} failed ({reason}): point connection.ca_trust_path at the PEM of the CA "
            f"that signed the host's certificate, or set server_cert_validation='ignore' explicitly (not recommended)"
        )


class ArgumentError(HvProviderError, RunError):
    """The program passed a resource or ClusterLab an argument or config value it cannot take
    (an unknown keyword, a stack config value of the wrong kind). Raised while the program runs,
    before any resource exists: a ``pulumi.RunError``, so the engine shows the message alone."""
