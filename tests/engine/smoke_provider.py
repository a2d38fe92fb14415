"""A tiny Python dynamic resource for the engine smoke tests.

Its "world" is a directory of JSON files, one per resource (the object the resource manages), and
every provider call appends a line to `<world>/journal.jsonl`. Both live outside the engine's
processes, so a test can prove which calls the engine really made.

This module must be importable both in the program and in the dynamic provider process (the provider
is pickled BY REFERENCE as `smoke_provider.SmokeProvider`): tests put its directory on PYTHONPATH.

Inputs: world (directory), size (int, updated in place), color (str, forces replacement),
password (secret str, only its SHA-256 reaches the world file), fail_on (name of a provider
operation that must raise, "" for none).
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

INPUTS = ("world", "size", "color", "password", "fail_on")
IN_PLACE = ("size", "password", "fail_on")
REPLACING = ("color", "world")


def journal(world: str | Path) -> list[dict[str, Any]]:
    """The calls recorded in a world directory, in order."""
    path = Path(world) / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def operations(world: str | Path) -> list[str]:
    return [entry["op"] for entry in journal(world)]


def _record(world: str, op: str, **fields: Any) -> None:
    Path(world).mkdir(parents=True, exist_ok=True)
    with open(Path(world) / "journal.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"op": op, "pid": os.getpid(), **fields}) + "\n")


def _object_path(world: str, resource_id: str) -> Path:
    return Path(world) / f"{resource_id}.json"


def _fail_if_asked(props: dict[str, Any], op: str) -> None:
    if props.get("fail_on") == op:
        raise RuntimeError(
            f"smoke provider refused to {op} the object in {props.get('world')}: "
            f"fail_on is set to '{op}'; clear fail_on to let it through"
        )


def _write_object(resource_id: str, props: dict[str, Any]) -> dict[str, Any]:
    record = {
        "id": resource_id,
        "size": props["size"],
        "color": props["color"],
        "password_sha256": hashlib.sha256((props.get("password") or "").encode()).hexdigest(),
    }
    _object_path(props["world"], resource_id).write_text(json.dumps(record))
    return record


def _outs(props: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    # Every input goes back as an output (the default update would otherwise wipe them).
    outs = {key: props.get(key) for key in INPUTS}
    outs["size"] = record["size"]
    outs["color"] = record["color"]
    outs["password_sha256"] = record["password_sha256"]
    return outs


class SmokeProvider(ResourceProvider):
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        size = news.get("size")
        if isinstance(size, (int, float)) and not isinstance(size, bool) and size < 0:
            failures.append(CheckFailure("size", f"size must be 0 or more, got {size}"))
        if isinstance(news.get("world"), str):
            _record(news["world"], "check")
        return CheckResult(news, failures)

    def diff(self, id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if isinstance(news.get("world"), str):
            _record(news["world"], "diff", id=id)
        changes = [k for k in INPUTS if olds.get(k) != news.get(k)]
        replaces = [k for k in changes if k in REPLACING]
        return DiffResult(changes=bool(changes), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        _record(props["world"], "create", size=props["size"], color=props["color"])
        _fail_if_asked(props, "create")
        resource_id = f"smoke-{uuid.uuid4().hex[:12]}"
        return CreateResult(resource_id, _outs(props, _write_object(resource_id, props)))

    def read(self, id: str, props: dict[str, Any]) -> ReadResult:
        _record(props["world"], "read", id=id)
        _fail_if_asked(props, "read")
        path = _object_path(props["world"], id)
        if not path.exists():
            return ReadResult(None, {})        # gone: refresh drops it from state
        record = json.loads(path.read_text())
        return ReadResult(id, _outs(props, record))

    def update(self, id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _record(news["world"], "update", id=id, size=news["size"])
        _fail_if_asked(news, "update")
        return UpdateResult(_outs(news, _write_object(id, news)))

    def delete(self, id: str, props: dict[str, Any]) -> None:
        _record(props["world"], "delete", id=id)
        _fail_if_asked(props, "delete")
        _object_path(props["world"], id).unlink(missing_ok=True)


class SmokeResource(pulumi.dynamic.Resource):
    size: pulumi.Output[int]
    color: pulumi.Output[str]
    password_sha256: pulumi.Output[str]

    def __init__(self, name: str, world: str, size: Any, color: Any = "blue", password: Any = None,
                 fail_on: Any = "", opts: pulumi.ResourceOptions | None = None):
        props = {"world": world, "size": size, "color": color, "password": password, "fail_on": fail_on,
                 "password_sha256": None}
        super().__init__(SmokeProvider(), name, props, opts)
