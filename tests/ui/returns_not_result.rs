use memocache::cached;

type Maybe = Option<u64>;

// The type checker can look at `Maybe`, and finds no `Result`.
#[cached(returns = "result")]
fn find(id: u64) -> Maybe {
    Some(id)
}

fn main() {}
