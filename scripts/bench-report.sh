#!/usr/bin/env bash
# Runs memocache's benchmarks and prints a markdown report: criterion medians
# (from target/criterion/<group>/<peer>/new/estimates.json) with ratios to
# `cached`, then the memory and zipf tables. Needs jq.
#
#   scripts/bench-report.sh                    # run everything (about 2.5 minutes), then report
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
  cargo bench --bench hit_path --bench churn -- "${criterion_args[@]}" >&2
  # The plain-main benches print their markdown tables on stdout.
  { cargo bench --bench memory && cargo bench --bench zipf; } >"$tables"
fi

median() { jq -r '.median.point_estimate' "$home/$1/$2/new/estimates.json" 2>/dev/null; }

revision=$(git describe --always --dirty 2>/dev/null || echo unknown)
load="load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
((run)) || load="results already on disk"
echo "## memocache benchmarks ($revision, $(nproc) cores, $load)"
for group in hit_path_1t hit_path_2t churn_1t churn_2t; do
  base=$(median "$group" cached) || continue
  echo
  echo "### $group (median ns per call per thread)"
  echo
  echo "| peer | median | ratio to cached |"
  echo "|---|---:|---:|"
  for peer in memocache memocache_ttl cached cached_concurrent moka quick_cache mutex_lru; do
    m=$(median "$group" "$peer") || continue
    awk -v p="$peer" -v m="$m" -v b="$base" 'BEGIN { printf "| %s | %.2f ns | %.2fx |\n", p, m, m / b }'
  done
  plain=$(median "$group" memocache) && ttl=$(median "$group" memocache_ttl) &&
    awk -v t="$ttl" -v p="$plain" 'BEGIN { printf "\nmemocache_ttl / memocache: %.2fx\n", t / p }'
done
[[ -f $tables ]] && cat "$tables"
exit 0
