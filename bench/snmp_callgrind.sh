#!/usr/bin/env bash
# Instructions per SNMP v2c trap in the `ingest` example (user space only,
# the whole process: receive, decode, classify, event, consumer), counted by
# callgrind: deterministic on a busy machine, unlike CPU time. Run twice,
# without and with COUNT traps, and the difference divided by the traps
# received is the per-trap cost. Also counts system calls per trap (strace).
#
#   bash bench/snmp_callgrind.sh            # COUNT=20000 RATE=4000
#   V3=1 bash bench/snmp_callgrind.sh       # SNMPv3 authPriv (SHA/AES) traps instead:
#     one captured from Net-SNMP's snmptrap and sent again COUNT times (a
#     trap's sender is authoritative, so repeats within 150 s are accepted).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-20000}
RATE=${RATE:-4000}
PORT=${PORT:-11199}
TARGET=${CARGO_TARGET_DIR:-target}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p megaflex-loadgen -p megaflex-runtime --example ingest
GEN=${GEN:-$TARGET/release/megaflex-loadgen}
INGEST=${INGEST:-$TARGET/release/examples/ingest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

send() { # send COUNT
  if [ -n "${V3:-}" ]; then
    python3 - "$work/v3trap.bin" "$PORT" "$1" "$RATE" <<'PY'
import socket, sys, time
data = open(sys.argv[1], "rb").read(); port, n, rate = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); t0 = time.time()
for i in range(n):
    d = t0 + i / rate - time.time()
    if d > 0: time.sleep(d)
    s.sendto(data, ("127.0.0.1", port))
PY
  else
    "$GEN" snmp-v2c --target "127.0.0.1:$PORT" --rate "$RATE" --count "$1" >/dev/null
  fi
}
if [ -n "${V3:-}" ]; then
  export MEGAFLEX_SNMP_V3_USER=bench/8000000001020304/SHA/authpass123/AES/privpass123
  python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', $PORT)); s.settimeout(10)
open('$work/v3trap.bin', 'wb').write(s.recvfrom(65535)[0])" &
  cap=$!; sleep 0.3
  HOME=$work SNMP_PERSISTENT_DIR=$work MIBS= snmptrap -v 3 -e 0x8000000001020304 -u bench -l authPriv \
    -a SHA -A authpass123 -x AES -X privpass123 "127.0.0.1:$PORT" "" 1.3.6.1.6.3.1.1.5.3 \
    1.3.6.1.2.1.2.2.1.1.3 i 3 1.3.6.1.2.1.2.2.1.7.3 i 1 1.3.6.1.2.1.2.2.1.8.3 i 2
  wait "$cap"
fi

run() { # run COUNT -> prints "Ir received"
  local n=$1
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n" "$INGEST" snmp "127.0.0.1:$PORT" \
    >"$work/out.$n" 2>"$work/err.$n" &
  local pid=$!
  for _ in $(seq 200); do grep -q "listening on" "$work/err.$n" 2>/dev/null && break; sleep 0.1; done
  [ "$n" -gt 0 ] && send "$n"
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
# Every thread (the receiver is one): `-p PID` alone traces only the main thread.
# shellcheck disable=SC2046
strace -f -c -o "$work/strace" $(for t in /proc/"$ipid"/task/*; do echo "-p ${t##*/}"; done) 2>/dev/null &
spid=$!
sleep 1
send "$COUNT"
sleep 1
kill -INT "$spid"; wait "$spid" || true
kill -TERM "$ipid"; wait "$ipid" || true
calls=$(awk '$NF=="total"{print $(NF-2)}' "$work/strace")
python3 -c "print(f'system calls per trap: {$calls / $COUNT:.2f} (strace -c total {$calls})')"
