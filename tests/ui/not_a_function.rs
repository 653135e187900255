use memocache::cached;

#[cached]
struct Config {
    size: usize,
}

fn main() {}
