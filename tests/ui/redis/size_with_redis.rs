use memocache::async_cached;

#[async_cached(store = "redis", size = 1000, ttl = "10m")]
async fn product(id: u64) -> String {
    id.to_string()
}

fn main() {}
