//! Hit ratio on a skewed key stream: memocache's `MemoryStore` (sharded LRUs,
//! per-thread front tables, recency sampled from front hits) against one exact
//! `lru::LruCache` of the same size, on 1 and 2 threads.
//!
//! `cargo bench -p memocache-benches --bench zipf`

mod peers;

use std::num::NonZeroUsize;

use memocache_runtime::{Config, Lookup, MemoryStore};
use parking_lot::Mutex;
use peers::{body, Rng};

const KEYS: usize = 100_000;
const CAPACITY: usize = 4096;
const REQUESTS: usize = 1_000_000;
/// Requests before these, on each thread, fill the cache and are not counted.
const WARM_UP: usize = 100_000;

/// `len` ranks drawn from Zipf(`s`) over `1..=KEYS` (inverse CDF), as keys `0..KEYS`.
fn zipf_stream(s: f64, len: usize, seed: u64) -> Vec<u64> {
    let mut cdf: Vec<f64> = (1..=KEYS).map(|rank| (rank as f64).powf(-s)).collect();
    let mut sum = 0.0;
    for weight in &mut cdf {
        sum += *weight;
        *weight = sum;
    }
    let mut rng = Rng(seed);
    (0..len)
        .map(|_| {
            let u = rng.unit() * sum;
            cdf.partition_point(|&c| c < u).min(KEYS - 1) as u64
        })
        .collect()
}

/// The share of counted requests for which `access` reports a hit, with
/// `streams.len()` threads each running its own stream at the same time.
fn hit_ratio(streams: &[Vec<u64>], access: impl Fn(u64) -> bool + Sync) -> f64 {
    let per_thread: Vec<(usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = streams
            .iter()
            .map(|stream| {
                let access = &access;
                s.spawn(move || {
                    stream
                        .iter()
                        .enumerate()
                        .fold((0, 0), |(hits, counted), (i, &key)| {
                            let hit = access(key);
                            if i < WARM_UP / streams.len() {
                                (hits, counted)
                            } else {
                                (hits + usize::from(hit), counted + 1)
                            }
                        })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("zipf thread panicked"))
            .collect()
    });
    let hits: usize = per_thread.iter().map(|p| p.0).sum();
    let counted: usize = per_thread.iter().map(|p| p.1).sum();
    hits as f64 / counted as f64
}

fn main() {
    println!("\nzipf: {REQUESTS} requests over {KEYS} keys, cache of {CAPACITY}, first {WARM_UP} not counted\n");
    println!("| s | threads | memocache hit ratio | exact lru hit ratio | difference |");
    println!("|---|---:|---:|---:|---:|");
    for s in [0.9, 1.0] {
        for threads in [1, 2] {
            let per_thread = (WARM_UP + REQUESTS) / threads;
            let streams: Vec<Vec<u64>> = (0..threads as u64)
                .map(|t| zipf_stream(s, per_thread, t + 1))
                .collect();

            let store = MemoryStore::new(Config::new("bench::zipf").size(CAPACITY));
            let memocache = hit_ratio(&streams, |key| match store.lookup(&key) {
                Lookup::Hit(_) => true,
                _ => {
                    store.insert(key, body(key));
                    false
                }
            });

            let exact = Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(CAPACITY).expect("nonzero"),
            ));
            let lru = hit_ratio(&streams, |key| {
                let mut exact = exact.lock();
                if exact.get(&key).is_some() {
                    return true;
                }
                exact.put(key, body(key));
                false
            });

            println!(
                "| {s:.1} | {threads} | {:.2}% | {:.2}% | {:+.2} pp |",
                memocache * 100.0,
                lru * 100.0,
                (memocache - lru) * 100.0
            );
        }
    }
}
