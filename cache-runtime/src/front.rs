//! The per-thread front table: copies of recently hit entries, read without locks.
//!
//! A hit on a shared LRU writes shared memory (the lock word, the list links),
//! which makes cores fight over cache lines. Each thread therefore keeps a small
//! two-way set-associative table of entries it has hit. A copy is served only
//! while its shard's version is unchanged (no entry of that shard has left or
//! been replaced since) and its TTL has not passed. Recency is recorded lossily:
//! every [`PROMOTE_EVERY`]th front hit of a thread also promotes its key in the
//! shared LRU.

use std::borrow::Borrow;

use crate::clock::Nanos;

/// One front hit in this many also marks the key as recently used in the shared LRU.
pub const PROMOTE_EVERY: u32 = 64;

/// The most slots a front table has (per thread, per cache).
pub const MAX_SLOTS: usize = 4096;

struct Slot<K, V> {
    key: K,
    value: V,
    version: u64,
    expires_at: Nanos,
}

/// What a front lookup found.
pub(crate) enum FrontHit<V> {
    /// A current copy; `promote` asks the caller to record recency in the shared LRU.
    Value { value: V, promote: bool },
    /// No current copy.
    Absent,
}

pub(crate) struct Front<K, V> {
    slots: Vec<Option<Slot<K, V>>>,
    slot_count: usize,
    until_promote: u32,
}

impl<K, V: Clone> Front<K, V> {
    /// A front table of `slot_count` slots (a power of two, at least 2); memory is
    /// taken at the first fill.
    pub(crate) fn new(slot_count: usize) -> Self {
        debug_assert!(slot_count.is_power_of_two() && slot_count >= 2);
        Self {
            slots: Vec::new(),
            slot_count,
            until_promote: PROMOTE_EVERY,
        }
    }

    /// The number of slots for a cache of `capacity` entries.
    pub(crate) fn slots_for(capacity: Option<usize>) -> usize {
        capacity
            .map_or(MAX_SLOTS, |c| c.saturating_mul(2).next_power_of_two())
            .clamp(2, MAX_SLOTS)
    }

    #[inline]
    fn set(&self, hash: u64) -> usize {
        (hash as usize & (self.slot_count / 2 - 1)) * 2
    }

    /// A copy of `key`'s value if one is current at `version`; `now` is read only for
    /// entries that expire.
    #[inline]
    pub(crate) fn find<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        version: u64,
        now: impl FnOnce() -> Nanos,
    ) -> FrontHit<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if self.slots.is_empty() {
            return FrontHit::Absent;
        }
        let set = self.set(hash);
        let Some(slot) = self.slots[set..set + 2]
            .iter()
            .flatten()
            .find(|slot| slot.key.borrow() == key)
        else {
            return FrontHit::Absent;
        };
        if slot.version != version || (slot.expires_at != Nanos::MAX && now() >= slot.expires_at)
        {
            return FrontHit::Absent;
        }
        let value = slot.value.clone();
        self.until_promote -= 1;
        let promote = self.until_promote == 0;
        if promote {
            self.until_promote = PROMOTE_EVERY;
        }
        FrontHit::Value { value, promote }
    }

    /// Keeps a copy of an entry just read from the shared store at `version`.
    pub(crate) fn fill(&mut self, hash: u64, key: K, value: V, version: u64, expires_at: Nanos)
    where
        K: Eq,
    {
        if self.slots.is_empty() {
            self.slots.resize_with(self.slot_count, || None);
        }
        let set = self.set(hash);
        let slot = Some(Slot {
            key,
            value,
            version,
            expires_at,
        });
        let ways = &mut self.slots[set..set + 2];
        let same_key = |way: &Option<Slot<K, V>>| {
            matches!((way, &slot), (Some(a), Some(b)) if a.key == b.key)
        };
        if same_key(&ways[0]) {
            ways[0] = slot;
        } else {
            // The newest copy takes way 0 and the copy there moves to way 1,
            // displacing the older copy (or this key's own old copy).
            ways[1] = std::mem::replace(&mut ways[0], slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(front: &mut Front<u64, &'static str>, key: u64, version: u64, now: Nanos) -> Option<&'static str> {
        match front.find(key, &key, version, || now) {
            FrontHit::Value { value, .. } => Some(value),
            FrontHit::Absent => None,
        }
    }

    #[test]
    fn serves_only_current_versions_and_live_entries() {
        let mut front = Front::new(8);
        front.fill(1, 1, "one", 3, 100);
        assert_eq!(value(&mut front, 1, 3, 99), Some("one"));
        assert_eq!(value(&mut front, 1, 4, 99), None, "a newer shard version hides the copy");
        assert_eq!(value(&mut front, 1, 3, 100), None, "an expired copy is never served");
        assert_eq!(value(&mut front, 2, 3, 0), None);
    }

    #[test]
    fn two_ways_hold_two_colliding_keys_and_refill_replaces() {
        let mut front = Front::new(4); // two sets: keys 1, 3, 5 share set 1
        front.fill(1, 1, "a", 0, Nanos::MAX);
        front.fill(3, 3, "b", 0, Nanos::MAX);
        assert_eq!(value(&mut front, 1, 0, 0), Some("a"));
        assert_eq!(value(&mut front, 3, 0, 0), Some("b"));
        front.fill(1, 1, "a2", 0, Nanos::MAX);
        assert_eq!(value(&mut front, 1, 0, 0), Some("a2"));
        assert_eq!(value(&mut front, 3, 0, 0), Some("b"));
        front.fill(5, 5, "c", 0, Nanos::MAX);
        assert_eq!(value(&mut front, 5, 0, 0), Some("c"));
        assert_eq!(value(&mut front, 1, 0, 0), Some("a2"));
        assert_eq!(value(&mut front, 3, 0, 0), None, "the oldest way was displaced");
    }

    #[test]
    fn every_nth_hit_asks_for_a_promotion() {
        let mut front = Front::new(2);
        front.fill(0, 0u64, "x", 0, Nanos::MAX);
        let promotions = (0..PROMOTE_EVERY * 3)
            .filter(|_| matches!(front.find(0, &0, 0, || 0), FrontHit::Value { promote: true, .. }))
            .count();
        assert_eq!(promotions, 3);
    }
}
