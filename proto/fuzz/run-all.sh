#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 20 s each) from a scratch corpus seeded with
# seeds/<target>. Used by .ci/run; installs cargo-fuzz when it is missing. Exits non-zero on a
# crash, printing the reproducer path libFuzzer reports. Targets come from `cargo fuzz list` (every
# [[bin]] in Cargo.toml, priority_block included), each seeded from seeds/<target>.
set -euo pipefail
seconds="${1:-20}"
cd "$(dirname "$0")"
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: no nightly toolchain; building targets is skipped" >&2
  exit 0
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
targets=$(cargo +nightly fuzz list)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in $targets; do
  mkdir -p "$scratch/$t"
  echo "fuzz: $t for ${seconds}s"
  status=0
  cargo +nightly fuzz run "$t" "$scratch/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 >"$scratch/$t.log" 2>&1 || status=$?
  tail -n 3 "$scratch/$t.log"
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $status); last lines of its log:" >&2
    tail -n 40 "$scratch/$t.log" >&2
    exit "$status"
  fi
done
echo "fuzz: all targets ran clean"
