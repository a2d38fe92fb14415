"""hvsim lab fixtures: a real `python -m hvsim serve` subprocess with the seed topology on 127.0.0.1.

    def test_x(hvsim_lab):                 # fresh lab per test (function scope)
        hvsim_lab.session("HV01").run_ps("$env:COMPUTERNAME")
        hvsim_lab.world()["hosts"]["HV01"]
    def test_y(hvsim_lab_module): ...      # one lab shared by a test module

Both yield hvsim.testing.LabProcess (see its docstring: .endpoints, .ca_path, .url(host, https),
.credentials(host, domain), .session(host, https=..), .world(), .audit(), .control(action, **kw),
.status_text(), .wait_reachable(host), .stop()).

Also a plain helper for the hvsim tests: wait_until(pred, timeout) (import it by name).
"""
import time

import pytest

from hvsim.testing import LabProcess

__all__ = ["hvsim_lab", "hvsim_lab_module"]


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


def wait_until(pred, timeout: float = 10.0) -> bool:
    """Poll pred() until it is true or timeout (real seconds) passes; returns its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return pred()
