#!/usr/bin/env bash
# SNMPv3 authPriv (SHA/AES-128) traps: megaflex vs snmptrapd, CPU per trap in
# one run. One trap is captured from Net-SNMP's snmptrap and sent again COUNT
# times at RATE by a small Python sender (a trap's sender is authoritative:
# repeats within the 150 s window are accepted by both receivers). Daemon
# CPU = utime+stime from /proc/PID/stat. Loopback only; never run it while
# something else compiles.
#
#   bash bench/snmp_v3.sh          # COUNT=100000 RATE=10000, snmptrapd at SNMPTRAPD_RATE=4000
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-100000}
RATE=${RATE:-10000}
SNMPTRAPD_COUNT=${SNMPTRAPD_COUNT:-40000}
SNMPTRAPD_RATE=${SNMPTRAPD_RATE:-4000}
TARGET=${CARGO_TARGET_DIR:-target}
command -v snmptrapd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq snmp snmptrapd >/dev/null; }
cargo build --release -q -p megaflex-runtime --example ingest
INGEST=$TARGET/release/examples/ingest
work=$(mktemp -d)
cleanup() { pkill -P $$ 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
us_per() { python3 -c "print(f'{($2)*1e6/$hz/max($1,1):.2f}')"; }
ENGINE=0x8000000001020304

# Capture one authPriv trap as snmptrap sends it.
python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 11190)); s.settimeout(10)
open('$work/v3trap.bin', 'wb').write(s.recvfrom(65535)[0])" &
cap=$!; sleep 0.3
HOME=$work SNMP_PERSISTENT_DIR=$work MIBS= snmptrap -v 3 -e $ENGINE -u bench -l authPriv \
  -a SHA -A authpass123 -x AES -X privpass123 127.0.0.1:11190 "" 1.3.6.1.6.3.1.1.5.3 \
  1.3.6.1.2.1.2.2.1.1.3 i 3 1.3.6.1.2.1.2.2.1.7.3 i 1 1.3.6.1.2.1.2.2.1.8.3 i 2
wait "$cap"

send() { # send PORT COUNT RATE
  python3 - "$work/v3trap.bin" "$1" "$2" "$3" <<'PY'
import socket, sys, time
data = open(sys.argv[1], "rb").read(); port, n, rate = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); t0 = time.time()
for i in range(n):
    if i % 64 == 0:
        d = t0 + i / rate - time.time()
        if d > 0: time.sleep(d)
    s.sendto(data, ("127.0.0.1", port))
PY
}

echo "== SNMPv3 authPriv (SHA/AES) traps"
MEGAFLEX_SNMP_V3_USER=bench/${ENGINE#0x}/SHA/authpass123/AES/privpass123 \
  "$INGEST" snmp 127.0.0.1:11191 >"$work/ingest.out" 2>"$work/ingest.err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/ingest.err" 2>/dev/null && break; sleep 0.1; done
t0=$(cpu_ticks "$pid")
send 11191 "$COUNT" "$RATE"
sleep 1
t1=$(cpu_ticks "$pid")
kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
m_recv=$(python3 -c "import json; print(json.loads(open('$work/ingest.out').read().strip().splitlines()[-1])['classified'])")
m_cpu=$(us_per "$m_recv" "$t1 - $t0")
echo "megaflex: classified $m_recv of $COUNT at ${RATE}/s, CPU ${m_cpu} us/trap"

cat >"$work/snmptrapd.conf" <<CONF
createUser -e $ENGINE bench SHA authpass123 AES privpass123
authUser log bench priv
CONF
HOME=$work SNMP_PERSISTENT_DIR=$work/persist MIBS= snmptrapd -f -n -On -C -c "$work/snmptrapd.conf" \
  -Lf "$work/traps.log" -F "TRAP %a %N\n" 127.0.0.1:11192 2>"$work/snmptrapd.err" &
spid=$!
sleep 1
t0=$(cpu_ticks "$spid")
send 11192 "$SNMPTRAPD_COUNT" "$SNMPTRAPD_RATE"
sleep 2
t1=$(cpu_ticks "$spid")
st_got=$(grep -c '^TRAP' "$work/traps.log" || true)
st_cpu=$(us_per "$st_got" "$t1 - $t0")
kill "$spid"; wait "$spid" 2>/dev/null || true
echo "snmptrapd: logged $st_got of $SNMPTRAPD_COUNT at ${SNMPTRAPD_RATE}/s, CPU ${st_cpu} us/trap"
python3 -c "print(f'ratio CPU/trap megaflex/snmptrapd (v3 authPriv): {float(\"$m_cpu\")/float(\"$st_cpu\"):.3f}')"
