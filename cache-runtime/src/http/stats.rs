//! What the HTTP cache did, counted per answer: striped per thread like the
//! store's own counters, so that a hit writes no memory another core writes.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crossbeam_utils::CachePadded;
use thread_local::ThreadLocal;

use crate::stats::Stats;

/// A point-in-time summary of one [`HttpCache`](crate::http::HttpCache).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HttpStats {
    /// Answers from the cache without running the handler (`X-Cache: HIT`),
    /// `304`s among them; a request that waited for a concurrent one with
    /// the same key to run the handler counts here.
    pub hits: u64,
    /// Requests that ran the handler (`X-Cache: MISS`), revalidations
    /// (request `no-cache`) included.
    pub misses: u64,
    /// Expired responses served because the handler failed (`X-Cache: STALE`).
    pub stale: u64,
    /// `GET` and `HEAD` requests passed to the handler without the cache
    /// (`X-Cache: BYPASS`): `no-store`, `Authorization`, `Range`, or a key
    /// hook that declined the request.
    pub bypasses: u64,
    /// `304 Not Modified` answers.
    pub not_modified: u64,
    /// Responses of the handler not stored: a status not cached, a
    /// `Set-Cookie`, `Cache-Control: private/no-store/no-cache`, `Vary: *`.
    pub uncacheable: u64,
    /// Responses whose body was passed on untouched, not stored: streamed,
    /// or larger than the body limit.
    pub passed_through: u64,
    /// Invalidations of a path or a path prefix.
    pub invalidations: u64,
    /// The counters of the underlying store (memory, and Redis when used);
    /// a response that varies takes two lookups there, one per level.
    pub store: Stats,
}

/// The outcomes counted.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    Hit,
    Miss,
    Stale,
    Bypass,
    NotModified,
    Uncacheable,
    PassedThrough,
    Invalidation,
}

const EVENTS: usize = 8;

/// Every thread's counters of one cache.
#[derive(Default)]
pub(crate) struct Counters {
    threads: ThreadLocal<CachePadded<[AtomicU64; EVENTS]>>,
}

impl Counters {
    /// Counts `event` on this thread's counters (a load and a store: only
    /// this thread writes them).
    #[inline]
    pub(crate) fn count(&self, event: Event) {
        let counters = self.threads.get_or_default();
        let counter = &counters[event as usize];
        counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Sums every thread's counters.
    pub(crate) fn sum(&self, store: Stats) -> HttpStats {
        let mut sums = [0u64; EVENTS];
        for counters in self.threads.iter() {
            for (sum, counter) in sums.iter_mut().zip(counters.iter()) {
                *sum += counter.load(Relaxed);
            }
        }
        HttpStats {
            hits: sums[Event::Hit as usize],
            misses: sums[Event::Miss as usize],
            stale: sums[Event::Stale as usize],
            bypasses: sums[Event::Bypass as usize],
            not_modified: sums[Event::NotModified as usize],
            uncacheable: sums[Event::Uncacheable as usize],
            passed_through: sums[Event::PassedThrough as usize],
            invalidations: sums[Event::Invalidation as usize],
            store,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_every_thread_add_up() {
        let counters = Counters::default();
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    counters.count(Event::Hit);
                    counters.count(Event::Hit);
                    counters.count(Event::NotModified);
                });
            }
        });
        let stats = counters.sum(Stats::default());
        assert_eq!((stats.hits, stats.not_modified, stats.misses), (6, 3, 0));
    }
}
