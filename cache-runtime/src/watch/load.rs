//! Timing and counting runs of a function's body (loads), on the miss path.

use std::future::Future;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::memory::store::MemoryStore;
use crate::shape::ReturnShape;

/// Runs `body` as a load of `store`: counts it, its time, and whether it
/// gave the cache a value to keep. A body that panics, or whose future is
/// dropped before it finishes, counts as a failed load.
#[inline]
pub(crate) async fn load<K, V, R, S>(store: &MemoryStore<K, V>, body: impl Future<Output = R>) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
{
    let timer = Timer::start(store);
    let returned = body.await;
    timer.end::<R, S>(returned)
}

/// [`load`] for a sync body.
#[inline]
pub(crate) fn load_sync<K, V, R, S>(store: &MemoryStore<K, V>, body: impl FnOnce() -> R) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
{
    let timer = Timer::start(store);
    let returned = body();
    timer.end::<R, S>(returned)
}

/// A load under way; dropped while armed (a panic, a dropped future), it
/// counts a failed load.
struct Timer<'a, K: Hash + Eq + Clone + Send, V: Clone + Send> {
    store: &'a MemoryStore<K, V>,
    started: Instant,
    armed: bool,
}

impl<'a, K: Hash + Eq + Clone + Send, V: Clone + Send> Timer<'a, K, V> {
    fn start(store: &'a MemoryStore<K, V>) -> Self {
        Timer {
            store,
            started: Instant::now(),
            armed: true,
        }
    }

    /// Counts the load that returned `returned`, failed unless it gave the
    /// cache a value to keep, and hands `returned` back.
    fn end<R, S: ReturnShape<R, Value = V>>(mut self, returned: R) -> R {
        let (returned, kept) = match S::into_value(returned) {
            Ok(value) => {
                let kept = !self.store.config().skips(&value);
                (S::from_value(value), kept)
            }
            Err(returned) => (returned, false),
        };
        self.finish(!kept);
        returned
    }

    fn finish(&mut self, failed: bool) {
        self.armed = false;
        let took = self.started.elapsed();
        self.store.record_load(took, failed);
        trace(self.store.config().namespace_str(), took, failed);
    }
}

impl<K: Hash + Eq + Clone + Send, V: Clone + Send> Drop for Timer<'_, K, V> {
    fn drop(&mut self) {
        if self.armed {
            self.finish(true);
        }
    }
}

/// A `tracing` debug event for each load (feature `tracing`).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn trace(namespace: &'static str, took: Duration, failed: bool) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "memocache",
        namespace,
        load_time = ?took,
        failed,
        "cache miss: the function ran"
    );
}
