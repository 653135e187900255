//! The Redis store against real throwaway servers: values reach Redis under
//! readable keys, later calls are answered from it, and the handle's
//! invalidation and clearing reach it too.
#![cfg(feature = "redis")]

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use memocache::redis::{configure_namespace, RedisSettings};
use memocache::{async_cached, cached};
use redis_server::RedisServer;

/// Points the cache of `namespace` at `server`, with a deadline roomy enough
/// for a loaded test machine.
fn use_server(namespace: &str, server: &RedisServer) {
    let settings = RedisSettings::default()
        .url(server.url())
        .timeout(Duration::from_secs(2));
    configure_namespace(namespace, settings).expect("configured before first use");
}

static SQUARE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "test:square")]
fn square(n: u64) -> u64 {
    SQUARE_RUNS.fetch_add(1, SeqCst);
    n * n
}

#[test]
fn a_sync_function_reads_and_writes_redis_under_readable_keys() {
    let server = RedisServer::start();
    use_server("test:square", &server);

    assert_eq!(square(7), 49);
    assert_eq!(SQUARE_RUNS.load(SeqCst), 1);
    assert_eq!(SQUARE.remote_key(&7).as_deref(), Some("test:square:7"));
    let ttl: i64 = server
        .cli(&["PTTL", "test:square:7"])
        .trim()
        .parse()
        .unwrap();
    assert!(
        ttl > 590_000 && ttl <= 600_000,
        "PX from the ttl, got {ttl}"
    );

    assert_eq!(square(7), 49, "answered from Redis");
    assert_eq!(SQUARE_RUNS.load(SeqCst), 1);
    let stats = SQUARE.stats();
    assert_eq!((stats.hits, stats.misses), (1, 1), "{stats:?}");
    assert_eq!(stats.remote.map(|r| r.hits), Some(1));

    assert!(SQUARE.invalidate(&7));
    assert_eq!(server.cli(&["EXISTS", "test:square:7"]).trim(), "0");
    assert_eq!(square(7), 49);
    assert_eq!(SQUARE_RUNS.load(SeqCst), 2, "recomputed after invalidation");

    assert_eq!(square(8), 64);
    SQUARE.clear();
    assert_eq!(server.cli(&["DBSIZE"]).trim(), "0");
}

static PRODUCT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(store = "redis", ttl = "10m", namespace = "test:product")]
async fn product(id: u64) -> Result<String, String> {
    PRODUCT_RUNS.fetch_add(1, SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    if id == 0 {
        return Err("no product 0".into());
    }
    Ok(format!("product {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tasks_on_a_cold_key_make_one_get_one_body_run_and_one_set() {
    // Besides one GET and one SET of the value, the leader takes and releases
    // the lock that makes the key computed once across processes: a SET NX,
    // and an EVAL whose script GETs and DELs the lock.
    let server = RedisServer::start();
    use_server("test:product", &server);
    server.cli(&["CONFIG", "RESETSTAT"]);

    let tasks: Vec<_> = (0..200).map(|_| tokio::spawn(product(42))).collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok("product 42".to_owned()));
    }
    assert_eq!(PRODUCT_RUNS.load(SeqCst), 1);
    let stats = server.cli(&["INFO", "commandstats"]);
    let calls = |command: &str| {
        stats
            .lines()
            .find(|line| line.starts_with(&format!("cmdstat_{command}:")))
            .and_then(|line| line.split("calls=").nth(1))
            .and_then(|rest| rest.split(',').next())
            .map(|n| n.parse::<u64>().unwrap())
            .unwrap_or(0)
    };
    let (get, set, eval, del) = (calls("get"), calls("set"), calls("eval"), calls("del"));
    assert_eq!((eval, del), (1, 1), "one lock released: {stats}");
    assert_eq!(
        (get - eval, set - 1),
        (1, 1),
        "one GET and one SET of the value: {stats}"
    );

    assert_eq!(product(0).await, Err("no product 0".into()));
    assert_eq!(product(0).await, Err("no product 0".into()));
    assert_eq!(PRODUCT_RUNS.load(SeqCst), 3, "errors are never cached");
    assert_eq!(server.cli(&["EXISTS", "test:product:0"]).trim(), "0");
}

static LOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "test:locked")]
fn locked(n: u64) -> u64 {
    LOCKED_RUNS.fetch_add(1, SeqCst);
    n + 1
}

/// A sync caller on a plain thread (no tokio runtime) that finds the key's
/// lock held by another process waits for it, then computes: the pause
/// between its polls must not need a runtime of the caller's.
#[test]
fn a_sync_caller_without_a_runtime_waits_out_a_lock_held_by_another_process() {
    let server = RedisServer::start();
    use_server("test:locked", &server);
    let lock = "__memocache_lock:test:locked:1";
    assert_eq!(
        server
            .cli(&["SET", lock, "another-process", "NX", "PX", "300"])
            .trim(),
        "OK"
    );

    let started = std::time::Instant::now();
    let value = std::thread::spawn(|| locked(1)).join();

    assert_eq!(
        value.ok(),
        Some(2),
        "the caller panicked or computed wrongly"
    );
    assert_eq!(LOCKED_RUNS.load(SeqCst), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "the lock was not waited for: {:?}",
        started.elapsed()
    );
    assert_eq!(
        server.cli(&["EXISTS", "test:locked:1"]).trim(),
        "1",
        "value written"
    );
}
