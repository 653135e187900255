//! The in-memory store: sharded exact LRUs with TTL entries, fronted by
//! per-thread tables of hot entries.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::hash::{BuildHasher, Hash};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use thread_local::ThreadLocal;

use crate::clock::{duration, ticks, Clock, Ticks};
use crate::config::{Capacity, Config};
use crate::memory::budget::Budget;
use crate::memory::front::{Front, FrontHit};
use crate::memory::latch::Outcome;
use crate::memory::local::{Local, StoreId, ThreadSlot};
use crate::memory::shard::{Entry, Found, Landing, Shard};
use crate::remote::tier::{Invalidation, Invalidations};
use crate::stats::{Counters, Stats};

/// The result of a lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<V> {
    /// A live value.
    Hit(V),
    /// An expired value, kept because the cache serves stale values
    /// (`stale_if_error`, `refresh_ahead`).
    Stale {
        /// The expired value.
        value: V,
        /// How long ago it expired.
        expired_for: Duration,
    },
    /// Nothing usable.
    Miss,
}

/// How long a value landed by a flight stays fresh.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lifetime {
    /// As the cache's expiry policy says.
    Policy,
    /// As the policy says, but no longer than this: what a remote tier said
    /// was left of the value.
    AtMost(Duration),
    /// This long, whatever the policy: a stale value re-armed by
    /// `stale_if_error` for its retry window.
    Exactly(Duration),
}

/// A bounded, sharded LRU with a TTL per entry.
///
/// Shards are a power of two, four per core (fewer for tiny caches), and the
/// shards share one bound: the store holds up to the configured size wherever
/// keys hash and never more. The entry evicted to make room is the least
/// recently used of the shard the new key hashes to (of another shard if that
/// one is empty), so eviction order is exact within a shard and approximate
/// across shards; caches under 64 entries have one shard and are exact.
pub struct MemoryStore<K: Send, V: Send> {
    // Shared with the registry's weak view (`watch`): indexing an `Arc<[_]>`
    // costs what indexing a `Box<[_]>` does.
    shards: Arc<[Shard<K, V>]>,
    shard_mask: usize,
    pub(super) budget: Budget,
    pub(super) hasher: foldhash::fast::RandomState,
    // Padded: the entries of neighbouring threads would otherwise share a cache line.
    locals: ThreadLocal<CachePadded<Local<K, V>>>,
    uses_front: bool,
    /// What a remote tier says changed, applied before any answer.
    inbox: Option<Arc<Invalidations<K>>>,
    front_slots: usize,
    counters: Arc<Counters>,
    clock: Clock,
    /// Whether entries can expire; a store whose entries never expire reads no clock.
    expires: bool,
    pub(super) config: Config<V>,
    id: StoreId,
}

/// Numbers the stores of the process (see [`StoreId`]).
static STORES_MADE: AtomicU64 = AtomicU64::new(0);

/// Bounded caches get no more shards than this many entries per shard allow.
const MIN_SHARD_ENTRIES: usize = 32;

fn default_shard_count(capacity: Capacity) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let wanted = (cores * 4).next_power_of_two();
    match capacity {
        // Small caches get few shards, so that their eviction order stays close to exact.
        Capacity::Bounded(entries) => wanted.min(1 << (entries / MIN_SHARD_ENTRIES).max(1).ilog2()),
        Capacity::Unbounded => wanted,
    }
}

impl<K, V> MemoryStore<K, V>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    /// A store for `config`, reading the process-wide coarse clock.
    pub fn new(config: Config<V>) -> Self {
        Self::with_clock(config, Clock::coarse())
    }

    /// A store for `config` reading `clock` (a mock clock in tests).
    pub fn with_clock(config: Config<V>, clock: Clock) -> Self {
        Self::with_shards(config, clock, default_shard_count(config.capacity))
    }

    /// A store with exactly `shards` shards (a power of two).
    ///
    /// # Panics
    /// If `shards` is not a power of two.
    pub fn with_shards(config: Config<V>, clock: Clock, shards: usize) -> Self {
        assert!(
            shards.is_power_of_two(),
            "shard count must be a power of two"
        );
        let capacity = match config.capacity {
            Capacity::Bounded(entries) => Some(entries),
            Capacity::Unbounded => None,
        };
        Self {
            shards: (0..shards).map(|_| Shard::new()).collect(),
            shard_mask: shards - 1,
            budget: Budget::new(capacity),
            hasher: foldhash::fast::RandomState::default(),
            locals: ThreadLocal::new(),
            // A sliding TTL must be renewed on every hit, which a front copy
            // cannot do; a remote-only cache keeps no value to copy.
            uses_front: !config.sliding && config.local_tier,
            inbox: None,
            front_slots: Front::<K, V>::slots_for(capacity),
            counters: Arc::default(),
            clock,
            expires: config.expires(),
            config,
            id: StoreId(STORES_MADE.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// Applies, before every answer, the invalidations a remote tier
    /// delivers to `inbox`.
    pub(crate) fn set_inbox(&mut self, inbox: Option<Arc<Invalidations<K>>>) {
        self.inbox = inbox;
    }

    /// Applies what the remote tier said changed, if anything waits.
    #[inline]
    fn catch_up(&self) {
        if let Some(inbox) = &self.inbox {
            if inbox.is_pending() {
                self.apply(inbox);
            }
        }
    }

    #[cold]
    fn apply(&self, inbox: &Invalidations<K>) {
        for invalidation in inbox.take() {
            match invalidation {
                Invalidation::Key(key) => {
                    self.remove(&key);
                }
                Invalidation::All => self.clear(),
            }
        }
    }

    /// The configuration the store was built with.
    pub fn config(&self) -> &Config<V> {
        &self.config
    }

    /// The clock TTLs are checked against.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The time to check and set expiries against; 0 when no entry can expire
    /// (every expiry is then `Ticks::MAX`, later than any time).
    #[inline]
    pub(super) fn now(&self) -> Ticks {
        if self.expires {
            self.clock.now()
        } else {
            0
        }
    }

    /// When an entry holding `value`, written at `now`, expires.
    #[inline]
    fn expiry(&self, now: Ticks, value: &V) -> Ticks {
        if self.expires {
            self.config.expiry(now, value)
        } else {
            Ticks::MAX
        }
    }

    /// The shard that holds keys of hash `hash`.
    #[inline]
    pub(crate) fn shard(&self, hash: u64) -> &Shard<K, V> {
        // The high half picks the shard; front tables index sets with the low bits.
        &self.shards[(hash >> 32) as usize & self.shard_mask]
    }

    /// Looks `key` up and counts a hit or a miss. A stale value is not counted:
    /// the caller counts it as a hit if it serves it and as a miss otherwise.
    #[inline]
    pub fn lookup<Q>(&self, key: &Q) -> Lookup<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.catch_up();
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash);
        let local = self.local();
        if let Some(value) = self.front_hit(local, shard, hash, key) {
            local.counters.hit();
            return Lookup::Hit(value);
        }
        let now = self.now();
        let found = shard.get(key, now, &self.config, &self.budget);
        let lookup = self.answer(local, hash, now, found);
        match lookup {
            Lookup::Hit(_) => local.counters.hit(),
            Lookup::Miss => local.counters.miss(),
            Lookup::Stale { .. } => {}
        }
        lookup
    }

    /// A current front-table copy of `key`'s value, counted as a hit: the whole
    /// of the common path, small enough to inline into every cached function.
    /// Otherwise the key's hash, for the [`Self::claim_hashed`] that follows.
    #[inline]
    pub(crate) fn front_lookup(&self, local: &Local<K, V>, key: &K) -> Result<V, u64> {
        self.catch_up();
        let hash = self.hasher.hash_one(key);
        let value = self
            .front_hit(local, self.shard(hash), hash, key)
            .ok_or(hash)?;
        local.counters.hit();
        Ok(value)
    }

    /// This thread's state for this store, from the store's per-thread map.
    #[inline]
    pub(crate) fn local(&self) -> &Local<K, V> {
        // `get` inlines; `get_or` (creation on a thread's first call) does not.
        if let Some(local) = self.locals.get() {
            return local;
        }
        self.locals.get_or(|| CachePadded::new(self.new_local()))
    }

    /// This thread's state for this store, from `slot` if it serves this store.
    #[inline]
    pub(crate) fn local_in<'a>(&'a self, slot: &'a ThreadSlot<K, V>) -> &'a Local<K, V> {
        match slot.local(self.id, || self.new_local()) {
            Some(local) => local,
            None => self.local(),
        }
    }

    fn new_local(&self) -> Local<K, V> {
        Local {
            front: RefCell::new(Front::new(self.front_slots)),
            counters: self.counters.register(),
        }
    }

    /// A front-table copy of `key`'s value, if current.
    #[inline]
    fn front_hit<Q>(
        &self,
        local: &Local<K, V>,
        shard: &Shard<K, V>,
        hash: u64,
        key: &Q,
    ) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.uses_front {
            return None;
        }
        let mut front = local.front.try_borrow_mut().ok()?;
        let FrontHit::Value { value, promote } =
            front.find(hash, key, || shard.version(), || self.now())
        else {
            return None;
        };
        drop(front);
        if promote {
            shard.promote(key);
        }
        Some(value)
    }

    /// Turns what a shard found into an answer, keeping a front copy of a live value.
    pub(super) fn answer(
        &self,
        local: &Local<K, V>,
        hash: u64,
        now: Ticks,
        found: Found<K, V>,
    ) -> Lookup<V> {
        match found {
            Found::Fresh {
                key,
                value,
                expires_at,
                version,
            } => {
                if self.uses_front {
                    if let Ok(mut front) = local.front.try_borrow_mut() {
                        front.fill(hash, key, value.clone(), version, expires_at);
                    }
                }
                Lookup::Hit(value)
            }
            Found::Stale { value, expired_at } => Lookup::Stale {
                value,
                expired_for: duration(now.saturating_sub(expired_at)),
            },
            Found::Absent => Lookup::Miss,
        }
    }

    /// Retires a flight: applies its result to the store (unless an invalidation
    /// detached it), then hands its waiters the value, or the outcome given
    /// when there is none. A stored value lives as `lifetime` says. Tells whether the flight was
    /// still current: `false` once an invalidation detached it, so that its
    /// result is written nowhere.
    ///
    /// The key is taken from `key` only once the entry is made: making it runs
    /// user code (the value's `Clone`, `ttl_fn`, the `None` test), and if that
    /// panics, the leader's guard still holds the key and abandons the flight.
    #[inline]
    pub(crate) fn land(
        &self,
        hash: u64,
        key: &mut Option<K>,
        seq: Option<u64>,
        result: Result<&V, Outcome<V>>,
        lifetime: Lifetime,
    ) -> bool {
        let now = self.now();
        let mut landing = match &result {
            Ok(_) if !self.config.local_tier => Landing::Keep,
            Ok(value) if self.config.skips(value) => Landing::Remove,
            Ok(value) => Landing::Store(Entry {
                value: V::clone(value),
                expires_at: self.expiry_for(now, value, lifetime),
            }),
            Err(_) => Landing::Keep,
        };
        let Some(mut key) = key.take() else {
            return false;
        };
        let shard = self.shard(hash);
        let (latch, current) = loop {
            match shard.land(hash, key, seq, landing, now, &self.budget) {
                Ok(landed) => break landed,
                Err((refused_key, entry)) => {
                    key = refused_key;
                    landing = Landing::Store(entry);
                    self.evict_elsewhere(hash, now);
                }
            }
        };
        latch.open_with(|| {
            result.map_or_else(|outcome| outcome, |value| Outcome::Value(value.clone()))
        });
        current
    }

    /// When `value`, written at `now`, expires under `lifetime`.
    #[inline]
    fn expiry_for(&self, now: Ticks, value: &V, lifetime: Lifetime) -> Ticks {
        match lifetime {
            Lifetime::Policy => self.expiry(now, value),
            Lifetime::AtMost(left) => self.expiry(now, value).min(now.saturating_add(ticks(left))),
            Lifetime::Exactly(window) => now.saturating_add(ticks(window)),
        }
    }

    /// A live value for `key`, without counting, promoting or running anything.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.catch_up();
        let hash = self.hasher.hash_one(key);
        self.shard(hash).peek(key, self.now())
    }

    /// Stores `value` for `key` under the configured expiry policy, as if the
    /// function had returned it: a call of the function already running for
    /// `key` will not overwrite it. A value the policy skips (`None` with
    /// `skip_none`) is not stored, and removes what was held for `key`: the
    /// older value is no longer what the function returns.
    pub fn insert(&self, key: K, value: V) {
        self.put(key, value, true, Lifetime::Policy);
    }

    /// Stores a result computed outside a flight (single-flight off, a body
    /// calling itself, a waiter released by a failed leader).
    pub(crate) fn store_result(&self, key: K, value: V) {
        self.put(key, value, false, Lifetime::Policy);
    }

    /// Stores the last good `value` of `key` again, fresh for `window`
    /// (`stale_if_error` after a failed body run outside a flight).
    pub(crate) fn rearm(&self, key: K, value: V, window: Duration) {
        self.put(key, value, false, Lifetime::Exactly(window));
    }

    fn put(&self, key: K, value: V, detach: bool, lifetime: Lifetime) {
        if !self.config.local_tier {
            return;
        }
        if self.config.skips(&value) {
            self.remove(&key);
            return;
        }
        let now = self.now();
        let expires_at = self.expiry_for(now, &value, lifetime);
        let hash = self.hasher.hash_one(&key);
        let shard = self.shard(hash);
        let mut entry = (key, Entry { value, expires_at });
        while let Err(refused) = shard.insert(hash, entry.0, entry.1, now, &self.budget, detach) {
            // The cache is full and this shard is empty: evict from another one.
            entry = refused;
            self.evict_elsewhere(hash, now);
        }
    }

    /// Removes `key`; tells whether an entry was there.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        self.shard(hash).remove(hash, key, &self.budget)
    }

    /// Evicts one entry from the first non-empty shard after the one `hash` picks.
    /// Other insertions may have taken the room an entry left: yield until one
    /// of them lands.
    fn evict_elsewhere(&self, hash: u64, now: Ticks) {
        let start = (hash >> 32) as usize;
        loop {
            let evicted = (1..=self.shards.len())
                .map(|step| &self.shards[(start + step) & self.shard_mask])
                .any(|shard| shard.evict_one(now, &self.budget));
            if evicted {
                return;
            }
            std::thread::yield_now();
        }
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.shards
            .iter()
            .for_each(|shard| shard.clear(&self.budget));
    }

    /// Entries held (expired entries not yet reclaimed included).
    pub fn len(&self) -> usize {
        self.shards.iter().map(Shard::len).sum()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts a store error (used by remote tiers).
    pub fn record_error(&self) {
        self.local().counters.error();
    }

    /// Turns the miss this thread counted for a call into a hit: the remote
    /// tier answered it.
    pub(crate) fn record_remote_hit(&self) {
        self.local().counters.remote_hit();
    }

    /// Counts a miss that [`MemoryStore::lookup`] left to the caller.
    pub(crate) fn record_miss(&self) {
        self.local().counters.miss();
    }

    /// Counts one run of the body that took `took`; `failed`: it gave the
    /// cache nothing to keep.
    pub(crate) fn record_load(&self, took: Duration, failed: bool) {
        self.counters.loads.count(took, failed);
    }

    /// Counts a hit that [`MemoryStore::lookup`] left to the caller.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn record_hit(&self) {
        self.local().counters.hit();
    }

    /// Sums the counters of every thread and shard.
    pub fn stats(&self) -> Stats {
        stats_of(&self.shards, &self.counters, self.budget.capacity())
    }

    /// A view of the store's counters that does not keep it alive.
    pub(crate) fn watch(&self) -> StoreWatch<K, V> {
        StoreWatch {
            shards: Arc::downgrade(&self.shards),
            counters: Arc::downgrade(&self.counters),
            capacity: self.budget.capacity(),
        }
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }
}

fn stats_of<K, V>(shards: &[Shard<K, V>], counters: &Counters, capacity: Option<usize>) -> Stats
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    let mut stats = Stats {
        evictions: shards.iter().map(Shard::evictions).sum(),
        expirations: shards.iter().map(Shard::expirations).sum(),
        len: shards.iter().map(Shard::len).sum(),
        capacity,
        ..Stats::default()
    };
    counters.add_to(&mut stats);
    stats
}

/// The counters of a [`MemoryStore`], read without keeping it alive.
pub(crate) struct StoreWatch<K, V> {
    shards: Weak<[Shard<K, V>]>,
    counters: Weak<Counters>,
    capacity: Option<usize>,
}

impl<K: Hash + Eq + Clone, V: Clone> StoreWatch<K, V> {
    /// The store's stats, or `None` once it is dropped.
    pub(crate) fn stats(&self) -> Option<Stats> {
        let shards = self.shards.upgrade()?;
        let counters = self.counters.upgrade()?;
        Some(stats_of(&shards, &counters, self.capacity))
    }
}

impl<K: Send, V: Send> std::fmt::Debug for MemoryStore<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("config", &self.config)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}
