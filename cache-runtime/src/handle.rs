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

/// Writes the methods that both handles, [`crate::Cache`] and
/// `AsyncCache`, have in the same form (each has a `core: LazyStore` field).
macro_rules! handle_basics {
    ($handle:ident) => {
        impl<K: Send, V: Send> $handle<K, V> {
            /// A cache configured by `config`; nothing is allocated until first use.
            pub const fn new(config: Config<V>) -> Self {
                Self {
                    core: LazyStore::new(config),
                }
            }

            /// The namespace: the function's module path and name unless set.
            pub fn namespace(&self) -> &'static str {
                self.core.config.namespace_str()
            }
        }

        impl<K, V> $handle<K, V>
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
                self.core.get()
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
                self.core.stats()
            }
        }
    };
}

pub(crate) use handle_basics;
