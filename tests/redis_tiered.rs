//! The tiered store (`store = "redis"` with `size`): a local tier in front of
//! Redis, which any change to a key in Redis (by this process, another one, a
//! `DEL` from any client, an expiry) empties within milliseconds.
#![cfg(feature = "redis")]

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use memocache::async_cached;
use memocache::redis::{configure_namespace, RedisSettings};
use redis_server::RedisServer;

fn use_server(namespace: &str, server: &RedisServer) {
    let settings = RedisSettings::default()
        .url(server.url())
        .timeout(Duration::from_secs(2));
    configure_namespace(namespace, settings).expect("configured before first use");
}

/// Polls `done` every millisecond until it holds or `within` passes; tells how long it took.
async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if done() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

static PRICE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(store = "redis", size = 100, ttl = "10m", namespace = "tiered:price")]
async fn price(id: u64) -> u64 {
    PRICE_RUNS.fetch_add(1, SeqCst);
    id * 100
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_hit_asks_no_redis_and_a_delete_by_another_client_empties_the_local_tier() {
    let server = RedisServer::start();
    use_server("tiered:price", &server);

    assert_eq!(price(1).await, 100);
    assert_eq!(PRICE_RUNS.load(SeqCst), 1);
    assert_eq!(server.cli(&["EXISTS", "tiered:price:1"]).trim(), "1");
    assert_eq!(PRICE.len(), 1, "held locally too");

    // Wait until tracking is on (its start clears the local tier once).
    let tracking = eventually(Duration::from_secs(5), || {
        server.cli(&["CLIENT", "LIST"]).contains("flags=t")
    })
    .await;
    assert!(
        tracking.is_some(),
        "a tracking client: {}",
        server.cli(&["CLIENT", "LIST"])
    );

    assert_eq!(
        price(1).await,
        100,
        "refilled from Redis after tracking started"
    );
    let remote_before = PRICE.stats().remote.unwrap();
    for _ in 0..3 {
        assert_eq!(price(1).await, 100);
    }
    assert_eq!(
        PRICE.stats().remote.unwrap(),
        remote_before,
        "a warm local tier answers without asking Redis"
    );
    assert_eq!(PRICE_RUNS.load(SeqCst), 1);

    // Another client deletes our key: that local copy goes, and only that one.
    assert_eq!(price(2).await, 200);
    server.cli(&["DEL", "tiered:price:1"]);
    let dropped = eventually(Duration::from_millis(100), || {
        PRICE.store().get(&1).is_none()
    })
    .await;
    assert!(
        dropped.is_some(),
        "the local tier still holds the deleted key"
    );
    assert_eq!(PRICE.store().get(&2), Some(200), "other keys stay local");
    assert_eq!(price(1).await, 100);
    assert_eq!(PRICE_RUNS.load(SeqCst), 3, "recomputed after the DEL");
}
