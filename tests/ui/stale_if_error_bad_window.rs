use memocache::{async_cached, cached};

#[cached(ttl = "1m", stale_if_error = "soon")]
fn quote(id: u64) -> Result<u64, String> {
    Ok(id)
}

#[async_cached(ttl = "1m", stale_if_error = "0s")]
async fn price(id: u64) -> Result<u64, String> {
    Ok(id)
}

fn main() {}
