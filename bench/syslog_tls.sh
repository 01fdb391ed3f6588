#!/usr/bin/env bash
# Syslog over TLS (RFC 5425) side by side with rsyslog's TLS receiver, in one run:
#   megaflex tcp://   one connection, LF framing, as fast as possible (the TCP budget)
#   megaflex tls://   the same messages over TLS (rustls, ring)
#   rsyslog  imtcp    with the gtls driver (GnuTLS), anon auth, one contains-rule
# Same sender for all three (megaflex-loadgen, rustls client, TLS 1.3, batches of
# 256 messages per write). Prints loss and daemon CPU per message
# (utime+stime from /proc/PID/stat), megaflex's TLS cost over TCP, and the
# megaflex/rsyslog TLS ratio. Loopback only. Never run it while something else
# compiles.
#
#   bash bench/syslog_tls.sh              (TLS_COUNT=2000000 by default)
#   TLS_COUNT=2000 BENCH_PROFILE=dev bash bench/syslog_tls.sh   (a quick correctness
#   run on debug binaries; its timings mean nothing)
set -euo pipefail
cd "$(dirname "$0")/.."
TLS_COUNT=${TLS_COUNT:-2000000}
BENCH_PROFILE=${BENCH_PROFILE:-release}

need=()
command -v rsyslogd >/dev/null || need+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || need+=(rsyslog-gnutls)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi

cargo build --profile "$BENCH_PROFILE" -q -p megaflex-loadgen
cargo build --profile "$BENCH_PROFILE" -q -p megaflex-runtime --example ingest
out_dir=${CARGO_TARGET_DIR:-./target}/$([ "$BENCH_PROFILE" = dev ] && echo debug || echo "$BENCH_PROFILE")
GEN=$out_dir/megaflex-loadgen
INGEST=$out_dir/examples/ingest
work=$(mktemp -d)
cleanup() { pkill -P $$ 2>/dev/null || true; [ -f "$work/rsyslog.pid" ] && kill "$(cat "$work/rsyslog.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
us_per() { python3 -c "print(f'{($2)*1e6/$hz/max($1,1):.2f}')"; } # us_per COUNT TICKS
wait_port() { for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; }
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

# A CA and a server certificate for localhost (RSA 2048: what most PKIs issue).
(
  cd "$work"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca -keyout ca.key -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out server.pem -extfile server.ext 2>/dev/null
)

export MEGAFLEX_WATCH=${MEGAFLEX_WATCH-core-b1/TenGigabitEthernet0/1/0}
export MEGAFLEX_TLS_CERT=$work/server.pem MEGAFLEX_TLS_KEY=$work/server.key
start_ingest() { "$INGEST" "$1" "127.0.0.1:$2" >"$work/ingest.out" 2>"$work/ingest.err" & pid=$!; wait_port "$2"; }
stop_ingest() { kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; cat "$work/ingest.out"; }

# megaflex_run KIND PORT GEN_MODE [GEN_ARGS...]: sets m_recv, m_cpu
megaflex_run() {
  local kind=$1 port=$2 mode=$3; shift 3
  start_ingest "$kind" "$port"
  local t0 t1 out
  t0=$(cpu_ticks "$pid")
  $GEN "$mode" --target "127.0.0.1:$port" --count "$TLS_COUNT" --batch 256 "$@" | tee -a "$work/gen.txt"
  sleep 1
  t1=$(cpu_ticks "$pid")
  out=$(stop_ingest)
  m_recv=$(echo "$out" | field received)
  m_class=$(echo "$out" | field classified)
  m_cpu=$(us_per "$m_recv" "$t1 - $t0")
  echo "megaflex $kind: received $m_recv of $TLS_COUNT (loss $((TLS_COUNT - m_recv))), classified $m_class, CPU ${m_cpu} us/msg"
}

echo "== megaflex syslog TCP (the budget), ${TLS_COUNT} messages, one connection"
megaflex_run syslog-tcp 16514 syslog-tcp
tcp_cpu=$m_cpu

echo "== megaflex syslog TLS, ${TLS_COUNT} messages, one connection"
megaflex_run syslog-tls 16515 syslog-tls --ca "$work/ca.pem"
tls_cpu=$m_cpu; tls_recv=$m_recv

echo "== rsyslog imtcp + gtls, ${TLS_COUNT} messages, one connection"
cat >"$work/rsyslog.conf" <<CONF
global(workDirectory="$work"
       DefaultNetstreamDriverCAFile="$work/ca.pem"
       DefaultNetstreamDriverCertFile="$work/server.pem"
       DefaultNetstreamDriverKeyFile="$work/server.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" address="127.0.0.1" port="16516")
if \$msg contains "LINEPROTO-5-UPDOWN" then { action(type="omfile" file="$work/matches.log") stop }
stop
CONF
rsyslogd -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" 2>"$work/rsyslog.err" &
rpid=$!
wait_port 16516
t0=$(cpu_ticks "$rpid")
$GEN syslog-tls --target 127.0.0.1:16516 --count "$TLS_COUNT" --batch 256 --ca "$work/ca.pem" | tee -a "$work/gen.txt"
# rsyslog has no counter to wait on here: give its queue time to drain.
sleep 2
t1=$(cpu_ticks "$rpid")
r_match=$( [ -f "$work/matches.log" ] && wc -l <"$work/matches.log" || echo 0)
r_expect=$(( (TLS_COUNT + 4) / 5 ))
r_cpu=$(us_per "$TLS_COUNT" "$t1 - $t0")
kill "$rpid"; wait "$rpid" 2>/dev/null || true
echo "rsyslog gtls: matched $r_match of $r_expect (loss $((r_expect - r_match)) matches), CPU ${r_cpu} us/msg"

python3 - "$tcp_cpu" "$tls_cpu" "$r_cpu" "$tls_recv" "$TLS_COUNT" <<'PY'
import sys
tcp, tls, rs, got, sent = map(float, sys.argv[1:])
print(f"megaflex TLS cost over TCP: {tls - tcp:+.2f} us/msg ({tls / max(tcp, 1e-9):.2f}x)")
print(f"ratio CPU/msg megaflex TLS / rsyslog TLS: {tls / max(rs, 1e-9):.2f}")
if got != sent:
    sys.exit(f"megaflex TLS lost {sent - got:.0f} messages")
PY
