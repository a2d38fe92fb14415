#!/usr/bin/env bash
# The seed's lab on hvsim as one `pulumi up` (what `make lab` runs after tools/setup.sh).
#
#   tools/lab.sh          start hvsim (or reuse the running one), `pulumi up` the `hvsim` stack,
#                         print the stack outputs and `python -m hvsim status`
#   tools/lab.sh down     `pulumi destroy` the `hvsim` stack, then stop hvsim
#   tools/lab.sh status   print the stack outputs and `python -m hvsim status`
#   tools/lab.sh drill    the seed's three tests against the running lab (python -m hvprovider.drill):
#                         live migration, quick migration, power loss of the VM's owner, with downtimes
#   tools/lab.sh reset    stop hvsim and forget this variant's world and stack (.hvsim-state/ and the
#                         stack's state): for when one of them was deleted or damaged by hand and they
#                         no longer match
#
# The variant (LAB=..., also `make lab LAB=nested`):
#   LAB=seed (default)  three installed, unconfigured servers (hvsim/labs/seed.yaml), stack `hvsim`
#   LAB=nested          ONE Hyper-V host with a switch and generalized images (hvsim/labs/nested.yaml),
#                       stack `hvsim-nested`: the three servers are first built as LabMachines (nested
#                       VMs), then the same lab on them; `down` leaves the host as it was
#
# Where things live (all git-ignored, inside the repository):
#   .hvsim-state/    hvsim's world (state.json, audit.jsonl, endpoints.json, server.log, hvsim.pid);
#                    .hvsim-state-nested/ for LAB=nested
#   .pulumi-state/   the Pulumi file backend (PULUMI_BACKEND_URL) and PULUMI_HOME (both stacks)
#
# The lab passphrase: the `hvsim` stack's secrets (stacks/Pulumi.hvsim.yaml) are encrypted with the
# passphrase "hvsim-lab". It protects only the passwords of the SIMULATED lab in hvsim/labs/seed.yaml
# and is therefore written down here. Never use it for a stack of real servers: those get their
# own passphrase (PULUMI_CONFIG_PASSPHRASE) or another secrets provider, see stacks/Pulumi.example.yaml.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LAB_PASSPHRASE=hvsim-lab
case "${LAB:-seed}" in
    seed)
        STACK=hvsim
        LAB_FILE="$ROOT/hvsim/labs/seed.yaml"
        HVSIM_STATE="$ROOT/.hvsim-state"
        ;;
    nested)
        STACK=hvsim-nested
        LAB_FILE="$ROOT/hvsim/labs/nested.yaml"
        HVSIM_STATE="$ROOT/.hvsim-state-nested"
        ;;
    *)
        printf 'lab: ERROR: LAB=%s: allowed: seed (default), nested\n' "$LAB" >&2
        exit 1
        ;;
esac
PULUMI_STATE="$ROOT/.pulumi-state"
PYTHON="$ROOT/.venv/bin/python"

say() { printf 'lab: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ -x "$PYTHON" ] || die "no virtual environment at .venv: run tools/setup.sh (or make lab) first"

# The engine: the one tools/setup.sh recorded, else a pulumi on PATH.
ENGINE_BIN=""
if [ -f "$ROOT/.venv/hvprovider.env" ]; then
    ENGINE_BIN="$(sed -n 's/^PULUMI_ENGINE_BIN=//p' "$ROOT/.venv/hvprovider.env" | tail -n 1)"
fi
if [ -z "$ENGINE_BIN" ] && command -v pulumi >/dev/null 2>&1; then
    ENGINE_BIN="$(dirname "$(command -v pulumi)")"
fi
[ -n "$ENGINE_BIN" ] && [ -x "$ENGINE_BIN/pulumi" ] || die "no pulumi engine found: run tools/setup.sh first"

mkdir -p "$HVSIM_STATE" "$PULUMI_STATE/backend" "$PULUMI_STATE/home"
export PATH="$ENGINE_BIN:$ROOT/.venv/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PULUMI_BACKEND_URL="file://$PULUMI_STATE/backend"
export PULUMI_HOME="$PULUMI_STATE/home"
export PULUMI_CONFIG_PASSPHRASE="$LAB_PASSPHRASE"
unset PULUMI_CONFIG_PASSPHRASE_FILE
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

hvsim_running() {
    [ -f "$HVSIM_STATE/hvsim.pid" ] && kill -0 "$(cat "$HVSIM_STATE/hvsim.pid")" 2>/dev/null \
        && [ -f "$HVSIM_STATE/endpoints.json" ]
}

start_hvsim() {
    if hvsim_running; then
        say "reusing the running hvsim (pid $(cat "$HVSIM_STATE/hvsim.pid"), state in .hvsim-state/)"
        return
    fi
    rm -f "$HVSIM_STATE/endpoints.json"
    say "starting hvsim with $(basename "$LAB_FILE") (state in .hvsim-state/, log in .hvsim-state/server.log)"
    nohup "$PYTHON" -m hvsim serve --lab "$LAB_FILE" --state "$HVSIM_STATE" \
        >>"$HVSIM_STATE/server.log" 2>&1 </dev/null &
    echo $! >"$HVSIM_STATE/hvsim.pid"
    for _ in $(seq 1 600); do
        [ -f "$HVSIM_STATE/endpoints.json" ] && return
        kill -0 "$(cat "$HVSIM_STATE/hvsim.pid")" 2>/dev/null || {
            tail -n 30 "$HVSIM_STATE/server.log" >&2 || true
            die "hvsim exited during start (log above; another process may hold one of $(basename "$LAB_FILE")'s addresses)"
        }
        sleep 0.1
    done
    die "hvsim did not become ready within 60 s (see .hvsim-state/server.log)"
}

stop_hvsim() {
    if hvsim_running || [ -f "$HVSIM_STATE/hvsim.pid" ]; then
        local pid
        pid="$(cat "$HVSIM_STATE/hvsim.pid")"
        if kill -0 "$pid" 2>/dev/null; then
            say "stopping hvsim (pid $pid)"
            kill "$pid"
            for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
        rm -f "$HVSIM_STATE/hvsim.pid"
    fi
}

select_stack() {
    pulumi stack select "$STACK" >/dev/null 2>&1 \
        || pulumi stack init "$STACK" --secrets-provider passphrase >/dev/null
}

show() {
    say "stack outputs:"
    pulumi stack output --stack "$STACK" || true
    say "hvsim status:"
    "$PYTHON" -m hvsim status --state "$HVSIM_STATE"
}

case "${1:-up}" in
    up)
        start_hvsim
        select_stack
        pulumi up --yes --stack "$STACK"
        show
        ;;
    down)
        start_hvsim
        select_stack
        pulumi destroy --yes --stack "$STACK"
        stop_hvsim
        ;;
    status)
        select_stack
        show
        ;;
    drill)
        hvsim_running || die "hvsim is not running: run make lab first"
        select_stack
        "$PYTHON" -m hvprovider.drill --stack "$STACK" --hvsim-state "$HVSIM_STATE"
        ;;
    reset)
        stop_hvsim
        rm -rf "$HVSIM_STATE"
        # only this variant's stack: the other variant's world and state stay as they are
        pulumi stack rm --yes --force --preserve-config --stack "$STACK" >/dev/null 2>&1 \
            || rm -rf "$PULUMI_STATE/backend/.pulumi/stacks/hvlab/$STACK".json* "$PULUMI_STATE/backend/.pulumi/history/hvlab/$STACK"
        say "removed $(basename "$HVSIM_STATE")/ and the $STACK stack; the next tools/lab.sh starts from $(basename "$LAB_FILE")"
        ;;
    *)
        die "usage: tools/lab.sh [up|down|status|drill|reset]"
        ;;
esac
