//! One shard of the shared store: an exact LRU with TTL entries, and the
//! flights (computations in progress) of its keys, behind one lock.
//!
//! Finding a key absent and registering as the one computing it happen under
//! one acquisition of the lock, and so do storing the result and retiring the
//! flight: a cold key costs two lock acquisitions, as in a plain cache.
//!
//! The shards share one bound (see `budget`). Once the store is full, a shard's
//! `LruCache` is kept at capacity, so that a new key takes over the node of the
//! entry it evicts: churn through a full cache allocates nothing.
//!
//! Every change that removes or replaces an entry bumps the shard's version
//! (when a copy may have been read at the current one), so the per-thread
//! front tables (see `front`) can tell, with one read of shared memory and no
//! lock, whether a copy they hold is still current.

use std::borrow::Borrow;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use lru::LruCache;
use parking_lot::Mutex;

use crate::clock::Ticks;
use crate::config::Config;
use crate::memory::budget::{Budget, Room};
use crate::memory::flights::{Flight, Flights};
use crate::memory::latch::{Latch, Unopened};
use crate::memory::nesting::{FlightId, ThreadTag};

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

/// What a caller of a key is to do, decided under the shard lock.
pub(crate) enum Claim<K, V> {
    /// The value is here.
    Fresh(Found<K, V>),
    /// Compute the value; `seq` numbers the flight registered for it (`None`:
    /// single-flight is off).
    Lead {
        seq: Option<u64>,
        stale: Option<(V, Ticks)>,
    },
    /// Another caller is computing it: wait on the latch.
    Wait {
        latch: Arc<Latch<V>>,
        stale: Option<(V, Ticks)>,
    },
    /// The current thread is computing it already (the body calls its own key).
    Reentrant { stale: Option<(V, Ticks)> },
}

struct State<K, V> {
    lru: LruCache<K, Entry<V>>,
    flights: Flights<K, V>,
    /// Latches of flights that an invalidation detached, until their leaders land.
    detached: Vec<(u64, Arc<Latch<V>>)>,
    next_seq: u64,
    /// Whether a value was read for a front table at the current version
    /// (see [`Shard::changed`]).
    lent: bool,
    /// Counted under the lock, on the lock's cache line: a counter of its own
    /// would be one more line for cores that churn the shard to pass around.
    departures: Departures,
}

impl<K, V> State<K, V> {
    /// The latch of flight `seq`, detached by an invalidation, if it has one.
    fn take_detached(&mut self, seq: u64) -> Option<Arc<Latch<V>>> {
        let at = self.detached.iter().position(|(s, _)| *s == seq)?;
        Some(self.detached.swap_remove(at).1)
    }
}

/// Entries that left a shard other than by removal.
#[derive(Default)]
struct Departures {
    /// Pushed out for room while live.
    evictions: u64,
    /// Found expired, or pushed out for room after expiring.
    expirations: u64,
}

impl Departures {
    /// Counts an entry pushed out for room: an expiration if it had expired anyway.
    fn pushed_out<V>(&mut self, old: &Entry<V>, now: Ticks) {
        if old.expires_at <= now {
            self.expirations += 1;
        } else {
            self.evictions += 1;
        }
    }
}

/// What landing a flight does to the key's entry.
pub(crate) enum Landing<V> {
    /// Store the result.
    Store(Entry<V>),
    /// Drop what the key held: the result is one the policy does not store.
    Remove,
    /// Leave the entry alone: there is no result (an error, a panic).
    Keep,
}

/// An entry handed back: the cache is full and its shard has nothing to evict.
pub(crate) type Refused<K, V> = (K, Entry<V>);

/// What left the shard during an operation: dropped after the lock is released,
/// since a value's `Drop` may call back into the cache.
pub(crate) type Departed<K, V> = Option<(K, Entry<V>)>;

pub(crate) struct Shard<K, V> {
    version: CachePadded<AtomicU64>,
    state: CachePadded<Mutex<State<K, V>>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Shard<K, V> {
    /// An empty shard; the store's [`Budget`] bounds the entries of all shards.
    pub(crate) fn new() -> Self {
        Self {
            version: CachePadded::new(AtomicU64::new(0)),
            state: CachePadded::new(Mutex::new(State {
                lru: empty_lru(),
                flights: Flights::new(),
                detached: Vec::new(),
                next_seq: 0,
                lent: false,
                departures: Departures::default(),
            })),
        }
    }

    /// The current version; changes when an entry leaves or is replaced after
    /// a value was read at this version.
    #[inline]
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Records that an entry left or was replaced: front-table copies read at
    /// the current version must no longer be served. If none was read since
    /// the last change, none can be current and the version stays: under
    /// churn, where nothing is read, the version's cache line is not written
    /// (nor passed between the cores that churn the shard).
    fn changed(&self, state: &mut State<K, V>) {
        if std::mem::take(&mut state.lent) {
            // Called with the lock held, so a plain increment cannot race.
            self.version
                .store(self.version.load(Ordering::Relaxed) + 1, Ordering::Release);
        }
    }

    /// The name of flight `seq` of this shard.
    pub(crate) fn flight_id(&self, seq: u64) -> FlightId {
        FlightId {
            shard: self as *const Self as usize,
            seq,
        }
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
        let mut state = self.state.lock();
        let (found, expired) = self.read(&mut state, key, now, config, budget);
        drop(state);
        drop(expired);
        found
    }

    #[inline]
    fn read<Q>(
        &self,
        state: &mut State<K, V>,
        key: &Q,
        now: Ticks,
        config: &Config<V>,
        budget: &Budget,
    ) -> (Found<K, V>, Option<Entry<V>>)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some((stored_key, entry)) = state.lru.get_key_value_mut(key) else {
            return (Found::Absent, None);
        };
        if now < entry.expires_at {
            if config.sliding {
                entry.expires_at = config.expiry(now, &entry.value);
            }
            let found = Found::Fresh {
                key: stored_key.clone(),
                value: entry.value.clone(),
                expires_at: entry.expires_at,
                version: self.version.load(Ordering::Relaxed),
            };
            state.lent = true;
            return (found, None);
        }
        if config.keeps_stale() {
            let found = Found::Stale {
                value: entry.value.clone(),
                expired_at: entry.expires_at,
            };
            return (found, None);
        }
        let expired = state.lru.pop(key);
        state.departures.expirations += 1;
        self.changed(state);
        budget.release(1);
        (Found::Absent, expired)
    }

    /// Looks `key` (of hash `hash`) up and, if it is not live, joins or starts
    /// its flight; a flight started by a sync caller records `thread`.
    ///
    /// The common outcome for a cold key, to lead with nothing stale, comes
    /// back as the `Ok`, with the number of the flight registered (`None`:
    /// single-flight is off): a small value, where a [`Claim`] is copied
    /// around as a large one.
    #[inline]
    pub(crate) fn claim(
        &self,
        hash: u64,
        key: &K,
        now: Ticks,
        config: &Config<V>,
        budget: &Budget,
        thread: Option<ThreadTag>,
    ) -> Result<Option<u64>, Claim<K, V>> {
        let mut state = self.state.lock();
        let (found, expired) = self.read(&mut state, key, now, config, budget);
        let stale = match found {
            Found::Fresh { .. } => return Err(Claim::Fresh(found)),
            Found::Stale { value, expired_at } => Some((value, expired_at)),
            Found::Absent => None,
        };
        let lead = |seq, stale| match stale {
            None => Ok(seq),
            stale => Err(Claim::Lead { seq, stale }),
        };
        let outcome = if !config.single_flight {
            lead(None, stale)
        } else {
            match state.flights.get_mut(hash, key) {
                Some(flight) if flight.led_from_here(self.flight_id(flight.seq)) => {
                    Err(Claim::Reentrant { stale })
                }
                Some(flight) => {
                    let latch = flight.latch.get_or_insert_with(|| Arc::new(Latch::new()));
                    Err(Claim::Wait {
                        latch: latch.clone(),
                        stale,
                    })
                }
                None => {
                    let seq = state.next_seq;
                    state.next_seq += 1;
                    state.flights.insert(Flight {
                        hash,
                        key: key.clone(),
                        seq,
                        thread,
                        latch: None,
                    });
                    lead(Some(seq), stale)
                }
            }
        };
        drop(state);
        if let Some(expired) = expired {
            let registered = outcome.as_ref().ok().copied().flatten();
            self.drop_reclaimed(hash, expired, registered);
        }
        outcome
    }

    /// Drops an expired entry that a claim reclaimed, once the lock is
    /// released. Its `Drop` is user code: if it panics, the flight the claim
    /// registered (`registered`) is abandoned first, since the panic keeps
    /// its leader from ever learning of it.
    #[cold]
    #[inline(never)]
    fn drop_reclaimed(&self, hash: u64, expired: Entry<V>, registered: Option<u64>) {
        let abandon = registered.map(|seq| self.abandon_on_drop(hash, seq));
        drop(expired);
        if let Some(abandon) = abandon {
            abandon.disarm();
        }
    }

    /// Retires flight `seq` (if one was registered) and applies `landing`, unless
    /// an invalidation detached the flight meanwhile. Returns the latch to open,
    /// or hands the entry back when the cache is full and this shard is empty:
    /// the store then evicts from another shard and lands again.
    #[inline]
    pub(crate) fn land(
        &self,
        hash: u64,
        key: K,
        seq: Option<u64>,
        landing: Landing<V>,
        now: Ticks,
        budget: &Budget,
    ) -> Result<(Unopened<V>, bool), Refused<K, V>> {
        let mut state = self.state.lock();
        let place = match seq {
            None => None,
            Some(seq) => match state.flights.numbered(hash, seq) {
                Some(place) => Some(place),
                // Detached: a newer flight or none holds the key.
                None => return Ok((Unopened(state.take_detached(seq)), false)),
            },
        };
        let departed = match landing {
            // A refused entry leaves the flight registered, its key's waiters
            // waiting, until the store has made room and lands it again.
            Landing::Store(entry) => self.insert_locked(&mut state, key, entry, now, budget)?,
            Landing::Remove => self.remove_locked(&mut state, &key, budget),
            Landing::Keep => None,
        };
        let latch = Unopened(place.and_then(|place| state.flights.take(place).latch));
        drop(state);
        drop(departed);
        Ok((latch, true))
    }

    /// A guard that abandons flight `seq` when dropped, unless disarmed: held
    /// across user code that runs after the flight is registered and before
    /// its leader's guard exists.
    pub(crate) fn abandon_on_drop(&self, hash: u64, seq: u64) -> AbandonOnDrop<'_, K, V> {
        AbandonOnDrop {
            shard: self,
            hash,
            seq,
        }
    }

    /// Retires flight `seq` with no result, so that its waiters try again:
    /// for a flight registered whose leader never started.
    fn abandon(&self, hash: u64, seq: u64) {
        let mut state = self.state.lock();
        let latch = match state.flights.numbered(hash, seq) {
            Some(place) => state.flights.take(place).latch,
            None => state.take_detached(seq),
        };
        drop(state);
        drop(Unopened(latch));
    }

    /// Stores `entry`. Hands it back if the cache is full and this shard has
    /// nothing to evict.
    #[inline]
    fn insert_locked(
        &self,
        state: &mut State<K, V>,
        key: K,
        entry: Entry<V>,
        now: Ticks,
        budget: &Budget,
    ) -> Result<Departed<K, V>, Refused<K, V>> {
        let lru = &mut state.lru;
        let len = lru.len();
        let room = budget.reserve();
        match room {
            // Room for one more: `push` must not evict.
            Room::Granted if lru.cap().get() <= len => lru.resize(grown(len)),
            Room::Granted => {}
            Room::Full if len == 0 => return Err((key, entry)),
            // At capacity, `push` evicts the least recently used entry and
            // reuses its node (or replaces the key's entry in place).
            Room::Full => {
                if let Some(exact) = NonZeroUsize::new(len).filter(|&len| len < lru.cap()) {
                    lru.resize(exact);
                }
            }
        }
        let Some((old_key, old)) = lru.push(key, entry) else {
            return Ok(None);
        };
        // `push` hands back either the key's previous entry or the evicted one.
        let replaced = lru
            .peek_mru()
            .is_some_and(|(new_key, _)| *new_key == old_key);
        if !replaced {
            state.departures.pushed_out(&old, now);
        } else if room == Room::Granted {
            budget.release(1);
        }
        self.changed(state);
        Ok(Some((old_key, old)))
    }

    fn remove_locked<Q>(&self, state: &mut State<K, V>, key: &Q, budget: &Budget) -> Departed<K, V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let removed = state.lru.pop_entry(key);
        if removed.is_some() {
            self.changed(state);
            budget.release(1);
        }
        removed
    }

    /// A live value for `key`, without touching recency.
    pub(crate) fn peek<Q>(&self, key: &Q, now: Ticks) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let state = self.state.lock();
        state
            .lru
            .peek(key)
            .filter(|entry| now < entry.expires_at)
            .map(|entry| entry.value.clone())
    }

    /// Marks `key` most recently used (recency sampled from front-table hits).
    pub(crate) fn promote<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.state.lock().lru.promote(key);
    }

    /// Stores `entry`; with `detach`, a flight of `key` is detached too, so that
    /// its older result does not overwrite this one. Hands the entry back if
    /// the cache is full and this shard is empty.
    pub(crate) fn insert(
        &self,
        hash: u64,
        key: K,
        entry: Entry<V>,
        now: Ticks,
        budget: &Budget,
        detach: bool,
    ) -> Result<(), Refused<K, V>> {
        let mut state = self.state.lock();
        if detach {
            Self::detach_locked(&mut state, hash, &key);
        }
        let departed = self.insert_locked(&mut state, key, entry, now, budget)?;
        drop(state);
        drop(departed);
        Ok(())
    }

    /// Evicts this shard's least recently used entry; `false` if it has none.
    pub(crate) fn evict_one(&self, now: Ticks, budget: &Budget) -> bool {
        let mut state = self.state.lock();
        let Some(evicted) = state.lru.pop_lru() else {
            return false;
        };
        state.departures.pushed_out(&evicted.1, now);
        self.changed(&mut state);
        budget.release(1);
        drop(state);
        drop(evicted);
        true
    }

    fn detach_locked<Q>(state: &mut State<K, V>, hash: u64, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(flight) = state.flights.remove(hash, key) else {
            return;
        };
        if let Some(latch) = flight.latch {
            state.detached.push((flight.seq, latch));
        }
    }

    /// Removes `key` and detaches its flight, whose result is then handed to
    /// its waiters but not stored; tells whether an entry was there.
    pub(crate) fn remove<Q>(&self, hash: u64, key: &Q, budget: &Budget) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut state = self.state.lock();
        Self::detach_locked(&mut state, hash, key);
        let removed = self.remove_locked(&mut state, key, budget);
        drop(state);
        removed.is_some()
    }

    /// Removes every entry and detaches every flight.
    pub(crate) fn clear(&self, budget: &Budget) {
        let mut state = self.state.lock();
        let old = std::mem::replace(&mut state.lru, empty_lru());
        let flights: Vec<_> = state.flights.take_all().collect();
        for flight in flights {
            if let Some(latch) = flight.latch {
                state.detached.push((flight.seq, latch));
            }
        }
        self.changed(&mut state);
        budget.release(old.len());
        drop(state);
        drop(old);
    }

    /// Entries held, live or expired-but-not-yet-reclaimed.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().lru.len()
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.state.lock().departures.evictions
    }

    pub(crate) fn expirations(&self) -> u64 {
        self.state.lock().departures.expirations
    }
}

/// Abandons a flight when dropped (see [`Shard::abandon_on_drop`]).
pub(crate) struct AbandonOnDrop<'a, K: Hash + Eq + Clone, V: Clone> {
    shard: &'a Shard<K, V>,
    hash: u64,
    seq: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> AbandonOnDrop<'_, K, V> {
    /// Leaves the flight alone: its leader's guard has taken over.
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Drop for AbandonOnDrop<'_, K, V> {
    fn drop(&mut self) {
        self.shard.abandon(self.hash, self.seq);
    }
}

/// An empty LRU. Its capacity follows its length (see `insert_locked`); the
/// store's budget, not the capacity, decides when an entry is evicted.
fn empty_lru<K: Hash + Eq, V>() -> LruCache<K, V> {
    LruCache::new(NonZeroUsize::MIN)
}

/// The capacity to give an LRU of `len` entries that may take one more: room
/// to grow without resizing on every insertion.
fn grown(len: usize) -> NonZeroUsize {
    NonZeroUsize::new(len.saturating_mul(2).max(1)).expect("at least one")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use super::*;

    /// A key that counts its copies.
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct CountedKey(u32);

    static KEY_COPIES: AtomicUsize = AtomicUsize::new(0);

    impl Clone for CountedKey {
        fn clone(&self) -> Self {
            KEY_COPIES.fetch_add(1, SeqCst);
            CountedKey(self.0)
        }
    }

    /// A full cache whose entry sits in another shard refuses this shard's
    /// landing. The flight stays registered meanwhile, with no copy of its key
    /// made (a copy runs user code that may panic), so callers keep waiting on
    /// it until the landing succeeds.
    #[test]
    fn a_refused_landing_leaves_the_flight_registered_and_copies_no_key() {
        let config = Config::new("shard::refused").size(1);
        let budget = Budget::new(Some(1));
        assert_eq!(budget.reserve(), Room::Granted, "another shard's entry");
        let shard = Shard::new();
        let (hash, now) = (7, 0);
        let Ok(Some(seq)) = shard.claim(hash, &CountedKey(1), now, &config, &budget, None) else {
            panic!("a cold key's first caller leads");
        };
        let entry = Entry {
            value: 5,
            expires_at: Ticks::MAX,
        };

        let copies = KEY_COPIES.load(SeqCst);
        let refused = shard.land(
            hash,
            CountedKey(1),
            Some(seq),
            Landing::Store(entry),
            now,
            &budget,
        );
        let Err((key, refused_entry)) = refused else {
            panic!("a full cache and an empty shard refuse the entry");
        };
        assert_eq!(KEY_COPIES.load(SeqCst), copies, "no key was copied");
        let second = shard.claim(hash, &CountedKey(1), now, &config, &budget, None);
        assert!(
            matches!(second, Err(Claim::Wait { .. })),
            "a second caller waits on the flight"
        );

        budget.release(1);
        let landed = shard.land(
            hash,
            key,
            Some(seq),
            Landing::Store(refused_entry),
            now,
            &budget,
        );
        assert!(
            matches!(landed, Ok((_, true))),
            "lands once there is room, in a current flight"
        );
        assert_eq!(shard.peek(&CountedKey(1), now), Some(5));
        let third = shard.claim(hash, &CountedKey(1), now, &config, &budget, None);
        assert!(
            matches!(third, Err(Claim::Fresh(_))),
            "the flight is retired"
        );
    }
}
