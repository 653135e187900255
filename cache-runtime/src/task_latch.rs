//! The [`Latch`] of asynchronous callers: a notification, so that a waiting
//! task yields its worker thread instead of blocking it.
//!
//! A body that awaits its own key (recursion) must not wait for itself, while
//! sibling futures of one task (`join!` of two calls with one key) must share
//! one run. So the leader is not recognised by task but by call nesting: while
//! a leader's body is being polled, its flight is marked on the polling
//! thread, and a call made from inside that poll sees the mark.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::pin;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::flight::{Latch, Outcome};

thread_local! {
    /// The flights whose bodies this thread is polling right now, innermost last.
    static POLLING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

pub(crate) struct TaskLatch<V> {
    outcome: Mutex<Option<Outcome<V>>>,
    opened: Notify,
}

impl<V> TaskLatch<V> {
    fn id(&self) -> usize {
        self as *const Self as usize
    }
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

/// Removes a flight's mark when its body's poll ends, even by a panic.
struct Polling(usize);

impl Polling {
    fn enter(id: usize) -> Self {
        POLLING.with(|polling| polling.borrow_mut().push(id));
        Self(id)
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        POLLING.with(|polling| {
            let mut polling = polling.borrow_mut();
            if let Some(at) = polling.iter().rposition(|&id| id == self.0) {
                polling.remove(at);
            }
        });
    }
}

/// Awaits `body` as the leader of the flight behind `latch`.
pub(crate) async fn lead<V, F: Future>(latch: &TaskLatch<V>, body: F) -> F::Output {
    let id = latch.id();
    let mut body = pin!(body);
    poll_fn(|cx| {
        let _polling = Polling::enter(id);
        body.as_mut().poll(cx)
    })
    .await
}

impl<V: Send> Latch for TaskLatch<V> {
    type Value = V;

    fn new() -> Self {
        Self {
            outcome: Mutex::new(None),
            opened: Notify::new(),
        }
    }

    fn led_by_caller(&self) -> bool {
        let id = self.id();
        POLLING.with(|polling| polling.borrow().contains(&id))
    }

    fn open(&self, outcome: Outcome<V>) {
        *self.outcome.lock() = Some(outcome);
        self.opened.notify_waiters();
    }
}
