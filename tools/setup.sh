#!/usr/bin/env bash
# Set up everything the lab and the tests need; safe to run again (a second run takes seconds).
#
#  1. .venv (python3 -m venv) if missing
#  2. pip install -e '.[test]' when pyproject.toml changed since the last install (stamp in .venv)
#  3. the Pulumi engine: a `pulumi` on PATH at or above $PULUMI_MIN_VERSION (with its Python language
#     host beside it or on PATH), else the cached build, else a build from Go modules
#     (tools/build-engine.sh, into ${HVPROVIDER_CACHE:-~/.cache/hvprovider}, outside the repo)
#  4. the Pulumi Command provider plugin (pulumi_command's pulumi-resource-command, $COMMAND_PLUGIN_VERSION):
#     the cached build, else a build from ../shared/vendor's source archive (tools/build-command-plugin.sh,
#     into the same cache), installed into the project's PULUMI_HOME (.pulumi-state/home, as tools/lab.sh
#     uses it); with neither Go nor the archive, `pulumi` downloads the plugin itself where it can
#  5. .venv/hvprovider.env: KEY=value lines (PULUMI_ENGINE_BIN, PULUMI_COMMAND_PLUGIN_BIN, ...) that the
#     Makefile and the tests read to put the engine first on PATH and to install the plugin
#
# Environment: HVPROVIDER_CACHE (cache root), PULUMI_ENGINE_VERSION (release to build),
# HVPROVIDER_USE_PATH_PULUMI=0 (ignore a pulumi on PATH, always use the pinned build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HOME="${HOME:-$(cd ~ && pwd)}"
VENV="$ROOT/.venv"
ENV_FILE="$VENV/hvprovider.env"
STAMP="$VENV/.hvprovider-installed"
# The oldest `pulumi` CLI we accept from PATH: not older than the pinned Python SDK (pulumi==3.272.0
# in pyproject.toml), the pairing upstream tests.
PULUMI_MIN_VERSION="${PULUMI_MIN_VERSION:-3.272.0}"
ENGINE_VERSION="${PULUMI_ENGINE_VERSION:-v3.274.1}"
CACHE="${HVPROVIDER_CACHE:-$HOME/.cache/hvprovider}"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

cd "$ROOT"

# 1. virtual environment
if [ ! -x "$VENV/bin/python" ]; then
    command -v python3 >/dev/null 2>&1 || die "python3 not found: install Python >= 3.10 (Debian: apt-get install python3 python3-venv)"
    say "creating $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed: install the venv module (Debian: apt-get install python3-venv)"
fi

# 2. the package and its pinned dependencies, only when pyproject.toml changed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    say "installing hvprovider and its pinned dependencies (pip install -e '.[test]')"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e ".[test]" \
        || die "pip install -e '.[test]' failed (see the pip output above)"
    echo "$want" >"$STAMP"
else
    say "python packages up to date (pyproject.toml unchanged since the last install)"
fi

# 3. the engine
version_at_least() {  # version_at_least <have> <min>
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

ENGINE_BIN=""
ENGINE_SOURCE=""
if [ "${HVPROVIDER_USE_PATH_PULUMI:-1}" != "0" ] && command -v pulumi >/dev/null 2>&1; then
    path_pulumi="$(command -v pulumi)"
    path_dir="$(cd "$(dirname "$path_pulumi")" && pwd)"
    path_version="$(pulumi version 2>/dev/null | head -n1 | sed 's/^v//')" || path_version=""
    if [ -n "$path_version" ] && version_at_least "${path_version%%-*}" "$PULUMI_MIN_VERSION"; then
        if [ -x "$path_dir/pulumi-language-python" ] || command -v pulumi-language-python >/dev/null 2>&1; then
            ENGINE_BIN="$path_dir"
            ENGINE_SOURCE="pulumi on PATH (v$path_version >= $PULUMI_MIN_VERSION)"
        else
            say "ignoring $path_pulumi: no pulumi-language-python beside it or on PATH"
        fi
    else
        say "ignoring $path_pulumi: version '${path_version:-unknown}' is older than $PULUMI_MIN_VERSION"
    fi
fi

if [ -z "$ENGINE_BIN" ]; then
    CACHED_BIN="$CACHE/pulumi-$ENGINE_VERSION/bin"
    if [ -x "$CACHED_BIN/pulumi" ] && [ -f "$CACHE/pulumi-$ENGINE_VERSION/BUILD-INFO" ] \
        && [ "$("$CACHED_BIN/pulumi" version 2>/dev/null)" = "$ENGINE_VERSION" ]; then
        ENGINE_BIN="$CACHED_BIN"
        ENGINE_SOURCE="cached build of $ENGINE_VERSION"
    elif command -v go >/dev/null 2>&1; then
        say "no suitable pulumi found: building $ENGINE_VERSION from Go modules (first time: several minutes)"
        ENGINE_BIN="$(HVPROVIDER_CACHE="$CACHE" PULUMI_ENGINE_VERSION="$ENGINE_VERSION" bash "$ROOT/tools/build-engine.sh" | tail -n1)"
        ENGINE_SOURCE="fresh build of $ENGINE_VERSION"
    else
        die "no Pulumi engine: neither a pulumi CLI >= $PULUMI_MIN_VERSION (with pulumi-language-python) on PATH nor Go to build one. Install Go >= 1.25.11 (then re-run; it builds pulumi $ENGINE_VERSION into $CACHE), or install the pulumi CLI."
    fi
fi
[ -x "$ENGINE_BIN/pulumi" ] || die "engine directory $ENGINE_BIN has no pulumi binary"

# 4. the Pulumi Command provider plugin (same version as pulumi_command in pyproject.toml)
COMMAND_PLUGIN_VERSION="${COMMAND_PLUGIN_VERSION:-1.2.1}"
grep -q "\"pulumi_command==$COMMAND_PLUGIN_VERSION\"" pyproject.toml \
    || die "pyproject.toml does not pin pulumi_command==$COMMAND_PLUGIN_VERSION: keep the two versions together"
COMMAND_BIN=""
if COMMAND_BIN="$(HVPROVIDER_CACHE="$CACHE" COMMAND_PLUGIN_VERSION="$COMMAND_PLUGIN_VERSION" \
        bash "$ROOT/tools/build-command-plugin.sh" | tail -n1)" && [ -x "$COMMAND_BIN/pulumi-resource-command" ]; then
    PROJECT_PULUMI_HOME="$ROOT/.pulumi-state/home"
    if [ ! -x "$PROJECT_PULUMI_HOME/plugins/resource-command-v$COMMAND_PLUGIN_VERSION/pulumi-resource-command" ]; then
        mkdir -p "$PROJECT_PULUMI_HOME"
        PULUMI_HOME="$PROJECT_PULUMI_HOME" PULUMI_SKIP_UPDATE_CHECK=true "$ENGINE_BIN/pulumi" plugin install \
            resource command "$COMMAND_PLUGIN_VERSION" --file "$COMMAND_BIN/pulumi-resource-command" >/dev/null 2>&1 \
            || die "pulumi plugin install resource command $COMMAND_PLUGIN_VERSION --file $COMMAND_BIN/pulumi-resource-command failed"
    fi
    say "command plugin: $COMMAND_BIN/pulumi-resource-command ($COMMAND_PLUGIN_VERSION; installed in .pulumi-state/home)"
else
    COMMAND_BIN=""
    say "command plugin: not built here (see above); pulumi downloads resource command $COMMAND_PLUGIN_VERSION where it can, or run: pulumi plugin install resource command $COMMAND_PLUGIN_VERSION"
fi

# 5. the env file the Makefile and the tests read
tmp="$ENV_FILE.tmp.$$"
{
    echo "# Written by tools/setup.sh; sourced by the Makefile, read by tests/engine_harness.py."
    echo "PULUMI_ENGINE_BIN=$ENGINE_BIN"
    echo "PULUMI_COMMAND_PLUGIN_BIN=$COMMAND_BIN"
    echo "PULUMI_COMMAND_PLUGIN_VERSION=$COMMAND_PLUGIN_VERSION"
    echo "PULUMI_ENGINE_VERSION=$("$ENGINE_BIN/pulumi" version)"
    echo "PULUMI_SKIP_UPDATE_CHECK=true"
} >"$tmp"
mv "$tmp" "$ENV_FILE"

say "engine: $ENGINE_BIN ($ENGINE_SOURCE; pulumi $("$ENGINE_BIN/pulumi" version))"
say "env file: $ENV_FILE  (use: set -a; . $ENV_FILE; set +a; PATH=\"\$PULUMI_ENGINE_BIN:$VENV/bin:\$PATH\")"
