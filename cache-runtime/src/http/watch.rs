//! An [`HttpCache`] in the registry.

use std::sync::{Arc, Weak};

use crate::http::cache::Shared;
use crate::http::{HttpCache, Store};
use crate::stats::Stats;
use crate::watch::registry::{self, CacheReport, Kind, Storage, Watched};

/// Lists `cache` in the registry, weakly.
pub(crate) fn enlist(cache: &HttpCache) {
    registry::enlist(Box::new(Arc::downgrade(&cache.shared)));
}

impl Watched for Weak<Shared> {
    fn report(&self) -> Option<CacheReport> {
        let cache = HttpCache {
            shared: self.upgrade()?,
        };
        let http = cache.stats();
        Some(CacheReport {
            namespace: cache.namespace(),
            kind: Kind::Http,
            store: match cache.store() {
                Store::Memory => Storage::Memory,
                #[cfg(feature = "redis")]
                Store::Redis => Storage::Redis,
                #[cfg(feature = "redis")]
                Store::Tiered => Storage::Tiered,
            },
            capacity: http.store.capacity,
            ttl: Some(cache.shared.settings.ttl),
            // Its answers, rather than its store's lookups (a response that
            // varies takes two, an invalidated one is found then refused).
            stats: Stats {
                hits: http.hits,
                misses: http.misses,
                ..http.store
            },
            http: Some(http),
        })
    }
}
