//! What a caller of a key gets from the store, and the guard of the caller
//! that computes a cold key (the leader of its flight).

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{duration, Ticks};
use crate::memory::latch::{Latch, Outcome};
use crate::memory::local::Local;
#[cfg(feature = "tokio")]
use crate::memory::nesting::FlightId;
use crate::memory::nesting::ThreadTag;
use crate::memory::shard;
use crate::memory::store::{Lifetime, Lookup, MemoryStore};

/// An expired value kept for `stale_if_error` or `refresh_ahead`.
pub(crate) struct Stale<V> {
    pub(crate) value: V,
    /// Read by `refresh_ahead`, an async-only option.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) expired_for: Duration,
}

/// What a caller of a key is to do.
pub(crate) enum Claim<'a, K: Hash + Eq + Clone + Send, V: Clone + Send> {
    /// A live value.
    Hit(V),
    /// Compute the value, then land the guard.
    Lead {
        guard: LeaderGuard<'a, K, V>,
        stale: Option<Stale<V>>,
    },
    /// Another caller computes it: wait on the latch.
    Wait {
        latch: Arc<Latch<V>>,
        stale: Option<Stale<V>>,
    },
    /// This thread computes it already (the body calls its own key): run the body.
    Reentrant { stale: Option<Stale<V>> },
}

impl<K: Hash + Eq + Clone + Send, V: Clone + Send> Claim<'_, K, V> {
    pub(crate) fn stale(&self) -> Option<&Stale<V>> {
        match self {
            Claim::Hit(_) => None,
            Claim::Lead { stale, .. } | Claim::Wait { stale, .. } | Claim::Reentrant { stale } => {
                stale.as_ref()
            }
        }
    }
}

/// Held by the leader while the body runs; dropping it unlanded (a panic, a
/// dropped future) abandons the flight, so that a waiter leads anew.
pub(crate) struct LeaderGuard<'a, K: Hash + Eq + Clone + Send, V: Clone + Send> {
    store: &'a MemoryStore<K, V>,
    hash: u64,
    key: Option<K>,
    seq: Option<u64>,
}

impl<'a, K: Hash + Eq + Clone + Send, V: Clone + Send> LeaderGuard<'a, K, V> {
    pub(crate) fn new(store: &'a MemoryStore<K, V>, hash: u64, key: K, seq: Option<u64>) -> Self {
        Self {
            store,
            hash,
            key: Some(key),
            seq,
        }
    }

    /// The flight this guard leads (`None` when single-flight is off), for the
    /// marks of an async leader.
    #[cfg(feature = "tokio")]
    pub(crate) fn id(&self) -> Option<FlightId> {
        self.seq
            .map(|seq| self.store.shard(self.hash).flight_id(seq))
    }

    /// The key this guard's flight computes.
    pub(crate) fn key(&self) -> &K {
        self.key
            .as_ref()
            .expect("a guard holds its key until it lands")
    }

    /// Stores `value` and hands it to the waiters; tells whether the flight
    /// was still current (no invalidation detached it).
    #[inline]
    pub(crate) fn land(self, value: &V) -> bool {
        self.land_within(value, None)
    }

    /// [`Self::land`] for a value that stays fresh only `fresh_for` more
    /// (`None`: as long as the cache's policy says).
    #[inline]
    pub(crate) fn land_within(self, value: &V, fresh_for: Option<Duration>) -> bool {
        self.land_for(value, fresh_for.map_or(Lifetime::Policy, Lifetime::AtMost))
    }

    /// Stores the last good `value` again, fresh for `window` whatever the
    /// policy says, and hands it to the waiters (`stale_if_error` after a
    /// failed body); tells whether the flight was still current.
    pub(crate) fn rearm(self, value: &V, window: Duration) -> bool {
        self.land_for(value, Lifetime::Exactly(window))
    }

    /// [`Self::land`], or [`Self::rearm`] for `Some(window)`.
    #[inline]
    pub(crate) fn land_or_rearm(self, value: &V, rearm: Option<Duration>) -> bool {
        match rearm {
            None => self.land(value),
            Some(window) => self.rearm(value, window),
        }
    }

    fn land_for(mut self, value: &V, lifetime: Lifetime) -> bool {
        self.store
            .land(self.hash, &mut self.key, self.seq, Ok(value), lifetime)
    }

    /// Tells the waiters the result is not cacheable: they run the body themselves.
    pub(crate) fn fail(mut self) {
        self.store.land(
            self.hash,
            &mut self.key,
            self.seq,
            Err(Outcome::Failed),
            Lifetime::Policy,
        );
    }
}

impl<K: Hash + Eq + Clone + Send, V: Clone + Send> Drop for LeaderGuard<'_, K, V> {
    fn drop(&mut self) {
        if self.key.is_some() {
            self.store.land(
                self.hash,
                &mut self.key,
                self.seq,
                Err(Outcome::Abandoned),
                Lifetime::Policy,
            );
        }
    }
}

/// How a caller claims a key of the store: the claims are made here, next to
/// the guard they hand out, so that the store itself knows nothing of them.
impl<K, V> MemoryStore<K, V>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    /// Looks `key` up in its shard (callers have tried [`Self::front_lookup`]);
    /// if it is not live, joins or starts its flight, which records `thread`
    /// for a sync caller. Counts a hit, or (with `count`) a miss unless a
    /// stale value came back, which the caller counts as it serves it or not.
    pub(crate) fn claim(&self, key: &K, count: bool, thread: Option<ThreadTag>) -> Claim<'_, K, V> {
        self.claim_hashed(self.local(), self.hasher.hash_one(key), key, count, thread)
    }

    /// [`Self::claim`] for a key whose hash is known, with this thread's state
    /// `local` (whose front table keeps a copy of a value found).
    #[inline]
    pub(crate) fn claim_hashed(
        &self,
        local: &Local<K, V>,
        hash: u64,
        key: &K,
        count: bool,
        thread: Option<ThreadTag>,
    ) -> Claim<'_, K, V> {
        let now = self.now();
        let claim = match self
            .shard(hash)
            .claim(hash, key, now, &self.config, &self.budget, thread)
        {
            Ok(seq) => shard::Claim::Lead { seq, stale: None },
            Err(claim) => claim,
        };
        self.to_claim(local, hash, key, now, claim, count)
    }

    /// [`Self::claim_hashed`] for a sync caller on `thread`, with the common
    /// outcome of a cold key set apart so that it costs no [`Claim`]: nothing
    /// stale is kept and the caller leads, in the flight the `Ok` numbers
    /// (`None`: single-flight is off). Counts the miss.
    #[inline]
    pub(crate) fn claim_to_lead(
        &self,
        local: &Local<K, V>,
        hash: u64,
        key: &K,
        thread: ThreadTag,
    ) -> Result<Option<u64>, Claim<'_, K, V>> {
        let now = self.now();
        let shard = self.shard(hash);
        match shard.claim(hash, key, now, &self.config, &self.budget, Some(thread)) {
            Ok(seq) => {
                local.counters.miss();
                Ok(seq)
            }
            Err(claim) => Err(self.to_claim(local, hash, key, now, claim, true)),
        }
    }

    /// What the caller of `key` is to do, given what its shard decided at `now`.
    fn to_claim(
        &self,
        local: &Local<K, V>,
        hash: u64,
        key: &K,
        now: Ticks,
        claim: shard::Claim<K, V>,
        count: bool,
    ) -> Claim<'_, K, V> {
        let stale_since = |(value, expired_at): (V, Ticks)| Stale {
            value,
            expired_for: duration(now.saturating_sub(expired_at)),
        };
        let claim = match claim {
            shard::Claim::Fresh(found) => {
                let Lookup::Hit(value) = self.answer(local, hash, now, found) else {
                    unreachable!("a fresh entry answers a hit")
                };
                local.counters.hit();
                return Claim::Hit(value);
            }
            shard::Claim::Lead { seq, stale } => Claim::Lead {
                guard: LeaderGuard::new(self, hash, self.leader_key(hash, key, seq), seq),
                stale: stale.map(stale_since),
            },
            shard::Claim::Wait { latch, stale } => Claim::Wait {
                latch,
                stale: stale.map(stale_since),
            },
            shard::Claim::Reentrant { stale } => Claim::Reentrant {
                stale: stale.map(stale_since),
            },
        };
        if count && claim.stale().is_none() {
            local.counters.miss();
        }
        claim
    }

    /// A copy of `key` for the leader of flight `seq`, whose guard holds it.
    /// Copying runs user code (`Clone`) after the flight is registered and
    /// before any guard exists: if it panics, the flight is abandoned here,
    /// and its waiters try again instead of waiting for a leader that is gone.
    fn leader_key(&self, hash: u64, key: &K, seq: Option<u64>) -> K {
        let Some(seq) = seq else {
            return key.clone();
        };
        let abandon = self.shard(hash).abandon_on_drop(hash, seq);
        let copy = key.clone();
        abandon.disarm();
        copy
    }
}
