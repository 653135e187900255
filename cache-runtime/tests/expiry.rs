//! Expiry with a mock clock: TTL, sliding TTL, negative caching, per-value TTL,
//! stale-if-error, and the per-thread front tables never serving what another
//! thread has expired, invalidated or replaced.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use common::{counting_clones, CountedKey};
use memocache_runtime::{call_sync, Cache, Clock, Config, Fallible, Lookup, MemoryStore, Plain};

const SEC: Duration = Duration::from_secs(1);
/// 2^-9 s: exact both in nanoseconds and in 2^-32 s clock ticks.
const UNIT: Duration = Duration::from_nanos(1_953_125);

#[test]
fn ttl_hits_until_the_deadline_then_misses_and_is_reclaimed() {
    let (clock, time) = Clock::mock();
    let store = MemoryStore::with_clock(Config::new("ttl").size(16).ttl(10 * SEC), clock);
    store.insert(CountedKey(1), 100u32);
    // The first lookup reads the shard, the next ones this thread's front table.
    assert_eq!(
        counting_clones(|| store.lookup(&CountedKey(1))),
        (Lookup::Hit(100), 1)
    );
    assert_eq!(
        counting_clones(|| store.lookup(&CountedKey(1))),
        (Lookup::Hit(100), 0)
    );

    time.advance(10 * SEC - UNIT);
    assert_eq!(
        store.lookup(&CountedKey(1)),
        Lookup::Hit(100),
        "live until the deadline"
    );
    assert_eq!(store.get(&CountedKey(1)), Some(100));

    time.advance(UNIT);
    // `get` sees it expired but does not reclaim it.
    assert_eq!(store.get(&CountedKey(1)), None);
    assert_eq!((store.len(), store.stats().expirations), (1, 0));
    // The front copy is expired too: lookup misses and reclaims the entry.
    assert_eq!(store.lookup(&CountedKey(1)), Lookup::Miss);
    let stats = store.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (3, 1),
        "an expired entry is not a hit"
    );
    assert_eq!((stats.len, stats.expirations, stats.evictions), (0, 1, 0));
    assert_eq!(store.lookup(&CountedKey(1)), Lookup::Miss);
    assert_eq!(store.stats().expirations, 1, "reclaimed once");
}

#[test]
fn ttl_through_call_sync_runs_the_body_again_after_expiry() {
    static CACHE: Cache<u32, u32> = Cache::new(Config::new("ttl::call").size(16).ttl(SEC));
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let (clock, time) = Clock::mock();
    assert!(CACHE.use_clock(clock), "installed before first use");
    assert!(!CACHE.use_clock(Clock::mock().0), "too late once in use");
    let call = || call_sync(&CACHE, 1, Plain, || RUNS.fetch_add(1, SeqCst) as u32);
    assert_eq!((call(), call()), (0, 0));
    time.advance(SEC);
    assert_eq!((call(), call()), (1, 1));
    assert_eq!(RUNS.load(SeqCst), 2);
    let stats = CACHE.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.expirations, stats.len),
        (2, 2, 1, 1)
    );
}

/// Many small advances add up to one large one: an entry with a TTL of 10 ms is
/// expired once the mock clock has been advanced by 1 ms ten times.
#[test]
fn small_mock_clock_steps_add_up_to_the_ttl() {
    for (step, steps) in [
        (Duration::from_millis(1), 10u32),
        (Duration::from_millis(2), 5),
        (Duration::from_micros(100), 100),
        (Duration::from_millis(100), 100),
    ] {
        let ttl = step * steps;
        let (clock, time) = Clock::mock();
        let store = MemoryStore::with_clock(Config::new("steps").size(4).ttl(ttl), clock);
        store.insert(1u8, 1u8);
        for _ in 0..steps - 1 {
            time.advance(step);
        }
        assert_eq!(
            store.get(&1),
            Some(1),
            "{steps} x {step:?} - 1 step: still live"
        );
        time.advance(step);
        assert_eq!(
            store.get(&1),
            None,
            "after {steps} x {step:?} = {ttl:?} an entry with a TTL of {ttl:?} must be expired"
        );
    }
}

#[test]
fn expired_entries_are_reclaimed_by_lru_pressure_and_counted_as_expirations() {
    let (clock, time) = Clock::mock();
    let store = MemoryStore::with_shards(Config::new("pressure").size(2).ttl(SEC), clock, 1);
    store.insert(1u8, 10u8);
    store.insert(2, 20);
    time.advance(SEC);
    store.insert(3, 30); // pushes out 1, which had expired
    let stats = store.stats();
    assert_eq!((stats.expirations, stats.evictions, stats.len), (1, 0, 2));
    store.insert(4, 40); // pushes out 2, expired as well
    store.insert(5, 50); // pushes out 3, live
    let stats = store.stats();
    assert_eq!((stats.expirations, stats.evictions, stats.len), (2, 1, 2));
    assert_eq!((store.get(&4), store.get(&5)), (Some(40), Some(50)));
}

#[test]
fn sliding_ttl_is_renewed_by_hits_only() {
    let (clock, time) = Clock::mock();
    // One shard each: with the default sharding two keys may share a shard of
    // one entry (see `a_store_of_size_n_holds_n_distinct_keys`).
    let sliding = MemoryStore::with_shards(
        Config::new("sliding").size(8).ttl(10 * SEC).sliding(),
        clock.clone(),
        1,
    );
    let fixed = MemoryStore::with_shards(Config::new("fixed").size(8).ttl(10 * SEC), clock, 1);
    for store in [&sliding, &fixed] {
        store.insert(1u8, 1u8);
        store.insert(2, 2); // never looked up
    }
    for _ in 0..3 {
        time.advance(6 * SEC);
        assert_eq!(
            sliding.lookup(&1),
            Lookup::Hit(1),
            "renewed by the previous hit"
        );
        // `get` does not renew.
        assert_eq!(sliding.get(&1), Some(1));
    }
    assert_eq!(sliding.get(&2), None, "no hits, no renewal");
    assert_eq!(
        fixed.lookup(&1),
        Lookup::Miss,
        "a fixed TTL is not renewed by hits"
    );

    time.advance(10 * SEC - UNIT);
    assert_eq!(sliding.get(&1), Some(1));
    time.advance(UNIT);
    assert_eq!(
        sliding.lookup(&1),
        Lookup::Miss,
        "expires 10 s after the last hit"
    );
}

#[test]
fn none_ttl_gives_none_results_their_own_ttl() {
    static CACHE: Cache<u32, Option<u32>> = Cache::new(
        Config::new("none_ttl")
            .size(16)
            .ttl(Duration::from_secs(60))
            .none_ttl(Duration::from_secs(5))
            .is_none(Option::is_none),
    );
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let (clock, time) = Clock::mock();
    assert!(CACHE.use_clock(clock));
    let find = |id: u32| {
        call_sync(&CACHE, id, Plain, || {
            RUNS.fetch_add(1, SeqCst);
            (id % 2 == 0).then_some(id * 10)
        })
    };
    assert_eq!((find(1), find(2)), (None, Some(20)));
    assert_eq!((find(1), find(2)), (None, Some(20)), "None is cached too");
    assert_eq!(RUNS.load(SeqCst), 2);

    time.advance(Duration::from_secs(5));
    assert_eq!(CACHE.get(&1), None, "None expired after none_ttl");
    assert_eq!(CACHE.get(&2), Some(Some(20)));
    assert_eq!(find(1), None);
    assert_eq!(RUNS.load(SeqCst), 3);
    assert_eq!(CACHE.get(&1), Some(None), "None cached again for 5 s");

    time.advance(Duration::from_secs(55) - UNIT);
    assert_eq!(CACHE.get(&2), Some(Some(20)), "Some lives for the full ttl");
    assert_eq!(CACHE.get(&1), None);
    time.advance(UNIT);
    assert_eq!(CACHE.get(&2), None, "Some expired after ttl");
}

#[test]
fn skip_none_stores_no_none() {
    static CACHE: Cache<u32, Option<u32>> = Cache::new(
        Config::new("skip_none")
            .size(16)
            .skip_none()
            .is_none(Option::is_none),
    );
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let find = |id: u32| {
        call_sync(&CACHE, id, Plain, || {
            RUNS.fetch_add(1, SeqCst);
            (id % 2 == 0).then_some(id)
        })
    };
    for _ in 0..3 {
        assert_eq!((find(1), find(2)), (None, Some(2)));
    }
    assert_eq!(RUNS.load(SeqCst), 3 + 1, "None ran every time, Some once");
    assert_eq!(CACHE.len(), 1);
    CACHE.insert(3, None);
    assert_eq!(CACHE.len(), 1, "insert of a skipped value stores nothing");
}

/// After `insert(k, v)`, `get(k)` never returns a value older than `v`. With
/// `skip_none`, inserting `None` stores nothing, so it must drop what was held:
/// a service that deletes row 1 and records it with `insert(1, None)` must not
/// keep serving the deleted row.
///
/// FAILS: `MemoryStore::insert` (store.rs) returns early for a skipped value
/// and leaves the older entry in place.
#[test]
fn inserting_a_skipped_none_drops_the_older_value() {
    static CACHE: Cache<u32, Option<u32>> = Cache::new(
        Config::new("skip_none::insert")
            .size(16)
            .skip_none()
            .is_none(Option::is_none),
    );
    CACHE.insert(1, Some(1));
    CACHE.insert(1, None);
    assert_eq!(CACHE.get(&1), None, "the replaced Some(1) is still served");
    assert_eq!(call_sync(&CACHE, 1, Plain, || None), None);
}

#[test]
fn ttl_fn_sets_a_ttl_per_value_and_falls_back_to_ttl() {
    fn ttl_of(value: &u32) -> Option<Duration> {
        (*value != 0).then(|| Duration::from_secs(u64::from(*value)))
    }
    let (clock, time) = Clock::mock();
    let store = MemoryStore::with_shards(
        Config::new("ttl_fn")
            .size(16)
            .ttl(Duration::from_secs(100))
            .ttl_fn(ttl_of),
        clock,
        1,
    );
    store.insert("one", 1u32);
    store.insert("five", 5);
    store.insert("default", 0);
    let live =
        |store: &MemoryStore<&str, u32>| ["one", "five", "default"].map(|k| store.get(k).is_some());
    assert_eq!(live(&store), [true, true, true]);
    time.advance(SEC);
    assert_eq!(live(&store), [false, true, true]);
    time.advance(4 * SEC);
    assert_eq!(live(&store), [false, false, true]);
    time.advance(95 * SEC - UNIT);
    assert_eq!(live(&store), [false, false, true]);
    time.advance(UNIT);
    assert_eq!(live(&store), [false, false, false]);
}

#[test]
fn stale_if_error_serves_the_expired_value_on_err_only() {
    static CACHE: Cache<u32, u32> = Cache::new(
        Config::new("stale")
            .size(16)
            .ttl(Duration::from_secs(10))
            .stale_if_error(),
    );
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let (clock, time) = Clock::mock();
    assert!(CACHE.use_clock(clock));
    let call = |result: Result<u32, &'static str>| {
        call_sync(&CACHE, 1, Fallible, || {
            RUNS.fetch_add(1, SeqCst);
            result
        })
    };
    assert_eq!(call(Ok(1)), Ok(1));
    assert_eq!(
        call(Err("down")),
        Ok(1),
        "a live hit; the body does not run"
    );
    assert_eq!(RUNS.load(SeqCst), 1);

    time.advance(Duration::from_secs(10) + 3 * UNIT);
    assert_eq!(
        CACHE.store().lookup(&1),
        Lookup::Stale {
            value: 1,
            expired_for: 3 * UNIT
        }
    );
    assert_eq!(CACHE.get(&1), None, "get never returns an expired value");
    assert_eq!(
        call(Err("down")),
        Ok(1),
        "expired, body failed: the stale value"
    );
    assert_eq!(RUNS.load(SeqCst), 2, "the body did run");
    assert_eq!(
        call(Err("still down")),
        Ok(1),
        "re-armed for the retry window: served again"
    );
    assert_eq!(
        RUNS.load(SeqCst),
        2,
        "the failing body is left alone in the window"
    );
    time.advance(memocache_runtime::DEFAULT_STALE_RETRY + UNIT);
    assert_eq!(
        call(Ok(2)),
        Ok(2),
        "window passed, body succeeded: the new value"
    );
    assert_eq!(CACHE.get(&1), Some(2), "and it is stored");
    assert_eq!(call(Err("down")), Ok(2), "a live hit");
    assert_eq!(RUNS.load(SeqCst), 3);

    // A key that never had a good value gets the error.
    let other: Result<u32, &str> = call_sync(&CACHE, 2, Fallible, || Err("down"));
    assert_eq!(other, Err("down"));
}

#[test]
fn without_stale_if_error_an_expired_value_is_not_served_on_err() {
    static CACHE: Cache<u32, u32> = Cache::new(
        Config::new("no_stale")
            .size(16)
            .ttl(Duration::from_secs(10)),
    );
    let (clock, time) = Clock::mock();
    assert!(CACHE.use_clock(clock));
    let first: Result<u32, &str> = call_sync(&CACHE, 1, Fallible, || Ok(1));
    assert_eq!(first, Ok(1));
    time.advance(Duration::from_secs(10));
    let second: Result<u32, &str> = call_sync(&CACHE, 1, Fallible, || Err("down"));
    assert_eq!(second, Err("down"));
    assert_eq!(CACHE.len(), 0, "reclaimed on lookup");
}

/// What another thread does to a key that thread A holds in its front table.
#[derive(Clone, Copy, Debug)]
enum Change {
    Remove,
    Replace,
    Clear,
    Expire,
    /// Push the key out of its (single) shard by inserting other keys.
    Evict,
}

/// Thread A hits a key until its front table serves it, thread B changes the
/// key, and A's very next lookup must see the change.
#[test]
fn front_tables_never_serve_what_another_thread_changed() {
    for change in [
        Change::Remove,
        Change::Replace,
        Change::Clear,
        Change::Expire,
        Change::Evict,
    ] {
        let (clock, time) = Clock::mock();
        let store = MemoryStore::with_shards(Config::new("front").size(4).ttl(10 * SEC), clock, 1);
        let step = Barrier::new(2);
        store.insert(CountedKey(1), 100u32);
        thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(
                    counting_clones(|| store.lookup(&CountedKey(1))),
                    (Lookup::Hit(100), 1)
                );
                for _ in 0..10 {
                    assert_eq!(
                        counting_clones(|| store.lookup(&CountedKey(1))),
                        (Lookup::Hit(100), 0),
                        "served by A's front table"
                    );
                }
                step.wait(); // A's front holds the key
                step.wait(); // B changed it
                let expected = match change {
                    Change::Replace => Lookup::Hit(200),
                    _ => Lookup::Miss,
                };
                assert_eq!(store.lookup(&CountedKey(1)), expected, "A after {change:?}");
            });
            step.wait();
            match change {
                Change::Remove => assert!(store.remove(&CountedKey(1))),
                Change::Replace => store.insert(CountedKey(1), 200),
                Change::Clear => store.clear(),
                Change::Expire => time.advance(10 * SEC),
                Change::Evict => (2..=5).for_each(|k| store.insert(CountedKey(k), k.into())),
            }
            step.wait();
        });
    }
}

/// The same through `call_sync`, `invalidate` and `insert` of a `Cache`.
#[test]
fn cache_calls_on_another_thread_see_invalidate_and_insert_at_once() {
    static CACHE: Cache<u32, u32> = Cache::new(Config::new("front::cache").size(64));
    let step = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| {
            let call = || call_sync(&CACHE, 1, Plain, || 1);
            for _ in 0..100 {
                assert_eq!(call(), 1);
            }
            step.wait();
            step.wait(); // invalidated
            assert_eq!(call_sync(&CACHE, 1, Plain, || 2), 2, "the body ran again");
            for _ in 0..100 {
                assert_eq!(call(), 2);
            }
            step.wait();
            step.wait(); // replaced by insert
            assert_eq!(call(), 3);
            step.wait();
            step.wait(); // cleared
            assert_eq!(call_sync(&CACHE, 1, Plain, || 4), 4);
        });
        step.wait();
        assert!(CACHE.invalidate(&1));
        step.wait();
        step.wait();
        CACHE.insert(1, 3);
        step.wait();
        step.wait();
        CACHE.clear();
        step.wait();
    });
    assert_eq!(CACHE.get(&1), Some(4));
}
