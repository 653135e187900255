//! Single-flight of `call_sync`, the function `#[cached]` expands to.
//!
//! No test sleeps to make a race come out right. Where a leader must hold its
//! flight open until the other callers have *joined* it, the key is a
//! `TracedKey`: a caller joins as a waiter by finding the leader's key in the
//! flight map under the flight lock, which compares the two keys, and the
//! leader cannot land without that lock. So once every other caller has
//! compared keys (and nothing else compares them: the store is empty for that
//! key), every one of them is a waiter of this very flight, deterministically.
//! Every wait has a deadline and every scenario runs under `within`, so a
//! broken guarantee fails the test instead of hanging it.

mod common;

use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::{self, ThreadId};
use std::time::Duration;

use common::{at_once, wait_until, within, Comparers, Latch, TracedKey, PATIENCE};
use memocache_runtime::{call_sync, Cache, Config, Fallible, Plain};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn one_body_run_for_64_concurrent_callers_of_a_cold_key() {
    const CALLERS: usize = 64;
    static JOINED: Comparers = Comparers::new();
    static CACHE: Cache<TracedKey, u64> = Cache::new(Config::new("sf::sixty_four").size(16));
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    let results = within(LIMIT, || {
        at_once(CALLERS, |_| {
            call_sync(&CACHE, TracedKey::new(7, &JOINED), Plain, || {
                RUNS.fetch_add(1, SeqCst);
                // Hold the flight open until the 63 others have joined it.
                assert!(
                    JOINED.wait_for_others(CALLERS - 1, PATIENCE),
                    "only {} callers joined the flight",
                    JOINED.count_except(thread::current().id())
                );
                42
            })
        })
    });

    assert_eq!(RUNS.load(SeqCst), 1, "the body ran once for all callers");
    assert_eq!(results, vec![42; CALLERS]);
    let stats = CACHE.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.len),
        (0, CALLERS as u64, 1)
    );
    // Later calls are hits.
    let later = call_sync(&CACHE, TracedKey::new(7, &JOINED), Plain, || 0);
    assert_eq!((later, RUNS.load(SeqCst), CACHE.stats().hits), (42, 1, 1));
}

/// More cold keys in flight in one shard at once than it has places for
/// flights of its own: the rest go to its overflow table, and every key still
/// runs its body once for its two callers.
#[test]
fn a_shard_with_many_flights_at_once_runs_each_key_once() {
    const KEYS: usize = 24;
    static JOINED: [Comparers; KEYS] = [const { Comparers::new() }; KEYS];
    // Size 16: one shard, so every flight is in the same one.
    static CACHE: Cache<TracedKey, u64> = Cache::new(Config::new("sf::many").size(16));
    static RUNS: [AtomicUsize; KEYS] = [const { AtomicUsize::new(0) }; KEYS];
    static INSIDE: AtomicUsize = AtomicUsize::new(0);

    let results = within(LIMIT, || {
        at_once(KEYS * 2, |i| {
            let key = i % KEYS;
            call_sync(
                &CACHE,
                TracedKey::new(key as u32, &JOINED[key]),
                Plain,
                || {
                    RUNS[key].fetch_add(1, SeqCst);
                    INSIDE.fetch_add(1, SeqCst);
                    // Every key's leader is in flight before any lands...
                    assert!(
                        wait_until(PATIENCE, || INSIDE.load(SeqCst) >= KEYS),
                        "only {} leaders got inside their bodies",
                        INSIDE.load(SeqCst)
                    );
                    // ...and each one's other caller has joined its flight.
                    assert!(
                        JOINED[key].wait_for_others(1, PATIENCE),
                        "the second caller of key {key} did not join its flight"
                    );
                    key as u64 * 10
                },
            )
        })
    });

    let runs: Vec<usize> = RUNS.iter().map(|runs| runs.load(SeqCst)).collect();
    assert_eq!(runs, vec![1; KEYS], "each key's body ran once");
    let expected: Vec<u64> = (0..KEYS * 2).map(|i| (i % KEYS) as u64 * 10).collect();
    assert_eq!(results, expected);
    assert_eq!(CACHE.stats().misses, KEYS as u64 * 2);
}

#[test]
fn different_keys_never_wait_on_each_other() {
    static CACHE: Cache<u32, u32> = Cache::new(Config::new("sf::keys").size(256));

    within(LIMIT, || {
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let a_done = &AtomicUsize::new(0);
        thread::scope(|s| {
            let slow = s.spawn(move || {
                let value = call_sync(&CACHE, 0, Plain, || {
                    started_tx.send(()).unwrap();
                    release_rx.recv_timeout(PATIENCE).expect("released");
                    1000
                });
                a_done.store(1, SeqCst);
                value
            });
            started_rx
                .recv_timeout(PATIENCE)
                .expect("key 0's body started");
            // A second caller of key 0 waits behind the slow body.
            let waiter = s.spawn(|| call_sync(&CACHE, 0, Plain, || 9999));
            // While key 0's body is blocked, 64 other keys complete, on this
            // thread and on another (at least some share key 0's flight shard).
            for key in 1..=64 {
                assert_eq!(call_sync(&CACHE, key, Plain, || key * 10), key * 10);
            }
            let other = s.spawn(|| {
                (65..=128)
                    .map(|k| call_sync(&CACHE, k, Plain, || k))
                    .sum::<u32>()
            });
            assert_eq!(other.join().unwrap(), (65..=128).sum::<u32>());
            assert_eq!(a_done.load(SeqCst), 0, "key 0 is still in flight");
            release_tx.send(()).unwrap();
            assert_eq!(slow.join().unwrap(), 1000);
            assert_eq!(waiter.join().unwrap(), 1000);
        });
    });
    assert_eq!(CACHE.get(&0), Some(1000));
}

#[test]
fn a_panicking_leader_releases_its_waiters_and_one_recomputes() {
    const CALLERS: usize = 8;
    static JOINED: Comparers = Comparers::new();
    static CACHE: Cache<TracedKey, u32> = Cache::new(Config::new("sf::panic").size(16));
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static PANICKER: Mutex<Option<ThreadId>> = Mutex::new(None);

    let outcomes = within(LIMIT, || {
        at_once(CALLERS, |_| {
            let me = thread::current().id();
            let outcome = panic::catch_unwind(|| {
                call_sync(&CACHE, TracedKey::new(1, &JOINED), Plain, || {
                    if RUNS.fetch_add(1, SeqCst) == 0 {
                        *PANICKER.lock().unwrap() = Some(thread::current().id());
                        assert!(JOINED.wait_for_others(CALLERS - 1, PATIENCE));
                        panic!("boom");
                    }
                    77
                })
            });
            (me, outcome.map_err(|e| e.downcast_ref::<&str>().copied()))
        })
    });

    let panicker = PANICKER.lock().unwrap().expect("the first body ran");
    assert_eq!(
        RUNS.load(SeqCst),
        2,
        "one panicking run, exactly one recomputation"
    );
    for (thread, outcome) in outcomes {
        if thread == panicker {
            assert_eq!(outcome, Err(Some("boom")), "the panic reaches the leader");
        } else {
            assert_eq!(
                outcome,
                Ok(77),
                "waiters get the recomputed value, not the panic"
            );
        }
    }
    // Nothing is poisoned: the value is cached and new keys work.
    assert_eq!(
        call_sync(&CACHE, TracedKey::new(1, &JOINED), Plain, || 0),
        77
    );
    assert_eq!(
        call_sync(&CACHE, TracedKey::new(2, &JOINED), Plain, || 5),
        5
    );
    assert_eq!(RUNS.load(SeqCst), 2);
}

#[test]
fn after_an_err_waiters_run_the_body_side_by_side() {
    const CALLERS: usize = 8;
    static JOINED: Comparers = Comparers::new();
    static CACHE: Cache<TracedKey, u32> = Cache::new(Config::new("sf::err").size(16));
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    // The waiters' runs meet here: they can only all arrive if they run concurrently.
    static SIDE_BY_SIDE: Latch = Latch::new(CALLERS - 1);

    let results: Vec<Result<u32, &str>> = within(LIMIT, || {
        at_once(CALLERS, |_| {
            call_sync(&CACHE, TracedKey::new(1, &JOINED), Fallible, || {
                if RUNS.fetch_add(1, SeqCst) == 0 {
                    // The leader fails once every other caller waits on it.
                    assert!(JOINED.wait_for_others(CALLERS - 1, PATIENCE));
                    return Err("leader: down");
                }
                if SIDE_BY_SIDE.arrive_and_wait(PATIENCE) {
                    Err("waiter: down")
                } else {
                    Err("waiter: serialised behind another caller")
                }
            })
        })
    });

    assert_eq!(
        RUNS.load(SeqCst),
        CALLERS,
        "every waiter ran the body itself"
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Err("leader: down"))
            .count(),
        1
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Err("waiter: down"))
            .count(),
        CALLERS - 1,
        "{results:?}"
    );
    assert_eq!(CACHE.len(), 0, "Err is never cached");
    let ok: Result<u32, &str> = call_sync(&CACHE, TracedKey::new(1, &JOINED), Fallible, || Ok(3));
    assert_eq!(
        (ok, CACHE.get(&TracedKey::new(1, &JOINED))),
        (Ok(3), Some(3))
    );
}

fn fib_reference(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

#[test]
fn recursion_into_other_keys_does_not_deadlock() {
    static FIB: Cache<u64, u64> = Cache::new(Config::new("sf::fib").unbounded());
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    fn fib(n: u64) -> u64 {
        call_sync(&FIB, n, Plain, || {
            RUNS.fetch_add(1, SeqCst);
            if n < 2 {
                n
            } else {
                fib(n - 1) + fib(n - 2)
            }
        })
    }

    assert_eq!(within(LIMIT, || fib(90)), 2_880_067_194_370_816_120);
    assert_eq!(RUNS.load(SeqCst), 91, "each fib(k) computed once");
    assert_eq!(fib(90), 2_880_067_194_370_816_120);
    assert_eq!(RUNS.load(SeqCst), 91);
}

#[test]
fn concurrent_recursion_computes_each_key_once() {
    const THREADS: u64 = 8;
    static FIB: Cache<u64, u64> = Cache::new(Config::new("sf::fib_concurrent").unbounded());
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    fn fib(n: u64) -> u64 {
        call_sync(&FIB, n, Plain, || {
            RUNS.fetch_add(1, SeqCst);
            if n < 2 {
                n
            } else {
                fib(n - 1) + fib(n - 2)
            }
        })
    }

    within(LIMIT, || {
        // Threads start at different depths, so they lead and wait on each other's keys.
        at_once(THREADS as usize, |t| {
            let n = 90 - t as u64;
            assert_eq!(fib(n), fib_reference(n));
        })
    });
    assert_eq!(
        RUNS.load(SeqCst),
        91,
        "each fib(k) computed once across all threads"
    );
}

#[test]
fn a_body_calling_its_own_key_does_not_deadlock() {
    static CACHE: Cache<u32, u32> = Cache::new(Config::new("sf::self").size(16));
    let (outer, inner) = within(LIMIT, || {
        let mut inner = 0;
        let outer = call_sync(&CACHE, 1, Plain, || {
            inner = call_sync(&CACHE, 1, Plain, || 5);
            inner + 1
        });
        (outer, inner)
    });
    assert_eq!((outer, inner), (6, 5));
    // The outermost call lands last: later calls see what the first caller got.
    assert_eq!(CACHE.get(&1), Some(6));
    assert_eq!(call_sync(&CACHE, 1, Plain, || 0), 6);
}

#[test]
fn invalidate_during_a_run_hands_the_value_to_waiters_but_does_not_store_it() {
    static JOINED: Comparers = Comparers::new();
    static CACHE: Cache<TracedKey, u32> = Cache::new(Config::new("sf::invalidate").size(16));
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let key = || TracedKey::new(1, &JOINED);

    within(LIMIT, move || {
        let (leader_tx, leader_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        thread::scope(|s| {
            let leader = s.spawn(move || {
                call_sync(&CACHE, key(), Plain, || {
                    RUNS.fetch_add(1, SeqCst);
                    leader_tx.send(thread::current().id()).unwrap();
                    release_rx.recv_timeout(PATIENCE).expect("released");
                    10
                })
            });
            let leader_id = leader_rx.recv_timeout(PATIENCE).expect("the body started");
            let waiter = s.spawn(|| {
                call_sync(&CACHE, key(), Plain, || {
                    RUNS.fetch_add(1, SeqCst);
                    99
                })
            });
            assert!(
                wait_until(PATIENCE, || JOINED.count_except(leader_id) >= 1),
                "the waiter joined the flight"
            );
            assert!(!CACHE.invalidate(&key()), "nothing stored yet");
            release_tx.send(()).unwrap();
            assert_eq!(leader.join().unwrap(), 10);
            assert_eq!(waiter.join().unwrap(), 10, "the waiter got the run's value");
        });
    });
    assert_eq!(
        CACHE.get(&key()),
        None,
        "the invalidated run was not stored"
    );
    assert_eq!(CACHE.len(), 0);
    assert_eq!(RUNS.load(SeqCst), 1);
    assert_eq!(
        call_sync(&CACHE, key(), Plain, || 11),
        11,
        "the next call runs the body"
    );
    assert_eq!(CACHE.get(&key()), Some(11));
}

/// What the test does while an older body is still running.
#[derive(Clone, Copy, Debug)]
enum Meanwhile {
    Invalidate,
    Insert,
    Clear,
}

#[test]
fn after_invalidate_insert_or_clear_new_callers_do_not_wait_and_late_runs_do_not_store() {
    static CACHE: Cache<u32, u32> = Cache::new(Config::new("sf::detach").size(16));

    for (key, meanwhile) in [
        (1, Meanwhile::Invalidate),
        (2, Meanwhile::Insert),
        (3, Meanwhile::Clear),
    ] {
        within(LIMIT, move || {
            let (started_tx, started_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            thread::scope(|s| {
                let old = s.spawn(move || {
                    call_sync(&CACHE, key, Plain, || {
                        started_tx.send(()).unwrap();
                        release_rx.recv_timeout(PATIENCE).expect("released");
                        10
                    })
                });
                started_rx
                    .recv_timeout(PATIENCE)
                    .expect("the old body started");
                let expected = match meanwhile {
                    Meanwhile::Insert => {
                        CACHE.insert(key, 30);
                        // A hit now, whatever runs.
                        assert_eq!(call_sync(&CACHE, key, Plain, || 31), 30);
                        30
                    }
                    Meanwhile::Invalidate | Meanwhile::Clear => {
                        if let Meanwhile::Clear = meanwhile {
                            CACHE.clear();
                        } else {
                            CACHE.invalidate(&key);
                        }
                        // A new flight, not a wait on the detached one (which is blocked).
                        assert_eq!(call_sync(&CACHE, key, Plain, || 20), 20);
                        20
                    }
                };
                release_tx.send(()).unwrap();
                assert_eq!(
                    old.join().unwrap(),
                    10,
                    "the old caller still gets its value"
                );
                assert_eq!(
                    CACHE.get(&key),
                    Some(expected),
                    "a run that started before {meanwhile:?} must not overwrite"
                );
            });
        });
    }
}

#[test]
fn without_single_flight_every_concurrent_caller_runs_the_body() {
    const CALLERS: usize = 8;
    static CACHE: Cache<u32, usize> =
        Cache::new(Config::new("sf::off").size(16).single_flight(false));
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static TOGETHER: Latch = Latch::new(CALLERS);

    let results = within(LIMIT, || {
        at_once(CALLERS, |i| {
            call_sync(&CACHE, 1, Plain, || {
                RUNS.fetch_add(1, SeqCst);
                // All bodies must be running at once to get past this.
                assert!(TOGETHER.arrive_and_wait(PATIENCE), "callers were coalesced");
                i
            })
        })
    });
    assert_eq!(RUNS.load(SeqCst), CALLERS);
    assert_eq!(
        results,
        (0..CALLERS).collect::<Vec<_>>(),
        "each caller got its own run's value"
    );
    assert_eq!(CACHE.len(), 1);
    assert_eq!(CACHE.stats().misses, CALLERS as u64);
}

/// Panics for the value 13: user code that runs while a result lands.
fn ttl_panicking_on_13(value: &u32) -> Option<Duration> {
    assert_ne!(*value, 13, "ttl_fn refuses 13");
    None
}

/// A `ttl_fn` that panics while the leader stores its result: the panic
/// reaches the leader's caller, and the key's flight is retired with it, so
/// that the next caller computes instead of waiting for it forever.
#[test]
fn a_panicking_ttl_fn_releases_the_flight() {
    static CACHE: Cache<u32, u32> = Cache::new(
        Config::new("sf::ttl_fn_panics")
            .size(16)
            .ttl_fn(ttl_panicking_on_13),
    );
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    let outcome = within(LIMIT, || {
        let first = thread::spawn(|| {
            call_sync(&CACHE, 1, Plain, || {
                RUNS.fetch_add(1, SeqCst);
                13
            })
        })
        .join();
        let second = call_sync(&CACHE, 1, Plain, || {
            RUNS.fetch_add(1, SeqCst);
            7
        });
        (first.is_err(), second)
    });

    assert_eq!(
        outcome,
        (true, 7),
        "the first call panicked, the second computed"
    );
    assert_eq!(RUNS.load(SeqCst), 2);
    assert_eq!(CACHE.get(&1), Some(7));
}

/// A value whose clone can be made to panic once. Each `ROLE` counts its own
/// clones, so that the tests using one role never trip another's panic.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Fragile<const ROLE: usize>(u32);

/// A value whose clone can be made to panic.
type FragileValue = Fragile<0>;
/// A key whose clone can be made to panic.
type FragileKey = Fragile<1>;

/// Per role, the clones allowed before one panics; below zero, never.
static CLONES_BEFORE_PANIC: [std::sync::atomic::AtomicIsize; 2] =
    [const { std::sync::atomic::AtomicIsize::new(-1) }; 2];

impl<const ROLE: usize> Fragile<ROLE> {
    /// Makes the clone after the next `clones` ones panic (once).
    fn panic_after(clones: isize) {
        CLONES_BEFORE_PANIC[ROLE].store(clones, SeqCst);
    }
}

impl<const ROLE: usize> Clone for Fragile<ROLE> {
    fn clone(&self) -> Self {
        if CLONES_BEFORE_PANIC[ROLE].fetch_sub(1, SeqCst) == 0 {
            panic!("clone refused");
        }
        Fragile(self.0)
    }
}

/// The leader stores its value (one clone), then panics cloning it for its
/// waiter: the waiter is released all the same and finds the stored value.
#[test]
fn a_panic_while_handing_the_value_to_waiters_releases_them() {
    static JOINED: Comparers = Comparers::new();
    static CACHE: Cache<TracedKey, FragileValue> =
        Cache::new(Config::new("sf::fragile_clone").size(16));
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    let results = within(LIMIT, || {
        at_once(2, |_| {
            panic::catch_unwind(|| {
                call_sync(&CACHE, TracedKey::new(3, &JOINED), Plain, || {
                    RUNS.fetch_add(1, SeqCst);
                    assert!(
                        JOINED.wait_for_others(1, PATIENCE),
                        "the other caller did not join the flight"
                    );
                    FragileValue::panic_after(1);
                    Fragile(5)
                })
            })
            .ok()
        })
    });

    assert_eq!(RUNS.load(SeqCst), 1, "the body ran once");
    let mut results = results;
    results.sort_by_key(Option::is_some);
    assert_eq!(
        results,
        vec![None, Some(Fragile(5))],
        "the leader's caller saw the panic, the waiter got the stored value"
    );
}

/// Calls `call(2)` after `arm()` on a thread of its own (a later call from
/// the same thread would be taken for the body calling its own key, and not
/// wait), then `call(3)`, under a deadline: whether the first call panicked,
/// and what the second returned.
fn panicking_call_then_another<T: Send + 'static>(
    arm: fn(),
    call: impl Fn(u32) -> T + Copy + Send + 'static,
) -> (bool, T) {
    within(LIMIT, move || {
        let first = thread::spawn(move || {
            arm();
            call(2)
        })
        .join();
        (first.is_err(), call(3))
    })
}

/// A caller that finds an expired value kept for `stale_if_error` registers
/// its flight (one key copy), then copies the key again for its guard. When
/// that copy panics, the flight it registered is abandoned: the next caller
/// leads instead of waiting forever for a leader that is gone.
#[test]
fn a_panicking_key_clone_after_the_flight_is_registered_releases_it() {
    static CACHE: Cache<FragileKey, u32> = Cache::new(
        Config::new("sf::fragile_key")
            .size(16)
            .ttl(Duration::from_secs(10))
            .stale_if_error(),
    );
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let (clock, time) = memocache_runtime::Clock::mock();
    assert!(CACHE.use_clock(clock));
    let call = |value: u32| {
        call_sync(&CACHE, Fragile(1), Fallible, move || {
            RUNS.fetch_add(1, SeqCst);
            Ok::<u32, &str>(value)
        })
    };
    assert_eq!(call(1), Ok(1));
    time.advance(Duration::from_secs(11));

    let outcome = panicking_call_then_another(|| FragileKey::panic_after(1), call);
    assert_eq!(
        outcome,
        (true, Ok(3)),
        "the first call panicked, the second computed"
    );
    assert_eq!(RUNS.load(SeqCst), 2, "the panicking call ran no body");
    assert_eq!(CACHE.get(&Fragile(1)), Some(3));
}

/// A value whose drop panics once, when armed.
#[derive(Clone, Debug, PartialEq)]
struct DropBomb(u32);

static DROP_BOMB_ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Drop for DropBomb {
    fn drop(&mut self) {
        if DROP_BOMB_ARMED.swap(false, SeqCst) {
            panic!("drop refused");
        }
    }
}

/// A caller that finds its key's entry expired reclaims it and registers a
/// flight, then drops the entry once the lock is released. When that drop
/// panics, the flight is abandoned: the next caller leads instead of waiting
/// forever for a leader that is gone.
#[test]
fn a_panicking_drop_of_a_reclaimed_entry_releases_the_flight() {
    static CACHE: Cache<u32, DropBomb> = Cache::new(
        Config::new("sf::drop_bomb")
            .size(16)
            .ttl(Duration::from_secs(10)),
    );
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let (clock, time) = memocache_runtime::Clock::mock();
    assert!(CACHE.use_clock(clock));
    let call = |value: u32| {
        call_sync(&CACHE, 1, Plain, move || {
            RUNS.fetch_add(1, SeqCst);
            DropBomb(value)
        })
    };
    assert_eq!(call(1), DropBomb(1));
    time.advance(Duration::from_secs(11));

    let outcome = panicking_call_then_another(|| DROP_BOMB_ARMED.store(true, SeqCst), call);
    assert_eq!(
        outcome,
        (true, DropBomb(3)),
        "the first call panicked, the second computed"
    );
    assert_eq!(RUNS.load(SeqCst), 2, "the panicking call ran no body");
    assert_eq!(CACHE.get(&1), Some(DropBomb(3)));
}
