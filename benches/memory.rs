//! Memory: bytes per entry for 1,000,000 `u64 -> u64` entries, measured by a
//! counting global allocator (bytes requested and still live; the allocator's
//! own per-block overhead is not included, so live blocks are shown too).
//! memocache side by side with a bare `lru::LruCache` and the peers.
//!
//! `cargo bench -p memocache-benches --bench memory`

mod peers;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use peers::Visit;

peers::memoized_peers!(1_000_000);

const ENTRIES: u64 = 1_000_000;

/// The system allocator, counting live bytes and live blocks.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Relaxed);
            LIVE_BLOCKS.fetch_add(1, Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Relaxed);
            LIVE_BLOCKS.fetch_add(1, Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(new_size, Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Live bytes and blocks.
fn live() -> (usize, usize) {
    (LIVE_BYTES.load(Relaxed), LIVE_BLOCKS.load(Relaxed))
}

struct Row {
    name: &'static str,
    bytes: usize,
    blocks: usize,
    held: usize,
}

impl Row {
    fn per_entry(&self) -> f64 {
        self.bytes as f64 / self.held as f64
    }
}

/// Fills each peer with `ENTRIES` entries through its memoized function.
struct Fill(Vec<Row>);

impl Visit for Fill {
    fn peer<F: Fn(u64) -> u64 + Sync>(&mut self, name: &'static str, call: F, len: fn() -> usize) {
        let (bytes, blocks) = live();
        (0..ENTRIES).for_each(|key| {
            black_box(call(key));
        });
        let held = len();
        let (bytes_after, blocks_after) = live();
        self.0.push(Row {
            name,
            bytes: bytes_after - bytes,
            blocks: blocks_after - blocks,
            held,
        });
    }
}

fn main() {
    let (bytes, blocks) = live();
    let mut bare = lru::LruCache::new(NonZeroUsize::new(ENTRIES as usize).expect("nonzero"));
    (0..ENTRIES).for_each(|key| {
        bare.put(key, peers::body(key));
    });
    let (bytes_after, blocks_after) = live();
    let lru = Row {
        name: "lru (bare)",
        bytes: bytes_after - bytes,
        blocks: blocks_after - blocks,
        held: bare.len(),
    };
    drop(bare);

    let mut fill = Fill(Vec::new());
    visit_peers(&mut fill);

    println!(
        "\nmemory: {ENTRIES} u64 -> u64 entries (bytes requested from the allocator, still live)\n"
    );
    println!("| peer | entries held | bytes/entry | blocks/entry | ratio to bare lru |");
    println!("|---|---:|---:|---:|---:|");
    for row in std::iter::once(&lru).chain(&fill.0) {
        println!(
            "| {} | {} | {:.1} | {:.3} | {:.2}x |",
            row.name,
            row.held,
            row.per_entry(),
            row.blocks as f64 / row.held as f64,
            row.per_entry() / lru.per_entry(),
        );
    }
}
