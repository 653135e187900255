//! What a sync and an async handle share: a store built on first use, and how
//! a body's result is stored or passed over.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::OnceLock;

use crate::clock::Clock;
use crate::config::Config;
use crate::shape::ReturnShape;
use crate::stats::Stats;
use crate::store::MemoryStore;

/// The lazily built store of a handle living in a `static`.
pub(crate) struct LazyStore<K: Send, V: Send> {
    pub(crate) config: Config<V>,
    store: OnceLock<MemoryStore<K, V>>,
}

impl<K: Send, V: Send> LazyStore<K, V> {
    pub(crate) const fn new(config: Config<V>) -> Self {
        Self {
            config,
            store: OnceLock::new(),
        }
    }
}

impl<K, V> LazyStore<K, V>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    #[inline]
    pub(crate) fn get(&self) -> &MemoryStore<K, V> {
        self.store
            .get_or_init(|| MemoryStore::with_clock(self.config, Clock::coarse()))
    }

    pub(crate) fn use_clock(&self, clock: Clock) -> bool {
        let mut installed = false;
        self.store.get_or_init(|| {
            installed = true;
            MemoryStore::with_clock(self.config, clock)
        });
        installed
    }

    pub(crate) fn read<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get().get(key)
    }

    pub(crate) fn stats(&self) -> Stats {
        self.get().stats()
    }
}

/// Stores a result computed outside a flight and hands back the return value
/// (or, for an uncacheable one, the stale value if the cache serves it).
pub(crate) fn settle<K, V, S, R>(
    store: &MemoryStore<K, V>,
    key: K,
    returned: R,
    stale: Option<V>,
) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
{
    match S::into_value(returned) {
        Ok(value) => {
            store.store_result(key, value.clone());
            S::from_value(value)
        }
        Err(returned) => fallback::<K, V, S, R>(store, returned, stale),
    }
}

/// An uncacheable return value, or the stale value if the cache serves one on error.
pub(crate) fn fallback<K, V, S, R>(store: &MemoryStore<K, V>, returned: R, stale: Option<V>) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
{
    match stale {
        Some(value) if store.config().stale_if_error => S::from_value(value),
        _ => returned,
    }
}
