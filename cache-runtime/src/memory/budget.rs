//! The bound on entries across all shards.
//!
//! Shards share one count, touched only when an entry is added or leaves (never
//! on a hit, and not when a full cache swaps one entry for another), so a cache
//! of size N holds N entries wherever their keys hash, while eviction order
//! stays exact within a shard.

use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) struct Budget {
    /// Entries held.
    used: AtomicUsize,
    capacity: Option<usize>,
}

/// The answer to a request for room for one more entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// Counted: add the entry.
    Granted,
    /// The cache is full: evict one entry and let the new one take its place.
    Full,
}

impl Budget {
    /// A budget of `capacity` entries (`None`: unbounded).
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        Self {
            used: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Asks for room for one new entry.
    pub(crate) fn reserve(&self) -> Room {
        let Some(capacity) = self.capacity else {
            self.used.fetch_add(1, Ordering::Relaxed);
            return Room::Granted;
        };
        // A plain read first: a full cache (the common case under churn) then
        // swaps entries without writing the shared count.
        if self.used.load(Ordering::Relaxed) >= capacity {
            return Room::Full;
        }
        if self.used.fetch_add(1, Ordering::AcqRel) >= capacity {
            self.used.fetch_sub(1, Ordering::AcqRel);
            return Room::Full;
        }
        Room::Granted
    }

    /// Gives back room for `entries` entries that left.
    pub(crate) fn release(&self, entries: usize) {
        if entries > 0 {
            self.used.fetch_sub(entries, Ordering::AcqRel);
        }
    }

    /// The bound, if any.
    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_past_capacity_is_refused_until_an_entry_leaves() {
        let budget = Budget::new(Some(2));
        assert_eq!(budget.reserve(), Room::Granted);
        assert_eq!(budget.reserve(), Room::Granted);
        assert_eq!(
            budget.reserve(),
            Room::Full,
            "third entry in a budget of two"
        );
        assert_eq!(budget.reserve(), Room::Full, "a refusal takes no room");
        budget.release(1);
        assert_eq!(budget.reserve(), Room::Granted);
        assert_eq!(Budget::new(None).reserve(), Room::Granted);
    }
}
