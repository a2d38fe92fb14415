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
        self._ca: tuple[Any, Any] | None = None
        # guests of the nested lab: listeners bound and closed at runtime (reconcile_guests)
        self._guest_listeners: dict[str, list[WinRMListener]] = {}
        self._guest_failed: set[tuple[str, str]] = set()
        self._reconcile_lock = threading.Lock()
        self._stopping = threading.Event()
        self.on_endpoints_changed: Callable[[], None] | None = None
        self.shells.after_command = self.reconcile_guests

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        setup_ntlm_user_file(self.state_dir)
        ca_cert, ca_key, self.ca_path = ensure_ca(self.state_dir)
        self._ca = (ca_cert, ca_key)
        for name, spec in self.host_specs.items():
            self.listeners += self._bind(name, spec)
        for listener in self.listeners:
            start_listener(listener)
        hooks = getattr(self.world, "hooks", None)
        if isinstance(hooks, dict):
            hooks.setdefault("shutdown", []).append(lambda _w, host: self.shells.kill_host(host))
            hooks.setdefault("power_off", []).append(lambda _w, host: self.shells.kill_host(host))
        if isinstance(getattr(self.world, "data", None), dict):
            self.reconcile_guests()
            threading.Thread(target=self._watch_guests, name="winrm-guests", daemon=True).start()

    def _bind(self, name: str, spec: dict, extra: dict | None = None) -> list[WinRMListener]:
        """HTTP and HTTPS listeners of one host (a certificate from the lab CA for its names and address)."""
        ca_cert, ca_key = self._ca
        address = str(spec.get("address", "127.0.0.1"))
        dom = (self.world.data.get("domain") or {}).get("fqdn")
        names = [name, name.lower()] + ([f"{name.lower()}.{dom}"] if dom else [])
        cert_path, key_path, der = issue_host_cert(self.state_dir, ca_cert, ca_key, name, address, names)
        http = WinRMListener(self, name, address, int(spec.get("http_port", 5985)), "http")
        try:
            https = WinRMListener(self, name, address, int(spec.get("https_port", 5986)), "https",
                                  server_context(cert_path, key_path), cert_hash_for_cbt(der))
        except OSError:
            http.server_close()
            raise
        self.endpoints[name] = {"address": address, "http_port": http.port, "https_port": https.port,
                                "allow_unencrypted": bool(spec.get("allow_unencrypted", False)), **(extra or {})}
        return [http, https]

    # -- guests of the nested lab (VMs that became hosts) ---------------------------------------------
    def _watch_guests(self) -> None:
        """Whoever gives a guest's NIC a loopback address (or removes the guest), its listeners follow."""
        while not self._stopping.wait(0.2):
            try:
                self.reconcile_guests()
            except Exception:
                traceback.print_exc()

    def _wanted_guests(self) -> dict[str, tuple[str, dict]]:
        from hvsim.cmdlets.remoting import listener_enabled
        from hvsim.world import nested

        with self.world.lock:
            cfg = nested.guests_config(self.world.data)
            out = {}
            for name, h in self.world.data.get("hosts", {}).items():
                if not h.get("vm") or not listener_enabled(h):
                    continue
                address = nested.loopback_address(h)
                if address:
                    out[name] = (address, {"address": address, "http_port": cfg["http_port"],
                                           "https_port": cfg["https_port"], "vm": dict(h["vm"])})
            return out

    def reconcile_guests(self) -> None:
        """Bind the listeners of guests that have a 127.x.y.z address, close those of guests that lost it or
        left the world. Non-loopback addresses are data only."""
        if self._ca is None or self._stopping.is_set():
            return
        with self._reconcile_lock:
            wanted = self._wanted_guests()
            changed = False
            for name in list(self._guest_listeners):
                if name not in wanted or self.endpoints.get(name, {}).get("address") != wanted[name][0]:
                    self._close(self._guest_listeners.pop(name))
                    self.endpoints.pop(name, None)
                    changed = True
            for name, (address, spec) in wanted.items():
                if name in self._guest_listeners or (name, address) in self._guest_failed:
                    continue
                try:
                    listeners = self._bind(name, spec, extra={"vm": spec["vm"]})
                except OSError as exc:
                    self._guest_failed.add((name, address))
                    print(f"hvsim: cannot bind WinRM of guest {name} on {address}: {exc}", flush=True)
                    continue
                for listener in listeners:
                    start_listener(listener)
                self._guest_listeners[name] = listeners
                changed = True
            if changed and self.on_endpoints_changed is not None:
                self.on_endpoints_changed()

    @staticmethod
    def _close(listeners: list[WinRMListener]) -> None:
        for listener in listeners:
            listener.shutdown()
            listener.server_close()

    def stop(self) -> None:
        self._stopping.set()
        with self._reconcile_lock:
            self.listeners += [x for group in self._guest_listeners.values() for x in group]
            self._guest_listeners = {}
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
