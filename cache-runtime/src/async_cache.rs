//! The handle of an `#[async_cached]` function and the call paths its generated
//! code takes.
//!
//! Waiting for another caller's computation yields the task (no worker thread
//! is blocked), no lock is held across an `.await`, and a caller whose future
//! is dropped mid-body abandons its flight so that a waiter takes over.

use std::borrow::Borrow;
use std::future::Future;
use std::hash::Hash;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::{Core, LazyCore};
use crate::flight::{Outcome, Role};
use crate::shape::ReturnShape;
use crate::stats::Stats;
use crate::store::{Lookup, MemoryStore};
use crate::task_latch::{lead, TaskLatch};

/// The cache behind one `#[async_cached]` function, reachable through the static
/// the macro generates (`GET_PRODUCT` for `async fn get_product`).
///
/// The same store as [`crate::Cache`]; invalidation and clearing are `async` so
/// that remote tiers can take part in them.
pub struct AsyncCache<K: Send, V: Send> {
    core: LazyCore<K, V, TaskLatch<V>>,
}

type AsyncCore<K, V> = Core<K, V, TaskLatch<V>>;

impl<K: Send, V: Send> AsyncCache<K, V> {
    /// A cache configured by `config`; nothing is allocated until first use.
    pub const fn new(config: Config<V>) -> Self {
        Self {
            core: LazyCore::new(config),
        }
    }

    /// The namespace: the function's module path and name unless set.
    pub fn namespace(&self) -> &'static str {
        self.core.config.namespace_str()
    }
}

impl<K, V> AsyncCache<K, V>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    /// Makes the cache read `clock` (for example [`Clock::mock`] in tests).
    /// Returns `false`, changing nothing, if the cache was already used.
    pub fn use_clock(&self, clock: Clock) -> bool {
        self.core.use_clock(clock)
    }

    /// The underlying in-process store.
    pub fn store(&self) -> &MemoryStore<K, V> {
        &self.core.get().store
    }

    /// The cached value for `key`, if live, without running the function or counting a hit.
    pub async fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.get().get(key)
    }

    /// Stores `value` for `key` as if the function had returned it.
    pub async fn insert(&self, key: K, value: V) {
        self.core.get().insert(key, value);
    }

    /// Removes the entry for `key`; tells whether there was one. A call of the
    /// function already running for `key` will not store its result.
    pub async fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.get().invalidate(key)
    }

    /// Removes every entry; calls already running will not store their results.
    pub async fn clear(&self) {
        self.core.get().clear();
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.store().len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hits, misses, evictions, expirations, errors, length and capacity.
    pub fn stats(&self) -> Stats {
        self.core.get().stats()
    }
}

/// Runs an `#[async_cached]` function: answers from the cache, or awaits `body`
/// once per cold key however many tasks ask for it.
pub async fn call_async<K, V, R, S, F>(cache: &AsyncCache<K, V>, key: K, _shape: S, body: F) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: Future<Output = R>,
{
    let core = cache.core.get();
    let stale = match core.store.lookup(&key) {
        Lookup::Hit(value) => return S::from_value(value),
        Lookup::Stale { value, .. } => {
            core.store.record_miss();
            Some(value)
        }
        Lookup::Miss => None,
    };
    resolve::<K, V, R, S, F>(core, key, stale, body).await
}

/// Like [`call_async`], for functions with `refresh_ahead`: within the window
/// after expiry the stale value is returned at once while one background task
/// runs a fresh body made by `body`. A failed refresh leaves the stale value in
/// place; the next stale hit tries again.
pub async fn call_async_refreshing<K, V, R, S, F, Fut>(
    cache: &'static AsyncCache<K, V>,
    key: K,
    _shape: S,
    body: F,
) -> R
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: ReturnShape<R, Value = V>,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let core = cache.core.get();
    let window = cache.core.config.refresh_ahead.unwrap_or_default();
    let stale = match core.store.lookup(&key) {
        Lookup::Hit(value) => return S::from_value(value),
        Lookup::Stale { value, expired_for } => {
            if expired_for < window && tokio::runtime::Handle::try_current().is_ok() {
                core.store.record_hit();
                spawn_refresh::<K, V, R, S, _, _>(core, key, body);
                return S::from_value(value);
            }
            core.store.record_miss();
            Some(value)
        }
        Lookup::Miss => None,
    };
    resolve::<K, V, R, S, Fut>(core, key, stale, body()).await
}

/// Starts one background refresh of `key` unless one is running already.
fn spawn_refresh<K, V, R, S, F, Fut>(core: &'static AsyncCore<K, V>, key: K, body: F)
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let Role::Leader(guard) = core.join(&key) else {
        return;
    };
    tokio::spawn(async move {
        match S::into_value(lead(guard.latch(), body()).await) {
            Ok(value) => guard.land(Outcome::Value(value.clone()), |key| {
                core.store.insert(key, value)
            }),
            Err(_) => guard.land(Outcome::Failed, drop),
        }
    });
}

/// The miss path: lead, wait for the leader, or run alongside a failed one.
async fn resolve<K, V, R, S, F>(core: &AsyncCore<K, V>, key: K, stale: Option<V>, body: F) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: Future<Output = R>,
{
    if !core.store.config().single_flight {
        return core.settle::<S, R>(key, body.await, stale);
    }
    loop {
        match core.join(&key) {
            Role::Ready(value) => return S::from_value(value),
            Role::Reentrant => return core.settle::<S, R>(key, body.await, stale),
            Role::Waiter(flight) => match flight.latch.wait().await {
                Outcome::Value(value) => return S::from_value(value),
                Outcome::Failed => return core.settle::<S, R>(key, body.await, stale),
                Outcome::Abandoned => continue,
            },
            Role::Leader(guard) => {
                return match S::into_value(lead(guard.latch(), body).await) {
                    Ok(value) => {
                        let stored = value.clone();
                        guard.land(Outcome::Value(value.clone()), |key| {
                            core.store.insert(key, stored)
                        });
                        S::from_value(value)
                    }
                    Err(returned) => {
                        guard.land(Outcome::Failed, drop);
                        core.fallback::<S, R>(returned, stale)
                    }
                };
            }
        }
    }
}
