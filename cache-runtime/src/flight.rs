//! Per-key single-flight for synchronous callers.
//!
//! The first caller of a cold key becomes its leader and runs the body; callers
//! of the same key that arrive meanwhile wait for the leader's value. No lock is
//! held while the body runs, so different keys never wait on each other and a
//! body may call the cache again (recursion). A leader that panics abandons its
//! flight: waiters are woken and one of them leads anew. A leader whose body
//! returns an uncacheable value (`Err`) releases its waiters to run the body
//! themselves, side by side, so that no one queues behind a chain of failures.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, ThreadId};

use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};

const SHARDS: usize = 16;

/// How a flight ended, as seen by its waiters.
#[derive(Clone)]
pub(crate) enum Outcome<V> {
    /// The leader produced this value.
    Value(V),
    /// The leader's result is not cacheable: run the body yourself.
    Failed,
    /// The leader panicked: try to lead.
    Abandoned,
}

pub(crate) struct Flight<V> {
    outcome: Mutex<Option<Outcome<V>>>,
    landed: Condvar,
    leader: ThreadId,
    /// Set by an invalidation that raced the body: its value is handed to the
    /// waiters already queued but not stored.
    detached: AtomicBool,
}

impl<V: Clone> Flight<V> {
    /// Blocks until the leader lands, and tells how.
    pub(crate) fn wait(&self) -> Outcome<V> {
        let mut outcome = self.outcome.lock();
        loop {
            if let Some(outcome) = &*outcome {
                return outcome.clone();
            }
            self.landed.wait(&mut outcome);
        }
    }
}

/// The flights in progress of one cache.
pub(crate) struct Flights<K, V> {
    shards: Box<[CachePadded<Mutex<HashMap<K, Arc<Flight<V>>>>>]>,
    hasher: foldhash::fast::RandomState,
}

/// What a caller of a cold key is to do.
pub(crate) enum Role<'a, K: Hash + Eq, V> {
    /// Run the body and land the flight.
    Leader(LeaderGuard<'a, K, V>),
    /// Wait for the leader.
    Waiter(Arc<Flight<V>>),
    /// This thread already leads this key (the body calls itself): run the body.
    Reentrant,
    /// The value arrived while joining.
    Ready(V),
}

impl<K: Hash + Eq + Clone, V: Clone> Flights<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| CachePadded::default()).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }


    /// Joins the flight of `key`, or starts one. `ready` is asked, under the
    /// flight lock, whether the value has landed in the store in the meantime.
    pub(crate) fn join<'a>(&'a self, key: &K, ready: impl FnOnce() -> Option<V>) -> Role<'a, K, V> {
        let mut flights = self.shard(key).lock();
        if let Some(value) = ready() {
            return Role::Ready(value);
        }
        if let Some(flight) = flights.get(key) {
            if flight.leader == thread::current().id() {
                return Role::Reentrant;
            }
            return Role::Waiter(flight.clone());
        }
        let flight = Arc::new(Flight {
            outcome: Mutex::new(None),
            landed: Condvar::new(),
            leader: thread::current().id(),
            detached: AtomicBool::new(false),
        });
        flights.insert(key.clone(), flight.clone());
        Role::Leader(LeaderGuard {
            flights: self,
            key: Some(key.clone()),
            flight,
        })
    }

    /// The number of flights in progress.
    #[cfg(test)]
    pub(crate) fn in_progress(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// Held by the leader while the body runs; dropping it unlanded (a panic)
/// abandons the flight.
pub(crate) struct LeaderGuard<'a, K: Hash + Eq, V> {
    flights: &'a Flights<K, V>,
    key: Option<K>,
    flight: Arc<Flight<V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> LeaderGuard<'_, K, V> {
    /// Lands the flight; waiters see `outcome`. `store` runs under the flight lock
    /// unless an invalidation detached the flight, so an invalidation is never
    /// undone by a body that started before it.
    pub(crate) fn land(mut self, outcome: Outcome<V>, store: impl FnOnce(K)) {
        if let Some(key) = self.key.take() {
            self.flights.land(key, &self.flight, outcome, store);
        }
    }
}

impl<K: Hash + Eq, V> Drop for LeaderGuard<'_, K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.flights.land(key, &self.flight, Outcome::Abandoned, drop);
        }
    }
}

impl<K: Hash + Eq, V> Flights<K, V> {
    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Mutex<HashMap<K, Arc<Flight<V>>>> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// Removes the flight of `key` from the map, then wakes its waiters; a caller
    /// arriving in between finds the value in the store, since the leader stored it first.
    fn land(&self, key: K, flight: &Flight<V>, outcome: Outcome<V>, store: impl FnOnce(K)) {
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
        *flight.outcome.lock() = Some(outcome);
        flight.landed.notify_all();
    }

    /// Detaches the flight of `key`, if any: later callers start a new one and its
    /// value is not stored.
    pub(crate) fn detach<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut flights = self.shard(key).lock();
        if let Some(flight) = flights.remove(key) {
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
