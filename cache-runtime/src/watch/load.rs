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
    let mut timer = Timer {
        store,
        started: Instant::now(),
        armed: true,
    };
    let returned = body.await;
    let (returned, kept) = match S::into_value(returned) {
        Ok(value) => {
            let kept = !store.config().skips(&value);
            (S::from_value(value), kept)
        }
        Err(returned) => (returned, false),
    };
    timer.finish(!kept);
    returned
}

/// A load under way; dropped while armed (a panic, a dropped future), it
/// counts a failed load.
struct Timer<'a, K: Hash + Eq + Clone + Send, V: Clone + Send> {
    store: &'a MemoryStore<K, V>,
    started: Instant,
    armed: bool,
}

impl<K: Hash + Eq + Clone + Send, V: Clone + Send> Timer<'_, K, V> {
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
