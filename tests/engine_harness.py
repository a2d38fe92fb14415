"""Drive the real Pulumi engine from pytest: a private backend per test, helpers for every operation.

Every end-to-end test in this repository uses this module (``tests/conftest.py`` re-exports it).

Fixtures
--------
``pulumi_engine`` (session)   -> ``Path``: the directory holding ``pulumi`` and the Python language
                                 host: ``$HVPROVIDER_ENGINE_BIN`` if set, else ``PULUMI_ENGINE_BIN`` from
                                 ``.venv/hvprovider.env`` (written by ``tools/setup.sh``), else the
                                 directory of ``pulumi`` on PATH.
                                 A test that needs it FAILS (never skips) when it is missing.
``pulumi_env`` (function)     -> ``dict[str, str]``: a full environment for engine commands with a
                                 private file backend (``PULUMI_BACKEND_URL=file://<tmp>/backend``),
                                 ``PULUMI_HOME=<tmp>/home``, ``PULUMI_CONFIG_PASSPHRASE``,
                                 ``PULUMI_SKIP_UPDATE_CHECK=true``, the engine dir and ``.venv/bin``
                                 first on PATH, and the repo root on PYTHONPATH. Add to it freely
                                 before creating projects (e.g. ``pulumi_env["HVSIM_..."] = ...``).
``pulumi_project`` (function) -> a factory::

        project = pulumi_project(program, config=None, secrets=None, stack="test",
                                 name="hvtest", pythonpath=(), env=None, command_plugin=False)

    ``program`` is either the source text of ``__main__.py`` (a ``str``) or a ``pathlib.Path`` to a
    project directory, copied as is (a ``Pulumi.yaml`` is written if it has none; with
    ``stackConfigDir`` in its ``Pulumi.yaml`` the stack file goes there, as the CLI decides).
    The project lives in a fresh tmp dir, its ``Pulumi.yaml`` uses runtime ``python`` with
    ``virtualenv`` = this repo's ``.venv`` (absolute). ``config`` / ``secrets`` are ``{key: value}``
    set with ``pulumi config set`` (``secrets`` with ``--secret``); keys without a namespace get the
    project's. ``pythonpath`` adds directories to PYTHONPATH (for modules that hold dynamic
    providers: they are pickled by reference, so the provider process must import them too).
    ``command_plugin=True`` installs the Pulumi Command provider plugin (``PULUMI_COMMAND_PLUGIN_BIN``
    from ``.venv/hvprovider.env``, built by ``tools/build-command-plugin.sh``) into the test's private
    ``PULUMI_HOME`` with ``pulumi plugin install resource command <version> --file``, for programs
    that use ``pulumi_command``; the test FAILS when setup has not built it.
    Returns a ``PulumiProject`` whose stack is already created.

``PulumiProject(work_dir, stack, env)``
    ``preview()``, ``up()``, ``refresh()``, ``destroy()`` -> ``CommandResult``
    ``export(show_secrets=False)`` -> dict (``pulumi stack export``), ``export_text(show_secrets=False)`` -> str
    ``outputs(show_secrets=False)`` -> dict, ``set_config(key, value, secret=False)``,
    ``resources(type_token=None)`` -> the resources in the exported state (list of dicts),
    ``run(*args)`` -> any other ``pulumi`` command in the project dir.
    Every command method takes ``expect_failure=False``: a failing command raises ``PulumiError``
    (its message has the full command output) unless ``expect_failure=True`` (or ``None``: either outcome), in which case a command
    that unexpectedly SUCCEEDS raises instead. ``preview``/``up``/``refresh``/``destroy`` also take
    extra CLI args (``up("--target", urn)``) and ``timeout`` (seconds, default 600).

``CommandResult``
    ``args``, ``exit_code``, ``stdout``, ``stderr``, ``output`` (both), ``ok``,
    ``change_summary``: ``{"create": 1, "same": 2, ...}`` (operation -> count; from the ``--json``
    preview, or from ``pulumi stack history`` for up/refresh/destroy; ``{}`` when nothing ran).

Up, refresh and destroy run with ``--yes --skip-preview`` (one engine pass each); call
``preview()`` to see what would change.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pytest

__all__ = [
    "REPO_ROOT",
    "VENV_DIR",
    "ENGINE_ENV_FILE",
    "CommandResult",
    "PulumiError",
    "PulumiProject",
    "find_engine",
    "install_command_plugin",
    "engine_environment",
    "pulumi_engine",
    "pulumi_env",
    "pulumi_project",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".venv"
ENGINE_ENV_FILE = VENV_DIR / "hvprovider.env"   # written by tools/setup.sh: KEY=value lines
TEST_PASSPHRASE = "hvprovider-test-passphrase"
DEFAULT_TIMEOUT = 600


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def find_engine() -> Path | None:
    """The directory with the `pulumi` binary and its Python language host, or None."""
    candidates = []
    if os.environ.get("HVPROVIDER_ENGINE_BIN"):
        candidates.append(Path(os.environ["HVPROVIDER_ENGINE_BIN"]))
    configured = _read_env_file(ENGINE_ENV_FILE).get("PULUMI_ENGINE_BIN")
    if configured:
        candidates.append(Path(configured))
    on_path = shutil.which("pulumi")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if (directory / "pulumi").is_file() and os.access(directory / "pulumi", os.X_OK):
            return directory
    return None


def engine_environment(engine_bin: Path, state_dir: Path, extra_pythonpath: Iterable[Path] = ()) -> dict[str, str]:
    """Environment for engine commands with a private backend and home under `state_dir`."""
    backend = state_dir / "backend"
    home = state_dir / "home"
    backend.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # Nothing from the caller's own Pulumi setup may leak into a test.
    for key in list(env):
        if key.startswith("PULUMI_"):
            del env[key]
    venv_bin = VENV_DIR / "bin"
    path_parts = [str(engine_bin), str(venv_bin), env.get("PATH", "/usr/bin:/bin")]
    pythonpath = [str(REPO_ROOT), *(str(p) for p in extra_pythonpath)]
    if env.get("PYTHONPATH"):
        pythonpath.append(env["PYTHONPATH"])
    env.update(
        PULUMI_BACKEND_URL=f"file://{backend}",
        PULUMI_HOME=str(home),
        PULUMI_CONFIG_PASSPHRASE=TEST_PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_SKIP_CONFIRMATIONS="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PATH=os.pathsep.join(path_parts),
        PYTHONPATH=os.pathsep.join(pythonpath),
        PYTHONDONTWRITEBYTECODE="1",
        NO_COLOR="1",
    )
    return env


def install_command_plugin(env: Mapping[str, str]) -> None:
    """Install the Pulumi Command provider plugin that tools/setup.sh built into ``env``'s PULUMI_HOME."""
    settings = _read_env_file(ENGINE_ENV_FILE)
    plugin_dir = os.environ.get("HVPROVIDER_COMMAND_PLUGIN_BIN") or settings.get("PULUMI_COMMAND_PLUGIN_BIN")
    version = settings.get("PULUMI_COMMAND_PLUGIN_VERSION") or "1.2.1"
    binary = Path(plugin_dir or "/nonexistent") / "pulumi-resource-command"
    if not binary.is_file():
        pytest.fail(
            "The Pulumi Command provider plugin (pulumi-resource-command) was not found: no "
            "PULUMI_COMMAND_PLUGIN_BIN in .venv/hvprovider.env. Run `make setup` (tools/setup.sh builds it "
            "with tools/build-command-plugin.sh from ../shared/vendor), or `make test`.",
            pytrace=False,
        )
    pulumi = shutil.which("pulumi", path=env.get("PATH")) or "pulumi"  # the engine the env puts first
    done = subprocess.run([pulumi, "plugin", "install", "resource", "command", version, "--file", str(binary)],
                          env=dict(env), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise PulumiError(f"pulumi plugin install resource command {version} --file {binary} failed:\n"
                          f"{done.stdout}{done.stderr}")


class PulumiError(AssertionError):
    """An engine command did not end as the test expected; the message has its whole output."""


@dataclass
class CommandResult:
    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    change_summary: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def output(self) -> str:
        return self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr

    def describe(self) -> str:
        return (f"$ {' '.join(self.args)}\nexit code {self.exit_code}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")


class PulumiProject:
    """One Pulumi project directory and one stack in it, driven through the real `pulumi` CLI."""

    def __init__(self, work_dir: Path | str, stack: str, env: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT):
        self.work_dir = Path(work_dir)
        self.stack = stack
        self.env = dict(env)
        self.timeout = timeout

    # -- plumbing -------------------------------------------------------------------------------
    def run(self, *args: str, expect_failure: bool = False, timeout: float | None = None,
            with_stack: bool = True) -> CommandResult:
        """Run `pulumi <args>` in the project dir (with `--stack` unless with_stack=False)."""
        flags = ["--non-interactive"] + (["--stack", self.stack] if with_stack else [])
        args_list = list(args)
        cut = args_list.index("--") if "--" in args_list else len(args_list)
        cmd = ["pulumi", *args_list[:cut], *flags, *args_list[cut:]]
        try:
            proc = subprocess.run(cmd, cwd=self.work_dir, env=self.env, capture_output=True, text=True,
                                  timeout=timeout or self.timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise PulumiError(f"$ {' '.join(cmd)} did not finish within {exc.timeout}s\n"
                              f"--- stdout ---\n{exc.stdout}\n--- stderr ---\n{exc.stderr}") from None
        result = CommandResult(cmd, proc.returncode, proc.stdout, proc.stderr)
        if expect_failure and result.ok:
            raise PulumiError("expected this command to fail, but it succeeded:\n" + result.describe())
        if expect_failure is False and not result.ok:  # None: either outcome is fine
            raise PulumiError("pulumi command failed:\n" + result.describe())
        return result

    def _last_update_summary(self) -> dict[str, int]:
        history = self.run("stack", "history", "--json").stdout
        entries = json.loads(history) if history.strip() else []
        if not entries:
            return {}
        return {k: int(v) for k, v in (entries[0].get("resourceChanges") or {}).items()}

    def _operation(self, verb: str, extra: tuple[str, ...], expect_failure: bool, timeout: float | None) -> CommandResult:
        result = self.run(verb, "--yes", "--skip-preview", *extra, expect_failure=expect_failure, timeout=timeout)
        result.change_summary = self._last_update_summary()
        return result

    # -- operations -------------------------------------------------------------------------------
    def preview(self, *extra: str, expect_failure: bool = False, timeout: float | None = None) -> CommandResult:
        result = self.run("preview", "--json", *extra, expect_failure=expect_failure, timeout=timeout)
        try:
            data = json.loads(result.stdout)
        except ValueError:
            data = {}
        if isinstance(data, dict):
            result.change_summary = {k: int(v) for k, v in (data.get("changeSummary") or {}).items()}
        return result

    def up(self, *extra: str, expect_failure: bool = False, timeout: float | None = None) -> CommandResult:
        return self._operation("up", extra, expect_failure, timeout)

    def refresh(self, *extra: str, expect_failure: bool = False, timeout: float | None = None) -> CommandResult:
        return self._operation("refresh", extra, expect_failure, timeout)

    def destroy(self, *extra: str, expect_failure: bool = False, timeout: float | None = None) -> CommandResult:
        return self._operation("destroy", extra, expect_failure, timeout)

    # -- state, outputs, config -------------------------------------------------------------------
    def export_text(self, show_secrets: bool = False) -> str:
        return self.run("stack", "export", *(["--show-secrets"] if show_secrets else [])).stdout

    def export(self, show_secrets: bool = False) -> dict[str, Any]:
        return json.loads(self.export_text(show_secrets))

    def resources(self, type_token: str | None = None) -> list[dict[str, Any]]:
        """Resources in the exported state; `type_token` filters on `type`
        (hvprovider resources: "pulumi-python:dynamic/hvprovider:<Class>", e.g. ...:IscsiTarget)."""
        deployment = self.export().get("deployment") or {}
        found = deployment.get("resources") or []
        return [r for r in found if type_token is None or r.get("type") == type_token]

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "--json"] + (["--show-secrets"] if show_secrets else [])
        text = self.run(*args).stdout
        return json.loads(text) if text.strip() else {}

    def set_config(self, key: str, value: Any, secret: bool = False) -> CommandResult:
        # Non-string values are stored as their JSON text: read them with Config.require_object().
        text = value if isinstance(value, str) else json.dumps(value)
        args = ["config", "set", key, "--", text]
        if secret:
            args.insert(3, "--secret")
        return self.run(*args)

    def init_stack(self) -> CommandResult:
        return self.run("stack", "init", self.stack, with_stack=False)


def _pulumi_yaml(name: str, description: str = "hvprovider test project") -> str:
    return (
        f"name: {name}\n"
        f"description: {description}\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        f"    virtualenv: {VENV_DIR}\n"
    )


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pulumi_engine() -> Path:
    engine = find_engine()
    if engine is None:
        pytest.fail(
            "The Pulumi engine was not found: no PULUMI_ENGINE_BIN in .venv/hvprovider.env, no "
            "$HVPROVIDER_ENGINE_BIN and no `pulumi` on PATH. Run `make setup` (tools/setup.sh), or "
            "`make test`, which sets it up first.",
            pytrace=False,
        )
    return engine


@pytest.fixture
def pulumi_env(pulumi_engine: Path, tmp_path: Path) -> dict[str, str]:
    return engine_environment(pulumi_engine, tmp_path / "pulumi-state")


@pytest.fixture
def pulumi_project(pulumi_env: dict[str, str], tmp_path: Path) -> Callable[..., PulumiProject]:
    created = 0

    def make(program: str | Path, config: Mapping[str, Any] | None = None,
             secrets: Mapping[str, Any] | None = None, stack: str = "test", name: str = "hvtest",
             pythonpath: Iterable[Path | str] = (), env: Mapping[str, str] | None = None,
             command_plugin: bool = False) -> PulumiProject:
        nonlocal created
        created += 1
        work_dir = tmp_path / f"project-{created}"
        if isinstance(program, Path):
            shutil.copytree(program, work_dir, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
        else:
            work_dir.mkdir(parents=True)
            (work_dir / "__main__.py").write_text(program)
        if not (work_dir / "Pulumi.yaml").exists():
            (work_dir / "Pulumi.yaml").write_text(_pulumi_yaml(name))
        project_env = dict(pulumi_env)
        extra = [str(Path(p).resolve()) for p in pythonpath]
        if extra:
            project_env["PYTHONPATH"] = os.pathsep.join(extra + [project_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        if env:
            project_env.update(env)
        if command_plugin:
            install_command_plugin(project_env)
        project = PulumiProject(work_dir, stack, project_env)
        project.init_stack()
        for key, value in (config or {}).items():
            project.set_config(key, value)
        for key, value in (secrets or {}).items():
            project.set_config(key, value, secret=True)
        return project

    return make
