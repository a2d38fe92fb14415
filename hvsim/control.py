"""The control interface: HTTP + JSON on the lab's control port (127.0.0.1), for the CLI and tests.

    GET  /status                                   -> {"hosts": {...}, "faults": {...}, "time_factor": F}
    POST /power-off        {"host": "HV01"}
    POST /power-on         {"host": "HV01"}
    POST /restart          {"host": "HV01"}
    POST /drop-connections {"host": "HV01", "count": 2}     the next N new connections are reset
    POST /latency          {"host": "HV01", "ms": 250}      added before every answer (0 clears it)
    POST /fail-cmdlet      {"host": "HV01", "cmdlet": "New-Cluster", "message": "..."}
    POST /fail-operation   {"host": "HV01", "operation": "Signal", "kind": "reset", "after": true, "count": 1}
                           the next `count` WS-Management requests of that operation (Create, Command,
                           Send, Receive, Signal, Delete) get no answer: reset, or (kind "timeout")
                           silence for `seconds` [60]; `after`: only once the host has done the work
    POST /clear-faults     {"host": "HV01"} (or {} for every host)

Every answer is JSON: {"ok": true, ...} or, with HTTP 400/404, {"ok": false, "error": "..."}.
Faults are kept in the world (world.data["faults"], see docs/hvsim.md) so they survive a restart of
hvsim and the cmdlet registry can consume cmdlet_fail_once entries.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hvsim.protocol.service import OPERATION_NAMES


class ControlError(RuntimeError):
    pass


def default_fail_message(cmdlet: str, host: str) -> str:
    return f"{cmdlet} failed on {host}: injected fault (hvsim fail-cmdlet)."


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16      # one segment per answer
    server: "ControlServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload, indent=1, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self) -> None:  # noqa: N802
        self._handle({})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            args = json.loads(raw) if raw.strip() else {}
            if not isinstance(args, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            self._answer(400, {"ok": False, "error": f"bad JSON: {exc}"})
            return
        self._handle(args)

    def _handle(self, args: dict) -> None:
        action = self.path.strip("/").split("?")[0].lower()
        try:
            result = self.server.perform(action, args)
        except KeyError as exc:
            self._answer(404, {"ok": False, "error": f"unknown host or action: {exc.args[0] if exc.args else exc}"})
            return
        except (ValueError, TypeError, RuntimeError) as exc:
            self._answer(400, {"ok": False, "error": str(exc)})
            return
        self._answer(200, {"ok": True, **result})


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, lab_server: Any, address: str = "127.0.0.1", port: int = 5980):
        self.lab_server = lab_server
        super().__init__((address, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="hvsim-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    # -- actions -------------------------------------------------------------------------------------
    def perform(self, action: str, args: dict) -> dict:
        srv = self.lab_server
        world = srv.world
        if action in ("", "status"):
            return srv.status()
        if action not in ("power-off", "power-on", "restart", "drop-connections", "latency", "fail-cmdlet",
                          "fail-operation", "clear-faults"):
            raise KeyError(action)
        host_arg = args.get("host")
        if action == "clear-faults" and not host_arg:
            with world.transaction() as data:
                data["faults"] = {}
            world.audit("fault", action="clear-faults")
            world.flush()
            return {"faults": {}}
        if not host_arg:
            raise ValueError(f"{action} needs a host")
        host = srv.host_name(str(host_arg))
        if action == "power-off":
            world.power_off(host, reason="control: power-off")
        elif action == "power-on":
            world.power_on(host, reason="control: power-on")
        elif action == "restart":
            world.restart(host, reason="control: restart")
        elif action == "drop-connections":
            count = int(args.get("count", 1))
            if count < 0:
                raise ValueError("count must be >= 0")
            with world.transaction() as data:
                drops = data.setdefault("faults", {}).setdefault("drop_connections", {})
                if count:
                    drops[host] = count
                else:
                    drops.pop(host, None)
        elif action == "latency":
            ms = int(args.get("ms", 0))
            if ms < 0:
                raise ValueError("ms must be >= 0")
            with world.transaction() as data:
                lat = data.setdefault("faults", {}).setdefault("latency_ms", {})
                if ms:
                    lat[host] = ms
                else:
                    lat.pop(host, None)
        elif action == "fail-cmdlet":
            cmdlet = str(args.get("cmdlet") or "").strip()
            if not cmdlet:
                raise ValueError("fail-cmdlet needs a cmdlet name")
            message = str(args.get("message") or default_fail_message(cmdlet, host))
            with world.transaction() as data:
                data.setdefault("faults", {}).setdefault("cmdlet_fail_once", []).append(
                    {"host": host, "cmdlet": cmdlet, "message": message})
        elif action == "fail-operation":
            entry = operation_fault(host, args)
            with world.transaction() as data:
                data.setdefault("faults", {}).setdefault("operations", []).append(entry)
        elif action == "clear-faults":
            with world.transaction() as data:
                faults = data.setdefault("faults", {})
                for key in ("drop_connections", "latency_ms"):
                    faults.get(key, {}).pop(host, None)
                for key in ("cmdlet_fail_once", "operations"):
                    faults[key] = [f for f in faults.get(key, []) if str(f.get("host", "")).upper() != host.upper()]
        world.audit("fault", host=host, action=action,
                    **{("fault" if k == "kind" else k): v for k, v in args.items()
                       if k in ("count", "ms", "cmdlet", "operation", "kind", "after")})
        world.flush()  # the caller reads state.json next
        status = srv.status()
        return {"host": host, "state": status["hosts"].get(host), "faults": status["faults"]}


def operation_fault(host: str, args: dict) -> dict:
    """The world's record of one fail-operation request (checked: names, kind, count, seconds)."""
    names = {n.lower(): n for n in OPERATION_NAMES}
    operation = names.get(str(args.get("operation") or "").strip().lower())
    if operation is None:
        raise ValueError(f"fail-operation needs an operation: one of {', '.join(OPERATION_NAMES)}")
    kind = str(args.get("kind") or "reset").lower()
    if kind not in ("reset", "timeout"):
        raise ValueError("kind must be reset or timeout")
    count = int(args.get("count", 1))
    seconds = float(args.get("seconds", 60))
    if count < 1 or seconds <= 0:
        raise ValueError("count must be >= 1 and seconds > 0")
    return {"host": host, "operation": operation, "kind": kind, "after": bool(args.get("after", False)),
            "count": count, "seconds": seconds}


def call_control(url: str, action: str, timeout: float = 30.0, **kw: Any) -> dict:
    """Client side: POST {kw} to <url>/<action>; returns the JSON answer or raises ControlError."""
    data = json.dumps(kw).encode("utf-8")
    req = urllib.request.Request(f"{url.rstrip('/')}/{action}", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"{}")
        except ValueError:
            payload = {}
        raise ControlError(payload.get("error") or f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise ControlError(f"cannot reach the hvsim control interface at {url}: {exc.reason}") from None
