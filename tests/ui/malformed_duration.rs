use memocache::cached;

#[cached(ttl = "10 mins and a bit")]
fn square(n: u64) -> u64 {
    n * n
}

#[cached(ttl = 10m)]
fn cube(n: u64) -> u64 {
    n * n * n
}

fn main() {}
