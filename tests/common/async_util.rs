//! Helpers shared by the async test suites (`tests/async_*.rs`, `tests/axum_service.rs`).
//!
//! Included with `#[path = "common/async_util.rs"] mod async_util;`, so every
//! suite compiles its own copy; not every suite uses every helper.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// What a test body reports and waits on: how many times it ran, and a gate
/// that holds bodies until the test opens it.
///
/// Cloned into the annotated function as an argument left out of the key.
#[derive(Clone)]
pub struct Probe {
    inner: Arc<Inner>,
}

struct Inner {
    runs: AtomicUsize,
    finished: AtomicUsize,
    failing: AtomicBool,
    /// Closed means open: a closed semaphore lets every `acquire` through at once.
    gate: Semaphore,
}

impl Default for Probe {
    fn default() -> Self {
        Self::new()
    }
}

impl Probe {
    /// A probe with its gate shut and nothing counted.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                runs: AtomicUsize::new(0),
                finished: AtomicUsize::new(0),
                failing: AtomicBool::new(false),
                gate: Semaphore::new(0),
            }),
        }
    }

    /// Counts one run of a body; returns its number, starting at 1.
    pub fn enter(&self) -> usize {
        self.inner.runs.fetch_add(1, SeqCst) + 1
    }

    /// Counts a body that got to its end.
    pub fn finish(&self) {
        self.inner.finished.fetch_add(1, SeqCst);
    }

    /// How many bodies started.
    pub fn runs(&self) -> usize {
        self.inner.runs.load(SeqCst)
    }

    /// How many bodies got to their end.
    pub fn finished(&self) -> usize {
        self.inner.finished.load(SeqCst)
    }

    /// Waits until the gate is open (at once if it is).
    pub async fn gate(&self) {
        // The semaphore never hands out permits: `acquire` only returns, with
        // an error, once `open` closes it.
        let _ = self.inner.gate.acquire().await;
    }

    /// Opens the gate for every body, waiting or to come.
    pub fn open(&self) {
        self.inner.gate.close();
    }

    /// Whether bodies are to fail.
    pub fn failing(&self) -> bool {
        self.inner.failing.load(SeqCst)
    }

    /// What run `run` returns: `Err("run {run} failed")` while bodies are to
    /// fail, else `Ok(run)`.
    pub fn outcome(&self, run: usize) -> Result<u64, String> {
        if self.failing() {
            Err(format!("run {run} failed"))
        } else {
            Ok(run as u64)
        }
    }

    /// Makes bodies fail (`true`) or succeed.
    pub fn set_failing(&self, failing: bool) {
        self.inner.failing.store(failing, SeqCst);
    }
}

/// Sleeps a millisecond at a time until `done` holds; fails the test instead
/// of hanging if it does not within 10 000 steps. On tokio's paused clock the
/// steps cost no wall time, and every task that can run has run when a sleep
/// returns.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("gave up waiting until {what}");
}

/// Lets every task that can make progress run until it waits again (tokio's
/// paused clock: costs no wall time).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// Fails the test when `future` does not finish within a minute: a guard against
/// deadlocks, not a timing assertion. On the paused clock it fires as soon as
/// nothing can make progress any more.
pub async fn must_finish<F: std::future::Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(60), future).await {
        Ok(output) => output,
        Err(_) => panic!("deadlock: {what} never finished"),
    }
}
