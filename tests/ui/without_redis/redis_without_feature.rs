use memocache::async_cached;

#[async_cached(store = "redis", ttl = "10m", namespace = "shop:product")]
async fn product(id: u64) -> String {
    id.to_string()
}

fn main() {}
