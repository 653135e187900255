//! `returns = "..."`: the `Ok` type of an alias that the type checker cannot
//! look at, and caching every return value, errors included.
#![deny(warnings, missing_docs)]

use memocache::{async_cached, cached};

/// A `Result` by another name, with the error type left open.
pub type AppResult<T, E> = Result<T, E>;

/// An alias the type checker sees through: `returns` is redundant there, and
/// checked.
pub type Answer = Result<u64, String>;

/// The error type is the caller's: only `Ok` values are cached.
#[cached(returns = "result")]
pub fn parse<E: From<std::num::ParseIntError>>(text: String) -> AppResult<u64, E> {
    Ok(text.parse::<u64>()?)
}

/// The same in async.
#[async_cached(returns = "result", stale_if_error, ttl = "1m")]
pub async fn fetch<E>(id: u64) -> AppResult<u64, E> {
    Ok(id)
}

/// Redundant, but allowed.
#[cached(returns = "result")]
pub fn answer(n: u64) -> Answer {
    Ok(n)
}

/// Errors are cached too.
#[cached(returns = "plain")]
pub fn remembered(n: u64) -> Answer {
    Err(n.to_string())
}

fn main() {
    let parsed: Result<u64, std::num::ParseIntError> = parse("7".to_string());
    assert_eq!(parsed, Ok(7));
    assert_eq!(PARSE.get("7"), Some(7));
    let fetched = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(fetch::<()>(3));
    assert_eq!(fetched, Ok(3));
    assert_eq!(answer(1), Ok(1));
    assert_eq!(ANSWER.get(&1), Some(1));
    assert_eq!(remembered(2), Err("2".to_string()));
    assert_eq!(REMEMBERED.get(&2), Some(Err("2".to_string())));
}

