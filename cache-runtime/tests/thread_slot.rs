//! The per-function thread-local slot that `#[cached]` declares: it serves the
//! store it was first used with, and anything else falls back to the store's
//! own per-thread map without losing a value or a count.

use std::cell::Cell;

use memocache_runtime::{call_sync_in, Cache, Config, Plain, ThreadSlot};

static FIRST: Cache<u32, u32> = Cache::new(Config::new("slot::first"));
static SECOND: Cache<u32, u32> = Cache::new(Config::new("slot::second"));

thread_local! {
    static SLOT: ThreadSlot<u32, u32> = const { ThreadSlot::new() };
}

#[test]
fn a_slot_asked_for_another_store_leaves_it_to_that_store() {
    let runs = Cell::new(0);
    let call = |cache: &'static Cache<u32, u32>, key: u32, value: u32| {
        call_sync_in(cache, &SLOT, key, Plain, || {
            runs.set(runs.get() + 1);
            value
        })
    };
    for _ in 0..3 {
        assert_eq!(call(&FIRST, 1, 10), 10);
        assert_eq!(call(&SECOND, 1, 20), 20, "the second store's own value");
    }
    assert_eq!(runs.get(), 2, "one run per store");
    for cache in [&FIRST, &SECOND] {
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (2, 1));
    }
}

static AT_EXIT: Cache<u32, u32> = Cache::new(Config::new("slot::at_exit"));

thread_local! {
    static EXIT_SLOT: ThreadSlot<u32, u32> = const { ThreadSlot::new() };
}

/// Calls the memoized function from a thread-local destructor, when the slot
/// may already be gone.
struct CallsOnDrop(std::sync::mpsc::Sender<u32>);

impl Drop for CallsOnDrop {
    fn drop(&mut self) {
        let value = call_sync_in(&AT_EXIT, &EXIT_SLOT, 7, Plain, || 70);
        self.0.send(value).expect("the test is listening");
    }
}

thread_local! {
    static GUARD: Cell<Option<CallsOnDrop>> = const { Cell::new(None) };
}

#[test]
fn a_call_from_a_thread_local_destructor_is_served() {
    let (sender, values) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Thread-local destructors run in the reverse order of first use, so
        // the slot is gone when the guard's destructor calls.
        GUARD.with(|guard| guard.set(Some(CallsOnDrop(sender))));
        assert_eq!(call_sync_in(&AT_EXIT, &EXIT_SLOT, 7, Plain, || 70), 70);
    })
    .join()
    .expect("the thread exits cleanly");
    assert_eq!(values.recv().expect("the destructor ran"), 70);
    let stats = AT_EXIT.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (1, 1),
        "the destructor's call was a hit"
    );
}
