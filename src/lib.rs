//! # memocache
//!
//! Memoize a function with one attribute. `#[cached]` wraps a synchronous
//! function: every later call with the same arguments returns from a sized,
//! sharded LRU in process memory, with an optional TTL per entry, computed once
//! per key even when many threads ask at the same time.
//!
//! ```
//! use memocache::cached;
//!
//! #[cached(size = 1000, ttl = "10m")]
//! fn slow_square(n: u64) -> u64 {
//!     n * n
//! }
//!
//! assert_eq!(slow_square(7), 49); // runs the body
//! assert_eq!(slow_square(7), 49); // answered from the cache
//! assert_eq!(SLOW_SQUARE.stats().hits, 1);
//! SLOW_SQUARE.invalidate(&7);
//! ```
//!
//! Every annotated function gets a handle static named after it in capitals
//! (`SLOW_SQUARE`), a [`Cache`], to invalidate, clear, read or insert entries
//! and read [`Stats`]. See the README for every attribute option and the exact
//! semantics.
#![deny(missing_docs)]

#[cfg(feature = "tokio")]
pub use memocache_macros::async_cached;
pub use memocache_macros::cached;
#[cfg(feature = "tokio")]
pub use memocache_runtime::AsyncCache;
pub use memocache_runtime::{registry, CacheReport, Kind, Storage};
pub use memocache_runtime::{
    Cache, Capacity, Clock, Config, Fetched, Lookup, MemoryStore, MockTime, RemoteFactory,
    RemoteFuture, RemoteStats, RemoteTier, Stats, DEFAULT_SIZE,
};

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
/// ```
/// use std::time::Duration;
///
/// use axum::body::Body;
/// use axum::extract::{Path, State};
/// use axum::http::{Request, StatusCode};
/// use axum::routing::{get, put};
/// use axum::Router;
/// use memocache::http::HttpCache;
/// use tower::ServiceExt;
///
/// async fn product(Path(id): Path<u64>) -> String {
///     format!("product {id}")
/// }
///
/// async fn update(State(cache): State<HttpCache>, Path(id): Path<u64>) -> StatusCode {
///     // ... write the product, then:
///     cache.invalidate_path(&format!("/products/{id}")).await;
///     StatusCode::NO_CONTENT
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cache = HttpCache::builder("shop:http")
///     .ttl(Duration::from_secs(300))
///     .build();
/// let app = Router::new()
///     .route("/products/{id}", get(product).route_layer(cache.clone()))
///     .route("/products/{id}", put(update))
///     .with_state(cache.clone());
///
/// let get = || Request::get("/products/42").body(Body::empty()).unwrap();
/// let first = app.clone().oneshot(get()).await.unwrap();
/// assert_eq!(first.headers()["x-cache"], "MISS");
/// let etag = first.headers()["etag"].clone();
///
/// let again = app.clone().oneshot(get()).await.unwrap();
/// assert_eq!(again.headers()["x-cache"], "HIT");
///
/// let conditional = Request::get("/products/42")
///     .header("if-none-match", etag)
///     .body(Body::empty())
///     .unwrap();
/// let not_modified = app.clone().oneshot(conditional).await.unwrap();
/// assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
/// assert_eq!(cache.stats().misses, 1, "the handler ran once");
/// # }
/// ```
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
