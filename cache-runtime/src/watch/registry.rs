//! The registry: every cache of the process that has been used, with its
//! stats, for an admin endpoint or an exporter.
//!
//! A cache lists itself once, when its store is built on first use (an
//! `HttpCache` when it is built), as a weak view of its counters: listing
//! adds nothing to a call, and a cache that is dropped leaves the registry.

use std::hash::Hash;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use crate::call::handle::Tiers;
use crate::memory::store::StoreWatch;
use crate::remote::tier::RemoteTier;
use crate::stats::Stats;

/// What a listed cache is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Kind {
    /// The cache of a `#[cached]` or `#[async_cached]` function (or a
    /// [`Cache`](crate::Cache) / `AsyncCache` made by hand).
    Function,
    /// An HTTP response cache (`memocache::http::HttpCache`).
    Http,
}

/// Where a listed cache keeps its entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Storage {
    /// In process memory.
    Memory,
    /// In a remote tier only (Redis): every lookup asks it.
    Redis,
    /// In process memory in front of a remote tier (Redis).
    Tiered,
}

/// One cache of the process, as [`registry`] finds it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CacheReport {
    /// The cache's namespace: the function's module path and name unless
    /// the attribute sets `namespace`; an HTTP cache's builder names it.
    pub namespace: &'static str,
    /// A function's cache or an HTTP cache.
    pub kind: Kind,
    /// Where its entries live.
    pub store: Storage,
    /// The bound on entries held in process memory; `None` when unbounded.
    pub capacity: Option<usize>,
    /// The time to live of its entries (`None`: they do not expire by
    /// time); an entry's own TTL (`ttl_fn`, `none_ttl`, an HTTP status's)
    /// may differ. Serialized as seconds, a float.
    #[cfg_attr(feature = "serde", serde(serialize_with = "optional_seconds"))]
    pub ttl: Option<Duration>,
    /// Its counters. For an HTTP cache, `hits` and `misses` are its answers
    /// (`X-Cache: HIT`, `304`s included, and `MISS`), the other counters its
    /// store's: a load is a run of the handler.
    pub stats: Stats,
    /// What an HTTP cache answered (hits, `304`s, bypasses...); `None` for a
    /// function's cache.
    #[cfg(feature = "http")]
    pub http: Option<crate::http::HttpStats>,
}

#[cfg(feature = "serde")]
fn optional_seconds<S: serde::Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => crate::stats::seconds(duration, serializer),
        None => serializer.serialize_none(),
    }
}

/// A listed cache, seen without being kept alive.
pub(crate) trait Watched: Send + Sync {
    /// The cache's report, or `None` once it is dropped.
    fn report(&self) -> Option<CacheReport>;
}

static LISTED: Mutex<Vec<Box<dyn Watched>>> = parking_lot::const_mutex(Vec::new());

/// Lists a cache.
pub(crate) fn enlist(cache: Box<dyn Watched>) {
    LISTED.lock().push(cache);
}

/// Every cache of the process that has been used (a function's cache is
/// listed on its first call or handle use, an `HttpCache` when it is
/// built), in the order they were listed, with their stats read now.
/// Dropped caches are left out. Reading costs a lock per shard and per
/// cache and never slows a hit down.
///
/// ```
/// use memocache_runtime::{call_sync, registry, Cache, Config, Kind, Plain};
///
/// static SQUARES: Cache<u64, u64> = Cache::new(Config::new("docs::registry").size(100));
/// call_sync(&SQUARES, 4, Plain, || 16);
///
/// let report = registry()
///     .into_iter()
///     .find(|report| report.namespace == "docs::registry")
///     .expect("listed on first use");
/// assert_eq!(report.kind, Kind::Function);
/// assert_eq!((report.capacity, report.stats.misses, report.stats.loads), (Some(100), 1, 1));
/// ```
pub fn registry() -> Vec<CacheReport> {
    let mut reports = Vec::new();
    LISTED.lock().retain(|cache| match cache.report() {
        Some(report) => {
            reports.push(report);
            true
        }
        None => false,
    });
    reports
}

/// Lists the tiers of a function's cache, just built.
pub(crate) fn enlist_tiers<K, V>(tiers: &Tiers<K, V>)
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    let config = tiers.memory.config();
    let store = match (&tiers.remote, config.local_tier) {
        (None, _) => Storage::Memory,
        (Some(_), true) => Storage::Tiered,
        (Some(_), false) => Storage::Redis,
    };
    enlist(Box::new(TiersWatch {
        namespace: config.namespace_str(),
        store,
        ttl: config.ttl,
        memory: tiers.memory.watch(),
        remote: tiers.remote.as_ref().map(Arc::downgrade),
    }));
}

/// A function's cache, seen weakly.
struct TiersWatch<K, V> {
    namespace: &'static str,
    store: Storage,
    ttl: Option<Duration>,
    memory: StoreWatch<K, V>,
    remote: Option<Weak<dyn RemoteTier<K, V>>>,
}

impl<K, V> Watched for TiersWatch<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    fn report(&self) -> Option<CacheReport> {
        let mut stats = self.memory.stats()?;
        if let Some(remote) = &self.remote {
            stats.add_remote(remote.upgrade()?.stats());
        }
        Some(CacheReport {
            namespace: self.namespace,
            kind: Kind::Function,
            store: self.store,
            capacity: stats.capacity,
            ttl: self.ttl,
            stats,
            #[cfg(feature = "http")]
            http: None,
        })
    }
}
