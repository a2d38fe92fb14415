"""WinRMService: every host's listeners, the shells, and the WS-Management operations.

    svc = WinRMService(world, state_dir, hosts={"HV01": {"address": ..., "http_port": 0, ...}})
    svc.start()                       # binds; svc.endpoints has the real ports
    svc.stop()

The executor defaults to hvsim.powershell.execute; tests may inject a stand-in with the same shape
(script, ctx, stdin) -> object with .stdout, .errors, .exit_code.
"""
from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import Any, Callable

from . import soap
from .auth import Identity, cert_hash_for_cbt, setup_ntlm_user_file
from .http import AnswerLost, WinRMListener, start_listener
from .shells import ShellManager
from .tls import ensure_ca, issue_host_cert, server_context


# The WS-Management operations by the names fail-operation faults use (docs/hvsim.md)
OPERATIONS = {soap.ACTION_CREATE: "Create", soap.ACTION_COMMAND: "Command", soap.ACTION_SEND: "Send",
              soap.ACTION_RECEIVE: "Receive", soap.ACTION_SIGNAL: "Signal", soap.ACTION_DELETE: "Delete"}
OPERATION_NAMES = tuple(OPERATIONS.values())


def default_executor(script: str, ctx: Any, stdin: Any) -> Any:
    from hvsim.powershell import execute
    return execute(script, ctx, stdin)


def default_context(world: Any, host: str, user: str, auth: str) -> Any:
    """The CmdletContext for one command: Session(host, user, auth, can_delegate=False)."""
    from hvsim.cmdlets.registry import CmdletContext, Session
    session = Session(host=host, user=user, auth=auth, can_delegate=False)
    try:
        return CmdletContext(world=world, session=session, runner=None, warnings=[])
    except TypeError:
        return CmdletContext(world=world, session=session)


class WinRMService:
    def __init__(self, world: Any, state_dir: str | Path, hosts: dict[str, dict],
                 executor: Callable[[str, Any, Any], Any] | None = None,
                 context_factory: Callable[[Any, str, str, str], Any] | None = None):
        self.world = world
        self.state_dir = Path(state_dir)
        self.host_specs = hosts
        self.executor = executor or default_executor
        self._context_factory = context_factory or default_context
        self.shells = ShellManager(world, self.executor,
                                   lambda host, user, auth: self._context_factory(self.world, host, user, auth))
        self.listeners: list[WinRMListener] = []
        self.endpoints: dict[str, dict] = {}
        self.ca_path: Path | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        setup_ntlm_user_file(self.state_dir)
        ca_cert, ca_key, self.ca_path = ensure_ca(self.state_dir)
        dom = (self.world.data.get("domain") or {}).get("fqdn")
        for name, spec in self.host_specs.items():
            address = str(spec.get("address", "127.0.0.1"))
            names = [name, name.lower()] + ([f"{name.lower()}.{dom}"] if dom else [])
            cert_path, key_path, der = issue_host_cert(self.state_dir, ca_cert, ca_key, name, address, names)
            http = WinRMListener(self, name, address, int(spec.get("http_port", 5985)), "http")
            https = WinRMListener(self, name, address, int(spec.get("https_port", 5986)), "https",
                                  server_context(cert_path, key_path), cert_hash_for_cbt(der))
            self.listeners += [http, https]
            self.endpoints[name] = {"address": address, "http_port": http.port, "https_port": https.port,
                                    "allow_unencrypted": bool(spec.get("allow_unencrypted", False))}
        for listener in self.listeners:
            start_listener(listener)
        hooks = getattr(self.world, "hooks", None)
        if isinstance(hooks, dict):
            hooks.setdefault("shutdown", []).append(lambda _w, host: self.shells.kill_host(host))
            hooks.setdefault("power_off", []).append(lambda _w, host: self.shells.kill_host(host))

    def stop(self) -> None:
        # shut every listener down at once (each waits up to one poll interval)
        stoppers = [threading.Thread(target=listener.shutdown, daemon=True) for listener in self.listeners]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(5)
        for listener in self.listeners:
            listener.server_close()
        self.listeners = []

    # -- host state and injected faults -------------------------------------------------------------
    def reachable(self, host: str) -> bool:
        return bool(self.world.reachable(host))

    def boot_id(self, host: str) -> int:
        return self.shells.boot_id(host)

    def allow_unencrypted(self, host: str) -> bool:
        return bool(self.endpoints.get(host, {}).get("allow_unencrypted"))

    def _faults(self) -> dict:
        return self.world.data.get("faults") or {}

    def accept_connection(self, host: str) -> bool:
        """False: reset this new connection (host unreachable, or a drop-connections fault)."""
        if not self.reachable(host):
            return False
        with self.world.lock:       # read and decrement as one step: the control interface writes faults too
            pending = int(self._faults().get("drop_connections", {}).get(host, 0) or 0)
            if pending <= 0:
                return True
            with self.world.transaction() as data:
                drops = data.setdefault("faults", {}).setdefault("drop_connections", {})
                drops[host] = pending - 1
                if drops[host] <= 0:
                    drops.pop(host, None)
            self.world.audit("connection_dropped", host=host, remaining=pending - 1)
            return False

    def take_operation_fault(self, host: str, operation: str, after: bool) -> dict | None:
        """The first fail-operation fault matching (host, operation, before/after), counted down once."""
        if not self._faults().get("operations"):
            return None
        with self.world.lock:
            with self.world.transaction() as data:
                entries = data.setdefault("faults", {}).setdefault("operations", [])
                for entry in entries:
                    if (str(entry.get("host", "")).upper() == host.upper() and entry.get("operation") == operation
                            and bool(entry.get("after")) == after):
                        entry["count"] = int(entry.get("count", 1)) - 1
                        if entry["count"] <= 0:
                            entries.remove(entry)
                        found = dict(entry)
                        break
                else:
                    return None
            self.world.audit("operation_fault", host=host, operation=operation, fault=found.get("kind", "reset"),
                             after=after, remaining=max(0, found["count"]))
            return found

    def latency(self, host: str) -> float:
        ms = self._faults().get("latency_ms", {}).get(host, 0) or 0
        return float(ms) / 1000.0

    def log_auth_failure(self, host: str, method: str, reason: str) -> None:
        try:
            self.world.audit("auth_failed", host=host, method=method, reason=reason)
        except Exception:
            pass

    # -- WS-Management -----------------------------------------------------------------------------
    def dispatch(self, host: str, identity: Identity, body: bytes, client_ip: str, scheme: str,
                 port: int) -> tuple[int, bytes]:
        relates_to = ""
        try:
            req = soap.parse_request(body)
            relates_to = req.message_id
            if req.resource_uri and req.resource_uri.lower() != soap.SHELL_CMD_URI:
                raise soap.ProtocolFault("DestinationUnreachable", "The WS-Management service cannot process the "
                                         "request. The resource URI is not supported. ", 2150858770)
            operation = OPERATIONS.get(req.action, "")
            self._lose_answer(host, operation, after=False)
            reply = self._operation(host, identity, req, client_ip, scheme, port)
            # an answer lost after the work was done; for Receive, the one that reports the command done
            if operation != "Receive" or soap.STATE_DONE.encode() in reply:
                self._lose_answer(host, operation, after=True)
            return 200, reply
        except AnswerLost:
            raise
        except soap.ProtocolFault as fault:
            return fault.status, soap.render_fault(fault, relates_to, self._machine(host))
        except Exception as exc:
            traceback.print_exc()
            fault = soap.ProtocolFault("InternalError", f"hvsim internal error: {exc}", 2147500037, code="s:Receiver")
            return 500, soap.render_fault(fault, relates_to, self._machine(host))

    def _lose_answer(self, host: str, operation: str, after: bool) -> None:
        fault = self.take_operation_fault(host, operation, after) if operation else None
        if fault is not None:
            raise AnswerLost(str(fault.get("kind") or "reset"), float(fault.get("seconds") or 60))

    def _machine(self, host: str) -> str:
        try:
            return self.world.fqdn(host)
        except Exception:
            return host

    def firewall_allows(self, host: str, port: int) -> bool:
        """Whether the host's firewall lets WinRM in on the port the listener serves."""
        from hvsim.world import firewall

        with self.world.lock:
            h = self.world.host(host)
            scheme_port = 5986 if port == self.endpoints[host].get("https_port") else 5985
            return firewall.allows(h, "TCP", scheme_port)

    def _operation(self, host: str, identity: Identity, req: soap.Request, client_ip: str, scheme: str,
                   port: int) -> bytes:
        action = req.action
        mid = req.message_id
        if action == soap.ACTION_CREATE:
            if self.world.remote_token_filtered(host, identity.user):
                raise soap.access_denied_fault()
            sh = self.shells.create(host, identity.user, identity.auth, req, client_ip)
            address = f"{scheme}://{self.endpoints[host]['address']}:{port}/wsman"
            return soap.create_response(mid, address, sh.id, identity.user, client_ip, sh.idle_timeout,
                                        sh.input_streams, sh.output_streams)
        if action not in (soap.ACTION_DELETE, soap.ACTION_COMMAND, soap.ACTION_SEND, soap.ACTION_RECEIVE,
                          soap.ACTION_SIGNAL):
            raise soap.action_not_supported_fault(action)
        sh = self.shells.get(host, req.selectors.get("ShellId"), identity.user)
        if action == soap.ACTION_DELETE:
            self.shells.delete(sh)
            return soap.delete_response(mid)
        if action == soap.ACTION_COMMAND:
            cmd = self.shells.command(sh, req)
            return soap.command_response(mid, cmd.id)
        if action == soap.ACTION_SEND:
            self.shells.send(sh, req)
            return soap.send_response(mid)
        if action == soap.ACTION_SIGNAL:
            self.shells.signal(sh, req)
            return soap.signal_response(mid)
        return self.shells.receive(sh, req)
