"""One running simulated lab: the World, every host's WinRM listeners, the control interface.

    srv = LabServer(lab_dict, state_dir, time_factor=None)
    srv.start()          # writes <state>/endpoints.json (DESIGN section 9)
    ...
    srv.stop()
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from hvsim.protocol import WinRMService

ENDPOINTS_FILE = "endpoints.json"


class LabServer:
    def __init__(self, lab: dict, state_dir: str | Path, time_factor: float | None = None,
                 executor: Callable | None = None, world: Any = None, context_factory: Callable | None = None):
        self.lab = lab
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if world is None:
            from hvsim.world import World
            world = World(self.state_dir, lab=lab, time_factor=time_factor)
        self.world = world
        hosts = {}
        for name, spec in (lab.get("hosts") or {}).items():
            spec = spec or {}
            hosts[name] = {"address": spec.get("address", "127.0.0.1"),
                           "http_port": spec.get("http_port", 5985),
                           "https_port": spec.get("https_port", 5986),
                           "allow_unencrypted": spec.get("allow_unencrypted", False)}
        self.winrm = WinRMService(self.world, self.state_dir, hosts, executor=executor,
                                  context_factory=context_factory)
        self.control = None
        self.endpoints: dict = {}

    def start(self) -> dict:
        from hvsim.control import ControlServer
        self.winrm.start()
        ctl = self.lab.get("control") or {}
        self.control = ControlServer(self, str(ctl.get("address", "127.0.0.1")), int(ctl.get("port", 5980)))
        self.control.start()
        self.endpoints = {
            "control": self.control.url,
            "hosts": self.winrm.endpoints,
            "ca": str(self.winrm.ca_path),
            "pid": os.getpid(),
        }
        self._write_endpoints()
        self.winrm.on_endpoints_changed = self._write_endpoints   # guests of the nested lab come and go
        return self.endpoints

    def _write_endpoints(self) -> None:
        if not self.endpoints:
            return
        self._record_endpoints()
        getattr(self.world, "flush", lambda: None)()
        path = self.state_dir / ENDPOINTS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.endpoints, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    def _record_endpoints(self) -> None:
        """Keep the world's host endpoints in step with the real ports (ports 0 in the lab file)."""
        try:
            with self.world.transaction() as data:
                for name, ep in self.winrm.endpoints.items():
                    h = data.get("hosts", {}).get(name)
                    if isinstance(h, dict):
                        h.setdefault("endpoints", {}).update(ep)
        except Exception:
            pass

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.control = None
        self.winrm.stop()
        close = getattr(self.world, "close", None)
        if callable(close):
            close()
        try:
            (self.state_dir / ENDPOINTS_FILE).unlink()
        except OSError:
            pass

    # -- what the control interface does ---------------------------------------------------------
    def host_name(self, host: str) -> str:
        return self.world.host(host)["name"]

    def status(self) -> dict:
        hosts = {}
        with self.world.lock:
            names = list(self.world.data.get("hosts", {}))
        for name in names:
            reachable = self.world.reachable(name)
            with self.world.lock:
                h = self.world.data["hosts"][name]
                hosts[name] = {
                    "power": h.get("power"), "reachable": reachable, "boot_id": h.get("boot_id"),
                    "last_boot": h.get("last_boot"), "domain": h.get("domain"),
                    "shells": self.winrm.shells.count(name), "endpoint": self.winrm.endpoints.get(name),
                }
                if h.get("vm"):                 # a guest of the nested lab: the VM it lives in
                    hosts[name]["vm"] = dict(h["vm"])
        with self.world.lock:
            faults = json.loads(json.dumps(self.world.data.get("faults") or {}))
        return {"hosts": hosts, "faults": faults, "time_factor": getattr(self.world, "time_factor", None)}
