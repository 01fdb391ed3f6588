#!/usr/bin/env bash
# CLI wall clock: `megaflex products -o json` against the seed blog's Python
# (token + product list) on the same simulator, in one hyperfine run.
#
#   bash bench/cli_hyperfine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18484}
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
python3 -c "import requests" 2>/dev/null || pip install -q requests
cargo build --release -q -p megaflex
./target/release/megaflex sim --listen "127.0.0.1:$PORT" --limits off >/dev/null 2>&1 &
sim_pid=$!
state=$(mktemp -d)
trap 'kill $sim_pid 2>/dev/null || true; rm -rf "$state"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/_sim/stats" && break; sleep 0.1; done
export MEGAPORT_API_URL=http://127.0.0.1:$PORT MEGAPORT_TOKEN_URL=http://127.0.0.1:$PORT/oauth2/token \
       MEGAPORT_ACCESS_KEY=megaflex-sim-key MEGAPORT_SECRET_KEY=megaflex-sim-secret XDG_STATE_HOME=$state
# The journal would make the budget count these runs; the limit is off in the simulator anyway.
hyperfine -N --warmup 5 --runs ${RUNS:-100} --export-markdown "$state/result.md" \
  "./target/release/megaflex products -o json" \
  "python3 bench/seed_products.py"
cat "$state/result.md"
