//! The main job: memoize a slow function in memory and watch the second call
//! return at once.
//!
//! Run with `cargo run --example quickstart`.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread::sleep;
use std::time::{Duration, Instant};

use memocache::cached;

/// How many times the body really ran.
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// How long one real computation takes.
const COST: Duration = Duration::from_millis(500);

/// Stands for an expensive computation (a query, a model, a remote call).
#[cached(size = 1000, ttl = "10m")]
fn slow_square(n: u64) -> u64 {
    RUNS.fetch_add(1, SeqCst);
    sleep(COST);
    n * n
}

/// Calls `slow_square(n)` and says what happened and what it saved.
fn timed(n: u64, why: &str) {
    let runs = RUNS.load(SeqCst);
    let start = Instant::now();
    let value = slow_square(n);
    let took = start.elapsed();
    let what = if RUNS.load(SeqCst) > runs {
        "computed (the body ran)".to_owned()
    } else {
        let saved = COST.saturating_sub(took).as_secs_f64() * 1000.0;
        format!("cache hit, saved {saved:.1} ms")
    };
    println!(
        "slow_square({n}) = {value:<4} in {:>9.3} ms  {what:<28} {why}",
        took.as_secs_f64() * 1000.0
    );
}

fn main() {
    timed(12, "first call of 12");
    timed(12, "same argument: answered from the cache");
    timed(12, "and again");
    timed(13, "another argument: its own entry");

    let stats = SLOW_SQUARE.stats();
    println!(
        "\nstats: {} hits, {} misses, {} entries of {} at most, hit ratio {:.2}\n",
        stats.hits,
        stats.misses,
        stats.len,
        stats
            .capacity
            .map_or("unbounded".to_string(), |c| c.to_string()),
        stats.hit_ratio()
    );

    SLOW_SQUARE.invalidate(&12);
    timed(12, "after SLOW_SQUARE.invalidate(&12): recomputed");
    timed(12, "cached again");
}
