use memocache::cached;

#[cached(key = (user, page))]
fn page_of(user_id: u64, page: u32, per_page: u32) -> Vec<u64> {
    let _ = per_page;
    vec![user_id, u64::from(page)]
}

fn main() {}
