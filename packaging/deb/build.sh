#!/usr/bin/env bash
# Builds target/debian/megaflex_<version>-1_<arch>.deb with cargo-deb from a
# megaflex binary that is already built, after generating the man page and
# the shell completions with that same binary (`megaflex man`, `megaflex
# completions SHELL`: clap_mangen and clap_complete over the real clap
# definition, so they never drift from the flags).
#
#   packaging/deb/build.sh [PROFILE]
#
# PROFILE: dist (default: the LTO build to ship), release, or debug (CI: the
# binary the tests already built, so packaging costs no second build).
# The binary is built first if it is missing. Extra arguments for cargo-deb
# go in DEB_FLAGS (CI passes --fast).
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=${1:-dist}
case $profile in
  debug) cargo_profile=dev ;;
  release | dist) cargo_profile=$profile ;;
  *) echo "usage: packaging/deb/build.sh [dist|release|debug]" >&2; exit 2 ;;
esac
target=${CARGO_TARGET_DIR:-target}
bin=$target/$profile/megaflex
if [ ! -x "$bin" ]; then
  cargo build --locked --profile "$cargo_profile" -p megaflex
fi

# cargo-deb reads these from target/<profile>/deb/ (the assets in
# crates/megaflex/Cargo.toml say target/release/, which cargo-deb maps to
# the profile it packages).
gen=$target/$profile/deb
mkdir -p "$gen"
"$bin" man | gzip -9n >"$gen/megaflex.1.gz"
"$bin" completions bash >"$gen/megaflex.bash"
"$bin" completions zsh >"$gen/_megaflex"
"$bin" completions fish >"$gen/megaflex.fish"

command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
# shellcheck disable=SC2086 # DEB_FLAGS is a list of flags
cargo deb --locked -p megaflex --no-build --profile "$cargo_profile" ${DEB_FLAGS:-}
