#!/usr/bin/env bash
# TCPCLv4 benchmark: two tern nodes on loopback, then two dtn7-rs dtnd 0.21 nodes, same workloads
# (10,000 × 100 B and 100 × 1 MiB, streamed and drained); prints one markdown table on stdout,
# progress on stderr. Arguments go to the bench binary, e.g. `--small 1000 --big 10 --no-dtnd`.
# dtnd is found like the interop tests find it (TERN_DTND, DTN7_BIN_DIR, the CI cache, PATH).
# Takes a few minutes; results vary with what else the machine is doing, so run it on a quiet one.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked --bin tern >&2
cargo build --release --locked -p tern-tests --bin bench_tcpcl >&2
{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2
exec target/release/bench_tcpcl --tern target/release/tern "$@"
