use memocache::cached;

type AppResult<T, E> = Result<T, E>;

// `AppResult<u64, E>` cannot be named next to the cache's static, and it is
// not spelled `Result`: it would be cached whole, `E` included.
#[cached]
fn load<E>(id: u64) -> AppResult<u64, E> {
    Ok(id)
}

fn main() {}
