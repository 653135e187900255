use memocache::cached;

#[cached(ttl = "1m", refresh_ahead = "30s")]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
