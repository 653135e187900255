use memocache::cached;

#[cached]
fn parse<T: std::str::FromStr + Clone + Send>(text: &str) -> Option<T> {
    text.parse().ok()
}

fn main() {}
