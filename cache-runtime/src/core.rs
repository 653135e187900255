//! What a sync and an async handle share: the store, the flights in progress,
//! and how a body's result is stored or passed over.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::OnceLock;

use crate::clock::Clock;
use crate::config::Config;
use crate::flight::{Flights, Latch, Role};
use crate::shape::ReturnShape;
use crate::stats::Stats;
use crate::store::{Lookup, MemoryStore};

pub(crate) struct Core<K: Send, V: Send, L> {
    pub(crate) store: MemoryStore<K, V>,
    pub(crate) flights: Flights<K, L>,
}

/// The lazily built [`Core`] of a handle living in a `static`.
pub(crate) struct LazyCore<K: Send, V: Send, L> {
    pub(crate) config: Config<V>,
    core: OnceLock<Core<K, V, L>>,
}

impl<K: Send, V: Send, L> LazyCore<K, V, L> {
    pub(crate) const fn new(config: Config<V>) -> Self {
        Self {
            config,
            core: OnceLock::new(),
        }
    }
}

impl<K, V, L> LazyCore<K, V, L>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    L: Latch<Value = V>,
{
    #[inline]
    pub(crate) fn get(&self) -> &Core<K, V, L> {
        self.core
            .get_or_init(|| Core::new(self.config, Clock::coarse()))
    }

    pub(crate) fn use_clock(&self, clock: Clock) -> bool {
        let mut installed = false;
        self.core.get_or_init(|| {
            installed = true;
            Core::new(self.config, clock)
        });
        installed
    }
}

impl<K, V, L> Core<K, V, L>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    L: Latch<Value = V>,
{
    fn new(config: Config<V>, clock: Clock) -> Self {
        Self {
            store: MemoryStore::with_clock(config, clock),
            flights: Flights::new(),
        }
    }

    /// Joins the flight of `key` unless its value landed in the store meanwhile.
    pub(crate) fn join(&self, key: &K) -> Role<'_, K, L> {
        self.flights.join(key, || match self.store.probe(key) {
            Lookup::Hit(value) => Some(value),
            _ => None,
        })
    }

    /// Stores a cacheable result and hands back the return value.
    pub(crate) fn settle<S, R>(&self, key: K, returned: R, stale: Option<V>) -> R
    where
        S: ReturnShape<R, Value = V>,
    {
        match S::into_value(returned) {
            Ok(value) => {
                self.store.insert(key, value.clone());
                S::from_value(value)
            }
            Err(returned) => self.fallback::<S, R>(returned, stale),
        }
    }

    /// An uncacheable result, or the stale value if the cache serves one on error.
    pub(crate) fn fallback<S, R>(&self, returned: R, stale: Option<V>) -> R
    where
        S: ReturnShape<R, Value = V>,
    {
        match stale {
            Some(value) if self.store.config().stale_if_error => S::from_value(value),
            _ => returned,
        }
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.store.get(key)
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        self.flights.detach(&key);
        self.store.insert(key, value);
    }

    pub(crate) fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.flights.detach(key);
        self.store.remove(key)
    }

    pub(crate) fn clear(&self) {
        self.flights.detach_all();
        self.store.clear();
    }

    pub(crate) fn stats(&self) -> Stats {
        self.store.stats()
    }
}
