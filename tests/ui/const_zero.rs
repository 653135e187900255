use std::time::Duration;

use memocache::cached;

const CACHE_SIZE: usize = 0;

#[cached(size = CACHE_SIZE, ttl = Duration::ZERO)]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
