//! The bound on entries across all shards.
//!
//! Shards share one count, touched only when an entry is added or leaves (never
//! on a hit), so a cache of size N holds N entries wherever their keys hash,
//! while eviction order stays exact within a shard.

use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) struct Budget {
    /// Entries held plus insertions under way.
    used: AtomicUsize,
    capacity: Option<usize>,
}

impl Budget {
    /// A budget of `capacity` entries (`None`: unbounded).
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        Self {
            used: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Reserves room for one new entry; `true` if the cache is full and the
    /// caller must evict one entry before adding its own.
    pub(crate) fn reserve(&self) -> bool {
        let before = self.used.fetch_add(1, Ordering::AcqRel);
        self.capacity.is_some_and(|capacity| before >= capacity)
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
    fn the_entry_past_capacity_must_evict() {
        let budget = Budget::new(Some(2));
        assert!(!budget.reserve());
        assert!(!budget.reserve());
        assert!(budget.reserve(), "third entry in a budget of two");
        budget.release(1);
        budget.release(1);
        assert!(!budget.reserve());
        assert!(!Budget::new(None).reserve());
    }
}
