#!/usr/bin/env bash
# Event sources side by side with the established daemons, in one run:
#   syslog UDP   megaflex vs rsyslog (imudp, 8 MiB buffer, one contains-rule)  at 300k msg/s
#   SNMP v2c     megaflex at 50k traps/s vs snmptrapd at 8k traps/s (its loss-free rate)
#   syslog TCP   megaflex vs rsyslog (imtcp), one connection, LF framing, as fast as possible
#   webhook      megaflex Alertmanager posts with wrk -t2 -c16
# Prints rate, loss and daemon CPU per message (utime+stime from /proc/PID/stat),
# and the ratios. Loopback only. Never run it while something else compiles.
#
#   bash bench/sources.sh
set -euo pipefail
cd "$(dirname "$0")/.."
UDP_RATE=${UDP_RATE:-300000}
UDP_COUNT=${UDP_COUNT:-3000000}
SNMP_RATE=${SNMP_RATE:-50000}
SNMP_COUNT=${SNMP_COUNT:-500000}
SNMPTRAPD_RATE=${SNMPTRAPD_RATE:-8000}
SNMPTRAPD_COUNT=${SNMPTRAPD_COUNT:-80000}
TCP_COUNT=${TCP_COUNT:-2000000}

need=()
command -v rsyslogd >/dev/null || need+=(rsyslog)
command -v snmptrapd >/dev/null || need+=(snmptrapd)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
systemctl stop rsyslog 2>/dev/null || true

cargo build --release -q -p megaflex-loadgen
cargo build --release -q -p megaflex-runtime --example ingest
GEN=./target/release/megaflex-loadgen
INGEST=./target/release/examples/ingest
work=$(mktemp -d)
cleanup() { pkill -P $$ 2>/dev/null || true; [ -f "$work/rsyslog.pid" ] && kill "$(cat "$work/rsyslog.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
us_per() { python3 -c "print(f'{($2)*1e6/$hz/max($1,1):.2f}')"; } # us_per COUNT TICKS
wait_port() { for _ in $(seq 100); do (echo > "/dev/$1/127.0.0.1/$2") 2>/dev/null && return; sleep 0.05; done; }

# The syslog sources watch what the rsyslog rule matches (one link: core-b1's
# TenGigabitEthernet0/1/0), as the daemon does with that link configured:
# every message is parsed and classified, only watched events are forwarded.
export MEGAFLEX_WATCH=${MEGAFLEX_WATCH-core-b1/TenGigabitEthernet0/1/0}
# megaflex ingest: run_ingest KIND PORT -> sets pid
start_ingest() { "$INGEST" "$1" "127.0.0.1:$2" >"$work/ingest.out" 2>"$work/ingest.err" & pid=$!; sleep 0.5; }
# Called inside $(...): not the process's parent, so poll instead of `wait`.
stop_ingest() { kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; cat "$work/ingest.out"; }
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

echo "== syslog UDP, ${UDP_COUNT} messages at ${UDP_RATE}/s"
start_ingest syslog-udp 15514
t0=$(cpu_ticks "$pid")
$GEN syslog-udp --target 127.0.0.1:15514 --rate "$UDP_RATE" --count "$UDP_COUNT" | tee "$work/gen.txt"
sleep 1
t1=$(cpu_ticks "$pid")
out=$(stop_ingest)
m_recv=$(echo "$out" | field received); m_class=$(echo "$out" | field classified)
m_cpu=$(us_per "$m_recv" "$t1 - $t0")
echo "megaflex: received $m_recv of $UDP_COUNT (loss $((UDP_COUNT - m_recv))), classified $m_class, CPU ${m_cpu} us/msg"

cat >"$work/rsyslog.conf" <<CONF
global(workDirectory="$work")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="15515" rcvbufSize="8m")
if \$msg contains "LINEPROTO-5-UPDOWN" then { action(type="omfile" file="$work/matches.log") stop }
stop
CONF
rsyslogd -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" 2>"$work/rsyslog.err" &
rpid=$!
sleep 1
t0=$(cpu_ticks "$rpid")
$GEN syslog-udp --target 127.0.0.1:15515 --rate "$UDP_RATE" --count "$UDP_COUNT" | tee -a "$work/gen.txt"
sleep 2
t1=$(cpu_ticks "$rpid")
r_match=$(wc -l <"$work/matches.log")
r_expect=$(( (UDP_COUNT + 4) / 5 ))
r_cpu=$(us_per "$UDP_COUNT" "$t1 - $t0")
kill "$rpid"; wait "$rpid" 2>/dev/null || true
echo "rsyslog:  matched $r_match of $r_expect (loss $((r_expect - r_match)) matches), CPU ${r_cpu} us/msg"
python3 -c "print(f'ratio CPU/msg megaflex/rsyslog: {float(\"$m_cpu\")/float(\"$r_cpu\"):.2f}')"

echo "== SNMP v2c traps"
start_ingest snmp 11162
t0=$(cpu_ticks "$pid")
$GEN snmp-v2c --target 127.0.0.1:11162 --rate "$SNMP_RATE" --count "$SNMP_COUNT"
sleep 1
t1=$(cpu_ticks "$pid")
out=$(stop_ingest)
s_recv=$(echo "$out" | field received); s_class=$(echo "$out" | field classified)
s_cpu=$(us_per "$s_recv" "$t1 - $t0")
echo "megaflex: received $s_recv of $SNMP_COUNT at ${SNMP_RATE}/s (loss $((SNMP_COUNT - s_recv))), classified $s_class, CPU ${s_cpu} us/trap"

cat >"$work/snmptrapd.conf" <<CONF
authCommunity log public
CONF
snmptrapd -f -n -On -C -c "$work/snmptrapd.conf" -Lf "$work/traps.log" -F "TRAP %a %N\n" 127.0.0.1:11163 2>"$work/snmptrapd.err" &
spid=$!
sleep 1
t0=$(cpu_ticks "$spid")
$GEN snmp-v2c --target 127.0.0.1:11163 --rate "$SNMPTRAPD_RATE" --count "$SNMPTRAPD_COUNT"
sleep 2
t1=$(cpu_ticks "$spid")
st_got=$(grep -c '^TRAP' "$work/traps.log" || true)
st_cpu=$(us_per "$st_got" "$t1 - $t0")
kill "$spid"; wait "$spid" 2>/dev/null || true
echo "snmptrapd: logged $st_got of $SNMPTRAPD_COUNT at ${SNMPTRAPD_RATE}/s, CPU ${st_cpu} us/trap"
python3 -c "print(f'ratio CPU/trap megaflex/snmptrapd: {float(\"$s_cpu\")/float(\"$st_cpu\"):.3f}')"

echo "== syslog TCP, one connection, ${TCP_COUNT} messages as fast as possible"
start_ingest syslog-tcp 15516
$GEN syslog-tcp --target 127.0.0.1:15516 --count "$TCP_COUNT" --batch 256 | tee "$work/tcp-m.txt"
sleep 1
out=$(stop_ingest)
echo "megaflex: received $(echo "$out" | field received) of $TCP_COUNT"
cat >"$work/rsyslog-tcp.conf" <<CONF
global(workDirectory="$work")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="15517")
if \$msg contains "LINEPROTO-5-UPDOWN" then { action(type="omfile" file="$work/tcp-matches.log") stop }
stop
CONF
rsyslogd -n -f "$work/rsyslog-tcp.conf" -i "$work/rsyslog.pid" 2>>"$work/rsyslog.err" &
rpid=$!
sleep 1
$GEN syslog-tcp --target 127.0.0.1:15517 --count "$TCP_COUNT" --batch 256 | tee "$work/tcp-r.txt"
sleep 2
echo "rsyslog: matched $(wc -l <"$work/tcp-matches.log") of $(( (TCP_COUNT + 4) / 5 ))"
kill "$rpid"; wait "$rpid" 2>/dev/null || true
python3 - "$work/tcp-m.txt" "$work/tcp-r.txt" <<'PY'
import sys
rate = lambda f: float(open(f).read().split("rate=")[1].split()[0])
m, r = rate(sys.argv[1]), rate(sys.argv[2])
print(f"TCP rate megaflex {m:.0f}/s vs rsyslog {r:.0f}/s: ratio {m/r:.2f}")
PY

echo "== webhook: Alertmanager posts, wrk -t2 -c16 -d10s"
start_ingest webhook 19180
cat >"$work/am.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = '{"version":"4","groupKey":"g","status":"firing","receiver":"megaflex","commonLabels":{},"alerts":[{"status":"firing","labels":{"alertname":"BneMelPrimaryDown","instance":"core-b1"},"annotations":{},"startsAt":"2026-11-22T10:00:' .. n .. 'Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"1a30ba71cca2921f"}]}'
  return wrk.format(nil, "/alertmanager", nil, body)
end
LUA
wrk -t2 -c16 -d10s -s "$work/am.lua" http://127.0.0.1:19180/alertmanager | tee "$work/wrk.txt"
out=$(stop_ingest)
echo "megaflex webhook: $(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt") posts/s; source counters: $out"
