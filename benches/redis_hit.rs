//! The Redis store against a throwaway local `redis-server` (never the
//! machine's shared one on 6379), in one run:
//!
//! 1. Hits: 64 tasks of a multi-thread tokio runtime with 2 workers, each
//!    awaiting its own random walk over 1000 warm `u64` keys, in ops/s, for
//!    - `raw_mux`: `GET` of memocache's own keys (the same bytes) on one
//!      redis-rs `MultiplexedConnection` (RESP2), cloned per call: the raw
//!      baseline of issue 9;
//!    - `raw_manager`: the same `GET`s on one `ConnectionManager` speaking
//!      RESP3, the connection memocache itself uses;
//!    - `memocache`: `#[async_cached(store = "redis")]`, no local tier, so every
//!      call is a Redis `GET` (checked in its stats: all remote hits);
//!    - `cached`: `cached` 4.1's `#[concurrent_cached]` on its
//!      `AsyncRedisCache`, built as `redis = true` builds it;
//!    - `raw_manager_hop` (an experiment): `raw_manager`'s `GET`s, each spawned
//!      onto a separate 1-worker runtime under a `tokio::time::timeout` and
//!      awaited through its `JoinHandle`, as memocache's `Link::run` does: what
//!      that hop costs on its own;
//!    - `raw_manager_far_driver` (an experiment): the connection of
//!      `raw_manager_hop` (its driver task on the 1-worker runtime), its
//!      `GET`s awaited by the callers' tasks themselves, with no spawn.
//!
//!    The peers take turns sample by sample (the first one rotating each
//!    round), so machine drift hits all of them; ratios are taken per round.
//! 2. Breaker open: Redis killed, the breaker opened by failing calls (long
//!    cool-down), then the time of one call of a memocache Redis function
//!    whose body spins for 1 ms, next to the body awaited directly, one call
//!    at a time, alternating; plus the same with a body that returns at once.
//!
//! `cargo bench -p memocache-benches --features redis --bench redis_hit` (a plain main; prints
//! markdown tables). After `--`: `--rounds N` (hit samples per peer, default
//! 20), `--samples PATH` (appends one line per figure, for
//! `scripts/bench-redis.sh`).

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

mod peers;

use std::fmt::Write as _;
use std::future::Future;
use std::hint::spin_loop;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memocache::redis::{configure_namespace, RedisSettings};
use memocache::RemoteStats;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{Client, IntoConnectionInfo, ProtocolVersion};
use redis_server::RedisServer;
use tokio::runtime::Runtime;

/// Concurrent tasks of the hit workload.
const TASKS: usize = 64;
/// Warm keys: `0..WARM_KEYS`.
const WARM_KEYS: u64 = 1000;
/// Calls per task per sample: 64 x 400 = 25,600 calls, about 0.1 s.
const CALLS_PER_TASK: usize = 400;
/// Worker threads of the callers' runtime.
const WORKERS: usize = 2;
/// Samples per peer under `cargo bench`, after one warm-up round.
const ROUNDS: usize = 20;
/// Rounds under `cargo test -p memocache-benches --benches` (no `--bench` argument).
const QUICK_ROUNDS: usize = 2;
/// The time the breaker bench's body spins for.
const SPIN: Duration = Duration::from_millis(1);
/// Calls of each kind in the breaker bench (fewer when quick).
const BREAKER_CALLS: usize = 400;

const HIT_NAMESPACE: &str = "bench:hit";
const NOSF_NAMESPACE: &str = "bench:hit-nosf";
const BREAKER_NAMESPACE: &str = "bench:breaker";
const BREAKER_FAST_NAMESPACE: &str = "bench:breaker-fast";

#[memocache::async_cached(store = "redis", ttl = "10m", namespace = "bench:hit")]
async fn memocache_hit(n: u64) -> u64 {
    peers::body(n)
}

/// `memocache_hit` without single-flight: every call is its own `GET`.
#[memocache::async_cached(
    store = "redis",
    ttl = "10m",
    namespace = "bench:hit-nosf",
    single_flight = false
)]
async fn memocache_nosf(n: u64) -> u64 {
    peers::body(n)
}

/// The URL `cached_hit`'s store is built with (set before its first call).
static CACHED_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

// `#[concurrent_cached(redis = true, ttl_secs = 600)]` builds
// `AsyncRedisCache::builder(prefix).ttl(..).refresh_on_hit(false).build()`
// with the URL from `CACHED_REDIS_CONNECTION_STRING`; this is that builder
// with the URL passed in, so the bench sets no environment variable.
#[cached::macros::concurrent_cached(
    ty = "cached::AsyncRedisCache<u64, u64>",
    create = r##"{
        cached::AsyncRedisCache::builder("bench:cached")
            .ttl(std::time::Duration::from_secs(600))
            .refresh_on_hit(false)
            .connection_string(CACHED_URL.get().expect("CACHED_URL set"))
            .build()
            .await
            .expect("cached: AsyncRedisCache")
    }"##,
    map_error = r##"|e| format!("{e:?}")"##
)]
async fn cached_hit(n: u64) -> Result<u64, String> {
    Ok(peers::body(n))
}

/// Spins for `SPIN`: a body of known cost that a timer cannot round up.
fn spin_body(n: u64) -> u64 {
    let end = Instant::now() + SPIN;
    while Instant::now() < end {
        spin_loop();
    }
    peers::body(n)
}

async fn spin_direct(n: u64) -> u64 {
    spin_body(n)
}

#[memocache::async_cached(store = "redis", ttl = "10m", namespace = "bench:breaker")]
async fn memocache_spin(n: u64) -> u64 {
    spin_body(n)
}

async fn fast_direct(n: u64) -> u64 {
    peers::body(n)
}

#[memocache::async_cached(store = "redis", ttl = "10m", namespace = "bench:breaker-fast")]
async fn memocache_fast(n: u64) -> u64 {
    peers::body(n)
}

/// What the run found, printed as markdown and written as sample lines.
#[derive(Default)]
struct Report {
    markdown: String,
    /// `section name value` lines.
    samples: Vec<String>,
}

/// Records one figure as a `section name value` line.
fn sample_line(samples: &mut Vec<String>, section: &str, name: &str, value: f64) {
    samples.push(format!("{section} {name} {value}"));
}

struct Options {
    rounds: usize,
    breaker_calls: usize,
    samples: Option<String>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test -p memocache-benches --benches` does not.
    let full = args.iter().any(|arg| arg == "--bench");
    let mut options = Options {
        rounds: if full { ROUNDS } else { QUICK_ROUNDS },
        breaker_calls: if full { BREAKER_CALLS } else { 20 },
        samples: None,
    };
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                options.rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--rounds N");
            }
            "--samples" => options.samples = Some(args.next().expect("--samples PATH")),
            _ => {}
        }
    }
    options
}

fn main() {
    let options = options();
    let mut report = Report::default();
    let runtime = runtime(WORKERS, "bench-caller");

    let server = RedisServer::start();
    let mut doomed = RedisServer::start();
    eprintln!(
        "redis_hit: redis-server pid {} on port {} (hits), pid {} on port {} (breaker, to be killed)",
        server.pid(),
        server.port(),
        doomed.pid(),
        doomed.port()
    );

    hits(&runtime, &server, options.rounds, &mut report);

    // Configured before first use, then killed: every call fails until the
    // breaker opens, and the cool-down outlasts the bench.
    for namespace in [BREAKER_NAMESPACE, BREAKER_FAST_NAMESPACE] {
        let settings = RedisSettings::default()
            .url(doomed.url())
            .timeout(Duration::from_millis(50))
            .breaker(3, Duration::from_secs(3600));
        configure_namespace(namespace, settings).expect("configured before first use");
    }
    doomed.kill();
    breaker_open(&runtime, options.breaker_calls, &mut report);

    drop(doomed);
    drop(server);

    print!("{}", report.markdown);
    if let Some(path) = options.samples {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("cannot open {path}: {error}"));
        for line in &report.samples {
            writeln!(file, "{line}").expect("write samples");
        }
    }
}

fn runtime(workers: usize, name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A client of `url` speaking RESP3, as memocache's connection does.
fn resp3_client(url: &str) -> Client {
    let info = url.into_connection_info().expect("redis url");
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    Client::open(info.set_redis_settings(settings)).expect("redis client")
}

/// Everything a hit sample needs to call one peer: a cheap clone per task.
trait Peer: Clone + Send + Sync + 'static {
    fn call(&self, n: u64) -> impl Future<Output = ()> + Send + 'static;
}

/// The Redis keys memocache wrote, by key.
type Keys = Arc<Vec<String>>;

#[derive(Clone)]
struct RawMux {
    connection: MultiplexedConnection,
    keys: Keys,
}

impl Peer for RawMux {
    fn call(&self, n: u64) -> impl Future<Output = ()> + Send + 'static {
        let mut connection = self.connection.clone();
        let keys = Arc::clone(&self.keys);
        async move {
            let bytes: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&keys[n as usize])
                .query_async(&mut connection)
                .await
                .expect("raw GET");
            assert!(bytes.is_some(), "raw GET: a warm key was missing");
        }
    }
}

#[derive(Clone)]
struct RawManager {
    connection: ConnectionManager,
    keys: Keys,
}

impl Peer for RawManager {
    fn call(&self, n: u64) -> impl Future<Output = ()> + Send + 'static {
        let mut connection = self.connection.clone();
        let keys = Arc::clone(&self.keys);
        async move {
            let bytes: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&keys[n as usize])
                .query_async(&mut connection)
                .await
                .expect("raw GET");
            assert!(bytes.is_some(), "raw GET: a warm key was missing");
        }
    }
}

/// `RawManager`'s calls, each run as a task of another runtime (one worker,
/// where the connection was made) under a deadline and awaited through its
/// `JoinHandle`: the hop of memocache's `Link::run`, alone.
#[derive(Clone)]
struct RawManagerHop {
    raw: RawManager,
    handle: tokio::runtime::Handle,
}

impl Peer for RawManagerHop {
    fn call(&self, n: u64) -> impl Future<Output = ()> + Send + 'static {
        let call = self.raw.call(n);
        let spawned = self
            .handle
            .spawn(async move { tokio::time::timeout(Duration::from_secs(1), call).await });
        async move {
            spawned
                .await
                .expect("hop task")
                .expect("raw GET within 1 s");
        }
    }
}

#[derive(Clone)]
struct Memocache;

impl Peer for Memocache {
    fn call(&self, n: u64) -> impl Future<Output = ()> + Send + 'static {
        let call = memocache_hit(n);
        async move {
            assert_eq!(call.await, peers::body(n));
        }
    }
}

#[derive(Clone)]
struct MemocacheNoFlights;

impl Peer for MemocacheNoFlights {
    fn call(&self, n: u64) -> impl Future<Output = ()> + Send + 'static {
        let call = memocache_nosf(n);
        async move {
            assert_eq!(call.await, peers::body(n));
        }
    }
}

#[derive(Clone)]
struct Cached;

impl Peer for Cached {
    fn call(&self, n: u64) -> impl Future<Output = ()> + Send + 'static {
        let call = cached_hit(n);
        async move {
            assert_eq!(call.await, Ok(peers::body(n)));
        }
    }
}

/// One sample: every task walks its stream once; returns calls per second.
fn sample<P: Peer>(runtime: &Runtime, peer: &P, streams: &Arc<Vec<Vec<u64>>>) -> f64 {
    runtime.block_on(async {
        let began = Instant::now();
        let tasks: Vec<_> = (0..streams.len())
            .map(|t| {
                let (peer, streams) = (peer.clone(), Arc::clone(streams));
                tokio::spawn(async move {
                    for &n in &streams[t] {
                        peer.call(n).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a caller panicked");
        }
        let calls = streams.iter().map(Vec::len).sum::<usize>();
        calls as f64 / began.elapsed().as_secs_f64()
    })
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn range(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn remote(stats: memocache::Stats) -> RemoteStats {
    stats.remote.expect("a Redis cache has remote stats")
}

const HIT_PEERS: [&str; 7] = [
    "raw_mux",
    "raw_manager",
    "memocache",
    "memocache_nosf",
    "cached",
    "raw_manager_hop",
    "raw_manager_far_driver",
];

fn hits(runtime: &Runtime, server: &RedisServer, rounds: usize, report: &mut Report) {
    let url = server.url();
    for namespace in [HIT_NAMESPACE, NOSF_NAMESPACE] {
        // A deadline no sample comes near, so that every call is a hit.
        let settings = RedisSettings::default()
            .url(url.clone())
            .timeout(Duration::from_secs(1));
        configure_namespace(namespace, settings).expect("configured before first use");
    }
    CACHED_URL.set(url.clone()).expect("set once");

    // Values written first: each key's first call misses, runs the body, writes.
    runtime.block_on(async {
        for n in 0..WARM_KEYS {
            assert_eq!(memocache_hit(n).await, peers::body(n));
            assert_eq!(memocache_nosf(n).await, peers::body(n));
            assert_eq!(cached_hit(n).await, Ok(peers::body(n)));
        }
    });
    let keys: Keys = Arc::new(
        (0..WARM_KEYS)
            .map(|n| {
                MEMOCACHE_HIT
                    .remote_key(&n)
                    .expect("a u64 key has a Redis key")
            })
            .collect(),
    );
    assert_eq!(keys[42], "bench:hit:42");
    let dbsize = server.cli(&["DBSIZE"]);
    assert_eq!(dbsize.trim(), (3 * WARM_KEYS).to_string(), "warm keys");

    let raw_mux = RawMux {
        connection: runtime
            .block_on(
                Client::open(url.as_str())
                    .expect("client")
                    .get_multiplexed_async_connection(),
            )
            .expect("multiplexed connection"),
        keys: Arc::clone(&keys),
    };
    let manager_config = ConnectionManagerConfig::new().set_response_timeout(None);
    let raw_manager = RawManager {
        connection: runtime
            .block_on(ConnectionManager::new_with_config(
                resp3_client(&url),
                manager_config.clone(),
            ))
            .expect("connection manager"),
        keys: Arc::clone(&keys),
    };
    let hop_runtime = runtime_1("bench-hop");
    let hop = RawManagerHop {
        raw: RawManager {
            connection: hop_runtime
                .block_on(ConnectionManager::new_with_config(
                    resp3_client(&url),
                    manager_config,
                ))
                .expect("connection manager"),
            keys: Arc::clone(&keys),
        },
        handle: hop_runtime.handle().clone(),
    };

    let streams: Arc<Vec<Vec<u64>>> = Arc::new(
        (0..TASKS)
            .map(|t| peers::random_keys(t as u64 + 1, CALLS_PER_TASK, WARM_KEYS))
            .collect(),
    );
    let before = remote(MEMOCACHE_HIT.stats());
    let nosf_before = remote(MEMOCACHE_NOSF.stats());
    let mut throughput: Vec<Vec<f64>> = vec![Vec::new(); HIT_PEERS.len()];
    // Round 0 warms every peer up and is not kept.
    for round in 0..=rounds {
        for turn in 0..HIT_PEERS.len() {
            let peer = (turn + round) % HIT_PEERS.len();
            let ops = match peer {
                0 => sample(runtime, &raw_mux, &streams),
                1 => sample(runtime, &raw_manager, &streams),
                2 => sample(runtime, &Memocache, &streams),
                3 => sample(runtime, &MemocacheNoFlights, &streams),
                4 => sample(runtime, &Cached, &streams),
                5 => sample(runtime, &hop, &streams),
                _ => sample(runtime, &hop.raw, &streams),
            };
            if round > 0 {
                throughput[peer].push(ops);
            }
        }
        eprint!(".");
    }
    eprintln!();
    drop(hop);
    hop_runtime.shutdown_background();

    let after = remote(MEMOCACHE_HIT.stats());
    let nosf_after = remote(MEMOCACHE_NOSF.stats());
    let calls = ((rounds + 1) * TASKS * CALLS_PER_TASK) as u64;
    let describe = |name: &str, before: RemoteStats, after: RemoteStats| {
        format!(
            "{name}: {} Redis hits, {} misses, {} errors, {} timeouts, {} skipped over {calls} timed calls",
            after.hits - before.hits,
            after.misses - before.misses,
            after.errors - before.errors,
            after.timeouts - before.timeouts,
            after.skipped - before.skipped,
        )
    };
    let remote_line = describe("memocache", before, after);
    let nosf_line = describe("memocache_nosf", nosf_before, nosf_after);
    for (line, before, after) in [
        (&remote_line, before, after),
        (&nosf_line, nosf_before, nosf_after),
    ] {
        let failed = (after.misses + after.errors + after.timeouts + after.skipped)
            - (before.misses + before.errors + before.timeouts + before.skipped);
        assert_eq!(failed, 0, "every call must be a Redis hit: {line}");
    }
    assert_eq!(nosf_after.hits - nosf_before.hits, calls, "{nosf_line}");
    // With single-flight, a call of a key another task is reading waits for that read.
    let coalesced = calls - (after.hits - before.hits);

    let index = |name: &str| HIT_PEERS.iter().position(|p| *p == name).expect("a peer");
    let ratios_to = |peer: usize, base: usize| -> Vec<f64> {
        throughput[peer]
            .iter()
            .zip(&throughput[base])
            .map(|(p, b)| p / b)
            .collect()
    };
    let (raw, cached) = (index("raw_mux"), index("cached"));
    let Report {
        markdown: md,
        samples,
    } = report;
    let _ = writeln!(
        md,
        "\n### Redis hits: {TASKS} tasks, {WARM_KEYS} warm keys, {WORKERS} workers ({rounds} samples of {} calls per peer, interleaved)\n",
        TASKS * CALLS_PER_TASK
    );
    let _ = writeln!(
        md,
        "| peer | median ops/s | range ops/s | / raw_mux (median, range) | / cached (median, range) |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    for (peer, name) in HIT_PEERS.iter().enumerate() {
        let ops = &throughput[peer];
        let (lo, hi) = range(ops);
        let to_raw = ratios_to(peer, raw);
        let to_cached = ratios_to(peer, cached);
        let (raw_lo, raw_hi) = range(&to_raw);
        let (cached_lo, cached_hi) = range(&to_cached);
        let _ = writeln!(
            md,
            "| {name} | {:.0} | {:.0}-{:.0} | {:.2}x ({:.2}-{:.2}) | {:.2}x ({:.2}-{:.2}) |",
            median(ops),
            lo,
            hi,
            median(&to_raw),
            raw_lo,
            raw_hi,
            median(&to_cached),
            cached_lo,
            cached_hi
        );
        sample_line(samples, "hits", &format!("{name}.ops"), median(ops));
        sample_line(
            samples,
            "hits",
            &format!("{name}.to_raw_mux"),
            median(&to_raw),
        );
        sample_line(
            samples,
            "hits",
            &format!("{name}.to_cached"),
            median(&to_cached),
        );
    }
    let _ = writeln!(
        md,
        "\n{remote_line} (the other {coalesced}, {:.1}%, were calls of a key another task was reading, answered by that read: single-flight)\n\n{nosf_line}",
        100.0 * coalesced as f64 / calls as f64
    );
    sample_line(
        samples,
        "hits",
        "memocache.coalesced_pct",
        100.0 * coalesced as f64 / calls as f64,
    );
}

fn runtime_1(name: &str) -> Runtime {
    runtime(1, name)
}

/// Per-call times of `call`, one call at a time.
async fn time_call<F, Fut>(call: F, n: u64) -> Duration
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = u64>,
{
    let began = Instant::now();
    let value = call(n).await;
    let took = began.elapsed();
    assert_eq!(value, peers::body(n));
    took
}

fn percentile(sorted_us: &[f64], p: f64) -> f64 {
    let at = ((sorted_us.len() - 1) as f64 * p).round() as usize;
    sorted_us[at]
}

fn breaker_open(runtime: &Runtime, calls: usize, report: &mut Report) {
    // Open both breakers (one link, one breaker: the URL is shared): each
    // call's GET and SET fail fast on a refused connection.
    runtime.block_on(async {
        let began = Instant::now();
        while !(remote(MEMOCACHE_SPIN.stats()).breaker_open
            && remote(MEMOCACHE_FAST.stats()).breaker_open)
        {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "the breaker did not open"
            );
            memocache_spin(u64::MAX).await;
            memocache_fast(u64::MAX).await;
        }
    });
    let opened = remote(MEMOCACHE_SPIN.stats());

    let (spin_base, spin_memo, fast_base, fast_memo) = runtime.block_on(async {
        let (mut spin_base, mut spin_memo) = (Vec::new(), Vec::new());
        let (mut fast_base, mut fast_memo) = (Vec::new(), Vec::new());
        for i in 0..calls as u64 {
            let n = i % WARM_KEYS;
            spin_base.push(time_call(spin_direct, n).await);
            spin_memo.push(time_call(memocache_spin, n).await);
        }
        for i in 0..(calls * 10) as u64 {
            let n = i % WARM_KEYS;
            fast_base.push(time_call(fast_direct, n).await);
            fast_memo.push(time_call(memocache_fast, n).await);
        }
        (spin_base, spin_memo, fast_base, fast_memo)
    });
    let closed = remote(MEMOCACHE_SPIN.stats());
    assert!(closed.breaker_open, "the breaker stayed open");
    let skipped = closed.skipped - opened.skipped;

    let Report {
        markdown: md,
        samples,
    } = report;
    let _ = writeln!(
        md,
        "\n### Breaker open: one call at a time, Redis killed, breaker open (cool-down 1 h)\n"
    );
    let _ = writeln!(
        md,
        "| call | calls | median | p90 | p99 | max | median over the body alone | calls over the body's median + 1 ms |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let rows = [
        (
            "body spinning 1 ms, awaited directly",
            "spin.direct",
            &spin_base,
            &spin_base,
        ),
        (
            "memocache Redis fn, same body",
            "spin.memocache",
            &spin_memo,
            &spin_base,
        ),
        (
            "empty body, awaited directly",
            "fast.direct",
            &fast_base,
            &fast_base,
        ),
        (
            "memocache Redis fn, empty body",
            "fast.memocache",
            &fast_memo,
            &fast_base,
        ),
    ];
    for (label, key, times, base) in rows {
        let mut us: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        us.sort_by(f64::total_cmp);
        let base_us: Vec<f64> = base.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        let over = median(&us) - median(&base_us);
        // What the target allows: the body's time plus 1 ms. A preempted
        // call (this machine is shared) can pass it in either column.
        let allowed = median(&base_us) + 1000.0;
        let late = us.iter().filter(|&&t| t > allowed).count();
        let late_pct = 100.0 * late as f64 / us.len() as f64;
        let _ = writeln!(
            md,
            "| {label} | {} | {:.1} us | {:.1} us | {:.1} us | {:.1} us | {:+.1} us | {late} ({late_pct:.1}%) |",
            us.len(),
            median(&us),
            percentile(&us, 0.9),
            percentile(&us, 0.99),
            us[us.len() - 1],
            over
        );
        sample_line(samples, "breaker", &format!("{key}.median_us"), median(&us));
        sample_line(
            samples,
            "breaker",
            &format!("{key}.p99_us"),
            percentile(&us, 0.99),
        );
        sample_line(samples, "breaker", &format!("{key}.over_us"), over);
        sample_line(samples, "breaker", &format!("{key}.late_pct"), late_pct);
    }
    let _ = writeln!(
        md,
        "\nmemocache remote stats while timed: {skipped} operations skipped by the open breaker (3 per call: GET, the lock's SET NX, SET)"
    );
}
