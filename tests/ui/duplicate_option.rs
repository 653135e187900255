use memocache::cached;

#[cached(size = 100, ttl = "10m", size = 200)]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
