use memocache::cached;

#[cached(store = "redis", codec = "json", ttl = "10m")]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
