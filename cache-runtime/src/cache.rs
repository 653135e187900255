//! The handle of a `#[cached]` function and the call path its generated code takes.

use std::borrow::Borrow;
use std::hash::Hash;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::LazyCore;
use crate::flight::{Outcome, Role};
use crate::shape::ReturnShape;
use crate::stats::Stats;
use crate::store::{Lookup, MemoryStore};
use crate::thread_latch::ThreadLatch;

/// The cache behind one `#[cached]` function, reachable through the static the
/// macro generates (`SLOW_SQUARE` for `fn slow_square`).
///
/// Keys are derived from the arguments exactly as the function derives them:
/// for `fn f(n: u64)` the key is `n`, for `fn f(name: &str, page: u32)` it is
/// `(String, u32)`. The store is created on first use.
pub struct Cache<K: Send, V: Send> {
    core: LazyCore<K, V, ThreadLatch<V>>,
}

impl<K: Send, V: Send> Cache<K, V> {
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

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    /// Makes the cache read `clock` (for example [`Clock::mock`] in tests).
    /// Returns `false`, changing nothing, if the cache was already used.
    pub fn use_clock(&self, clock: Clock) -> bool {
        self.core.use_clock(clock)
    }

    /// The underlying store.
    pub fn store(&self) -> &MemoryStore<K, V> {
        &self.core.get().store
    }

    /// The cached value for `key`, if live, without running the function or counting a hit.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.get().get(key)
    }

    /// Stores `value` for `key` as if the function had returned it.
    pub fn insert(&self, key: K, value: V) {
        self.core.get().insert(key, value);
    }

    /// Removes the entry for `key`; tells whether there was one. A call of the
    /// function already running for `key` will not store its result.
    pub fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.get().invalidate(key)
    }

    /// Removes every entry; calls already running will not store their results.
    pub fn clear(&self) {
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

/// Runs a `#[cached]` function: answers from the cache, or runs `body` once per
/// cold key however many threads ask for it.
#[inline]
pub fn call_sync<K, V, R, S, F>(cache: &Cache<K, V>, key: K, _shape: S, body: F) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    match cache.core.get().store.lookup(&key) {
        Lookup::Hit(value) => S::from_value(value),
        Lookup::Stale { value, .. } => miss::<K, V, R, S, F>(cache, key, Some(value), body),
        Lookup::Miss => miss::<K, V, R, S, F>(cache, key, None, body),
    }
}

/// The miss path, kept out of line so that the hit path stays small.
#[cold]
#[inline(never)]
fn miss<K, V, R, S, F>(cache: &Cache<K, V>, key: K, stale: Option<V>, body: F) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    let core = cache.core.get();
    if stale.is_some() {
        core.store.record_miss();
    }
    if !cache.core.config.single_flight {
        return core.settle::<S, R>(key, body(), stale);
    }
    loop {
        match core.join(&key) {
            Role::Ready(value) => return S::from_value(value),
            Role::Reentrant => return core.settle::<S, R>(key, body(), stale),
            Role::Waiter(flight) => match flight.latch.wait() {
                Outcome::Value(value) => return S::from_value(value),
                Outcome::Failed => return core.settle::<S, R>(key, body(), stale),
                Outcome::Abandoned => continue,
            },
            Role::Leader(guard) => {
                return match S::into_value(body()) {
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
