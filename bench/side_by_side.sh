#!/usr/bin/env bash
# One bench script on two commits in one run, alternating base and new so
# both see the same machine: "behaviour unchanged, figures within noise"
# after a restructuring is checked this way.
#
#   bench/side_by_side.sh BASE_REF SCRIPT [ROUNDS]
#   e.g. bench/side_by_side.sh 1e2bd4c sources.sh 2
#
# Each side runs its own copy of bench/SCRIPT (the base's script measures the
# base's code; crate names may differ between the two). The new side is this
# checkout as it is. Outputs are kept in OUT_DIR (default: a temp dir, printed).
#
#   BASE_DIR=D  reuse a base checkout: D/src (worktree) and D/target (its
#               target dir; e.g. what `KEEP=1 BUILD_TIME_DIR=... bench/build_time.sh`
#               left), so the base is not built again.
# Never run it while something else compiles.
set -euo pipefail

base_ref=${1:?usage: bench/side_by_side.sh BASE_REF SCRIPT [ROUNDS]}
script=${2:?usage: bench/side_by_side.sh BASE_REF SCRIPT [ROUNDS]}
rounds=${3:-2}
repo=$(git rev-parse --show-toplevel)
base_dir=${BASE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/megaflex-side.XXXXXX")}
out_dir=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/megaflex-side-out.XXXXXX")}
mkdir -p "$base_dir/target" "$out_dir"

if [ ! -d "$base_dir/src" ]; then
  git -C "$repo" worktree add --quiet --detach "$base_dir/src" "$base_ref"
fi
# The scripts use ./target; point the base's at its own target directory.
[ -e "$base_dir/src/target" ] || ln -s "$base_dir/target" "$base_dir/src/target"
[ -f "$base_dir/src/bench/$script" ] || { echo "bench/$script does not exist at $base_ref" >&2; exit 2; }

echo "side by side: bench/$script, base $(git -C "$base_dir/src" rev-parse --short=12 HEAD) vs new $(git -C "$repo" rev-parse --short=12 HEAD)$(git -C "$repo" diff --quiet || echo ' (with uncommitted changes)'), $rounds rounds; outputs in $out_dir"
for round in $(seq "$rounds"); do
  for side in base new; do
    root=$repo
    [ "$side" = base ] && root=$base_dir/src
    echo "=== round $round, $side: $(uptime | sed 's/.*load average/load average/')"
    (cd "$root" && env -u CARGO_TARGET_DIR bash "bench/$script") 2>&1 | tee "$out_dir/$side.$round.txt"
  done
done
