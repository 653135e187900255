//! Churn: 100,000 distinct keys streamed through caches of 1000, so every call
//! is a miss, an insert and an eviction; 1 and 2 threads (each thread streams
//! its own half of the keys, so no call hits), memocache side by side with its peers.
//!
//! `cargo bench -p memocache-benches --bench churn -- --warm-up-time 1 --measurement-time 3`

mod peers;

use criterion::Criterion;

peers::memoized_peers!(1000);

const DISTINCT_KEYS: u64 = 100_000;

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    for threads in [1, 2] {
        let keys: Vec<Vec<u64>> = (0..threads)
            .map(|t| {
                let mut mine: Vec<u64> = (t..DISTINCT_KEYS).step_by(threads as usize).collect();
                peers::Rng(t + 1).shuffle(&mut mine);
                mine
            })
            .collect();
        let group = format!("churn_{threads}t");
        peers::time_group(&mut criterion, &group, &keys, &[], visit_peers);
    }
    let stats = MEMOCACHE.stats();
    if stats.hits + stats.misses > 0 {
        println!(
            "\nmemocache during churn: {stats:?} (hit ratio {:.5})",
            stats.hit_ratio()
        );
    }
    criterion.final_summary();
}
