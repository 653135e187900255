//! The store is chosen by a feature, with nothing else changed: a crate puts
//! its function in Redis under one of its features (here memocache's own
//! `redis`, which this test crate's builds turn on or off) and in memory
//! without it. `scripts/test.sh` runs this file both ways.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use memocache::async_cached;

static PRICE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cfg_attr(
    feature = "redis",
    async_cached(store = "redis", ttl = "10m", namespace = "swap:price")
)]
#[cfg_attr(
    not(feature = "redis"),
    async_cached(size = 100, ttl = "10m", namespace = "swap:price")
)]
async fn price(id: u64) -> Result<u64, String> {
    PRICE_RUNS.fetch_add(1, SeqCst);
    Ok(id * 100)
}

/// The code that uses the cache, the same whichever store is on.
async fn exercise() {
    assert_eq!(price(3).await, Ok(300));
    assert_eq!(price(3).await, Ok(300));
    assert_eq!(PRICE_RUNS.load(SeqCst), 1, "the second call is a hit");
    assert!(PRICE.invalidate(&3).await);
    assert_eq!(price(3).await, Ok(300));
    assert_eq!(PRICE_RUNS.load(SeqCst), 2, "recomputed after invalidation");
    assert_eq!(PRICE.stats().hits, 1);
}

#[cfg(not(feature = "redis"))]
#[tokio::test]
async fn without_the_feature_the_function_is_cached_in_memory() {
    exercise().await;
    assert_eq!(PRICE.len(), 1, "held in process memory");
    assert_eq!(PRICE.remote_key(&3), None, "no remote tier");
}

#[cfg(feature = "redis")]
#[path = "common/redis_server.rs"]
mod redis_server;

#[cfg(feature = "redis")]
#[tokio::test]
async fn with_the_feature_the_function_is_cached_in_redis() {
    let server = redis_server::RedisServer::start();
    let settings = memocache::redis::RedisSettings::default()
        .url(server.url())
        .timeout(std::time::Duration::from_secs(2));
    memocache::redis::configure_namespace("swap:price", settings).unwrap();

    exercise().await;
    assert_eq!(PRICE.len(), 0, "nothing held in process memory");
    assert_eq!(PRICE.remote_key(&3).as_deref(), Some("swap:price:3"));
    assert_eq!(server.cli(&["EXISTS", "swap:price:3"]).trim(), "1");
}
