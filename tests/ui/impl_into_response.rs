use axum::response::IntoResponse;
use memocache::async_cached;

#[async_cached]
async fn product(id: u64) -> impl IntoResponse {
    format!("product {id}")
}

fn main() {}
