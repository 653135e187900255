//! The runtime every Redis operation runs on: one worker thread of the
//! library's own, so that a connection outlives the runtimes of its callers
//! (a `#[tokio::test]` makes one per test) and a sync caller can wait for an
//! operation from any thread, a tokio worker included.

use std::future::Future;
use std::sync::OnceLock;

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
