//! What a sync and an async handle share: the tiers of a cache, built on
//! first use.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use crate::call::configure::Pending;
use crate::call::step::Mode;
use crate::clock::Clock;
use crate::config::Config;
use crate::memory::store::MemoryStore;
use crate::remote::tier::Fetched;
use crate::remote::tier::{RemoteFactory, RemoteTier};
use crate::stats::Stats;

/// The tiers of one cache: the memory store, which keeps the flights, the
/// stats and (unless the cache is remote-only) the values, and the remote
/// tier behind it, if the cache has one.
pub(crate) struct Tiers<K: Send, V: Send> {
    pub(crate) memory: MemoryStore<K, V>,
    // An `Arc` so that the registry can hold it weakly; the hit path never reads it.
    pub(crate) remote: Option<Arc<dyn RemoteTier<K, V>>>,
}

/// The lazily built tiers of a handle living in a `static`.
pub(crate) struct LazyTiers<K: Send, V: Send> {
    pub(crate) config: Config<V>,
    remote: Option<RemoteFactory<K, V>>,
    /// Size and TTLs set at run time, laid over `config` on first use.
    pub(crate) pending: Pending,
    /// Whether the tiers are listed in the registry once built (not for an
    /// HTTP cache's store: the cache lists itself).
    listed: bool,
    tiers: OnceLock<Tiers<K, V>>,
}

// Without bounds, so that a key or value type that cannot be cached is
// reported once, where the attribute checks it, not again here.
impl<K: Send, V: Send> LazyTiers<K, V> {
    pub(crate) const fn new(config: Config<V>, remote: Option<RemoteFactory<K, V>>) -> Self {
        Self {
            config,
            remote,
            pending: Pending::new(),
            listed: true,
            tiers: OnceLock::new(),
        }
    }

    /// Leaves these tiers out of the registry.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn unlisted(self) -> Self {
        Self {
            listed: false,
            ..self
        }
    }
}

impl<K, V> LazyTiers<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    #[inline]
    pub(crate) fn get(&self) -> &Tiers<K, V> {
        self.tiers.get_or_init(|| self.build(Clock::coarse()))
    }

    fn build(&self, clock: Clock) -> Tiers<K, V> {
        let config = self.pending.seal(self.config);
        let remote: Option<Arc<dyn RemoteTier<K, V>>> =
            self.remote.map(|make| make(&config).into());
        let mut memory = MemoryStore::with_clock(config, clock);
        memory.set_inbox(remote.as_ref().and_then(|remote| remote.invalidations()));
        let tiers = Tiers { memory, remote };
        if self.listed {
            crate::watch::registry::enlist_tiers(&tiers);
        }
        tiers
    }

    pub(crate) fn use_clock(&self, clock: Clock) -> bool {
        let mut installed = false;
        self.tiers.get_or_init(|| {
            installed = true;
            self.build(clock)
        });
        installed
    }

    pub(crate) fn stats(&self) -> Stats {
        let tiers = self.get();
        let mut stats = tiers.memory.stats();
        if let Some(remote) = &tiers.remote {
            stats.add_remote(remote.stats());
        }
        stats
    }
}

/// What the handles' `get`, `insert`, `invalidate` and `clear` do, for a
/// caller that waits as `M` says.
impl<K, V> Tiers<K, V>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    /// A live value for `key` from process memory, else from the remote tier.
    pub(crate) async fn read<M: Mode, Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(value) = self.memory.get(key) {
            return Some(value);
        }
        let remote = self.remote.as_ref()?;
        match M::remote(remote.get(&key.to_owned())).await {
            Fetched::Fresh { value, .. } => Some(value),
            Fetched::Stale { .. } | Fetched::Missing => None,
        }
    }

    /// Stores `value` for `key` in every tier.
    pub(crate) async fn insert<M: Mode>(&self, key: K, value: V) {
        if let Some(remote) = &self.remote {
            M::remote(remote.put(&key, &value)).await;
        }
        self.memory.insert(key, value);
    }

    /// Removes `key` from every tier; tells whether one held it.
    pub(crate) async fn invalidate<M: Mode, Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let local = self.memory.remove(key);
        let remote = match &self.remote {
            Some(remote) => M::remote(remote.remove(&key.to_owned())).await,
            None => false,
        };
        local || remote
    }

    /// Removes every entry from every tier.
    pub(crate) async fn clear<M: Mode>(&self) {
        self.memory.clear();
        if let Some(remote) = &self.remote {
            M::remote(remote.clear()).await;
        }
    }
}

/// Writes the methods that both handles, [`crate::Cache`] and
/// `AsyncCache`, have in the same form (each has a `core: LazyTiers` field).
macro_rules! handle_basics {
    ($handle:ident) => {
        impl<K: Send, V: Send> $handle<K, V> {
            /// A cache configured by `config`; nothing is allocated until
            /// first use, when it is listed in [`crate::registry`].
            pub const fn new(config: Config<V>) -> Self {
                Self {
                    core: LazyTiers::new(config, None),
                }
            }

            /// A cache with a remote tier behind its memory store, built by
            /// `remote` on first use (the Redis store, for `store = "redis"`).
            pub const fn with_remote(config: Config<V>, remote: RemoteFactory<K, V>) -> Self {
                Self {
                    core: LazyTiers::new(config, Some(remote)),
                }
            }
        }

        impl<K: Send, V: Send> $handle<K, V> {
            /// The namespace: the function's module path and name unless set.
            pub fn namespace(&self) -> &'static str {
                self.core.config.namespace_str()
            }

            /// The same cache, left out of the registry: its owner lists itself.
            #[allow(dead_code)] // used by the HTTP cache's `AsyncCache` only
            pub(crate) fn unlisted(self) -> Self {
                Self {
                    core: self.core.unlisted(),
                }
            }
        }

        impl<K, V> $handle<K, V>
        where
            K: Hash + Eq + Clone + Send + 'static,
            V: Clone + Send + 'static,
        {
            /// Makes the cache read `clock` (for example [`Clock::mock`] in tests).
            /// Returns `false`, changing nothing, if the cache was already used.
            pub fn use_clock(&self, clock: Clock) -> bool {
                self.core.use_clock(clock)
            }

            /// The underlying in-process store.
            pub fn store(&self) -> &MemoryStore<K, V> {
                &self.core.get().memory
            }

            /// Entries held in process memory.
            pub fn len(&self) -> usize {
                self.store().len()
            }

            /// Whether no entry is held in process memory.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The key under which the remote tier stores `key`'s value
            /// (`shop:product:42` in Redis); `None` for a cache without a
            /// remote tier, or a key it cannot store.
            pub fn remote_key(&self, key: &K) -> Option<String> {
                self.core.get().remote.as_ref()?.key_name(key)
            }

            /// Hits, misses, evictions, expirations, errors, length and
            /// capacity, and the remote tier's counters.
            pub fn stats(&self) -> Stats {
                self.core.stats()
            }
        }
    };
}

pub(crate) use handle_basics;
