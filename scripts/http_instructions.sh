#!/usr/bin/env bash
# Instructions per request of each variant of benches/http_layer.rs, counted
# by callgrind: the difference between runs of N and 2N requests, divided by
# N, so that the setup cancels out. Exact and repeatable on a shared machine.
#
# bash scripts/http_instructions.sh [N]   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-5000}"
cargo bench -p memocache-benches --features http --bench http_layer --no-run 2>/dev/null
bench=$(ls -t target/release/deps/http_layer-* | grep -v '\.d$' | head -1)
count() {
    local out
    out=$(mktemp)
    HTTP_LAYER_INSTRUCTIONS="$1:$2" valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" >/dev/null 2>&1
    grep '^summary:' "$out" | awk '{print $2}'
    rm -f "$out"
}
declare -A per
for variant in baseline_constant baseline_route_layer cached_200 cached_304 cached_200_other_tag cached_head; do
    one=$(count "$variant" "$n")
    two=$(count "$variant" $((2 * n)))
    per[$variant]=$(( (two - one) / n ))
    printf '%-22s %8d instructions per request\n' "$variant" "${per[$variant]}"
done
awk -v hit="${per[cached_200]}" -v base="${per[baseline_constant]}" -v nm="${per[cached_304]}" -v same="${per[cached_200_other_tag]}" 'BEGIN {
    printf "cached 200 / baseline: %.2fx (target <= 1.5x)\n", hit / base
    printf "304 / cached 200: %.2fx; 304 / 200 with a request of the same size: %.2fx (target <= 1.0x)\n", nm / hit, nm / same
}'
