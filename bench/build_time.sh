#!/usr/bin/env bash
# Cold release build of the megaflex binary, side by side: BASE_REF against
# NEW_REF (default HEAD), each checked out with `git worktree` into a temp dir
# and built from an empty target directory. Prints wall and CPU (user+sys)
# time, the load before and after, the ten longest units from --timings, and
# the ratios. docs/BENCHMARKS.md ("Build time") has the figures.
#
#   bench/build_time.sh BASE_REF [NEW_REF]
#
#   PARALLEL=1        build both sides at the same time: on a shared machine
#                     both then see the same load (wall time is then no
#                     newcomer's figure, CPU time still is). Default: one
#                     after the other, base first.
#   BUILD_TIME_DIR=D  where the worktrees and target dirs go (default: a new
#                     temp dir); deleted at the end unless KEEP=1.
#   CARGO_FLAGS=...   extra flags for both builds (e.g. "-j 2").
#   PACKAGE=P         build P instead of megaflex (PACKAGE=megaport-types
#                     tries the script itself in a minute).
#
# Sources are fetched before the clocks start (`cargo fetch`): the figure is
# the build, not the network.
set -euo pipefail

base_ref=${1:?usage: bench/build_time.sh BASE_REF [NEW_REF]}
new_ref=${2:-HEAD}
repo=$(git rev-parse --show-toplevel)
dir=${BUILD_TIME_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/megaflex-build-time.XXXXXX")}
mkdir -p "$dir"

cleanup() {
  for side in base new; do
    [ -d "$dir/$side/src" ] && git -C "$repo" worktree remove --force "$dir/$side/src" 2>/dev/null || true
  done
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT

# No compiler cache, no incremental state, nothing from the caller's target.
unset RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER CARGO_TARGET_DIR
export CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never

for side in base new; do
  ref=$base_ref
  [ "$side" = new ] && ref=$new_ref
  rm -rf "$dir/$side"
  mkdir -p "$dir/$side"
  git -C "$repo" worktree add --quiet --detach "$dir/$side/src" "$ref"
  git -C "$dir/$side/src" rev-parse --short=12 HEAD >"$dir/$side/rev"
  (cd "$dir/$side/src" && cargo fetch --locked --quiet)
done

build() {
  local side=$1 out=$dir/$1
  uptime >"$out/load.before"
  # %e wall, %U user, %S system seconds; cargo waits for every rustc and cc,
  # so their CPU time is in %U/%S.
  (cd "$out/src" && /usr/bin/time -f "%e %U %S" -o "$out/time" \
    env CARGO_TARGET_DIR="$out/target" cargo build --release --locked --timings -p "${PACKAGE:-megaflex}" ${CARGO_FLAGS:-} \
    >"$out/build.log" 2>&1) || { echo "$side build failed:"; tail -20 "$out/build.log"; return 1; }
  uptime >"$out/load.after"
}

if [ "${PARALLEL:-0}" = 1 ]; then
  build base & b=$!
  build new & n=$!
  wait "$b"
  wait "$n"
else
  build base
  build new
fi

# The ten longest units (crate build or build-script run) from cargo's
# timing report, which embeds them as `const UNIT_DATA = [...]`.
top_units() {
  python3 - "$1" <<'EOF'
import json, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S)
units = json.loads(m.group(1))
for u in sorted(units, key=lambda u: -u["duration"])[:10]:
    target = u.get("target", "").strip() or "lib"
    print(f"    {u['duration']:7.1f} s  {u['name']} {u['version']} {target}")
EOF
}

summary() {
  local side=$1 out=$dir/$1 wall user sys
  read -r wall user sys <"$out/time"
  echo "$side ($(cat "$out/rev")): wall ${wall} s, CPU $(python3 -c "print(round($user + $sys, 1))") s (user $user, sys $sys)"
  echo "  load before: $(sed 's/.*load average/load average/' "$out/load.before")"
  echo "  load after:  $(sed 's/.*load average/load average/' "$out/load.after")"
  echo "  ten longest units (cargo --timings):"
  top_units "$(ls "$out"/target/cargo-timings/cargo-timing-2*.html | head -1)"
}

echo "cold release build of ${PACKAGE:-megaflex} ($(nproc) CPUs, PARALLEL=${PARALLEL:-0})"
summary base
summary new
read -r bw bu bs <"$dir/base/time"
read -r nw nu ns <"$dir/new/time"
python3 - "$bw" "$bu" "$bs" "$nw" "$nu" "$ns" <<'EOF'
import sys
bw, bu, bs, nw, nu, ns = map(float, sys.argv[1:])
bc, nc = bu + bs, nu + ns
print(f"new/base: wall {nw / bw:.2f} ({(1 - nw / bw) * 100:.0f} % less), CPU {nc / bc:.2f} ({(1 - nc / bc) * 100:.0f} % less)")
EOF
