"""Smoke tests of the real Pulumi engine with a Python dynamic provider.

They pin down the engine behaviours the hvprovider resources rely on. The provider (smoke_provider.py,
beside this file) records every call in a journal file and keeps its objects as files, so each
assertion is about an effect outside the engine's processes or about the exported Pulumi state.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from smoke_provider import journal, operations

pytestmark = pytest.mark.engine

HERE = Path(__file__).resolve().parent
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"
PASSWORD = "Sm0ke-Secret-Passw0rd-4711"

PROGRAM = '''
import pulumi
from smoke_provider import SmokeResource

config = pulumi.Config()
thing = SmokeResource(
    "thing",
    world=config.require("world"),
    size=config.require_int("size"),
    color=config.get("color") or "blue",
    password=config.get_secret("password"),
    fail_on=config.get("fail_on") or "",
)
pulumi.export("id", thing.id)
pulumi.export("size", thing.size)
pulumi.export("color", thing.color)
pulumi.export("password_sha256", thing.password_sha256)
'''


@pytest.fixture
def world(tmp_path: Path) -> Path:
    path = tmp_path / "world"
    path.mkdir()
    return path


@pytest.fixture
def smoke(pulumi_project, world):
    def make(**config):
        settings = {"world": str(world), "size": "1"}
        settings.update({k: str(v) for k, v in config.items()})
        return pulumi_project(PROGRAM, config=settings, secrets={"password": PASSWORD}, pythonpath=[HERE])
    return make


def objects(world: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in world.glob("smoke-*.json")}


def smoke_resources(project) -> list[dict]:
    return project.resources(DYNAMIC_TYPE)


def test_preview_calls_check_and_creates_nothing(smoke, world):
    project = smoke()
    result = project.preview()
    assert result.change_summary.get("create") == 2     # the stack and the smoke resource
    ops = operations(world)
    assert "check" in ops, ops                          # the provider really ran during preview
    assert "create" not in ops and "update" not in ops, ops
    assert objects(world) == {}
    assert smoke_resources(project) == []


def test_up_creates_and_second_up_is_a_no_op(smoke, world):
    project = smoke(size=3)
    first = project.up()
    assert first.change_summary.get("create") == 2
    assert operations(world).count("create") == 1
    created = objects(world)
    assert len(created) == 1
    (object_id, record), = created.items()
    assert record["size"] == 3 and record["color"] == "blue"
    outputs = project.outputs()
    assert outputs["id"] == object_id and outputs["size"] == 3
    (state,) = smoke_resources(project)
    assert state["id"] == object_id
    assert state["outputs"]["size"] == 3 and state["outputs"]["world"] == str(world)

    before = len(journal(world))
    second = project.up()
    assert second.change_summary == {"same": 2}
    later = operations(world)[before:]
    assert "create" not in later and "update" not in later and "delete" not in later, later
    assert objects(world) == created


def test_input_change_goes_through_diff_to_update_or_replace(smoke, world):
    project = smoke(size=1, color="blue")
    project.up()
    (first_id,) = objects(world)

    # size is declared updatable in place: same id, provider update called
    project.set_config("size", "5")
    assert project.preview().change_summary.get("update") == 1
    before = len(journal(world))
    assert project.up().change_summary.get("update") == 1
    later = operations(world)[before:]
    assert "diff" in later and "update" in later and "create" not in later, later
    assert objects(world) == {first_id: {**objects(world)[first_id], "size": 5}}
    assert project.outputs()["size"] == 5

    # color is declared replacing: new id created, the old object deleted
    project.set_config("color", "red")
    assert project.preview().change_summary.get("replace") == 1
    before = len(journal(world))
    assert project.up().change_summary.get("replace") == 1
    later = operations(world)[before:]
    assert later.count("create") == 1 and later.count("delete") == 1 and "update" not in later, later
    assert later.index("create") < later.index("delete")          # create-before-delete, as declared
    (second_id, record), = objects(world).items()
    assert second_id != first_id and record["color"] == "red" and record["size"] == 5
    assert project.outputs()["id"] == second_id


def test_refresh_calls_read_and_takes_in_drift(smoke, world):
    project = smoke(size=2)
    project.up()
    (object_id,) = objects(world)
    drifted = objects(world)[object_id] | {"size": 9}
    (world / f"{object_id}.json").write_text(json.dumps(drifted))

    before = len(journal(world))
    result = project.refresh()
    assert operations(world)[before:].count("read") == 1
    assert result.change_summary.get("update") == 1
    (state,) = smoke_resources(project)
    assert state["outputs"]["size"] == 9


def test_destroy_calls_delete(smoke, world):
    project = smoke()
    project.up()
    (object_id,) = objects(world)
    before = len(journal(world))
    result = project.destroy()
    assert result.change_summary.get("delete") == 2
    deletes = [e for e in journal(world)[before:] if e["op"] == "delete"]
    assert [e["id"] for e in deletes] == [object_id]
    assert objects(world) == {}
    assert smoke_resources(project) == []


def test_secret_input_is_not_plain_text_in_the_exported_state(smoke, world):
    project = smoke()
    project.up()
    # The provider did receive the plaintext (its hash is in the world file) ...
    (record,) = objects(world).values()
    assert record["password_sha256"] == hashlib.sha256(PASSWORD.encode()).hexdigest()
    # ... but neither the state nor the outputs show it.
    text = project.export_text()
    assert PASSWORD not in text
    (state,) = smoke_resources(project)
    for section in ("inputs", "outputs"):
        value = state[section]["password"]
        assert isinstance(value, dict) and "ciphertext" in value, (section, value)
    assert PASSWORD not in json.dumps(project.outputs())
    assert PASSWORD not in (world / "journal.jsonl").read_text()


def test_provider_exception_reaches_the_user_readably(smoke, world):
    project = smoke(fail_on="create")
    result = project.up(expect_failure=True)
    assert "smoke provider refused to create the object" in result.output
    assert "clear fail_on to let it through" in result.output
    assert objects(world) == {}
    assert smoke_resources(project) == []


def test_check_failure_names_the_property_at_preview(smoke, world):
    project = smoke(size=-4)
    result = project.preview(expect_failure=True)
    assert "size must be 0 or more, got -4" in result.output
    assert "create" not in operations(world)


def test_provider_is_pickled_by_reference(smoke):
    project = smoke()
    project.up()
    (state,) = [r for r in project.export(show_secrets=True)["deployment"]["resources"] if r["type"] == DYNAMIC_TYPE]
    value = state["inputs"]["__provider"]
    assert isinstance(value, dict) and "plaintext" in value      # a secret, shown decrypted
    blob = base64.b64decode(json.loads(value["plaintext"]))
    # By reference: module and class name only; by value dill would embed the class and its code.
    assert b"smoke_provider" in blob and b"SmokeProvider" in blob
    assert b"_create_type" not in blob and b"_create_code" not in blob
