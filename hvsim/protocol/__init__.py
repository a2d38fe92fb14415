"""hvsim's protocol layer: WS-Management over HTTP/HTTPS, NTLM/Basic, WinRS shells, command lines, CLIXML.

Modules: soap (envelopes, faults), auth (NTLM acceptor, message encryption, Basic), tls (CA, host
certificates), cmdline (powershell.exe / cmd command lines), clixml (stderr error form), shells (shells,
commands, StdinReader), http (listeners), service (WinRMService: listeners + operations).
"""
from .shells import StdinClosed, StdinReader
from .service import WinRMService

__all__ = ["StdinReader", "StdinClosed", "WinRMService"]
