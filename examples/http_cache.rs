//! Whole-response HTTP caching with `memocache::http::HttpCache`, on axum 0.8:
//!
//! - `GET /weather/{city}`: a slow upstream (about a second per call),
//!   cached for 5 minutes: the first request for a city waits, every later
//!   one is answered from the cache, with `ETag`, `Age`, `Cache-Control:
//!   max-age=<seconds left>` and `X-Cache: HIT`; a conditional request gets
//!   `304 Not Modified` without calling the upstream;
//! - a product API: `GET /products` and `GET /products/{id}` are cached for a
//!   minute; `PUT /products/{id}` writes and invalidates the product's path
//!   and the list, so the next read sees the write;
//! - `GET /stats`: what both caches did;
//! - `GET /metrics`: every cache's counters in the Prometheus text format
//!   (`memocache::metrics::export()` on a `metrics-exporter-prometheus`
//!   recorder, whose own HTTP listener is off);
//! - `GET /cache/stats`: `memocache::registry()` as JSON: every cache of the
//!   process, its settings and its stats.
//!
//! Run with `cargo run -p memocache-examples --example http_cache --features http,serde,metrics` (listens on
//! 127.0.0.1 at `PORT`, default 3001), then:
//!
//! ```text
//! curl -i localhost:3001/weather/paris        # ~1 s, X-Cache: MISS
//! curl -i localhost:3001/weather/paris        # at once, X-Cache: HIT, Age: 1...
//! curl -i localhost:3001/weather/paris -H 'If-None-Match: "<the etag>"'   # 304 Not Modified
//! curl -i localhost:3001/weather/paris -H 'Cache-Control: no-cache'       # asks the upstream again
//! curl -I localhost:3001/weather/paris        # HEAD, from the cached GET
//! curl -i localhost:3001/products/1           # X-Cache: MISS, then HIT
//! curl -i -X PUT localhost:3001/products/1 -H 'content-type: application/json' \
//!      -d '{"name":"Mug","price_cents":900}'
//! curl -i localhost:3001/products/1           # X-Cache: MISS: the write invalidated it
//! curl -s localhost:3001/stats
//! curl -s localhost:3001/metrics              # memocache_hits_total{namespace="example:weather"} 1 ...
//! curl -s localhost:3001/cache/stats          # [{"namespace":"example:weather","kind":"http",...}]
//! ```
//!
//! The router is built by [`app`], so that `tests/http_example.rs` drives it
//! without a socket.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use memocache::http::{HttpCache, HttpStats};
use memocache::CacheReport;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

/// How long the weather upstream takes to answer.
pub const UPSTREAM_LATENCY: Duration = Duration::from_secs(1);

/// How long a weather report is cached.
pub const WEATHER_TTL: Duration = Duration::from_secs(5 * 60);

/// How long a product read is cached.
pub const PRODUCT_TTL: Duration = Duration::from_secs(60);

/// A weather report, as the upstream sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Weather {
    pub city: String,
    pub temperature_c: i32,
    pub sky: String,
}

/// Stands for a remote weather service: slow, and counting its calls.
#[derive(Default)]
pub struct Upstream {
    calls: AtomicU64,
}

impl Upstream {
    /// The weather in `city`, after [`UPSTREAM_LATENCY`].
    pub async fn weather(&self, city: &str) -> Weather {
        self.calls.fetch_add(1, Relaxed);
        tokio::time::sleep(UPSTREAM_LATENCY).await;
        let temperature_c = city.bytes().map(i32::from).sum::<i32>() % 30;
        Weather {
            city: city.to_owned(),
            temperature_c,
            sky: if temperature_c > 15 {
                "clear"
            } else {
                "cloudy"
            }
            .to_owned(),
        }
    }

    /// Calls that reached the upstream so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Relaxed)
    }
}

/// A product of the product API.
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

/// What every handler gets: the upstream, the product table and the caches
/// (a write handler invalidates through its cache's handle).
#[derive(Clone)]
pub struct AppState {
    pub upstream: Arc<Upstream>,
    pub products: Arc<RwLock<BTreeMap<u64, Product>>>,
    pub weather_cache: HttpCache,
    pub product_cache: HttpCache,
    /// Renders what the process's Prometheus recorder holds.
    pub prometheus: PrometheusHandle,
}

/// The process's Prometheus recorder, installed on first use (a process
/// has one global recorder).
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

impl AppState {
    /// Empty caches, an upstream, and three products (ids 1 to 3).
    pub fn new() -> Self {
        let products = [
            (1, "Espresso cup", 1200),
            (2, "Milk jug", 2400),
            (3, "Tamper", 3900),
        ]
        .into_iter()
        .map(|(id, name, price_cents)| {
            let name = name.to_owned();
            (
                id,
                Product {
                    id,
                    name,
                    price_cents,
                },
            )
        })
        .collect();
        Self {
            upstream: Arc::default(),
            products: Arc::new(RwLock::new(products)),
            weather_cache: HttpCache::builder("example:weather")
                .ttl(WEATHER_TTL)
                .size(10_000)
                .build(),
            product_cache: HttpCache::builder("example:products")
                .ttl(PRODUCT_TTL)
                .build(),
            prometheus: prometheus(),
        }
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

/// `GET /weather/{city}`: the upstream's report, as JSON.
pub async fn weather(State(state): State<AppState>, Path(city): Path<String>) -> Json<Weather> {
    Json(state.upstream.weather(&city).await)
}

/// `GET /products`: every product.
pub async fn list_products(State(state): State<AppState>) -> Json<Vec<Product>> {
    Json(state.products.read().await.values().cloned().collect())
}

/// `GET /products/{id}`: one product, or 404 (not cached).
pub async fn get_product(State(state): State<AppState>, Path(id): Path<u64>) -> Response {
    match state.products.read().await.get(&id) {
        Some(product) => Json(product.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no product {id}")).into_response(),
    }
}

/// `PUT /products/{id}`: stores the product, then invalidates the cached
/// answers that showed the old one: its own path and the list.
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
    state.products.write().await.insert(id, product.clone());
    state
        .product_cache
        .invalidate_path(&format!("/products/{id}"))
        .await;
    state.product_cache.invalidate_path("/products").await;
    Json(product)
}

/// The body of `GET /stats`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatsBody {
    pub weather: CacheStats,
    pub products: CacheStats,
    pub upstream_calls: u64,
}

/// What one cache did.
#[derive(Debug, Serialize, Deserialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub not_modified: u64,
    pub bypasses: u64,
    pub uncacheable: u64,
    pub entries: usize,
}

impl From<HttpStats> for CacheStats {
    fn from(stats: HttpStats) -> Self {
        Self {
            hits: stats.hits,
            misses: stats.misses,
            not_modified: stats.not_modified,
            bypasses: stats.bypasses,
            uncacheable: stats.uncacheable,
            entries: stats.store.len,
        }
    }
}

/// `GET /stats`.
pub async fn stats(State(state): State<AppState>) -> Json<StatsBody> {
    Json(StatsBody {
        weather: state.weather_cache.stats().into(),
        products: state.product_cache.stats().into(),
        upstream_calls: state.upstream.calls(),
    })
}

/// `GET /metrics`: every cache's counters, read now, as Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    memocache::metrics::export();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.prometheus.render(),
    )
}

/// `GET /cache/stats`: every cache of the process, as JSON.
pub async fn cache_stats() -> Json<Vec<CacheReport>> {
    Json(memocache::registry())
}

/// The service: each cache layered on the routes it caches (`route_layer`
/// wraps the `GET` handlers only; `PUT` passes by).
pub fn app(state: AppState) -> Router {
    let weather_cache = state.weather_cache.clone();
    let product_cache = state.product_cache.clone();
    Router::new()
        .route("/weather/{city}", get(weather).route_layer(weather_cache))
        .route(
            "/products",
            get(list_products).route_layer(product_cache.clone()),
        )
        .route(
            "/products/{id}",
            get(get_product).route_layer(product_cache).put(put_product),
        )
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/cache/stats", get(cache_stats))
        .with_state(state)
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(3001);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|error| panic!("cannot listen on 127.0.0.1:{port}: {error}"));
    println!("http_cache listening on http://127.0.0.1:{port}");
    println!("  curl -i localhost:{port}/weather/paris   (twice: MISS, then HIT)");
    println!("  curl -i localhost:{port}/products/1");
    println!("  curl -s localhost:{port}/stats");
    println!("  curl -s localhost:{port}/metrics");
    println!("  curl -s localhost:{port}/cache/stats");
    axum::serve(listener, app(AppState::new()))
        .await
        .expect("server error");
}
