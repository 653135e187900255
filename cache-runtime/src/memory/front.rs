//! The per-thread front table: copies of recently hit entries, read without locks.
//!
//! A hit on a shared LRU writes shared memory (the lock word, the list links),
//! which makes cores fight over cache lines. Each thread therefore keeps a small
//! four-way set-associative table of entries it has hit. A copy is served only
//! while its shard's version is unchanged (no entry of that shard has left or
//! been replaced since) and its TTL has not passed. Recency is recorded lossily:
//! every [`PROMOTE_EVERY`]th front hit of a thread also promotes its key in the
//! shared LRU.

use std::borrow::Borrow;
use std::num::NonZeroU64;

use crate::clock::Ticks;

/// One front hit in this many also marks the key as recently used in the shared LRU.
pub const PROMOTE_EVERY: u32 = 64;

/// The most slots a front table has (per thread, per cache).
pub const MAX_SLOTS: usize = 4096;

struct Slot<K, V> {
    key: K,
    value: V,
    /// The shard version the copy was read at, as [`stamp`]: never zero, so
    /// that an empty slot (`None`) takes no room of its own.
    stamp: NonZeroU64,
    expires_at: Ticks,
}

/// A shard version as a slot keeps it.
#[inline]
fn stamp(version: u64) -> NonZeroU64 {
    NonZeroU64::MIN.saturating_add(version)
}

/// Slots per set: a key can sit in any of these.
const WAYS: usize = 4;

/// The ways of one set, aligned so that a `u64 -> u64` slot (32 bytes) never
/// straddles two cache lines.
#[repr(align(64))]
struct Set<K, V>([Option<Slot<K, V>>; WAYS]);

/// The hash with its bits spread into the high ones (Fibonacci hashing).
#[inline]
fn mixed(hash: u64) -> u64 {
    hash.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A slot's tag: bits of the hash that the set index does not use; never 0.
#[inline]
fn tag(hash: u64) -> u16 {
    (mixed(hash) as u16) | 1
}

/// One bit per 16-bit lane of a set's tags (bit 15 of the lane).
const LANE_LOW: u64 = 0x0001_0001_0001_0001;
const LANE_HIGH: u64 = 0x8000_8000_8000_8000;

/// The ways of a set whose tag may be `tag`, as the high bit of their lane:
/// every way whose tag is `tag` is set, and the lowest bit set is always such a
/// way (a lane above one may be set falsely, by a borrow). Branch-free, so a
/// hit costs no misprediction whichever way holds the key.
#[inline]
fn candidates(tags: u64, tag: u16) -> u64 {
    let diff = tags ^ (LANE_LOW * u64::from(tag));
    diff.wrapping_sub(LANE_LOW) & !diff & LANE_HIGH
}

/// `tags` with way `way`'s lane set to `tag`.
#[inline]
fn with_tag(tags: u64, way: usize, tag: u16) -> u64 {
    let shift = 16 * way;
    tags & !(0xFFFF << shift) | u64::from(tag) << shift
}

/// What a front lookup found.
pub(crate) enum FrontHit<V> {
    /// A current copy; `promote` asks the caller to record recency in the shared LRU.
    Value { value: V, promote: bool },
    /// No current copy.
    Absent,
}

pub(crate) struct Front<K, V> {
    /// Empty until the first fill, so threads that never hit cost nothing.
    sets: Vec<Set<K, V>>,
    /// A 16-bit tag of each slot's key hash (0: empty), a lane of one `u64`
    /// per set, side by side with the sets: a few kilobytes that stay in the
    /// L1 cache, so a lookup reads the one slot whose tag matches instead of
    /// scanning a set's cache lines.
    tags: Vec<u64>,
    /// `64 - log2(number of sets)`: a set is picked by the high bits of a
    /// Fibonacci-mixed hash, since the low bits of some hasher seeds crowd
    /// sequential integer keys into a few sets.
    set_shift: u32,
    until_promote: u32,
}

impl<K, V: Clone> Front<K, V> {
    /// A front table of `slot_count` slots (a power of two, at least two sets);
    /// memory is taken at the first fill.
    pub(crate) fn new(slot_count: usize) -> Self {
        debug_assert!(slot_count.is_power_of_two() && slot_count >= 2 * WAYS);
        Self {
            sets: Vec::new(),
            tags: Vec::new(),
            set_shift: 64 - (slot_count / WAYS).ilog2(),
            until_promote: PROMOTE_EVERY,
        }
    }

    #[inline]
    fn set_index(&self, hash: u64) -> usize {
        (mixed(hash) >> self.set_shift) as usize
    }

    /// The number of slots for a cache of `capacity` entries.
    pub(crate) fn slots_for(capacity: Option<usize>) -> usize {
        capacity
            .map_or(MAX_SLOTS, usize::next_power_of_two)
            .clamp(2 * WAYS, MAX_SLOTS)
    }

    /// A copy of `key`'s value if one is current at the shard's `version`;
    /// `version` is read only when a copy is found (a shard another core
    /// churns keeps rewriting it), and `now` only for entries that expire.
    #[inline]
    pub(crate) fn find<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        version: impl FnOnce() -> u64,
        now: impl FnOnce() -> Ticks,
    ) -> FrontHit<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let index = self.set_index(hash);
        let (Some(&tags), Some(set)) = (self.tags.get(index), self.sets.get(index)) else {
            return FrontHit::Absent;
        };
        let mut ways = candidates(tags, tag(hash));
        let slot = loop {
            if ways == 0 {
                return FrontHit::Absent;
            }
            let way = (ways.trailing_zeros() / 16) as usize;
            ways &= ways - 1;
            if let Some(slot) = set.0[way].as_ref().filter(|slot| slot.key.borrow() == key) {
                break slot;
            }
        };
        if slot.stamp != stamp(version())
            || (slot.expires_at != Ticks::MAX && now() >= slot.expires_at)
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
    pub(crate) fn fill(&mut self, hash: u64, key: K, value: V, version: u64, expires_at: Ticks)
    where
        K: Eq,
    {
        if self.sets.is_empty() {
            let sets = 1 << (64 - self.set_shift);
            self.sets
                .resize_with(sets, || Set(std::array::from_fn(|_| None)));
            self.tags.resize(sets, 0);
        }
        let index = self.set_index(hash);
        let (Set(set), tags) = (&mut self.sets[index], &mut self.tags[index]);
        let held = set
            .iter()
            .position(|way| way.as_ref().is_some_and(|slot| slot.key == key));
        let way = held.unwrap_or_else(|| {
            // The oldest copy (last way) makes room; the newest sits first.
            set.rotate_right(1);
            *tags <<= 16;
            0
        });
        *tags = with_tag(*tags, way, tag(hash));
        set[way] = Some(Slot {
            key,
            value,
            stamp: stamp(version),
            expires_at,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(front: &mut Front<u64, u64>, key: u64, version: u64, now: Ticks) -> Option<u64> {
        match front.find(key, &key, || version, || now) {
            FrontHit::Value { value, .. } => Some(value),
            FrontHit::Absent => None,
        }
    }

    #[test]
    fn serves_only_current_versions_and_live_entries() {
        let mut front = Front::new(8);
        front.fill(1, 1, 10, 3, 100);
        assert_eq!(value(&mut front, 1, 3, 99), Some(10));
        assert_eq!(
            value(&mut front, 1, 4, 99),
            None,
            "a newer shard version hides the copy"
        );
        assert_eq!(
            value(&mut front, 1, 3, 100),
            None,
            "an expired copy is never served"
        );
        assert_eq!(value(&mut front, 2, 3, 0), None);
    }

    #[test]
    fn a_set_holds_four_colliding_keys_and_drops_the_oldest() {
        let mut front = Front::new(8); // two sets of four ways
        let set = front.set_index(0);
        let colliding: Vec<u64> = (0..)
            .filter(|&k| front.set_index(k) == set)
            .take(5)
            .collect();
        let other = (0..).find(|&k| front.set_index(k) != set).unwrap();
        for &key in &colliding[..4] {
            front.fill(key, key, key * 10, 0, Ticks::MAX);
        }
        front.fill(colliding[1], colliding[1], 31, 0, Ticks::MAX);
        for (i, &key) in colliding[..4].iter().enumerate() {
            let expected = if i == 1 { 31 } else { key * 10 };
            assert_eq!(value(&mut front, key, 0, 0), Some(expected));
        }
        front.fill(colliding[4], colliding[4], 90, 0, Ticks::MAX);
        assert_eq!(value(&mut front, colliding[4], 0, 0), Some(90));
        assert_eq!(
            value(&mut front, colliding[0], 0, 0),
            None,
            "the oldest copy was displaced"
        );
        assert_eq!(value(&mut front, colliding[1], 0, 0), Some(31));
        assert_eq!(value(&mut front, other, 0, 0), None);
    }

    #[test]
    fn candidates_include_every_matching_way_and_start_with_one() {
        let lanes =
            |tags: [u16; WAYS]| (0..WAYS).fold(0, |word, way| with_tag(word, way, tags[way]));
        let ways = |bits: u64| -> Vec<usize> {
            (0..WAYS)
                .filter(|way| bits >> (16 * way + 15) & 1 == 1)
                .collect()
        };
        for tags in [
            [3, 5, 3, 0],
            [0, 0, 0, 7],
            [7, 7, 7, 7],
            [1, 2, 3, 4],
            [0xFFFF, 1, 0xFFFF, 1],
        ] {
            for tag in [1u16, 3, 5, 7, 0xFFFF] {
                let found = candidates(lanes(tags), tag);
                let matching: Vec<usize> = (0..WAYS).filter(|&way| tags[way] == tag).collect();
                let listed = ways(found);
                assert!(
                    matching.iter().all(|way| listed.contains(way)),
                    "{tags:?} {tag}"
                );
                assert_eq!(listed.first(), matching.first(), "{tags:?} {tag}");
            }
        }
    }

    #[test]
    fn every_nth_hit_asks_for_a_promotion() {
        let mut front = Front::new(8);
        front.fill(0, 0u64, 1u64, 0, Ticks::MAX);
        let promotions = (0..PROMOTE_EVERY * 3)
            .filter(|_| {
                matches!(
                    front.find(0, &0, || 0, || 0),
                    FrontHit::Value { promote: true, .. }
                )
            })
            .count();
        assert_eq!(promotions, 3);
    }
}
