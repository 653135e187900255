//! Single-flight of `#[cached]` functions, end to end through the macro.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;

use std::time::{Duration, Instant};

use memocache::cached;

/// Yields until `done` holds; fails the test instead of hanging if it never does.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::yield_now();
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);
static OPEN: AtomicBool = AtomicBool::new(false);

#[cached]
fn cold(n: u64) -> u64 {
    RUNS.fetch_add(1, SeqCst);
    while !OPEN.load(SeqCst) {
        thread::yield_now();
    }
    n * 2
}

#[test]
fn sixty_four_threads_on_one_cold_key_run_the_body_once() {
    const THREADS: usize = 64;
    let start = Arc::new(Barrier::new(THREADS));
    let callers: Vec<_> = (0..THREADS)
        .map(|_| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                cold(21)
            })
        })
        .collect();
    // Every caller has looked the key up and missed while the body is held
    // open: without single-flight each of them would run the body.
    wait_until("every caller missed", || {
        COLD.stats().misses == THREADS as u64
    });
    OPEN.store(true, SeqCst);
    for caller in callers {
        assert_eq!(caller.join().unwrap(), 42);
    }
    assert_eq!(RUNS.load(SeqCst), 1);
}

#[cached(size = 200)]
fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

#[test]
fn recursion_never_deadlocks() {
    assert_eq!(fib(90), 2_880_067_194_370_816_120);
}

/// Calls itself once with the same key: the inner call is made from inside
/// the outer call's body, so it must run, not wait for its own flight.
#[cached(size = 100, key = id)]
fn same_key(id: u64, depth: u32) -> u64 {
    if depth == 0 {
        same_key(id, 1) + 1
    } else {
        id
    }
}

#[test]
fn a_body_calling_itself_with_the_same_key_never_deadlocks() {
    let (done, finished) = std::sync::mpsc::channel();
    thread::spawn(move || done.send(same_key(7, 0)));
    let value = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("a body calling its own key deadlocked");
    assert_eq!(
        value, 8,
        "the inner call ran its body and the outer added one"
    );
    assert_eq!(
        SAME_KEY.get(&7),
        Some(8),
        "the outer call's value is the one kept"
    );
}

static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn flaky(n: u64) -> u64 {
    if FLAKY_RUNS.fetch_add(1, SeqCst) == 0 {
        panic!("first run fails");
    }
    n
}

#[test]
fn a_panicking_body_poisons_nothing() {
    let panicked = thread::spawn(|| flaky(1)).join();
    assert!(panicked.is_err(), "the panic reaches its own caller");
    assert_eq!(flaky(1), 1, "the next caller computes");
    assert_eq!(flaky(1), 1);
    assert_eq!(FLAKY_RUNS.load(SeqCst), 2);
}

static SOLO_RUNS: AtomicUsize = AtomicUsize::new(0);
static SOLO_OPEN: AtomicBool = AtomicBool::new(false);

#[cached(single_flight = false)]
fn solo(n: u64) -> u64 {
    SOLO_RUNS.fetch_add(1, SeqCst);
    while !SOLO_OPEN.load(SeqCst) {
        thread::yield_now();
    }
    n
}

#[test]
fn single_flight_false_lets_every_caller_run() {
    let callers: Vec<_> = (0..4).map(|_| thread::spawn(|| solo(5))).collect();
    wait_until("all four bodies run at once", || {
        SOLO_RUNS.load(SeqCst) == 4
    });
    SOLO_OPEN.store(true, SeqCst);
    for caller in callers {
        assert_eq!(caller.join().unwrap(), 5);
    }
    assert_eq!(SOLO_RUNS.load(SeqCst), 4);
}
