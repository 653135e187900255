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

use crate::memory::latch::Latch;
use crate::memory::nesting::{self, FlightId, ThreadTag};

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

/// Where a flight is kept, as found by [`Flights::numbered`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// In the shard's place of this index.
    Own(usize),
    /// In the overflow table.
    Overflow { hash: u64, seq: u64 },
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

    /// Removes the flight of `key`, whatever its number.
    #[inline]
    pub(crate) fn remove<Q>(&mut self, hash: u64, key: &Q) -> Option<Flight<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let is_key = |flight: &Flight<K, V>| flight.hash == hash && flight.key.borrow() == key;
        if let Some(at) = self.position(is_key) {
            return Some(self.take(Place::Own(at)));
        }
        if self.overflow.is_empty() {
            return None;
        }
        let found = self.overflow.find_entry(hash, is_key).ok()?;
        Some(found.remove().0)
    }

    /// Where flight number `seq` of a key of hash `hash` is, if it is still
    /// registered. Numbers are unique within a shard, so no key is compared:
    /// retiring a flight runs no user code.
    #[inline]
    pub(crate) fn numbered(&self, hash: u64, seq: u64) -> Option<Place> {
        let is_flight = |flight: &Flight<K, V>| flight.hash == hash && flight.seq == seq;
        if let Some(at) = self.position(is_flight) {
            return Some(Place::Own(at));
        }
        if self.overflow.is_empty() {
            return None;
        }
        let found = self.overflow.find(hash, is_flight)?;
        Some(Place::Overflow {
            hash: found.hash,
            seq: found.seq,
        })
    }

    /// Removes the flight at `place`, as [`Self::numbered`] found it with
    /// no change to the flights since.
    #[inline]
    pub(crate) fn take(&mut self, place: Place) -> Flight<K, V> {
        match place {
            Place::Own(at) => {
                self.taken &= !(1 << at);
                self.places[at]
                    .take()
                    .expect("a found place holds its flight")
            }
            Place::Overflow { hash, seq } => self.take_overflowed(hash, seq),
        }
    }

    #[cold]
    #[inline(never)]
    fn take_overflowed(&mut self, hash: u64, seq: u64) -> Flight<K, V> {
        let found = self
            .overflow
            .find_entry(hash, |flight| flight.hash == hash && flight.seq == seq);
        found
            .ok()
            .expect("a found flight stays until taken")
            .remove()
            .0
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
            assert_eq!(
                flights.numbered(key % 3, key),
                None,
                "only the number registered is found"
            );
            let place = flights.numbered(key % 3, key + 100).expect("registered");
            assert_eq!(flights.take(place).key, key);
        }
        for key in keys.clone() {
            let expected = (key % 2 == 1).then_some(key + 100);
            assert_eq!(flights.get_mut(key % 3, &key).map(|f| f.seq), expected);
        }
        let mut left: Vec<u64> = flights.take_all().map(|f| f.key).collect();
        left.sort_unstable();
        assert_eq!(left, keys.filter(|key| key % 2 == 1).collect::<Vec<_>>());
        assert!(flights.get_mut(1, &1).is_none());
        assert_eq!(flights.remove(2, &5).map(|f| f.key), None);
    }

    /// A key whose comparison panics: retiring a flight by its number
    /// compares no key, so it runs no user code.
    #[derive(Debug)]
    struct Incomparable(u64);

    impl PartialEq for Incomparable {
        fn eq(&self, _: &Self) -> bool {
            panic!("compared")
        }
    }

    impl Eq for Incomparable {}

    #[test]
    fn flights_are_retired_by_number_without_comparing_keys() {
        let mut flights: Flights<Incomparable, u64> = Flights::new();
        for seq in 0..PLACES as u64 + 4 {
            flights.insert(Flight {
                hash: 1,
                key: Incomparable(seq),
                seq,
                thread: None,
                latch: None,
            });
        }
        for seq in [0, PLACES as u64 + 2] {
            let place = flights.numbered(1, seq).expect("registered");
            assert_eq!(flights.take(place).key.0, seq);
            assert_eq!(flights.numbered(1, seq), None, "retired");
        }
        assert_eq!(flights.numbered(2, 1), None, "another hash");
    }

    #[test]
    fn a_flight_removed_from_its_place_makes_room_for_the_next() {
        let mut flights = Flights::new();
        for key in 0..PLACES as u64 {
            flights.insert(flight(key, key));
        }
        assert!(flights.remove(0, &0).is_some());
        flights.insert(flight(99, 99));
        assert!(
            flights.overflow.is_empty(),
            "the freed place was taken again"
        );
        assert_eq!(flights.get_mut(0, &99).map(|f| f.seq), Some(99));
    }
}
