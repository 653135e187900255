//! Two tiers across a fleet: a local LRU in front of Redis. Run it twice, side
//! by side, against the same Redis (`MEMOCACHE_REDIS_URL`, default
//! `redis://127.0.0.1:6379`):
//!
//! ```sh
//! cargo run -p memocache-examples --example tiered --features redis                    # terminal 1: reads price(1) twice a second
//! cargo run -p memocache-examples --example tiered --features redis -- update 1 2499   # terminal 2: changes it
//! ```
//!
//! The reader answers from its local tier in microseconds. When the other
//! process changes the price, it invalidates the cache entry; Redis tells
//! every process that tracks the namespace, the reader drops its local copy,
//! and its next read computes the new price.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use memocache::async_cached;
use memocache::redis::RedisSettings;
use redis::AsyncCommands;

/// Where the demo's "database" keeps prices: a Redis key outside the cache's namespace.
fn row(id: u64) -> String {
    format!("tiered-demo:db:price:{id}")
}

static COMPUTED: AtomicUsize = AtomicUsize::new(0);

/// A slow read from the database (200 ms), cached locally and in Redis.
#[async_cached(
    store = "redis",
    size = 1000,
    ttl = "10m",
    namespace = "tiered-demo:price"
)]
async fn price(id: u64) -> Result<u64, String> {
    COMPUTED.fetch_add(1, SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut db = database().await?;
    let cents: Option<u64> = db.get(row(id)).await.map_err(|e| e.to_string())?;
    Ok(cents.unwrap_or(1_000))
}

async fn database() -> Result<redis::aio::MultiplexedConnection, String> {
    let url = RedisSettings::from_env().url_str().to_owned();
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("no Redis answered: {e}"))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, id, cents] = args.as_slice() {
        if command == "update" {
            let id: u64 = id.parse().map_err(|_| "usage: update ID CENTS")?;
            let cents: u64 = cents.parse().map_err(|_| "usage: update ID CENTS")?;
            let mut db = database().await?;
            let () = db.set(row(id), cents).await.map_err(|e| e.to_string())?;
            PRICE.invalidate(&id).await;
            println!("price({id}) is now {cents}: the database first, then the cache entry went");
            return Ok(());
        }
    }
    database().await?;
    println!("reading price(1) twice a second; run `-- update 1 2499` in another terminal (Ctrl-C stops)");
    loop {
        let (computed, remote_hits) = (COMPUTED.load(SeqCst), redis_hits());
        let start = Instant::now();
        let cents = price(1).await?;
        let took = start.elapsed().as_secs_f64() * 1e3;
        let source = if COMPUTED.load(SeqCst) > computed {
            "computed"
        } else if redis_hits() > remote_hits {
            "from Redis"
        } else {
            "from the local tier"
        };
        println!("price(1) = {cents:>5}  {took:>8.3} ms  {source}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn redis_hits() -> u64 {
    PRICE.stats().remote.map_or(0, |remote| remote.hits)
}
