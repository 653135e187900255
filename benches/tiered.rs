//! The tiered store (`store = "redis"` with `size`) against the targets of
//! issue 10, all in one run against one throwaway `redis-server` that this
//! bench starts on a free loopback port (never the shared 6379) and kills by
//! its pid when done:
//!
//! 1. **Local hit.** 1024 warm `u64` keys in caches of 4096, called in a
//!    random order (the streams of `benches/hit_path.rs`) on 1 thread with
//!    `#[cached]` and on 1 task of a 2-worker tokio runtime with
//!    `#[async_cached]`: the memory store (`memory`: no TTL, as in
//!    `hit_path`; `memory_ttl`: `ttl = "10m"`, the tiered function's options
//!    but the store) against the tiered store (`tiered`, `ttl = "10m"`).
//!    Target: `tiered` at most 1.5x the memory store. Timed twice: criterion
//!    groups (one function after the other, 2 s each), and paired slices
//!    (the three functions in turn, 0.2-1 ms each, 300 times), whose ratio
//!    per slice is taken between functions timed within a millisecond of
//!    each other, so a burst of another process's load moves both sides.
//! 2. **Throughput.** 64 tokio tasks (2 workers) over 1000 warm keys:
//!    `tiered` against the Redis-only store (`redis_only`, the same without
//!    `size`). Criterion's time is that of 64 calls, one per task; target:
//!    `tiered` at least 10x the calls per second of `redis_only`.
//! 3. **Invalidation latency to another process.** For each invalidation a
//!    watching process fills a fresh key (untimed) and polls its local tier
//!    for it, then a key change is sent; the latency runs from just before
//!    the change is sent to when the watcher finds its copy gone, wall clock
//!    against wall clock on one machine. Two watchers:
//!    - `redis_worker`: the worker of tests/redis_processes.rs
//!      (tests/workers/redis_worker.rs), twice: process A runs memocache's
//!      `invalidate` (kind `invalidate`) and process B watches. It polls
//!      every 200 µs (about 0.26 ms with the sleep's overshoot), so its
//!      figures are that coarse, upper bounds rounded up to the next poll.
//!    - `watcher`: this bench binary started again as a process of its own
//!      (`TIERED_BENCH_WATCHER=1`), polling every 10 µs with a timer slack
//!      of 1 µs; the invalidating process is this one (memocache's
//!      `invalidate`).
//!
//!    With either watcher, kinds `del` and `set` are a raw `DEL` or `SET` of
//!    the key from this process through redis-rs: another client, as a
//!    service in another language deleting or updating the key. Target:
//!    median under 5 ms, max under 100 ms.
//!
//!    A control, `control echo`: after each of `watcher`'s invalidations, a
//!    `ping` written to its stdin and answered at once, no Redis on the way:
//!    how long this machine takes to wake a process up, at the same moments.
//!
//! Parts 1 and 2 are criterion groups (`tiered_hit_sync_1t`,
//! `tiered_hit_async_1t`, `tiered_tasks_64t`) plus the paired slices. Part 3
//! is plain code: it wants the distribution of single events (min, median,
//! p90, p99, max), which criterion, timing batches of iterations and
//! reporting their mean per iteration, does not give; each event also needs
//! an untimed fill and a round trip to another process first.
//!
//! ```text
//! cargo build --release -p memocache-tests --features redis --bin redis_worker
//! cargo bench -p memocache-benches --features redis --bench tiered -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! `scripts/bench-tiered.sh` runs it several times and prints the tables.
//! `TIERED_INVALIDATIONS` sets the invalidations of each kind and watcher
//! (1000 under `cargo bench`, 20 under `cargo test -p memocache-benches --benches`). Lines
//! starting with `tiered-bench:` are for the script.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

mod peers;

use std::future::Future;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use memocache::redis::{configure, RedisSettings};
use peers::body;
use redis_server::RedisServer;
use tokio::runtime::Runtime;
use tokio::sync::Barrier;

/// Part 1: the warm keys `0..HIT_KEYS`, in caches of `4096`.
const HIT_KEYS: u64 = 1024;
/// Part 1: rounds of paired slices, and calls per slice (sync, async).
const PAIRED_ROUNDS: usize = 300;
const SYNC_SLICE: u64 = 20_000;
const ASYNC_SLICE: u64 = 20_000;
/// Part 2: the warm keys `0..TASK_KEYS`, spread over `TASKS` tasks.
const TASK_KEYS: u64 = 1000;
const TASKS: usize = 64;
/// Each thread's or task's precomputed random walk over its warm keys.
const STREAM_LEN: usize = 1 << 14;
/// Worker threads of the bench's runtime (the machine has 2 cores).
const WORKERS: usize = 2;
/// Part 3: invalidations of each kind and watcher under `cargo bench`.
const INVALIDATIONS: usize = 1000;
/// Part 3: how often `watcher` looks at its local tier.
const WATCH_POLL: Duration = Duration::from_micros(10);
/// Part 3: how long a watcher waits for an invalidation before saying `kept`.
const WATCH_FOR: Duration = Duration::from_secs(5);
/// How long a watching process may take to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);
/// Set in the environment of this binary started as a watcher.
const WATCHER_VARIABLE: &str = "TIERED_BENCH_WATCHER";

#[memocache::cached(size = 4096)]
fn memory(n: u64) -> u64 {
    body(n)
}

#[memocache::cached(size = 4096, ttl = "10m")]
fn memory_ttl(n: u64) -> u64 {
    body(n)
}

#[memocache::cached(store = "redis", size = 4096, ttl = "10m", namespace = "bench:sync")]
fn tiered(n: u64) -> u64 {
    body(n)
}

#[memocache::async_cached(size = 4096)]
async fn memory_async(n: u64) -> u64 {
    body(n)
}

#[memocache::async_cached(size = 4096, ttl = "10m")]
async fn memory_ttl_async(n: u64) -> u64 {
    body(n)
}

#[memocache::async_cached(store = "redis", size = 4096, ttl = "10m", namespace = "bench:async")]
async fn tiered_async(n: u64) -> u64 {
    body(n)
}

#[memocache::async_cached(store = "redis", size = 4096, ttl = "10m", namespace = "bench:tasks")]
async fn tiered_tasks(n: u64) -> u64 {
    body(n)
}

#[memocache::async_cached(store = "redis", ttl = "10m", namespace = "bench:remote")]
async fn redis_only(n: u64) -> u64 {
    body(n)
}

/// Part 3: the cache of the `watcher` process, invalidated from this one.
#[memocache::async_cached(store = "redis", size = 4096, ttl = "10m", namespace = "bench:watched")]
async fn watched(n: u64) -> u64 {
    body(n)
}

/// Calls to the Redis tier (whatever their outcome) in a cache's stats.
fn remote_calls(stats: memocache::Stats) -> u64 {
    stats
        .remote
        .map_or(0, |r| r.hits + r.misses + r.errors + r.timeouts + r.skipped)
}

/// Polls `done` every 10 ms until it holds or `within` passes.
fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// Connections of `server` with client tracking on.
fn tracking_clients(server: &RedisServer) -> usize {
    let clients = server.cli(&["CLIENT", "LIST"]);
    clients.lines().filter(|l| l.contains("flags=t")).count()
}

/// Waits until `count` connections of `server` track keys, then lets the
/// clearing of the local tiers that tracking's start brings pass.
fn wait_for_tracking(server: &RedisServer, count: usize) {
    let on = eventually(Duration::from_secs(10), || {
        tracking_clients(server) >= count
    });
    assert!(on, "tracking: {}", server.cli(&["CLIENT", "LIST"]));
    std::thread::sleep(Duration::from_millis(200));
}

/// Spawns one task per stream of `keys`, released together by a barrier,
/// each awaiting `call` `iters` times as it cycles through its stream from
/// position `start`. Returns the wall time from the first task's release to
/// the last task's end. The tasks are spawned from outside the workers.
async fn run_tasks<F, Fut>(keys: Arc<[Vec<u64>]>, start: u64, iters: u64, call: F) -> Duration
where
    F: Fn(u64) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(keys.len()));
    let handles: Vec<_> = (0..keys.len())
        .map(|t| {
            let (keys, barrier) = (keys.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let keys = &keys[t];
                let mut at = (start % keys.len() as u64) as usize;
                let began = Instant::now();
                for _ in 0..iters {
                    black_box(call(black_box(keys[at])).await);
                    at += 1;
                    if at == keys.len() {
                        at = 0;
                    }
                }
                (began, Instant::now())
            })
        })
        .collect();
    let mut spans = Vec::with_capacity(handles.len());
    for handle in handles {
        spans.push(handle.await.expect("bench task panicked"));
    }
    let began = spans.iter().map(|s| s.0).min().expect("tasks");
    let ended = spans.iter().map(|s| s.1).max().expect("tasks");
    ended - began
}

/// One async function timed in `group` on the tasks of `keys`.
fn time_async<F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    keys: &Arc<[Vec<u64>]>,
    call: F,
) where
    F: Fn(u64) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    let mut start = 0;
    group.bench_function(name, |b| {
        b.to_async(runtime).iter_custom(|iters| {
            let at = start;
            start += iters;
            run_tasks(keys.clone(), at, iters, call)
        })
    });
}

/// Whether every key of `keys` is held by the local tier now.
fn all_local(held: impl Fn(u64) -> bool, keys: &[u64]) -> bool {
    keys.iter().all(|&key| held(key))
}

/// Prints, for the script, how many calls reached Redis while `name` was
/// timed on keys that were all local before.
fn report_remote(group: &str, name: &str, before: u64, after: u64, local_after: bool) {
    println!(
        "tiered-bench: remote {group} {name} {} {}",
        after - before,
        if local_after { "local" } else { "not-local" }
    );
    if after != before || !local_after {
        println!(
            "warning: {group}/{name}: {} calls reached Redis while timed (local tier held every warm key after: {local_after})",
            after - before
        );
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Times `memory`, `memory_ttl` and `tiered` (peers 0, 1, 2) in turn,
/// `PAIRED_ROUNDS` times, each round in another order; `time(peer, start)`
/// runs a slice and answers its ns per call. Prints the medians over the
/// rounds of each peer's time and of the ratios within a round.
fn paired(group: &str, mut time: impl FnMut(usize, u64) -> f64) {
    let mut ns: [Vec<f64>; 3] = Default::default();
    let (mut to_ttl, mut to_plain) = (Vec::new(), Vec::new());
    let mut start = 0;
    for round in 0..PAIRED_ROUNDS {
        let mut this = [0.0; 3];
        for turn in 0..3 {
            let peer = (round + turn) % 3;
            this[peer] = time(peer, start);
            start += 7919;
        }
        for (peer, ns) in ns.iter_mut().enumerate() {
            ns.push(this[peer]);
        }
        to_ttl.push(this[2] / this[1]);
        to_plain.push(this[2] / this[0]);
    }
    let [memory, memory_ttl, tiered] = ns.map(|mut v| median(&mut v));
    let (to_ttl, to_plain) = (median(&mut to_ttl), median(&mut to_plain));
    println!(
        "\n{group}, paired slices ({PAIRED_ROUNDS} rounds): median ns per call memory {memory:.2}, memory_ttl {memory_ttl:.2}, tiered {tiered:.2}; median ratio tiered / memory_ttl {to_ttl:.3}x, tiered / memory {to_plain:.3}x"
    );
    println!(
        "tiered-bench: paired {group} {memory:.3} {memory_ttl:.3} {tiered:.3} {to_ttl:.4} {to_plain:.4}"
    );
}

/// A memoized `u64 -> u64` function.
type Memoized = fn(u64) -> u64;

/// Part 1, sync: 1 thread, memory against tiered.
fn hit_sync(criterion: &mut Criterion, warm: &[u64]) {
    let keys = vec![peers::random_keys(1, STREAM_LEN, HIT_KEYS)];
    for &key in warm {
        black_box((memory(key), memory_ttl(key), tiered(key)));
    }
    assert!(all_local(|k| TIERED.store().get(&k).is_some(), warm));
    let group_name = "tiered_hit_sync_1t";
    let peers: [(&str, Memoized); 3] = [
        ("memory", memory),
        ("memory_ttl", memory_ttl),
        ("tiered", tiered),
    ];
    let before = remote_calls(TIERED.stats());
    let mut group = criterion.benchmark_group(group_name);
    for (name, call) in peers {
        let mut start = 0;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let elapsed = peers::run_concurrently(&keys, start, iters, &call);
                start += iters;
                elapsed
            })
        });
    }
    group.finish();
    if criterion_measures() {
        paired(group_name, |peer, start| {
            let elapsed = peers::run_concurrently(&keys, start, SYNC_SLICE, &peers[peer].1);
            elapsed.as_nanos() as f64 / SYNC_SLICE as f64
        });
    }
    let local = all_local(|k| TIERED.store().get(&k).is_some(), warm);
    report_remote(
        group_name,
        "tiered",
        before,
        remote_calls(TIERED.stats()),
        local,
    );
}

/// Part 1, async: 1 task, memory against tiered.
fn hit_async(criterion: &mut Criterion, runtime: &Runtime, warm: &[u64]) {
    let keys: Arc<[Vec<u64>]> = vec![peers::random_keys(1, STREAM_LEN, HIT_KEYS)].into();
    runtime.block_on(async {
        for &key in warm {
            black_box(memory_async(key).await);
            black_box(memory_ttl_async(key).await);
            black_box(tiered_async(key).await);
        }
    });
    assert!(all_local(|k| TIERED_ASYNC.store().get(&k).is_some(), warm));
    let group_name = "tiered_hit_async_1t";
    let before = remote_calls(TIERED_ASYNC.stats());
    let mut group = criterion.benchmark_group(group_name);
    time_async(&mut group, runtime, "memory", &keys, memory_async);
    time_async(&mut group, runtime, "memory_ttl", &keys, memory_ttl_async);
    time_async(&mut group, runtime, "tiered", &keys, tiered_async);
    group.finish();
    if criterion_measures() {
        paired(group_name, |peer, start| {
            let keys = keys.clone();
            let elapsed = runtime.block_on(async move {
                match peer {
                    0 => run_tasks(keys, start, ASYNC_SLICE, memory_async).await,
                    1 => run_tasks(keys, start, ASYNC_SLICE, memory_ttl_async).await,
                    _ => run_tasks(keys, start, ASYNC_SLICE, tiered_async).await,
                }
            });
            elapsed.as_nanos() as f64 / ASYNC_SLICE as f64
        });
    }
    let local = all_local(|k| TIERED_ASYNC.store().get(&k).is_some(), warm);
    report_remote(
        group_name,
        "tiered",
        before,
        remote_calls(TIERED_ASYNC.stats()),
        local,
    );
}

/// Part 2: 64 tasks over 1000 warm keys, tiered against Redis-only.
fn tasks(criterion: &mut Criterion, runtime: &Runtime) {
    let warm: Vec<u64> = (0..TASK_KEYS).collect();
    let keys: Arc<[Vec<u64>]> = (0..TASKS)
        .map(|t| peers::random_keys(t as u64 + 100, STREAM_LEN, TASK_KEYS))
        .collect::<Vec<_>>()
        .into();
    runtime.block_on(async {
        for &key in &warm {
            black_box(tiered_tasks(key).await);
            black_box(redis_only(key).await);
        }
    });
    assert!(all_local(|k| TIERED_TASKS.store().get(&k).is_some(), &warm));
    let group_name = "tiered_tasks_64t";
    let mut group = criterion.benchmark_group(group_name);
    group.throughput(Throughput::Elements(TASKS as u64));
    // 100 samples of `redis_only` (about 1 ms a round) take longer than 2 s.
    group.sample_size(50);
    let before = remote_calls(TIERED_TASKS.stats());
    time_async(&mut group, runtime, "tiered", &keys, tiered_tasks);
    let local = all_local(|k| TIERED_TASKS.store().get(&k).is_some(), &warm);
    report_remote(
        group_name,
        "tiered",
        before,
        remote_calls(TIERED_TASKS.stats()),
        local,
    );
    let before = REDIS_ONLY.stats();
    time_async(&mut group, runtime, "redis_only", &keys, redis_only);
    group.finish();
    let after = REDIS_ONLY.stats();
    let remote = |s: memocache::Stats| s.remote.unwrap_or_default();
    println!(
        "tiered-bench: redis_only calls {} remote_calls {} remote_errors {}",
        (after.hits + after.misses) - (before.hits + before.misses),
        remote_calls(after) - remote_calls(before),
        (remote(after).errors + remote(after).timeouts)
            - (remote(before).errors + remote(before).timeouts)
    );
}

/// Whether criterion times for real (`cargo bench`), not once each
/// (`cargo test -p memocache-benches --benches`, or `cargo bench -p memocache-benches -- --test`).
fn criterion_measures() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--test")
}

/// A process that answers `ready`, then `fill ID` with `filled` and `watch ID`
/// with `dropped NANOS` (or `kept`), one line each; killed when dropped.
struct Process {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

/// The `redis_worker` binary (memocache-tests) in this bench's profile directory, or
/// `$REDIS_WORKER`.
fn redis_worker_path() -> PathBuf {
    if let Some(path) = std::env::var_os("REDIS_WORKER") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("the bench binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = dir.join("redis_worker");
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build --release -p memocache-tests --features redis --bin redis_worker` \
         (`cargo test --workspace --all-features` builds it in target/debug)",
        path.display()
    );
    path
}

impl Process {
    fn start(mut command: Command) -> Process {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the process starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut process = Process {
            child,
            stdin,
            lines,
        };
        assert_eq!(process.answer(), "ready");
        process
    }

    /// A `redis_worker` process: a tiered cache in namespace `procs:slow`.
    fn redis_worker(server: &RedisServer) -> Process {
        let mut command = Command::new(redis_worker_path());
        command
            .env("MEMOCACHE_REDIS_URL", server.url())
            .env("WORKER_BODY_MS", "0")
            .env("WORKER_LOCK_TTL_MS", "2000");
        Process::start(command)
    }

    /// This binary as a watcher: the cache `watched`, in `bench:watched`.
    fn watcher(server: &RedisServer) -> Process {
        let mut command = Command::new(std::env::current_exe().expect("this binary"));
        command
            .env(WATCHER_VARIABLE, "1")
            .env("MEMOCACHE_REDIS_URL", server.url());
        Process::start(command)
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("the process reads its input");
        self.stdin.flush().expect("flushed");
    }

    fn answer(&mut self) -> String {
        self.lines
            .recv_timeout(ANSWER_WITHIN)
            .expect("the process answers in time")
    }

    fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.answer()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The time in a `dropped NANOS` or `at NANOS` answer.
fn time_of(answer: &str) -> u128 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no time in {answer:?}"))
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos()
}

/// `main` of this binary started as a watcher: the `redis_worker` protocol
/// for `fill` and `watch`, on the cache `watched`, polling every `WATCH_POLL`;
/// and `ping`, answered at once with `pong NANOS`.
fn watcher_main() {
    // The sleeps of the polling loop (this thread) overshoot by 1 µs, not 50.
    // SAFETY: prctl with PR_SET_TIMERSLACK takes an integer and touches no memory.
    let slack_ns: libc::c_ulong = 1_000;
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, slack_ns, 0, 0, 0) };
    configure(RedisSettings::from_env().timeout(Duration::from_secs(1)))
        .expect("configured before first use");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("ready");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("a line of input");
        let words: Vec<&str> = line.split_whitespace().collect();
        if words == ["ping"] {
            println!("pong {}", now_nanos());
            continue;
        }
        let id: u64 = match words.get(1) {
            Some(id) => id.parse().expect("a number"),
            None => return,
        };
        match words[0] {
            "fill" => {
                // Until held locally: tracking's start clears the local tier once.
                let start = Instant::now();
                loop {
                    assert_eq!(runtime.block_on(watched(id)), body(id));
                    if WATCHED.store().get(&id).is_some() {
                        break;
                    }
                    assert!(start.elapsed() < WATCH_FOR, "{id} is never held locally");
                    std::thread::sleep(Duration::from_millis(1));
                }
                println!("filled");
            }
            "watch" => {
                let start = Instant::now();
                while WATCHED.store().get(&id).is_some() && start.elapsed() < WATCH_FOR {
                    std::thread::sleep(WATCH_POLL);
                }
                match WATCHED.store().get(&id) {
                    None => println!("dropped {}", now_nanos()),
                    Some(_) => println!("kept"),
                }
            }
            other => panic!("unknown command {other}"),
        }
    }
}

/// How an invalidation is made.
#[derive(Clone, Copy)]
enum Kind {
    /// memocache's `invalidate` in another process (a `DEL` underneath).
    Invalidate,
    /// A raw `DEL` of the key by another client (this process, redis-rs).
    Del,
    /// A raw `SET` of the key by another client: an update by another service.
    Set,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Invalidate, Kind::Del, Kind::Set];

    fn name(self) -> &'static str {
        match self {
            Kind::Invalidate => "invalidate",
            Kind::Del => "del",
            Kind::Set => "set",
        }
    }
}

/// The value at quantile `q` of `sorted` (nearest rank; `q = 0` the least).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One invalidation seen by a watcher.
struct Seen {
    kind: Kind,
    /// From just before the change was sent to the watcher finding its copy gone, in ms.
    latency: f64,
    /// From the same moment to Redis's answer to the change (the `DEL` or
    /// `SET`, or the `invalidate` call's return), in ms, when known.
    acked: Option<f64>,
}

/// `count` invalidations of `kind` seen by `watching`, whose cache stores
/// key `id` as `{prefix}:{id}`; `invalidate(id)` runs memocache's
/// `invalidate` in another process and answers when it began and, if it can
/// tell, when it returned. With `echoes`, also times a `ping` to the watcher
/// after each invalidation (into `echoes`).
fn latencies(
    watching: &mut Process,
    raw: &mut redis::Connection,
    prefix: &str,
    kind: Kind,
    ids: std::ops::Range<u64>,
    mut invalidate: impl FnMut(u64) -> (u128, Option<u128>),
    mut echoes: Option<&mut Vec<f64>>,
) -> Vec<Seen> {
    let mut seen = Vec::with_capacity(ids.end.saturating_sub(ids.start) as usize);
    for id in ids {
        let key = format!("{prefix}:{id}");
        assert_eq!(watching.ask(&format!("fill {id}")), "filled");
        watching.send(&format!("watch {id}"));
        let (at, acked) = match kind {
            Kind::Invalidate => invalidate(id),
            Kind::Del => {
                let at = now_nanos();
                let deleted: i64 = redis::cmd("DEL")
                    .arg(&key)
                    .query(raw)
                    .expect("DEL answered");
                assert_eq!(deleted, 1, "{key} was not in Redis");
                (at, Some(now_nanos()))
            }
            Kind::Set => {
                let at = now_nanos();
                let () = redis::cmd("SET")
                    .arg(&key)
                    .arg("changed elsewhere")
                    .query(raw)
                    .expect("SET answered");
                (at, Some(now_nanos()))
            }
        };
        let dropped = watching.answer();
        assert!(
            dropped.starts_with("dropped"),
            "the watcher kept {key} {WATCH_FOR:?} after a {}: {dropped}",
            kind.name()
        );
        let ms = |t: u128| t.saturating_sub(at) as f64 / 1e6;
        seen.push(Seen {
            kind,
            latency: ms(time_of(&dropped)),
            acked: acked.map(ms),
        });
        if let Some(echoes) = echoes.as_deref_mut() {
            let at = now_nanos();
            let pong = watching.ask("ping");
            echoes.push(time_of(&pong).saturating_sub(at) as f64 / 1e6);
        }
    }
    seen
}

/// Part 3: `count` invalidations of each kind to each watcher; prints the
/// distributions.
fn invalidations(server: &RedisServer, runtime: &Runtime, count: usize) {
    let mut raw = server.client().get_connection().expect("a raw connection");
    let count = count as u64;
    let began = Instant::now();
    let mut seen: Vec<(&str, Seen)> = Vec::new();

    // The redis_worker processes: A invalidates, B watches.
    let tracking = tracking_clients(server);
    let (mut a, mut b) = (Process::redis_worker(server), Process::redis_worker(server));
    assert_eq!(a.ask("fill 0"), "filled");
    assert_eq!(b.ask("fill 0"), "filled");
    wait_for_tracking(server, tracking + 2);
    for (k, kind) in Kind::ALL.into_iter().enumerate() {
        let first = (k as u64 + 1) * 1_000_000;
        let series = latencies(
            &mut b,
            &mut raw,
            "procs:slow",
            kind,
            first..first + count,
            |id| (time_of(&a.ask(&format!("invalidate {id}"))), None),
            None,
        );
        seen.extend(series.into_iter().map(|s| ("redis_worker", s)));
    }
    drop((a, b)); // kills both

    // This binary as the watcher; this process invalidates. After each
    // invalidation, a `ping` through the watcher's stdin: how long this
    // machine takes to wake a process up, with no Redis on the way.
    let mut echoes = Vec::new();
    let mut w = Process::watcher(server);
    assert_eq!(w.ask("fill 0"), "filled");
    runtime.block_on(watched(0)); // this process tracks bench:watched too
    wait_for_tracking(server, tracking + 1);
    for (k, kind) in Kind::ALL.into_iter().enumerate() {
        let first = (k as u64 + 1) * 1_000_000;
        let series = latencies(
            &mut w,
            &mut raw,
            "bench:watched",
            kind,
            first..first + count,
            |id| {
                let at = now_nanos();
                runtime.block_on(WATCHED.invalidate(&id));
                (at, Some(now_nanos()))
            },
            Some(&mut echoes),
        );
        seen.extend(series.into_iter().map(|s| ("watcher", s)));
    }
    drop(w);
    echoes.sort_by(f64::total_cmp);

    println!(
        "\ninvalidation latency to another process: {count} invalidations of each kind to each watcher, {:.1} s in all (ms)\n",
        began.elapsed().as_secs_f64()
    );
    println!("| watcher (poll) | kind | n | min | median | p90 | p99 | max |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for watcher in ["redis_worker", "watcher"] {
        let of = |kind: Option<&str>| -> Vec<f64> {
            let mut latencies: Vec<f64> = seen
                .iter()
                .filter(|(w, s)| *w == watcher && kind.is_none_or(|k| s.kind.name() == k))
                .map(|(_, s)| s.latency)
                .collect();
            latencies.sort_by(f64::total_cmp);
            latencies
        };
        for kind in Kind::ALL {
            print_row(watcher, kind.name(), &of(Some(kind.name())));
        }
        let all = of(None);
        print_row(watcher, "all", &all);
        let (median, max) = (quantile(&all, 0.5), all[all.len() - 1]);
        println!(
            "{watcher}: median {median:.3} ms < 5 ms: {}; max {max:.3} ms < 100 ms: {}",
            if median < 5.0 { "met" } else { "NOT met" },
            if max < 100.0 { "met" } else { "NOT met" }
        );
    }
    print_row("control", "echo", &echoes);
    println!("control: a `ping` to the watcher through its stdin, answered at once (no Redis), after each of its invalidations");
    // The slowest, with how long Redis took to answer the change itself:
    // most of the wait before the push could even be sent.
    for watcher in ["redis_worker", "watcher"] {
        let mut slowest: Vec<&Seen> = seen
            .iter()
            .filter(|(w, _)| *w == watcher)
            .map(|(_, s)| s)
            .collect();
        slowest.sort_by(|a, b| b.latency.total_cmp(&a.latency));
        for s in slowest.iter().take(3) {
            let acked = s.acked.map_or("-".to_owned(), |a| format!("{a:.3}"));
            println!(
                "tiered-bench: slowest {watcher} {} {:.3} {acked}",
                s.kind.name(),
                s.latency
            );
        }
    }
}

fn print_row(watcher: &str, kind: &str, sorted: &[f64]) {
    let [min, median, p90, p99, max] = [0.0, 0.5, 0.9, 0.99, 1.0].map(|q| quantile(sorted, q));
    let poll = match watcher {
        "watcher" => "10 µs",
        "redis_worker" => "200 µs",
        _ => "no poll",
    };
    println!(
        "| {watcher} ({poll}) | {kind} | {} | {min:.3} | {median:.3} | {p90:.3} | {p99:.3} | {max:.3} |",
        sorted.len()
    );
    println!(
        "tiered-bench: invalidation {watcher} {kind} {} {min:.4} {median:.4} {p90:.4} {p99:.4} {max:.4}",
        sorted.len()
    );
}

fn main() {
    if std::env::var_os(WATCHER_VARIABLE).is_some() {
        return watcher_main();
    }
    let count = std::env::var("TIERED_INVALIDATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if criterion_measures() {
            INVALIDATIONS
        } else {
            20
        });
    let mut criterion = Criterion::default().configure_from_args();
    let server = RedisServer::start();
    configure(
        RedisSettings::default()
            .url(server.url())
            .timeout(Duration::from_secs(1)),
    )
    .expect("configured before first use");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime");

    // Every Redis cache of parts 1 and 2 once, then tracking on: each new
    // tracked namespace turns tracking on again, which clears every local
    // tier once.
    black_box(tiered(u64::MAX));
    runtime.block_on(async {
        black_box(tiered_async(u64::MAX).await);
        black_box(tiered_tasks(u64::MAX).await);
        black_box(redis_only(u64::MAX).await);
    });
    wait_for_tracking(&server, 1);

    let warm: Vec<u64> = (0..HIT_KEYS).collect();
    hit_sync(&mut criterion, &warm);
    hit_async(&mut criterion, &runtime, &warm);
    tasks(&mut criterion, &runtime);
    invalidations(&server, &runtime, count);
    criterion.final_summary();
}
