//! Return shapes, expiry and the handle of `#[cached]` functions.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use memocache::{cached, Clock};

static USER_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cached(none_ttl = "30s", ttl = "10m")]
fn user(id: u64) -> Option<String> {
    USER_LOADS.fetch_add(1, SeqCst);
    (id < 100).then(|| format!("user{id}"))
}

#[test]
fn option_caches_none_with_its_own_ttl() {
    let (clock, time) = Clock::mock();
    assert!(USER.use_clock(clock));
    assert_eq!(user(500), None);
    assert_eq!(user(500), None, "a missing id is cached too");
    assert_eq!(user(1).as_deref(), Some("user1"));
    assert_eq!(USER_LOADS.load(SeqCst), 2);

    time.advance(Duration::from_secs(31));
    assert_eq!(user(500), None);
    assert_eq!(user(1).as_deref(), Some("user1"));
    assert_eq!(
        USER_LOADS.load(SeqCst),
        3,
        "None expired after 30s, Some did not"
    );
}

static SKIP_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cached(skip_none)]
fn maybe(id: u64) -> Option<u64> {
    SKIP_LOADS.fetch_add(1, SeqCst);
    (id % 2 == 0).then_some(id)
}

#[test]
fn skip_none_stores_no_none() {
    assert_eq!(maybe(1), None);
    assert_eq!(maybe(1), None);
    assert_eq!(maybe(2), Some(2));
    assert_eq!(maybe(2), Some(2));
    assert_eq!(SKIP_LOADS.load(SeqCst), 3);
    assert_eq!(MAYBE.len(), 1);
}

static PARSE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    PARSE_RUNS.fetch_add(1, SeqCst);
    text.parse()
}

#[test]
fn result_caches_ok_only() {
    assert!(parse("x").is_err());
    assert!(parse("x").is_err());
    assert_eq!(PARSE_RUNS.load(SeqCst), 2, "Err is never cached");
    assert_eq!(parse("42"), Ok(42));
    assert_eq!(parse("42"), Ok(42));
    assert_eq!(PARSE_RUNS.load(SeqCst), 3);
    assert_eq!(
        PARSE.get("42"),
        Some(42),
        "the cached value is the Ok payload"
    );
}

static UPSTREAM_UP: AtomicUsize = AtomicUsize::new(1);

static QUOTE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = "1m", stale_if_error)]
fn quote(symbol: &str) -> Result<u64, String> {
    QUOTE_RUNS.fetch_add(1, SeqCst);
    match UPSTREAM_UP.load(SeqCst) {
        1 => Ok(symbol.len() as u64 * 10),
        _ => Err("upstream down".into()),
    }
}

#[test]
fn stale_if_error_serves_the_last_good_value() {
    let (clock, time) = Clock::mock();
    assert!(QUOTE.use_clock(clock));
    assert_eq!(quote("abc"), Ok(30));
    time.advance(Duration::from_secs(120));
    UPSTREAM_UP.store(0, SeqCst);
    assert_eq!(
        quote("abc"),
        Ok(30),
        "expired, but the body failed: stale value served"
    );
    let runs = QUOTE_RUNS.load(SeqCst);
    time.advance(Duration::from_secs(5));
    assert_eq!(quote("abc"), Ok(30), "re-armed for the retry window");
    assert_eq!(
        QUOTE_RUNS.load(SeqCst),
        runs,
        "the failing body did not run"
    );
    time.advance(Duration::from_secs(6));
    assert_eq!(
        quote("abc"),
        Ok(30),
        "the window passed: run, failed, re-armed"
    );
    assert_eq!(QUOTE_RUNS.load(SeqCst), runs + 1);
    assert_eq!(
        quote("new"),
        Err("upstream down".into()),
        "no value held: the error"
    );
    UPSTREAM_UP.store(1, SeqCst);
}

static SESSION_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = "10s", sliding)]
fn session(id: u64) -> u64 {
    SESSION_LOADS.fetch_add(1, SeqCst);
    id
}

#[test]
fn sliding_ttl_is_renewed_by_hits() {
    let (clock, time) = Clock::mock();
    assert!(SESSION.use_clock(clock));
    session(1);
    for _ in 0..5 {
        time.advance(Duration::from_secs(8));
        session(1);
    }
    assert_eq!(
        SESSION_LOADS.load(SeqCst),
        1,
        "each hit renewed the 10s TTL"
    );
    time.advance(Duration::from_secs(11));
    session(1);
    assert_eq!(SESSION_LOADS.load(SeqCst), 2);
    assert_eq!(SESSION.stats().expirations, 1);
}

#[allow(clippy::ptr_arg)] // `ttl_fn` takes `fn(&V)`, and `V` is `Vec<u8>`
fn ttl_by_size(value: &Vec<u8>) -> Option<Duration> {
    (value.len() > 2).then(|| Duration::from_secs(1))
}

static BLOB_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = "1h", ttl_fn = ttl_by_size)]
fn blob(len: usize) -> Vec<u8> {
    BLOB_LOADS.fetch_add(1, SeqCst);
    vec![0; len]
}

#[test]
fn ttl_fn_sets_a_ttl_per_value() {
    let (clock, time) = Clock::mock();
    assert!(BLOB.use_clock(clock));
    blob(1);
    blob(5);
    time.advance(Duration::from_secs(2));
    blob(1);
    blob(5);
    assert_eq!(
        BLOB_LOADS.load(SeqCst),
        3,
        "only the large value expired after 1s"
    );
}

#[cached(size = 2)]
fn bounded(n: u64) -> u64 {
    n
}

#[test]
fn size_bounds_the_entries_and_counts_evictions() {
    for n in 0..10 {
        bounded(n);
    }
    let stats = BOUNDED.stats();
    assert!(stats.len <= 2, "len {} above size 2", stats.len);
    assert_eq!(stats.capacity, Some(2));
    assert_eq!(stats.evictions, 8);
    assert_eq!(stats.misses, 10);
}

#[cached(unbounded)]
fn unbounded(n: u64) -> u64 {
    n
}

#[test]
fn unbounded_keeps_everything() {
    for n in 0..20_000 {
        unbounded(n);
    }
    assert_eq!(UNBOUNDED.len(), 20_000);
    assert_eq!(UNBOUNDED.stats().capacity, None);
    UNBOUNDED.clear();
    assert!(UNBOUNDED.is_empty());
}

/// Docs, visibility and `unsafe` survive the attribute.
#[cached(name = RENAMED_HANDLE, namespace = "shop:product", version = 3)]
pub unsafe fn raw_read(address: usize) -> usize {
    address + 1
}

#[test]
fn name_namespace_and_unsafe_are_kept() {
    // SAFETY: the function does nothing unsafe; it only checks `unsafe` is kept.
    assert_eq!(unsafe { raw_read(1) }, 2);
    assert_eq!(RENAMED_HANDLE.namespace(), "shop:product");
    assert_eq!(RENAMED_HANDLE.get(&1), Some(2));
}

#[test]
fn insert_and_get_bypass_the_function() {
    BOUNDED_MANUAL.insert(9, 81);
    assert_eq!(bounded_manual(9), 81, "served from the inserted entry");
    assert_eq!(BOUNDED_MANUAL.stats().hits, 1);
}

#[cached]
fn bounded_manual(n: u64) -> u64 {
    n * 1000
}
