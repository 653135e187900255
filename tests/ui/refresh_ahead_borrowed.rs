use memocache::async_cached;

pub struct Db;

#[async_cached(ttl = "1m", refresh_ahead = "30s", key = id)]
async fn product(db: &Db, id: u64) -> String {
    let _ = db;
    id.to_string()
}

fn main() {}
