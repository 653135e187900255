use memocache::cached;

const CACHE_SIZE: u64 = 500;
const CACHE_TTL: u64 = 60;

#[cached(size = CACHE_SIZE, ttl = CACHE_TTL)]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
