//! Size and TTL set at run time, before a cache's first use: from an
//! application's own configuration file or environment.
//!
//! A handle's [`Config`] is a `const` built by the attribute; these settings
//! are laid over it when the cache's store is built. Building the store seals
//! them, so that a setting never half-applies to a store already in use.

use std::fmt;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use crate::call::handle::LazyTiers;
use crate::call::sync_call::Cache;
use crate::config::{Capacity, Config};

/// The settings an application may change at start-up, given to the closure
/// of [`Cache::configure`] (and `AsyncCache::configure`). Those not set keep
/// the attribute's values.
///
/// ```
/// use std::time::Duration;
/// use memocache_runtime::{Cache, Config};
///
/// // What `#[cached(size = 100, ttl = "1m")]` generates, in short.
/// static PRICES: Cache<u64, u64> =
///     Cache::new(Config::new("shop:price").size(100).ttl(Duration::from_secs(60)));
///
/// // At start-up, from the application's configuration:
/// let size: usize = "5000".parse().unwrap();
/// PRICES
///     .configure(|c| c.size(size).ttl(Duration::from_secs(300)))
///     .expect("configured before first use");
/// PRICES.insert(1, 10);
/// assert_eq!(PRICES.stats().capacity, Some(5000));
/// assert!(PRICES.set_size(10).is_err()); // in use now
/// /// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    capacity: Option<Capacity>,
    ttl: Option<Duration>,
    none_ttl: Option<Duration>,
}

impl Settings {
    /// Holds at most `entries` entries, as the attribute's `size`.
    ///
    /// # Panics
    ///
    /// If `entries` is 0: a cache without a bound is [`Settings::unbounded`].
    pub fn size(self, entries: usize) -> Self {
        assert!(
            entries >= 1,
            "memocache: size must be at least 1 (for no bound, use `unbounded()`)"
        );
        Self {
            capacity: Some(Capacity::Bounded(entries)),
            ..self
        }
    }

    /// Holds any number of entries, as the attribute's `unbounded`.
    pub fn unbounded(self) -> Self {
        Self {
            capacity: Some(Capacity::Unbounded),
            ..self
        }
    }

    /// Entries expire `ttl` after they are written, as the attribute's `ttl`.
    ///
    /// # Panics
    ///
    /// If `ttl` is zero.
    pub fn ttl(self, ttl: Duration) -> Self {
        assert!(!ttl.is_zero(), "memocache: ttl must be longer than zero");
        Self {
            ttl: Some(ttl),
            ..self
        }
    }

    /// The TTL of `None` results, as the attribute's `none_ttl`; it applies to
    /// a function that returns an `Option` (or a `Result<Option<T>, E>`).
    ///
    /// # Panics
    ///
    /// If `ttl` is zero.
    pub fn none_ttl(self, ttl: Duration) -> Self {
        assert!(
            !ttl.is_zero(),
            "memocache: none_ttl must be longer than zero"
        );
        Self {
            none_ttl: Some(ttl),
            ..self
        }
    }

    /// `config` with these settings laid over it.
    fn apply<V>(self, mut config: Config<V>) -> Config<V> {
        if let Some(capacity) = self.capacity {
            config.capacity = capacity;
        }
        config.ttl = self.ttl.or(config.ttl);
        config.none_ttl = self.none_ttl.or(config.none_ttl);
        config
    }
}

/// The answer of `configure`, `set_size` and `set_ttl` once the cache was
/// used: its store is built, and the settings were not changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyInUse {
    namespace: &'static str,
}

impl AlreadyInUse {
    /// The namespace of the cache that was already in use.
    pub fn namespace(&self) -> &'static str {
        self.namespace
    }
}

impl fmt::Display for AlreadyInUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the cache `{}` is already in use, so its settings can no longer change: \
             configure it at start-up, before the first call of its function or of its handle",
            self.namespace
        )
    }
}

impl std::error::Error for AlreadyInUse {}

/// The run-time settings of one handle, until its store is built.
pub(crate) struct Pending {
    state: Mutex<(Settings, Sealed)>,
}

/// Whether the store was built with the settings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sealed {
    Open,
    Built,
}

impl Pending {
    pub(crate) const fn new() -> Self {
        Self {
            state: Mutex::new((
                Settings {
                    capacity: None,
                    ttl: None,
                    none_ttl: None,
                },
                Sealed::Open,
            )),
        }
    }

    /// Changes the settings, unless the store was built.
    pub(crate) fn change(
        &self,
        namespace: &'static str,
        change: impl FnOnce(Settings) -> Settings,
    ) -> Result<(), AlreadyInUse> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.1 == Sealed::Built {
            return Err(AlreadyInUse { namespace });
        }
        state.0 = change(state.0);
        Ok(())
    }

    /// The configuration to build the store with; later changes are refused.
    pub(crate) fn seal<V>(&self, config: Config<V>) -> Config<V> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 = Sealed::Built;
        state.0.apply(config)
    }
}

impl<K: Send, V: Send> LazyTiers<K, V> {
    /// Changes the run-time settings, unless the store was built.
    pub(crate) fn configure(
        &self,
        change: impl FnOnce(Settings) -> Settings,
    ) -> Result<(), AlreadyInUse> {
        self.pending.change(self.config.namespace_str(), change)
    }
}

/// Writes `configure`, `set_size` and `set_ttl` for a handle with a `core:
/// LazyTiers` field.
macro_rules! configure_methods {
    ($handle:ident) => {
        impl<K, V> $handle<K, V>
        where
            K: Hash + Eq + Clone + Send + 'static,
            V: Clone + Send + 'static,
        {
            /// Changes the cache's size and TTLs before its first use, from
            /// the application's configuration. `Err(AlreadyInUse)`, changing
            /// nothing, once the cache was used (a call of its function, or of
            /// a method of this handle other than `namespace`).
            pub fn configure(
                &self,
                change: impl FnOnce(Settings) -> Settings,
            ) -> Result<(), AlreadyInUse> {
                self.core.configure(change)
            }

            /// `configure(|c| c.size(entries))`.
            ///
            /// # Panics
            ///
            /// If `entries` is 0.
            pub fn set_size(&self, entries: usize) -> Result<(), AlreadyInUse> {
                self.configure(|c| c.size(entries))
            }

            /// `configure(|c| c.ttl(ttl))`.
            ///
            /// # Panics
            ///
            /// If `ttl` is zero.
            pub fn set_ttl(&self, ttl: Duration) -> Result<(), AlreadyInUse> {
                self.configure(|c| c.ttl(ttl))
            }
        }
    };
}

configure_methods!(Cache);
#[cfg(feature = "tokio")]
configure_methods!(AsyncCache);
#[cfg(feature = "tokio")]
use crate::call::async_call::AsyncCache;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_lay_over_the_attribute() {
        let config = Config::<u8>::new("t").size(10).ttl(Duration::from_secs(1));
        let pending = Pending::new();
        pending
            .change("t", |c| c.size(20).none_ttl(Duration::from_secs(2)))
            .unwrap();
        let built = pending.seal(config);
        assert_eq!(built.capacity, Capacity::Bounded(20));
        assert_eq!(built.ttl, Some(Duration::from_secs(1)));
        assert_eq!(built.none_ttl, Some(Duration::from_secs(2)));
        let late = pending.change("t", |c| c.unbounded()).unwrap_err();
        assert_eq!(late.namespace(), "t");
        assert!(late.to_string().contains("already in use"));
    }
}
