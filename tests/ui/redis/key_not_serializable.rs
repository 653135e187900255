use memocache::cached;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Sku(u64);

#[cached(store = "redis", ttl = "10m")]
fn price(sku: Sku) -> u64 {
    sku.0
}

fn main() {}
