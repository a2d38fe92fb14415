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
        Polls (cheap ``answers`` probe at most every second, then the boot-time script) until the host
        answers with a boot time different from ``previous_boot_time``; returns the new one or raises
        RestartTimeoutError.
    restart_and_wait(connection, timeout=600) -> str  Restart-Computer -Force, then wait_for_restart.
    answers(connection) -> bool                       the WinRM listener answers HTTP (no logon)
    operation()                                       context manager: one provider operation's scope
                                                      (base.py enters it in create/read/update/delete)
    discard_shells(connection) / close_all()          forget (and close) cached shells
    open_shells() -> int                              shells this process holds open
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

Shells never outlive the work: every provider operation runs inside ``operation()``; a pool counts
the operations using it, and when the last one ends (success or error) every shell of the pool is
deleted on the host, including those a connection failure left behind. (The engine kills the
provider process, so nothing may be left for atexit.) Shells ask the host for a 10-minute idle
timeout, so even a killed process leaves none for long (Windows' default is 2 hours, and a user may
hold at most 30: MaxShellsPerUser).

Failures: every exception of a WinRM exchange becomes an ``errors.HvProviderError`` (connection
errors a ConnectionFailedError naming the host; one lost after the command was sent says the script
may have finished and that the next ``pulumi up`` adopts what it created). Once the script's result
line has arrived, a failure of a later Receive or of the Signal does not fail the call.
"""
from __future__ import annotations

import atexit
import base64
import collections
import contextlib
import functools
import http.client
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import requests
import urllib3
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
# shells, their pool, and the operation scope that closes them

SHELL_IDLE_TIMEOUT = 600       # seconds: asked of the host at create, so a shell a killed process left
                               # behind ends in minutes, not after the host's default (2 hours)
CLOSE_TIMEOUT = 5              # seconds one shell delete may take (the host may be gone)


class _Shell:
    """One authenticated pywinrm Protocol (its own HTTP session) and one open remote shell."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.protocol = _protocol(conn)
        _count("shell_create")
        self.shell_id = self.protocol.open_shell(codepage=65001, noprofile=True,
                                                 idle_timeout=f"PT{SHELL_IDLE_TIMEOUT}.000S")
        _close_all_at_exit()
        self.commands = 0

    def close(self) -> bool:
        """Delete the shell on the host, which ends a command still running in it (best effort,
        bounded by CLOSE_TIMEOUT; never raises). False when the host could not be told."""
        self.protocol.transport.read_timeout_sec = CLOSE_TIMEOUT
        if _delete_shell(self.protocol, self.shell_id):
            return True
        # its connection may be what broke (NTLM context lost): once more on a fresh session
        try:
            return _delete_shell(_protocol(self.conn, CLOSE_TIMEOUT), self.shell_id)
        except Exception:
            return False

    def drop_session(self) -> None:
        try:
            self.protocol.transport.close_session()
        except Exception:
            pass


def _protocol(conn: Connection, read_timeout: int | None = None) -> Protocol:
    read = read_timeout or conn.read_timeout
    return Protocol(
        endpoint=conn.endpoint,
        transport=conn.transport,  # type: ignore[arg-type]
        username=conn.username,
        password=conn.password,
        server_cert_validation=conn.server_cert_validation,  # type: ignore[arg-type]
        ca_trust_path=conn.ca_trust_path if conn.ca_trust_path else None,  # type: ignore[arg-type]
        read_timeout_sec=read,
        operation_timeout_sec=min(conn.operation_timeout, read - 1),
        message_encryption="auto",
        proxy=None,  # the lab is reached directly; never through an environment proxy
    )


def _delete_shell(protocol: Protocol, shell_id: str) -> bool:
    """shell Delete; True when the host answered (a shell it no longer knows is gone too)."""
    _count("shell_delete")
    try:
        protocol.close_shell(shell_id)
        return True
    except WSManFaultError:
        return True          # InvalidSelectors and the like: nothing left to close
    except Exception:
        _count("shell_delete_failed")
        return False
    finally:
        try:
            protocol.transport.close_session()
        except Exception:
            pass


class _Pool:
    """The shells of one (endpoint, user, settings). ``users``: operation scopes using it; when the
    last one ends, every shell is deleted on the host (idle ones and those an error left behind)."""

    def __init__(self) -> None:
        self.idle: list[_Shell] = []
        self.orphans: list[_Shell] = []   # to delete when the operation ends, never to reuse
        self.total = 0
        self.users = 0
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

    def release(self, shell: _Shell, state: str) -> None:
        """``state``: "ok" (back to the pool), "gone" (the host no longer has it: a restart, an idle
        timeout) or "broken" (the connection failed mid-command: the shell, and the command in it,
        may still be running)."""
        with self.cond:
            if state == "ok":
                self.idle.append(shell)
            else:
                self.total -= 1
            self.cond.notify()
        if state == "gone":
            shell.drop_session()
        elif state == "broken" and not shell.close():
            # deleted now, so that an abandoned run never overlaps the retry; if the host could not
            # be told, once more when the operation ends
            with self.cond:
                self.orphans.append(shell)

    def retire_idle(self, state: str) -> None:
        """Take the idle shells out of use: "gone" forgets them, "broken" deletes them at the end."""
        for shell in self.drain():
            shell.drop_session()
            if state == "broken":
                with self.cond:
                    self.orphans.append(shell)

    def drain(self) -> list[_Shell]:
        with self.cond:
            shells, self.idle = self.idle, []
            self.total -= len(shells)
            self.cond.notify_all()
            return shells

    def enter(self) -> None:
        with self.cond:
            self.users += 1

    def leave(self) -> list[_Shell]:
        """End one scope's use; the shells to delete when it was the last."""
        with self.cond:
            self.users -= 1
            if self.users > 0:
                return []
            idle, orphans = self.idle, self.orphans
            self.idle, self.orphans = [], []
            self.total -= len(idle)
            self.cond.notify_all()
        return idle + orphans


_POOLS: dict[tuple, _Pool] = {}
_POOLS_LOCK = threading.Lock()
_SCOPE = threading.local()   # .depth, .pools: the pools the current thread's operation has used


def _pool(conn: Connection) -> _Pool:
    with _POOLS_LOCK:
        pool = _POOLS.get(conn.pool_key)
        if pool is None:
            pool = _POOLS[conn.pool_key] = _Pool()
    # the current operation now uses this pool: it stays open until that operation ends
    pools = getattr(_SCOPE, "pools", None)
    if pools is not None and pool not in pools:
        pool.enter()
        pools.append(pool)
    return pool


@contextlib.contextmanager
def operation() -> Iterator[None]:
    """One provider operation (create, read, update, delete): the shells it opens are reused within
    it and shared with the operations running at the same time in other threads; when the last
    operation using a host's shells ends (success or error), they are deleted on the host. Nested
    scopes join the outer one. ``run_script`` outside any scope is a scope of its own."""
    depth = getattr(_SCOPE, "depth", 0)
    if depth == 0:
        _SCOPE.pools = []
    _SCOPE.depth = depth + 1
    try:
        yield
    finally:
        _SCOPE.depth = depth
        if depth == 0:
            pools, _SCOPE.pools = _SCOPE.pools, None
            _close([s for pool in pools for s in pool.leave()])


def _close(shells: list[_Shell], wait: float = 2.0 * CLOSE_TIMEOUT) -> None:
    """Delete shells on their hosts, in parallel, waiting at most ``wait`` seconds in total."""
    if len(shells) == 1:
        shells[0].close()
        return
    threads = [threading.Thread(target=s.close, daemon=True) for s in shells]
    for t in threads:
        t.start()
    deadline = time.monotonic() + wait
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))


def open_shells() -> int:
    """Shells this process holds open (idle or in use; tests and benchmarks read it)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
    return sum(p.total + len(p.orphans) for p in pools)


def discard_shells(connection: Any, close: bool = False) -> None:
    """Stop reusing the idle shells of one host (a restart is under way: they are stale). They are
    deleted now (``close``) or when the operation ends (a host that restarted answers at once that
    it no longer knows them; one that did not restart after all still gets them deleted)."""
    conn = _as_connection(connection)
    with _POOLS_LOCK:
        pool = _POOLS.get(conn.pool_key)
    if pool is None:
        return
    if close:
        shells = pool.drain()
        _close(shells)
    else:
        pool.retire_idle("broken")


def close_all(wait: float = 2.0) -> None:
    """Close every shell still held (idle or orphaned), in parallel, waiting at most ``wait`` seconds."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
    shells = []
    for pool in pools:
        shells += pool.drain()
        with pool.cond:
            shells += pool.orphans
            pool.orphans = []
    _close(shells, wait)


_exit_hook = threading.Lock()
_exit_hook_set = False


def _close_all_at_exit() -> None:
    """A last resort (the engine kills the provider process without running it; transport.operation()
    is what closes shells). Register close_all with atexit once a shell is open, not at import (atexit runs the last
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
    """Internal: this attempt failed in a way worth another try (with the wrapped error as reason).
    ``shell``: how the shell is released: "broken" (deleted when the operation ends) or "gone"."""

    def __init__(self, error: errors.HvProviderError, immediate: bool = False, shell: str = "broken") -> None:
        super().__init__(str(error))
        self.error, self.immediate, self.shell = error, immediate, shell


# Everything a broken or silent connection raises from requests/urllib3/http.client/socket/ssl
_CONNECTION_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                      http.client.HTTPException, ConnectionError, OSError)


def _translate(conn: Connection, exc: BaseException, operation: str, during: str | None = None,
               reused: bool = False) -> errors.HvProviderError | _Retry:
    """Map any exception of a WinRM exchange to our error tree; _Retry marks the retryable ones.

    ``during``: the script whose command was already sent (its outcome is then unknown);
    ``reused``: the shell had served a command before (a refused logon then means its connection was
    replaced, not that the password is wrong)."""
    host, port = conn.host, conn.port
    if isinstance(exc, _WinRMInvalidCredentials):
        if reused:
            return _Retry(errors.ConnectionFailedError(host, port, "the authenticated connection was closed",
                                                       during=during), immediate=True)
        return errors.InvalidCredentialsError(host, port, conn.username, conn.transport)
    if isinstance(exc, requests.exceptions.SSLError):
        reason = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate" in reason.lower() or "hostname" in reason.lower():
            return errors.TlsError(host, port, _short(reason))
        return _Retry(errors.ConnectionFailedError(host, port, f"TLS: {_short(reason)}", during=during))
    if isinstance(exc, _CONNECTION_ERRORS):
        return _Retry(errors.ConnectionFailedError(host, port, _short(str(exc)), during=during))
    if isinstance(exc, WSManFaultError):
        code = exc.wsman_fault_code
        fault = errors.WinRMFaultError(host, port, operation, exc.reason, code)
        if code in STALE_SHELL_FAULTS:
            return _Retry(fault, immediate=True, shell="gone")
        if code == FAULT_BUSY or exc.code in TRANSIENT_HTTP:
            return _Retry(fault)
        return fault
    if isinstance(exc, WinRMTransportError):
        fault = errors.WinRMFaultError(host, port, operation, f"HTTP {exc.code}", None)
        return _Retry(fault) if exc.code in TRANSIENT_HTTP else fault
    if isinstance(exc, WinRMError):
        return errors.WinRMFaultError(host, port, operation, str(exc))
    # an answer that could not be read (truncated XML, a broken NTLM seal, a mismatched RelatesTo)
    return _Retry(errors.WinRMFaultError(host, port, operation,
                                         f"unreadable answer ({type(exc).__name__}: {_short(str(exc))})"))


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
    with operation():  # joins the provider operation's scope, or is one of its own
        return _run(conn, script, params or {}, timeout, retries)


def _run(conn: Connection, script: str, params: Mapping[str, Any], timeout: float | None,
         retries: int | None) -> dict:
    payload = build_payload(script, params)
    attempts_allowed = 1 + (conn.connect_retries if retries is None else retries)
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    pool = _pool(conn)
    delay = 0.5
    attempt = 0
    stale_reopens = 0
    while True:
        attempt += 1
        shell: _Shell | None = None
        state = "broken"
        reused = False
        try:
            try:
                shell = pool.acquire(conn)
            except Exception as exc:  # opening the shell: authentication and connection errors land here
                raise _translate(conn, exc, "opening a shell") from None
            reused = shell.commands > 0
            stdout, stderr, exit_code, state = _execute(shell, payload, conn, script, limit)
        except _Retry as retry:
            state = retry.shell
            err = retry.error
            if isinstance(err, errors.ConnectionFailedError):
                err = errors.ConnectionFailedError(conn.host, conn.port, err.reason, attempt, err.during)
            if (retry.immediate or reused) and stale_reopens < 2:
                # a pooled shell that worked before died (host restarted, idle timeout, connection
                # closed): its idle siblings are likely as dead; retire them and reopen at once, no
                # retry spent. After a restart they are gone; otherwise they are deleted at the end.
                stale_reopens += 1
                pool.retire_idle(state)
                attempt -= 1
                continue
            if attempt >= attempts_allowed:
                raise err from None
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
            continue
        finally:
            if shell is not None:
                pool.release(shell, state)
        return parse_result(conn.label, script, stdout, stderr, exit_code, secrets=_secret_values(params))


def _execute(shell: _Shell, payload: bytes, conn: Connection, script: str,
             limit: float) -> tuple[bytes, bytes, int, str]:
    """One Command, its Sends and Receives, one Signal -> (stdout, stderr, exit code, shell state).
    Raises _Retry / HvProviderError. Once the result line is here the call succeeds: a failure after
    it (a later Receive, the Signal) only retires the shell."""
    protocol, shell_id = shell.protocol, shell.shell_id
    reused = shell.commands > 0
    during = f"running {script}"
    try:
        _count("command")
        command_id = protocol.run_command(shell_id, "powershell.exe", list(bootstrap_arguments()))
    except Exception as exc:  # the host may have started the command: its outcome is unknown
        raise _translate(conn, exc, during, during, reused) from None
    shell.commands += 1
    out: list[bytes] = []
    err: list[bytes] = []
    try:
        for start in range(0, len(payload), STDIN_CHUNK_BYTES):
            chunk = payload[start:start + STDIN_CHUNK_BYTES]
            _count("send")
            protocol.send_command_input(shell_id, command_id, chunk, end=start + STDIN_CHUNK_BYTES >= len(payload))
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
        failure = _translate(conn, exc, during, during, True)
        line = _result_line(b"".join(out))
        if line is not None and isinstance(failure, _Retry):
            _count("result_kept")
            return b"".join(out), b"".join(err), 0 if line.startswith('{"ok":true') else 1, "broken"
        raise failure from None
    state = "ok" if _signal(protocol, shell_id, command_id) else "broken"
    return b"".join(out), b"".join(err), code, state


def _signal(protocol: Protocol, shell_id: str, command_id: str) -> bool:
    """Signal terminate (frees the command on the host). Never raises: the result is already here.
    False when the connection failed (the shell is then deleted, not reused)."""
    try:
        _count("signal")
        protocol.cleanup_command(shell_id, command_id)
        return True
    except WSManFaultError:
        return True   # the host refused the signal (e.g. the command is gone): the shell is fine
    except Exception:
        _count("signal_failed")
        return False


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


def _result_line(stdout: bytes) -> str | None:
    """The bootstrap's last complete result line in stdout, if it has arrived."""
    text = stdout.decode("utf-8", errors="replace")
    complete = text[:text.rfind("\n") + 1] if "\n" in text else ""
    return next((ln.strip() for ln in reversed(complete.splitlines()) if ln.strip().startswith(_RESULT_PREFIX)), None)


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


def answers(connection: Any, timeout: float = 2.0) -> bool:
    """A cheap probe: does the host's WinRM listener answer HTTP? One unauthenticated, empty POST
    (Windows answers 401 with its authentication challenge): no logon, no shell, no process started
    on the host. A TLS failure counts as an answer (the full call then reports it)."""
    conn = _as_connection(connection)
    _count("probe")
    session = requests.Session()
    session.trust_env = False  # never through an environment proxy
    verify: Any = False if conn.server_cert_validation == "ignore" else (conn.ca_trust_path or True)
    try:
        with contextlib.closing(session):
            reply = session.post(conn.endpoint, data=b"", timeout=timeout, verify=verify, allow_redirects=False,
                                 headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
    except requests.exceptions.SSLError:
        return True
    except Exception:
        return False
    return reply.status_code in (200, 401)


def wait_for_restart(connection: Any, previous_boot_time: str, timeout: float = 600, *,
                     poll_interval: float = 0.2, max_poll_interval: float = 1.0) -> str:
    """Wait until the host answers again with a boot time other than ``previous_boot_time``.

    Polls with the cheap ``answers`` probe (at most every ``max_poll_interval`` seconds, so the host
    is noticed within about a second of answering); only once the listener answers does it confirm
    with host_boot_time.ps1 (a logon and a process on the host)."""
    conn = _as_connection(connection)
    discard_shells(conn)
    deadline = time.monotonic() + timeout
    interval = poll_interval
    last_error = ""
    while True:
        if not answers(conn, timeout=max(1.0, min(5.0, max_poll_interval * 2))):
            last_error = "WinRM does not answer yet"
        else:
            try:
                current = boot_time(conn, retries=0, timeout=min(60.0, max(5.0, timeout)))
                if current != previous_boot_time:
                    return current
                last_error = "the host still reports the old boot time"
            except (errors.ConnectionFailedError, errors.WinRMFaultError, errors.ScriptTimeoutError,
                    errors.RemoteScriptError, errors.ScriptOutputError) as exc:
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
