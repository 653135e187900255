//! Which flights the current thread is computing right now.
//!
//! A body that calls its own key (recursion) must not wait for itself, while
//! two sibling calls of one task (`join!` of two calls with one key) must share
//! one run. So a leader is recognised by call nesting, not by thread or task:
//! while a leader's body runs (or its future is polled), its flight is marked
//! on the thread, and a call made from inside it sees the mark.

use std::cell::RefCell;

/// Names one flight: the shard that holds it and its number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlightId {
    pub(crate) shard: usize,
    pub(crate) seq: u64,
}

thread_local! {
    /// The flights whose bodies this thread is running, innermost last.
    static RUNNING: RefCell<Vec<FlightId>> = const { RefCell::new(Vec::new()) };
}

/// Whether the current thread is inside the body of flight `id`.
pub(crate) fn inside(id: FlightId) -> bool {
    RUNNING.with(|running| running.borrow().contains(&id))
}

/// Removes a flight's mark when its body stops running, even by a panic.
struct Running(FlightId);

impl Running {
    fn enter(id: FlightId) -> Self {
        RUNNING.with(|running| running.borrow_mut().push(id));
        Self(id)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|running| {
            let mut running = running.borrow_mut();
            // Marks nest, so this one is almost always the last.
            if running.last() == Some(&self.0) {
                running.pop();
            } else if let Some(at) = running.iter().rposition(|&id| id == self.0) {
                running.remove(at);
            }
        });
    }
}

/// Runs `body` as the leader of flight `id` (`None`: no flight registered).
pub(crate) fn run<R>(id: Option<FlightId>, body: impl FnOnce() -> R) -> R {
    let _running = id.map(Running::enter);
    body()
}

/// Awaits `body` as the leader of flight `id`, marking each of its polls.
#[cfg(feature = "tokio")]
pub(crate) async fn lead<F: std::future::Future>(id: Option<FlightId>, body: F) -> F::Output {
    let mut body = std::pin::pin!(body);
    std::future::poll_fn(|cx| {
        let _running = id.map(Running::enter);
        body.as_mut().poll(cx)
    })
    .await
}
