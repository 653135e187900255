//! Hit, miss and error counters that never make two cores write one cache line.
//!
//! Each thread bumps its own [`ThreadCounters`] (a plain load and store, no
//! locked instruction); [`Counters::add_to`] sums them when someone asks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::remote::tier::RemoteStats;

/// A point-in-time summary of one cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls answered from the cache: from process memory, or from the remote
    /// tier (Redis) by the caller that asked it.
    pub hits: u64,
    /// Calls that ran the function (or waited for a concurrent call of it).
    pub misses: u64,
    /// Entries removed to make room.
    pub evictions: u64,
    /// Entries found expired and reclaimed.
    pub expirations: u64,
    /// Store failures and timeouts (for example an unreachable Redis); each
    /// one was served as a miss or a skipped write.
    pub errors: u64,
    /// Entries held now.
    pub len: usize,
    /// The bound on entries; `None` when unbounded.
    pub capacity: Option<usize>,
    /// The remote tier's own counters, for a cache that has one.
    pub remote: Option<RemoteStats>,
}

impl Stats {
    /// `hits / (hits + misses)`, or 0 before the first call.
    pub fn hit_ratio(&self) -> f64 {
        let calls = self.hits + self.misses;
        if calls == 0 {
            0.0
        } else {
            self.hits as f64 / calls as f64
        }
    }
}

/// The counters one thread writes (and any thread may read).
#[derive(Default)]
pub(crate) struct ThreadCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    /// Misses, counted as the call claimed its key, that the remote tier then answered.
    remote_hits: AtomicU64,
}

/// Adds one to a counter only this thread writes.
#[inline]
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

impl ThreadCounters {
    #[inline]
    pub(crate) fn hit(&self) {
        bump(&self.hits);
    }

    #[inline]
    pub(crate) fn miss(&self) {
        bump(&self.misses);
    }

    #[inline]
    pub(crate) fn error(&self) {
        bump(&self.errors);
    }

    pub(crate) fn remote_hit(&self) {
        bump(&self.remote_hits);
    }
}

/// Every thread's counters of one cache.
#[derive(Default)]
pub(crate) struct Counters {
    threads: Mutex<Vec<Arc<ThreadCounters>>>,
}

impl Counters {
    /// Counters for a thread that has just started using the cache.
    pub(crate) fn register(&self) -> Arc<ThreadCounters> {
        let counters = Arc::<ThreadCounters>::default();
        self.threads.lock().push(counters.clone());
        counters
    }

    /// Sums every thread's counters into `into`.
    pub(crate) fn add_to(&self, into: &mut Stats) {
        // A task may count its miss on one thread and its remote hit on another.
        let mut remote_hits = 0;
        for counters in self.threads.lock().iter() {
            into.hits += counters.hits.load(Relaxed);
            into.misses += counters.misses.load(Relaxed);
            into.errors += counters.errors.load(Relaxed);
            remote_hits += counters.remote_hits.load(Relaxed);
        }
        into.hits += remote_hits;
        into.misses = into.misses.saturating_sub(remote_hits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counters = Counters::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let mine = counters.register();
                    for _ in 0..1000 {
                        mine.hit();
                    }
                    mine.miss();
                    mine.error();
                });
            }
        });
        let mut stats = Stats::default();
        counters.add_to(&mut stats);
        assert_eq!((stats.hits, stats.misses, stats.errors), (4000, 4, 4));
        assert!((stats.hit_ratio() - 4000.0 / 4004.0).abs() < 1e-12);
    }
}
