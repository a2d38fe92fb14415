"""How to reach a host over WinRM: the typed ``ConnectionArgs`` users write, and ``Connection``.

Every resource takes a ``connection`` input: a ``ConnectionArgs`` (or a plain dict with the same
snake_case keys). The provider receives it as a dict; ``connection_from_inputs(dict) -> Connection``
turns it into the frozen settings object the transport uses. ``CONNECTION_FIELDS`` is its argument
spec (validated by every resource's ``check``; failures read "connection.port: ...").

    ConnectionArgs(host="127.0.10.11", username="Administrator", password=cfg.require_secret("pw"))

Fields (defaults in brackets):
    host                    IP address or DNS name of the WinRM endpoint (required)
    username                user name: "Administrator", "HYPER\\Administrator" or "admin@hyper.local" (required)
    password                secret (required for ntlm, basic, credssp; not for kerberos with a ticket)
    port                    [5985, or 5986 when https]
    https                   [False] use TLS (then certificates are validated unless told otherwise)
    transport               ["ntlm"] | "basic" | "kerberos" | "credssp". NTLM over HTTP encrypts every
                            message (WinRM message encryption); basic needs https or AllowUnencrypted
    server_cert_validation  ["validate"] | "ignore" (only when asked for explicitly)
    ca_trust_path           [None: the system store] PEM bundle with the CA that signed the host's certificate
    operation_timeout       [20] seconds a single WS-Management call may block on the host
    read_timeout            [30] seconds the client waits for an HTTP answer (must exceed operation_timeout)
    connect_retries         [4] retries (with backoff) on refused/reset connections and transient faults

The whole ``connection`` value is stored as a secret in the Pulumi state (it holds the password).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from .validation import Prop, host_address, nonempty, number_between

TRANSPORTS = ("ntlm", "basic", "kerberos", "credssp")

CONNECTION_FIELDS: tuple[Prop, ...] = (
    Prop("host", "str", required=True, checks=(host_address,), doc="IP address or DNS name of the WinRM endpoint"),
    Prop("username", "str", required=True, checks=(nonempty,), doc="the WinRM user name"),
    Prop("password", "str", secret=True, doc="the user's password (secret)"),
    Prop("port", "int", checks=(number_between(1, 65535),)),
    Prop("https", "bool", default=False),
    Prop("transport", "str", default="ntlm", choices=TRANSPORTS),
    Prop("server_cert_validation", "str", default="validate", choices=("validate", "ignore")),
    Prop("ca_trust_path", "str"),
    Prop("operation_timeout", "int", default=20, checks=(number_between(1, 3600),)),
    Prop("read_timeout", "int", default=30, checks=(number_between(2, 3700),)),
    Prop("connect_retries", "int", default=4, checks=(number_between(0, 20),)),
)


class ConnectionArgs:
    """WinRM connection settings of one host (see the module docstring for every field)."""

    def __init__(
        self,
        host: Any,
        username: Any,
        password: Any = None,
        port: Any = None,
        https: Any = False,
        transport: Any = "ntlm",
        server_cert_validation: Any = "validate",
        ca_trust_path: Any = None,
        operation_timeout: Any = 20,
        read_timeout: Any = 30,
        connect_retries: Any = 4,
    ) -> None:
        self.host = host
        self.username = username
        self.password = password
        self.port = port
        self.https = https
        self.transport = transport
        self.server_cert_validation = server_cert_validation
        self.ca_trust_path = ca_trust_path
        self.operation_timeout = operation_timeout
        self.read_timeout = read_timeout
        self.connect_retries = connect_retries

    def to_inputs(self) -> dict[str, Any]:
        """The dict the resource passes to the engine (values may be pulumi Inputs/Outputs)."""
        return {k: v for k, v in vars(self).items() if v is not None}


def connection_input(value: "ConnectionArgs | Mapping[str, Any]") -> dict[str, Any]:
    """Accept a ConnectionArgs or a dict (e.g. from stack config) and give the engine input dict."""
    if isinstance(value, ConnectionArgs):
        return value.to_inputs()
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if v is not None}
    raise TypeError("connection must be a hvprovider.connection.ConnectionArgs or a dict with host, username, password")


def connection_check(value: Mapping[str, Any]) -> str | None:
    """Cross-field rules of a connection (after the field checks)."""
    transport = value.get("transport", "ntlm")
    if transport != "kerberos" and not value.get("password"):
        return f"password is required for transport {transport!r}"
    if int(value.get("operation_timeout") or 20) >= int(value.get("read_timeout") or 30):
        return "read_timeout must be larger than operation_timeout"
    if transport == "basic" and not value.get("https"):
        # allowed (hvsim or AllowUnencrypted hosts), but worth saying where the risk is
        return None
    return None


CONNECTION_PROP = Prop(
    "connection", "dict", required=True, fields=CONNECTION_FIELDS, checks=(connection_check,),
    replace_fields=("host",), secret=True,
    doc="WinRM connection: ConnectionArgs(host=..., username=..., password=...)",
)


@dataclass(frozen=True)
class Connection:
    """Validated connection settings (what the transport needs). ``repr`` never shows the password."""

    host: str
    username: str
    password: str | None
    port: int
    https: bool
    transport: str
    server_cert_validation: str
    ca_trust_path: str | None
    operation_timeout: int
    read_timeout: int
    connect_retries: int

    def __repr__(self) -> str:
        return f"Connection({self.username}@{self.endpoint}, {self.transport})"

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.https else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/wsman"

    @property
    def label(self) -> str:
        """How errors name the host: the address, plus the port when it is not the default one."""
        default = 5986 if self.https else 5985
        return self.host if self.port == default else f"{self.host}:{self.port}"

    @property
    def pool_key(self) -> tuple:
        """Shells are shared per (endpoint, user, credentials, settings); the password only as a digest."""
        digest = hashlib.sha256((self.password or "").encode("utf-8")).hexdigest()
        return (self.endpoint, self.username.lower(), digest, self.transport, self.server_cert_validation,
                self.ca_trust_path, self.operation_timeout, self.read_timeout)


def connection_from_inputs(value: "Connection | ConnectionArgs | Mapping[str, Any]") -> Connection:
    """Build a Connection from a resource's ``connection`` input dict (as the provider receives it)."""
    if isinstance(value, Connection):
        return value
    if isinstance(value, ConnectionArgs):
        value = value.to_inputs()
    https = bool(value.get("https", False))
    port = value.get("port")
    return Connection(
        host=str(value["host"]),
        username=str(value["username"]),
        password=value.get("password"),
        port=int(port) if port is not None else (5986 if https else 5985),
        https=https,
        transport=str(value.get("transport") or "ntlm"),
        server_cert_validation=str(value.get("server_cert_validation") or "validate"),
        ca_trust_path=value.get("ca_trust_path") or None,
        operation_timeout=int(value.get("operation_timeout") or 20),
        read_timeout=int(value.get("read_timeout") or 30),
        connect_retries=int(value.get("connect_retries") if value.get("connect_retries") is not None else 4),
    )
