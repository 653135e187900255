//! The handle of a `#[cached]` function and the call path its generated code takes.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::OnceLock;

use crate::clock::Clock;
use crate::config::Config;
use crate::flight::{Flights, Outcome, Role};
use crate::shape::ReturnShape;
use crate::stats::Stats;
use crate::store::{Lookup, MemoryStore};

/// The cache behind one `#[cached]` function, reachable through the static the
/// macro generates (`SLOW_SQUARE` for `fn slow_square`).
///
/// Keys are derived from the arguments exactly as the function derives them:
/// for `fn f(n: u64)` the key is `n`, for `fn f(name: &str, page: u32)` it is
/// `(String, u32)`. The store is created on first use.
pub struct Cache<K: Send, V: Send> {
    config: Config<V>,
    inner: OnceLock<Inner<K, V>>,
}

struct Inner<K: Send, V: Send> {
    store: MemoryStore<K, V>,
    flights: Flights<K, V>,
}

impl<K: Send, V: Send> Cache<K, V> {
    /// A cache configured by `config`; nothing is allocated until first use.
    pub const fn new(config: Config<V>) -> Self {
        Self {
            config,
            inner: OnceLock::new(),
        }
    }

    /// The namespace: the function's module path and name unless set.
    pub fn namespace(&self) -> &'static str {
        self.config.namespace_str()
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    fn inner(&self) -> &Inner<K, V> {
        self.inner.get_or_init(|| Inner::new(self.config, Clock::coarse()))
    }

    /// Makes the cache read `clock` (for example [`Clock::mock`] in tests).
    /// Returns `false`, changing nothing, if the cache was already used.
    pub fn use_clock(&self, clock: Clock) -> bool {
        let mut installed = false;
        self.inner.get_or_init(|| {
            installed = true;
            Inner::new(self.config, clock)
        });
        installed
    }

    /// The underlying store.
    pub fn store(&self) -> &MemoryStore<K, V> {
        &self.inner().store
    }

    /// The cached value for `key`, if live, without running the function or counting a hit.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.store().get(key)
    }

    /// Stores `value` for `key` as if the function had returned it.
    pub fn insert(&self, key: K, value: V) {
        let inner = self.inner();
        inner.flights.detach(&key);
        inner.store.insert(key, value);
    }

    /// Removes the entry for `key`; tells whether there was one. A call of the
    /// function already running for `key` will not store its result.
    pub fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = self.inner();
        inner.flights.detach(key);
        inner.store.remove(key)
    }

    /// Removes every entry; calls already running will not store their results.
    pub fn clear(&self) {
        let inner = self.inner();
        inner.flights.detach_all();
        inner.store.clear();
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
        self.store().stats()
    }
}

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    fn new(config: Config<V>, clock: Clock) -> Self {
        Self {
            store: MemoryStore::with_clock(config, clock),
            flights: Flights::new(),
        }
    }

    /// Stores a cacheable result; hands back the return value and what waiters see.
    fn settle<S, R>(&self, key: K, returned: R, stale: Option<V>) -> R
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

    fn fallback<S, R>(&self, returned: R, stale: Option<V>) -> R
    where
        S: ReturnShape<R, Value = V>,
    {
        match stale {
            Some(value) if self.store.config().stale_if_error => S::from_value(value),
            _ => returned,
        }
    }
}

/// Runs a `#[cached]` function: answers from the cache, or runs `body` once per
/// cold key however many threads ask for it.
pub fn call_sync<K, V, R, S, F>(cache: &Cache<K, V>, key: K, _shape: S, body: F) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    let inner = cache.inner();
    let stale = match inner.store.lookup(&key) {
        Lookup::Hit(value) => return S::from_value(value),
        Lookup::Stale { value, .. } => Some(value),
        Lookup::Miss => None,
    };
    if !cache.config.single_flight {
        return inner.settle::<S, R>(key, body(), stale);
    }
    loop {
        let ready = || match inner.store.probe(&key) {
            Lookup::Hit(value) => Some(value),
            _ => None,
        };
        match inner.flights.join(&key, ready) {
            Role::Ready(value) => return S::from_value(value),
            Role::Reentrant => return inner.settle::<S, R>(key, body(), stale),
            Role::Waiter(flight) => match flight.wait() {
                Outcome::Value(value) => return S::from_value(value),
                Outcome::Failed => return inner.settle::<S, R>(key, body(), stale),
                Outcome::Abandoned => continue,
            },
            Role::Leader(guard) => {
                return match S::into_value(body()) {
                    Ok(value) => {
                        let stored = value.clone();
                        guard.land(Outcome::Value(value.clone()), |key| {
                            inner.store.insert(key, stored)
                        });
                        S::from_value(value)
                    }
                    Err(returned) => {
                        guard.land(Outcome::Failed, drop);
                        inner.fallback::<S, R>(returned, stale)
                    }
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{Fallible, Plain};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn second_call_is_a_hit_and_err_is_not_cached() {
        static SQUARES: Cache<u64, u64> = Cache::new(Config::new("t::squares").size(16));
        let runs = AtomicUsize::new(0);
        let square = |n: u64| {
            call_sync(&SQUARES, n, Plain, || {
                runs.fetch_add(1, Ordering::SeqCst);
                n * n
            })
        };
        assert_eq!((square(3), square(3), square(4)), (9, 9, 16));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let stats = SQUARES.stats();
        assert_eq!((stats.hits, stats.misses, stats.len), (1, 2, 2));

        static FALLIBLE: Cache<u8, u8> = Cache::new(Config::new("t::fallible"));
        let r: Result<u8, &str> = call_sync(&FALLIBLE, 1, Fallible, || Err("down"));
        assert_eq!(r, Err("down"));
        let r: Result<u8, &str> = call_sync(&FALLIBLE, 1, Fallible, || Ok(5));
        assert_eq!(r, Ok(5));
        assert_eq!(FALLIBLE.get(&1), Some(5));
    }
}
