#!/usr/bin/env bash
# Build the Pulumi Command provider plugin (pulumi-resource-command) once, into a cache outside the
# repository, from the source archive in ../shared/vendor. Idempotent: a finished build is reused.
#
#   tools/build-command-plugin.sh     build (or reuse) and print the plugin's directory on the last line
#   COMMAND_PLUGIN_VERSION=1.2.1      the release (must match pulumi_command in pyproject.toml)
#   COMMAND_PLUGIN_SRC=<tar.gz>       the source archive (default: <repo>/../shared/vendor/...)
#   HVPROVIDER_CACHE=~/.cache/hvprovider   cache root (the build lands in <cache>/pulumi-command-<version>/)
#
# Why: on a machine with Pulumi's plugin downloads, `pulumi` fetches this plugin by itself. Here only
# package registries are reached; the Go module proxy serves every module the provider needs, but not
# github.com/pulumi/pulumi-command itself, so it is built from the release's source archive.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HOME="${HOME:-$(cd ~ && pwd)}"
VERSION="${COMMAND_PLUGIN_VERSION:-1.2.1}"
CACHE="${HVPROVIDER_CACHE:-$HOME/.cache/hvprovider}"
SRC_TGZ="${COMMAND_PLUGIN_SRC:-$ROOT/../shared/vendor/pulumi-command-$VERSION-src.tar.gz}"
DEST="$CACHE/pulumi-command-$VERSION"
BIN="$DEST/bin"
LOG="$DEST/build.log"

say() { printf 'build-command-plugin: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

plugin_complete() {
    [ -x "$BIN/pulumi-resource-command" ] && [ -f "$DEST/BUILD-INFO" ]
}

if plugin_complete; then
    say "pulumi-resource-command $VERSION already built in $BIN"
    echo "$BIN"
    exit 0
fi

command -v go >/dev/null 2>&1 || die "no 'go' on PATH. Install Go >= 1.24 (it builds the plugin from $SRC_TGZ), or let pulumi download the plugin (pulumi plugin install resource command $VERSION)."
[ -f "$SRC_TGZ" ] || die "source archive $SRC_TGZ not found (set COMMAND_PLUGIN_SRC), or let pulumi download the plugin (pulumi plugin install resource command $VERSION)."

mkdir -p "$DEST"
# One build at a time per cache (two setups started together must not race).
exec 9>"$DEST/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if plugin_complete; then echo "$BIN"; exit 0; fi

start=$(date +%s)
say "building pulumi-resource-command $VERSION from $SRC_TGZ (first time: about 7 minutes); log: $LOG"
: >"$LOG"
rm -rf "$DEST/src" "$DEST/bin.tmp"
mkdir -p "$DEST/src" "$DEST/bin.tmp"
tar -xzf "$SRC_TGZ" -C "$DEST/src" --strip-components=1 >>"$LOG" 2>&1 || die "could not unpack $SRC_TGZ"

export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export GOWORK=off
(
    cd "$DEST/src/provider"
    go build -p "${HVPROVIDER_BUILD_JOBS:-2}" -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$VERSION" \
        -o "$DEST/bin.tmp/" ./cmd/pulumi-resource-command
) >>"$LOG" 2>&1 || die "go build failed (last lines of $LOG follow)
$(tail -n 30 "$LOG")"

rm -rf "$BIN"; mv "$DEST/bin.tmp" "$BIN"
cat >"$DEST/BUILD-INFO" <<INFO
version=$VERSION
source=$(basename "$SRC_TGZ") sha256=$(sha256sum "$SRC_TGZ" | cut -d' ' -f1)
go=$(go version)
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
seconds=$(( $(date +%s) - start ))
INFO
rm -rf "$DEST/src"
say "done in $(( $(date +%s) - start ))s: $BIN"
echo "$BIN"
