use memocache::cached;

/// Something the user already called `SQUARE`.
static SQUARE: u64 = 2;

#[cached]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
