use memocache::cached;

#[derive(Clone)]
struct Pool;

#[cached]
fn user_count(pool: &Pool, team: u64) -> u64 {
    let _ = pool;
    team
}

fn main() {}
