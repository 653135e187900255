//! Per-key single-flight, shared by synchronous and asynchronous callers.
//!
//! The first caller of a cold key becomes its leader and runs the body; callers
//! of the same key that arrive meanwhile wait on the flight's [`Latch`] for the
//! leader's value. No lock is held while the body runs, so different keys never
//! wait on each other and a body may call the cache again (recursion). A leader
//! that panics, or whose future is dropped, abandons its flight: waiters are
//! woken and one of them leads anew. A leader whose body returns an uncacheable
//! value (`Err`) releases its waiters to run the body themselves, side by side,
//! so that no one queues behind a chain of failures.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

const SHARDS: usize = 16;

/// How a flight ended, as seen by its waiters.
#[derive(Clone)]
pub(crate) enum Outcome<V> {
    /// The leader produced this value.
    Value(V),
    /// The leader's result is not cacheable: run the body yourself.
    Failed,
    /// The leader panicked or was cancelled: try to lead.
    Abandoned,
}

/// Where waiters wait for a leader: a condition variable for threads, a
/// notification for tasks.
pub(crate) trait Latch: Send + Sync {
    /// The value a flight carries.
    type Value;

    /// A closed latch, led by the caller.
    fn new() -> Self;

    /// Whether the caller is the one leading this flight (a body calling itself).
    fn led_by_caller(&self) -> bool;

    /// Opens the latch: every waiter, present and future, sees `outcome`.
    fn open(&self, outcome: Outcome<Self::Value>);
}

pub(crate) struct Flight<L> {
    pub(crate) latch: L,
    /// Set by an invalidation that raced the body: its value is handed to the
    /// waiters already queued but not stored.
    detached: AtomicBool,
}

type FlightMap<K, L> = Mutex<HashMap<K, Arc<Flight<L>>>>;

/// The flights in progress of one cache.
pub(crate) struct Flights<K, L> {
    shards: Box<[CachePadded<FlightMap<K, L>>]>,
    hasher: foldhash::fast::RandomState,
}

/// What a caller of a cold key is to do.
pub(crate) enum Role<'a, K: Hash + Eq, L: Latch> {
    /// Run the body and land the flight.
    Leader(LeaderGuard<'a, K, L>),
    /// Wait for the leader.
    Waiter(Arc<Flight<L>>),
    /// The caller already leads this key (the body calls itself): run the body.
    Reentrant,
    /// The value arrived while joining.
    Ready(L::Value),
}

impl<K: Hash + Eq, L: Latch> Flights<K, L> {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| CachePadded::default()).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &FlightMap<K, L> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// Joins the flight of `key`, or starts one. `ready` is asked, under the
    /// flight lock, whether the value has landed in the store in the meantime.
    pub(crate) fn join<'a>(
        &'a self,
        key: &K,
        ready: impl FnOnce() -> Option<L::Value>,
    ) -> Role<'a, K, L>
    where
        K: Clone,
    {
        let mut flights = self.shard(key).lock();
        if let Some(value) = ready() {
            return Role::Ready(value);
        }
        if let Some(flight) = flights.get(key) {
            if flight.latch.led_by_caller() {
                return Role::Reentrant;
            }
            return Role::Waiter(flight.clone());
        }
        let flight = Arc::new(Flight {
            latch: L::new(),
            detached: AtomicBool::new(false),
        });
        flights.insert(key.clone(), flight.clone());
        Role::Leader(LeaderGuard {
            flights: self,
            key: Some(key.clone()),
            flight,
        })
    }

    /// Removes the flight of `key` from the map (storing its value first, under
    /// the lock, unless it was detached), then opens its latch. A caller arriving
    /// in between finds the value in the store.
    fn land(&self, key: K, flight: &Flight<L>, outcome: Outcome<L::Value>, store: impl FnOnce(K)) {
        let mut flights = self.shard(&key).lock();
        if flights
            .get(&key)
            .is_some_and(|current| std::ptr::eq(&**current, flight))
        {
            flights.remove(&key);
        }
        if !flight.detached.load(Ordering::Relaxed) {
            store(key);
        }
        drop(flights);
        flight.latch.open(outcome);
    }

    /// Detaches the flight of `key`, if any: later callers start a new one and its
    /// value is not stored.
    pub(crate) fn detach<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(flight) = self.shard(key).lock().remove(key) {
            flight.detached.store(true, Ordering::Relaxed);
        }
    }

    /// Detaches every flight.
    pub(crate) fn detach_all(&self) {
        for shard in self.shards.iter() {
            for (_, flight) in shard.lock().drain() {
                flight.detached.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Held by the leader while the body runs; dropping it unlanded (a panic, a
/// dropped future) abandons the flight.
pub(crate) struct LeaderGuard<'a, K: Hash + Eq, L: Latch> {
    flights: &'a Flights<K, L>,
    key: Option<K>,
    flight: Arc<Flight<L>>,
}

impl<K: Hash + Eq, L: Latch> LeaderGuard<'_, K, L> {
    /// The latch of the flight this guard leads.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn latch(&self) -> &L {
        &self.flight.latch
    }

    /// Lands the flight; waiters see `outcome`. `store` runs under the flight lock
    /// unless an invalidation detached the flight, so an invalidation is never
    /// undone by a body that started before it.
    pub(crate) fn land(mut self, outcome: Outcome<L::Value>, store: impl FnOnce(K)) {
        if let Some(key) = self.key.take() {
            self.flights.land(key, &self.flight, outcome, store);
        }
    }
}

impl<K: Hash + Eq, L: Latch> Drop for LeaderGuard<'_, K, L> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.flights
                .land(key, &self.flight, Outcome::Abandoned, drop);
        }
    }
}
