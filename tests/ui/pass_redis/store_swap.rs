//! The pattern a user crate follows to keep its caches in Redis under one of
//! its own features and in memory without it: two `cfg_attr`s, and nothing
//! else changes (the handle has the same type and methods either way).

use memocache::async_cached;

#[cfg_attr(feature = "redis", async_cached(store = "redis", ttl = "10m", namespace = "shop:product"))]
#[cfg_attr(not(feature = "redis"), async_cached(size = 1000, ttl = "10m", namespace = "shop:product"))]
async fn product(id: u64) -> Result<String, std::io::Error> {
    Ok(format!("product {id}"))
}

fn main() {
    let _: &memocache::AsyncCache<u64, String> = &PRODUCT;
    let _ = product(1);
}
