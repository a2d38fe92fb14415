"""WinRM transport: run one of our ``.ps1`` scripts on a host and get its state record back.

API (everything a provider needs):

    run_script(connection, "iscsi_target.ps1", {"Mode": "Get", "Name": "t1"}, *, timeout=1800, retries=None) -> dict
        Runs hvprovider/scripts/<script> on the host with the parameters as data and returns the
        one object the script emitted (a dict; nested objects are dicts, arrays are lists).
        ``connection``: a ``connection.Connection``, a ``ConnectionArgs`` or the provider's input dict.
        Raises (all ``errors.HvProviderError``): RemoteScriptError (PowerShell error: host, script,
        message, category, error_id, line), InvalidCredentialsError, ConnectionFailedError (after
        ``retries`` attempts with backoff; default connection.connect_retries), TlsError,
        WinRMFaultError, ScriptTimeoutError, ScriptOutputError.
    run_script_any([connection, ...], script, params) -> dict
        run_script on the first connection whose host answers (nodes of one cluster); a host that
        did not answer recently is tried last.
    boot_time(connection) -> str                      LastBootUpTime of the host (ISO 8601, UTC)
    wait_for_restart(connection, previous_boot_time, timeout=600) -> str
        Polls until the host answers with a boot time different from ``previous_boot_time``;
        returns the new one or raises RestartTimeoutError.
    restart_and_wait(connection, timeout=600) -> str  Restart-Computer -Force, then wait_for_restart.
    discard_shells(connection) / close_all()          forget (and close) cached shells
    STATS                                             Counter of WS-Man operations (shell_create,
                                                      command, send, receive, signal, shell_delete, ...)

How a call travels (docs/DESIGN.md section 1): one cached, authenticated shell per (endpoint, user)
opened with codepage 65001 and noprofile; per call one ``shell/Command`` whose command line is the
fixed bootstrap (``powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass
-EncodedCommand <bootstrap.ps1>``), the JSON payload on stdin in ``shell/Send`` chunks (End on the
last), ``shell/Receive`` until done, then one ``shell/Signal``. Nothing secret is on a command line.

Shells live in a module-level pool (never on a provider object: providers are pickled into the
state). A pool per (endpoint, user, credential digest) holds up to ``MAX_SHELLS_PER_HOST`` shells,
each used by one thread at a time, so the provider's 4 concurrent calls do not interleave on one
NTLM-sealed connection. A shell the host no longer knows (InvalidSelectors, a restart, an idle
timeout) or whose connection broke is dropped and a fresh one is opened on the next attempt.
"""
from __future__ import annotations

import atexit
import base64
import collections
import functools
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping, Sequence

import requests
from winrm.exceptions import InvalidCredentialsError as _WinRMInvalidCredentials
from winrm.exceptions import WinRMError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError
from winrm.protocol import Protocol

from . import errors
from .connection import Connection, ConnectionArgs, connection_from_inputs

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
MAX_SHELLS_PER_HOST = 4
STDIN_CHUNK_BYTES = 32 * 1024  # base64 grows it by 4/3; stays far below the 150 KB envelope
DEFAULT_TIMEOUT = 1800.0

# WS-Management fault codes (MS-WSMV / winerror.h)
FAULT_INVALID_SELECTORS = 2150858843   # 0x8033805B: the shell id is unknown (host restarted, idle timeout)
FAULT_TOO_MANY_OPERATIONS = 2150859174  # 0x803381A6: quota on this shell reached -> new shell
FAULT_BUSY = 170                         # ERROR_BUSY: try again
STALE_SHELL_FAULTS = {FAULT_INVALID_SELECTORS, FAULT_TOO_MANY_OPERATIONS}
TRANSIENT_HTTP = {502, 503, 504}

STATS: collections.Counter = collections.Counter()
_STATS_LOCK = threading.Lock()


def _count(op: str, n: int = 1) -> None:
    with _STATS_LOCK:
        STATS[op] += n


# ---------------------------------------------------------------------------------------------
# scripts and the command line

_SCRIPT_NAME = re.compile(r"^[a-z0-9_]+\.ps1$")
# A header line "# Include: lib/cluster_disks.ps1" declares a shared helper file the script needs.
_INCLUDE_LINE = re.compile(r"^#\s*Include:\s*(\S+)\s*$", re.MULTILINE)
_LIBRARY_NAME = re.compile(r"^lib/[a-z0-9_]+\.ps1$")


@functools.lru_cache(maxsize=None)
def load_script(name: str) -> str:
    """Text of hvprovider/scripts/<name> (ASCII only, as the contract requires)."""
    if not _SCRIPT_NAME.match(name):
        raise ValueError(f"script name {name!r}: expected lower_case.ps1 from hvprovider/scripts")
    text = (SCRIPTS_DIR / name).read_text(encoding="ascii")
    return text


@functools.lru_cache(maxsize=1)
def bootstrap_arguments() -> tuple[str, ...]:
    """The fixed powershell.exe arguments: bootstrap.ps1 without its comment lines, UTF-16LE base64."""
    lines = [ln for ln in load_script("bootstrap.ps1").splitlines() if not ln.lstrip().startswith("#")]
    encoded = base64.b64encode("\n".join(lines).encode("utf-16-le")).decode("ascii")
    return ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded)


@functools.lru_cache(maxsize=None)
def script_libraries(name: str) -> tuple[str, ...]:
    """Texts of the hvprovider/scripts/lib/*.ps1 files that <name> declares with "# Include:" lines."""
    texts = []
    for include in _INCLUDE_LINE.findall(load_script(name)):
        if not _LIBRARY_NAME.match(include):
            raise ValueError(f"{name}: include {include!r}: expected lib/lower_case.ps1 from hvprovider/scripts")
        texts.append((SCRIPTS_DIR / include).read_text(encoding="ascii"))
    return tuple(texts)


def build_payload(script: str, params: Mapping[str, Any]) -> bytes:
    """One line of pure-ASCII JSON: {"name", "script", "libs", "params"} (DESIGN section 1)."""
    body = {"name": script, "script": load_script(script), "libs": list(script_libraries(script)),
            "params": dict(params)}
    return (json.dumps(body, ensure_ascii=True, separators=(",", ":")) + "\r\n").encode("ascii")


# ---------------------------------------------------------------------------------------------
# shells and their pool

class _Shell:
    """One authenticated pywinrm Protocol (its own HTTP session) and one open remote shell."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.protocol = Protocol(
            endpoint=conn.endpoint,
            transport=conn.transport,  # type: ignore[arg-type]
            username=conn.username,
            password=conn.password,
            server_cert_validation=conn.server_cert_validation,  # type: ignore[arg-type]
            ca_trust_path=conn.ca_trust_path if conn.ca_trust_path else None,  # type: ignore[arg-type]
            read_timeout_sec=conn.read_timeout,
            operation_timeout_sec=conn.operation_timeout,
            message_encryption="auto",
            proxy=None,  # the lab is reached directly; never through an environment proxy
        )
        _count("shell_create")
        self.shell_id = self.protocol.open_shell(codepage=65001, noprofile=True)
        _close_all_at_exit()
        self.commands = 0

    def close(self) -> None:
        try:
            _count("shell_delete")
            self.protocol.close_shell(self.shell_id)
        except Exception:  # closing is best effort: the host may be gone
            try:
                self.protocol.transport.close_session()
            except Exception:
                pass


class _Pool:
    def __init__(self) -> None:
        self.idle: list[_Shell] = []
        self.total = 0
        self.cond = threading.Condition()

    def acquire(self, conn: Connection) -> _Shell:
        with self.cond:
            while not self.idle and self.total >= MAX_SHELLS_PER_HOST:
                self.cond.wait()
            if self.idle:
                return self.idle.pop()
            self.total += 1
        try:
            return _Shell(conn)
        except BaseException:
            with self.cond:
                self.total -= 1
                self.cond.notify()
            raise

    def release(self, shell: _Shell, broken: bool) -> None:
        with self.cond:
            if broken:
                self.total -= 1
            else:
                self.idle.append(shell)
            self.cond.notify()
        if broken:
            try:
                shell.protocol.transport.close_session()
            except Exception:
                pass

    def drain(self) -> list[_Shell]:
        with self.cond:
            shells, self.idle = self.idle, []
            self.total -= len(shells)
            self.cond.notify_all()
            return shells


_POOLS: dict[tuple, _Pool] = {}
_POOLS_LOCK = threading.Lock()


def _pool(conn: Connection) -> _Pool:
    with _POOLS_LOCK:
        pool = _POOLS.get(conn.pool_key)
        if pool is None:
            pool = _POOLS[conn.pool_key] = _Pool()
        return pool


def discard_shells(connection: Any, close: bool = False) -> None:
    """Forget the idle shells of one host (after a restart they are stale); optionally close them."""
    conn = _as_connection(connection)
    for shell in _pool(conn).drain():
        if close:
            shell.close()
        else:
            try:
                shell.protocol.transport.close_session()
            except Exception:
                pass


def close_all(wait: float = 2.0) -> None:
    """Close every idle shell (in parallel, waiting at most ``wait`` seconds in total)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
    shells = [s for p in pools for s in p.drain()]
    threads = [threading.Thread(target=s.close, daemon=True) for s in shells]
    for t in threads:
        t.start()
    deadline = time.monotonic() + wait
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))


_exit_hook = threading.Lock()
_exit_hook_set = False


def _close_all_at_exit() -> None:
    """Register close_all with atexit once a shell is open, not at import (atexit runs the last
    registered first). Registered at import, close_all ran after the exit handlers the WinRM stack
    registers while opening its first connection, and every close was refused (HTTP 401, pywinrm
    0.5, Python 3.11): each provider process left its shells open on the host until their idle
    timeout, and a few quick runs in a row reached MaxShellsPerUser (30)."""
    global _exit_hook_set
    with _exit_hook:
        if not _exit_hook_set:
            atexit.register(close_all)
            _exit_hook_set = True


def _as_connection(connection: Any) -> Connection:
    if isinstance(connection, Connection):
        return connection
    if isinstance(connection, (ConnectionArgs, Mapping)):
        return connection_from_inputs(connection)
    raise TypeError(f"not a connection: {type(connection).__name__}")


# ---------------------------------------------------------------------------------------------
# running a script

class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try (with the wrapped error as reason)."""

    def __init__(self, error: errors.HvProviderError, immediate: bool = False) -> None:
        super().__init__(str(error))
        self.error, self.immediate = error, immediate


def _translate(conn: Connection, exc: BaseException, operation: str) -> errors.HvProviderError | _Retry:
    """Map a pywinrm/requests exception to our error tree; _Retry marks the retryable ones."""
    host, port = conn.host, conn.port
    if isinstance(exc, _WinRMInvalidCredentials):
        return errors.InvalidCredentialsError(host, port, conn.username, conn.transport)
    if isinstance(exc, requests.exceptions.SSLError):
        reason = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate" in reason.lower() or "hostname" in reason.lower():
            return errors.TlsError(host, port, _short(reason))
        return _Retry(errors.ConnectionFailedError(host, port, f"TLS: {_short(reason)}"))
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return _Retry(errors.ConnectionFailedError(host, port, _short(str(exc))))
    if isinstance(exc, WSManFaultError):
        code = exc.wsman_fault_code
        fault = errors.WinRMFaultError(host, port, operation, exc.reason, code)
        if code in STALE_SHELL_FAULTS:
            return _Retry(fault, immediate=True)
        if code == FAULT_BUSY or exc.code in TRANSIENT_HTTP:
            return _Retry(fault)
        return fault
    if isinstance(exc, WinRMTransportError):
        fault = errors.WinRMFaultError(host, port, operation, f"HTTP {exc.code}", None)
        return _Retry(fault) if exc.code in TRANSIENT_HTTP else fault
    if isinstance(exc, WinRMError):
        return errors.WinRMFaultError(host, port, operation, str(exc))
    if isinstance(exc, (ConnectionError, OSError)):
        return _Retry(errors.ConnectionFailedError(host, port, _short(str(exc))))
    raise exc


def _short(text: str) -> str:
    """The useful tail of a requests/urllib3 error (drops the pool and object reprs)."""
    m = re.search(r"(\[Errno [^\]]+\][^')\"]*|Connection refused|Connection reset by peer|Read timed out|"
                  r"timed out|RemoteDisconnected[^')\"]*|certificate verify failed[^')\"]*)", text)
    return m.group(1).strip() if m else text[:200]


# Endpoints that did not answer recently, with when: tried last for a while, so that the resources of a
# cluster whose node lost power do not each wait out that node's retries first.
UNANSWERED_SECONDS = 120.0
_unanswered: dict[str, float] = {}
_UNANSWERED_LOCK = threading.Lock()


def run_script_any(connections: list, script: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> dict:
    """``run_script`` on the first of ``connections`` whose host answers (nodes of one cluster: any
    serves). A host that does not answer (ConnectionFailedError) is skipped for the next one; one
    that did not answer within the last UNANSWERED_SECONDS is tried last. Every other error is final."""
    conns = [_as_connection(c) for c in connections]
    now = time.monotonic()
    with _UNANSWERED_LOCK:
        recent = {c.endpoint for c in conns if now - _unanswered.get(c.endpoint, -UNANSWERED_SECONDS) < UNANSWERED_SECONDS}
    ordered = [c for c in conns if c.endpoint not in recent] + [c for c in conns if c.endpoint in recent]
    failure: errors.ConnectionFailedError | None = None
    for conn in ordered:
        try:
            result = run_script(conn, script, params, **kwargs)
        except errors.ConnectionFailedError as exc:
            with _UNANSWERED_LOCK:
                _unanswered[conn.endpoint] = time.monotonic()
            failure = failure or exc
            continue
        with _UNANSWERED_LOCK:
            _unanswered.pop(conn.endpoint, None)
        return result
    assert failure is not None
    raise failure


def run_script(connection: Any, script: str, params: Mapping[str, Any] | None = None, *,
               timeout: float | None = None, retries: int | None = None) -> dict:
    """Run hvprovider/scripts/<script> on the host with ``params``; return the state record it emitted."""
    conn = _as_connection(connection)
    payload = build_payload(script, params or {})
    attempts_allowed = 1 + (conn.connect_retries if retries is None else retries)
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    pool = _pool(conn)
    delay = 0.5
    attempt = 0
    stale_reopens = 0
    while True:
        attempt += 1
        shell: _Shell | None = None
        broken = True
        reused = False
        try:
            try:
                shell = pool.acquire(conn)
            except Exception as exc:  # opening the shell: authentication and connection errors land here
                raise _translate(conn, exc, "opening a shell") from None
            reused = shell.commands > 0
            stdout, stderr, exit_code = _execute(shell, payload, conn, script, limit)
            broken = False
        except _Retry as retry:
            err = retry.error
            if isinstance(err, errors.ConnectionFailedError):
                err = errors.ConnectionFailedError(conn.host, conn.port, err.reason, attempt)
            if (retry.immediate or reused) and stale_reopens < 2:
                # a pooled shell that worked before died (host restarted, idle timeout, connection
                # closed): its idle siblings are as stale; drop them and reopen at once, no retry spent
                stale_reopens += 1
                for idle in pool.drain():
                    try:
                        idle.protocol.transport.close_session()
                    except Exception:
                        pass
                attempt -= 1
                continue
            if attempt >= attempts_allowed:
                raise err from None
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
            continue
        finally:
            if shell is not None:
                pool.release(shell, broken)
        return parse_result(conn.label, script, stdout, stderr, exit_code, secrets=_secret_values(params or {}))


def _execute(shell: _Shell, payload: bytes, conn: Connection, script: str, limit: float) -> tuple[bytes, bytes, int]:
    """One Command, its Sends and Receives, one Signal. Raises _Retry / HvProviderError."""
    protocol, shell_id = shell.protocol, shell.shell_id
    try:
        _count("command")
        command_id = protocol.run_command(shell_id, "powershell.exe", list(bootstrap_arguments()))
    except Exception as exc:
        raise _translate(conn, exc, f"running {script}") from None
    shell.commands += 1
    try:
        for start in range(0, len(payload), STDIN_CHUNK_BYTES):
            chunk = payload[start:start + STDIN_CHUNK_BYTES]
            _count("send")
            protocol.send_command_input(shell_id, command_id, chunk, end=start + STDIN_CHUNK_BYTES >= len(payload))
        out: list[bytes] = []
        err: list[bytes] = []
        deadline = time.monotonic() + limit
        while True:
            try:
                _count("receive")
                o, e, code, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                done, o, e, code = False, b"", b"", -1
            out.append(o)
            err.append(e)
            if done:
                break
            if time.monotonic() > deadline:
                _signal(protocol, shell_id, command_id)
                raise errors.ScriptTimeoutError(conn.label, script, limit)
    except errors.HvProviderError:
        raise
    except Exception as exc:
        raise _translate(conn, exc, f"running {script}") from None
    _signal(protocol, shell_id, command_id)
    return b"".join(out), b"".join(err), code


def _signal(protocol: Protocol, shell_id: str, command_id: str) -> None:
    """Signal terminate (frees the command on the host); an error here does not lose the result."""
    try:
        _count("signal")
        protocol.cleanup_command(shell_id, command_id)
    except (WinRMTransportError, WSManFaultError):
        pass


# ---------------------------------------------------------------------------------------------
# results and errors

_RESULT_PREFIX = '{"ok":'


def _secret_values(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The values of the ``*Password`` parameters (DESIGN section 1), to keep them out of error messages."""
    return tuple(str(v) for k, v in params.items() if k.endswith("Password") and v)


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


def parse_result(host: str, script: str, stdout: bytes, stderr: bytes, exit_code: int,
                 secrets: Sequence[str] = ()) -> dict:
    """Decode the bootstrap's JSON line (or CLIXML stderr) into the state record or an exception.

    ``secrets``: parameter values (passwords) that a PowerShell error message might quote (e.g. a
    conversion error repeating the value); they are masked in the message of the error raised."""
    try:
        return _parse_result(host, script, stdout, stderr, exit_code)
    except errors.RemoteScriptError as exc:
        if not secrets:
            raise
        # (a thrown string is also the error id)
        raise errors.RemoteScriptError(exc.host, exc.script, _redact(exc.message, secrets), exc.category,
                                       _redact(exc.error_id, secrets), exc.line, _redact(exc.command, secrets),
                                       exc.exit_code) from None
    except errors.ScriptOutputError as exc:
        if not secrets:
            raise
        raise errors.ScriptOutputError(exc.host, exc.script, _redact(exc.detail, secrets)) from None


def _parse_result(host: str, script: str, stdout: bytes, stderr: bytes, exit_code: int) -> dict:
    text = stdout.decode("utf-8", errors="replace")
    line = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip().startswith(_RESULT_PREFIX)), None)
    if line is None:
        message, category, error_id, line_no = parse_clixml_error(stderr.decode("utf-8", errors="replace"))
        if not message:
            message = (text.strip() or "no output")[-500:]
        raise errors.RemoteScriptError(host, script, message, category, error_id, line_no, exit_code=exit_code)
    try:
        doc = json.loads(line)
    except ValueError as exc:
        raise errors.ScriptOutputError(host, script, f"unreadable JSON ({exc})") from None
    if not doc.get("ok"):
        e = doc.get("error") or {}
        raise errors.RemoteScriptError(
            host, script, str(e.get("message") or "unknown error"), str(e.get("category") or ""),
            str(e.get("errorId") or ""), _int_or_none(e.get("line")), str(e.get("command") or ""), exit_code)
    result = doc.get("result")
    if isinstance(result, dict):  # ConvertTo-Json of a one-element array may unroll on some hosts
        return result
    if not isinstance(result, list) or not result or not isinstance(result[-1], dict):
        raise errors.ScriptOutputError(host, script, f"expected one state record, got {json.dumps(result)[:200]}")
    return result[-1]


def _int_or_none(v: Any) -> int | None:
    try:
        return int(v) if v not in (None, "", 0) else None
    except (TypeError, ValueError):
        return None


_XML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def parse_clixml_error(text: str) -> tuple[str, str, str, int | None]:
    """(message, category, error id, line) from powershell.exe's CLIXML error stream."""
    if "#< CLIXML" not in text:
        return text.strip(), "", "", None
    body = text[text.index("#< CLIXML") + len("#< CLIXML"):].strip()
    lines: list[str] = []
    try:
        root = ET.fromstring(body)
        for node in root.iter():
            if node.tag.endswith("}S") or node.tag == "S":
                if node.get("S") == "Error" and node.text:
                    lines.append(_XML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), node.text))
    except ET.ParseError:
        return body[:500], "", "", None
    full = "".join(lines)
    category = error_id = ""
    line_no = None
    message_lines = []
    for ln in full.splitlines():
        s = ln.strip()
        if s.startswith("+ CategoryInfo"):
            category = s.split(":", 1)[1].strip().split(":")[0].strip()
        elif s.startswith("+ FullyQualifiedErrorId"):
            error_id = s.split(":", 1)[1].strip()
        elif s.startswith("At line:"):
            m = re.match(r"At line:(\d+)", s)
            line_no = int(m.group(1)) if m else None
        elif s.startswith("+") or not s:
            continue
        elif line_no is None:
            message_lines.append(s)
    return " ".join(message_lines).strip(), category, error_id, line_no


# ---------------------------------------------------------------------------------------------
# restarts

def boot_time(connection: Any, *, retries: int | None = None, timeout: float = 60) -> str:
    """The host's LastBootUpTime (ISO 8601 UTC) via host_boot_time.ps1."""
    return str(run_script(connection, "host_boot_time.ps1", {}, timeout=timeout, retries=retries)["LastBootUpTime"])


def wait_for_restart(connection: Any, previous_boot_time: str, timeout: float = 600, *,
                     poll_interval: float = 0.2, max_poll_interval: float = 5.0) -> str:
    """Wait until the host answers again with a boot time other than ``previous_boot_time``."""
    conn = _as_connection(connection)
    discard_shells(conn)
    deadline = time.monotonic() + timeout
    interval = poll_interval
    last_error = ""
    while True:
        try:
            current = boot_time(conn, retries=0, timeout=min(60.0, max(5.0, timeout)))
            if current != previous_boot_time:
                return current
            last_error = "the host still reports the old boot time"
        except (errors.ConnectionFailedError, errors.WinRMFaultError, errors.ScriptTimeoutError,
                errors.RemoteScriptError) as exc:
            last_error = str(exc)
            discard_shells(conn)
        except errors.InvalidCredentialsError:
            # a freshly joined domain member may briefly refuse logons; the timeout bounds it
            last_error = "credentials refused while the host was starting"
            discard_shells(conn)
        if time.monotonic() + interval > deadline:
            raise errors.RestartTimeoutError(conn.label, timeout, last_error)
        time.sleep(interval)
        interval = min(interval * 1.5, max_poll_interval)


def restart_and_wait(connection: Any, timeout: float = 600) -> str:
    """Restart the host (Restart-Computer -Force) and wait until it is back; returns the new boot time."""
    conn = _as_connection(connection)
    previous = boot_time(conn)
    try:
        run_script(conn, "host_restart.ps1", {}, retries=0, timeout=60)
    except (errors.ConnectionFailedError, errors.WinRMFaultError, errors.ScriptTimeoutError):
        pass  # the host may go down before it answers: that is the point
    return wait_for_restart(conn, previous, timeout)
