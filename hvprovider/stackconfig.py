"""Read a lab stack's config and state with the `pulumi` CLI, for the tools that act on a running lab
(hvprovider.drill, hvprovider.preflight): the shape __main__.py reads (``lab``), the host passwords and
the domain password, in plain text for this process only (never printed).

Run them where you run `pulumi` for the stack, with the same environment (backend, passphrase).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


class StackConfigError(SystemExit):
    pass


def pulumi_cli(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise StackConfigError(f"`pulumi {' '.join(args)}` failed:\n{proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _value(entry: dict) -> Any:
    if "objectValue" in entry:
        return entry["objectValue"]
    value = entry.get("value")
    try:
        return json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
    except ValueError:
        return value


def snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def read_config(stack: str, cwd: Path) -> dict[str, Any]:
    """The stack's config without the project prefix, secrets decrypted."""
    raw = json.loads(pulumi_cli(["config", "--json", "--show-secrets", "--stack", stack], cwd))
    config = {key.split(":", 1)[-1]: _value(entry) for key, entry in raw.items()}
    if not isinstance(config.get("lab"), dict):
        raise StackConfigError(f"stack {stack} has no `lab` config (the shape of stacks/Pulumi.example.yaml)")
    passwords = config.get("hostPasswords") or {}
    config["hostPasswords"] = json.loads(passwords) if isinstance(passwords, str) else passwords
    return config


def connection(host: dict, passwords: dict, shape: dict | None = None) -> dict:
    """A host entry's connection inputs (snake_case keys) with its password. A host the lab builds as a
    LabMachine (``shape`` has machineHost) has no connection entry: it is reached at its address as
    ClusterLab reaches it (the storage host of a new forest as ``Administrator``, the others as
    ``<NAME>\\Administrator``)."""
    if not host.get("connection") and shape and shape.get("machineHost"):
        storage = host.get("name") == (shape.get("storageHost") or {}).get("name")
        user = "Administrator" if storage and shape.get("domainController") is not None else \
            f"{str(host['name']).upper()}\\Administrator"
        return {"host": host.get("address"), "username": user, "password": passwords.get(host["name"])}
    conn = {snake(k): v for k, v in (host.get("connection") or {}).items()}
    conn.setdefault("password", passwords.get(host["name"]))
    return conn


def read_state(stack: str, cwd: Path) -> list[dict]:
    """The resources of the stack's state (`pulumi stack export`)."""
    deployment = json.loads(pulumi_cli(["stack", "export", "--stack", stack], cwd)).get("deployment") or {}
    return list(deployment.get("resources") or [])
