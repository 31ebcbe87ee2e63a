#!/usr/bin/env bash
# Compares the routing strategies on the scenario suite and prints Markdown tables.
#
#   sim/scenarios/compare.sh [RUNS]        (RUNS: seeds per point, default 5)
#
# Builds tern-sim in release once, then for each scenario runs `tern-sim sweep` with
# `--set router=...` (which sets every group's router, vehicles included) over the strategies
# epidemic, spray-and-wait (L = 8), prophet, direct and first-contact, each with the seeds
# seed, seed + 1, ... seed + RUNS - 1 of the scenario file. Every number is deterministic: the
# same RUNS gives the same tables on any machine and with any number of threads. Each cell is
# the mean over the runs.
#
# Prints one table over scenarios x strategies (delivery probability, latency median and p95,
# overhead ratio, bytes of bundles sent) and one per-class table for overload.toml.
#
# Takes about 90 s of wall time with RUNS = 5 on a 2-core machine (100 runs; plus the release
# build if it is not up to date); most of it is epidemic and PRoPHET on dense-camp.toml and
# overload.toml.
set -euo pipefail

runs="${1:-5}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
routers="epidemic,spray-and-wait:8,prophet,direct,first-contact"
scenarios=(city-districts village-chain dense-camp overload)

command -v jq >/dev/null || { echo "compare.sh: needs jq" >&2; exit 1; }

(cd "$root" && cargo build --release -p tern-sim --quiet)
sim="$root/target/release/tern-sim"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

start=$SECONDS
for s in "${scenarios[@]}"; do
    "$sim" sweep "$here/$s.toml" --set "router=$routers" --runs "$runs" \
        --out "$out/$s" >/dev/null 2>"$out/$s.log" || { cat "$out/$s.log" >&2; exit 1; }
done
elapsed=$((SECONDS - start))

# A metric's mean, formatted; "n/a" when it does not exist in any run.
#   metric SCENARIO ROUTER NAME JQ_FORMAT
metric() {
    jq -r --arg r "$2" --arg m "$3" "
        .points[] | select(.params.router == \$r) | .metrics[\$m]
        | if . == null or .mean == null then \"n/a\" else ($4) end
    " "$out/$1/sweep.json"
}
pct='(.mean * 1000 | round / 10 | tostring) + " %"'
secs='(.mean | round | tostring) + " s"'
ratio='(.mean * 10 | round / 10 | tostring)'
mb='(.mean / 1e6 | round | tostring) + " MB"'

echo "Strategies on the scenario suite: mean of $runs seeds per cell (tern-sim sweep --runs $runs)."
echo
echo "| scenario | strategy | delivery | latency median | latency p95 | overhead ratio | bytes sent | alert delivery |"
echo "|---|---|---|---|---|---|---|---|"
for s in "${scenarios[@]}"; do
    for r in ${routers//,/ }; do
        echo "| $s | $r | $(metric "$s" "$r" delivery_prob "$pct") | $(metric "$s" "$r" latency_med "$secs") | $(metric "$s" "$r" latency_p95 "$secs") | $(metric "$s" "$r" overhead_ratio "$ratio") | $(metric "$s" "$r" bytes_sent "$mb") | $(metric "$s" "$r" alert_delivery_prob "$pct") |"
    done
done

echo
echo "overload.toml per priority class: delivery probability (latency median)."
echo
echo "| strategy | emergency | high | normal | bulk | messages refused at the source |"
echo "|---|---|---|---|---|---|"
for r in ${routers//,/ }; do
    row="| $r"
    for c in emergency high normal bulk; do
        row="$row | $(metric overload "$r" "${c}_delivery_prob" "$pct") ($(metric overload "$r" "${c}_latency_med" "$secs"))"
    done
    echo "$row | $(metric overload "$r" submit_failed '(.mean | round | tostring)') |"
done
echo
echo "($((${#scenarios[@]} * 5 * runs)) runs in ${elapsed} s of wall time on $(nproc) cores.)"
