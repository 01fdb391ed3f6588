#!/usr/bin/env bash
# Per-call cost of the Megaport client, counted in ways that stay valid on a
# busy machine (unlike calls/s): user-space instructions per call (callgrind,
# the client process only; the simulator runs natively in its own process)
# and system calls per call (strace -c -f), for
#   - `sequential_reads`: `Client::vxc`, what bench/client_seq.sh times;
#   - `plain_reqwest`: a bare reqwest::Client GET + the same serde decode;
#   - wrk -t1 -c1 (system calls only), the simulator's floor.
# Each program runs with CALLS and 2*CALLS calls; the difference divided by
# CALLS is the per-call cost (start-up, token and connection cancel out).
#
#   bash bench/client_callgrind.sh          # CALLS=2000
#   NO_BUILD=1 bash bench/client_callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-2000}
PORT=${PORT:-18484}
UID_=61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5
TARGET=${CARGO_TARGET_DIR:-target}
# EXAMPLES=DIR measures other builds of the two programs (e.g. a copy of the
# previous commit's) against the same simulator.
EXAMPLES=${EXAMPLES:-$TARGET/release/examples}
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release -q -p megaflex
    cargo build --release -q -p megaport --example sequential_reads --example plain_reqwest
fi
work=$(mktemp -d)
"$TARGET/release/megaflex" sim --listen "127.0.0.1:$PORT" --limits off >/dev/null 2>&1 &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/_sim/stats" && break; sleep 0.1; done
api=http://127.0.0.1:$PORT
tok=$api/oauth2/token

instructions() { # PROGRAM CALLS -> total Ir of the whole process
    local out=$work/cg.$1.$2
    valgrind --tool=callgrind --callgrind-out-file="$out" "$EXAMPLES/$1" "$api" "$tok" "$UID_" "$2" \
        >/dev/null 2>"$work/vg.log"
    grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
}
syscalls() { # PROGRAM CALLS -> system calls of the whole process (every thread)
    strace -f -c -o "$work/st.$1.$2" "$EXAMPLES/$1" "$api" "$tok" "$UID_" "$2" >/dev/null
    awk '$NF=="total"{print $(NF-2)}' "$work/st.$1.$2"
}
per_call() { python3 -c "print(f'{($2 - $1) / $CALLS:,.1f}')"; }

for prog in sequential_reads plain_reqwest; do
    a=$(instructions "$prog" "$CALLS"); b=$(instructions "$prog" $((CALLS * 2)))
    s1=$(syscalls "$prog" "$CALLS"); s2=$(syscalls "$prog" $((CALLS * 2)))
    printf '%-18s instructions/call %10s   system calls/call %6s\n' "$prog" "$(per_call "$a" "$b")" \
        "$(per_call "$s1" "$s2")"
    cp "$work/st.$prog.$((CALLS * 2))" "/tmp/client_callgrind.strace.$prog" 2>/dev/null || true
    cp "$work/cg.$prog.$((CALLS * 2))" "/tmp/client_callgrind.out.$prog" 2>/dev/null || true
done
if command -v wrk >/dev/null; then
    bearer=$(curl -s -u megaflex-sim-key:megaflex-sim-secret -d grant_type=client_credentials "$tok" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    strace -f -c -o "$work/st.wrk" wrk -t1 -c1 -d2s -H "Authorization: Bearer $bearer" \
        -H "Accept: application/json" "$api/v2/product/$UID_" >"$work/wrk.out"
    reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
    calls=$(awk '$NF=="total"{print $(NF-2)}' "$work/st.wrk")
    printf '%-18s instructions/call %10s   system calls/call %6s (%s requests)\n' "wrk -t1 -c1" "-" \
        "$(python3 -c "print(f'{$calls / $reqs:.1f}')")" "$reqs"
    cp "$work/st.wrk" /tmp/client_callgrind.strace.wrk
fi
echo "strace tables and callgrind outputs: /tmp/client_callgrind.*"
