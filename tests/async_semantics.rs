//! What `#[async_cached]` caches and under which key: `Result` caches `Ok`
//! only, `Option` caches `None` (tuned by `none_ttl` and `skip_none`), keys come
//! from the arguments (`key = ...`, `#[skip]`, references, patterns), methods
//! reach their cache through `Type::method_cache()`, and two functions never
//! share entries.
//!
//! Each test has its own function, hence its own cache. TTLs run on memocache's
//! mock clock.

#[path = "common/async_util.rs"]
mod async_util;

use std::sync::Arc;
use std::time::Duration;

use async_util::{must_finish, Probe};
use axum::extract::Path;
use memocache::{async_cached, Clock, MockTime};
use tokio::sync::Barrier;

/// Installs a fresh mock clock in a cache that has not been used yet.
fn mock_clock(install: impl FnOnce(Clock) -> bool) -> MockTime {
    let (clock, time) = Clock::mock();
    assert!(
        install(clock),
        "the cache was used before its clock was installed"
    );
    time
}

// ---------------------------------------------------------------------------
// Return types
// ---------------------------------------------------------------------------

#[async_cached(size = 100, key = id)]
async fn fallible(id: u64, probe: Probe) -> Result<u64, String> {
    probe.outcome(probe.enter()).map(|_| id * 10)
}

#[tokio::test]
async fn result_caches_ok_only() {
    let probe = Probe::new();
    probe.set_failing(true);
    assert_eq!(fallible(1, probe.clone()).await, Err("run 1 failed".into()));
    assert_eq!(fallible(1, probe.clone()).await, Err("run 2 failed".into()));
    assert!(FALLIBLE.is_empty(), "an Err was cached");

    probe.set_failing(false);
    assert_eq!(fallible(1, probe.clone()).await, Ok(10));
    probe.set_failing(true);
    assert_eq!(
        fallible(1, probe.clone()).await,
        Ok(10),
        "the Ok was not cached"
    );
    assert_eq!(probe.runs(), 3);
    assert_eq!(
        FALLIBLE.get(&1).await,
        Some(10),
        "the cache holds the Ok value itself"
    );
}

#[async_cached(size = 100, key = id)]
async fn lookup_user(id: u64, probe: Probe) -> Option<String> {
    probe.enter();
    (id % 2 == 0).then(|| format!("user {id}"))
}

#[tokio::test]
async fn option_caches_none_as_a_negative_result() {
    let probe = Probe::new();
    assert_eq!(lookup_user(1, probe.clone()).await, None);
    assert_eq!(lookup_user(1, probe.clone()).await, None);
    assert_eq!(lookup_user(2, probe.clone()).await, Some("user 2".into()));
    assert_eq!(lookup_user(2, probe.clone()).await, Some("user 2".into()));
    assert_eq!(probe.runs(), 2, "a missing id reached the database twice");
    assert_eq!(LOOKUP_USER.get(&1).await, Some(None));
    assert_eq!(LOOKUP_USER.len(), 2);
}

#[async_cached(size = 100, ttl = "60s", none_ttl = "5s", key = id)]
async fn lookup_short_none(id: u64, probe: Probe) -> Option<u64> {
    probe.enter();
    (id % 2 == 0).then_some(id)
}

#[tokio::test]
async fn none_ttl_expires_none_sooner_than_values() {
    let time = mock_clock(|clock| LOOKUP_SHORT_NONE.use_clock(clock));
    let probe = Probe::new();
    assert_eq!(lookup_short_none(1, probe.clone()).await, None);
    assert_eq!(lookup_short_none(2, probe.clone()).await, Some(2));
    time.advance(Duration::from_secs(4));
    assert_eq!(lookup_short_none(1, probe.clone()).await, None);
    assert_eq!(probe.runs(), 2, "None expired before its none_ttl");

    time.advance(Duration::from_secs(2));
    assert_eq!(lookup_short_none(1, probe.clone()).await, None);
    assert_eq!(probe.runs(), 3, "None outlived its none_ttl");
    assert_eq!(lookup_short_none(2, probe.clone()).await, Some(2));
    assert_eq!(
        probe.runs(),
        3,
        "a value expired with none_ttl instead of ttl"
    );

    time.advance(Duration::from_secs(55));
    assert_eq!(lookup_short_none(2, probe.clone()).await, Some(2));
    assert_eq!(probe.runs(), 4, "a value outlived its ttl");
}

#[async_cached(size = 100, skip_none, key = id)]
async fn lookup_no_none(id: u64, probe: Probe) -> Option<u64> {
    probe.enter();
    (id % 2 == 0).then_some(id)
}

#[tokio::test]
async fn skip_none_stores_no_none() {
    let probe = Probe::new();
    assert_eq!(lookup_no_none(1, probe.clone()).await, None);
    assert_eq!(lookup_no_none(1, probe.clone()).await, None);
    assert_eq!(probe.runs(), 2, "None was cached despite skip_none");
    assert_eq!(lookup_no_none(2, probe.clone()).await, Some(2));
    assert_eq!(lookup_no_none(2, probe.clone()).await, Some(2));
    assert_eq!(probe.runs(), 3);
    assert_eq!(LOOKUP_NO_NONE.len(), 1);
}

#[async_cached(size = 100, skip_none, key = id)]
async fn find_row(id: u64, probe: Probe) -> Result<Option<u64>, String> {
    probe.enter();
    if probe.failing() {
        return Err("down".into());
    }
    Ok((id % 2 == 0).then_some(id))
}

#[tokio::test]
async fn result_of_option_caches_ok_some_and_honours_skip_none() {
    let probe = Probe::new();
    assert_eq!(find_row(1, probe.clone()).await, Ok(None));
    assert_eq!(find_row(1, probe.clone()).await, Ok(None));
    assert_eq!(probe.runs(), 2, "Ok(None) was cached despite skip_none");
    assert_eq!(find_row(2, probe.clone()).await, Ok(Some(2)));
    probe.set_failing(true);
    assert_eq!(find_row(2, probe.clone()).await, Ok(Some(2)));
    assert_eq!(probe.runs(), 3);
}

/// A heavy value behind an `Arc`: a hit clones the pointer, not the data.
#[async_cached(size = 100)]
async fn model(name: u8) -> Arc<Vec<u8>> {
    Arc::new(vec![name; 1 << 16])
}

#[tokio::test]
async fn arc_values_are_shared_not_copied() {
    let first = model(1).await;
    let second = model(1).await;
    assert!(Arc::ptr_eq(&first, &second));
}

/// No argument: one value, computed once (`#[once]` in `cached`).
#[async_cached]
async fn settings() -> Arc<String> {
    SETTINGS_LOADS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Arc::new("loaded".to_string())
}

static SETTINGS_LOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[tokio::test]
async fn a_function_without_arguments_caches_one_value() {
    assert_eq!(*settings().await, "loaded");
    assert_eq!(*settings().await, "loaded");
    assert_eq!(SETTINGS_LOADS.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(SETTINGS.invalidate(&()).await);
    assert_eq!(*settings().await, "loaded");
    assert_eq!(SETTINGS_LOADS.load(std::sync::atomic::Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/// `key = id`: `verbose` (and the probe) are not part of the key.
#[async_cached(size = 100, key = id)]
async fn describe(id: u64, verbose: bool, probe: Probe) -> String {
    probe.enter();
    if verbose {
        format!("product number {id}")
    } else {
        format!("#{id}")
    }
}

#[tokio::test]
async fn key_names_the_arguments_that_make_the_key() {
    let probe = Probe::new();
    assert_eq!(describe(1, true, probe.clone()).await, "product number 1");
    assert_eq!(describe(1, false, probe.clone()).await, "product number 1");
    assert_eq!(describe(2, false, probe.clone()).await, "#2");
    assert_eq!(probe.runs(), 2);
    assert!(DESCRIBE.invalidate(&1).await);
    assert_eq!(describe(1, false, probe.clone()).await, "#1");
    assert_eq!(probe.runs(), 3);
}

/// A pool stands for a connection pool: shared, not hashable, not in the key.
#[derive(Clone)]
struct Pool;

#[async_cached(size = 100)]
async fn page(#[skip] _pool: Pool, user: u64, #[skip] probe: Probe, page: u32) -> Vec<u64> {
    probe.enter();
    (0..3)
        .map(|i| user * 100 + u64::from(page) * 10 + i)
        .collect()
}

#[tokio::test]
async fn skipped_arguments_are_left_out_of_the_key() {
    let probe = Probe::new();
    assert_eq!(page(Pool, 7, probe.clone(), 2).await, [720, 721, 722]);
    assert_eq!(page(Pool, 7, Probe::new(), 2).await, [720, 721, 722]);
    assert_eq!(page(Pool, 7, probe.clone(), 3).await, [730, 731, 732]);
    assert_eq!(probe.runs(), 2);
    // The key is the tuple of the remaining arguments, in order.
    assert_eq!(PAGE.get(&(7, 2)).await, Some(vec![720, 721, 722]));
    assert!(PAGE.invalidate(&(7, 3)).await);
    assert!(!PAGE.invalidate(&(3, 7)).await);
}

#[async_cached(size = 100)]
async fn word_length(word: &str, #[skip] probe: Probe) -> usize {
    probe.enter();
    word.chars().count()
}

#[tokio::test]
async fn a_str_argument_becomes_a_string_key() {
    let probe = Probe::new();
    let owned = String::from("héllo");
    assert_eq!(word_length(&owned, probe.clone()).await, 5);
    drop(owned);
    // The key outlives the borrowed argument, and a literal finds it.
    assert_eq!(word_length("héllo", probe.clone()).await, 5);
    assert_eq!(probe.runs(), 1);
    assert_eq!(WORD_LENGTH.get("héllo").await, Some(5));
    assert_eq!(WORD_LENGTH.get(&"héllo".to_string()).await, Some(5));
    assert!(WORD_LENGTH.invalidate("héllo").await);
    assert_eq!(word_length("héllo", probe.clone()).await, 5);
    assert_eq!(probe.runs(), 2);
}

#[async_cached(size = 100)]
async fn checksum(bytes: &[u8], #[skip] probe: Probe) -> u64 {
    probe.enter();
    bytes.iter().map(|&b| u64::from(b)).sum()
}

#[tokio::test]
async fn a_slice_argument_becomes_a_vec_key() {
    let probe = Probe::new();
    assert_eq!(checksum(&[1, 2, 3], probe.clone()).await, 6);
    let bytes: Vec<u8> = (1..=3).collect();
    assert_eq!(checksum(&bytes, probe.clone()).await, 6);
    assert_eq!(probe.runs(), 1);
    // The key is the owned `Vec<u8>`.
    assert_eq!(CHECKSUM.get(&bytes).await, Some(6));
}

#[async_cached(size = 100)]
async fn patterned(
    Path(id): Path<u64>,
    (region, lang): (u32, String),
    &scale: &u64,
    #[skip] probe: Probe,
) -> String {
    probe.enter();
    format!("{id}/{region}/{lang}/{scale}")
}

#[tokio::test]
async fn destructuring_patterns_contribute_their_bindings() {
    let probe = Probe::new();
    let call = |id, region, lang: &str, scale: &'static u64| {
        patterned(Path(id), (region, lang.to_string()), scale, probe.clone())
    };
    assert_eq!(call(1, 2, "en", &3).await, "1/2/en/3");
    assert_eq!(call(1, 2, "en", &3).await, "1/2/en/3");
    assert_eq!(call(1, 2, "fr", &3).await, "1/2/fr/3");
    assert_eq!(call(1, 2, "en", &4).await, "1/2/en/4");
    assert_eq!(probe.runs(), 3);
    // The key is the tuple of every binding, in order: (id, region, lang, scale).
    assert_eq!(
        PATTERNED.get(&(1, 2, "fr".to_string(), 3)).await,
        Some("1/2/fr/3".into())
    );
}

/// `Path(id)` with `key = id`: the handler shape of the axum example.
#[async_cached(size = 100, key = id)]
async fn extracted(Path(id): Path<u64>, probe: Probe) -> u64 {
    probe.enter();
    id + 1
}

#[tokio::test]
async fn key_can_name_a_binding_inside_a_pattern() {
    let probe = Probe::new();
    assert_eq!(extracted(Path(41), probe.clone()).await, 42);
    assert_eq!(extracted(Path(41), probe.clone()).await, 42);
    assert_eq!(probe.runs(), 1);
    assert!(EXTRACTED.invalidate(&41).await);
}

struct User {
    id: u64,
    name: String,
}

/// A key computed from a field: its type is given with `key_type`.
#[async_cached(size = 100, key = (user.id, page), key_type = (u64, u32))]
async fn feed(user: &User, page: u32, probe: Probe) -> String {
    probe.enter();
    format!("{}:{page}", user.name)
}

#[tokio::test]
async fn key_can_be_an_expression_over_the_arguments() {
    let probe = Probe::new();
    let ada = User {
        id: 1,
        name: "ada".into(),
    };
    let renamed = User {
        id: 1,
        name: "countess".into(),
    };
    assert_eq!(feed(&ada, 0, probe.clone()).await, "ada:0");
    assert_eq!(
        feed(&renamed, 0, probe.clone()).await,
        "ada:0",
        "the name is not in the key"
    );
    assert_eq!(feed(&renamed, 1, probe.clone()).await, "countess:1");
    assert_eq!(probe.runs(), 2);
    assert!(FEED.invalidate(&(1, 0)).await);
}

#[async_cached(size = 100)]
async fn double(n: u64) -> u64 {
    n * 2
}

#[async_cached(size = 100)]
async fn triple(n: u64) -> u64 {
    n * 3
}

#[tokio::test]
async fn two_functions_with_equal_arguments_never_share_entries() {
    assert_eq!(double(5).await, 10);
    assert_eq!(triple(5).await, 15);
    assert_eq!(double(5).await, 10);
    assert_eq!(triple(5).await, 15);
    assert!(DOUBLE.invalidate(&5).await);
    assert_eq!(
        TRIPLE.get(&5).await,
        Some(15),
        "invalidating one function touched the other"
    );
    assert_ne!(DOUBLE.namespace(), TRIPLE.namespace());
}

// ---------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------

struct Catalog {
    markup: u64,
    probe: Probe,
}

impl Catalog {
    /// The cache lives in `Catalog::price_cache()`; `self` is not in the key.
    #[async_cached(size = 100, key = id)]
    async fn price(&self, id: u64) -> u64 {
        self.probe.enter();
        id * 100 + self.markup
    }

    /// A method may put a field of `self` in the key explicitly.
    #[async_cached(size = 100, key = (self.markup, id), key_type = (u64, u64))]
    async fn price_with_markup(&self, id: u64) -> u64 {
        self.probe.enter();
        id * 100 + self.markup
    }
}

#[tokio::test]
async fn methods_reach_their_cache_through_an_associated_function() {
    let probe = Probe::new();
    let shop = Catalog {
        markup: 5,
        probe: probe.clone(),
    };
    assert_eq!(shop.price(3).await, 305);
    assert_eq!(shop.price(3).await, 305);
    assert_eq!(probe.runs(), 1);
    assert_eq!(Catalog::price_cache().get(&3).await, Some(305));
    // `self` is not part of the key: another instance gets the same entry.
    let other = Catalog {
        markup: 9,
        probe: probe.clone(),
    };
    assert_eq!(other.price(3).await, 305);
    assert!(Catalog::price_cache().invalidate(&3).await);
    assert_eq!(other.price(3).await, 309);
    assert_eq!(probe.runs(), 2);
    assert_eq!(Catalog::price_cache().stats().hits, 2);

    assert_eq!(shop.price_with_markup(3).await, 305);
    assert_eq!(other.price_with_markup(3).await, 309);
    assert_eq!(Catalog::price_with_markup_cache().len(), 2);
}

#[tokio::test]
async fn the_future_of_a_method_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let shop = Catalog {
        markup: 0,
        probe: Probe::new(),
    };
    let future = shop.price(1);
    assert_send(&future);
    drop(future);
    // And it can run on another worker.
    let shop = Arc::new(shop);
    let task = tokio::spawn(async move { shop.price(1).await });
    assert_eq!(task.await.unwrap(), 100);
}

// ---------------------------------------------------------------------------
// The handle
// ---------------------------------------------------------------------------

#[async_cached(size = 100, key = id)]
async fn handled(id: u64, probe: Probe) -> u64 {
    probe.enter();
    id * 10
}

#[tokio::test]
async fn the_handle_reads_writes_and_counts() {
    let probe = Probe::new();
    HANDLED.insert(1, 99).await;
    assert_eq!(
        handled(1, probe.clone()).await,
        99,
        "an inserted value is served"
    );
    assert_eq!(handled(2, probe.clone()).await, 20);
    assert_eq!(probe.runs(), 1);
    assert_eq!(HANDLED.get(&2).await, Some(20));
    assert_eq!(HANDLED.get(&3).await, None);

    let stats = HANDLED.stats();
    assert_eq!((stats.hits, stats.misses, stats.len), (1, 1, 2));
    assert_eq!(stats.capacity, Some(100));
    assert!((stats.hit_ratio() - 0.5).abs() < 1e-9);

    HANDLED.clear().await;
    assert!(HANDLED.is_empty());
    assert_eq!(handled(1, probe.clone()).await, 10);
}

#[async_cached(size = 4)]
async fn bounded(n: u64) -> u64 {
    n
}

#[tokio::test]
async fn size_bounds_the_entries_held() {
    for n in 0..50 {
        assert_eq!(bounded(n).await, n);
    }
    let stats = BOUNDED.stats();
    assert!(stats.len <= 4, "{} entries held in a cache of 4", stats.len);
    assert_eq!(stats.evictions, 50 - stats.len as u64);
}

#[async_cached(size = 100, ttl = "10s", sliding, key = id)]
async fn sliding_session(id: u64, probe: Probe) -> u64 {
    probe.enter();
    id
}

#[tokio::test]
async fn sliding_ttl_is_renewed_by_hits() {
    let time = mock_clock(|clock| SLIDING_SESSION.use_clock(clock));
    let probe = Probe::new();
    sliding_session(1, probe.clone()).await;
    for _ in 0..5 {
        time.advance(Duration::from_secs(8));
        sliding_session(1, probe.clone()).await;
    }
    assert_eq!(probe.runs(), 1, "a hit did not renew the TTL");
    time.advance(Duration::from_secs(11));
    sliding_session(1, probe.clone()).await;
    assert_eq!(probe.runs(), 2, "the entry outlived its TTL");
}

// ---------------------------------------------------------------------------
// single_flight = false
// ---------------------------------------------------------------------------

const SIDE_BY_SIDE: usize = 6;

#[async_cached(size = 100, single_flight = false, key = id)]
async fn uncoalesced(id: u64, all: Arc<Barrier>) -> u64 {
    // Returns only once every caller runs its own body at the same time.
    all.wait().await;
    id
}

#[tokio::test(start_paused = true)]
async fn single_flight_false_lets_every_caller_run_the_body() {
    let all = Arc::new(Barrier::new(SIDE_BY_SIDE));
    let callers: Vec<_> = (0..SIDE_BY_SIDE)
        .map(|_| tokio::spawn(uncoalesced(1, all.clone())))
        .collect();
    let values = must_finish(
        "uncoalesced callers (coalesced despite single_flight = false?)",
        futures::future::join_all(callers),
    )
    .await;
    assert!(values.into_iter().all(|v| v.unwrap() == 1));
    assert_eq!(UNCOALESCED.len(), 1);
}
