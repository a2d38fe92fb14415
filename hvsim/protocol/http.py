"""The WinRM listeners: one HTTP and one HTTPS server per simulated host, all on loopback.

Per connection: the NTLM security context (MS-WSMV: it belongs to the TCP connection), message
encryption over HTTP. Per request: the host must be reachable (else the connection is reset without
an answer), injected latency, authentication, the envelope limit, then the WS-Management operation.
"""
from __future__ import annotations

import base64
import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from .auth import ENC_CONTENT_TYPE, AuthFailed, NtlmAcceptor, check_basic

if TYPE_CHECKING:
    from .service import WinRMService

MAX_ENVELOPE_KB = 500                 # MaxEnvelopeSizekb: larger requests get HTTP 413
MAX_BODY_READ = 16 * 1024 * 1024      # beyond this the connection is simply closed


class AnswerLost(Exception):
    """An injected fault (fail-operation): the request gets no answer. ``reset``: the connection is
    reset at once; ``timeout``: it stays silent for ``seconds`` (the client's read timeout fires), then
    is reset."""

    def __init__(self, kind: str, seconds: float) -> None:
        super().__init__(kind)
        self.kind, self.seconds = kind, seconds


def reset_socket(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the client sees 'connection reset', never an HTTP answer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class WinRMListener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, service: "WinRMService", host: str, address: str, port: int, scheme: str,
                 ssl_context: ssl.SSLContext | None = None, cert_hash: bytes | None = None):
        self.service = service
        self.host = host
        self.scheme = scheme
        self.ssl_context = ssl_context
        self.cert_hash = cert_hash
        self.boot_ids: dict[int, int] = {}   # connection thread -> host boot it was opened in
        super().__init__((address, port), WinRMHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def finish_request(self, request, client_address) -> None:  # runs in the connection's thread
        if not self.service.accept_connection(self.host):
            reset_socket(request)
            return
        self.boot_ids[threading.get_ident()] = self.service.boot_id(self.host)
        if self.ssl_context is not None:
            try:
                request.settimeout(10)
                request = self.ssl_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                reset_socket(request)
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            self.boot_ids.pop(threading.get_ident(), None)

    def handle_error(self, request, client_address) -> None:
        pass  # clients vanish during reboots; that is not an error of the server


class WinRMHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 300
    wbufsize = 1 << 16      # headers and body leave in one segment (no Nagle/delayed-ACK stall)
    server: WinRMListener

    def setup(self) -> None:
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().setup()
        self.ntlm: NtlmAcceptor | None = None
        self.boot_id = self.server.boot_ids.get(threading.get_ident())

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep stderr quiet
        pass

    # -- helpers ---------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        reset_socket(self.connection)

    def _send(self, status: int, body: bytes = b"", content_type: str | None = None,
              extra: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for k, v in extra or []:
            self.send_header(k, v)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def _challenge(self) -> None:
        headers = [("WWW-Authenticate", "Negotiate")]
        if self.server.scheme == "https" or self.server.service.allow_unencrypted(self.server.host):
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._send(401, extra=headers)

    def do_GET(self) -> None:  # noqa: N802
        self._read_body()
        self._send(405)

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_READ:
            return None
        return self.rfile.read(length) if length else b""

    # -- the request -------------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802
        svc = self.server.service
        host = self.server.host
        if not svc.reachable(host) or svc.boot_id(host) != self.boot_id:
            # down, or restarted since this TCP connection was opened: the connection is gone
            self._reset()
            return
        if not svc.firewall_allows(host, self.server.server_address[1]):
            self._reset()  # the host's firewall drops WinRM on this port: the client sees a reset
            return
        body = self._read_body()
        if body is None:
            self._reset()
            return
        delay = svc.latency(host)
        if delay > 0:
            time.sleep(delay)

        identity = None
        auth_reply: list[tuple[str, str]] = []
        authz = self.headers.get("Authorization")
        if authz:
            scheme, _, token = authz.partition(" ")
            scheme_l = scheme.lower()
            if scheme_l in ("negotiate", "ntlm"):
                try:
                    raw = base64.b64decode(token.strip())
                    if self.ntlm is None:
                        self.ntlm = NtlmAcceptor(svc.world, host, self.server.cert_hash)
                    out = self.ntlm.step(raw)
                except (AuthFailed, ValueError) as exc:
                    self.ntlm = None
                    svc.log_auth_failure(host, "ntlm", str(exc))
                    self._challenge()
                    return
                if out is not None:
                    self._send(401, extra=[("WWW-Authenticate", f"{scheme} {base64.b64encode(out).decode()}")])
                    return
                identity = self.ntlm.identity
                if self.ntlm.final_token:
                    auth_reply = [("WWW-Authenticate", f"{scheme} {base64.b64encode(self.ntlm.final_token).decode()}")]
            elif scheme_l == "basic":
                if self.server.scheme != "https" and not svc.allow_unencrypted(host):
                    svc.log_auth_failure(host, "basic", "Basic over HTTP is not allowed (AllowUnencrypted false)")
                    self._challenge()
                    return
                try:
                    identity = check_basic(svc.world, host, token)
                except (AuthFailed, KeyError) as exc:
                    svc.log_auth_failure(host, "basic", str(exc))
                    self._challenge()
                    return
            else:
                self._challenge()
                return
        elif self.ntlm is not None and self.ntlm.complete:
            identity = self.ntlm.identity
        if identity is None:
            self._challenge()
            return

        encrypted = False
        ctype = (self.headers.get("Content-Type") or "").lower()
        if ctype.startswith("multipart/encrypted") or ctype.startswith("multipart/x-multi-encrypted"):
            if self.ntlm is None or not self.ntlm.complete:
                self._challenge()
                return
            try:
                body = self.ntlm.unwrap_body(body)
            except Exception:
                self.ntlm = None
                self._challenge()
                return
            encrypted = True
        elif body and self.server.scheme == "http" and not svc.allow_unencrypted(host):
            # AllowUnencrypted=false: plain SOAP over HTTP is refused
            self._challenge()
            return

        if not body:
            self._send(200, extra=auth_reply)   # the blank message that sets up the security context
            return
        if len(body) > MAX_ENVELOPE_KB * 1024:
            self._send(413)
            return

        try:
            status, reply = svc.dispatch(host, identity, body, self.client_address[0], self.server.scheme,
                                         self.server.port)
        except AnswerLost as lost:
            if lost.kind == "timeout":
                time.sleep(lost.seconds)
            self._reset()
            return
        if not svc.reachable(host):
            # the host went down while the request ran (a restart it asked for waits a moment first)
            self._reset()
            return
        if encrypted:
            self._send(status, self.ntlm.wrap_body(reply), ENC_CONTENT_TYPE, extra=auth_reply)
        else:
            self._send(status, reply, "application/soap+xml;charset=UTF-8", extra=auth_reply)


def start_listener(listener: WinRMListener) -> threading.Thread:
    t = threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": 0.2},
                         name=f"winrm-{listener.host}-{listener.scheme}", daemon=True)
    t.start()
    return t
