//! The async hit path: 1024 warm `u64` keys in caches of 4096, awaited in a
//! random order by 1 and 2 tasks of a multi-thread tokio runtime with 2
//! workers, memocache's `#[async_cached]` side by side with its async peers.
//!
//! `cargo bench -p memocache-benches --bench async_hit -- --warm-up-time 1 --measurement-time 3`

#[path = "peers/async_peers.rs"]
mod async_peers;
mod peers;

use criterion::Criterion;

/// The memoized body: the sync peers' cheap `body`, so the cache is what is measured.
async fn hit_body(n: u64) -> u64 {
    peers::body(n)
}

async_peers::async_memoized_peers!(4096, hit_body);

/// The warm keys: `0..WARM_KEYS`.
const WARM_KEYS: u64 = 1024;
/// Each task's precomputed random walk over the warm keys.
const STREAM_LEN: usize = 1 << 14;
/// Worker threads of the runtime, whatever the number of tasks.
const WORKERS: usize = 2;

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let runtime = async_peers::runtime(WORKERS);
    let warm: Vec<u64> = (0..WARM_KEYS).collect();
    for tasks in [1, 2] {
        let keys: Vec<Vec<u64>> = (0..tasks)
            .map(|t| peers::random_keys(t + 1, STREAM_LEN, WARM_KEYS))
            .collect();
        let group = format!("async_hit_{tasks}t");
        async_peers::time_async_group(
            &mut criterion,
            &runtime,
            &group,
            &keys,
            &warm,
            visit_async_peers,
        );
    }
    criterion.final_summary();
}
