#!/usr/bin/env bash
# Simulator throughput and memory: `wrk -t2 -c16` against GET /v2/product/{uid},
# side by side with nginx serving the same JSON as a static file, in one run.
#
#   bash bench/sim_http.sh            # needs wrk and nginx (installed if missing)
#
# Prints requests/s for both, the ratio, and the simulator's RSS. Never run it
# while something else compiles: the figures halve.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
SIM_PORT=${SIM_PORT:-18481}
NGINX_PORT=${NGINX_PORT:-18482}
UID_PATH=/v2/product/61a2b3c4-5b6d-44e8-af90-b6c1d2e3f4a5

need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need nginx nginx-light

cargo build --release -q -p megaflex
work=$(mktemp -d)
cleanup() { kill "${sim_pid:-}" 2>/dev/null || true; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

./target/release/megaflex sim --listen "127.0.0.1:$SIM_PORT" --limits off >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$SIM_PORT/_sim/stats" && break; sleep 0.1; done
rss_idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$sim_pid/status")
token=$(curl -s -u megaflex-sim-key:megaflex-sim-secret -X POST "http://127.0.0.1:$SIM_PORT/oauth2/token?grant_type=client_credentials" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$SIM_PORT$UID_PATH" >"$work/vxc.json"
bytes=$(wc -c <"$work/vxc.json")

# nginx: the same body as a static file, same connection count.
mkdir -p "$work/html/v2/product"
cp "$work/vxc.json" "$work/html$UID_PATH"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  server { listen 127.0.0.1:$NGINX_PORT; root $work/html; }
}
CONF
nginx -c "$work/nginx.conf"
sleep 0.3

cat >"$work/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
LUA
rps() { awk '/Requests\/sec/ {print $2}'; }
sim_rps=$(wrk -t2 -c16 -d"$DURATION" -s "$work/auth.lua" "http://127.0.0.1:$SIM_PORT$UID_PATH" | tee "$work/wrk-sim.txt" | rps)
rss_load_kb=$(awk '/VmHWM/ {print $2}' "/proc/$sim_pid/status")
nginx_rps=$(wrk -t2 -c16 -d"$DURATION" "http://127.0.0.1:$NGINX_PORT$UID_PATH" | tee "$work/wrk-nginx.txt" | rps)
non2xx=$(grep -c "Non-2xx" "$work/wrk-sim.txt" || true)

echo "body size:                ${bytes} bytes"
echo "megaflex sim:             ${sim_rps} req/s (wrk -t2 -c16 -d$DURATION)"
echo "nginx static (1 worker):  ${nginx_rps} req/s"
python3 -c "print(f'ratio sim/nginx:          {float(\"$sim_rps\")/float(\"$nginx_rps\"):.2f}')"
echo "sim RSS idle:             $((rss_idle_kb / 1024)) MiB; peak under load $((rss_load_kb / 1024)) MiB"
[ "$non2xx" = "0" ] || { echo "simulator answered non-2xx during the run"; exit 1; }
