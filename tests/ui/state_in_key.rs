use axum::extract::{Path, State};
use memocache::async_cached;

#[derive(Clone)]
struct Db;

#[async_cached]
async fn product(State(db): State<Db>, Path(id): Path<u64>) -> String {
    let _ = db;
    format!("product {id}")
}

fn main() {}
