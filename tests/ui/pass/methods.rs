//! Methods keep their cache in a generated associated function.
#![deny(warnings, missing_docs)]

use memocache::{async_cached, cached};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// A catalog.
pub struct Catalog {
    /// Its id, part of the key.
    pub shop: u64,
    /// A multiplier.
    pub markup: u64,
}

impl Catalog {
    /// Keyed on the argument only.
    #[cached(size = 100, key = id)]
    pub fn price(&self, id: u64) -> u64 {
        RUNS.fetch_add(1, SeqCst);
        id * self.markup
    }

    /// Keyed on a field of `self` and an argument.
    #[cached(key = (self.shop, id), key_type = (u64, u64), name = shop_prices)]
    pub fn shop_price(&self, id: u64) -> u64 {
        RUNS.fetch_add(1, SeqCst);
        self.shop * 1000 + id
    }

    /// Async method.
    #[async_cached(key = id, ttl = "1m")]
    pub async fn stock(&self, id: u64) -> Result<u64, String> {
        RUNS.fetch_add(1, SeqCst);
        Ok(id + self.shop)
    }
}

/// Generic impl: the cache does not depend on `T`.
pub struct Repo<T>(pub T);

impl<T: Sync> Repo<T> {
    /// Cached regardless of `T`.
    #[cached(key = id)]
    pub fn name(&self, id: u32) -> String {
        RUNS.fetch_add(1, SeqCst);
        id.to_string()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let catalog = Catalog { shop: 7, markup: 3 };
    assert_eq!(catalog.price(2), 6);
    assert_eq!(catalog.price(2), 6);
    assert_eq!(RUNS.load(SeqCst), 1);
    assert_eq!(Catalog::price_cache().get(&2), Some(6));
    assert!(Catalog::price_cache().invalidate(&2));

    assert_eq!(catalog.shop_price(1), 7001);
    assert_eq!(Catalog::shop_prices().get(&(7, 1)), Some(7001));

    assert_eq!(catalog.stock(1).await, Ok(8));
    assert_eq!(catalog.stock(1).await, Ok(8));
    assert_eq!(Catalog::stock_cache().stats().hits, 1);

    let repo = Repo(1u8);
    assert_eq!(repo.name(4), "4");
    assert_eq!(Repo::<u8>::name_cache().len(), 1);
}
