#!/usr/bin/env bash
# The worked larger stack on hvsim in one command (docs/compose.md):
#
#   bash examples/larger-stack/run.sh          set up (tools/setup.sh), start hvsim (or reuse the running
#                                              one), `pulumi up` this project's `hvsim` stack, print its
#                                              outputs, the inventory file and `python -m hvsim status`
#   bash examples/larger-stack/run.sh down     `pulumi destroy` the stack, then stop hvsim
#
# It uses the same hvsim lab, Pulumi backend and PULUMI_HOME as tools/lab.sh (.hvsim-state/,
# .pulumi-state/), so it needs the seed stack down first: both declare cluster CLUSTER1 on the same
# hosts (tools/lab.sh down). The stack's secrets use the simulated lab's passphrase "hvsim-lab".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STACK=hvsim
HVSIM_STATE="$ROOT/.hvsim-state"
PULUMI_STATE="$ROOT/.pulumi-state"
PYTHON="$ROOT/.venv/bin/python"

say() { printf 'larger-stack: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

bash "$ROOT/tools/setup.sh" >&2
set -a; . "$ROOT/.venv/hvprovider.env"; set +a
mkdir -p "$HVSIM_STATE" "$PULUMI_STATE/backend" "$PULUMI_STATE/home"
export PATH="$PULUMI_ENGINE_BIN:$ROOT/.venv/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PULUMI_BACKEND_URL="file://$PULUMI_STATE/backend" PULUMI_HOME="$PULUMI_STATE/home"
export PULUMI_CONFIG_PASSPHRASE=hvsim-lab PULUMI_SKIP_UPDATE_CHECK=true
unset PULUMI_CONFIG_PASSPHRASE_FILE
cd "$HERE"

hvsim_running() {
    [ -f "$HVSIM_STATE/hvsim.pid" ] && kill -0 "$(cat "$HVSIM_STATE/hvsim.pid")" 2>/dev/null \
        && [ -f "$HVSIM_STATE/endpoints.json" ]
}

case "${1:-up}" in
    up)
        if ! hvsim_running; then
            rm -f "$HVSIM_STATE/endpoints.json"
            say "starting hvsim (state in .hvsim-state/, log in .hvsim-state/server.log)"
            nohup "$PYTHON" -m hvsim serve --lab "$ROOT/hvsim/labs/existing-domain.yaml" --state "$HVSIM_STATE" \
                >>"$HVSIM_STATE/server.log" 2>&1 </dev/null &
            echo $! >"$HVSIM_STATE/hvsim.pid"
            for _ in $(seq 1 600); do [ -f "$HVSIM_STATE/endpoints.json" ] && break; sleep 0.1; done
            hvsim_running || die "hvsim did not start (see .hvsim-state/server.log)"
        fi
        pulumi stack select "$STACK" >/dev/null 2>&1 || pulumi stack init "$STACK" --secrets-provider passphrase >/dev/null
        pulumi up --yes --stack "$STACK"
        pulumi stack output --stack "$STACK"
        say "inventory ($HERE/inventory.json):"
        cat "$HERE/inventory.json"
        "$PYTHON" -m hvsim status --state "$HVSIM_STATE"
        ;;
    down)
        pulumi destroy --yes --stack "$STACK"
        if hvsim_running; then kill "$(cat "$HVSIM_STATE/hvsim.pid")"; rm -f "$HVSIM_STATE/hvsim.pid"; fi
        ;;
    *)
        die "usage: bash examples/larger-stack/run.sh [up|down]"
        ;;
esac
