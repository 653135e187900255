//! One shard of the shared store: an exact LRU with TTL entries behind a lock.
//!
//! Every change that removes or replaces an entry bumps the shard's version, so
//! the per-thread front tables (see `front`) can tell, with one read of shared
//! memory and no lock, whether a copy they hold is still current.

use std::borrow::Borrow;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use lru::LruCache;
use parking_lot::Mutex;

use crate::clock::Ticks;
use crate::config::Config;

/// A stored value and the time it expires (`Ticks::MAX`: never).
pub(crate) struct Entry<V> {
    pub(crate) value: V,
    pub(crate) expires_at: Ticks,
}

/// What a shard holds for a key.
pub(crate) enum Found<K, V> {
    /// A live entry, with a copy of its key, its expiry and the shard version it was read at.
    Fresh {
        key: K,
        value: V,
        expires_at: Ticks,
        version: u64,
    },
    /// An expired entry kept because the cache serves stale values.
    Stale { value: V, expired_at: Ticks },
    /// Nothing (an expired entry that is not kept is reclaimed on the way).
    Absent,
}

pub(crate) struct Shard<K, V> {
    version: CachePadded<AtomicU64>,
    evictions: AtomicU64,
    expirations: AtomicU64,
    lru: CachePadded<Mutex<LruCache<K, Entry<V>>>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Shard<K, V> {
    /// A shard holding at most `capacity` entries (`None`: unbounded).
    pub(crate) fn new(capacity: Option<NonZeroUsize>) -> Self {
        let lru = match capacity {
            Some(capacity) => LruCache::new(capacity),
            None => LruCache::unbounded(),
        };
        Self {
            version: CachePadded::new(AtomicU64::new(0)),
            evictions: AtomicU64::new(0),
            expirations: AtomicU64::new(0),
            lru: CachePadded::new(Mutex::new(lru)),
        }
    }

    /// The current version; changes whenever an entry leaves or is replaced.
    #[inline]
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    fn changed(&self) {
        // Only called with the lock held, so a plain increment cannot race.
        self.version
            .store(self.version.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    fn count(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Looks `key` up, marks it most recently used and renews a sliding TTL.
    pub(crate) fn get<Q>(&self, key: &Q, now: Ticks, config: &Config<V>) -> Found<K, V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut lru = self.lru.lock();
        let Some((stored_key, entry)) = lru.get_key_value_mut(key) else {
            return Found::Absent;
        };
        if now < entry.expires_at {
            if config.sliding {
                entry.expires_at = config.expiry(now, &entry.value);
            }
            return Found::Fresh {
                key: stored_key.clone(),
                value: entry.value.clone(),
                expires_at: entry.expires_at,
                version: self.version.load(Ordering::Relaxed),
            };
        }
        if config.keeps_stale() {
            return Found::Stale {
                value: entry.value.clone(),
                expired_at: entry.expires_at,
            };
        }
        lru.pop(key);
        Self::count(&self.expirations);
        self.changed();
        Found::Absent
    }

    /// A live value for `key`, without touching recency.
    pub(crate) fn peek<Q>(&self, key: &Q, now: Ticks) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let lru = self.lru.lock();
        lru.peek(key)
            .filter(|entry| now < entry.expires_at)
            .map(|entry| entry.value.clone())
    }

    /// Marks `key` most recently used (recency sampled from front-table hits).
    pub(crate) fn promote<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lru.lock().promote(key);
    }

    /// Stores `entry`, evicting the least recently used entry if the shard is full.
    pub(crate) fn insert(&self, key: K, entry: Entry<V>, now: Ticks) {
        let mut lru = self.lru.lock();
        let Some((old_key, old)) = lru.push(key, entry) else {
            return;
        };
        if lru.peek(&old_key).is_none() {
            if old.expires_at <= now {
                Self::count(&self.expirations);
            } else {
                Self::count(&self.evictions);
            }
        }
        self.changed();
        drop(lru);
        drop((old_key, old));
    }

    /// Removes `key`; tells whether it was there.
    pub(crate) fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut lru = self.lru.lock();
        let removed = lru.pop_entry(key);
        if removed.is_some() {
            self.changed();
        }
        drop(lru);
        removed.is_some()
    }

    /// Removes every entry.
    pub(crate) fn clear(&self) {
        let mut lru = self.lru.lock();
        // `lru` marks an unbounded cache with a capacity of `usize::MAX`.
        let fresh = match lru.cap() {
            capacity if capacity.get() == usize::MAX => LruCache::unbounded(),
            capacity => LruCache::new(capacity),
        };
        // Values are dropped after the lock is released: a `Drop` may call back into the cache.
        let old = std::mem::replace(&mut *lru, fresh);
        self.changed();
        drop(lru);
        drop(old);
    }

    /// Entries held, live or expired-but-not-yet-reclaimed.
    pub(crate) fn len(&self) -> usize {
        self.lru.lock().len()
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    pub(crate) fn expirations(&self) -> u64 {
        self.expirations.load(Ordering::Relaxed)
    }
}
