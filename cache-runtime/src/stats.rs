//! Hit, miss, error and load counters that never make two cores write one
//! cache line.
//!
//! Each thread bumps its own [`ThreadCounters`] (a plain load and store, no
//! locked instruction); [`Counters::add_to`] sums them when someone asks.
//! Loads are counted apart, in atomics of the cache (see [`Loads`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

use crate::remote::tier::RemoteStats;

/// A point-in-time summary of one cache.
///
/// Its `Display` is one line for a log or a terminal; with the `serde`
/// feature it is `Serialize` (durations as seconds, a float).
///
/// ```
/// use memocache_runtime::{call_sync, Cache, Config, Plain};
///
/// static SQUARES: Cache<u64, u64> = Cache::new(Config::new("docs::squares").size(100));
/// let square = |n: u64| call_sync(&SQUARES, n, Plain, || n * n);
/// square(3);
/// square(3);
/// let stats = SQUARES.stats();
/// assert_eq!((stats.hits, stats.misses, stats.loads), (1, 1, 1));
/// println!("{stats}"); // hits 1, misses 1 (50.0% hits), loads 1 (0 failed, mean 1µs), ...
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
    /// Runs of the function's body (misses that computed the value, not
    /// those that waited for a concurrent call to compute it): with
    /// single-flight, one per cold key however many callers asked. An HTTP
    /// cache counts runs of its handler.
    pub loads: u64,
    /// Loads that gave the cache nothing to keep: the body returned `Err`
    /// (a `Result` function), returned a value the cache does not store
    /// (`None` with `skip_none`), panicked, or (async) was dropped before it
    /// finished. A stale value served in its place (`stale_if_error`) does
    /// not make a failed load good.
    pub load_failures: u64,
    /// Time spent in loads, failed ones included: what the cache saves on
    /// each hit is about [`Stats::mean_load_time`].
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub load_time: Duration,
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

    /// `load_time / loads`: how long one run of the body takes on average
    /// (as Caffeine's `averageLoadPenalty`); zero before the first load.
    pub fn mean_load_time(&self) -> Duration {
        match u32::try_from(self.loads) {
            Ok(0) => Duration::ZERO,
            Ok(loads) => self.load_time / loads,
            Err(_) => Duration::from_secs_f64(self.load_time.as_secs_f64() / self.loads as f64),
        }
    }

    /// Adds the counters of a remote tier: its failures and timeouts count
    /// as errors of the cache.
    pub(crate) fn add_remote(&mut self, remote: RemoteStats) {
        self.errors += remote.errors + remote.timeouts;
        self.remote = Some(remote);
    }
}

/// One line: `hits 90, misses 10 (90.0% hits), loads 10 (1 failed, mean
/// 12.5ms), evictions 0, expirations 2, errors 0, entries 8/1000`.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hits {}, misses {} ({:.1}% hits), loads {} ({} failed, mean {:?}), \
             evictions {}, expirations {}, errors {}, entries {}",
            self.hits,
            self.misses,
            self.hit_ratio() * 100.0,
            self.loads,
            self.load_failures,
            self.mean_load_time(),
            self.evictions,
            self.expirations,
            self.errors,
            self.len,
        )?;
        match self.capacity {
            Some(capacity) => write!(f, "/{capacity}"),
            None => f.write_str(" (unbounded)"),
        }
    }
}

/// Serializes a duration as seconds, a float: what a dashboard reads.
#[cfg(feature = "serde")]
pub(crate) fn seconds<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
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

/// The loads of one cache, counted with atomic adds: a load runs the body,
/// so it is never on the hit path, and it must not reach this thread's
/// counters through the store's per-thread map, whose first use on a thread
/// would break calls made later from that thread's thread-local destructors
/// (`tests/thread_slot.rs`); an async body may also end on another thread
/// than the one whose counters its call used.
#[derive(Default)]
pub(crate) struct Loads {
    loads: AtomicU64,
    failures: AtomicU64,
    nanos: AtomicU64,
}

impl Loads {
    /// Counts one run of the body that took `took`; `failed`: it gave the
    /// cache nothing to keep.
    pub(crate) fn count(&self, took: Duration, failed: bool) {
        self.loads.fetch_add(1, Relaxed);
        if failed {
            self.failures.fetch_add(1, Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Relaxed);
    }
}

/// Every thread's counters of one cache, and its loads.
#[derive(Default)]
pub(crate) struct Counters {
    threads: Mutex<Vec<Arc<ThreadCounters>>>,
    // Apart from the lock word, which every new thread of the cache writes.
    pub(crate) loads: CachePadded<Loads>,
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
        into.loads += self.loads.loads.load(Relaxed);
        into.load_failures += self.loads.failures.load(Relaxed);
        into.load_time += Duration::from_nanos(self.loads.nanos.load(Relaxed));
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
                    counters.loads.count(Duration::from_millis(3), false);
                    counters.loads.count(Duration::from_millis(5), true);
                });
            }
        });
        let mut stats = Stats::default();
        counters.add_to(&mut stats);
        assert_eq!((stats.hits, stats.misses, stats.errors), (4000, 4, 4));
        assert!((stats.hit_ratio() - 4000.0 / 4004.0).abs() < 1e-12);
        assert_eq!((stats.loads, stats.load_failures), (8, 4));
        assert_eq!(stats.load_time, Duration::from_millis(32));
        assert_eq!(stats.mean_load_time(), Duration::from_millis(4));
    }

    #[test]
    fn display_is_one_line_with_every_counter() {
        let stats = Stats {
            hits: 90,
            misses: 10,
            loads: 10,
            load_failures: 1,
            load_time: Duration::from_millis(125),
            expirations: 2,
            len: 8,
            capacity: Some(1000),
            ..Stats::default()
        };
        assert_eq!(
            stats.to_string(),
            "hits 90, misses 10 (90.0% hits), loads 10 (1 failed, mean 12.5ms), \
             evictions 0, expirations 2, errors 0, entries 8/1000"
        );
        let unbounded = Stats::default().to_string();
        assert!(unbounded.ends_with("entries 0 (unbounded)"), "{unbounded}");
        assert_eq!(Stats::default().mean_load_time(), Duration::ZERO);
    }
}
