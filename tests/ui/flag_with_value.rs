use memocache::cached;

#[cached(ttl = "1m", sliding = true)]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
