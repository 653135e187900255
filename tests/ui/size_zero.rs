use memocache::cached;

#[cached(size = 0)]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
