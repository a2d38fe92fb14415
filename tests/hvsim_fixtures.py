"""hvsim lab fixtures: a real `python -m hvsim serve` subprocess with the seed topology on 127.0.0.1.

    def test_x(hvsim_lab):                 # fresh lab per test (function scope)
        hvsim_lab.session("HV01").run_ps("$env:COMPUTERNAME")
        hvsim_lab.world()["hosts"]["HV01"]
    def test_y(hvsim_lab_module): ...      # one lab shared by a test module
    def test_z(nested_lab): ...            # hvsim/labs/nested.yaml: LABHOST, its switch and images, and a
                                           # loopback /24 of its own for the guests (lab.lab["guests"]["subnet"])

Both yield hvsim.testing.LabProcess (see its docstring: .endpoints, .ca_path, .url(host, https),
.credentials(host, domain), .session(host, https=..), .world(), .audit(), .control(action, **kw),
.status_text(), .wait_reachable(host), .stop()).

Also plain helpers for the tests (import them by name): wait_until(pred, timeout), mutating(records)
(the audit's mutating cmdlet calls as "HOST:Cmdlet"), labhost(world) (what a nested lab's destroy must
give back: LABHOST's files, VMs and switches), and
run_provider_script(world, host, name, params): one of hvprovider/scripts run in-process on a World
exactly as the transport sends it (bootstrap.ps1, the payload of transport.build_payload with its
"# Include:" libraries on stdin), its answer read by transport.parse_result.
"""
import time

import pytest

from hvsim.testing import LabProcess, nested_test_lab

__all__ = ["hvsim_lab", "hvsim_lab_module", "nested_lab"]


@pytest.fixture
def hvsim_lab(tmp_path):
    lab = LabProcess.for_tests(tmp_path)
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def hvsim_lab_module(tmp_path_factory):
    lab = LabProcess.for_tests(tmp_path_factory.mktemp("hvsim-lab"))
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def nested_lab(tmp_path):
    lab = LabProcess.for_tests(tmp_path, lab=nested_test_lab())
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


def mutating(records) -> list:
    return [f"{r['host']}:{r['cmdlet']}" for r in records if r.get("kind") == "cmdlet" and r.get("mutating")]


def labhost(world: dict) -> tuple:
    host = world["hosts"]["LABHOST"]
    return sorted(host["files"]), sorted(host["hyperv"]["vms"]), sorted(host["hyperv"]["switches"])


def wait_until(pred, timeout: float = 10.0) -> bool:
    """Poll pred() until it is true or timeout (real seconds) passes; returns its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


class _Stdin:
    """What the protocol layer hands the interpreter: the payload the client sent on stdin."""

    def __init__(self, data: bytes) -> None:
        self.text = data.decode("ascii")

    def read_all(self) -> str:
        return self.text


def run_provider_script(world, host: str, name: str, params: dict, user: str = "HYPER\\Administrator") -> dict:
    """hvprovider/scripts/<name> on `host` of an in-process World, as the transport runs it (no WinRM)."""
    from hvprovider import transport
    from hvsim.cmdlets.registry import CmdletContext, Session
    from hvsim.powershell import execute

    ctx = CmdletContext(world=world, session=Session(host=host, user=user, auth="ntlm", can_delegate=False))
    result = execute(transport.load_script("bootstrap.ps1"), ctx, _Stdin(transport.build_payload(name, params)))
    return transport.parse_result(host, name, result.stdout.encode("utf-8"), b"", result.exit_code)
