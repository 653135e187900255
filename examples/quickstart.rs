//! The main job: memoize a slow function in memory and watch the second call
//! return at once.
//!
//! Run with `cargo run --example quickstart`.

use std::thread::sleep;
use std::time::{Duration, Instant};

use memocache::cached;

/// Stands for an expensive computation (a query, a model, a remote call).
#[cached(size = 1000, ttl = "10m")]
fn slow_square(n: u64) -> u64 {
    sleep(Duration::from_millis(500));
    n * n
}

fn timed(n: u64) {
    let start = Instant::now();
    let value = slow_square(n);
    println!(
        "slow_square({n}) = {value:<4} in {:>9.3} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
}

fn main() {
    timed(12); // cold: runs the body
    timed(12); // warm: answered from the cache (this thread's first hit sets up its table)
    timed(12); // warm again
    timed(13); // another argument: runs the body

    let stats = SLOW_SQUARE.stats();
    println!(
        "hits {} · misses {} · entries {}/{} · hit ratio {:.2}",
        stats.hits,
        stats.misses,
        stats.len,
        stats
            .capacity
            .map_or("unbounded".to_string(), |c| c.to_string()),
        stats.hit_ratio()
    );

    SLOW_SQUARE.invalidate(&12);
    timed(12); // invalidated: runs the body again
}
