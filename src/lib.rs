#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(feature = "tokio")]
pub use memocache_macros::async_cached;
pub use memocache_macros::cached;
/// The handle of an `#[async_cached]` function.
///
/// ```
/// use memocache::async_cached;
///
/// #[async_cached(size = 100, ttl = "5m")]
/// async fn profile(user: u64) -> String {
///     format!("profile of {user}")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// profile(7).await;
/// assert_eq!(PROFILE.get(&7).await.as_deref(), Some("profile of 7"));
/// PROFILE.insert(8, "preloaded".to_string()).await; // as if the function returned it
/// assert_eq!(profile(8).await, "preloaded");
/// assert!(PROFILE.invalidate(&7).await);
/// PROFILE.clear().await;
/// assert!(PROFILE.is_empty());
/// # }
/// ```
#[cfg(feature = "tokio")]
pub use memocache_runtime::AsyncCache;
/// The handle of a `#[cached]` function: a static named after the function
/// in capitals.
///
/// ```
/// use memocache::cached;
///
/// #[cached(size = 100)]
/// fn word_count(text: &str) -> usize {
///     text.split_whitespace().count()
/// }
///
/// word_count("a b c");
/// assert_eq!(WORD_COUNT.get("a b c"), Some(3)); // the key as the function derives it
/// WORD_COUNT.insert("x y".to_string(), 9);      // as if the function returned it
/// assert_eq!(word_count("x y"), 9);
/// assert!(WORD_COUNT.invalidate("a b c"));
/// assert_eq!(WORD_COUNT.len(), 1);
/// WORD_COUNT.clear();
/// assert!(WORD_COUNT.is_empty());
/// ```
pub use memocache_runtime::Cache;
/// What a cache counted, from its handle's `stats()`.
///
/// ```
/// use memocache::cached;
///
/// #[cached(size = 2)]
/// fn double(n: u64) -> u64 { n * 2 }
///
/// double(1); // a miss: runs the body
/// double(1); // a hit
/// double(2);
/// double(3); // the cache holds 2 entries: one is evicted
/// let stats = DOUBLE.stats();
/// assert_eq!((stats.hits, stats.misses, stats.evictions), (1, 3, 1));
/// assert_eq!((stats.len, stats.capacity), (2, Some(2)));
/// assert_eq!(stats.hit_ratio(), 0.25);
/// ```
pub use memocache_runtime::Stats;
pub use memocache_runtime::{registry, CacheReport, Kind, Storage};
pub use memocache_runtime::{
    AlreadyInUse, Capacity, Clock, Config, Fetched, Lookup, MemoryStore, MockTime, RemoteFactory,
    RemoteFuture, RemoteStats, RemoteTier, Settings, DEFAULT_SIZE, DEFAULT_STALE_RETRY,
};

pub use memocache_runtime::bounds;

/// Every cache's counters on the [`metrics`](https://docs.rs/metrics) facade
/// (feature `metrics`), read when [`export`](metrics::export) is called
/// (from the scrape handler, or on an interval with
/// [`export_every`](metrics::export_every)), never written on a hit.
#[cfg(feature = "metrics")]
pub mod metrics {
    pub use memocache_runtime::metrics::*;
}

/// The Redis store (feature `redis`): where Redis is and how long to wait for
/// it, and the codecs of its values.
#[cfg(feature = "redis")]
pub mod redis {
    #[cfg(feature = "json")]
    pub use memocache_runtime::Json;
    #[cfg(feature = "redis-cluster")]
    pub use memocache_runtime::CLUSTER_VARIABLE;
    pub use memocache_runtime::{
        configure, configure_namespace, Bincode, Codec, CodecError, RedisSettings, SettingsError,
        DEFAULT_URL, URL_VARIABLE,
    };
}

/// HTTP response caching for axum and any tower service (feature `http`):
/// [`HttpCache`](http::HttpCache) caches whole responses of `GET` and
/// `HEAD` requests in the stores of `#[cached]`, with `ETag`,
/// `Last-Modified`, `Age`, `Cache-Control` and `X-Cache` headers, `304 Not
/// Modified` answers, single-flight per key and invalidation by key, path or
/// path prefix.
///
/// [`HttpCache`](http::HttpCache) shows the layer on a tower service; a whole
/// axum service (a cached weather endpoint, a product API invalidated on
/// `PUT`) is `examples/http_cache.rs`, run with `cargo run -p
/// memocache-examples --example http_cache --features http`, and
/// `docs/http.md` is the guide to every header rule.
#[cfg(feature = "http")]
pub mod http {
    pub use memocache_runtime::http::*;
}

/// What the generated code calls. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use core::time::Duration;
    #[cfg(feature = "json")]
    pub use memocache_runtime::Json;
    #[cfg(feature = "tokio")]
    pub use memocache_runtime::{call_async, call_async_refreshing};
    pub use memocache_runtime::{call_sync_in, Config, Fallible, Plain, ThreadSlot};
    #[cfg(feature = "redis")]
    pub use memocache_runtime::{redis_tier, redis_tiered, Bincode};
    pub use memocache_runtime::{NotOption, NotResult, Probe, Returns, Split, Value};
}
