"""Run a simulated lab in a subprocess, for tests and scripts.

    lab = LabProcess.for_tests(tmp_path)          # the seed topology on 127.0.0.1, free ports
    lab.start()
    sess = lab.session("HV01")                    # a real pywinrm Session (NTLM + encryption)
    sess.run_ps("hostname")
    lab.world()["hosts"]["HV01"]["power"]         # fresh read of state.json
    lab.audit()                                   # parsed audit.jsonl
    lab.control("power-off", host="HV01")         # the control interface (see docs/hvsim.md)
    lab.stop()

The server is the real one: `python -m hvsim serve --lab <file> --state <dir>`.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

SEED_LAB = Path(__file__).resolve().parent / "labs" / "seed.yaml"                   # no domain yet (the seed's start)
EXISTING_DOMAIN_LAB = Path(__file__).resolve().parent / "labs" / "existing-domain.yaml"  # hyper.local exists
NESTED_LAB = Path(__file__).resolve().parent / "labs" / "nested.yaml"       # one Hyper-V host, VMs become hosts
REPO_ROOT = Path(__file__).resolve().parent.parent


class LabError(RuntimeError):
    pass


def load_lab_file(path: str | os.PathLike) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_lab(base: dict | None = None, time_factor: float | None = 0.001,
             allow_unencrypted: bool | None = None) -> dict:
    """A copy of `base` (default: the seed lab with its domain already there, EXISTING_DOMAIN_LAB) with
    every endpoint on 127.0.0.1 and port 0."""
    lab = copy.deepcopy(base if base is not None else load_lab_file(EXISTING_DOMAIN_LAB))
    if time_factor is not None:
        lab["time_factor"] = time_factor
    lab["control"] = {"address": "127.0.0.1", "port": 0}
    for host in lab.get("hosts", {}).values():
        host["address"] = "127.0.0.1"
        host["http_port"] = 0
        host["https_port"] = 0
        if allow_unencrypted is not None:
            host["allow_unencrypted"] = allow_unencrypted
    return lab


def nested_test_lab(time_factor: float | None = 0.001, seed: int | None = None) -> dict:
    """NESTED_LAB as a test lab: LABHOST on 127.0.0.1 with free ports (as test_lab), and a loopback /24 of
    its own for the guests (`lab["guests"]["subnet"]`, e.g. 127.83.17.0/24): the addresses a test gives
    the guests' NICs, where their WinRM listeners are bound on the guest ports."""
    import random

    lab = test_lab(load_lab_file(NESTED_LAB), time_factor=time_factor)
    rng = random.Random(seed)
    # 127.0.x.x is where the other labs live; a random second and third octet keeps parallel tests apart
    lab.setdefault("guests", {})["subnet"] = f"127.{rng.randint(30, 254)}.{rng.randint(1, 254)}.0/24"
    return lab


class LabProcess:
    """A `python -m hvsim serve` subprocess over one state directory."""

    def __init__(self, lab: dict | str | os.PathLike, state_dir: str | os.PathLike,
                 time_factor: float | None = None, startup_timeout: float = 60.0,
                 extra_env: dict | None = None):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(lab, dict):
            self.lab_path = self.state_dir.parent / (self.state_dir.name + "-lab.yaml")
            self.lab_path.write_text(yaml.safe_dump(lab, sort_keys=False), encoding="utf-8")
            self.lab = lab
        else:
            self.lab_path = Path(lab)
            self.lab = load_lab_file(self.lab_path)
        self.time_factor = time_factor
        self.startup_timeout = startup_timeout
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.endpoints: dict = {}
        self._log = None

    # -- construction -------------------------------------------------------------------
    @classmethod
    def for_tests(cls, tmp_path: str | os.PathLike, time_factor: float = 0.001,
                  allow_unencrypted: bool | None = None, lab: dict | None = None,
                  **kw: Any) -> "LabProcess":
        """The seed topology (or `lab`) on 127.0.0.1 with free ports, state in tmp_path/hvsim-state."""
        tmp = Path(tmp_path)
        return cls(test_lab(lab, time_factor=time_factor, allow_unencrypted=allow_unencrypted),
                   tmp / "hvsim-state", time_factor=time_factor, **kw)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "LabProcess":
        if self.proc is not None:
            return self
        ep_file = self.state_dir / "endpoints.json"
        if ep_file.exists():
            ep_file.unlink()
        cmd = [sys.executable, "-m", "hvsim", "serve", "--lab", str(self.lab_path),
               "--state", str(self.state_dir)]
        if self.time_factor is not None:
            cmd += ["--time-factor", str(self.time_factor)]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.update(self.extra_env)
        self._log = open(self.state_dir / "server.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     cwd=str(REPO_ROOT))
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"hvsim serve exited with {self.proc.returncode}:\n{self.log_text()}")
            if ep_file.exists():
                try:
                    self.endpoints = json.loads(ep_file.read_text(encoding="utf-8"))
                    return self
                except ValueError:
                    pass  # being written
            time.sleep(0.05)
        self.stop()
        raise LabError(f"hvsim serve did not become ready in {self.startup_timeout}s:\n{self.log_text()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self) -> "LabProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def log_text(self) -> str:
        try:
            return (self.state_dir / "server.log").read_text(encoding="utf-8", errors="replace")[-5000:]
        except OSError:
            return ""

    # -- what the lab looks like --------------------------------------------------------------
    @property
    def ca_path(self) -> str:
        return self.endpoints.get("ca") or str(self.state_dir / "ca.pem")

    def host_endpoint(self, host: str) -> dict:
        for name, ep in self.endpoints.get("hosts", {}).items():
            if name.upper() == host.upper():
                return ep
        raise KeyError(host)

    def url(self, host: str, https: bool = False) -> str:
        ep = self.host_endpoint(host)
        if https:
            return f"https://{ep['address']}:{ep['https_port']}/wsman"
        return f"http://{ep['address']}:{ep['http_port']}/wsman"

    def credentials(self, host: str, domain: bool = False, user: str = "Administrator") -> tuple[str, str]:
        """(username, password) from the lab file: a local account of `host`, or a domain account."""
        if domain:
            d = self.lab["domain"]
            return f"{d['netbios']}\\{user}", d["users"][user]["password"]
        for name, h in self.lab["hosts"].items():
            if name.upper() == host.upper():
                return f"{name}\\{user}", h["local_users"][user]["password"]
        raise KeyError(host)

    def session(self, host: str, *, https: bool = False, transport: str | None = None,
                domain: bool = False, user: str | None = None, password: str | None = None,
                **kw: Any):
        """A pywinrm Session: NTLM (HTTP, message encryption) by default; https=True uses Basic + CA."""
        import winrm
        if user is None:
            user, default_pw = self.credentials(host, domain=domain)
            password = default_pw if password is None else password
            if (transport or ("basic" if https else "ntlm")) == "basic":
                user = user.split("\\", 1)[1]
        transport = transport or ("basic" if https else "ntlm")
        if https:
            kw.setdefault("server_cert_validation", "validate")
            kw.setdefault("ca_trust_path", self.ca_path)
        return winrm.Session(self.url(host, https=https), auth=(user, password), transport=transport, **kw)

    def world(self) -> dict:
        """A fresh read of <state>/state.json."""
        return json.loads((self.state_dir / "state.json").read_text(encoding="utf-8"))

    def audit(self) -> list[dict]:
        path = self.state_dir / "audit.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a line being written
        return out

    def control(self, action: str, **kw: Any) -> dict:
        """Call the control interface: control("restart", host="HV01"); control("status")."""
        from hvsim.control import call_control
        return call_control(self.endpoints["control"], action, **kw)

    def status_text(self) -> str:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        res = subprocess.run([sys.executable, "-m", "hvsim", "status", "--state", str(self.state_dir)],
                             capture_output=True, text=True, env=env, timeout=60)
        if res.returncode != 0:
            raise LabError(res.stderr)
        return res.stdout

    def wait_reachable(self, host: str, timeout: float = 30.0) -> None:
        """Poll the control interface until `host` answers again (after a restart)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.control("status")
            h = st.get("hosts", {}).get(host.upper()) or st.get("hosts", {}).get(host)
            if h and h.get("reachable"):
                return
            time.sleep(0.05)
        raise LabError(f"{host} not reachable after {timeout}s")
