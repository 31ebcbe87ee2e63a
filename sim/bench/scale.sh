#!/usr/bin/env bash
# Scaling table for sim/README.md: random-waypoint walkers at constant density over 24 h,
# for each node count and router, with wall time, events/s and peak RSS.
#   sim/bench/scale.sh [NODES...]            (default: 100 1000 10000)
#   ROUTERS="epidemic spray-and-wait" sim/bench/scale.sh 1000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cargo build --release -q -p tern-sim --manifest-path "$root/Cargo.toml"
bin="$root/target/release/tern-sim"
nodes=("${@:-100 1000 10000}")
read -r -a nodes <<<"${nodes[*]}"
routers=(${ROUTERS:-epidemic spray-and-wait})
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "| hosts | router | area | messages | events | wall | CPU | events/s (CPU) | peak RSS | delivery | bytes sent |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for n in "${nodes[@]}"; do
  # 100 walkers per km², and N/10 messages an hour.
  side=$(awk -v n="$n" 'BEGIN { printf "%.0f", sqrt(n / 100) * 1000 }')
  interval=$(awk -v n="$n" 'BEGIN { printf "%.3fs", 36000 / n }')
  for r in "${routers[@]}"; do
    f="$tmp/scale-$n-$r.toml"
    sed -e "s/NODES/$n/g" -e "s/SIDE/$side/g" -e "s/ROUTER/$r/g" -e "s/INTERVAL/$interval/g" \
      "$here/scale.toml" >"$f"
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$bin" run "$f" >"$tmp/out" 2>"$tmp/err"
    read -r wall user sys rss_kb <"$tmp/time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
    get() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/out"; }
    events=$(get events)
    printf "| %s | %s | %s m | %s | %s | %.1f s | %.1f s | %s | %.0f MB | %s | %s |\n" \
      "$n" "$r" "$side" "$(get created)" "$events" "$wall" "$cpu" \
      "$(awk -v e="$events" -v c="$cpu" 'BEGIN { printf "%.0f k", e / c / 1000 }')" \
      "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')" "$(get delivery_prob)" "$(get bytes_sent)"
  done
done
