//! Helpers shared by the integration tests of memocache-runtime.
//!
//! Nothing here sleeps to make a test pass: concurrent scenarios are driven by
//! barriers, latches and observable state, and every wait has a deadline so a
//! broken guarantee fails the test instead of hanging it.
#![allow(dead_code)]

use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::panic;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Barrier, Condvar, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// How long any single wait inside a test may take before it counts as a hang.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `call(i)` on `threads` threads, `i` being the thread's index, all
/// released together by a barrier; returns what each returned, in index order.
pub fn at_once<T: Send>(threads: usize, call: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let start = Barrier::new(threads);
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (start, call) = (&start, &call);
                s.spawn(move || {
                    start.wait();
                    call(i)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("caller thread"))
            .collect()
    })
}

/// Runs `scenario` on its own thread and fails the test if it does not finish
/// within `limit` (a deadlock), re-raising its panic if it panicked.
pub fn within<T, F>(limit: Duration, scenario: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done_tx, done_rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name("scenario".into())
        .spawn(move || {
            let result = scenario();
            let _ = done_tx.send(());
            result
        })
        .expect("spawn the scenario thread");
    match done_rx.recv_timeout(limit) {
        Ok(()) => handle.join().expect("scenario thread"),
        Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(_) => unreachable!("the scenario finished without reporting"),
            Err(panic) => panic::resume_unwind(panic),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("scenario did not finish within {limit:?}: a deadlock or a lost wake-up")
        }
    }
}

/// Polls `condition` until it holds (true) or `limit` passes (false). For
/// conditions that have no notification to wait on (the state of another thread).
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    let mut spins = 0u32;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        spins += 1;
        if spins < 1000 {
            thread::yield_now();
        } else {
            // A poll interval, not a synchronisation: the condition is re-checked.
            thread::sleep(Duration::from_micros(200));
        }
    }
}

/// A count-down latch whose waits can time out (std's `Barrier` cannot), so a
/// test can prove that `n` parties were inside some code *at the same time*:
/// if they were serialised, the first one times out instead of deadlocking.
pub struct Latch {
    remaining: Mutex<usize>,
    opened: Condvar,
}

impl Latch {
    pub const fn new(parties: usize) -> Self {
        Self {
            remaining: Mutex::new(parties),
            opened: Condvar::new(),
        }
    }

    /// Arrives and waits for every other party; false if they did not all
    /// arrive within `limit`.
    pub fn arrive_and_wait(&self, limit: Duration) -> bool {
        let mut remaining = self.remaining.lock().unwrap();
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            self.opened.notify_all();
            return true;
        }
        let (remaining, timeout) = self
            .opened
            .wait_timeout_while(remaining, limit, |remaining| *remaining > 0)
            .unwrap();
        drop(remaining);
        !timeout.timed_out()
    }
}

/// The threads that compared a [`TracedKey`] with another one.
///
/// A caller of a cold key registers as a waiter by finding the leader's key in
/// the flight map, under the flight map's lock: that lookup compares the two
/// keys. Once a thread shows up here (and the store holds nothing for the key,
/// so no other comparison can happen), it has joined the flight as a waiter and
/// will receive that flight's outcome, because the leader needs the same lock
/// to land. This lets a leader's body hold its flight open until every other
/// caller has joined, with no sleeps.
#[derive(Debug)]
pub struct Comparers {
    threads: Mutex<Vec<ThreadId>>,
}

impl Comparers {
    pub const fn new() -> Self {
        Self {
            threads: Mutex::new(Vec::new()),
        }
    }

    fn record(&self) {
        let me = thread::current().id();
        let mut threads = self.threads.lock().unwrap();
        if !threads.contains(&me) {
            threads.push(me);
        }
    }

    /// How many distinct threads other than `except` compared keys.
    pub fn count_except(&self, except: ThreadId) -> usize {
        let threads = self.threads.lock().unwrap();
        threads.iter().filter(|&&t| t != except).count()
    }

    /// Whether `thread` compared keys.
    pub fn contains(&self, thread: ThreadId) -> bool {
        self.threads.lock().unwrap().contains(&thread)
    }

    /// Waits until `n` threads other than the caller compared keys.
    pub fn wait_for_others(&self, n: usize, limit: Duration) -> bool {
        let me = thread::current().id();
        wait_until(limit, || self.count_except(me) >= n)
    }
}

/// A key that records, in its [`Comparers`], every thread that compares it.
#[derive(Clone, Debug)]
pub struct TracedKey {
    pub id: u32,
    pub comparers: &'static Comparers,
}

impl TracedKey {
    pub const fn new(id: u32, comparers: &'static Comparers) -> Self {
        Self { id, comparers }
    }
}

impl PartialEq for TracedKey {
    fn eq(&self, other: &Self) -> bool {
        self.comparers.record();
        self.id == other.id
    }
}

impl Eq for TracedKey {}

impl Hash for TracedKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

thread_local! {
    static KEY_CLONES: Cell<u64> = const { Cell::new(0) };
}

/// A key that counts, per thread, how often it is cloned.
///
/// The store clones a key exactly once when a lookup is answered by the shared
/// shard (the copy goes into the thread's front table) and never when the
/// thread's front table answers it, so the count tells which layer served a hit.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CountedKey(pub u8);

impl Clone for CountedKey {
    fn clone(&self) -> Self {
        KEY_CLONES.with(|c| c.set(c.get() + 1));
        CountedKey(self.0)
    }
}

/// Runs `f` and returns its result with the number of [`CountedKey`] clones
/// this thread made meanwhile.
pub fn counting_clones<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = KEY_CLONES.with(Cell::get);
    let result = f();
    (result, KEY_CLONES.with(Cell::get) - before)
}
