//! The hit path: 1024 warm `u64` keys in caches of 4096, called in a random
//! order on 1 and 2 threads, memocache side by side with its peers.
//!
//! `cargo bench -p memocache-benches --bench hit_path -- --warm-up-time 1 --measurement-time 3`

mod peers;

use criterion::Criterion;

peers::memoized_peers!(4096);

/// The warm keys: `0..WARM_KEYS`.
const WARM_KEYS: u64 = 1024;
/// Each thread's precomputed random walk over the warm keys.
const STREAM_LEN: usize = 1 << 14;

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let warm: Vec<u64> = (0..WARM_KEYS).collect();
    for threads in [1, 2] {
        let keys: Vec<Vec<u64>> = (0..threads)
            .map(|t| peers::random_keys(t + 1, STREAM_LEN, WARM_KEYS))
            .collect();
        let group = format!("hit_path_{threads}t");
        peers::time_group(&mut criterion, &group, &keys, &warm, visit_peers);
    }
    criterion.final_summary();
}
