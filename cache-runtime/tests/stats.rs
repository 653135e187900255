//! `Stats`: hits, misses, evictions, expirations, errors, len, capacity and
//! `hit_ratio()` under known sequences, and per-thread counters that add up.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

use common::at_once;
use memocache_runtime::{
    call_sync, Cache, Clock, Config, Fallible, MemoryStore, Plain, Stats, DEFAULT_SIZE,
};

#[test]
fn a_fresh_cache_reports_zeros_and_its_capacity() {
    static SIZED: Cache<u32, u32> = Cache::new(Config::new("stats::sized").size(4));
    static UNBOUNDED: Cache<u32, u32> = Cache::new(Config::new("stats::unbounded").unbounded());
    static DEFAULT: Cache<u32, u32> = Cache::new(Config::new("stats::default"));
    let zero = Stats::default();
    assert_eq!(
        SIZED.stats(),
        Stats {
            capacity: Some(4),
            ..zero
        }
    );
    assert_eq!(
        UNBOUNDED.stats(),
        Stats {
            capacity: None,
            ..zero
        }
    );
    assert_eq!(DEFAULT.stats().capacity, Some(DEFAULT_SIZE));
    assert_eq!(SIZED.stats().hit_ratio(), 0.0, "no calls yet");
}

#[test]
fn hits_misses_and_hit_ratio_follow_a_known_sequence() {
    static CACHE: Cache<u32, u32> = Cache::new(Config::new("stats::sequence").size(64));
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let call = |n: u32| {
        call_sync(&CACHE, n, Plain, || {
            RUNS.fetch_add(1, SeqCst);
            n * n
        })
    };
    for n in [1, 2, 1, 1, 3, 2] {
        call(n);
    }
    let stats = CACHE.stats();
    assert_eq!((stats.hits, stats.misses, stats.len), (3, 3, 3));
    assert_eq!(stats.hit_ratio(), 0.5);
    assert_eq!(
        RUNS.load(SeqCst) as u64,
        stats.misses,
        "a miss is a body run"
    );

    // get, insert and invalidate are not calls: they count nothing.
    assert_eq!(CACHE.get(&1), Some(1));
    assert_eq!(CACHE.get(&9), None);
    CACHE.insert(4, 16);
    assert!(CACHE.invalidate(&1));
    let stats = CACHE.stats();
    assert_eq!((stats.hits, stats.misses, stats.len), (3, 3, 3));

    call(1); // invalidated: a miss
    call(4); // inserted: a hit
    for _ in 0..10 {
        call(3);
    }
    let stats = CACHE.stats();
    assert_eq!((stats.hits, stats.misses), (14, 4));
    assert!((stats.hit_ratio() - 14.0 / 18.0).abs() < 1e-12);
    assert_eq!(
        (stats.evictions, stats.expirations, stats.errors),
        (0, 0, 0)
    );
}

#[test]
fn evictions_and_len_follow_a_known_sequence() {
    let (clock, _time) = Clock::mock();
    let store = MemoryStore::with_shards(Config::new("stats::evict").size(3), clock, 1);
    for k in 1..=5u32 {
        store.insert(k, k);
    }
    let stats = store.stats();
    assert_eq!(
        (stats.evictions, stats.len, stats.capacity),
        (2, 3, Some(3))
    );
    assert_eq!(stats.len, store.len());
    store.insert(5, 50); // a replacement is not an eviction
    assert!(store.remove(&5)); // nor is a removal
    assert_eq!((store.stats().evictions, store.stats().len), (2, 2));
    store.clear(); // nor is clearing
    assert_eq!((store.stats().evictions, store.stats().len), (2, 0));
}

#[test]
fn with_default_shards_every_insert_is_held_or_evicted() {
    let store = MemoryStore::new(Config::new("stats::conservation").size(8));
    for k in 0..100u32 {
        store.insert(k, k);
    }
    let stats = store.stats();
    assert!(stats.len <= 8);
    assert_eq!(stats.evictions + stats.len as u64, 100);
    assert_eq!(stats.len, store.len());
}

#[test]
fn counts_from_several_threads_add_up() {
    const THREADS: u32 = 4;
    const KEYS: u32 = 100;
    const ROUNDS: u32 = 10;
    static CACHE: Cache<u32, u32> = Cache::new(Config::new("stats::threads").unbounded());

    let run = |base: u32| {
        at_once(THREADS as usize, |t| {
            let t = t as u32;
            for _ in 0..ROUNDS {
                for k in 0..KEYS {
                    let key = base + t * 1000 + k;
                    assert_eq!(call_sync(&CACHE, key, Plain, || key), key);
                }
            }
            // Everyone also hammers one shared, warm key.
            for _ in 0..1000 {
                assert_eq!(call_sync(&CACHE, u32::MAX, Plain, || u32::MAX), u32::MAX);
            }
        });
    };
    CACHE.insert(u32::MAX, u32::MAX);
    run(0);
    // The threads have exited: their counts must still be there.
    let per_run_misses = u64::from(THREADS * KEYS);
    let per_run_hits = u64::from(THREADS * KEYS * (ROUNDS - 1) + THREADS * 1000);
    let stats = CACHE.stats();
    assert_eq!((stats.hits, stats.misses), (per_run_hits, per_run_misses));
    // New threads (which may reuse the exited threads' slots) add to the totals.
    run(100_000);
    let stats = CACHE.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (2 * per_run_hits, 2 * per_run_misses)
    );
    assert_eq!(stats.len, 2 * (THREADS * KEYS) as usize + 1);
}

#[test]
fn err_results_are_not_store_errors() {
    static CACHE: Cache<u32, u32> = Cache::new(Config::new("stats::errors").size(8));
    for _ in 0..3 {
        let r: Result<u32, &str> = call_sync(&CACHE, 1, Fallible, || Err("down"));
        assert_eq!(r, Err("down"));
    }
    let stats = CACHE.stats();
    assert_eq!((stats.misses, stats.errors, stats.len), (3, 0, 0));
    CACHE.store().record_error();
    thread::spawn(|| CACHE.store().record_error())
        .join()
        .unwrap();
    assert_eq!(CACHE.stats().errors, 2);
}

#[test]
fn a_stale_value_served_on_error_counts_as_a_miss() {
    static CACHE: Cache<u32, u32> = Cache::new(
        Config::new("stats::stale")
            .size(8)
            .ttl(Duration::from_secs(1))
            .stale_if_error(),
    );
    let (clock, time) = Clock::mock();
    assert!(CACHE.use_clock(clock));
    let ok: Result<u32, &str> = call_sync(&CACHE, 1, Fallible, || Ok(1));
    assert_eq!(ok, Ok(1));
    time.advance(Duration::from_secs(1));
    let stale: Result<u32, &str> = call_sync(&CACHE, 1, Fallible, || Err("down"));
    assert_eq!(stale, Ok(1));
    let stats = CACHE.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (0, 2),
        "the body ran both times"
    );
    assert_eq!(
        (stats.len, stats.expirations),
        (1, 0),
        "kept, to be served again"
    );
}
