use memocache::cached;

#[cached(size = 100, unbounded)]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
