use memocache::cached;

#[cached]
fn count(items: impl Iterator<Item = u64>, limit: usize) -> usize {
    items.take(limit).count()
}

fn main() {}
