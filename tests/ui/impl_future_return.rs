use memocache::cached;
use std::future::Future;

#[cached]
fn fetch(id: u64) -> impl Future<Output = String> {
    async move { id.to_string() }
}

fn main() {}
