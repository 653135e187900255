#!/usr/bin/env bash
# Instructions per call on the churn and hit workloads, for memocache and its
# peers, counted by callgrind (valgrind): exact and repeatable on a shared
# machine, where wall times are not. Each figure is the difference between
# runs of 200,000 and 400,000 calls, divided by 200,000, so setup cancels out.
# Hashers are seeded per process, which moves a count by up to about 3%.
# moka is left out: it runs background threads and is slow under valgrind.
#
#   scripts/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "instructions.sh needs valgrind" >&2; exit 1; }

exe=$(cargo bench -p memocache-benches --bench instructions --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.executable != null and .target.name == "instructions") | .executable' | tail -1)
[[ -x $exe ]] || { echo "could not build the instructions bench" >&2; exit 1; }

count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$@" 2>&1 |
    awk '/Collected/ { print $4 }'
}

echo "## instructions per call ($(git describe --always --dirty 2>/dev/null || echo unknown))"
for workload in churn hit; do
  echo
  echo "| $workload | instructions per call | ratio to cached |"
  echo "|---|---:|---:|"
  declare -A per_call=()
  for peer in cached memocache memocache_ttl cached_concurrent quick_cache mutex_lru mutex_lru_flights; do
    short=$(count "$workload" "$peer" 200000)
    long=$(count "$workload" "$peer" 400000)
    per_call[$peer]=$(((long - short) / 200000))
    awk -v p="$peer" -v n="${per_call[$peer]}" -v b="${per_call[cached]}" \
      'BEGIN { printf "| %s | %d | %.2fx |\n", p, n, n / b }'
  done
  unset per_call
done
