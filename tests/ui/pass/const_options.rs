#![deny(warnings)]
//! `size`, `version` and the durations from const expressions.
use std::time::Duration;

use memocache::{async_cached, cached};

const CACHE_SIZE: usize = 500;
const CACHE_TTL: Duration = Duration::from_secs(60);

mod settings {
    pub const NONE_TTL: std::time::Duration = std::time::Duration::from_millis(1500);
    pub const VERSION: u64 = 3;
}

#[cached(size = CACHE_SIZE, ttl = CACHE_TTL, none_ttl = settings::NONE_TTL, version = settings::VERSION)]
fn lookup(id: u64) -> Option<u64> {
    Some(id)
}

#[cached(size = CACHE_SIZE * 2, ttl = Duration::from_secs(5 * 60))]
fn doubled(n: u64) -> u64 {
    n * 2
}

#[async_cached(ttl = CACHE_TTL, refresh_ahead = Duration::from_secs(10))]
async fn fetch(id: u64) -> u64 {
    id
}

struct Catalog;

impl Catalog {
    #[cached(key = id, size = CACHE_SIZE, ttl = CACHE_TTL)]
    fn price(&self, id: u64) -> u64 {
        id
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(lookup(1), Some(1));
    assert_eq!(LOOKUP.stats().capacity, Some(500));
    assert_eq!(doubled(2), 4);
    assert_eq!(DOUBLED.stats().capacity, Some(1000));
    assert_eq!(fetch(7).await, 7);
    assert_eq!(Catalog.price(3), 3);
    assert_eq!(Catalog::price_cache().stats().capacity, Some(500));
}
