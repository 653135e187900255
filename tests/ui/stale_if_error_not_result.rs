use memocache::cached;

#[cached(ttl = "1m", stale_if_error)]
fn lookup(id: u64) -> Option<String> {
    Some(id.to_string())
}

fn main() {}
