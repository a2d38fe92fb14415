"""WinRS shells and commands: lifetime, stdin, the worker thread, output buffered for Receive.

A shell belongs to one host boot (a restart or power-off kills it: its id answers InvalidSelectors) and
to one user (MaxShellsPerUser per host). Each command runs in its own worker thread, started at
shell/Command; its stdin arrives through shell/Send into a StdinReader.
"""
from __future__ import annotations

import base64
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from . import audit, clixml, cmdline, soap

MAX_SHELLS_PER_USER = 30
MAX_TIMEOUT_SECONDS = 60.0          # MaxTimeoutms 60000
DEFAULT_IDLE_TIMEOUT = 7200.0       # winrm/config/winrs IdleTimeout 7200000 ms (Windows Server 2012 and later);
                                    # a client's rsp:IdleTimeOut in the shell create request overrides it

Executor = Callable[[str, Any, Any], Any]


class StdinClosed(Exception):
    """The command was terminated (or its shell died) while waiting for stdin."""


def codec_for(codepage: int) -> str:
    return {65001: "utf-8", 437: "cp437", 850: "cp850", 1252: "cp1252"}.get(int(codepage), "cp437")


class StdinReader:
    """stdin of one command, fed by shell/Send. read_all() blocks until End (or termination)."""

    def __init__(self, codepage: int = 437):
        self._codec = codec_for(codepage)
        self._buf = bytearray()
        self._ended = False
        self._closed = False
        self._cond = threading.Condition()

    @property
    def size(self) -> int:
        return len(self._buf)

    @property
    def data(self) -> bytes:
        return bytes(self._buf)

    @property
    def ended(self) -> bool:
        return self._ended

    def feed(self, data: bytes, end: bool) -> None:
        with self._cond:
            if self._ended:
                return
            self._buf += data
            if end:
                self._ended = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def read_all(self) -> str:
        with self._cond:
            while not self._ended and not self._closed:
                self._cond.wait()
            if not self._ended:
                raise StdinClosed("the command was terminated before its input ended")
            data = bytes(self._buf)
        text = data.decode(self._codec, errors="replace")
        return text[1:] if text.startswith("\ufeff") else text


@dataclass
class Command:
    id: str
    shell: "Shell"
    command_line: str
    stdin: StdinReader
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    sent_out: int = 0
    sent_err: int = 0
    done: bool = False
    exit_code: int | None = None
    terminated: bool = False
    started: float = field(default_factory=time.monotonic)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def finish(self, out: bytes, err: bytes, code: int) -> None:
        with self.cond:
            self.stdout += out
            self.stderr += err
            self.exit_code = code
            self.done = True
            self.cond.notify_all()

    def terminate(self) -> None:
        with self.cond:
            self.terminated = True
            self.stdin.close()
            self.cond.notify_all()

    def all_sent(self) -> bool:
        return self.sent_out >= len(self.stdout) and self.sent_err >= len(self.stderr)


@dataclass
class Shell:
    id: str
    host: str
    user: str
    auth: str
    boot_id: int
    codepage: int
    noprofile: bool
    input_streams: str
    output_streams: str
    idle_timeout: float
    client_ip: str
    commands: dict = field(default_factory=dict)
    last_used: float = field(default_factory=time.monotonic)

    @property
    def codec(self) -> str:
        return codec_for(self.codepage)


class ShellManager:
    """All shells of the server, keyed by (host, shell id)."""

    def __init__(self, world, executor: Executor, context_factory: Callable[[str, str, str], Any]):
        self.after_command: Callable[[], None] | None = None
        self.world = world
        self.executor = executor
        self.context_factory = context_factory
        self.lock = threading.Lock()
        self.shells: dict[tuple[str, str], Shell] = {}

    # -- bookkeeping ---------------------------------------------------------------------------
    def boot_id(self, host: str) -> int:
        with self.world.lock:
            return int(self.world.host(host).get("boot_id", 0))

    def _alive(self, sh: Shell, boot_id: int) -> bool:
        return sh.boot_id == boot_id and time.monotonic() - sh.last_used < sh.idle_timeout

    def _purge(self, host: str, boot: int) -> None:
        """Drop the host's dead shells (other boot, idle too long); caller holds self.lock.

        Lock order: world.lock is never taken while self.lock is held (world hooks call kill_host
        with world.lock held), so callers read the boot id first."""
        for key, sh in list(self.shells.items()):
            if key[0] == host and not self._alive(sh, boot):
                self._kill(key)

    def _kill(self, key: tuple[str, str]) -> None:
        sh = self.shells.pop(key, None)
        if sh:
            for cmd in sh.commands.values():
                cmd.terminate()

    def kill_host(self, host: str) -> None:
        """A restart or power-off: every shell of the host dies (world hook)."""
        with self.lock:
            for key in [k for k in self.shells if k[0] == host]:
                self._kill(key)

    def count(self, host: str | None = None) -> int:
        """Open shells (of one host): those a restart or the idle timeout ended do not count."""
        with self.lock:
            hosts = [host] if host is not None else sorted({k[0] for k in self.shells})
        boots = {h: self.boot_id(h) for h in hosts}
        with self.lock:
            return sum(1 for (h, _), sh in self.shells.items() if h in boots and self._alive(sh, boots[h]))

    def get(self, host: str, shell_id: str | None, user: str) -> Shell:
        if not shell_id:
            raise soap.invalid_selectors_fault()
        boot = self.boot_id(host)
        with self.lock:
            key = (host, shell_id.upper())
            sh = self.shells.get(key)
            if sh is None:
                raise soap.invalid_selectors_fault()
            if not self._alive(sh, boot):
                self._kill(key)
                raise soap.invalid_selectors_fault()
            if sh.user.lower() != user.lower():
                raise soap.access_denied_fault()
            sh.last_used = time.monotonic()
            return sh

    # -- operations ----------------------------------------------------------------------------
    def create(self, host: str, user: str, auth: str, req: soap.Request, client_ip: str) -> Shell:
        body = req.body_child("rsp", "Shell")
        ins = outs = None
        idle = DEFAULT_IDLE_TIMEOUT
        if body is not None:
            ins = body.findtext(soap._q("rsp", "InputStreams"))
            outs = body.findtext(soap._q("rsp", "OutputStreams"))
            idle_text = body.findtext(soap._q("rsp", "IdleTimeOut"))
            if idle_text:
                idle = max(1.0, soap.parse_duration(idle_text, DEFAULT_IDLE_TIMEOUT))
        try:
            codepage = int(req.options.get("WINRS_CODEPAGE") or 437)
        except ValueError:
            raise soap.schema_fault("WINRS_CODEPAGE")
        if codepage not in (65001, 437, 850, 1252):
            raise soap.ProtocolFault("InvalidOptions", f"The WS-Management service does not support the code page "
                                     f"{codepage}. ", 2150859059)
        noprofile = (req.options.get("WINRS_NOPROFILE") or "").upper() == "TRUE"
        boot = self.boot_id(host)
        with self.lock:
            self._purge(host, boot)
            mine = sum(1 for k, s in self.shells.items() if k[0] == host and s.user.lower() == user.lower())
            if mine >= MAX_SHELLS_PER_USER:
                raise soap.max_shells_fault(MAX_SHELLS_PER_USER)
            sh = Shell(str(uuid.uuid4()).upper(), host, user, auth, boot, codepage, noprofile,
                       (ins or "stdin").strip(), (outs or "stdout stderr").strip(), idle, client_ip)
            self.shells[(host, sh.id)] = sh
        return sh

    def delete(self, sh: Shell) -> None:
        with self.lock:
            self._kill((sh.host, sh.id))

    def command(self, sh: Shell, req: soap.Request) -> Command:
        line_el = req.body_child("rsp", "CommandLine")
        if line_el is None:
            raise soap.schema_fault("CommandLine missing")
        exe = (line_el.findtext(soap._q("rsp", "Command")) or "").strip()
        args = [(a.text or "") for a in line_el.findall(soap._q("rsp", "Arguments"))]
        command_id = (line_el.get("CommandId") or str(uuid.uuid4())).upper()
        inv = cmdline.parse(exe, args)
        if (req.options.get("WINRS_SKIP_CMD_SHELL") or "false").lower() != "true" and \
                len(inv.command_line) > cmdline.CMD_MAX_LINE:
            inv = cmdline.Invocation("too_long", inv.command_line, exe=inv.exe)
        cmd = Command(command_id, sh, inv.command_line, StdinReader(sh.codepage))
        with self.lock:
            sh.commands[command_id] = cmd
        t = threading.Thread(target=self._run, args=(cmd, inv), name=f"winrs-{sh.host}-{command_id[:8]}",
                             daemon=True)
        t.start()
        return cmd

    def find_command(self, sh: Shell, command_id: str | None) -> Command:
        if command_id is None:
            # a Receive without CommandId: the shell's latest command
            if not sh.commands:
                raise soap.unknown_command_fault()
            return list(sh.commands.values())[-1]
        cmd = sh.commands.get(command_id.upper())
        if cmd is None:
            raise soap.unknown_command_fault()
        return cmd

    def send(self, sh: Shell, req: soap.Request) -> None:
        send = req.body_child("rsp", "Send")
        if send is None:
            raise soap.schema_fault("Send missing")
        for stream in send.findall(soap._q("rsp", "Stream")):
            if stream.get("Name", "stdin") != "stdin":
                continue
            cmd = self.find_command(sh, stream.get("CommandId"))
            data = base64.b64decode((stream.text or "").strip()) if (stream.text or "").strip() else b""
            end = (stream.get("End") or "").lower() == "true"
            cmd.stdin.feed(data, end)

    def signal(self, sh: Shell, req: soap.Request) -> None:
        sig = req.body_child("rsp", "Signal")
        if sig is None:
            raise soap.schema_fault("Signal missing")
        cmd = self.find_command(sh, sig.get("CommandId"))
        code = (sig.findtext(soap._q("rsp", "Code")) or "").strip()
        if code in (soap.SIGNAL_TERMINATE, soap.SIGNAL_CTRL_C, soap.SIGNAL_CTRL_BREAK):
            cmd.terminate()
            if code == soap.SIGNAL_TERMINATE:
                with self.lock:
                    sh.commands.pop(cmd.id, None)

    def receive(self, sh: Shell, req: soap.Request) -> bytes:
        rcv = req.body_child("rsp", "Receive")
        desired = rcv.find(soap._q("rsp", "DesiredStream")) if rcv is not None else None
        cmd = self.find_command(sh, desired.get("CommandId") if desired is not None else None)
        wanted = (desired.text or "stdout stderr").split() if desired is not None else ["stdout", "stderr"]
        timeout = min(req.operation_timeout, MAX_TIMEOUT_SECONDS)
        deadline = time.monotonic() + timeout
        with cmd.cond:
            while not cmd.done and not cmd.terminated:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise soap.timed_out_fault()
                cmd.cond.wait(left)
            if cmd.terminated and not cmd.done:
                # terminated (Signal, shell death) while running: report it finished, nothing more to say
                return soap.receive_response(req.message_id, cmd.id, [], True, cmd.exit_code or 0)
            capacity = soap.receive_capacity(req.max_envelope)
            chunks = []
            for name, buf, attr in (("stdout", cmd.stdout, "sent_out"), ("stderr", cmd.stderr, "sent_err")):
                if name not in wanted:
                    setattr(cmd, attr, len(buf))
                    continue
                pos = getattr(cmd, attr)
                take = min(capacity, len(buf) - pos)
                piece = bytes(buf[pos:pos + take])
                capacity -= take
                setattr(cmd, attr, pos + take)
                finished = getattr(cmd, attr) >= len(buf)
                if piece:
                    chunks.append((name, base64.b64encode(piece).decode("ascii"), False))
                if finished:
                    chunks.append((name, "", True))
            done = cmd.all_sent()
            # End markers only once everything of that stream has gone out, in the final response
            if not done:
                chunks = [c for c in chunks if not c[2]]
            return soap.receive_response(req.message_id, cmd.id, chunks, done, cmd.exit_code)

    # -- the worker ----------------------------------------------------------------------------
    def _run(self, cmd: Command, inv: cmdline.Invocation) -> None:
        sh = cmd.shell
        started = time.monotonic()
        out, err, code = "", "", 1
        try:
            out, err, code = self._execute(cmd, inv)
        except StdinClosed:
            out, err, code = "", "", 1
        except Exception as exc:  # an interpreter bug must not hang the client: report it like a crash
            err = clixml.render_errors([f"hvsim internal error: {type(exc).__name__}: {exc}"])
            code = 1
            traceback.print_exc()
        # audit first, then report Done: a client that sees the command finished finds it in audit.jsonl,
        # and the Signal terminate that pywinrm sends after Done cannot mark it terminated
        try:
            self.world.audit("command", **audit.command_fields(sh, cmd, inv, code, time.monotonic() - started))
            self.world.flush()  # and its effects are in state.json
        except Exception:  # the audit must never break the protocol
            pass
        if self.after_command is not None:   # e.g. a guest's new address gets its listeners before Done
            try:
                self.after_command()
            except Exception:
                traceback.print_exc()
        cmd.finish(out.encode(sh.codec, errors="replace"), err.encode(sh.codec, errors="replace"), int(code))

    def _execute(self, cmd: Command, inv: cmdline.Invocation) -> tuple[str, str, int]:
        sh = cmd.shell
        if inv.program == "too_long":
            # WinRS starts the command through cmd.exe, whose command line ends at 8191 characters
            # (pywinrm#184: run_ps of a script over ~3,000 characters)
            return "", "The command line is too long.\r\n", 1
        if inv.program == "unknown":
            return "", (f"'{inv.exe}' is not recognized as an internal or external command,\r\n"
                        "operable program or batch file.\r\n"), 1
        if inv.program == "builtin":
            return self._builtin(sh, inv)
        if inv.error:
            return "", inv.error + "\r\n", cmdline.EXIT_BAD_COMMAND_LINE
        stdin: StdinReader | None = cmd.stdin
        script = inv.script
        if inv.script_from_stdin:
            script = cmd.stdin.read_all()
            stdin = None
        ctx = self.context_factory(sh.host, sh.user, sh.auth)
        result = self.executor(script or "", ctx, stdin)
        errors = list(getattr(result, "errors", []) or [])
        streams = list(getattr(result, "streams", []) or [])
        if inv.options.get("EncodedCommand"):
            # CLIXML carries warnings/verbose/debug too, in order with the errors
            err = clixml.render_streams(streams) if streams else clixml.render_errors(errors)
        elif not errors:
            err = ""
        else:
            err = "".join(clixml.error_text(e) for e in errors)
        return getattr(result, "stdout", "") or "", err, int(getattr(result, "exit_code", 0) or 0)

    def _builtin(self, sh: Shell, inv: cmdline.Invocation) -> tuple[str, str, int]:
        name, args = inv.builtin, inv.builtin_args
        if name == "echo":
            return (args if args.strip() else "ECHO is on.") + "\r\n", "", 0
        if name == "hostname":
            return sh.host + "\r\n", "", 0
        if name == "whoami":
            return sh.user.lower() + "\r\n", "", 0
        if name == "exit":
            parts = [p for p in args.split() if p.lower() != "/b"]
            try:
                return "", "", int(parts[0]) if parts else 0
            except ValueError:
                return "", "", 0
        if name == "ver":
            with self.world.lock:
                version = self.world.host(sh.host).get("os", {}).get("version", "10.0")
            return f"\r\nMicrosoft Windows [Version {version}]\r\n", "", 0
        if name == "cd":
            return "C:\\Users\\" + sh.user.split("\\")[-1] + "\r\n", "", 0
        return "", "", 0
