//! The [`Latch`] of asynchronous callers: a notification, so that a waiting
//! task yields its worker thread instead of blocking it.

use std::pin::pin;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::{self, Id};

use crate::flight::{Latch, Outcome};

pub(crate) struct TaskLatch<V> {
    outcome: Mutex<Option<Outcome<V>>>,
    opened: Notify,
    leader: Option<Id>,
}

impl<V: Clone> TaskLatch<V> {
    /// Waits, without blocking the thread, until the latch opens.
    pub(crate) async fn wait(&self) -> Outcome<V> {
        loop {
            let mut opened = pin!(self.opened.notified());
            // Registered before the check, so an `open` in between is not missed.
            opened.as_mut().enable();
            let landed = self.outcome.lock().clone();
            if let Some(outcome) = landed {
                return outcome;
            }
            opened.await;
        }
    }
}

impl<V: Send> Latch for TaskLatch<V> {
    type Value = V;

    fn new() -> Self {
        Self {
            outcome: Mutex::new(None),
            opened: Notify::new(),
            leader: task::try_id(),
        }
    }

    fn led_by_caller(&self) -> bool {
        self.leader.is_some() && self.leader == task::try_id()
    }

    fn open(&self, outcome: Outcome<V>) {
        *self.outcome.lock() = Some(outcome);
        self.opened.notify_waiters();
    }
}
