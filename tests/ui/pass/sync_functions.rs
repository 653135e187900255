//! `#[cached]` on free functions: every option, keys from patterns, `#[skip]`,
//! and the handle static.
#![deny(warnings, missing_docs)]

use memocache::cached;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn run() {
    RUNS.fetch_add(1, SeqCst);
}

/// Squares, once per `n`.
#[cached(size = 1_000, ttl = "1h30m", sliding)]
pub fn square(n: u64) -> u64 {
    run();
    n * n
}

/// No argument: one cached value ("once").
#[cached(ttl = 3600)]
pub fn config() -> String {
    run();
    "loaded".to_string()
}

/// `&str` keys are stored as `String`, `&[u8]` as `Vec<u8>`.
#[cached(unbounded, name = LENGTHS)]
pub fn total_len(name: &str, bytes: &[u8]) -> usize {
    run();
    name.len() + bytes.len()
}

/// Patterns: each binding is a key component.
#[cached(single_flight = false, version = 2, namespace = "geometry:area")]
pub fn area((width, height): (u32, u32), &scale: &u32) -> u32 {
    run();
    width * height * scale
}

/// A connection-like argument left out of the key.
pub struct Pool {
    /// Pretend state.
    pub base: u64,
}

/// Only `id` is part of the key.
#[cached(size = 10)]
pub fn load(#[skip] pool: &Pool, id: u64) -> u64 {
    run();
    pool.base + id
}

/// A user.
#[derive(Clone)]
pub struct User {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
}

/// A key that is not only argument names needs `key_type`.
#[cached(key = (user.id, page), key_type = (u64, u32))]
pub fn feed(user: &User, page: u32) -> String {
    run();
    format!("{}:{page}", user.name)
}

/// `key` naming a subset of the arguments: the rest is not in the key.
#[cached(key = id)]
pub fn render(id: u64, verbose: bool) -> String {
    run();
    format!("{id}{verbose}")
}

fn ttl_of(value: &Option<u64>) -> Option<Duration> {
    value.map(|v| Duration::from_secs(v + 1))
}

/// `Option` returns: negative caching.
#[cached(none_ttl = "30s", ttl_fn = ttl_of)]
pub fn find(id: u64) -> Option<u64> {
    run();
    (id & 1 == 0).then_some(id)
}

/// `skip_none` keeps `None` out.
#[cached(skip_none)]
pub fn find_strict(id: u64) -> Option<u64> {
    run();
    (id & 1 == 0).then_some(id)
}

/// `Result` returns: only `Ok` is cached; `Result<Option<T>, E>` gets
/// `none_ttl` too.
#[cached(ttl = "1m", stale_if_error, none_ttl = "5s")]
pub fn fetch(id: u64) -> Result<Option<u64>, String> {
    run();
    if id == 0 {
        Err("zero".into())
    } else {
        Ok(Some(id))
    }
}

/// Generic functions are fine when the key and value are not generic.
#[cached]
pub fn label<T: std::fmt::Display>(#[skip] prefix: T, id: u64) -> String {
    run();
    format!("{prefix}{id}")
}

/// `unsafe` is kept.
///
/// # Safety
/// None needed.
#[cached]
pub unsafe fn raw(n: u64) -> u64 {
    run();
    n
}

/// `crate = ...` for re-exports; `mut` arguments; `return` and `?` in the body.
#[cached(crate = ::memocache)]
pub fn parse(mut text: String) -> Result<u64, std::num::ParseIntError> {
    run();
    text.retain(|c| c != '_');
    if text.is_empty() {
        return Ok(0);
    }
    let n: u64 = text.parse()?;
    Ok(n)
}

/// Recursion through the cache.
#[cached]
pub fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn runs<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = RUNS.load(SeqCst);
    let value = f();
    (value, RUNS.load(SeqCst) - before)
}

fn main() {
    assert_eq!(runs(|| square(7)), (49, 1));
    assert_eq!(runs(|| square(7)), (49, 0));
    assert!(SQUARE.invalidate(&7));
    assert_eq!(runs(|| square(7)), (49, 1));
    assert_eq!(SQUARE.stats().hits, 1);

    assert_eq!(runs(config), ("loaded".to_string(), 1));
    assert_eq!(runs(config), ("loaded".to_string(), 0));
    assert_eq!(CONFIG.get(&()), Some("loaded".to_string()));

    assert_eq!(runs(|| total_len("ab", b"cde")), (5, 1));
    assert_eq!(runs(|| total_len(&String::from("ab"), &b"cde"[..])), (5, 0));
    assert_eq!(
        LENGTHS.get(&("ab".to_string(), vec![b'c', b'd', b'e'])),
        Some(5)
    );

    assert_eq!(runs(|| area((2, 3), &4)), (24, 1));
    assert_eq!(runs(|| area((2, 3), &4)), (24, 0));
    assert_eq!(AREA.get(&(2, 3, 4)), Some(24));
    assert_eq!(AREA.namespace(), "geometry:area");

    let pool = Pool { base: 100 };
    assert_eq!(runs(|| load(&pool, 1)), (101, 1));
    assert_eq!(runs(|| load(&Pool { base: 0 }, 1)), (101, 0));
    assert_eq!(LOAD.get(&1), Some(101));

    let ann = User {
        id: 1,
        name: "ann".into(),
    };
    assert_eq!(runs(|| feed(&ann, 2)), ("ann:2".to_string(), 1));
    let renamed = User {
        name: "anne".into(),
        ..ann
    };
    assert_eq!(runs(|| feed(&renamed, 2)), ("ann:2".to_string(), 0));
    assert!(FEED.invalidate(&(1, 2)));

    assert_eq!(runs(|| render(1, true)), ("1true".to_string(), 1));
    assert_eq!(runs(|| render(1, false)), ("1true".to_string(), 0));

    assert_eq!(runs(|| find(3)), (None, 1));
    assert_eq!(runs(|| find(3)), (None, 0));
    assert_eq!(runs(|| find_strict(3)), (None, 1));
    assert_eq!(runs(|| find_strict(3)), (None, 1));

    assert_eq!(runs(|| fetch(0)), (Err("zero".to_string()), 1));
    assert_eq!(runs(|| fetch(0)), (Err("zero".to_string()), 1));
    assert_eq!(runs(|| fetch(5)), (Ok(Some(5)), 1));
    assert_eq!(runs(|| fetch(5)), (Ok(Some(5)), 0));

    assert_eq!(runs(|| label("a", 1)), ("a1".to_string(), 1));
    assert_eq!(runs(|| label(9, 1)), ("a1".to_string(), 0));

    assert_eq!(runs(|| unsafe { raw(3) }), (3, 1));
    assert_eq!(runs(|| parse("1_000".into())), (Ok(1000), 1));
    assert_eq!(runs(|| parse(String::new())), (Ok(0), 1));
    assert!(parse("x".into()).is_err());

    assert_eq!(fib(90), 2_880_067_194_370_816_120);
}
