"""Units of the protocol layer: command lines, CLIXML, envelopes, message encryption framing, stdin."""
import base64
import threading

import pytest

from hvsim.powershell.errors import ErrorRecord
from hvsim.protocol import clixml, cmdline, soap
from hvsim.protocol.shells import StdinClosed, StdinReader


def enc(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


# ------------------------------------------------------------------ command lines
@pytest.mark.parametrize("line,expected", [
    (r'a "b c" d', ["a", "b c", "d"]),
    (r'"x\"y"', ['x"y']),
    (r'a\\\\"b c"', [r"a\\b c"]),
    (r'C:\Windows\system32\cmd.exe /c', [r"C:\Windows\system32\cmd.exe", "/c"]),
    ('  spaced   out  ', ["spaced", "out"]),
    ('""', [""]),
])
def test_split_command_line_follows_windows_rules(line, expected):
    assert cmdline.split_command_line(line) == expected


def test_provider_command_line_parses_to_the_bootstrap():
    script = "$ErrorActionPreference = 'Stop'\n$payload = ($input | Out-String) | ConvertFrom-Json"
    inv = cmdline.parse("powershell.exe", ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                                           "-EncodedCommand", enc(script)])
    assert inv.program == "powershell" and inv.error is None
    assert inv.script == script
    assert inv.options == {"NoProfile": True, "NonInteractive": True, "ExecutionPolicy": "Bypass",
                           "EncodedCommand": True}


@pytest.mark.parametrize("line", [
    "powershell -encodedcommand {e}", "PowerShell.exe -enc {e}", "POWERSHELL -e {e}", "powershell -ec {e}",
    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -nop -noni -ex bypass -EncodedCommand {e}",
    "powershell /NoProfile /EncodedCommand {e}", "powershell -ep RemoteSigned -e {e}",
])
def test_powershell_parameter_prefixes_and_case(line):
    inv = cmdline.parse_line(line.format(e=enc("Get-Date")))
    assert inv.program == "powershell" and inv.error is None
    assert inv.script == "Get-Date"


def test_command_takes_the_rest_of_the_line_and_dash_means_stdin():
    inv = cmdline.parse_line('powershell -NoProfile -Command Write-Output "a b"  c')
    assert inv.script == "Write-Output a b c"   # quotes are removed by the argv split, as on Windows
    assert cmdline.parse_line("powershell -Command -").script_from_stdin
    assert cmdline.parse_line("powershell -NoProfile -").script_from_stdin
    assert cmdline.parse_line("powershell -NonInteractive").script_from_stdin
    assert cmdline.parse_line("powershell Get-Date").script == "Get-Date"


@pytest.mark.parametrize("line,fragment", [
    ("powershell -EncodedCommand !!notbase64!!", "not properly encoded"),
    ("powershell -ExecutionPolicy Sometimes -Command x", "Invalid argument 'Sometimes' to -ExecutionPolicy"),
    ("powershell -EncodedCommand", "A command must follow -EncodedCommand"),
    ("powershell -Command", "A command must follow -Command"),
    ("powershell -File C:\\x.ps1", "-File"),
    ("powershell -OutputFormat xml -Command x", "not supported"),
])
def test_bad_powershell_command_lines(line, fragment):
    inv = cmdline.parse_line(line)
    assert inv.error and fragment in inv.error


def test_cmd_builtins_and_unknown_programs():
    assert cmdline.parse_line("echo hello  world").builtin_args == "hello  world"
    assert cmdline.parse_line("cmd /c hostname").builtin == "hostname"
    inv = cmdline.parse_line("ipconfig /all")
    assert inv.program == "unknown" and inv.exe == "ipconfig"


# ------------------------------------------------------------------ CLIXML
def test_clixml_of_an_error_record_matches_powershell_exe():
    rec = ErrorRecord(message="boom", fully_qualified_error_id="boom", category="OperationStopped",
                      target_name="boom", target_type="String", line=1, column=1, line_text="throw 'boom'",
                      extent_length=12)
    text = clixml.render_errors([rec])
    assert text.startswith("#< CLIXML\r\n<Objs Version=\"1.1.0.1\" "
                           "xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">")
    assert text.endswith("</Objs>")
    assert '<S S="Error">boom_x000D__x000A_</S>' in text
    assert '<S S="Error">At line:1 char:1_x000D__x000A_</S>' in text
    assert '<S S="Error">+ throw \'boom\'_x000D__x000A_</S>' in text
    assert '<S S="Error">    + CategoryInfo          : OperationStopped: (boom:String) [], RuntimeException' \
           '_x000D__x000A_</S>' in text
    assert '<S S="Error"> _x000D__x000A_</S>' in text


def test_clixml_escapes_markup_and_literal_escape_sequences():
    assert clixml.encode_text("a<b>&c\t") == "a&lt;b&gt;&amp;c_x0009_"
    assert clixml.encode_text("_x000D_") == "_x005F_x000D_"
    assert clixml.render_errors([]) == ""


def test_pywinrm_reads_our_clixml_back():
    import winrm
    rec = ErrorRecord(message="Cannot find <it> & more", fully_qualified_error_id="X", command="Get-Thing")
    cleaned = winrm.Session("http://127.0.0.1:1/wsman", auth=("u", "p"))._clean_error_msg(
        clixml.render_errors([rec]).encode())
    assert b"Get-Thing : Cannot find <it> & more" in cleaned


# ------------------------------------------------------------------ envelopes
def test_durations():
    assert soap.parse_duration("PT20S", 0) == 20
    assert soap.parse_duration("PT20.500S", 0) == 20.5
    assert soap.parse_duration("P0DT1H2M3S", 0) == 3723
    assert soap.parse_duration("garbage", 7) == 7


def test_receive_capacity_keeps_the_envelope_under_the_limit():
    for max_env in (8192, 51200, 153600, 512000):
        cap = soap.receive_capacity(max_env)
        b64 = base64.b64encode(b"x" * cap).decode()
        reply = soap.receive_response("uuid:1", "C" * 36, [("stdout", b64, False), ("stderr", "", True)], True, 0)
        assert len(reply) <= max_env


def test_fault_envelope_is_what_pywinrm_parses():
    import xml.etree.ElementTree as ET
    body = soap.render_fault(soap.timed_out_fault(), "uuid:abc", "hv01")
    root = ET.fromstring(body)
    ns = {"s": soap.NS["s"], "f": soap.NS["f"], "a": soap.NS["a"]}
    assert root.find("s:Body/s:Fault/s:Detail/f:WSManFault", ns).get("Code") == "2150858793"
    assert root.find("s:Header/a:RelatesTo", ns).text == "uuid:abc"


def test_malformed_request_is_a_schema_fault():
    with pytest.raises(soap.ProtocolFault) as err:
        soap.parse_request(b"<not-xml")
    assert err.value.subcode == "SchemaValidationError"


# ------------------------------------------------------------------ stdin
def test_stdin_reader_blocks_until_end_and_decodes_the_codepage():
    r = StdinReader(65001)
    got = []
    t = threading.Thread(target=lambda: got.append(r.read_all()))
    t.start()
    r.feed("h\u00e9".encode("utf-8")[:2], False)
    assert t.is_alive()
    r.feed("h\u00e9".encode("utf-8")[2:], True)
    t.join(5)
    assert got == ["h\u00e9"]
    r437 = StdinReader(437)
    r437.feed(b"\x82", True)
    assert r437.read_all() == "\u00e9"


def test_stdin_reader_raises_when_terminated():
    r = StdinReader(65001)
    r.close()
    with pytest.raises(StdinClosed):
        r.read_all()


# ------------------------------------------------------------------ command audit
def test_a_command_is_audited_before_the_client_can_see_it_done():
    # a client that reads audit.jsonl right after its command finished must find the command there
    # (and a Signal terminate that pywinrm sends after Done must not mark the record terminated)
    from hvsim.protocol.shells import Command, Shell, ShellManager

    class World:
        lock = threading.RLock()

        def __init__(self):
            self.seen = []

        def audit(self, kind, **fields):
            self.seen.append((kind, cmd.done, fields["exit_code"], fields["terminated"]))

    world = World()
    manager = ShellManager(world, executor=None, context_factory=None)
    sh = Shell("S1", "HV01", "HV01\\Administrator", "ntlm", 1, 65001, True, "stdin", "stdout stderr", 180.0,
               "127.0.0.1")
    cmd = Command("C1", sh, "cmd /c exit 3", StdinReader(65001))
    manager._run(cmd, cmdline.parse("cmd", ["/c", "exit 3"]))
    assert world.seen == [("command", False, 3, False)]
    assert cmd.done and cmd.exit_code == 3


# ------------------------------------------------------------------ the command audit record
def test_the_command_record_names_the_payload_script_and_keeps_script_texts_out(monkeypatch):
    from hvsim.protocol import audit
    monkeypatch.delenv("HVSIM_AUDIT_SCRIPTS", raising=False)
    payload = b'{"name":"iscsi_target.ps1","script":"param($X)","libs":[],"params":{"X":"secret.ps1"}}\r\n'
    assert audit.payload_script(payload) == "iscsi_target.ps1"
    assert audit.payload_script(b'{"name":"x; Remove-Item C:\\\\"}') is None       # only a plain .ps1 name
    assert audit.payload_script(b"not json") is None
    script = "Get-Service MSiSCSI"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    line = f"powershell.exe -NoProfile -EncodedCommand {encoded}"
    inv = cmdline.parse("powershell.exe", ["-NoProfile", "-EncodedCommand", encoded])
    kept = audit.audited_command_line(line, inv)
    assert encoded not in kept and kept.startswith("powershell.exe -NoProfile -EncodedCommand <script: 19 characters")
    inv = cmdline.parse("powershell", ["-c", "Get-Service", "MSiSCSI"])
    assert audit.audited_command_line("powershell -c Get-Service MSiSCSI", inv).startswith("powershell -c <script: ")
    monkeypatch.setenv("HVSIM_AUDIT_SCRIPTS", "1")
    assert audit.audited_command_line(line, cmdline.parse("powershell.exe", ["-EncodedCommand", encoded])) == line
