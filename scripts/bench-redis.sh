#!/usr/bin/env bash
# Runs the Redis bench (benches/redis_hit.rs, feature `redis`) several times
# and prints a markdown report: Redis hits with 64 tasks over 1000 warm keys
# (ops/s, and ratios to raw redis-rs GETs and to `cached` 4.1 taken within
# each run), and the cost of a call while the breaker is open. Each run starts
# its own throwaway redis-server on free loopback ports (never 6379) and kills
# it at the end; needs redis-server and redis-cli on PATH.
#
# Every figure is the median over the runs of each run's median, with the
# range over the runs; each run's own tables follow.
#
#   scripts/bench-redis.sh                 # 3 runs of about 30 s each
#   scripts/bench-redis.sh --runs 5
#   scripts/bench-redis.sh --rounds 40     # samples per peer in each run (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
bench_args=()
while (($#)); do
  case $1 in
    --runs) runs=$2; shift ;;
    --rounds) bench_args+=(--rounds "$2"); shift ;;
    *) echo "usage: $0 [--runs N] [--rounds N]" >&2; exit 2 ;;
  esac
  shift
done
command -v redis-server >/dev/null || { echo "bench-redis.sh needs redis-server on PATH" >&2; exit 1; }

exe=$(cargo bench -p memocache-benches --features redis --bench redis_hit --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.executable != null and .target.name == "redis_hit") | .executable' | tail -1)
[[ -x $exe ]] || { echo "could not build the redis_hit bench" >&2; exit 1; }

out=${CARGO_TARGET_DIR:-target}/bench-redis
rm -rf "$out"
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= runs; r++)); do
  echo "bench-redis: run $r of $runs" >&2
  "$exe" --bench --samples "$out/samples-$r.txt" "${bench_args[@]}" >"$out/run-$r.md"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## memocache Redis benchmarks ($(git describe --always --dirty 2>/dev/null || echo unknown), $(nproc) cores, $(redis-server --version | grep -o 'v=[^ ]*'), load average $load_before before, $load_after after)"
echo
echo "\`scripts/bench-redis.sh --runs $runs${bench_args[*]:+ ${bench_args[*]}}\`: median over $runs runs of each run's median (range over the runs)."

# One line per run and figure: "run section name value".
for ((r = 1; r <= runs; r++)); do
  sed "s/^/$r /" "$out/samples-$r.txt"
done >"$out/samples.txt"

awk '
  function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
  function med(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  # stat(KEY): "median (min-max)" over the runs, with FMT and a SUFFIX.
  function stat(key, fmt, suffix,   n, r, v) {
    n = 0
    for (r = 1; r <= nruns; r++) if ((r, key) in val) v[++n] = val[r, key]
    if (!n) return "-"
    m = med(v, n)
    return sprintf(fmt suffix " (" fmt "-" fmt ")", m, v[1], v[n])
  }
  { val[$1, $2 "/" $3] = $4; if ($1 > nruns) nruns = $1 }
  END {
    print "\n### Redis hits: 64 tasks over 1000 warm keys, 2 workers (ops/s; ratios taken within each run)\n"
    print "| peer | ops/s | / raw_mux | / cached |"
    print "|---|---:|---:|---:|"
    split("raw_mux raw_manager memocache memocache_nosf cached raw_manager_hop raw_manager_far_driver", peers, " ")
    for (p = 1; p <= 7; p++) {
      k = "hits/" peers[p]
      printf "| %s | %s | %s | %s |\n", peers[p], stat(k ".ops", "%.0f", ""), stat(k ".to_raw_mux", "%.2f", "x"), stat(k ".to_cached", "%.2f", "x")
    }
    print "\n### Breaker open: one call at a time (microseconds per call)\n"
    print "| call | median | p99 | median minus the body alone | calls over the body median + 1 ms |"
    print "|---|---:|---:|---:|---:|"
    split("spin.direct spin.memocache fast.direct fast.memocache", calls, " ")
    split("body spinning 1 ms, awaited directly|memocache Redis fn, same body, breaker open|empty body, awaited directly|memocache Redis fn, empty body, breaker open", labels, "|")
    for (c = 1; c <= 4; c++) {
      k = "breaker/" calls[c]
      printf "| %s | %s | %s | %s | %s |\n", labels[c], stat(k ".median_us", "%.1f", " us"), stat(k ".p99_us", "%.1f", " us"), stat(k ".over_us", "%+.1f", " us"), stat(k ".late_pct", "%.1f", "%")
    }
  }' "$out/samples.txt"

for ((r = 1; r <= runs; r++)); do
  echo
  echo "<details><summary>run $r</summary>"
  cat "$out/run-$r.md"
  echo
  echo "</details>"
done
