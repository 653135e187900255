use memocache::cached;

#[cached(size = 100)]
async fn fetch(id: u64) -> String {
    id.to_string()
}

fn main() {}
