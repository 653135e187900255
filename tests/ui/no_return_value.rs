use memocache::cached;

#[cached]
fn warm_up(n: u64) {
    let _ = n;
}

fn main() {}
