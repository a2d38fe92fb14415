#!/usr/bin/env bash
# Build the real Pulumi engine (CLI + Python language host) from Go modules at one pinned
# release, into a cache outside the repository. Idempotent: a finished build is reused.
#
#   tools/build-engine.sh            build (or reuse) and print the bin directory on the last line
#   PULUMI_ENGINE_VERSION=v3.274.1   release to build (default below)
#   HVPROVIDER_CACHE=~/.cache/hvprovider   cache root (the build lands in <cache>/pulumi-<version>/)
#
# Why from modules: the official installer downloads from the internet; this machine kind only
# reaches package registries, and the Go module proxy is one of them.
set -euo pipefail

export HOME="${HOME:-$(cd ~ && pwd)}"
VERSION="${PULUMI_ENGINE_VERSION:-v3.274.1}"
CACHE="${HVPROVIDER_CACHE:-$HOME/.cache/hvprovider}"
DEST="$CACHE/pulumi-$VERSION"
BIN="$DEST/bin"
SRC="$DEST/src"            # the wrapper Go module
LOG="$DEST/build.log"

PKG_MOD=github.com/pulumi/pulumi/pkg/v3
SDK_MOD=github.com/pulumi/pulumi/sdk/v3
PY_MOD=github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
CLI_PKG=$PKG_MOD/cmd/pulumi

say() { printf 'build-engine: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

engine_complete() {
    [ -x "$BIN/pulumi" ] && [ -x "$BIN/pulumi-language-python" ] && [ -f "$DEST/BUILD-INFO" ] \
        && [ -x "$BIN/pulumi-resource-pulumi-python" ] && [ -x "$BIN/pulumi-language-python-exec" ] \
        && [ "$("$BIN/pulumi" version 2>/dev/null)" = "$VERSION" ]
}

if engine_complete; then
    say "engine $VERSION already built in $BIN"
    echo "$BIN"
    exit 0
fi

command -v go >/dev/null 2>&1 || die "no 'go' on PATH. Install Go >= 1.25.11 (https://go.dev/dl/) or a pulumi CLI, then re-run."

mkdir -p "$DEST" "$SRC"
# One build at a time per cache (two setups started together must not race).
exec 9>"$DEST/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if engine_complete; then echo "$BIN"; exit 0; fi

export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export GOWORK=off
start=$(date +%s)
say "building pulumi $VERSION from Go modules (first time: several minutes); log: $LOG"
: >"$LOG"
step() { say "step: $*"; echo "### $*" >>"$LOG"; }

cd "$SRC"
rm -f go.mod go.sum
go mod init hvprovider.local/pulumi-engine-build >>"$LOG" 2>&1

json_field() {  # json_field <field.path>   (reads JSON on stdin)
    python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1"
}

step "resolve $SDK_MOD@$VERSION (release commit)"
sdk_json=$(go mod download -json "$SDK_MOD@$VERSION" 2>>"$LOG") || die "go mod download $SDK_MOD@$VERSION failed (see $LOG)"
COMMIT=$(printf '%s' "$sdk_json" | json_field Origin.Hash 2>/dev/null) || COMMIT=""
SDK_DIR=$(printf '%s' "$sdk_json" | json_field Dir)
[ -z "$COMMIT" ] || say "release commit $COMMIT"

step "download $PKG_MOD@$VERSION"
pkg_json=$(go mod download -json "$PKG_MOD@$VERSION" 2>>"$LOG") || die "go mod download $PKG_MOD@$VERSION failed (see $LOG)"
PKG_GOMOD=$(printf '%s' "$pkg_json" | json_field GoMod)

# The language host has no tags of its own: ask for it at the release commit (pseudo-version).
# Some proxies give no commit for a tag (no Origin in the .info) or refuse the module; then we
# build the host from the last release where it still lived inside sdk/v3 (see LEGACY_HOST below).
PY_VERSION="" PY_GOMOD=""
if [ -n "$COMMIT" ]; then
    step "download $PY_MOD@$COMMIT"
    if py_json=$(go mod download -json "$PY_MOD@$COMMIT" 2>>"$LOG") \
        && PY_VERSION=$(printf '%s' "$py_json" | json_field Version) \
        && PY_GOMOD=$(printf '%s' "$py_json" | json_field GoMod); then
        say "language host module version $PY_VERSION"
    else
        PY_VERSION="" PY_GOMOD=""
        say "the proxy does not serve $PY_MOD@$COMMIT: $(printf '%s' "${py_json:-}" | json_field Error 2>/dev/null || true)"
    fi
else
    say "the proxy gives no commit for $SDK_MOD@$VERSION (no Origin in its .info)"
fi

# Replace directives of dependencies are ignored by Go: copy the non-local ones of the release.
step "copy replace directives from the release go.mod files"
for gomod in "$PKG_GOMOD" ${PY_GOMOD:+"$PY_GOMOD"} "$SDK_DIR/go.mod"; do
    go mod edit -json "$gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    new = r["New"]
    if not new.get("Version"):      # local path replace (../sdk etc.): dropped
        continue
    old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
    print(old + "=" + new["Path"] + "@" + new["Version"])
'
done | sort -u >"$DEST/replaces.txt"
while IFS= read -r rep; do
    [ -n "$rep" ] || continue
    say "replace $rep"
    go mod edit -replace "$rep"
done <"$DEST/replaces.txt"

step "require the release modules and the commands"
go get -tool "$CLI_PKG@$VERSION" >>"$LOG" 2>&1 || die "go get -tool $CLI_PKG@$VERSION failed (see $LOG)"
BUILD_PKGS=("$CLI_PKG")
if [ -n "$PY_VERSION" ]; then
    go get -tool "$PY_MOD@$PY_VERSION" >>"$LOG" 2>&1 || die "go get -tool $PY_MOD@$PY_VERSION failed (see $LOG)"
    BUILD_PKGS+=("$PY_MOD")
fi
# The language host's go.mod names an older pkg/v3: pin both halves of the release explicitly.
go get "$PKG_MOD@$VERSION" "$SDK_MOD@$VERSION" >>"$LOG" 2>&1 || die "pinning $PKG_MOD/$SDK_MOD@$VERSION failed (see $LOG)"
grep -q "$PKG_MOD $VERSION" go.mod || die "go.mod does not require $PKG_MOD $VERSION after go get (see $SRC/go.mod)"
grep -q "$SDK_MOD $VERSION" go.mod || die "go.mod does not require $SDK_MOD $VERSION after go get (see $SRC/go.mod)"

step "go build"
rm -rf "$DEST/bin.tmp"; mkdir -p "$DEST/bin.tmp"
PAR="${HVPROVIDER_BUILD_JOBS:-2}"
GOBUILD=(go build -p "$PAR" -trimpath -tags osusergo,grpcnotrace)
"${GOBUILD[@]}" -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
    -o "$DEST/bin.tmp/" "${BUILD_PKGS[@]}" >>"$LOG" 2>&1 \
    || die "go build of ${BUILD_PKGS[*]} failed (last lines of $LOG follow)
$(tail -n 30 "$LOG")"

HOST_INFO="$PY_MOD@$PY_VERSION (release commit $COMMIT)"
if [ -z "$PY_VERSION" ]; then
    # Fallback: the Python language host from the last release where it was a package of sdk/v3
    # (it became its own module in v3.80.0). It speaks the same LanguageRuntime protocol and runs
    # this release's pulumi-language-python-exec with the same arguments. Its own wrapper module,
    # because it needs that older sdk/v3. It does not receive the `virtualenv` runtime option from
    # a newer engine: it runs $PULUMI_PYTHON_CMD, else python3 on PATH (setup puts .venv/bin first).
    LEGACY_HOST="${PULUMI_LEGACY_LANGUAGE_HOST:-v3.79.0}"
    LEGACY_PKG=$SDK_MOD/python/cmd/pulumi-language-python
    step "fallback: build $LEGACY_PKG@$LEGACY_HOST"
    say "building the Python language host from $SDK_MOD@$LEGACY_HOST instead"
    mkdir -p "$DEST/src-langhost"
    (
        cd "$DEST/src-langhost"
        rm -f go.mod go.sum
        go mod init hvprovider.local/pulumi-langhost-build >>"$LOG" 2>&1
        go get -tool "$LEGACY_PKG@$LEGACY_HOST" >>"$LOG" 2>&1
        "${GOBUILD[@]}" -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LEGACY_HOST" \
            -o "$DEST/bin.tmp/" "$LEGACY_PKG" >>"$LOG" 2>&1
    ) || die "the Python language host could not be built: $PY_MOD at the release commit is not served here and the fallback $LEGACY_PKG@$LEGACY_HOST failed (last lines of $LOG follow)
$(tail -n 30 "$LOG")"
    # A newer engine gives the `virtualenv` runtime option to the host in its requests, an older
    # host only reads it from a -virtualenv flag: a small wrapper reads it from the Pulumi.yaml in
    # the working directory (the engine starts language hosts in the project root) and passes it on.
    mv "$DEST/bin.tmp/pulumi-language-python" "$DEST/bin.tmp/pulumi-language-python-legacy"
    cat >"$DEST/bin.tmp/pulumi-language-python" <<'WRAPPER'
#!/bin/sh
# Written by hvprovider's tools/build-engine.sh: starts the legacy Python language host with the
# project's `virtualenv` runtime option (from ./Pulumi.yaml) as its -virtualenv flag.
host="$(dirname "$0")/pulumi-language-python-legacy"
venv="${PULUMI_RUNTIME_VIRTUALENV:-}"
for f in Pulumi.yaml Pulumi.yml; do
    if [ -z "$venv" ] && [ -f "$f" ]; then
        venv=$(awk '/^[[:space:]]+virtualenv:/ { sub(/^[[:space:]]+virtualenv:[[:space:]]*/, ""); sub(/[[:space:]]+#.*$/, ""); gsub(/^["\047]|["\047][[:space:]]*$/, ""); print; exit }' "$f")
    fi
done
if [ -n "$venv" ]; then
    # This host would join PULUMI_PYTHON_CMD onto the venv's bin dir: the venv's python is meant.
    unset PULUMI_PYTHON_CMD
    exec "$host" -virtualenv "$venv" "$@"
fi
exec "$host" "$@"
WRAPPER
    chmod 0755 "$DEST/bin.tmp/pulumi-language-python"
    HOST_INFO="$LEGACY_PKG@$LEGACY_HOST (fallback: $PY_MOD at the $VERSION commit is not served here), started by a wrapper that passes the virtualenv option"
fi

step "copy the helper scripts from $SDK_MOD"
for f in python/dist/pulumi-resource-pulumi-python python/cmd/pulumi-language-python-exec; do
    [ -f "$SDK_DIR/$f" ] || die "helper script $SDK_DIR/$f not found"
    install -m 0755 "$SDK_DIR/$f" "$DEST/bin.tmp/$(basename "$f")"
done

got=$("$DEST/bin.tmp/pulumi" version) || die "the built pulumi does not run"
[ "$got" = "$VERSION" ] || die "built pulumi reports version '$got', expected $VERSION"
rm -rf "$BIN"; mv "$DEST/bin.tmp" "$BIN"
cat >"$DEST/BUILD-INFO" <<INFO
version=$VERSION
commit=${COMMIT:-unknown (the proxy gave none)}
language_host=$HOST_INFO
go=$(go version)
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
seconds=$(( $(date +%s) - start ))
INFO
say "done in $(( $(date +%s) - start ))s: $BIN"
echo "$BIN"
