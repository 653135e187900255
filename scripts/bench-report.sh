#!/usr/bin/env bash
# Runs memocache's benchmarks and prints a markdown report: criterion medians
# (from target/criterion/<group>/<peer>/new/estimates.json) with ratios to
# `cached` for the sync (threads) and async (tokio tasks) hit paths and churn,
# then the memory, zipf and stampede tables. Needs jq.
#
#   scripts/bench-report.sh                    # run everything (about 4 minutes), then report
#   scripts/bench-report.sh --no-run           # report the results already on disk (header: current tree)
#   scripts/bench-report.sh -- --measurement-time 5   # other criterion options
set -euo pipefail
cd "$(dirname "$0")/.."

run=1
if [[ ${1:-} == --no-run ]]; then
  run=0
  shift
fi
[[ ${1:-} == -- ]] && shift
criterion_args=("$@")
((${#criterion_args[@]})) || criterion_args=(--warm-up-time 1 --measurement-time 3)

home=${CRITERION_HOME:-${CARGO_TARGET_DIR:-target}/criterion}
mkdir -p "${CARGO_TARGET_DIR:-target}"
tables=${CARGO_TARGET_DIR:-target}/bench-tables.md

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if ((run)); then
  cargo bench --bench hit_path --bench churn --bench async_hit -- "${criterion_args[@]}" >&2
  # The plain-main benches print their markdown tables on stdout.
  { cargo bench --bench memory && cargo bench --bench zipf && cargo bench --bench stampede; } >"$tables"
fi

median() { jq -r '.median.point_estimate' "$home/$1/$2/new/estimates.json" 2>/dev/null; }

revision=$(git describe --always --dirty 2>/dev/null || echo unknown)
load="load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
((run)) || load="results already on disk"
echo "## memocache benchmarks ($revision, $(nproc) cores, $load)"
# ratio_table GROUP UNIT PEER...: the medians of GROUP's PEERs (time per call per
# UNIT: thread or task) with their ratios to `cached`; nothing if `cached` is missing.
ratio_table() {
  local group=$1 unit=$2 base m peer plain ttl
  shift 2
  base=$(median "$group" cached) || return 0
  echo
  echo "### $group (median ns per call per $unit)"
  echo
  echo "| peer | median | ratio to cached |"
  echo "|---|---:|---:|"
  for peer in "$@"; do
    m=$(median "$group" "$peer") || continue
    awk -v p="$peer" -v m="$m" -v b="$base" 'BEGIN { printf "| %s | %.2f ns | %.2fx |\n", p, m, m / b }'
  done
  plain=$(median "$group" memocache) && ttl=$(median "$group" memocache_ttl) &&
    awk -v t="$ttl" -v p="$plain" 'BEGIN { printf "\nmemocache_ttl / memocache: %.2fx\n", t / p }'
  return 0
}
for group in hit_path_1t hit_path_2t churn_1t churn_2t; do
  ratio_table "$group" thread memocache memocache_ttl cached cached_concurrent moka quick_cache mutex_lru
done
# The async hit path: tasks on a tokio runtime with 2 workers (benches/async_hit.rs).
for group in async_hit_1t async_hit_2t; do
  ratio_table "$group" task memocache memocache_ttl cached cached_by_key moka quick_cache
done
[[ -f $tables ]] && cat "$tables"
exit 0
