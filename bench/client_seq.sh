#!/usr/bin/env bash
# Client speed: sequential GET /v2/product/{uid} with keep-alive through the
# `megaport` crate, against the seed blog's Python pattern in the same run.
#
#   bash bench/client_seq.sh
#
# Prints calls/s for the Rust client, Python requests (new connection per
# call, the blog's code) and Python with a Session, and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-20000}
PY_CALLS=${PY_CALLS:-2000}
PORT=${PORT:-18483}
UID_=61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5
python3 -c "import requests" 2>/dev/null || pip install -q requests

cargo build --release -q -p megaflex
cargo build --release -q -p megaport --example sequential_reads
./target/release/megaflex sim --listen "127.0.0.1:$PORT" --limits off >/dev/null 2>&1 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/_sim/stats" && break; sleep 0.1; done
api=http://127.0.0.1:$PORT
tok=$api/oauth2/token

rust=$(./target/release/examples/sequential_reads "$api" "$tok" "$UID_" "$CALLS")
py=$(python3 bench/seed_style.py "$api" "$tok" "$UID_" "$PY_CALLS")
pys=$(python3 bench/seed_style.py "$api" "$tok" "$UID_" "$PY_CALLS" --session)
echo "megaport client (keep-alive):        $rust calls/s ($CALLS calls)"
echo "python requests, seed pattern:       $py calls/s ($PY_CALLS calls)"
echo "python requests.Session:             $pys calls/s ($PY_CALLS calls)"
python3 -c "print(f'ratio client / seed pattern:          {$rust/$py:.1f}x'); print(f'ratio client / requests.Session:     {$rust/$pys:.1f}x')"
