#![cfg(feature = "redis")]
//! The Redis store under faults (issue 9, point 7), against real throwaway
//! servers that the tests start, kill, freeze and corrupt: whatever Redis
//! does, every call returns the body's value, nothing panics, failures are
//! counted, and the store comes back to Redis within seconds once it can.
//!
//! Every cache here is remote-only (`store = "redis"`), so every call asks
//! Redis: a call whose body does not run was answered by Redis. Each test
//! starts its own servers and uses caches (namespaces) no other test uses.

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use memocache::redis::{configure_namespace, Bincode, Codec, RedisSettings};
use memocache::{async_cached, cached, Cache, RemoteStats, Stats};
use redis_server::{AclUser, RedisServer};

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// A deadline roomy enough for a loaded 2-core machine, for tests that are
/// not about deadlines.
const ROOMY: Duration = Duration::from_secs(2);

/// How long a test waits for the store to come back to a server.
const RECOVERY: Duration = Duration::from_secs(5);

/// Gives the cache of `namespace` its settings; it must not have been used.
fn configure(namespace: &str, settings: RedisSettings) {
    configure_namespace(namespace, settings).expect("configured before the cache's first use");
}

/// Polls `done` every 10 ms until it holds, and tells how long that took;
/// fails the test if it does not hold within `within`.
fn eventually(what: &str, within: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if done() {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// The counters of a cache's Redis tier.
fn remote(stats: Stats) -> RemoteStats {
    stats.remote.expect("a Redis cache reports remote stats")
}

/// Whether `key` exists, asked by another client.
fn exists(server: &RedisServer, key: &str) -> bool {
    server.cli(&["EXISTS", key]).trim() == "1"
}

/// The bytes under `key`, read by another client.
fn raw_get(server: &RedisServer, key: &str) -> Option<Vec<u8>> {
    let mut connection = server.client().get_connection().expect("raw client");
    redis::cmd("GET")
        .arg(key)
        .query(&mut connection)
        .expect("raw GET")
}

/// Writes `bytes` under `key` with another client.
fn raw_set(server: &RedisServer, key: &str, bytes: &[u8]) {
    let mut connection = server.client().get_connection().expect("raw client");
    redis::cmd("SET")
        .arg(key)
        .arg(bytes)
        .query::<()>(&mut connection)
        .expect("raw SET");
}

/// The number of keys in the server's database.
fn dbsize(server: &RedisServer) -> usize {
    server.cli(&["DBSIZE"]).trim().parse().expect("DBSIZE")
}

/// The number of keys of `namespace`.
fn keys_of(server: &RedisServer, namespace: &str) -> usize {
    let pattern = format!("{namespace}:*");
    server.cli(&["KEYS", &pattern]).lines().count()
}

/// Runs `test` on a thread of its own and fails if it does not end within
/// `within` (a deadlock fails the test instead of hanging the suite).
fn within(limit: Duration, test: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let runner = thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => runner.join().expect("finished"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The test panicked: report its own message.
            if let Err(panic) = runner.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running after {limit:?}: deadlock"),
    }
}

// ---------------------------------------------------------------------------
// Redis down at start-up, then started
// ---------------------------------------------------------------------------

static DOWN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:down")]
fn down_at_start(n: u64) -> u64 {
    DOWN_RUNS.fetch_add(1, SeqCst);
    n * 3
}

#[test]
fn redis_down_at_start_up_serves_every_call_then_is_used_once_started_on_that_port() {
    let mut server = RedisServer::start();
    server.kill();
    assert!(server.try_cli(&["PING"]).is_err(), "nothing listens");
    configure(
        "faults:down",
        RedisSettings::default()
            .url(server.url())
            .timeout(ROOMY)
            .breaker(3, Duration::from_millis(100)),
    );

    for n in 0..50 {
        assert_eq!(down_at_start(n), n * 3);
    }
    assert_eq!(DOWN_RUNS.load(SeqCst), 50, "every call ran its body");
    let stats = DOWN_AT_START.stats();
    let redis = remote(stats);
    assert!(stats.errors > 0 && redis.errors > 0, "{stats:?}");
    assert!(redis.skipped > 0, "the breaker opened: {stats:?}");
    assert_eq!(redis.hits, 0);

    server.restart();
    let key = DOWN_AT_START.remote_key(&7).expect("a u64 has a Redis key");
    let took = eventually("a value reaches the server started late", RECOVERY, || {
        assert_eq!(down_at_start(7), 21);
        exists(&server, &key)
    });
    eprintln!("down at start-up: first value written {took:?} after the server started");

    let (runs, hits) = (DOWN_RUNS.load(SeqCst), remote(DOWN_AT_START.stats()).hits);
    assert_eq!(down_at_start(7), 21);
    assert_eq!(DOWN_RUNS.load(SeqCst), runs, "answered by Redis");
    assert_eq!(remote(DOWN_AT_START.stats()).hits, hits + 1);
}

// ---------------------------------------------------------------------------
// Redis killed under load, then restarted
// ---------------------------------------------------------------------------

/// What both loaded functions return for `n`.
fn loaded_value(n: u64) -> u64 {
    n * 1_000_003 + 17
}

#[cached(store = "redis", ttl = "10m", namespace = "faults:load-sync")]
fn load_sync(n: u64) -> Result<u64, String> {
    Ok(loaded_value(n))
}

#[async_cached(store = "redis", ttl = "10m", namespace = "faults:load-async")]
async fn load_async(n: u64) -> Result<u64, String> {
    tokio::task::yield_now().await;
    Ok(loaded_value(n))
}

/// What the loaded callers saw; calls are counted per kind of caller, sync
/// threads (0) and async tasks (1).
#[derive(Default)]
struct Tally {
    calls: [AtomicUsize; 2],
    wrong: AtomicUsize,
    errors: AtomicUsize,
    stop: AtomicBool,
}

impl Tally {
    fn record(&self, kind: usize, n: u64, got: Result<u64, String>) {
        match got {
            Ok(value) if value == loaded_value(n) => {}
            Ok(_) => {
                self.wrong.fetch_add(1, SeqCst);
            }
            Err(_) => {
                self.errors.fetch_add(1, SeqCst);
            }
        }
        self.calls[kind].fetch_add(1, SeqCst);
    }

    fn total(&self) -> usize {
        self.calls.iter().map(|calls| calls.load(SeqCst)).sum()
    }

    /// Waits until both kinds of callers made `more` calls from now.
    fn wait_for(&self, more: usize, phase: &str) {
        let targets = self.calls.each_ref().map(|calls| calls.load(SeqCst) + more);
        eventually(phase, Duration::from_secs(20), || {
            (0..2).all(|kind| self.calls[kind].load(SeqCst) >= targets[kind])
        });
    }
}

#[test]
fn redis_killed_under_load_costs_no_caller_an_error_or_a_wrong_value_and_is_used_again_once_restarted(
) {
    let mut server = RedisServer::start();
    for namespace in ["faults:load-sync", "faults:load-async"] {
        configure(
            namespace,
            RedisSettings::default()
                .url(server.url())
                .timeout(Duration::from_millis(250))
                .breaker(3, Duration::from_millis(100)),
        );
    }
    let tally = Arc::new(Tally::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..16u64)
        .map(|task| {
            let tally = Arc::clone(&tally);
            runtime.spawn(async move {
                let mut i = task;
                while !tally.stop.load(SeqCst) {
                    let n = (i * 37) % 100;
                    tally.record(1, n, load_async(n).await);
                    i += 1;
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..4u64)
        .map(|thread| {
            let tally = Arc::clone(&tally);
            thread::spawn(move || {
                let mut i = thread;
                while !tally.stop.load(SeqCst) {
                    let n = (i * 41) % 100;
                    tally.record(0, n, load_sync(n));
                    i += 1;
                }
            })
        })
        .collect();

    tally.wait_for(1_000, "calls with Redis up");
    server.kill();
    tally.wait_for(1_000, "calls with Redis dead");
    let failed = |stats: Stats| {
        let redis = remote(stats);
        redis.errors + redis.timeouts + redis.skipped
    };
    let failed_while_down = (failed(LOAD_SYNC.stats()), failed(LOAD_ASYNC.stats()));
    assert!(
        failed_while_down.0 > 0 && failed_while_down.1 > 0,
        "the outage was seen by both caches: {failed_while_down:?}"
    );

    server.restart();
    let hits_at_restart = (
        remote(LOAD_SYNC.stats()).hits,
        remote(LOAD_ASYNC.stats()).hits,
    );
    let took = eventually(
        "values of both caches reach the restarted server and are read back",
        RECOVERY,
        || {
            keys_of(&server, "faults:load-sync") > 0
                && keys_of(&server, "faults:load-async") > 0
                && remote(LOAD_SYNC.stats()).hits > hits_at_restart.0
                && remote(LOAD_ASYNC.stats()).hits > hits_at_restart.1
        },
    );
    eprintln!("killed under load: Redis used again {took:?} after the restart");
    tally.wait_for(200, "calls after the restart");

    tally.stop.store(true, SeqCst);
    for thread in threads {
        thread.join().expect("a loaded thread panicked");
    }
    runtime.block_on(async {
        for task in tasks {
            task.await.expect("a loaded task panicked");
        }
    });
    let calls = tally.total();
    assert_eq!(tally.errors.load(SeqCst), 0, "errors in {calls} calls");
    assert_eq!(tally.wrong.load(SeqCst), 0, "wrong values in {calls} calls");
    eprintln!(
        "killed under load: {calls} calls; sync {:?}; async {:?}",
        LOAD_SYNC.stats(),
        LOAD_ASYNC.stats()
    );
}

// ---------------------------------------------------------------------------
// Redis frozen with SIGSTOP, then resumed
// ---------------------------------------------------------------------------

static FROZEN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:frozen")]
fn frozen(n: u64) -> u64 {
    FROZEN_RUNS.fetch_add(1, SeqCst);
    n + 1_000
}

#[test]
fn redis_frozen_with_sigstop_costs_200_calls_under_3_seconds_and_the_store_recovers_after_sigcont()
{
    let mut server = RedisServer::start();
    // The default settings (a 50 ms deadline, a breaker of 5 failures for 1 s)
    // but for the URL: this is what they promise.
    configure("faults:frozen", RedisSettings::default().url(server.url()));
    let key = |n: u64| FROZEN.remote_key(&n).expect("a u64 has a Redis key");
    eventually("the first value reaches Redis", RECOVERY, || {
        assert_eq!(frozen(0), 1_000);
        exists(&server, &key(0))
    });

    server.pause();
    let start = Instant::now();
    for i in 0..200u64 {
        assert_eq!(frozen(i % 20), i % 20 + 1_000);
    }
    let elapsed = start.elapsed();
    let stats = FROZEN.stats();
    eprintln!("frozen: 200 calls took {elapsed:?}; {stats:?}");
    assert!(
        elapsed < Duration::from_secs(3),
        "200 calls against a frozen Redis took {elapsed:?}"
    );
    assert!(remote(stats).timeouts > 0, "the freeze was seen: {stats:?}");

    server.resume();
    let hits = remote(FROZEN.stats()).hits;
    let took = eventually(
        "values are written and read back after SIGCONT",
        RECOVERY,
        || {
            assert_eq!(frozen(500), 1_500);
            exists(&server, &key(500)) && remote(FROZEN.stats()).hits > hits
        },
    );
    eprintln!("frozen: store recovered {took:?} after SIGCONT");
    let runs = FROZEN_RUNS.load(SeqCst);
    assert_eq!(frozen(500), 1_500);
    assert_eq!(FROZEN_RUNS.load(SeqCst), runs, "answered by Redis");
}

// ---------------------------------------------------------------------------
// The breaker skips a frozen server
// ---------------------------------------------------------------------------

static BREAKER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:breaker")]
fn guarded(n: u64) -> u64 {
    BREAKER_RUNS.fetch_add(1, SeqCst);
    n * 5
}

#[test]
fn once_the_breaker_opens_calls_skip_a_frozen_redis_instead_of_waiting_for_its_deadline() {
    const DEADLINE: Duration = Duration::from_millis(100);
    let mut server = RedisServer::start();
    configure(
        "faults:breaker",
        RedisSettings::default()
            .url(server.url())
            .timeout(DEADLINE)
            .breaker(3, Duration::from_secs(60)),
    );
    let key = GUARDED.remote_key(&0).expect("a u64 has a Redis key");
    eventually("the first value reaches Redis", RECOVERY, || {
        assert_eq!(guarded(0), 0);
        exists(&server, &key)
    });
    assert!(!remote(GUARDED.stats()).breaker_open);

    server.pause();
    let mut calls = 0;
    while !remote(GUARDED.stats()).breaker_open {
        calls += 1;
        assert!(calls <= 3, "3 failures in a row open the breaker");
        assert_eq!(guarded(calls), calls * 5);
    }
    let before = remote(GUARDED.stats());
    let runs = BREAKER_RUNS.load(SeqCst);
    let start = Instant::now();
    for n in 0..100 {
        assert_eq!(guarded(n), n * 5);
    }
    let elapsed = start.elapsed();
    let after = remote(GUARDED.stats());
    eprintln!("breaker: 100 calls took {elapsed:?} with the breaker open; {after:?}");
    assert_eq!(
        BREAKER_RUNS.load(SeqCst),
        runs + 100,
        "every call ran its body"
    );
    assert!(
        after.skipped >= before.skipped + 100,
        "every call skipped Redis: {before:?} -> {after:?}"
    );
    assert_eq!(after.timeouts, before.timeouts, "no call waited for Redis");
    assert!(after.breaker_open);
    assert!(
        elapsed < DEADLINE * 100 / 10,
        "100 calls took {elapsed:?}, near 100 deadlines"
    );
    server.resume();
}

static PROBED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(store = "redis", ttl = "10m", namespace = "faults:cancelled-probe")]
async fn probed(n: u64) -> u64 {
    PROBED_RUNS.fetch_add(1, SeqCst);
    n * 17
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_cancelled_during_the_breakers_probe_does_not_keep_redis_skipped() {
    const COOL_DOWN: Duration = Duration::from_millis(100);
    let mut server = RedisServer::start();
    configure(
        "faults:cancelled-probe",
        RedisSettings::default()
            .url(server.url())
            .timeout(Duration::from_millis(300))
            .breaker(1, COOL_DOWN),
    );
    assert_eq!(probed(1).await, 17);
    assert!(exists(&server, "faults:cancelled-probe:1"));

    server.pause();
    assert_eq!(probed(2).await, 34);
    assert!(remote(PROBED.stats()).breaker_open, "one timeout opens it");
    // Past the cool-down, the next call is the one probe: it waits for the
    // frozen server, and its caller gives up on it (a request timeout).
    tokio::time::sleep(COOL_DOWN + Duration::from_millis(50)).await;
    let cancelled = tokio::time::timeout(Duration::from_millis(20), probed(3)).await;
    assert!(cancelled.is_err(), "the probe waited for the frozen server");

    server.resume();
    let start = Instant::now();
    loop {
        assert_eq!(probed(4).await, 68);
        if exists(&server, "faults:cancelled-probe:4") {
            break;
        }
        assert!(
            start.elapsed() < RECOVERY,
            "Redis still skipped {RECOVERY:?} after SIGCONT: {:?}",
            remote(PROBED.stats())
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "cancelled probe: store recovered {:?} after SIGCONT",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Each cache keeps its own deadline on a shared server
// ---------------------------------------------------------------------------

static PATIENT_RUNS: AtomicUsize = AtomicUsize::new(0);
static HASTY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:patient")]
fn patient(n: u64) -> u64 {
    PATIENT_RUNS.fetch_add(1, SeqCst);
    n
}

#[cached(store = "redis", ttl = "10m", namespace = "faults:hasty")]
fn hasty(n: u64) -> u64 {
    HASTY_RUNS.fetch_add(1, SeqCst);
    n
}

#[test]
fn a_cache_keeps_its_own_deadline_on_a_server_that_another_cache_reached_first() {
    let mut server = RedisServer::start();
    configure(
        "faults:patient",
        RedisSettings::default()
            .url(server.url())
            .timeout(Duration::from_secs(5)),
    );
    configure(
        "faults:hasty",
        RedisSettings::default()
            .url(server.url())
            .timeout(Duration::from_millis(50)),
    );
    // The patient cache makes the connection to the server first.
    assert_eq!(patient(1), 1);
    assert!(exists(&server, "faults:patient:1"));

    server.pause();
    let start = Instant::now();
    assert_eq!(hasty(1), 1);
    let elapsed = start.elapsed();
    server.resume();
    assert_eq!(HASTY_RUNS.load(SeqCst), 1);
    eprintln!("deadline per cache: a call of the 50 ms cache took {elapsed:?} on a frozen server");
    assert!(
        elapsed < Duration::from_secs(1),
        "the 50 ms cache waited {elapsed:?}: it took the other cache's 5 s deadline"
    );
    assert!(remote(HASTY.stats()).timeouts > 0);
}

// ---------------------------------------------------------------------------
// Garbage, truncated, oversized and mistyped values under our keys
// ---------------------------------------------------------------------------

/// Values of the garbage cache are read up to this size.
const GARBAGE_LIMIT: usize = 1024;

static GARBAGE_RUNS: [AtomicUsize; 16] = [const { AtomicUsize::new(0) }; 16];

#[cached(store = "redis", ttl = "10m", namespace = "faults:garbage")]
fn checked(n: u64) -> String {
    GARBAGE_RUNS[n as usize].fetch_add(1, SeqCst);
    format!("value {n}")
}

/// Calls `checked(n)` and checks it returned its own value (the message
/// shows the start of anything else, which may be kilobytes long).
fn assert_served(n: u64, what: &str) {
    let served = checked(n);
    let preview: String = served.chars().take(40).collect();
    assert!(
        served == format!("value {n}"),
        "{what}: served {} bytes: {preview:?}...",
        served.len()
    );
}

/// What another client writes under one of our keys.
enum Foreign {
    /// These bytes, with `SET`.
    Bytes(Vec<u8>),
    /// This command, with the key as its first argument.
    Command(&'static [&'static str]),
}

/// Bytes that look random, from a fixed seed.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn garbage_truncated_oversized_and_mistyped_values_under_our_keys_are_misses_then_overwritten() {
    let server = RedisServer::start();
    configure(
        "faults:garbage",
        RedisSettings::default()
            .url(server.url())
            .timeout(ROOMY)
            .max_value_bytes(GARBAGE_LIMIT)
            // One failure would open it: foreign values must not count as one.
            .breaker(1, Duration::from_secs(60)),
    );
    let key = |n: u64| CHECKED.remote_key(&n).expect("a u64 has a Redis key");
    // A genuine envelope, to cut short and to take the header from.
    assert_eq!(checked(0), "value 0");
    let genuine = raw_get(&server, &key(0)).expect("the value was written");
    assert_eq!(genuine[0], memocache_runtime::FORMAT);
    let header = &genuine[..memocache_runtime::HEADER_LEN];
    let fingerprint = u64::from_le_bytes(genuine[2..10].try_into().unwrap());

    // A real envelope of this cache, but larger than the limit: without the
    // limit it would be served (checked below), with it it is a miss.
    let oversized = memocache_runtime::seal::<Bincode, String>(
        &"x".repeat(2 * GARBAGE_LIMIT),
        fingerprint,
        None,
    )
    .unwrap();
    assert!(
        memocache_runtime::open::<Bincode, String>(&oversized, fingerprint, usize::MAX).is_ok(),
        "the oversized envelope is otherwise valid"
    );
    // A genuine header, then a string of 4 bytes that are not UTF-8.
    let mut undecodable = header.to_vec();
    undecodable.extend_from_slice(&[4, 0xFF, 0xFE, 0xFD, 0xFC]);
    // A genuine envelope with another codec's ID.
    let mut other_codec = genuine.clone();
    other_codec[1] = Bincode::ID.wrapping_add(1);
    let random = noise(64);
    assert_ne!(random[0], memocache_runtime::FORMAT);

    // What another client leaves under key n: bytes, or a key of another type.
    let cases: Vec<(u64, &str, Foreign)> = vec![
        (1, "random bytes", Foreign::Bytes(random)),
        (2, "text", Foreign::Bytes(b"value 2".to_vec())),
        (3, "an empty string", Foreign::Bytes(Vec::new())),
        (
            4,
            "an envelope cut in its payload",
            Foreign::Bytes(genuine[..genuine.len() - 1].to_vec()),
        ),
        (
            5,
            "an envelope cut in its header",
            Foreign::Bytes(genuine[..10].to_vec()),
        ),
        (
            6,
            "a header before an undecodable payload",
            Foreign::Bytes(undecodable),
        ),
        (7, "another codec's envelope", Foreign::Bytes(other_codec)),
        (
            8,
            "an envelope over the size limit",
            Foreign::Bytes(oversized),
        ),
        (
            9,
            "a list (WRONGTYPE)",
            Foreign::Command(&["RPUSH", "a", "b"]),
        ),
        (
            10,
            "a hash (WRONGTYPE)",
            Foreign::Command(&["HSET", "field", "value"]),
        ),
    ];
    for (n, what, foreign) in cases {
        let k = key(n);
        match foreign {
            Foreign::Bytes(bytes) => raw_set(&server, &k, &bytes),
            Foreign::Command(command) => {
                let mut args = vec![command[0], k.as_str()];
                args.extend_from_slice(&command[1..]);
                server.cli(&args);
            }
        }
        let runs = GARBAGE_RUNS[n as usize].load(SeqCst);
        assert_served(n, what);
        assert_eq!(
            GARBAGE_RUNS[n as usize].load(SeqCst),
            runs + 1,
            "{what}: a miss, the body ran"
        );
        let written = raw_get(&server, &k).unwrap_or_else(|| panic!("{what}: not overwritten"));
        assert_eq!(written[0], memocache_runtime::FORMAT, "{what}: overwritten");
        let hits = remote(CHECKED.stats()).hits;
        assert_served(n, what);
        assert_eq!(
            GARBAGE_RUNS[n as usize].load(SeqCst),
            runs + 1,
            "{what}: the overwritten value is a Redis hit"
        );
        assert_eq!(remote(CHECKED.stats()).hits, hits + 1, "{what}");
    }
    let stats = CHECKED.stats();
    eprintln!("garbage: {stats:?}");
    assert!(
        !remote(stats).breaker_open,
        "foreign values, WRONGTYPE included, say nothing about Redis's health"
    );
}

static TOO_LARGE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:too-large")]
fn too_large(n: u64) -> String {
    TOO_LARGE_RUNS.fetch_add(1, SeqCst);
    "y".repeat(n as usize)
}

#[test]
fn a_value_over_the_size_limit_is_returned_but_never_written() {
    let server = RedisServer::start();
    configure(
        "faults:too-large",
        RedisSettings::default()
            .url(server.url())
            .timeout(ROOMY)
            .max_value_bytes(GARBAGE_LIMIT),
    );
    assert_eq!(too_large(2_000).len(), 2_000);
    assert_eq!(too_large(2_000).len(), 2_000);
    assert_eq!(TOO_LARGE_RUNS.load(SeqCst), 2, "never stored, always run");
    assert!(!exists(&server, "faults:too-large:2000"));
    assert!(remote(TOO_LARGE.stats()).errors >= 2);
    // A value within the limit is stored.
    assert_eq!(too_large(10).len(), 10);
    assert!(exists(&server, "faults:too-large:10"));
}

// ---------------------------------------------------------------------------
// A changed version or value type: foreign entries
// ---------------------------------------------------------------------------

static ONE_RUNS: AtomicUsize = AtomicUsize::new(0);
static TWO_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(
    store = "redis",
    ttl = "10m",
    namespace = "faults:version",
    version = 1
)]
fn version_one(n: u64) -> String {
    ONE_RUNS.fetch_add(1, SeqCst);
    format!("one {n}")
}

#[cached(
    store = "redis",
    ttl = "10m",
    namespace = "faults:version",
    version = 2
)]
fn version_two(n: u64) -> String {
    TWO_RUNS.fetch_add(1, SeqCst);
    format!("two {n}")
}

#[test]
fn an_entry_of_another_version_is_a_miss_then_overwritten() {
    let server = RedisServer::start();
    configure(
        "faults:version",
        RedisSettings::default().url(server.url()).timeout(ROOMY),
    );
    assert_eq!(
        VERSION_ONE.remote_key(&5),
        VERSION_TWO.remote_key(&5),
        "one Redis key for both versions"
    );
    let runs = || (ONE_RUNS.load(SeqCst), TWO_RUNS.load(SeqCst));

    assert_eq!(version_one(5), "one 5");
    assert_eq!(version_one(5), "one 5");
    assert_eq!(runs(), (1, 0), "version 1 reads its own entry");
    assert_eq!(version_two(5), "two 5");
    assert_eq!(runs(), (1, 1), "version 2 does not read version 1's entry");
    assert_eq!(version_two(5), "two 5");
    assert_eq!(runs(), (1, 1), "version 2's entry overwrote it");
    assert_eq!(version_one(5), "one 5");
    assert_eq!(runs(), (2, 1), "and version 1 does not read version 2's");
    assert!(!remote(VERSION_ONE.stats()).breaker_open);
}

static TEXT_RUNS: AtomicUsize = AtomicUsize::new(0);
static NUMBER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:type")]
fn as_text(n: u64) -> String {
    TEXT_RUNS.fetch_add(1, SeqCst);
    n.to_string()
}

#[cached(store = "redis", ttl = "10m", namespace = "faults:type")]
fn as_number(n: u64) -> u64 {
    NUMBER_RUNS.fetch_add(1, SeqCst);
    n * 2
}

#[test]
fn an_entry_of_another_value_type_is_a_miss_then_overwritten() {
    let server = RedisServer::start();
    configure(
        "faults:type",
        RedisSettings::default().url(server.url()).timeout(ROOMY),
    );
    assert_eq!(AS_TEXT.remote_key(&7), AS_NUMBER.remote_key(&7));
    let runs = || (TEXT_RUNS.load(SeqCst), NUMBER_RUNS.load(SeqCst));

    // bincode's "7" is [1, b'7'], which a u64 would decode as 1.
    assert_eq!(as_text(7), "7");
    assert_eq!(as_number(7), 14);
    assert_eq!(runs(), (1, 1), "a u64 does not read a String's entry");
    assert_eq!(as_number(7), 14);
    assert_eq!(runs(), (1, 1), "the u64's entry overwrote it");
    assert_eq!(as_text(7), "7");
    assert_eq!(runs(), (2, 1), "a String does not read a u64's entry");
}

// ---------------------------------------------------------------------------
// Refused credentials: fail-open
// ---------------------------------------------------------------------------

static NO_PASSWORD_RUNS: AtomicUsize = AtomicUsize::new(0);
static BAD_PASSWORD_RUNS: AtomicUsize = AtomicUsize::new(0);
static NO_RIGHTS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:no-password")]
fn without_password(n: u64) -> u64 {
    NO_PASSWORD_RUNS.fetch_add(1, SeqCst);
    n * 11
}

#[cached(store = "redis", ttl = "10m", namespace = "faults:bad-password")]
fn with_bad_password(n: u64) -> u64 {
    BAD_PASSWORD_RUNS.fetch_add(1, SeqCst);
    n * 11
}

#[cached(store = "redis", ttl = "10m", namespace = "faults:no-rights")]
fn without_rights(n: u64) -> u64 {
    NO_RIGHTS_RUNS.fetch_add(1, SeqCst);
    n * 11
}

/// Settings whose breaker opens after 3 failures and stays open for the test.
fn refused(url: String) -> RedisSettings {
    RedisSettings::default()
        .url(url)
        .timeout(ROOMY)
        .breaker(3, Duration::from_secs(60))
}

/// Calls `f` 20 times and checks that every call ran the body and returned
/// its value, that the refusals were counted and opened the breaker, and
/// that nothing reached the server.
fn assert_fails_open(
    server: &RedisServer,
    f: fn(u64) -> u64,
    cache: &Cache<u64, u64>,
    runs: &AtomicUsize,
) {
    for i in 0..20u64 {
        assert_eq!(f(i % 5), i % 5 * 11, "{}", cache.namespace());
    }
    assert_eq!(
        runs.load(SeqCst),
        20,
        "{}: every call ran",
        cache.namespace()
    );
    let stats = cache.stats();
    let redis = remote(stats);
    assert!(stats.errors > 0 && redis.errors > 0, "{stats:?}");
    assert!(redis.breaker_open && redis.skipped > 0, "{stats:?}");
    assert_eq!(redis.hits, 0, "{stats:?}");
    assert_eq!(dbsize(server), 0, "{}: nothing written", cache.namespace());
    eprintln!("refused: {} {stats:?}", cache.namespace());
}

#[test]
fn a_missing_or_wrong_password_fails_open_counts_errors_and_opens_the_breaker() {
    let server = RedisServer::start_with_password("s3cret");
    configure("faults:no-password", refused(server.url()));
    let wrong = server.url().replace("redis://", "redis://:wrong@");
    configure("faults:bad-password", refused(wrong));
    assert_fails_open(
        &server,
        without_password,
        &WITHOUT_PASSWORD,
        &NO_PASSWORD_RUNS,
    );
    assert_fails_open(
        &server,
        with_bad_password,
        &WITH_BAD_PASSWORD,
        &BAD_PASSWORD_RUNS,
    );
}

#[test]
fn an_acl_user_without_rights_fails_open_counts_errors_and_opens_the_breaker() {
    let server = RedisServer::start_with_acl(&[AclUser::no_access("guest", "pw-guest")]);
    configure(
        "faults:no-rights",
        refused(server.url_for_user("guest", "pw-guest")),
    );
    assert_fails_open(&server, without_rights, &WITHOUT_RIGHTS, &NO_RIGHTS_RUNS);
}

static ROTATED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:rotated")]
fn after_rotation(n: u64) -> u64 {
    ROTATED_RUNS.fetch_add(1, SeqCst);
    n * 11
}

#[test]
fn once_the_server_accepts_the_password_the_store_recovers() {
    let server = RedisServer::start_with_password("old");
    let url = server.url().replace("redis://", "redis://:new@");
    configure(
        "faults:rotated",
        RedisSettings::default()
            .url(url)
            .timeout(ROOMY)
            .breaker(2, Duration::from_millis(100)),
    );
    for n in 0..5 {
        assert_eq!(after_rotation(n), n * 11);
    }
    assert!(remote(AFTER_ROTATION.stats()).breaker_open);

    // The password the cache sends becomes the right one. A connection whose
    // login was refused is not tried again by redis-rs: the store must make
    // a new one.
    server.cli(&["CONFIG", "SET", "requirepass", "new"]);
    let mut raw = server
        .client_as("default", "new")
        .get_connection()
        .expect("the new password works");
    let took = eventually("a value is written after the rotation", RECOVERY, || {
        assert_eq!(after_rotation(9), 99);
        redis::cmd("EXISTS")
            .arg("faults:rotated:9")
            .query::<bool>(&mut raw)
            .expect("EXISTS")
    });
    eprintln!("rotated password: store recovered {took:?} after the change");
    let runs = ROTATED_RUNS.load(SeqCst);
    assert_eq!(after_rotation(9), 99);
    assert_eq!(ROTATED_RUNS.load(SeqCst), runs, "answered by Redis");
}

// ---------------------------------------------------------------------------
// TLS and ACL users: values round trip
// ---------------------------------------------------------------------------

/// Checks that a first call of `f` writes its value where `server` shows it
/// and that a second one is answered by Redis.
fn assert_round_trips(
    server: &RedisServer,
    f: fn(u64) -> u64,
    cache: &Cache<u64, u64>,
    runs: &AtomicUsize,
) {
    assert_eq!(f(3), 33);
    assert_eq!(runs.load(SeqCst), 1);
    let key = cache.remote_key(&3).expect("a u64 has a Redis key");
    assert!(exists(server, &key), "{key} written");
    assert_eq!(f(3), 33);
    assert_eq!(runs.load(SeqCst), 1, "{key}: answered by Redis");
    let stats = cache.stats();
    assert_eq!(remote(stats).hits, 1, "{stats:?}");
    assert_eq!(stats.errors, 0, "{stats:?}");
}

static ACL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:acl")]
fn as_acl_user(n: u64) -> u64 {
    ACL_RUNS.fetch_add(1, SeqCst);
    n * 11
}

#[test]
fn an_acl_user_with_full_rights_reads_and_writes_redis() {
    let server = RedisServer::start_with_acl(&[
        AclUser::full_access("app", "pw-app"),
        AclUser::no_access("guest", "pw-guest"),
    ]);
    configure(
        "faults:acl",
        RedisSettings::default()
            .url(server.url_for_user("app", "pw-app"))
            .timeout(ROOMY),
    );
    assert_round_trips(&server, as_acl_user, &AS_ACL_USER, &ACL_RUNS);
}

#[cfg(feature = "redis-tls")]
mod tls {
    use super::*;

    static TLS_RUNS: AtomicUsize = AtomicUsize::new(0);
    static TLS_ACL_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(store = "redis", ttl = "10m", namespace = "faults:tls")]
    fn over_tls(n: u64) -> u64 {
        TLS_RUNS.fetch_add(1, SeqCst);
        n * 11
    }

    #[cached(store = "redis", ttl = "10m", namespace = "faults:tls-acl")]
    fn over_tls_as_acl_user(n: u64) -> u64 {
        TLS_ACL_RUNS.fetch_add(1, SeqCst);
        n * 11
    }

    #[test]
    fn values_round_trip_over_tls_with_a_private_certificate_authority() {
        let server = RedisServer::start_tls();
        assert!(server.url().starts_with("rediss://"));
        configure(
            "faults:tls",
            RedisSettings::default()
                .url(server.url())
                .root_certificate(server.ca_cert_pem().expect("a TLS server has a CA"))
                .timeout(ROOMY),
        );
        assert_round_trips(&server, over_tls, &OVER_TLS, &TLS_RUNS);
    }

    #[test]
    fn values_round_trip_over_tls_as_an_acl_user() {
        let server = RedisServer::builder()
            .tls()
            .acl_user(AclUser::full_access("app", "pw-app"))
            .start();
        configure(
            "faults:tls-acl",
            RedisSettings::default()
                .url(server.url_for_user("app", "pw-app"))
                .root_certificate(server.ca_cert_pem().expect("a TLS server has a CA"))
                .timeout(ROOMY),
        );
        assert_round_trips(
            &server,
            over_tls_as_acl_user,
            &OVER_TLS_AS_ACL_USER,
            &TLS_ACL_RUNS,
        );
    }
}

// ---------------------------------------------------------------------------
// A sync function inside tokio
// ---------------------------------------------------------------------------

static IN_TOKIO_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "faults:in-tokio")]
fn sync_in_tokio(n: u64) -> u64 {
    IN_TOKIO_RUNS.fetch_add(1, SeqCst);
    n * 13
}

#[test]
fn a_sync_function_called_on_tokio_workers_and_a_current_thread_runtime_uses_redis_without_deadlock(
) {
    let server = RedisServer::start();
    configure(
        "faults:in-tokio",
        RedisSettings::default().url(server.url()).timeout(ROOMY),
    );
    let server = Arc::new(server);
    let shared = Arc::clone(&server);
    within(Duration::from_secs(20), move || {
        let server = shared;
        // Tasks on the two workers of a multi-thread runtime, every one
        // blocking its worker on Redis.
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        multi.block_on(async {
            let tasks: Vec<_> = (0..8u64)
                .map(|task| {
                    tokio::spawn(async move {
                        for i in 0..50u64 {
                            let n = (i + task * 7) % 50;
                            assert_eq!(sync_in_tokio(n), n * 13);
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("a task panicked");
            }
        });
        assert_eq!(keys_of(&server, "faults:in-tokio"), 50, "every key written");
        let hits = remote(SYNC_IN_TOKIO.stats()).hits;
        assert!(hits > 0, "tasks were answered by Redis");

        // The thread of a current-thread runtime, in a task and in block_on.
        let runs = IN_TOKIO_RUNS.load(SeqCst);
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        current.block_on(async {
            for n in 0..50u64 {
                assert_eq!(sync_in_tokio(n), n * 13);
            }
            tokio::spawn(async {
                for n in 0..50u64 {
                    assert_eq!(sync_in_tokio(n), n * 13);
                }
            })
            .await
            .expect("the task panicked");
        });
        assert_eq!(
            IN_TOKIO_RUNS.load(SeqCst),
            runs,
            "all answered by Redis on the current-thread runtime"
        );
        assert_eq!(remote(SYNC_IN_TOKIO.stats()).hits, hits + 100);
    });
}
