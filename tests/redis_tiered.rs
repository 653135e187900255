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

/// Waits until a client of `server` has tracking on.
async fn tracking_on(server: &RedisServer) {
    let on = eventually(Duration::from_secs(10), || {
        server.cli(&["CLIENT", "LIST"]).contains("flags=t")
    })
    .await;
    assert!(
        on.is_some(),
        "no tracking client: {}",
        server.cli(&["CLIENT", "LIST"])
    );
    // Tracking coming on clears the local tier once; let that pass.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[async_cached(store = "redis", size = 100, ttl = "10m", namespace = "tiered:dropped")]
async fn dropped_conn(id: u64) -> u64 {
    id + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_clears_the_local_tier_and_the_channel_comes_back() {
    let server = RedisServer::start();
    use_server("tiered:dropped", &server);
    assert_eq!(dropped_conn(1).await, 2);
    tracking_on(&server).await;
    assert_eq!(dropped_conn(1).await, 2);
    assert_eq!(DROPPED_CONN.store().get(&1), Some(2), "held locally");

    // The server drops every client connection: invalidations may be missed.
    server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    let cleared = eventually(Duration::from_secs(1), || {
        DROPPED_CONN.store().get(&1).is_none()
    })
    .await;
    assert!(cleared.is_some(), "the local tier outlived its channel");

    // The channel comes back by itself, and invalidations flow again.
    tracking_on(&server).await;
    assert_eq!(dropped_conn(1).await, 2);
    assert_eq!(DROPPED_CONN.store().get(&1), Some(2));
    server.cli(&["DEL", "tiered:dropped:1"]);
    let dropped = eventually(Duration::from_millis(100), || {
        DROPPED_CONN.store().get(&1).is_none()
    })
    .await;
    assert!(
        dropped.is_some(),
        "no invalidation after the channel came back"
    );
}

#[async_cached(store = "redis", size = 100, ttl = "10m", namespace = "tiered:frozen")]
async fn frozen(id: u64) -> u64 {
    id + 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_clears_the_local_tier_and_the_channel_comes_back_when_it_thaws() {
    let mut server = RedisServer::start();
    let settings = RedisSettings::default()
        .url(server.url())
        .timeout(Duration::from_millis(100))
        .breaker(3, Duration::from_millis(200));
    configure_namespace("tiered:frozen", settings).unwrap();
    assert_eq!(frozen(1).await, 3);
    tracking_on(&server).await;
    assert_eq!(frozen(1).await, 3);
    assert_eq!(FROZEN.store().get(&1), Some(3), "held locally");

    server.pause();
    // The heartbeat misses its deadline: cleared within about 100 + 100 ms.
    let cleared = eventually(Duration::from_secs(1), || FROZEN.store().get(&1).is_none()).await;
    assert!(cleared.is_some(), "the local tier outlived a frozen server");
    assert_eq!(frozen(1).await, 3, "served while Redis is frozen");

    server.resume();
    tracking_on(&server).await;
    // Once the breaker lets Redis be used again, the value reaches it.
    let start = Instant::now();
    loop {
        FROZEN.invalidate(&1).await;
        assert_eq!(frozen(1).await, 3);
        let in_redis = server.cli(&["EXISTS", "tiered:frozen:1"]).trim() == "1";
        if in_redis && FROZEN.store().get(&1).is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "Redis never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.cli(&["DEL", "tiered:frozen:1"]);
    let dropped = eventually(Duration::from_millis(100), || {
        FROZEN.store().get(&1).is_none()
    })
    .await;
    assert!(dropped.is_some(), "no invalidation after the server thawed");
}
