//! `#[async_cached]`: axum extractors, `?` in the body, `refresh_ahead`.
#![deny(warnings, missing_docs)]

use axum::extract::{Path, State};
use axum::Json;
use memocache::async_cached;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Shared state.
#[derive(Clone)]
pub struct Db {
    /// Pretend data.
    pub base: u64,
}

/// A product.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    /// Its id.
    pub id: u64,
}

/// An error.
#[derive(Debug, PartialEq)]
pub struct AppError(pub String);

impl From<std::num::TryFromIntError> for AppError {
    fn from(e: std::num::TryFromIntError) -> Self {
        AppError(e.to_string())
    }
}

/// The handler of the design doc.
#[async_cached(size = 10_000, ttl = "60s", key = id)]
pub async fn get_product(
    State(db): State<Db>,
    Path(id): Path<u64>,
) -> Result<Json<Product>, AppError> {
    RUNS.fetch_add(1, SeqCst);
    let small: u32 = u32::try_from(id)?;
    Ok(Json(Product {
        id: db.base + u64::from(small),
    }))
}

/// `#[skip]` instead of `key`; a `&str` argument.
#[async_cached(size = 100)]
pub async fn greet(#[skip] db: &Db, name: &str) -> String {
    RUNS.fetch_add(1, SeqCst);
    format!("{}{name}", db.base)
}

/// `refresh_ahead`: owned arguments, patterns included.
#[async_cached(ttl = "10m", refresh_ahead = "30s", key = id)]
pub async fn refreshed(
    State(db): State<Arc<Db>>,
    Path(id): Path<u64>,
    (mut a, b): (u64, String),
) -> Option<u64> {
    RUNS.fetch_add(1, SeqCst);
    a += 1;
    Some(db.base + id + a + b.len() as u64)
}

/// No arguments.
#[async_cached(ttl = "1m", refresh_ahead = "10s")]
pub async fn settings() -> Arc<String> {
    RUNS.fetch_add(1, SeqCst);
    Arc::new("on".to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let db = Db { base: 100 };
    let first = get_product(State(db.clone()), Path(1)).await;
    assert_eq!(first.map(|Json(p)| p), Ok(Product { id: 101 }));
    let again = get_product(State(Db { base: 0 }), Path(1)).await;
    assert_eq!(again.map(|Json(p)| p), Ok(Product { id: 101 }));
    assert_eq!(RUNS.load(SeqCst), 1);
    assert!(get_product(State(db.clone()), Path(u64::MAX))
        .await
        .is_err());
    assert!(GET_PRODUCT.invalidate(&1).await);

    assert_eq!(greet(&db, "ann").await, "100ann");
    assert_eq!(greet(&Db { base: 0 }, "ann").await, "100ann");
    assert_eq!(GREET.get("ann").await.as_deref(), Some("100ann"));

    let shared = Arc::new(db);
    let value = refreshed(State(shared.clone()), Path(1), (1, "xy".into())).await;
    assert_eq!(value, Some(100 + 1 + 2 + 2));
    assert_eq!(
        refreshed(State(shared), Path(1), (5, String::new())).await,
        value
    );

    assert_eq!(*settings().await, "on");
    assert_eq!(SETTINGS.len(), 1);
}
