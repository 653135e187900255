use memocache::async_cached;

#[async_cached(size = 100)]
fn fetch(id: u64) -> String {
    id.to_string()
}

fn main() {}
