//! One shard of the shared store: an exact LRU with TTL entries behind a lock.
//!
//! Every change that removes or replaces an entry bumps the shard's version, so
//! the per-thread front tables (see `front`) can tell, with one read of shared
//! memory and no lock, whether a copy they hold is still current.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use lru::LruCache;
use parking_lot::Mutex;

use crate::budget::Budget;
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
    /// An empty shard; the store's [`Budget`] bounds the entries of all shards.
    pub(crate) fn new() -> Self {
        let lru = LruCache::unbounded();
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
    pub(crate) fn get<Q>(
        &self,
        key: &Q,
        now: Ticks,
        config: &Config<V>,
        budget: &Budget,
    ) -> Found<K, V>
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
        let expired = lru.pop(key);
        Self::count(&self.expirations);
        self.changed();
        budget.release(1);
        drop(lru);
        drop(expired);
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

    /// Stores `entry`. A new key takes room from `budget`; when the cache is full
    /// this shard's least recently used entry makes room, and if the shard has
    /// none the entry is handed back so the store can evict from another shard
    /// (without holding this shard's lock) and try again.
    pub(crate) fn insert(
        &self,
        key: K,
        entry: Entry<V>,
        now: Ticks,
        budget: &Budget,
        room_reserved: bool,
    ) -> Result<(), (K, Entry<V>)> {
        let mut lru = self.lru.lock();
        if lru.contains(&key) {
            let replaced = lru.push(key, entry);
            self.changed();
            drop(lru);
            if room_reserved {
                budget.release(1);
            }
            drop(replaced);
            return Ok(());
        }
        let full = !room_reserved && budget.reserve();
        let evicted = if full {
            match lru.pop_lru() {
                Some(evicted) => Some(evicted),
                None => {
                    // Keep the reservation: the store evicts elsewhere, then retries.
                    return Err((key, entry));
                }
            }
        } else {
            None
        };
        if let Some((_, old)) = &evicted {
            self.count_departure(old, now);
            self.changed();
            budget.release(1);
        }
        lru.push(key, entry);
        drop(lru);
        drop(evicted);
        Ok(())
    }

    /// Evicts this shard's least recently used entry; `false` if it has none.
    pub(crate) fn evict_one(&self, now: Ticks, budget: &Budget) -> bool {
        let mut lru = self.lru.lock();
        let Some((key, old)) = lru.pop_lru() else {
            return false;
        };
        self.count_departure(&old, now);
        self.changed();
        budget.release(1);
        drop(lru);
        drop((key, old));
        true
    }

    /// Counts an entry pushed out for room: an expiration if it had expired anyway.
    fn count_departure(&self, old: &Entry<V>, now: Ticks) {
        if old.expires_at <= now {
            Self::count(&self.expirations);
        } else {
            Self::count(&self.evictions);
        }
    }

    /// Removes `key`; tells whether it was there.
    pub(crate) fn remove<Q>(&self, key: &Q, budget: &Budget) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut lru = self.lru.lock();
        let removed = lru.pop_entry(key);
        if removed.is_some() {
            self.changed();
            budget.release(1);
        }
        drop(lru);
        removed.is_some()
    }

    /// Removes every entry.
    pub(crate) fn clear(&self, budget: &Budget) {
        let mut lru = self.lru.lock();
        // Values are dropped after the lock is released: a `Drop` may call back into the cache.
        let old = std::mem::replace(&mut *lru, LruCache::unbounded());
        self.changed();
        budget.release(old.len());
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
