//! Async callers send their Redis operations from their own tasks, whatever
//! runtime those run on: one without a timer still gets the deadline, the
//! connection outlives the runtime that first used it, and a caller that
//! gives up on an operation still has its outcome counted.
#![cfg(feature = "redis")]

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use memocache::async_cached;
use memocache::redis::{configure_namespace, RedisSettings};
use memocache::RemoteStats;
use redis_server::RedisServer;

/// A runtime with no time driver: `tokio::time` panics on it.
fn runtime_without_timers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// Runs `f` on a thread of its own and waits for it, no longer than a
/// minute: a deadline that does not hold hangs the call instead of failing it.
fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || sender.send(f()));
    receiver
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}

/// Points the cache of `namespace` at `server`, with a `timeout` deadline and
/// a breaker that opens after `failures_to_open` failures for an hour.
fn use_server(namespace: &str, server: &RedisServer, timeout: Duration, failures_to_open: u32) {
    let settings = RedisSettings::default()
        .url(server.url())
        .timeout(timeout)
        .breaker(failures_to_open, Duration::from_secs(3600));
    configure_namespace(namespace, settings).expect("configured before first use");
}

fn remote(stats: memocache::Stats) -> RemoteStats {
    stats.remote.expect("a Redis cache has remote stats")
}

static TIMERLESS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(store = "redis", ttl = "10m", namespace = "runtimes:timerless")]
async fn timerless(n: u64) -> u64 {
    TIMERLESS_RUNS.fetch_add(1, SeqCst);
    n + 1000
}

#[test]
fn a_runtime_without_timers_reads_and_writes_redis_and_its_connection_outlives_it() {
    let server = RedisServer::start();
    use_server("runtimes:timerless", &server, Duration::from_secs(2), 5);

    // The first call makes the connection, from this runtime's task.
    let first = runtime_without_timers();
    assert_eq!(first.block_on(timerless(1)), 1001);
    assert_eq!(server.cli(&["EXISTS", "runtimes:timerless:1"]).trim(), "1");
    drop(first);

    // Another runtime, after the first one is gone: still Redis hits.
    let second = runtime_without_timers();
    assert_eq!(second.block_on(timerless(1)), 1001);
    assert_eq!(TIMERLESS_RUNS.load(SeqCst), 1, "answered from Redis");
    assert_eq!(second.block_on(timerless(2)), 1002);
    assert_eq!(server.cli(&["EXISTS", "runtimes:timerless:2"]).trim(), "1");
    let stats = remote(TIMERLESS.stats());
    assert_eq!(stats.hits, 1, "{stats:?}");
    assert_eq!((stats.errors, stats.timeouts), (0, 0), "{stats:?}");
}

static FROZEN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(store = "redis", ttl = "10m", namespace = "runtimes:frozen")]
async fn frozen(n: u64) -> u64 {
    FROZEN_RUNS.fetch_add(1, SeqCst);
    n * 3
}

#[test]
fn a_runtime_without_timers_still_gets_the_deadline_from_a_frozen_server() {
    let mut server = RedisServer::start();
    use_server(
        "runtimes:frozen",
        &server,
        Duration::from_millis(100),
        1_000,
    );
    let runtime = runtime_without_timers();
    assert_eq!(runtime.block_on(frozen(1)), 3);
    assert_eq!(remote(FROZEN.stats()).timeouts, 0);

    server.pause();
    let value = within_a_minute("a call to a frozen server", move || {
        runtime.block_on(frozen(2))
    });
    assert_eq!(value, 6, "the body ran when Redis did not answer");
    let stats = remote(FROZEN.stats());
    // The `GET`, the lock single-flight takes and the `SET` all ran past the
    // deadline.
    assert_eq!((stats.timeouts, stats.errors), (3, 0), "{stats:?}");
    server.resume();
}

#[async_cached(store = "redis", ttl = "10m", namespace = "runtimes:abandoned")]
async fn abandoned(n: u64) -> u64 {
    n * 5
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_whose_caller_gave_up_still_counts_against_the_breaker() {
    let mut server = RedisServer::start();
    use_server("runtimes:abandoned", &server, Duration::from_millis(200), 1);
    assert_eq!(abandoned(1).await, 5);

    server.pause();
    // The caller gives up long before the deadline; its `GET` goes on.
    let gave_up = tokio::time::timeout(Duration::from_millis(10), abandoned(2)).await;
    assert!(gave_up.is_err(), "the call waited for the frozen server");
    let start = Instant::now();
    while !remote(ABANDONED.stats()).breaker_open {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the abandoned GET never counted: {:?}",
            remote(ABANDONED.stats())
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.resume();
}
