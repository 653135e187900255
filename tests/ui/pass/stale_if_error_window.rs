//! `stale_if_error` alone or with a retry window, on both attributes.
use memocache::{async_cached, cached};

#[cached(ttl = "1m", stale_if_error = "30s")]
fn quote(id: u64) -> Result<u64, String> {
    Ok(id)
}

#[async_cached(ttl = "1m", stale_if_error = "1m 30s")]
async fn price(id: u64) -> Result<u64, String> {
    Ok(id)
}

#[cached(ttl = "1m", stale_if_error)]
fn rate(id: u64) -> Result<u64, String> {
    Ok(id)
}

fn main() {
    assert_eq!(quote(1), Ok(1));
    assert_eq!(rate(2), Ok(2));
    let _ = price(3);
}
