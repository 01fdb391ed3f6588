#!/usr/bin/env bash
# Instructions per SNMP v2c trap in the `ingest` example (user space only,
# the whole process: receive, decode, classify, event, consumer), counted by
# callgrind: deterministic on a busy machine, unlike CPU time. Run twice,
# without and with COUNT traps, and the difference divided by the traps
# received is the per-trap cost. Also counts system calls per trap (strace).
#
#   bash bench/snmp_callgrind.sh            # COUNT=20000 RATE=4000
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-20000}
RATE=${RATE:-4000}
PORT=${PORT:-11199}
TARGET=${CARGO_TARGET_DIR:-target}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p megaflex-loadgen -p megaflex-engine --example ingest
GEN=${GEN:-$TARGET/release/megaflex-loadgen}
INGEST=${INGEST:-$TARGET/release/examples/ingest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { # run COUNT -> prints "Ir received"
  local n=$1
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n" "$INGEST" snmp "127.0.0.1:$PORT" \
    >"$work/out.$n" 2>"$work/err.$n" &
  local pid=$!
  for _ in $(seq 200); do grep -q "listening on" "$work/err.$n" 2>/dev/null && break; sleep 0.1; done
  [ "$n" -gt 0 ] && "$GEN" snmp-v2c --target "127.0.0.1:$PORT" --rate "$RATE" --count "$n" >/dev/null
  sleep 2
  kill -TERM "$pid"; wait "$pid" || true
  local ir recv
  ir=$(grep -E '^(summary|totals):' "$work/cg.$n" | head -1 | awk '{print $2}')
  recv=$(python3 -c "import json,sys; print(json.loads(open('$work/out.$n').read().strip().splitlines()[-1])['received'])")
  echo "$ir $recv"
}
read -r ir0 _ < <(run 0)
read -r irn recv < <(run "$COUNT")
echo "instructions: idle run $ir0, with $COUNT traps $irn, received $recv"
python3 -c "print(f'instructions per trap: {($irn - $ir0) / max($recv, 1):.0f}')"

# System calls per trap, same load, without valgrind: strace attached to the running receiver.
"$INGEST" snmp "127.0.0.1:$PORT" >"$work/out.s" 2>"$work/err.s" &
ipid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/err.s" 2>/dev/null && break; sleep 0.1; done
strace -f -c -o "$work/strace" -p "$ipid" 2>/dev/null &
spid=$!
sleep 1
"$GEN" snmp-v2c --target "127.0.0.1:$PORT" --rate "$RATE" --count "$COUNT" >/dev/null
sleep 1
kill -INT "$spid"; wait "$spid" || true
kill -TERM "$ipid"; wait "$ipid" || true
calls=$(awk '$NF=="total"{print $(NF-2)}' "$work/strace")
python3 -c "print(f'system calls per trap: {$calls / $COUNT:.2f} (strace -c total {$calls})')"
