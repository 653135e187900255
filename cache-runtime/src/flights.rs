//! The flights of one shard: the keys being computed right now, found by key.
//!
//! A shard rarely has more than a few flights at once (about one per thread
//! that is computing one of its keys), and every cold key adds and retires
//! one, so the first few sit in a handful of places in the shard itself, with
//! a bit per place telling which are taken: finding, adding and retiring a
//! flight there costs a cold key a few instructions, where a hash table's
//! insertions and removals (and the rebuilds its tombstones force) cost it
//! more than a tenth of its time. Flights beyond those places, such as
//! thousands of tasks awaiting slow bodies, go to a hash table.

use std::borrow::Borrow;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::latch::Latch;
use crate::nesting::{self, FlightId, ThreadTag};

/// How many flights a shard keeps in places of its own (bits of `Flights::taken`).
const PLACES: usize = 8;

/// A computation in progress. Its latch is made when the first waiter comes.
pub(crate) struct Flight<K, V> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    pub(crate) seq: u64,
    /// The thread a sync leader runs the body on; `None` for an async leader,
    /// which marks its polls instead (see `nesting`).
    pub(crate) thread: Option<ThreadTag>,
    pub(crate) latch: Option<Arc<Latch<V>>>,
}

impl<K, V> Flight<K, V> {
    /// Whether the current thread runs this flight's body now, given its name `id`.
    pub(crate) fn led_from_here(&self, id: FlightId) -> bool {
        match self.thread {
            Some(thread) => thread == nesting::this_thread(),
            None => nesting::inside(id),
        }
    }
}

/// The flights of one shard, at most one per key.
pub(crate) struct Flights<K, V> {
    /// Bit `i` is set when `places[i]` holds a flight.
    taken: u8,
    places: [Option<Flight<K, V>>; PLACES],
    /// Flights that found every place taken. A key's flight is in one place only.
    overflow: HashTable<Flight<K, V>>,
}

impl<K, V> Flights<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            taken: 0,
            places: std::array::from_fn(|_| None),
            overflow: HashTable::new(),
        }
    }

    /// The place of the first flight that `wanted` accepts.
    #[inline]
    fn position(&self, wanted: impl Fn(&Flight<K, V>) -> bool) -> Option<usize> {
        let mut taken = self.taken;
        while taken != 0 {
            let at = taken.trailing_zeros() as usize;
            taken &= taken - 1;
            if self.places[at].as_ref().is_some_and(&wanted) {
                return Some(at);
            }
        }
        None
    }

    /// The flight of `key` (of hash `hash`), if there is one.
    #[inline]
    pub(crate) fn get_mut<Q>(&mut self, hash: u64, key: &Q) -> Option<&mut Flight<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let is_key = |flight: &Flight<K, V>| flight.hash == hash && flight.key.borrow() == key;
        if let Some(at) = self.position(is_key) {
            return self.places[at].as_mut();
        }
        if self.overflow.is_empty() {
            return None;
        }
        self.overflow.find_mut(hash, is_key)
    }

    /// Adds a flight for a key that has none.
    #[inline]
    pub(crate) fn insert(&mut self, flight: Flight<K, V>) {
        let free = (!self.taken).trailing_zeros() as usize;
        if free < PLACES {
            self.taken |= 1 << free;
            self.places[free] = Some(flight);
        } else {
            self.overflow(flight);
        }
    }

    #[cold]
    #[inline(never)]
    fn overflow(&mut self, flight: Flight<K, V>) {
        self.overflow
            .insert_unique(flight.hash, flight, |flight| flight.hash);
    }

    /// Removes the flight of `key`: flight `seq` only, or whichever (`None`).
    #[inline]
    pub(crate) fn remove<Q>(&mut self, hash: u64, key: &Q, seq: Option<u64>) -> Option<Flight<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let wanted = |flight: &Flight<K, V>| {
            flight.hash == hash
                && seq.is_none_or(|seq| flight.seq == seq)
                && flight.key.borrow() == key
        };
        if let Some(at) = self.position(wanted) {
            self.taken &= !(1 << at);
            return self.places[at].take();
        }
        if self.overflow.is_empty() {
            return None;
        }
        let found = self.overflow.find_entry(hash, wanted).ok()?;
        Some(found.remove().0)
    }

    /// Removes every flight.
    pub(crate) fn take_all(&mut self) -> impl Iterator<Item = Flight<K, V>> {
        self.taken = 0;
        let placed: Vec<_> = self.places.iter_mut().filter_map(Option::take).collect();
        let overflow = std::mem::take(&mut self.overflow);
        placed.into_iter().chain(overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flight(key: u64, seq: u64) -> Flight<u64, u64> {
        Flight {
            // Colliding hashes: the key decides.
            hash: key % 3,
            key,
            seq,
            thread: None,
            latch: None,
        }
    }

    #[test]
    fn flights_past_the_places_are_found_and_removed_like_placed_ones() {
        let mut flights = Flights::new();
        let keys = 0..(PLACES as u64 * 3);
        for key in keys.clone() {
            assert!(flights.get_mut(key % 3, &key).is_none());
            flights.insert(flight(key, key + 100));
        }
        assert!(!flights.overflow.is_empty(), "some flights overflowed");
        for key in keys.clone() {
            let found = flights.get_mut(key % 3, &key).map(|f| f.seq);
            assert_eq!(found, Some(key + 100), "flight of key {key}");
        }
        for key in keys.clone().step_by(2) {
            assert!(
                flights.remove(key % 3, &key, Some(key)).is_none(),
                "a newer flight of the key is not removed"
            );
            assert_eq!(
                flights
                    .remove(key % 3, &key, Some(key + 100))
                    .map(|f| f.key),
                Some(key)
            );
        }
        for key in keys.clone() {
            let expected = (key % 2 == 1).then_some(key + 100);
            assert_eq!(flights.get_mut(key % 3, &key).map(|f| f.seq), expected);
        }
        let mut left: Vec<u64> = flights.take_all().map(|f| f.key).collect();
        left.sort_unstable();
        assert_eq!(left, keys.filter(|key| key % 2 == 1).collect::<Vec<_>>());
        assert!(flights.get_mut(1, &1).is_none());
        assert_eq!(flights.remove(2, &5, None).map(|f| f.key), None);
    }

    #[test]
    fn a_flight_removed_from_its_place_makes_room_for_the_next() {
        let mut flights = Flights::new();
        for key in 0..PLACES as u64 {
            flights.insert(flight(key, key));
        }
        assert!(flights.remove(0, &0, None).is_some());
        flights.insert(flight(99, 99));
        assert!(
            flights.overflow.is_empty(),
            "the freed place was taken again"
        );
        assert_eq!(flights.get_mut(0, &99).map(|f| f.seq), Some(99));
    }
}
