use memocache::cached;

#[cached(none_ttl = "30s", skip_none)]
fn find(id: u64) -> Option<String> {
    Some(id.to_string())
}

fn main() {}
