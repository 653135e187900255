//! What the benches share: the peers as memoized `u64 -> u64` functions, key
//! streams, the 2-thread timing loop and the ratio tables.
//!
//! Every bench is its own crate that says `mod peers;` and uses a different
//! part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// What every memoized function computes: cheap, so the cache is what is measured.
#[inline]
pub fn body(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

/// Receives every peer, in report order, with its memoized function and a
/// function telling how many entries its cache holds.
pub trait Visit {
    fn peer<F: Fn(u64) -> u64 + Sync>(&mut self, name: &'static str, call: F, len: fn() -> usize);
}

/// The name every ratio is taken against.
pub const BASELINE: &str = "cached";

/// Defines the peers as memoized functions over caches of `$size` entries, and
/// `visit_peers(&mut impl Visit)` to walk them.
#[allow(unused_macros)] // zipf.rs uses the store directly
macro_rules! memoized_peers {
    ($size:tt) => {
        use $crate::peers::body;

        #[memocache::cached(size = $size)]
        fn memocache(n: u64) -> u64 {
            body(n)
        }

        #[memocache::cached(size = $size, ttl = "10m")]
        fn memocache_ttl(n: u64) -> u64 {
            body(n)
        }

        #[cached::macros::cached(max_size = $size)]
        fn cached_lru(n: u64) -> u64 {
            body(n)
        }

        #[cached::macros::concurrent_cached(max_size = $size)]
        fn cached_concurrent(n: u64) -> u64 {
            body(n)
        }

        static MOKA: std::sync::LazyLock<moka::sync::Cache<u64, u64>> =
            std::sync::LazyLock::new(|| moka::sync::Cache::new($size));

        fn moka(n: u64) -> u64 {
            MOKA.get_with(n, || body(n))
        }

        static QUICK: std::sync::LazyLock<quick_cache::sync::Cache<u64, u64>> =
            std::sync::LazyLock::new(|| quick_cache::sync::Cache::new($size));

        fn quick_cache(n: u64) -> u64 {
            let value = QUICK.get_or_insert_with(&n, || Ok::<_, std::convert::Infallible>(body(n)));
            value.unwrap_or_else(|never| match never {})
        }

        type Lru = parking_lot::Mutex<lru::LruCache<u64, u64>>;
        static MUTEX_LRU: std::sync::LazyLock<Lru> = std::sync::LazyLock::new(|| {
            let size = std::num::NonZeroUsize::new($size).expect("size >= 1");
            parking_lot::Mutex::new(lru::LruCache::new(size))
        });

        /// The hand-written memoizer: no lock held while the body runs.
        fn mutex_lru(n: u64) -> u64 {
            if let Some(&value) = MUTEX_LRU.lock().get(&n) {
                return value;
            }
            let value = body(n);
            MUTEX_LRU.lock().put(n, value);
            value
        }

        type FlightLru = parking_lot::Mutex<(
            lru::LruCache<u64, u64>,
            std::collections::HashSet<u64, lru::DefaultHasher>,
        )>;
        static MUTEX_LRU_FLIGHTS: std::sync::LazyLock<FlightLru> = std::sync::LazyLock::new(|| {
            let size = std::num::NonZeroUsize::new($size).expect("size >= 1");
            parking_lot::Mutex::new((lru::LruCache::new(size), Default::default()))
        });

        /// `mutex_lru` plus the least that per-key single-flight adds to a miss:
        /// the cold key is marked in a set, under the lock that found it
        /// absent, and unmarked under the lock that stores its value. It does
        /// not wait on a key marked by another caller (no bench has two callers
        /// of one cold key at once), so it is a floor to compare memocache's
        /// miss path with, not a memoizer to use.
        fn mutex_lru_flights(n: u64) -> u64 {
            {
                let mut guard = MUTEX_LRU_FLIGHTS.lock();
                let (lru, flights) = &mut *guard;
                if let Some(&value) = lru.get(&n) {
                    return value;
                }
                flights.insert(n);
            }
            let value = body(n);
            let mut guard = MUTEX_LRU_FLIGHTS.lock();
            let (lru, flights) = &mut *guard;
            flights.remove(&n);
            lru.put(n, value);
            value
        }

        pub(crate) fn visit_peers(v: &mut impl $crate::peers::Visit) {
            v.peer("memocache", memocache, || MEMOCACHE.len());
            v.peer("memocache_ttl", memocache_ttl, || MEMOCACHE_TTL.len());
            v.peer("cached", cached_lru, || {
                cached::Cached::cache_size(&*CACHED_LRU.read())
            });
            v.peer("cached_concurrent", cached_concurrent, || {
                CACHED_CONCURRENT.len()
            });
            v.peer("moka", moka, || {
                MOKA.run_pending_tasks();
                MOKA.entry_count() as usize
            });
            v.peer("quick_cache", quick_cache, || QUICK.len());
            v.peer("mutex_lru", mutex_lru, || MUTEX_LRU.lock().len());
            v.peer("mutex_lru_flights", mutex_lru_flights, || {
                MUTEX_LRU_FLIGHTS.lock().0.len()
            });
        }
    };
}
#[allow(unused_imports)]
pub(crate) use memoized_peers;

/// SplitMix64: a small, seeded, reproducible generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (the modulo bias is negligible for small bounds).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// `len` keys drawn uniformly from `0..range`.
pub fn random_keys(seed: u64, len: usize, range: u64) -> Vec<u64> {
    let mut rng = Rng(seed);
    (0..len).map(|_| rng.below(range)).collect()
}

/// Calls `f` `iters` times on each of `keys.len()` threads at once (the calling
/// thread alone when there is one stream), thread `t` cycling through `keys[t]`
/// from position `start`. Returns the wall time from the first thread's start to
/// the last thread's end: divided by `iters`, the time per call per thread.
pub fn run_concurrently<F>(keys: &[Vec<u64>], start: u64, iters: u64, f: &F) -> Duration
where
    F: Fn(u64) -> u64 + Sync,
{
    let calls = |keys: &[u64]| {
        let mut at = (start % keys.len() as u64) as usize;
        let began = Instant::now();
        for _ in 0..iters {
            black_box(f(black_box(keys[at])));
            at += 1;
            if at == keys.len() {
                at = 0;
            }
        }
        (began, Instant::now())
    };
    if let [only] = keys {
        let (began, ended) = calls(only);
        return ended - began;
    }
    let barrier = Barrier::new(keys.len());
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = keys
            .iter()
            .map(|keys| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    calls(keys)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect()
    });
    let began = spans.iter().map(|s| s.0).min().expect("threads");
    let ended = spans.iter().map(|s| s.1).max().expect("threads");
    ended - began
}

/// Times every peer it visits in one criterion group, on `keys.len()` threads.
pub struct Timed<'a, 'c> {
    group: BenchmarkGroup<'c, WallTime>,
    keys: &'a [Vec<u64>],
    warm: &'a [u64],
    names: Vec<&'static str>,
}

impl Visit for Timed<'_, '_> {
    fn peer<F: Fn(u64) -> u64 + Sync>(&mut self, name: &'static str, call: F, len: fn() -> usize) {
        self.warm.iter().for_each(|&key| {
            black_box(call(key));
        });
        len(); // lets moka apply its pending writes
        let keys = self.keys;
        let mut start = 0;
        self.group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let elapsed = run_concurrently(keys, start, iters, &call);
                start += iters;
                elapsed
            })
        });
        self.names.push(name);
    }
}

/// Runs the criterion group `name` over the peers `visit` walks, each called
/// first on every `warm` key, then on `keys.len()` threads; prints the ratios.
pub fn time_group<'a>(
    criterion: &'a mut Criterion,
    name: &str,
    keys: &'a [Vec<u64>],
    warm: &'a [u64],
    visit: impl FnOnce(&mut Timed<'a, 'a>),
) {
    median_ns("", ""); // fixes the time results must be newer than
    let cores_before = cores_free(keys.len());
    let mut timed = Timed {
        group: criterion.benchmark_group(name),
        keys,
        warm,
        names: Vec::new(),
    };
    visit(&mut timed);
    timed.group.finish();
    if print_ratios(name, &timed.names) && keys.len() > 1 {
        // With a core taken by another process the threads take turns and the
        // lock-based peers stop paying for contention: such a run misleads.
        let after = cores_free(keys.len());
        println!(
            "  cores free for the {} threads: {cores_before:.1} before, {after:.1} after",
            keys.len()
        );
    }
}

/// How many of `threads` threads run at the same moment now: the time of a busy
/// loop on one thread against the same loop on each of `threads` threads.
pub fn cores_free(threads: usize) -> f64 {
    let spin = |keys: &[Vec<u64>]| run_concurrently(keys, 0, 20_000_000, &body).as_secs_f64();
    let one = spin(&[vec![1]]);
    threads as f64 * one / spin(&vec![vec![1]; threads])
}

/// Where criterion writes its results (its own rule: `CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `target/criterion`).
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
    PathBuf::from(target).join("criterion")
}

/// The median, in nanoseconds, of `group/function` if this process measured it.
pub fn median_ns(group: &str, function: &str) -> Option<f64> {
    static STARTED: OnceLock<SystemTime> = OnceLock::new();
    let started = *STARTED.get_or_init(SystemTime::now); // first called before any group ends
    let path = criterion_home()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < started {
        return None; // left by an earlier run (filtered out of this one)
    }
    let json = std::fs::read_to_string(path).ok()?;
    // {"mean":{..},"median":{"confidence_interval":{..},"point_estimate":X,..},..}
    let median = &json[json.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    value[..value.find([',', '}'])?].trim().parse().ok()
}

/// Prints the medians of `group` this process measured, with their ratios to
/// [`BASELINE`] when it was measured too; tells whether there were any.
pub fn print_ratios(group: &str, names: &[&str]) -> bool {
    let measured: Vec<(&str, f64)> = names
        .iter()
        .filter_map(|&name| Some((name, median_ns(group, name)?)))
        .collect();
    if measured.is_empty() {
        return false; // `--test` mode, or filtered out
    }
    let base = median_ns(group, BASELINE);
    println!("\n{group}: median ns per call (per thread), ratio to `{BASELINE}`");
    for (name, median) in measured {
        match base {
            Some(base) => println!("  {name:<18} {median:>9.2} ns  {:>6.2}x", median / base),
            None => println!("  {name:<18} {median:>9.2} ns"),
        }
    }
    if let (Some(ttl), Some(plain)) = (
        median_ns(group, "memocache_ttl"),
        median_ns(group, "memocache"),
    ) {
        println!("  memocache_ttl / memocache: {:.2}x", ttl / plain);
    }
    true
}
