//! The seam between the in-process store and a shared one: what a remote tier
//! (Redis) must do for the call paths.
//!
//! The memory store keeps the flights, the stats and the hit path; a remote
//! tier is asked only by the leader of a cold key, and written after the body
//! ran. Its operations never fail in the caller's eyes: an error, a timeout or
//! an open breaker is a miss or a skipped write, counted in its
//! [`RemoteStats`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

/// A remote operation under way. It is `'static`, owns what it needs, and
/// ends by itself within the tier's deadline, so a sync caller may block on
/// it from any thread.
pub type RemoteFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a remote tier holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched<V> {
    /// A value still fresh, for `fresh_for` more (`None`: it never expires).
    Fresh {
        /// The value.
        value: V,
        /// How long it stays fresh.
        fresh_for: Option<Duration>,
    },
    /// A value past its freshness, kept for `stale_if_error` or `refresh_ahead`.
    Stale {
        /// The value.
        value: V,
        /// How long ago it stopped being fresh.
        expired_for: Duration,
    },
    /// Nothing usable: absent, undecodable, foreign, or the tier failed.
    Missing,
}

/// What the leader of a cold key in this process is to do once the remote
/// tier missed, so that one process in all computes it.
#[derive(Debug)]
pub enum Claimed<V> {
    /// Another process computed the value meanwhile.
    Computed {
        /// The value.
        value: V,
        /// How long it stays fresh (`None`: it never expires).
        fresh_for: Option<Duration>,
    },
    /// Compute it, holding `lock` (if one could be taken) until the value is written.
    Compute(Option<RemoteLock>),
}

/// A short lock on a key across processes, released only by its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLock {
    /// Where the lock is held (a Redis key).
    pub name: String,
    /// What tells its owner apart.
    pub token: String,
}

/// Counters of one remote tier, summed into [`crate::Stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RemoteStats {
    /// Lookups answered with a usable value (fresh or stale).
    pub hits: u64,
    /// Lookups that found nothing usable (absent, undecodable or foreign).
    pub misses: u64,
    /// Operations that failed: connection refused or lost, a server error.
    pub errors: u64,
    /// Operations that ran past their deadline.
    pub timeouts: u64,
    /// Operations skipped because the circuit breaker was open.
    pub skipped: u64,
    /// Whether the breaker is open now (the tier is being skipped).
    pub breaker_open: bool,
}

/// A shared tier behind the memory store: get with remaining TTL, put, remove,
/// clear. Implementations apply the cache's expiry policy themselves (they are
/// built from its [`crate::Config`]) and must never panic.
pub trait RemoteTier<K, V>: Send + Sync {
    /// What the tier holds for `key`. A `sliding` cache renews the entry.
    fn get(&self, key: &K) -> RemoteFuture<Fetched<V>>;

    /// Stores `value` for `key` under the cache's expiry policy (a value the
    /// policy does not keep is not written). Nothing is sent until the future
    /// is first polled, so a caller may drop it unpolled to write nothing.
    fn put(&self, key: &K, value: &V) -> RemoteFuture<()>;

    /// Stores the last good `value` of `key` again, fresh for `window`
    /// whatever the policy says: `stale_if_error` after a failed body, so
    /// that other processes serve it too instead of running the body.
    fn rearm(&self, key: &K, value: &V, window: Duration) -> RemoteFuture<()>;

    /// Removes `key`; tells whether an entry was there.
    fn remove(&self, key: &K) -> RemoteFuture<bool>;

    /// Removes every entry of the cache.
    fn clear(&self) -> RemoteFuture<()>;

    /// The name under which the tier stores `key` (a Redis key), if it can
    /// store it at all.
    fn key_name(&self, key: &K) -> Option<String>;

    /// The tier's counters.
    fn stats(&self) -> RemoteStats;

    /// Called by the leader of a cold key after [`RemoteTier::get`] found
    /// nothing fresh: takes a lock on the key across processes, or waits
    /// (bounded) for the process holding it to write the value. A tier
    /// without locks answers `Claimed::Compute(None)`: every process then
    /// computes its own.
    fn claim(&self, key: &K) -> RemoteFuture<Claimed<V>>;

    /// Releases a lock [`RemoteTier::claim`] took, if it is still this owner's.
    fn release(&self, _lock: RemoteLock) -> RemoteFuture<()> {
        Box::pin(std::future::ready(()))
    }

    /// Where the tier delivers invalidations for the local tier in front of
    /// it (a tiered cache); `None` when it has none to deliver.
    fn invalidations(&self) -> Option<Arc<Invalidations<K>>> {
        None
    }
}

/// Builds a cache's remote tier on first use, from the cache's configuration.
pub type RemoteFactory<K, V> = fn(&crate::Config<V>) -> Box<dyn RemoteTier<K, V>>;

/// One change another process (or Redis) made to a remote entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation<K> {
    /// This key's entry changed or went.
    Key(K),
    /// Anything may have changed: the tier lost its invalidation channel, or
    /// a key it could not read changed.
    All,
}

/// Invalidations a remote tier received for the local tier in front of it.
/// The memory store applies them at its next access, before it answers, so
/// no caller is served an entry after its invalidation was received.
#[derive(Debug)]
pub struct Invalidations<K> {
    pending: AtomicBool,
    queue: Mutex<Vec<Invalidation<K>>>,
}

impl<K> Default for Invalidations<K> {
    fn default() -> Self {
        Self {
            pending: AtomicBool::new(false),
            queue: Mutex::new(Vec::new()),
        }
    }
}

impl<K> Invalidations<K> {
    /// Queues `invalidation` for the memory store's next access.
    pub fn push(&self, invalidation: Invalidation<K>) {
        self.queue.lock().push(invalidation);
        self.pending.store(true, Release);
    }

    /// Whether invalidations wait to be applied.
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.load(Acquire)
    }

    /// The invalidations waiting, oldest first.
    pub(crate) fn take(&self) -> Vec<Invalidation<K>> {
        let mut queue = self.queue.lock();
        self.pending.store(false, Relaxed);
        std::mem::take(&mut *queue)
    }
}
