#!/usr/bin/env bash
# The engine's figures (issue: links, circuits, reconciler, store, `megaflex run`):
#   1. event -> decision and event -> update-at-the-simulator latency, 1,000
#      links and circuits, zero hold-down (in-process simulator, real UDP,
#      real SQLite): three runs;
#   2. API requests of one reconcile cycle over 1,000 circuits;
#   3. RSS of the real `megaflex run` (release) with 1,000 links and 1,000
#      circuits: idle, and while ingesting syslog at 300,000 msg/s.
# Loopback only. Never run it while something else compiles.
#
#   bash bench/engine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-300000}
COUNT=${COUNT:-3000000}

cargo build --release -q -p megaflex -p megaflex-loadgen
cargo build --release -q -p megaflex-runtime --example engine_bench
BENCH=./target/release/examples/engine_bench
MEGAFLEX=./target/release/megaflex
GEN=./target/release/megaflex-loadgen
work=$(mktemp -d)
cleanup() { pkill -P $$ 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== latency, 1000 links and circuits, zero hold-down (3 runs)"
SKIP_LATENCY=${SKIP_LATENCY:-0}
[ "$SKIP_LATENCY" = 1 ] || for run in 1 2 3; do "$BENCH" latency 1000 120; done

echo "== RSS of megaflex run (release), 1000 links and 1000 circuits"
"$BENCH" files "$work" 1000
"$MEGAFLEX" sim --listen 127.0.0.1:18480 --world "$work/world.json" >"$work/sim.log" 2>&1 &
for _ in $(seq 100); do curl -sf 127.0.0.1:18480/_sim/stats >/dev/null && break; sleep 0.05; done
MEGAPORT_ACCESS_KEY=megaflex-sim-key MEGAPORT_SECRET_KEY=megaflex-sim-secret \
  "$MEGAFLEX" run --config "$work/megaflex.toml" >"$work/run.log" 2>&1 &
pid=$!
for _ in $(seq 200); do curl -sf 127.0.0.1:19190/readyz >/dev/null && break; sleep 0.05; done
sleep 3
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
idle=$(rss_kib "$pid")
echo "idle: VmRSS $((idle / 1024)) MiB (target < 40 MiB: $(python3 -c "print(f'{$idle/1024/40:.2f}')")x of target)"
"$GEN" syslog-udp --target 127.0.0.1:15515 --rate "$RATE" --count "$COUNT" | tail -1
sleep 1
peak=$(hwm_kib "$pid")
received=$(curl -s 127.0.0.1:19190/metrics | grep 'megaflex_source_messages_total.*outcome="received"' | awk '{print $NF}')
echo "ingesting ${RATE}/s: received ${received} of ${COUNT}; peak VmHWM $((peak / 1024)) MiB (target < 64 MiB: $(python3 -c "print(f'{$peak/1024/64:.2f}')")x of target)"
kill -TERM "$pid"; wait "$pid"
