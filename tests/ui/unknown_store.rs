use memocache::cached;

#[cached(store = "memroy")]
fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
