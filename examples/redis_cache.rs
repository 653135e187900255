//! Cache-aside in Redis with one attribute: a product API in front of a slow
//! "database", shared by every process that runs it, with the cache entry
//! dropped when a product changes.
//!
//! Run with a Redis server at `MEMOCACHE_REDIS_URL` (default
//! `redis://127.0.0.1:6379`):
//!
//! ```sh
//! cargo run -p memocache-examples --example redis_cache --features redis
//! ```
//!
//! Run it twice: the second run reads what the first one wrote. Without a
//! Redis server it still runs (every call computes) and says what to do.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use memocache::async_cached;
use serde::{Deserialize, Serialize};

/// What the API serves, stored in Redis as bincode inside memocache's envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Product {
    id: u64,
    name: String,
    price_cents: u64,
}

/// Why a product could not be loaded (never cached).
#[derive(Debug)]
struct NotFound(u64);

/// Stands for a slow database: every read takes 200 ms and is counted.
struct Database {
    rows: Mutex<HashMap<u64, Product>>,
    reads: AtomicUsize,
}

impl Database {
    async fn load(&self, id: u64) -> Result<Product, NotFound> {
        self.reads.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rows = self.rows.lock().unwrap();
        rows.get(&id).cloned().ok_or(NotFound(id))
    }

    fn set_price(&self, id: u64, price_cents: u64) {
        if let Some(product) = self.rows.lock().unwrap().get_mut(&id) {
            product.price_cents = price_cents;
        }
    }
}

static DB: std::sync::LazyLock<Database> = std::sync::LazyLock::new(|| Database {
    rows: Mutex::new(
        [(1, "kettle", 2_999), (2, "teapot", 1_850), (3, "mug", 650)]
            .into_iter()
            .map(|(id, name, price_cents)| {
                let product = Product {
                    id,
                    name: name.to_owned(),
                    price_cents,
                };
                (id, product)
            })
            .collect(),
    ),
    reads: AtomicUsize::new(0),
});

/// One attribute instead of `redis.get` / `redis.set(..., ex=600)` by hand:
/// the key is `shop:product:{id}`, readable by code in any language.
#[async_cached(store = "redis", ttl = "10m", namespace = "shop:product")]
async fn product(id: u64) -> Result<Product, NotFound> {
    DB.load(id).await
}

/// A write: the database first, then the cache entry goes (cache-aside).
async fn update_price(id: u64, price_cents: u64) {
    DB.set_price(id, price_cents);
    PRODUCT.invalidate(&id).await;
}

async fn timed(id: u64) {
    let reads = DB.reads.load(SeqCst);
    let start = Instant::now();
    let answer = product(id).await;
    let took = start.elapsed().as_secs_f64() * 1000.0;
    let source = if DB.reads.load(SeqCst) > reads {
        "computed (database read)"
    } else {
        "from Redis"
    };
    match answer {
        Ok(p) => println!(
            "product({id}) = {:<7} {:>6} cents  {took:>7.2} ms  {source}",
            p.name, p.price_cents
        ),
        Err(NotFound(id)) => {
            println!("product({id}) = not found  {took:>7.2} ms  (errors are never cached)")
        }
    }
}

#[tokio::main]
async fn main() {
    let url = memocache::redis::RedisSettings::from_env()
        .url_str()
        .to_owned();
    println!("Redis: {url} (set MEMOCACHE_REDIS_URL to use another)\n");

    for id in [1, 2, 1, 2, 3, 3, 404] {
        timed(id).await;
    }
    for id in [1, 2, 3] {
        if let Some(key) = PRODUCT.remote_key(&id) {
            println!("product({id}) is cached under the Redis key {key}");
        }
    }

    println!("\nupdate_price(1, 2_499): the database changes, then the entry is dropped");
    update_price(1, 2_499).await;
    timed(1).await;
    timed(1).await;

    let stats = PRODUCT.stats();
    let remote = stats.remote.unwrap_or_default();
    println!(
        "\nhits {} · misses {} · Redis hits {} · Redis errors {} · timeouts {} · skipped {}",
        stats.hits, stats.misses, remote.hits, remote.errors, remote.timeouts, remote.skipped
    );
    if remote.errors + remote.timeouts + remote.skipped > 0 {
        println!(
            "\nNo Redis answered at {url}: every call was computed, and nothing failed.\n\
             Start one with `redis-server --port 6379 --save ''`, or point MEMOCACHE_REDIS_URL at yours\n\
             (redis://user:password@host:port/db, rediss://... with the redis-tls feature)."
        );
    }
}
