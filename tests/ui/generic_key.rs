use memocache::cached;
use std::hash::Hash;

#[cached]
fn describe<T: Hash + Eq + Clone + Send + std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

fn main() {}
