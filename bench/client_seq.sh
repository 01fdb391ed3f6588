#!/usr/bin/env bash
# Client speed: sequential GET /v2/product/{uid} with keep-alive through the
# `megaport` crate, against the seed blog's Python pattern and against the
# floor of the same simulator (`wrk -t1 -c1`, one keep-alive connection, no
# decoding), all in one run against one simulator.
#
#   bash bench/client_seq.sh
#
# Prints calls/s for wrk (when installed), the Rust client (on a
# current-thread runtime, and on a multi-thread one as the daemon runs it),
# Python requests (new connection per call, the blog's code) and Python with
# a Session, the ratios, and the load average the figures were taken under.
# Wall-clock figures: run it on a quiet machine (nothing compiling).
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-20000}
PY_CALLS=${PY_CALLS:-2000}
WRK_SECS=${WRK_SECS:-5}
PORT=${PORT:-18483}
UID_=61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5
TARGET=${CARGO_TARGET_DIR:-target}
python3 -c "import requests" 2>/dev/null || pip install -q requests

# NO_BUILD=1 reuses the binaries already built (repeated runs on a busy machine).
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release -q -p megaflex
    cargo build --release -q -p megaport --example sequential_reads
fi
"$TARGET/release/megaflex" sim --listen "127.0.0.1:$PORT" --limits off >/dev/null 2>&1 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/_sim/stats" && break; sleep 0.1; done
api=http://127.0.0.1:$PORT
tok=$api/oauth2/token

echo "load before: $(uptime)"
# The floor: what the simulator serves one keep-alive connection when the
# client costs nothing (wrk neither decodes nor checks the body).
wrk_rps=""
if command -v wrk >/dev/null; then
    bearer=$(curl -s -u megaflex-sim-key:megaflex-sim-secret -d grant_type=client_credentials "$tok" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    wrk_rps=$(wrk -t1 -c1 -d"${WRK_SECS}s" -H "Authorization: Bearer $bearer" -H "Accept: application/json" \
        "$api/v2/product/$UID_" | awk '/^Requests\/sec:/ {printf "%.0f", $2}')
else
    echo "wrk not installed: no simulator floor (apt-get install wrk)"
fi
rust=$("$TARGET/release/examples/sequential_reads" "$api" "$tok" "$UID_" "$CALLS")
rust_mt=$(RUNTIME=multi_thread "$TARGET/release/examples/sequential_reads" "$api" "$tok" "$UID_" "$CALLS")
py=$(python3 bench/seed_style.py "$api" "$tok" "$UID_" "$PY_CALLS")
pys=$(python3 bench/seed_style.py "$api" "$tok" "$UID_" "$PY_CALLS" --session)
[ -n "$wrk_rps" ] && echo "wrk -t1 -c1 (simulator floor):       $wrk_rps req/s (${WRK_SECS} s)"
echo "megaport client (keep-alive):        $rust calls/s ($CALLS calls, current-thread runtime)"
echo "megaport client, multi-thread rt:     $rust_mt calls/s ($CALLS calls, as in the daemon)"
echo "python requests, seed pattern:       $py calls/s ($PY_CALLS calls)"
echo "python requests.Session:             $pys calls/s ($PY_CALLS calls)"
python3 -c "print(f'ratio client / seed pattern:          {$rust/$py:.1f}x'); print(f'ratio client / requests.Session:     {$rust/$pys:.1f}x')"
[ -n "$wrk_rps" ] && python3 -c "print(f'ratio client / wrk -t1 -c1:           {$rust/$wrk_rps:.2f} (wrk is {$wrk_rps/$rust:.2f}x the client; goal: ratio >= 0.67)'); print(f'ratio client multi-thread / wrk:      {$rust_mt/$wrk_rps:.2f}')"
echo "load after:  $(uptime)"
