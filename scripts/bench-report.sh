#!/usr/bin/env bash
# Runs memocache's benchmarks and prints a markdown report: criterion medians
# (from target/criterion/<group>/<peer>/new/estimates.json) with ratios to
# `cached` for the sync (threads) and async (tokio tasks) hit paths and churn,
# then the memory, zipf and stampede tables. Needs jq.
#
# The timed benches run several times (3 by default): on a shared machine a
# burst of someone else's load can slow one peer's whole measurement, so each
# table gives the median over the runs of each run's median, and of each run's
# ratio to `cached` (taken within that run), with the range of that ratio.
#
#   scripts/bench-report.sh                    # run everything (about 8 minutes), then report
#   scripts/bench-report.sh --runs 5           # more runs of the timed benches
#   scripts/bench-report.sh --no-run           # report the results already on disk (header: current tree)
#   scripts/bench-report.sh -- --measurement-time 5   # other criterion options
set -euo pipefail
cd "$(dirname "$0")/.."

run=1
runs=3
while (($#)); do
  case $1 in
    --no-run) run=0 ;;
    --runs) runs=$2; shift ;;
    *) break ;;
  esac
  shift
done
[[ ${1:-} == -- ]] && shift
criterion_args=("$@")
((${#criterion_args[@]})) || criterion_args=(--warm-up-time 1 --measurement-time 3)

home=${CRITERION_HOME:-${CARGO_TARGET_DIR:-target}/criterion}
mkdir -p "${CARGO_TARGET_DIR:-target}"
tables=${CARGO_TARGET_DIR:-target}/bench-tables.md
# One line per run, group and peer: "run group peer median_ns".
samples=${CARGO_TARGET_DIR:-target}/bench-samples.txt
timed_groups=(hit_path_1t hit_path_2t churn_1t churn_2t async_hit_1t async_hit_2t)

median() { jq -r '.median.point_estimate' "$home/$1/$2/new/estimates.json" 2>/dev/null; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if ((run)); then
  : >"$samples"
  for ((r = 1; r <= runs; r++)); do
    echo "bench-report: timed run $r of $runs" >&2
    cargo bench -p memocache-benches --bench hit_path --bench churn --bench async_hit -- "${criterion_args[@]}" >&2
    for group in "${timed_groups[@]}"; do
      for dir in "$home/$group"/*/; do
        peer=$(basename "$dir")
        m=$(median "$group" "$peer") && echo "$r $group $peer $m" >>"$samples"
      done
    done
  done
  # The plain-main benches print their markdown tables on stdout.
  { cargo bench -p memocache-benches --bench memory && cargo bench -p memocache-benches --bench zipf && cargo bench -p memocache-benches --bench stampede; } >"$tables"
fi

revision=$(git describe --always --dirty 2>/dev/null || echo unknown)
load="load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
((run)) || load="results already on disk"
echo "## memocache benchmarks ($revision, $(nproc) cores, $load)"
# ratio_table GROUP UNIT PEER...: for GROUP's PEERs, the median over runs of
# the time per call per UNIT (thread or task) and of the ratio to `cached` in
# the same run, with that ratio's range; nothing if `cached` is missing.
ratio_table() {
  local group=$1 unit=$2
  shift 2
  [[ -s $samples ]] || return 0
  awk -v group="$group" -v unit="$unit" -v peers="$*" '
    function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
    function med(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    $2 == group { ns[$1, $3] = $4; if (!($1 in seen)) { seen[$1]; runs[++nruns] = $1 } }
    END {
      for (r = 1; r <= nruns; r++) if (!((runs[r], "cached") in ns)) exit
      if (!nruns) exit
      printf "\n### %s (ns per call per %s, median of %d runs)\n\n", group, unit, nruns
      print "| peer | median | ratio to cached | ratio range |"
      print "|---|---:|---:|---:|"
      n = split(peers, list, " ")
      for (p = 1; p <= n; p++) {
        k = 0
        for (r = 1; r <= nruns; r++) if ((runs[r], list[p]) in ns) {
          k++; t[k] = ns[runs[r], list[p]]; q[k] = ns[runs[r], list[p]] / ns[runs[r], "cached"]
        }
        if (!k) continue
        mt = med(t, k); mq = med(q, k)
        printf "| %s | %.2f ns | %.2fx | %.2f-%.2fx |\n", list[p], mt, mq, q[1], q[k]
        if (list[p] == "memocache") plain = mt
        if (list[p] == "memocache_ttl") ttl = mt
      }
      if (plain && ttl) printf "\nmemocache_ttl / memocache: %.2fx\n", ttl / plain
    }' "$samples"
}
for group in hit_path_1t hit_path_2t churn_1t churn_2t; do
  ratio_table "$group" thread memocache memocache_ttl cached cached_concurrent moka quick_cache mutex_lru mutex_lru_flights
done
# The async hit path: tasks on a tokio runtime with 2 workers (benches/async_hit.rs).
for group in async_hit_1t async_hit_2t; do
  ratio_table "$group" task memocache memocache_ttl cached cached_by_key moka quick_cache
done
[[ -f $tables ]] && cat "$tables"
exit 0
