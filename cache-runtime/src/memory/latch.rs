//! Where callers of a cold key wait for the caller computing it.
//!
//! A latch is made only when a second caller arrives, so an uncontended miss
//! allocates nothing for single-flight. Threads block on a condition variable;
//! tasks await a notification and so never block a worker thread.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// How a flight ended, as seen by its waiters.
#[derive(Clone)]
pub(crate) enum Outcome<V> {
    /// The leader produced this value.
    Value(V),
    /// The leader's result is not cacheable (`Err`): run the body yourself.
    Failed,
    /// The leader panicked or its future was dropped: try to lead.
    Abandoned,
}

pub(crate) struct Latch<V> {
    outcome: Mutex<Option<Outcome<V>>>,
    opened: Condvar,
    #[cfg(feature = "tokio")]
    notified: tokio::sync::Notify,
}

impl<V: Clone> Latch<V> {
    pub(crate) fn new() -> Self {
        Self {
            outcome: Mutex::new(None),
            opened: Condvar::new(),
            #[cfg(feature = "tokio")]
            notified: tokio::sync::Notify::new(),
        }
    }

    /// Opens the latch: every waiter, present and future, sees `outcome`.
    pub(crate) fn open(&self, outcome: Outcome<V>) {
        *self.outcome.lock() = Some(outcome);
        self.opened.notify_all();
        #[cfg(feature = "tokio")]
        self.notified.notify_waiters();
    }

    /// Blocks the thread until the latch opens, and tells how the flight ended.
    pub(crate) fn wait_blocking(&self) -> Outcome<V> {
        let mut outcome = self.outcome.lock();
        loop {
            if let Some(outcome) = &*outcome {
                return outcome.clone();
            }
            self.opened.wait(&mut outcome);
        }
    }

    /// Waits, without blocking the thread, until the latch opens.
    #[cfg(feature = "tokio")]
    pub(crate) async fn wait(&self) -> Outcome<V> {
        loop {
            let mut notified = std::pin::pin!(self.notified.notified());
            // Registered before the check, so an `open` in between is not missed.
            notified.as_mut().enable();
            let landed = self.outcome.lock().clone();
            if let Some(outcome) = landed {
                return outcome;
            }
            notified.await;
        }
    }
}

/// The latch of a retired flight, if it has waiters, on its way to being
/// opened. Opening it may run user code (the value's `Clone`), and so may what
/// happens before (dropping the values a landing displaced): if that panics,
/// dropping this opens the latch with [`Outcome::Abandoned`], so that the
/// waiters try again instead of waiting forever.
pub(crate) struct Unopened<V: Clone>(pub(crate) Option<Arc<Latch<V>>>);

impl<V: Clone> Unopened<V> {
    /// Opens the latch, if there is one, with what `outcome` makes.
    #[inline]
    pub(crate) fn open_with(mut self, outcome: impl FnOnce() -> Outcome<V>) {
        if self.0.is_some() {
            let outcome = outcome();
            if let Some(latch) = self.0.take() {
                latch.open(outcome);
            }
        }
    }
}

impl<V: Clone> Drop for Unopened<V> {
    fn drop(&mut self) {
        if let Some(latch) = self.0.take() {
            latch.open(Outcome::Abandoned);
        }
    }
}
