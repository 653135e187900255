#!/usr/bin/env bash
# Measures the tiered store (`store = "redis"` with `size`) against the
# targets of issue 10 and prints a markdown report: benches/tiered.rs, run
# several times (3 by default), each run starting its own redis-server on a
# free loopback port and two `redis_worker` processes, all killed by the run.
#
# On a shared machine one burst of someone else's load can slow a whole
# measurement, so each figure is the median over the runs of that run's
# criterion median, and each ratio the median of the ratios taken within a
# run, with their ranges over the runs; a target counts as met in a run when
# that run's ratio (or distribution) meets it.
#
#   scripts/bench-tiered.sh                  # build, 3 runs (about 40 s each), report
#   scripts/bench-tiered.sh --runs 5         # more runs
#   scripts/bench-tiered.sh --no-run         # report the runs already on disk
#   scripts/bench-tiered.sh -- --measurement-time 3   # other criterion options
#   TIERED_INVALIDATIONS=200 scripts/bench-tiered.sh  # invalidations of each kind per run (1000)
#
# Needs redis-server, redis-cli and jq.
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
((${#criterion_args[@]})) || criterion_args=(--warm-up-time 1 --measurement-time 2)

target=${CARGO_TARGET_DIR:-target}
home=${CRITERION_HOME:-$target/criterion}
out=$target/tiered-bench
mkdir -p "$out"
# One line per run, group and function: "run group function median_ns".
samples=$out/samples.txt
# The bench's `tiered-bench:` lines, each after its run's number.
lines=$out/lines.txt
groups=(tiered_hit_sync_1t tiered_hit_async_1t tiered_tasks_64t)
bench_command="cargo bench -p memocache-benches --features redis --bench tiered -- ${criterion_args[*]}"

median() { jq -r '.median.point_estimate' "$home/$1/$2/new/estimates.json"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if ((run)); then
  for tool in redis-server redis-cli jq; do
    command -v "$tool" >/dev/null || { echo "bench-tiered: $tool is not on PATH" >&2; exit 1; }
  done
  cargo build --release -p memocache-tests --features redis --bin redis_worker >&2
  cargo bench -p memocache-benches --features redis --bench tiered --no-run >&2
  : >"$samples"
  : >"$lines"
  started=$(date +%s)
  for ((r = 1; r <= runs; r++)); do
    echo "bench-tiered: run $r of $runs: $bench_command" >&2
    cargo bench -p memocache-benches --features redis --bench tiered -- "${criterion_args[@]}" >"$out/run-$r.txt"
    for group in "${groups[@]}"; do
      for dir in "$home/$group"/*/; do
        name=$(basename "$dir")
        [[ $name == report ]] && continue
        echo "$r $group $name $(median "$group" "$name")" >>"$samples"
      done
    done
    sed -n "s/^tiered-bench: /$r /p" "$out/run-$r.txt" >>"$lines"
  done
  took=$(($(date +%s) - started))
fi

revision=$(git describe --always --dirty 2>/dev/null || echo unknown)
if ((run)); then
  load="load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after; $runs runs in $took s"
else
  load="results already on disk"
fi
echo "## Tiered store benchmarks ($revision, $(nproc) cores, $load)"
echo
echo "Each run: \`$bench_command\` (after \`cargo build --release -p memocache-tests --features redis --bin redis_worker\`)."

awk -v samples="$samples" '
  function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
  function med(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  # "median [min-max]" of the n values in a, printed with format f; one value alone.
  function spread(a, n, f,   m) {
    if (!n) return "-"
    m = med(a, n)
    return n == 1 ? sprintf(f, m) : sprintf(f " [" f "-" f "]", m, a[1], a[n])
  }
  # How many of the n values of a are at most (sign 1) or at least (sign -1) limit.
  function within(a, n, limit, sign,   i, k) { k = 0; for (i = 1; i <= n; i++) if (sign * a[i] <= sign * limit) k++; return k }
  # Fills v[1..] with the criterion medians of group g, function fn, of every run.
  function values(g, fn, v,   r, k) { k = 0; for (r = 1; r <= nruns; r++) if ((r, g, fn) in ns) v[++k] = ns[r, g, fn]; return k }
  # Fills q with the ratios num/den of criterion medians within a run.
  function ratios(g, num, den, q,   r, k) {
    k = 0
    for (r = 1; r <= nruns; r++) if ((r, g, num) in ns && (r, g, den) in ns) q[++k] = ns[r, g, num] / ns[r, g, den]
    return k
  }
  # Fills v with field i of the paired line of group g, of every run.
  function paired(g, i, v,   r, k) { k = 0; for (r = 1; r <= nruns; r++) if ((r, g) in pair) { split(pair[r, g], f, " "); v[++k] = f[i] }; return k }
  FILENAME == samples { ns[$1, $2, $3] = $4; if ($1 > nruns) nruns = $1; next }
  $2 == "paired" { pair[$1, $3] = $0; next }
  $2 == "remote" { remote[$3] = remote[$3] " " $5 ($6 == "local" ? "" : " (not all local after)"); next }
  $2 == "redis_only" { coalesced[++ncoal] = sprintf("%.1f%%", 100 * (1 - $6 / $4)); rerr += $8; next }
  $2 == "slowest" {
    slow[$3] = slow[$3] sprintf("%s run %d: %.1f ms (%s%s)", slow[$3] == "" ? "" : ";", $1, $5, $4, $6 == "-" ? "" : sprintf(", Redis answered the change after %.1f ms", $6))
    next
  }
  $2 == "invalidation" {
    key = $3 SUBSEP $4
    if (!(key in seen)) { seen[key]; order[++nkeys] = key }
    count[key] += $5
    k = ++nrun[key]
    for (i = 6; i <= 10; i++) stat[key, i, k] = $i
    next
  }
  END {
    if (!nruns) { print "\nno runs on disk: run without --no-run"; exit }
    # 1. The local hit.
    print "\n### 1. Tiered hit served locally vs the memory store (1024 warm keys, size 4096, ns per call)\n"
    print "Median over the runs [range over the runs]. Criterion: each function timed for 2 s, one after the other. Paired: the three in turn in slices of 20 000 calls, 300 rounds; the ratio is the median of the per-round ratios.\n"
    print "| path | timing | memory (no ttl) | memory_ttl (ttl 10m) | tiered (ttl 10m) | tiered / memory_ttl | tiered / memory | target <= 1.5x memory_ttl | <= 1.5x memory |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    split("tiered_hit_sync_1t tiered_hit_async_1t", hg, " ")
    split("sync `#[cached]`, 1 thread|async `#[async_cached]`, 1 task, 2 workers", hl, "|")
    for (h = 1; h <= 2; h++) {
      g = hg[h]
      n1 = values(g, "memory", a); n2 = values(g, "memory_ttl", b); n3 = values(g, "tiered", c)
      k = ratios(g, "tiered", "memory_ttl", q); k2 = ratios(g, "tiered", "memory", q2)
      if (n3) printf "| %s | criterion | %s | %s | %s | %s | %s | %d of %d runs | %d of %d runs |\n", hl[h], spread(a, n1, "%.2f"), spread(b, n2, "%.2f"), spread(c, n3, "%.2f"), spread(q, k, "%.2fx"), spread(q2, k2, "%.2fx"), within(q, k, 1.5, 1), k, within(q2, k2, 1.5, 1), k2
      n1 = paired(g, 4, a); paired(g, 5, b); paired(g, 6, c); k = paired(g, 7, q); paired(g, 8, q2)
      if (n1) printf "| %s | paired | %s | %s | %s | %s | %s | %d of %d runs | %d of %d runs |\n", hl[h], spread(a, n1, "%.2f"), spread(b, n1, "%.2f"), spread(c, n1, "%.2f"), spread(q, k, "%.3fx"), spread(q2, k, "%.3fx"), within(q, k, 1.5, 1), k, within(q2, k, 1.5, 1), k
    }
    for (g in remote) printf "\nCalls that reached Redis while `%s/tiered` was timed, per run:%s (0: every hit was local).\n", g, remote[g]
    # 2. Throughput.
    g = "tiered_tasks_64t"
    n1 = values(g, "tiered", a); n2 = values(g, "redis_only", b)
    if (n1 && n2) {
      print "\n### 2. Throughput, 64 tokio tasks (2 workers) over 1000 warm keys\n"
      print "| store | ns per round of 64 calls (criterion median) | calls per second |"
      print "|---|---:|---:|"
      for (i = 1; i <= n1; i++) ta[i] = 64e9 / a[i]
      for (i = 1; i <= n2; i++) tb[i] = 64e9 / b[i]
      printf "| tiered | %s | %s |\n", spread(a, n1, "%.0f"), spread(ta, n1, "%.3g")
      printf "| redis_only | %s | %s |\n", spread(b, n2, "%.0f"), spread(tb, n2, "%.3g")
      k = ratios(g, "redis_only", "tiered", q)
      printf "\ntiered / redis_only throughput, within a run: %s; target >= 10x met in %d of %d runs.\n", spread(q, k, "%.0fx"), within(q, k, 10, -1), k
      if (ncoal) { printf "Redis-only calls that joined a lookup of the same key already under way (single-flight), per run:"; for (i = 1; i <= ncoal; i++) printf " %s", coalesced[i]; printf "; Redis errors and timeouts: %d.\n", rerr }
    }
    # 3. Invalidation latency.
    if (nkeys) {
      print "\n### 3. Invalidation latency to another process (ms)\n"
      print "Each cell: the median over the runs [range over the runs] of the per-run statistic; min and max are over all runs.\n"
      print "`redis_worker`: process A (memocache `invalidate`) or this process (raw `DEL`/`SET`) to process B, the worker of tests/redis_processes.rs, which polls every 200 µs. `watcher`: this process (memocache `invalidate`, raw `DEL`/`SET`) to the bench binary started as a watcher, polling every 10 µs. `control echo`: a line written to the watcher and answered at once, after each of its invalidations: no Redis, only the wake-up of another process.\n"
      print "| watcher (poll) | kind | n | min | median | p90 | p99 | max | median < 5 ms | max < 100 ms |"
      print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
      for (j = 1; j <= nkeys; j++) {
        key = order[j]; split(key, w, SUBSEP); k = nrun[key]
        for (i = 6; i <= 10; i++) { delete v; for (r = 1; r <= k; r++) v[r] = stat[key, i, r]; sort(v, k); lo[i] = v[1]; hi[i] = v[k]; cell[i] = spread(v, k, "%.3f") }
        delete v; for (r = 1; r <= k; r++) v[r] = stat[key, 7, r]; mmet = within(v, k, 5, 1)
        delete v; for (r = 1; r <= k; r++) v[r] = stat[key, 10, r]; xmet = within(v, k, 100, 1)
        poll = w[1] == "watcher" ? "10 µs" : w[1] == "redis_worker" ? "200 µs" : "no Redis, no poll"
        kind = w[2] == "all" ? "**all**" : w[2]
        mtxt = sprintf("%d of %d runs", mmet, k); xtxt = sprintf("%d of %d runs", xmet, k)
        if (w[1] == "control") mtxt = xtxt = "(not a target)"
        printf "| %s (%s) | %s | %d | %.3f | %s | %s | %s | %.3f | %s | %s |\n", w[1], poll, kind, count[key], lo[6], cell[7], cell[8], cell[9], hi[10], mtxt, xtxt
      }
      for (w2 in slow) printf "\nThe 3 slowest to `%s` in each run:%s.\n", w2, slow[w2]
    }
  }' "$samples" "$lines"
