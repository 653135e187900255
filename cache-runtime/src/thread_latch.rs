//! The [`Latch`] of synchronous callers: a condition variable.

use std::thread::{self, ThreadId};

use parking_lot::{Condvar, Mutex};

use crate::flight::{Latch, Outcome};

pub(crate) struct ThreadLatch<V> {
    outcome: Mutex<Option<Outcome<V>>>,
    opened: Condvar,
    leader: ThreadId,
}

impl<V: Clone> ThreadLatch<V> {
    /// Blocks the thread until the latch opens, and tells how the flight ended.
    pub(crate) fn wait(&self) -> Outcome<V> {
        let mut outcome = self.outcome.lock();
        loop {
            if let Some(outcome) = &*outcome {
                return outcome.clone();
            }
            self.opened.wait(&mut outcome);
        }
    }
}

impl<V: Send> Latch for ThreadLatch<V> {
    type Value = V;

    fn new() -> Self {
        Self {
            outcome: Mutex::new(None),
            opened: Condvar::new(),
            leader: thread::current().id(),
        }
    }

    fn led_by_caller(&self) -> bool {
        self.leader == thread::current().id()
    }

    fn open(&self, outcome: Outcome<V>) {
        *self.outcome.lock() = Some(outcome);
        self.opened.notify_all();
    }
}
