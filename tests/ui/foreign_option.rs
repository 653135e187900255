use memocache::cached;

// Options of the `cached` crate get told how memocache spells them.
#[cached(max_size = 100, time = 60)]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
