"""SOAP 1.2 / WS-Management envelopes: parse requests, render responses and faults.

Only what the WinRS shell resource needs (MS-WSMV 3.1.4.x): Create, Delete (transfer), Command, Send,
Receive, Signal (shell). Element and attribute names follow what Windows sends back.
"""
from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_CMD_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTION_CREATE = TRANSFER + "Create"
ACTION_DELETE = TRANSFER + "Delete"
ACTION_COMMAND = SHELL + "Command"
ACTION_SEND = SHELL + "Send"
ACTION_RECEIVE = SHELL + "Receive"
ACTION_SIGNAL = SHELL + "Signal"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
STATE_DONE = SHELL + "CommandState/Done"
STATE_RUNNING = SHELL + "CommandState/Running"
SIGNAL_TERMINATE = SHELL + "signal/terminate"
SIGNAL_CTRL_C = SHELL + "signal/ctrl_c"
SIGNAL_CTRL_BREAK = SHELL + "signal/ctrl_break"

DEFAULT_MAX_ENVELOPE = 153600
DEFAULT_OPERATION_TIMEOUT = 60.0


def _q(prefix: str, local: str) -> str:
    return "{%s}%s" % (NS[prefix], local)


class ProtocolFault(Exception):
    """A WS-Management fault to send back (HTTP 500 unless said otherwise)."""

    def __init__(self, subcode: str, reason: str, wsman_code: int, *, code: str = "s:Sender",
                 status: int = 500, subcode_ns: str = "w"):
        super().__init__(reason)
        self.subcode = subcode
        self.reason = reason
        self.wsman_code = wsman_code
        self.code = code
        self.status = status
        self.subcode_ns = subcode_ns


def timed_out_fault() -> ProtocolFault:
    return ProtocolFault("TimedOut", "The WS-Management service cannot complete the operation within the time "
                         "specified in OperationTimeout.  ", 2150858793, code="s:Receiver")


def invalid_selectors_fault() -> ProtocolFault:
    return ProtocolFault("InvalidSelectors", "The WS-Management service cannot process the request because the "
                         "request contained invalid selectors for the resource. ", 2150858843)


def access_denied_fault() -> ProtocolFault:
    return ProtocolFault("AccessDenied", "Access is denied. ", 5)


def action_not_supported_fault(action: str) -> ProtocolFault:
    return ProtocolFault("ActionNotSupported", f"The WS-Management service cannot process the request. The "
                         f"action {action} is not supported by the service. ", 2150858773, subcode_ns="a")


def schema_fault(detail: str) -> ProtocolFault:
    return ProtocolFault("SchemaValidationError", "The WS-Management service cannot process the request. The "
                         f"SOAP packet contains an element or attribute that is not valid: {detail} ", 2150858817)


def max_shells_fault(limit: int) -> ProtocolFault:
    return ProtocolFault("QuotaLimit", "The WS-Management service cannot process the request. This user is "
                         f"allowed a maximum number of {limit} concurrent shells, which has been exceeded. Close "
                         "existing shells or raise the quota for this user. ", 2150859173, code="s:Receiver")


def unknown_command_fault() -> ProtocolFault:
    return ProtocolFault("InvalidParameter", "The WS-Management service cannot process the request. "
                         "The command ID is not valid. ", 2150858747)


_DURATION = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(text: str | None, default: float) -> float:
    """xs:duration like PT20S / PT20.000S / P0DT0H1M0S -> seconds."""
    if not text:
        return default
    m = _DURATION.match(text.strip())
    if not m:
        return default
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


@dataclass
class Request:
    action: str
    message_id: str
    resource_uri: str
    selectors: dict[str, str]
    options: dict[str, str]
    max_envelope: int
    operation_timeout: float
    body: ET.Element
    raw_size: int = 0
    headers: dict = field(default_factory=dict)

    def body_child(self, prefix: str, local: str) -> ET.Element | None:
        return self.body.find(_q(prefix, local))


def _text(el: ET.Element | None) -> str | None:
    return None if el is None else (el.text or "").strip()


def parse_request(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise schema_fault(f"malformed XML ({exc})")
    if root.tag != _q("s", "Envelope"):
        raise schema_fault("the root element is not a SOAP 1.2 Envelope")
    header = root.find(_q("s", "Header"))
    body = root.find(_q("s", "Body"))
    if header is None or body is None:
        raise schema_fault("Header or Body missing")
    action = _text(header.find(_q("a", "Action"))) or ""
    message_id = _text(header.find(_q("a", "MessageID"))) or ""
    resource_uri = _text(header.find(_q("w", "ResourceURI"))) or ""
    selectors = {}
    for sel in header.iter(_q("w", "Selector")):
        selectors[sel.get("Name", "")] = (sel.text or "").strip()
    options = {}
    for opt in header.iter(_q("w", "Option")):
        options[opt.get("Name", "").upper()] = (opt.text or "").strip()
    try:
        max_env = int(_text(header.find(_q("w", "MaxEnvelopeSize"))) or DEFAULT_MAX_ENVELOPE)
    except ValueError:
        max_env = DEFAULT_MAX_ENVELOPE
    timeout = parse_duration(_text(header.find(_q("w", "OperationTimeout"))), DEFAULT_OPERATION_TIMEOUT)
    return Request(action, message_id, resource_uri, selectors, options, max_env, timeout, body, len(data))


_ENV_OPEN = ('<s:Envelope xml:lang="en-US" xmlns:s="{s}" xmlns:a="{a}" xmlns:x="{x}" xmlns:w="{w}" '
             'xmlns:rsp="{rsp}" xmlns:p="{p}">').format(**NS)


def envelope(action: str, relates_to: str, body: str) -> bytes:
    header = (f"<s:Header><a:Action>{escape(action)}</a:Action>"
              f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
              f"<a:To>{ANONYMOUS}</a:To>"
              f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>")
    return (_ENV_OPEN + header + f"<s:Body>{body}</s:Body></s:Envelope>").encode("utf-8")


def render_fault(fault: ProtocolFault, relates_to: str, machine: str) -> bytes:
    sub_ns = NS["a"] if fault.subcode_ns == "a" else NS["w"]
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{fault.code}</s:Value>"
        f'<s:Subcode><s:Value xmlns:sc="{sub_ns}">sc:{fault.subcode}</s:Value></s:Subcode></s:Code>'
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        "<s:Detail>"
        f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.wsman_code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{escape(fault.reason)}</f:Message></f:WSManFault>"
        "</s:Detail></s:Fault>"
    )
    return envelope(FAULT_ACTION, relates_to, body)


def create_response(relates_to: str, address: str, shell_id: str, owner: str, client_ip: str,
                    idle_timeout: float, input_streams: str, output_streams: str) -> bytes:
    body = (
        "<x:ResourceCreated>"
        f"<a:Address>{escape(address)}</a:Address>"
        "<a:ReferenceParameters>"
        f"<w:ResourceURI>{SHELL_CMD_URI}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>"
        "<rsp:Shell>"
        f"<rsp:ShellId>{shell_id}</rsp:ShellId>"
        f"<rsp:ResourceUri>{SHELL_CMD_URI}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(owner)}</rsp:Owner>"
        f"<rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP>"
        f"<rsp:IdleTimeOut>PT{idle_timeout:.3f}S</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>{escape(input_streams)}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(output_streams)}</rsp:OutputStreams>"
        "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
        "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
        "</rsp:Shell>"
    )
    return envelope(TRANSFER + "CreateResponse", relates_to, body)


def command_response(relates_to: str, command_id: str) -> bytes:
    return envelope(SHELL + "CommandResponse", relates_to,
                    f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>")


def send_response(relates_to: str) -> bytes:
    return envelope(SHELL + "SendResponse", relates_to, "<rsp:SendResponse/>")


def signal_response(relates_to: str) -> bytes:
    return envelope(SHELL + "SignalResponse", relates_to, "<rsp:SignalResponse/>")


def delete_response(relates_to: str) -> bytes:
    return envelope(TRANSFER + "DeleteResponse", relates_to, "")


def receive_response(relates_to: str, command_id: str, chunks: list[tuple[str, str, bool]],
                     done: bool, exit_code: int | None) -> bytes:
    """chunks: (stream name, base64 text, end flag)."""
    parts = ["<rsp:ReceiveResponse>"]
    for name, b64, end in chunks:
        end_attr = ' End="true"' if end else ""
        parts.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}"{end_attr}>{b64}</rsp:Stream>')
    if done:
        parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{STATE_DONE}">'
                     f"<rsp:ExitCode>{int(exit_code or 0)}</rsp:ExitCode></rsp:CommandState>")
    else:
        parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{STATE_RUNNING}"/>')
    parts.append("</rsp:ReceiveResponse>")
    return envelope(SHELL + "ReceiveResponse", relates_to, "".join(parts))


# Room kept for the envelope around Receive's streams; the rest of MaxEnvelopeSize carries base64 text.
RECEIVE_OVERHEAD = 2048


def receive_capacity(max_envelope: int) -> int:
    """Raw bytes of stream data that fit one Receive response of at most max_envelope bytes."""
    room = max(1024, max_envelope - RECEIVE_OVERHEAD)
    return max(256, room // 4 * 3 - 600)
