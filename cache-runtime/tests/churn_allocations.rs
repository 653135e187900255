//! A full store swaps entries without allocating a node: the new key takes
//! over the node of the entry it evicts. Checked with a global allocator that
//! counts the allocations of the current thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use memocache_runtime::{Clock, Config, MemoryStore};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn churn_through_a_full_store_allocates_no_nodes() {
    for shards in [1, 8] {
        let store =
            MemoryStore::with_shards(Config::new("churn").size(1000), Clock::coarse(), shards);
        for k in 0..10_000u64 {
            store.insert(k, k);
        }
        assert_eq!(store.len(), 1000);
        let before = allocations();
        for k in 10_000..60_000u64 {
            store.insert(k, k);
        }
        let during = allocations() - before;
        assert_eq!(store.len(), 1000);
        assert_eq!(store.stats().evictions, 59_000);
        // The hash table under the LRU rebuilds itself now and then to clear the
        // tombstones that removals leave (one allocation each, a handful here);
        // an LRU that allocated a node per insert would show 50,000.
        assert!(
            during <= 50,
            "{during} allocations for 50,000 evicting inserts ({shards} shards)"
        );
    }
}

#[test]
fn a_full_store_still_grows_a_shard_when_another_frees_room() {
    // One shard's keys are removed; the room they leave goes to whichever
    // shard needs it, so the store is full again with no eviction.
    let store = MemoryStore::with_shards(Config::new("rebalance").size(64), Clock::coarse(), 8);
    for k in 0..64u64 {
        store.insert(k, k);
    }
    for k in 0..32u64 {
        assert!(store.remove(&k));
    }
    for k in 100..132u64 {
        store.insert(k, k);
    }
    let stats = store.stats();
    assert_eq!((stats.len, stats.evictions), (64, 0));
    assert!((32..64).chain(100..132).all(|k| store.get(&k) == Some(k)));
}
