use memocache::cached;

#[cached(key_type = u64)]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
