use memocache::async_cached;

#[async_cached(refresh_ahead = "30s")]
async fn square(n: u64) -> u64 {
    n * n
}

fn main() {}
