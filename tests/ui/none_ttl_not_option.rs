use memocache::cached;

#[cached(none_ttl = "30s")]
fn square(n: u64) -> u64 {
    n * n
}

#[cached(skip_none)]
fn cube(n: u64) -> Result<u64, String> {
    Ok(n * n * n)
}

fn main() {}
