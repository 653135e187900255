//! What one annotated function asked for: size, expiry policy and behaviour.
//!
//! The macros build a [`Config`] in a `static` with the `const` builder methods,
//! so nothing is computed at start-up.

use std::marker::PhantomData;
use std::time::Duration;

use crate::clock::{ticks, Ticks};

/// Entries held when the attribute gives neither `size` nor `unbounded`.
pub const DEFAULT_SIZE: usize = 10_000;

/// How long `stale_if_error` keeps serving the last good value after the
/// function fails, before it runs the function again, unless a window is set.
pub const DEFAULT_STALE_RETRY: Duration = Duration::from_secs(10);

/// How many entries a cache may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    /// At most this many entries; the least recently used goes first.
    Bounded(usize),
    /// No bound: only TTLs and invalidation remove entries.
    Unbounded,
}

/// The settings of one cache, built in `const` context.
pub struct Config<V> {
    pub(crate) namespace: &'static str,
    pub(crate) capacity: Capacity,
    pub(crate) ttl: Option<Duration>,
    pub(crate) sliding: bool,
    pub(crate) ttl_fn: Option<fn(&V) -> Option<Duration>>,
    pub(crate) none_ttl: Option<Duration>,
    pub(crate) skip_none: bool,
    pub(crate) is_none: Option<fn(&V) -> bool>,
    /// The retry window of `stale_if_error`, when it is on.
    pub(crate) stale_if_error: Option<Duration>,
    pub(crate) refresh_ahead: Option<Duration>,
    pub(crate) single_flight: bool,
    pub(crate) version: u64,
    pub(crate) local_tier: bool,
    _value: PhantomData<fn(&V)>,
}

impl<V> Config<V> {
    /// A bounded cache of [`DEFAULT_SIZE`] entries without expiry, with single-flight on.
    pub const fn new(namespace: &'static str) -> Self {
        Self {
            namespace,
            capacity: Capacity::Bounded(DEFAULT_SIZE),
            ttl: None,
            sliding: false,
            ttl_fn: None,
            none_ttl: None,
            skip_none: false,
            is_none: None,
            stale_if_error: None,
            refresh_ahead: None,
            single_flight: true,
            version: 0,
            local_tier: true,
            _value: PhantomData,
        }
    }

    /// Holds at most `entries` entries (at least 1).
    pub const fn size(self, entries: usize) -> Self {
        assert!(entries >= 1, "memocache: size must be at least 1");
        Self {
            capacity: Capacity::Bounded(entries),
            ..self
        }
    }

    /// Removes the bound on the number of entries.
    pub const fn unbounded(self) -> Self {
        Self {
            capacity: Capacity::Unbounded,
            ..self
        }
    }

    /// Entries expire `ttl` after they are written.
    pub const fn ttl(self, ttl: Duration) -> Self {
        Self {
            ttl: Some(ttl),
            ..self
        }
    }

    /// A hit renews the entry's TTL.
    pub const fn sliding(self) -> Self {
        Self {
            sliding: true,
            ..self
        }
    }

    /// A TTL per value; `None` from `f` falls back to `ttl` (or no expiry).
    pub const fn ttl_fn(self, f: fn(&V) -> Option<Duration>) -> Self {
        Self {
            ttl_fn: Some(f),
            ..self
        }
    }

    /// The TTL of values for which [`Config::is_none`]'s test holds.
    pub const fn none_ttl(self, ttl: Duration) -> Self {
        Self {
            none_ttl: Some(ttl),
            ..self
        }
    }

    /// Values for which [`Config::is_none`]'s test holds are not stored.
    pub const fn skip_none(self) -> Self {
        Self {
            skip_none: true,
            ..self
        }
    }

    /// Tells `None` results apart (set by the macros for `Option` returns).
    pub const fn is_none(self, f: fn(&V) -> bool) -> Self {
        Self {
            is_none: Some(f),
            ..self
        }
    }

    /// On `Err`, serve the last good value if one is still held, even
    /// expired, and keep serving it as a fresh value for
    /// [`DEFAULT_STALE_RETRY`] before the function runs again.
    pub const fn stale_if_error(self) -> Self {
        self.stale_if_error_for(DEFAULT_STALE_RETRY)
    }

    /// [`Self::stale_if_error`] with a retry window of `window`: a failing
    /// function runs at most once per window per key while it fails.
    pub const fn stale_if_error_for(self, window: Duration) -> Self {
        Self {
            stale_if_error: Some(window),
            ..self
        }
    }

    /// The retry window of `stale_if_error`, when it is on.
    pub const fn stale_retry(&self) -> Option<Duration> {
        self.stale_if_error
    }

    /// After expiry, serve the stale value for up to `window` while one refresh runs.
    pub const fn refresh_ahead(self, window: Duration) -> Self {
        Self {
            refresh_ahead: Some(window),
            ..self
        }
    }

    /// Turns per-key coalescing of concurrent misses on or off.
    pub const fn single_flight(self, on: bool) -> Self {
        Self {
            single_flight: on,
            ..self
        }
    }

    /// Tags entries so that a new version of the code ignores old ones.
    pub const fn version(self, version: u64) -> Self {
        Self { version, ..self }
    }

    /// Keeps no value in process memory: every call asks the remote tier
    /// (the process still coalesces concurrent calls of a key and counts them).
    pub const fn remote_only(self) -> Self {
        Self {
            local_tier: false,
            ..self
        }
    }

    /// The namespace: stats name and (for Redis) key prefix.
    pub const fn namespace_str(&self) -> &'static str {
        self.namespace
    }

    /// The bound on the number of entries.
    pub const fn capacity(&self) -> Capacity {
        self.capacity
    }

    /// Whether expired entries must be kept to be served later.
    pub(crate) fn keeps_stale(&self) -> bool {
        self.stale_if_error.is_some() || self.refresh_ahead.is_some()
    }

    /// Whether any entry can expire: if none can, the store never reads the clock.
    pub(crate) fn expires(&self) -> bool {
        self.ttl.is_some() || self.ttl_fn.is_some() || self.none_ttl.is_some()
    }

    /// Whether `value` is not stored at all (`None` with `skip_none`).
    pub fn skips(&self, value: &V) -> bool {
        self.skip_none && self.is_none.is_some_and(|is_none| is_none(value))
    }

    /// How long `value` lives once written (`None`: it never expires):
    /// `none_ttl` for a `None`, else what `ttl_fn` says, else `ttl`.
    pub fn ttl_of(&self, value: &V) -> Option<Duration> {
        let none_ttl = match (self.none_ttl, self.is_none) {
            (Some(ttl), Some(is_none)) if is_none(value) => Some(ttl),
            _ => None,
        };
        none_ttl
            .or_else(|| self.ttl_fn.and_then(|f| f(value)))
            .or(self.ttl)
    }

    /// Whether a hit renews the entry's TTL.
    pub const fn is_sliding(&self) -> bool {
        self.sliding
    }

    /// How long after expiry a value is still kept: the `refresh_ahead`
    /// window, and with `stale_if_error` once more the TTL of the value or
    /// its retry window, whichever is longer.
    pub fn stale_grace(&self, ttl: Duration) -> Duration {
        let refresh = self.refresh_ahead.unwrap_or_default();
        let fallback = self
            .stale_if_error
            .map_or(Duration::ZERO, |window| ttl.max(window));
        refresh.max(fallback)
    }

    /// The version entries are tagged with.
    pub const fn version_number(&self) -> u64 {
        self.version
    }

    /// When an entry holding `value`, written at `now`, expires (`Ticks::MAX`: never).
    pub(crate) fn expiry(&self, now: Ticks, value: &V) -> Ticks {
        match self.ttl_of(value) {
            Some(ttl) => now.saturating_add(ticks(ttl)),
            None => Ticks::MAX,
        }
    }
}

impl<V> Clone for Config<V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for Config<V> {}

impl<V> std::fmt::Debug for Config<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("namespace", &self.namespace)
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .field("sliding", &self.sliding)
            .field("ttl_fn", &self.ttl_fn.is_some())
            .field("none_ttl", &self.none_ttl)
            .field("skip_none", &self.skip_none)
            .field("stale_if_error", &self.stale_if_error)
            .field("refresh_ahead", &self.refresh_ahead)
            .field("single_flight", &self.single_flight)
            .field("version", &self.version)
            .field("local_tier", &self.local_tier)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Ticks = 1 << 32;

    #[test]
    fn expiry_prefers_none_ttl_then_ttl_fn_then_ttl() {
        fn by_value(v: &Option<u32>) -> Option<Duration> {
            match v {
                Some(7) => Some(Duration::from_secs(7)),
                _ => None,
            }
        }
        let config = Config::<Option<u32>>::new("t")
            .ttl(Duration::from_secs(60))
            .none_ttl(Duration::from_secs(2))
            .ttl_fn(by_value)
            .is_none(Option::is_none);
        assert_eq!(config.expiry(10, &None), 10 + 2 * SECOND);
        assert_eq!(config.expiry(10, &Some(7)), 10 + 7 * SECOND);
        assert_eq!(config.expiry(10, &Some(1)), 10 + 60 * SECOND);
    }

    #[test]
    fn no_ttl_never_expires_and_skip_none_only_skips_none() {
        let config = Config::<Option<u32>>::new("t")
            .skip_none()
            .is_none(Option::is_none);
        assert_eq!(config.expiry(5, &Some(1)), Ticks::MAX);
        assert!(config.skips(&None));
        assert!(!config.skips(&Some(1)));
    }

    #[test]
    #[should_panic(expected = "size must be at least 1")]
    fn size_zero_is_rejected() {
        let _ = Config::<u8>::new("t").size(0);
    }
}
