//! The runtime every Redis operation runs on: one worker thread of the
//! library's own, so that a connection outlives the runtimes of its callers
//! (a `#[tokio::test]` makes one per test) and a sync caller can wait for an
//! operation from any thread, a tokio worker included.
//!
//! An async caller need not hop onto it: an operation it awaits through
//! [`awaited_by_task`] is polled on the caller's own task ([`on_caller_task`]),
//! inside the library runtime's context.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The library's runtime, started on first use and kept for the process.
pub(crate) fn handle() -> &'static Handle {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("memocache-redis")
                .enable_all()
                .build()
                .expect("memocache: cannot start the thread that talks to Redis")
        })
        .handle()
}

/// Runs `operation` on the library's runtime.
pub(crate) fn spawn<F>(operation: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle().spawn(operation)
}

thread_local! {
    /// Set while an async caller's task polls a remote operation.
    static BY_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the operation being polled is awaited by an async caller's task
/// (see [`awaited_by_task`]), rather than blocked on by a sync caller.
pub(crate) fn polled_by_task() -> bool {
    BY_TASK.get()
}

/// `operation`, awaited by an async caller's task: the Redis operations it
/// starts may run on that task ([`polled_by_task`] holds while it is polled).
/// A sync caller blocks on its operations instead, and they hop onto the
/// library's runtime: the caller's thread may be the one that should drive
/// their timers.
pub(crate) fn awaited_by_task<F: Future + Unpin>(operation: F) -> ByTask<F> {
    ByTask(operation)
}

/// See [`awaited_by_task`].
pub(crate) struct ByTask<F>(F);

impl<F: Future + Unpin> Future for ByTask<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _mark = Mark(BY_TASK.replace(true));
        Pin::new(&mut self.0).poll(cx)
    }
}

/// Puts back the thread's mark as it was before a poll, even one that panics.
struct Mark(bool);

impl Drop for Mark {
    fn drop(&mut self) {
        BY_TASK.set(self.0);
    }
}

/// Runs `operation` on the caller's task, with no hop, yet as if on the
/// library's runtime: each poll enters its context, so the operation's
/// timers are the library runtime's (the caller's runtime may have none) and
/// what it spawns (a connection's driver, a reconnection) lives there, past
/// the caller's runtime. If the caller drops it unfinished, the rest runs on
/// the library's runtime: the operation still ends, and records how.
pub(crate) fn on_caller_task<F>(operation: F) -> Detaching<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Detaching(Some(Box::pin(operation)))
}

/// See [`on_caller_task`].
pub(crate) struct Detaching<T: Send + 'static>(
    Option<Pin<Box<dyn Future<Output = T> + Send + 'static>>>,
);

impl<T: Send + 'static> Future for Detaching<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let operation = self.0.as_mut().expect("polled after it ended");
        let polled = {
            let _context = handle().enter();
            operation.as_mut().poll(cx)
        };
        if polled.is_ready() {
            self.0 = None;
        }
        polled
    }
}

impl<T: Send + 'static> Drop for Detaching<T> {
    fn drop(&mut self) {
        if let Some(operation) = self.0.take() {
            drop(spawn(operation));
        }
    }
}
