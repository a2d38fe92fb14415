"""Authentication for the WinRM endpoints: NTLM (pyspnego acceptor) with message encryption, and Basic.

Who may log on is the world's decision (World.account_password): local accounts of the host, and
domain accounts only while the host is a domain member (or is the DC). Basic accepts local accounts
only, as Windows' WinRM service does.

pyspnego's NTLM acceptor reads the expected password from the file named by NTLM_USER_FILE at the
moment it checks the AUTHENTICATE message. Passwords differ per host, so that single step runs under one
process-wide lock with the file holding exactly the one account the client named; the file is emptied
again right after (the simulated lab's passwords do not linger on disk).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import spnego
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

NTLM_SIGNATURE = b"NTLMSSP\x00"
ENC_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"
ENC_CONTENT_TYPE = f'multipart/encrypted;protocol="{ENC_PROTOCOL}";boundary="Encrypted Boundary"'

_NTLM_LOCK = threading.Lock()
_user_file: Path | None = None


class AuthFailed(Exception):
    """Answer 401."""


def setup_ntlm_user_file(state_dir: Path) -> Path:
    """Point NTLM_USER_FILE at an (empty) private file in the state dir. Call once per process."""
    global _user_file
    d = Path(state_dir) / "ntlm"
    d.mkdir(parents=True, exist_ok=True)
    path = d / "users"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.environ["NTLM_USER_FILE"] = str(path)
    _user_file = path
    return path


@dataclass
class Identity:
    user: str       # canonical "HV01\\Administrator" / "HYPER\\Administrator"
    auth: str       # "ntlm" | "basic"


def _inner_ntlm(token: bytes) -> tuple[bytes, bool]:
    """(the NTLM message, whether it came wrapped in SPNEGO)."""
    if token.startswith(NTLM_SIGNATURE) and len(token) >= 12:
        return token, False
    try:
        from spnego._spnego import unpack_token
        obj = unpack_token(token)
    except Exception as exc:
        raise AuthFailed(f"not an NTLM or SPNEGO token: {exc}") from exc
    inner = getattr(obj, "mech_token", None) or getattr(obj, "response_token", None)
    if not inner or not inner.startswith(NTLM_SIGNATURE) or len(inner) < 12:
        raise AuthFailed("SPNEGO token without an NTLM message (only NTLM is offered)")
    return inner, True


def _authenticate_names(token: bytes) -> tuple[str, str, bool]:
    """(domain, user, whether it carries a channel binding) from a raw NTLM AUTHENTICATE message."""
    from spnego._ntlm_raw.messages import AvId, Authenticate, NTClientChallengeV2  # pyspnego's parsers
    msg = Authenticate.unpack(token)
    has_cbt = False
    nt = msg.nt_challenge_response or b""
    if len(nt) > 24:
        try:
            pairs = NTClientChallengeV2.unpack(nt[16:]).av_pairs
            has_cbt = pairs.get(AvId.channel_bindings, b"\x00" * 16) != b"\x00" * 16
        except Exception:
            has_cbt = False
    return msg.domain_name or "", msg.user_name or "", has_cbt


def _smbpasswd_line(domain: str, user: str, password: str) -> str:
    """One NTLM_USER_FILE line in the smbpasswd form (hashes, so any character in the password is safe)."""
    from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
    name = f"{domain}\\{user}" if domain else user
    return f"{name}:0:{lmowfv1(password).hex().upper()}:{ntowfv1(password).hex().upper()}:[U]:LCT-00000000\n"


class NtlmAcceptor:
    """One NTLM security context, bound to one TCP connection."""

    def __init__(self, world, host: str, cert_hash: bytes | None = None):
        self.world = world
        self.host = host
        cbt = None
        if cert_hash is not None:
            cbt = GssChannelBindings(application_data=b"tls-server-end-point:" + cert_hash)
        self.cbt = cbt
        self.ctx = None
        self.final_token: bytes | None = None
        self.identity: Identity | None = None

    @property
    def complete(self) -> bool:
        return self.identity is not None

    def step(self, token: bytes) -> bytes | None:
        """Process one client token; returns the token to send back (None when done). Raises AuthFailed.

        Raw NTLMSSP (requests-ntlm, pypsrp auth="ntlm") and NTLM inside SPNEGO (pypsrp "negotiate")."""
        inner, wrapped = _inner_ntlm(token)
        msg_type = struct.unpack("<I", inner[8:12])[0]
        try:
            if msg_type == 1:     # (re)start: a new context, whatever this connection had before
                self.identity, self.final_token = None, None
                self.ctx = spnego.server(protocol="negotiate" if wrapped else "ntlm",
                                         options=spnego.NegotiateOptions.use_ntlm if not wrapped else
                                         spnego.NegotiateOptions.none)
                return self.ctx.step(token)
            if msg_type != 3 or self.ctx is None:
                raise AuthFailed("unexpected NTLM message")
            domain, user, has_cbt = _authenticate_names(inner)
            named = f"{domain}\\{user}" if domain else user
            account = self.world.account_password(self.host, named)
            if account is None:
                raise AuthFailed(f"unknown account {named!r} on {self.host}")
            canonical, password = account
            with _NTLM_LOCK:
                assert _user_file is not None, "setup_ntlm_user_file() not called"
                _user_file.write_text(_smbpasswd_line(domain, user, password), encoding="utf-8")
                try:
                    # CbtHardeningLevel Relaxed (the Windows default): a binding the client sends
                    # must match this listener's certificate; a client that sends none is accepted
                    final = self.ctx.step(token, channel_bindings=self.cbt if has_cbt else None)
                finally:
                    _user_file.write_text("", encoding="utf-8")
            if not self.ctx.complete and not _spnego_accepted(self.ctx):
                raise AuthFailed("NTLM context incomplete")
            self.identity = Identity(canonical, "ntlm")
            self.final_token = final    # SPNEGO's accept-completed (with mechListMIC), sent with the answer
            return None
        except SpnegoError as exc:
            raise AuthFailed(str(exc)) from exc
        except (ValueError, struct.error) as exc:
            raise AuthFailed(f"malformed NTLM token: {exc}") from exc

    # -- MS-WSMV 2.2.9.1.1 message encryption -------------------------------------------------
    def unwrap_body(self, body: bytes) -> bytes:
        """Decrypt a multipart/encrypted request body."""
        out = b""
        pos = 0
        while True:
            start = body.find(BOUNDARY + b"\r\n", pos)
            if start < 0:
                break
            hdr_end = body.find(BOUNDARY + b"\r\n", start + len(BOUNDARY) + 2)
            if hdr_end < 0:
                raise ValueError("encrypted body: second boundary missing")
            header = body[start + len(BOUNDARY) + 2:hdr_end]
            if b"Length=" not in header:
                raise ValueError("encrypted body: OriginalContent Length missing")
            length = int(header.split(b"Length=")[1].split(b"\r\n")[0].strip())
            data_start = hdr_end + len(BOUNDARY) + 2
            marker = b"\tContent-Type: application/octet-stream\r\n"
            if body[data_start:data_start + len(marker)] == marker:
                data_start += len(marker)
            sig_len = struct.unpack("<i", body[data_start:data_start + 4])[0]
            sig = body[data_start + 4:data_start + 4 + sig_len]
            sealed_start = data_start + 4 + sig_len
            sealed = body[sealed_start:sealed_start + length]
            plain = self.ctx.unwrap_winrm(sig, sealed)
            if len(plain) != length:
                raise ValueError("encrypted body: length mismatch")
            out += plain
            pos = sealed_start + length
        return out

    def wrap_body(self, plain: bytes) -> bytes:
        res = self.ctx.wrap_winrm(plain)
        return (BOUNDARY + b"\r\n"
                + b"\tContent-Type: " + ENC_PROTOCOL.encode() + b"\r\n"
                + b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
                + str(len(plain)).encode() + b"\r\n"
                + BOUNDARY + b"\r\n"
                + b"\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<i", len(res.header)) + res.header + res.data
                + BOUNDARY + b"--\r\n")


def check_basic(world, host: str, header_value: str) -> Identity:
    """Validate `Basic <b64>`: a LOCAL account of `host` with the right password."""
    try:
        raw = base64.b64decode(header_value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthFailed("malformed Basic credentials") from exc
    user, sep, password = raw.partition(":")
    if not sep:
        raise AuthFailed("malformed Basic credentials")
    account = world.account_password(host, user)
    if account is None or account[1] != password:
        raise AuthFailed("wrong user name or password")
    canonical = account[0]
    h = world.host(host)
    if canonical.split("\\", 1)[0].upper() != h["name"].upper():
        raise AuthFailed("Basic authentication accepts local accounts only")
    return Identity(canonical, "basic")


def _spnego_accepted(ctx) -> bool:
    """SPNEGO may still owe the client a final mechListMIC token; the NTLM inside is done."""
    inner = getattr(ctx, "_context", None)
    return bool(inner is not None and getattr(inner, "complete", False))


def cert_hash_for_cbt(cert_der: bytes) -> bytes:
    """tls-server-end-point hash (RFC 5929): SHA-256 for our SHA-256-signed certificates."""
    return hashlib.sha256(cert_der).digest()
