use memocache::cached;

pub struct Pool;

#[cached(key = id)]
fn load(#[skip] pool: &Pool, id: u64) -> String {
    let _ = pool;
    id.to_string()
}

fn main() {}
