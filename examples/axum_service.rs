//! A small product API on axum 0.8 whose read handler is memoized with
//! `#[async_cached]`: repeated reads of a product skip the (slow) database,
//! a write invalidates the product's entry, and `/stats` shows the cache at work.
//!
//! Run with `cargo run -p memocache-examples --example axum_service`, then:
//!
//! ```text
//! curl -i localhost:3000/products/1        # ~200 ms: read from the database
//! curl -i localhost:3000/products/1        # at once: served from the cache
//! curl -i -X PUT localhost:3000/products/1 \
//!      -H 'content-type: application/json' -d '{"name":"Mug","price_cents":900}'
//! curl -i localhost:3000/products/1        # read again: the write invalidated it
//! curl -i localhost:3000/products/42       # 404, never cached
//! curl -s localhost:3000/stats
//! ```
//!
//! The router is built by [`app`], so that tests drive it without a socket
//! (`tests/axum_service.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use memocache::async_cached;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

/// How long the simulated database takes to answer a read.
pub const DB_LATENCY: Duration = Duration::from_millis(200);

/// A product as the API returns it. `Clone` because the cache hands out copies
/// of what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub price_cents: u64,
}

/// The body of `PUT /products/{id}`.
#[derive(Debug, Deserialize)]
pub struct ProductUpdate {
    pub name: String,
    pub price_cents: u64,
}

/// Stands for a database: a table behind a lock, slow reads, and a count of
/// the reads that reached it.
#[derive(Default)]
pub struct Db {
    products: RwLock<HashMap<u64, Product>>,
    reads: AtomicU64,
}

impl Db {
    /// Reads one product, taking [`DB_LATENCY`].
    pub async fn read(&self, id: u64) -> Option<Product> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(DB_LATENCY).await;
        self.products.read().await.get(&id).cloned()
    }

    /// Inserts or replaces a product.
    pub async fn write(&self, product: Product) {
        self.products.write().await.insert(product.id, product);
    }

    /// Reads that reached the database so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// The state every handler gets: cheap to clone (axum clones it per request).
#[derive(Clone, Default)]
pub struct AppState {
    pub db: Arc<Db>,
}

impl AppState {
    /// A database with three products, ids 1 to 3.
    pub async fn with_sample_data() -> Self {
        let state = Self::default();
        let samples = [
            (1, "Espresso cup", 1200),
            (2, "Milk jug", 2400),
            (3, "Tamper", 3900),
        ];
        for (id, name, price_cents) in samples {
            let name = name.to_string();
            state
                .db
                .write(Product {
                    id,
                    name,
                    price_cents,
                })
                .await;
        }
        state
    }
}

/// What a handler can fail with. Errors are never cached, so `AppError` need
/// not be `Clone`: only the `Ok` type of a cached handler must be.
#[derive(Debug)]
pub enum AppError {
    /// No product with this id: answered 404, and asked again next time.
    NotFound(u64),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound(id) => (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({ "error": format!("no product {id}") })),
            )
                .into_response(),
        }
    }
}

/// `GET /products/{id}`: the product, read from the database at most once per
/// minute (and once however many requests for it arrive together).
///
/// `#[async_cached]` works on the handler itself:
/// - the return type is `Result<Json<Product>, AppError>`: only `Ok` is cached,
///   so a 404 is not. What is cached must be `Clone`, as every hit returns a
///   clone: `Json<T>` is `Clone` when `T` is. For a large value, return
///   `Json<Arc<T>>` so that a hit clones a pointer (serializing an `Arc` needs
///   serde's `rc` feature);
/// - `key = id` makes the product id (bound inside `Path(id)`) the whole key:
///   the state is not part of it;
/// - the generated future is `Send`, as axum requires of a handler.
///
/// The cache is the static `GET_PRODUCT`: a write invalidates its entry with
/// `GET_PRODUCT.invalidate(&id).await`.
#[async_cached(size = 10_000, ttl = "60s", key = id)]
pub async fn get_product(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<Product>, AppError> {
    let product = state.db.read(id).await.ok_or(AppError::NotFound(id))?;
    Ok(Json(product))
}

/// `PUT /products/{id}`: stores the product, then drops its cache entry so the
/// next read sees the write. A read already running when the entry is dropped
/// does not store what it read.
pub async fn put_product(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    Json(update): Json<ProductUpdate>,
) -> Json<Product> {
    let product = Product {
        id,
        name: update.name,
        price_cents: update.price_cents,
    };
    state.db.write(product.clone()).await;
    GET_PRODUCT.invalidate(&id).await;
    Json(product)
}

/// The body of `GET /stats`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsBody {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub errors: u64,
    pub len: usize,
    pub capacity: Option<usize>,
    pub hit_ratio: f64,
    /// Reads that reached the database, for comparison.
    pub db_reads: u64,
}

/// `GET /stats`: the product cache's counters.
pub async fn stats(State(state): State<AppState>) -> Json<StatsBody> {
    let stats = GET_PRODUCT.stats();
    Json(StatsBody {
        hits: stats.hits,
        misses: stats.misses,
        evictions: stats.evictions,
        expirations: stats.expirations,
        errors: stats.errors,
        len: stats.len,
        capacity: stats.capacity,
        hit_ratio: stats.hit_ratio(),
        db_reads: state.db.reads(),
    })
}

/// The service's routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/products/{id}", get(get_product).put(put_product))
        .route("/stats", get(stats))
        .with_state(state)
}

#[tokio::main]
async fn main() {
    let address = "127.0.0.1:3000";
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {address}: {e}"));
    println!("product API on http://{address}; try:");
    println!("  curl -i {address}/products/1        # ~200 ms: read from the database");
    println!("  curl -i {address}/products/1        # at once: served from the cache");
    println!(
        "  curl -i -X PUT {address}/products/1 -H 'content-type: application/json' \
         -d '{{\"name\":\"Mug\",\"price_cents\":900}}'"
    );
    println!("  curl -i {address}/products/1        # read again: the write invalidated it");
    println!("  curl -i {address}/products/42       # 404, never cached");
    println!("  curl -s {address}/stats");
    axum::serve(listener, app(AppState::with_sample_data().await))
        .await
        .expect("server error");
}
