//! What a caller of a key gets from the store, and the guard of the caller
//! that computes a cold key (the leader of its flight).

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use crate::latch::{Latch, Outcome};
#[cfg(feature = "tokio")]
use crate::nesting::FlightId;
use crate::store::MemoryStore;

/// An expired value kept for `stale_if_error` or `refresh_ahead`.
pub(crate) struct Stale<V> {
    pub(crate) value: V,
    /// Read by `refresh_ahead`, an async-only option.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) expired_for: Duration,
}

/// What a caller of a key is to do.
pub(crate) enum Claim<'a, K: Hash + Eq + Clone + Send, V: Clone + Send> {
    /// A live value.
    Hit(V),
    /// Compute the value, then land the guard.
    Lead {
        guard: LeaderGuard<'a, K, V>,
        stale: Option<Stale<V>>,
    },
    /// Another caller computes it: wait on the latch.
    Wait {
        latch: Arc<Latch<V>>,
        stale: Option<Stale<V>>,
    },
    /// This thread computes it already (the body calls its own key): run the body.
    Reentrant { stale: Option<Stale<V>> },
}

impl<K: Hash + Eq + Clone + Send, V: Clone + Send> Claim<'_, K, V> {
    pub(crate) fn stale(&self) -> Option<&Stale<V>> {
        match self {
            Claim::Hit(_) => None,
            Claim::Lead { stale, .. } | Claim::Wait { stale, .. } | Claim::Reentrant { stale } => {
                stale.as_ref()
            }
        }
    }
}

/// Held by the leader while the body runs; dropping it unlanded (a panic, a
/// dropped future) abandons the flight, so that a waiter leads anew.
pub(crate) struct LeaderGuard<'a, K: Hash + Eq + Clone + Send, V: Clone + Send> {
    store: &'a MemoryStore<K, V>,
    hash: u64,
    key: Option<K>,
    seq: Option<u64>,
}

impl<'a, K: Hash + Eq + Clone + Send, V: Clone + Send> LeaderGuard<'a, K, V> {
    pub(crate) fn new(store: &'a MemoryStore<K, V>, hash: u64, key: K, seq: Option<u64>) -> Self {
        Self {
            store,
            hash,
            key: Some(key),
            seq,
        }
    }

    /// The flight this guard leads (`None` when single-flight is off), for the
    /// marks of an async leader.
    #[cfg(feature = "tokio")]
    pub(crate) fn id(&self) -> Option<FlightId> {
        self.seq
            .map(|seq| self.store.shard(self.hash).flight_id(seq))
    }

    /// Stores `value` and hands it to the waiters.
    #[inline]
    pub(crate) fn land(mut self, value: &V) {
        self.store
            .land(self.hash, &mut self.key, self.seq, Ok(value));
    }

    /// Tells the waiters the result is not cacheable: they run the body themselves.
    pub(crate) fn fail(mut self) {
        self.store
            .land(self.hash, &mut self.key, self.seq, Err(Outcome::Failed));
    }
}

impl<K: Hash + Eq + Clone + Send, V: Clone + Send> Drop for LeaderGuard<'_, K, V> {
    fn drop(&mut self) {
        if self.key.is_some() {
            self.store
                .land(self.hash, &mut self.key, self.seq, Err(Outcome::Abandoned));
        }
    }
}
