"""The persistent world model: one JSON tree, guarded by one re-entrant lock, written atomically.

Every mutation happens inside `World.transaction()`: the lock is held, a snapshot is taken on entry
(marshal bytes: several times cheaper than a deepcopy, and the world is plain JSON data), an exception
restores it. A normal exit that left the tree different from the last write marks the world dirty;
`<state>/state.json` is then written behind (tmp file + fsync + rename) by a writer thread within
WRITE_DELAY seconds, and at once by `flush()`: the protocol flushes before it reports a command Done,
the control interface after each action, so a client that saw a command finish, and `hvsim status`,
find its effects on disk. Writing once per command instead of once per transaction keeps a cmdlet's
cost flat as the world grows.
Reads that must see a consistent tree use `World.read()` (lock only, nothing written).

Time: simulated durations are real sleeps of `seconds * time_factor`; a restart makes a host
unreachable for `boot_seconds * time_factor` real seconds. All clock values are UTC.
"""
from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import hashlib
import json
import marshal
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

from . import features as _features

STATE_FILE = "state.json"
AUDIT_FILE = "audit.jsonl"
DEFAULT_TIME_FACTOR = 0.01
DEFAULT_BOOT_SECONDS = 60.0
# Restart-Computer waits this long (real seconds) before the host goes down, so that the WinRM reply
# of the command that asked for the restart still reaches the client.
DEFAULT_RESTART_DELAY = 0.5
# The writer thread writes a dirty world this long (real seconds) after the first change, so that the
# transactions of one burst (one command runs dozens) cost one write.
WRITE_DELAY = 0.05
WRITER_IDLE = 5.0       # the writer thread ends after this long without a change

Hook = Callable[["World", str], None]
# Script texts (a command line's -EncodedCommand/-Command, a cmdlet's -ScriptBlock) stay out of the
# audit unless this is set to 1: they are long, and a record names the script instead.
AUDIT_SCRIPTS_ENV = "HVSIM_AUDIT_SCRIPTS"


def audit_scripts() -> bool:
    return os.environ.get(AUDIT_SCRIPTS_ENV, "") == "1"


def script_summary(text: str) -> str:
    """What the audit keeps of a script text by default: its size and a hash to tell versions apart."""
    digest = hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()[:16]
    return f"<script: {len(text)} characters, sha256 {digest}>"


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).isoformat()


def parse_iso(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text)


class World:
    """The simulated lab's state (see docs/DESIGN.md section 5 for the JSON tree)."""

    def __init__(self, state_dir: Path | str, lab: dict | None = None, time_factor: float | None = None):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._audit_lock = threading.Lock()
        self._depth = 0
        self._timers: list[threading.Timer] = []
        self._closed = False
        self._dirty = False
        self._written: bytes | dict = b""         # _snapshot() of what state.json holds
        self._write_lock = threading.Lock()      # one writer of state.json at a time
        self._wake = threading.Condition(self.lock)
        self._writer: threading.Thread | None = None
        self.hooks: dict[str, list[Hook]] = {"boot": [], "power_off": [], "shutdown": []}
        state_path = self.state_dir / STATE_FILE
        if state_path.exists():
            self.data: dict = json.loads(state_path.read_text(encoding="utf-8"))
        elif lab is not None:
            from .lab import build_world

            self.data = build_world(lab)
        else:
            raise FileNotFoundError(f"no {STATE_FILE} in {self.state_dir} and no lab given")
        if time_factor is None:
            time_factor = float(self.data.get("time_factor", DEFAULT_TIME_FACTOR))
        self.time_factor = float(time_factor)
        self.restart_delay = float(self.data.get("restart_delay", DEFAULT_RESTART_DELAY))
        if not state_path.exists():
            self._write()
        else:
            self._written = self._snapshot()
        self._install_domain_hooks()

    def _install_domain_hooks(self) -> None:
        """Let the storage / cluster / Hyper-V parts of the world register their boot and power hooks,
        so that a reboot reacts the same before and after any of their cmdlets ran in this process."""
        from . import cluster, nested, storage  # imported here: they import this module (Hyper-V reacts through cluster's hooks)

        for module in (storage, cluster, nested):   # nested after cluster: a host's VMs restart before their guests boot
            module.install(self)

    # ----------------------------------------------------------------- persistence and locking
    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict]:
        """Hold the lock; on normal exit mark the world dirty if the tree changed (written behind, see
        the module docstring), on an exception restore the entry snapshot."""
        with self.lock:
            snapshot = self._snapshot()
            self._depth += 1
            try:
                yield self.data
            except BaseException:
                self.data.clear()
                self.data.update(self._restore(snapshot))
                raise
            finally:
                self._depth -= 1
            # compared with what was last written, so that a change made under the lock outside a
            # transaction is not lost either
            if self._depth == 0 and not self._dirty and self._snapshot() != self._written:
                self._mark_dirty()

    def _snapshot(self) -> bytes | dict:
        try:
            # version 2: no back-references, so equal trees give equal bytes whatever their refcounts
            return marshal.dumps(self.data, 2)
        except ValueError:  # a value that is not plain data slipped in: fall back to a deep copy
            return copy.deepcopy(self.data)

    @staticmethod
    def _restore(snapshot: bytes | dict) -> dict:
        return marshal.loads(snapshot) if isinstance(snapshot, bytes) else snapshot

    @contextlib.contextmanager
    def read(self) -> Iterator[dict]:
        """Hold the lock for a consistent read; nothing is written."""
        with self.lock:
            yield self.data

    def _mark_dirty(self) -> None:
        """(lock held) Ask the writer thread for a write; start it on first use."""
        self._dirty = True
        if self._writer is None and not self._closed:
            self._writer = threading.Thread(target=self._write_behind, name="hvsim-world-writer", daemon=True)
            self._writer.start()
        self._wake.notify_all()

    def _write_behind(self) -> None:
        while True:
            with self.lock:
                if not self._dirty and not self._closed:
                    self._wake.wait(WRITER_IDLE)
                if self._closed or not self._dirty:
                    self._writer = None  # idle (or closed): end; the next change starts another
                    return
            time.sleep(WRITE_DELAY)
            self.flush()

    def flush(self) -> None:
        """Write state.json now if a transaction changed the world since the last write.
        Never call it holding the lock (the writer takes its own lock first)."""
        self._write(only_if_dirty=True)

    def _write(self, only_if_dirty: bool = False) -> None:
        with self._write_lock:
            with self.lock:
                if only_if_dirty and not self._dirty:
                    return
                text = json.dumps(self.data)
                self._written = self._snapshot()
                self._dirty = False
            self._write_text(text)

    def _write_text(self, text: str) -> None:
        path = self.state_dir / STATE_FILE
        tmp = path.with_name(f"{STATE_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.state_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def save(self) -> None:
        """Write state.json now, dirty or not."""
        self._write()

    # ----------------------------------------------------------------- clock
    def now(self) -> _dt.datetime:
        return utcnow()

    def sleep(self, simulated_seconds: float) -> None:
        """A simulated duration: real sleep of seconds * time_factor. Never call it holding the lock."""
        delay = max(0.0, float(simulated_seconds)) * self.time_factor
        if delay > 0:
            time.sleep(delay)

    def schedule(self, real_seconds: float, fn: Callable[[], None]) -> threading.Timer:
        """Run fn on a timer thread after real_seconds (cancelled by close())."""
        timer = threading.Timer(real_seconds, self._run_scheduled, (fn,))
        timer.daemon = True
        with self.lock:
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)
        timer.start()
        return timer

    def _run_scheduled(self, fn: Callable[[], None]) -> None:
        if not self._closed:
            fn()

    def close(self) -> None:
        """Cancel scheduled work (pending restarts) and write the state."""
        for t in list(self._timers):
            t.cancel()
        with self.lock:
            self._closed = True
            self._wake.notify_all()
        self.save()

    # ----------------------------------------------------------------- audit
    def audit(self, kind: str, **fields: Any) -> None:
        """Append one JSON line to <state>/audit.jsonl: time, kind, host, user, then the fields."""
        record: dict[str, Any] = {"time": iso(utcnow()), "kind": kind}
        record["host"] = fields.pop("host", None)
        record["user"] = fields.pop("user", None)
        record.update(fields)
        line = json.dumps(record, default=str, ensure_ascii=True)
        with self._audit_lock:
            with open(self.state_dir / AUDIT_FILE, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def audit_records(self, kind: str | None = None) -> list[dict]:
        """The audit log as a list of dicts (tests and `status` read it)."""
        path = self.state_dir / AUDIT_FILE
        if not path.exists():
            return []
        with self._audit_lock:
            lines = path.read_text(encoding="utf-8").splitlines()
        out = [json.loads(x) for x in lines if x.strip()]
        return [r for r in out if kind is None or r.get("kind") == kind]

    # ----------------------------------------------------------------- hosts
    def host_names(self) -> list[str]:
        return list(self.data["hosts"])

    def host(self, name_or_fqdn_or_address: str) -> dict:
        """The host dict for a NetBIOS name, FQDN, WinRM endpoint address or NIC address.

        Case-insensitive. Raises KeyError if unknown (or if an address is shared by several hosts).
        """
        key = str(name_or_fqdn_or_address).strip().rstrip(".").lower()
        hosts = self.data["hosts"]
        for name, h in hosts.items():
            if name.lower() == key or self.fqdn(h).lower() == key:
                return h
        matches = [h for h in hosts.values()
                   if str(h.get("endpoints", {}).get("address", "")).lower() == key
                   or any(n.get("ipv4") == key for n in h.get("nics", []))]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(name_or_fqdn_or_address)

    def fqdn(self, h: dict | str) -> str:
        """hv01.hyper.local for a domain member, else the bare name, as DNSHostName.Domain."""
        if isinstance(h, str):
            h = self.host(h)
        return f"{h['name'].lower()}.{h['domain']}" if h.get("domain") else h["name"].lower()

    def _advance(self, h: dict) -> None:
        """Complete a boot whose time has come (state change only; boot effects were applied at start),
        as a transaction so that state.json records it."""
        with self.lock:
            if h.get("power") == "booting" and time.time() >= float(h.get("ready_at", 0)):
                with self.transaction():
                    h["power"] = "on"

    def reachable(self, host: str) -> bool:
        """Powered on and finished booting."""
        with self.lock:
            try:
                h = self.host(host)
            except KeyError:
                return False
            self._advance(h)
            return h.get("power") == "on"

    def power_state(self, host: str) -> str:
        """on | off | booting (a boot whose time has come completes first)."""
        with self.lock:
            h = self.host(host)
            self._advance(h)
            return h["power"]

    def boot_seconds(self, h: dict) -> float:
        return float(h.get("boot_seconds", DEFAULT_BOOT_SECONDS))

    def restart(self, host: str, reason: str = "restart") -> None:
        """Down now, reachable again after boot_seconds*time_factor; the boot's effects apply now."""
        with self.transaction():
            h = self.host(host)
            if h["power"] == "off":
                raise RuntimeError(f"{h['name']} is powered off; power it on instead of restarting it")
            for fn in list(self.hooks.get("shutdown", [])):
                fn(self, h["name"])
            self._boot(h, reason)

    def power_off(self, host: str, reason: str = "power off") -> None:
        """Pull the plug: unreachable until power_on; the cluster's power_off hook fails roles over."""
        with self.transaction():
            h = self.host(host)
            if h["power"] == "off":
                return
            h["power"] = "off"
            h["ready_at"] = 0.0
            for svc in h["services"].values():
                svc["status"] = "Stopped"
            self.audit("power", host=h["name"], action="off", reason=reason)
            for fn in list(self.hooks.get("power_off", [])):
                fn(self, h["name"])

    def power_on(self, host: str, reason: str = "power on") -> None:
        with self.transaction():
            h = self.host(host)
            if h["power"] != "off":
                return
            self._boot(h, reason)

    def schedule_restart(self, host: str, reason: str) -> None:
        """Restart after restart_delay real seconds (Restart-Computer, -Restart switches)."""
        name = self.host(host)["name"]
        self.schedule(self.restart_delay, lambda: self.restart(name, reason))

    def _boot(self, h: dict, reason: str) -> None:
        """Start a boot: pending changes take effect, services restart, hooks run (inside a transaction)."""
        ready_in = self.boot_seconds(h) * self.time_factor
        h["power"] = "booting"
        h["ready_at"] = time.time() + ready_in
        h["boot_id"] = int(h.get("boot_id", 0)) + 1
        h["last_boot"] = iso(utcnow() + _dt.timedelta(seconds=ready_in))
        self._apply_pending(h)
        self._reset_services(h)
        self.audit("boot", host=h["name"], boot_id=h["boot_id"], reason=reason, ready_in=ready_in)
        name = h["name"]
        # complete the boot when it is due, so that state.json (hvsim status) shows the host up on time
        self.schedule(ready_in, lambda: self.reachable(name))
        for fn in list(self.hooks.get("boot", [])):
            fn(self, h["name"])

    def _apply_pending(self, h: dict) -> None:
        pending = h.setdefault("pending", {})
        dom = pending.pop("domain", None)
        if dom is not None:
            if dom.get("action") == "join":
                h["domain"] = dom["fqdn"]
                h["workgroup"] = None
            else:
                h["domain"] = None
                h["workgroup"] = dom.get("workgroup", "WORKGROUP")
        promo = pending.pop("dcpromo", None)
        if promo is not None:
            self._apply_dcpromo(h, promo)
        for name, action in sorted(pending.pop("features", {}).items()):
            feats = h["features"]
            if action == "install":
                feats.setdefault(name, {})["state"] = "Installed"
            else:
                feats.setdefault(name, {})["state"] = "Available"
        pending["restart_required"] = False

    def _apply_dcpromo(self, h: dict, promo: dict) -> None:
        """A promotion (Install-ADDSForest) or demotion (Uninstall-ADDSDomainController) takes effect at
        the restart: the forest appears with this host as its DC, or goes with its last DC."""
        if promo["action"] == "promote":
            self.data["domain"] = {
                "fqdn": promo["fqdn"], "netbios": promo["netbios"], "controller": h["name"],
                "forest_mode": promo["forest_mode"], "domain_mode": promo["domain_mode"],
                "sid": "S-1-5-21-" + "-".join(str(int(uuid.uuid4().int % 4_000_000_000)) for _ in range(3)),
                "guid": str(uuid.uuid4()),
                # the local Administrator becomes the domain's, with the same password; a DC has no local accounts
                "users": {"Administrator": {"password": promo["administrator_password"]}},
                "computers": {h["name"]: {"dns_host_name": f"{h['name'].lower()}.{promo['fqdn']}", "enabled": True,
                                          "created": iso(utcnow())}},
                "cluster_objects": {},
            }
            h["domain"], h["workgroup"], h["domain_controller"] = promo["fqdn"], None, True
            h["local_users"] = {}
            h["dsrm_password_set"] = True
            if promo.get("dns"):
                for name in ("DNS", "RSAT-DNS-Server"):
                    h["features"].setdefault(name, {})["state"] = "Installed"
        else:
            dom = self.data.get("domain")
            if dom and str(dom.get("controller", "")).lower() == h["name"].lower():
                self.data["domain"] = None
            h["domain"], h["workgroup"], h["domain_controller"] = None, "WORKGROUP", False
            h["local_users"] = {"Administrator": {"password": promo["administrator_password"]}}

    def _reset_services(self, h: dict) -> None:
        services = h["services"]
        for feat, svcs in _features.FEATURE_SERVICES.items():
            installed = h["features"].get(feat, {}).get("state") == "Installed"
            for sname, (display, start) in svcs.items():
                if installed and sname not in services:
                    services[sname] = {"display_name": display, "status": "Stopped", "start_type": start}
                elif not installed and sname in services:
                    del services[sname]
        for svc in services.values():
            svc["status"] = "Running" if svc["start_type"] == "Automatic" else "Stopped"

    # ----------------------------------------------------------------- features and services
    def feature_state(self, host: str, name: str) -> str:
        """Available | Installed | InstallPending | UninstallPending (unknown names: Available)."""
        with self.lock:
            h = self.host(host)
            return h["features"].get(name, {}).get("state", "Available")

    def feature_installed(self, host: str, name: str) -> bool:
        return self.feature_state(host, name) == "Installed"

    def service_running(self, host: str, name: str) -> bool:
        with self.lock:
            h = self.host(host)
            for sname, svc in h["services"].items():
                if sname.lower() == name.lower():
                    return svc["status"] == "Running"
            return False

    # ----------------------------------------------------------------- domain and accounts
    def domain(self) -> dict | None:
        return self.data.get("domain")

    def dc_up(self) -> bool:
        dom = self.domain()
        return bool(dom and dom.get("controller") and self.reachable(dom["controller"]))

    def split_user(self, user: str) -> tuple[str | None, str]:
        """'HYPER\\x', 'hyper.local\\x', 'x@hyper.local', 'x' -> (authority or None, x)."""
        user = str(user)
        if "\\" in user:
            auth, _, name = user.partition("\\")
            return auth, name
        if "@" in user:
            name, _, auth = user.partition("@")
            return auth, name
        return None, user

    def is_domain_authority(self, authority: str | None) -> bool:
        dom = self.domain()
        if not dom or not authority:
            return False
        return authority.lower() in (dom["fqdn"].lower(), dom["netbios"].lower())

    def account_password(self, host: str, user: str) -> tuple[str, str] | None:
        """(canonical 'AUTHORITY\\name', password) of an account valid for a logon on host, else None.

        Domain accounts are valid on the DC and on members (after the join took effect, with the DC up);
        local accounts on the host itself ('.', 'HV01', or no authority)."""
        with self.lock:
            h = self.host(host)
            authority, name = self.split_user(user)
            dom = self.domain()
            is_dc = bool(dom and dom.get("controller", "").lower() == h["name"].lower())
            if self.is_domain_authority(authority) or (authority is None and is_dc):
                if not dom or not (h.get("domain") or is_dc):
                    return None
                if not is_dc and not self.dc_up():
                    return None
                for uname, u in dom.get("users", {}).items():
                    if uname.lower() == name.lower():
                        return f"{dom['netbios']}\\{uname}", u["password"]
                return None
            if authority is None or authority in (".",) or authority.lower() == h["name"].lower():
                for uname, u in h.get("local_users", {}).items():
                    if uname.lower() == name.lower():
                        return f"{h['name']}\\{uname}", u["password"]
            return None

    def check_credential(self, host: str, user: str, password: str) -> str | None:
        """Canonical user name if user/password may log on to host, else None."""
        found = self.account_password(host, user)
        if found is None or found[1] != password:
            return None
        return found[0]

    def remote_token_filtered(self, host: str, canonical_user: str) -> bool:
        """UAC remote restrictions: over the network a local account other than the built-in
        Administrator gets a filtered (non-administrator) token, and WinRM refuses it, unless the
        host sets LocalAccountTokenFilterPolicy = 1 (lab file: `local_account_token_filter_policy: 1`)."""
        with self.lock:
            h = self.host(host)
            authority, name = self.split_user(canonical_user)
            if not authority or authority.lower() != h["name"].lower() or name.lower() == "administrator":
                return False
            return int(h.get("local_account_token_filter_policy", 0)) != 1

    def check_domain_credential(self, user: str, password: str) -> str | None:
        """Canonical 'NETBIOS\\name' for a valid domain credential (DC must be up), else None."""
        dom = self.domain()
        if not dom or not self.dc_up():
            return None
        authority, name = self.split_user(user)
        if authority is not None and not self.is_domain_authority(authority):
            return None
        for uname, u in dom.get("users", {}).items():
            if uname.lower() == name.lower() and u["password"] == password:
                return f"{dom['netbios']}\\{uname}"
        return None
