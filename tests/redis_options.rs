#![cfg(feature = "redis")]
//! Every attribute option keeps its meaning with `store = "redis"` (issue 9,
//! point 1), checked on what a real server holds: the `PTTL` a write sets
//! and a read renews, the keys written and removed, the bytes stored.
//!
//! Every cache here is remote-only, so every call asks Redis: a call whose
//! body does not run was answered by Redis. Each test starts its own server
//! and uses caches (namespaces) no other test uses.

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use memocache::redis::{configure_namespace, Bincode, Codec, Json, RedisSettings};
use memocache::{async_cached, cached, RemoteStats, Stats};
use redis_server::RedisServer;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// Points the cache of `namespace` at `server`, with a deadline roomy enough
/// for a loaded 2-core machine.
fn use_server(namespace: &str, server: &RedisServer) {
    let settings = RedisSettings::default()
        .url(server.url())
        .timeout(Duration::from_secs(2));
    configure_namespace(namespace, settings).expect("configured before the cache's first use");
}

/// Polls `done` every 10 ms until it holds; fails the test if it does not
/// within `within`.
fn eventually(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// The counters of a cache's Redis tier.
fn remote(stats: Stats) -> RemoteStats {
    stats.remote.expect("a Redis cache reports remote stats")
}

/// The remaining time to live of `key` in milliseconds (-2: no key, -1: no expiry).
fn pttl(server: &RedisServer, key: &str) -> i64 {
    server.cli(&["PTTL", key]).trim().parse().expect("PTTL")
}

/// Asserts that `key` lives for `ttl` less at most `slack`.
fn assert_pttl_near(server: &RedisServer, key: &str, ttl: Duration, slack: Duration) {
    let left = pttl(server, key);
    let (high, low) = (ttl.as_millis() as i64, (ttl - slack).as_millis() as i64);
    assert!(
        (low..=high).contains(&left),
        "{key}: PTTL {left} ms, expected {low}..={high}"
    );
}

fn exists(server: &RedisServer, key: &str) -> bool {
    server.cli(&["EXISTS", key]).trim() == "1"
}

/// The bytes under `key`, read by another client.
fn raw_get(server: &RedisServer, key: &str) -> Option<Vec<u8>> {
    let mut connection = server.client().get_connection().expect("raw client");
    redis::cmd("GET")
        .arg(key)
        .query(&mut connection)
        .expect("raw GET")
}

/// How many times the server ran `command` since the last `CONFIG RESETSTAT`.
fn command_calls(server: &RedisServer, command: &str) -> u64 {
    let stats = server.cli(&["INFO", "commandstats"]);
    stats
        .lines()
        .find(|line| line.starts_with(&format!("cmdstat_{command}:")))
        .and_then(|line| line.split("calls=").nth(1))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().expect("calls=N"))
}

// ---------------------------------------------------------------------------
// ttl and sliding
// ---------------------------------------------------------------------------

static TTL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "90s", namespace = "opt:ttl")]
fn with_ttl(n: u64) -> u64 {
    TTL_RUNS.fetch_add(1, SeqCst);
    n
}

#[test]
fn ttl_sets_the_redis_ttl_and_a_read_does_not_renew_it() {
    let server = RedisServer::start();
    use_server("opt:ttl", &server);
    assert_eq!(with_ttl(1), 1);
    assert_pttl_near(
        &server,
        "opt:ttl:1",
        Duration::from_secs(90),
        Duration::from_secs(5),
    );

    server.cli(&["PEXPIRE", "opt:ttl:1", "30000"]);
    assert_eq!(with_ttl(1), 1);
    assert_eq!(TTL_RUNS.load(SeqCst), 1, "a Redis hit");
    let left = pttl(&server, "opt:ttl:1");
    assert!(left <= 30_000, "a read renewed a fixed TTL: PTTL {left}");
}

static SLIDING_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "90s", sliding, namespace = "opt:sliding")]
fn with_sliding_ttl(n: u64) -> u64 {
    SLIDING_RUNS.fetch_add(1, SeqCst);
    n
}

#[test]
fn sliding_renews_the_redis_ttl_on_every_read_in_one_round_trip() {
    let server = RedisServer::start();
    use_server("opt:sliding", &server);
    assert_eq!(with_sliding_ttl(1), 1);
    assert_pttl_near(
        &server,
        "opt:sliding:1",
        Duration::from_secs(90),
        Duration::from_secs(5),
    );

    // As if most of the TTL had passed.
    server.cli(&["PEXPIRE", "opt:sliding:1", "3000"]);
    server.cli(&["CONFIG", "RESETSTAT"]);
    assert_eq!(with_sliding_ttl(1), 1);
    assert_eq!(SLIDING_RUNS.load(SeqCst), 1, "a Redis hit");
    assert_pttl_near(
        &server,
        "opt:sliding:1",
        Duration::from_secs(90),
        Duration::from_secs(5),
    );
    assert_eq!(
        (
            command_calls(&server, "getex"),
            command_calls(&server, "get")
        ),
        (1, 0),
        "the read renewed the TTL itself (GETEX ... PX)"
    );
}

static SLIDING_FN_RUNS: AtomicUsize = AtomicUsize::new(0);

fn one_minute(_: &u64) -> Option<Duration> {
    Some(Duration::from_secs(60))
}

#[cached(store = "redis", sliding, ttl_fn = one_minute, namespace = "opt:sliding-fn")]
fn with_sliding_ttl_fn(n: u64) -> u64 {
    SLIDING_FN_RUNS.fetch_add(1, SeqCst);
    n
}

#[test]
fn sliding_with_a_ttl_fn_renews_the_redis_ttl_on_every_read() {
    let server = RedisServer::start();
    use_server("opt:sliding-fn", &server);
    assert_eq!(with_sliding_ttl_fn(1), 1);
    assert_pttl_near(
        &server,
        "opt:sliding-fn:1",
        Duration::from_secs(60),
        Duration::from_secs(5),
    );

    server.cli(&["PEXPIRE", "opt:sliding-fn:1", "3000"]);
    assert_eq!(with_sliding_ttl_fn(1), 1);
    assert_eq!(SLIDING_FN_RUNS.load(SeqCst), 1, "a Redis hit");
    assert_pttl_near(
        &server,
        "opt:sliding-fn:1",
        Duration::from_secs(60),
        Duration::from_secs(5),
    );
}

static SLIDING_MIXED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", sliding, ttl_fn = short_for_small, namespace = "opt:sliding-mixed")]
fn with_sliding_ttl_and_ttl_fn(n: u64) -> u64 {
    SLIDING_MIXED_RUNS.fetch_add(1, SeqCst);
    n
}

#[test]
fn sliding_renews_each_value_with_its_own_ttl_not_the_fallback() {
    let server = RedisServer::start();
    use_server("opt:sliding-mixed", &server);
    let slack = Duration::from_secs(5);
    assert_eq!(with_sliding_ttl_and_ttl_fn(5), 5);
    assert_eq!(with_sliding_ttl_and_ttl_fn(500), 500);
    assert_pttl_near(
        &server,
        "opt:sliding-mixed:5",
        Duration::from_secs(30),
        slack,
    );
    assert_pttl_near(
        &server,
        "opt:sliding-mixed:500",
        Duration::from_secs(600),
        slack,
    );

    server.cli(&["PEXPIRE", "opt:sliding-mixed:5", "3000"]);
    server.cli(&["PEXPIRE", "opt:sliding-mixed:500", "3000"]);
    assert_eq!(with_sliding_ttl_and_ttl_fn(5), 5);
    assert_eq!(with_sliding_ttl_and_ttl_fn(500), 500);
    assert_eq!(SLIDING_MIXED_RUNS.load(SeqCst), 2, "Redis hits");
    assert_pttl_near(
        &server,
        "opt:sliding-mixed:5",
        Duration::from_secs(30),
        slack,
    );
    assert_pttl_near(
        &server,
        "opt:sliding-mixed:500",
        Duration::from_secs(600),
        slack,
    );
}

// ---------------------------------------------------------------------------
// ttl_fn, none_ttl, skip_none
// ---------------------------------------------------------------------------

/// Small values live 30 s; others fall back to the `ttl`.
fn short_for_small(value: &u64) -> Option<Duration> {
    (*value < 100).then_some(Duration::from_secs(30))
}

#[cached(store = "redis", ttl = "10m", ttl_fn = short_for_small, namespace = "opt:ttl-fn")]
fn with_ttl_fn(n: u64) -> u64 {
    n
}

#[test]
fn ttl_fn_sets_the_redis_ttl_of_each_value_and_falls_back_to_ttl() {
    let server = RedisServer::start();
    use_server("opt:ttl-fn", &server);
    assert_eq!(with_ttl_fn(5), 5);
    assert_eq!(with_ttl_fn(500), 500);
    let slack = Duration::from_secs(5);
    assert_pttl_near(&server, "opt:ttl-fn:5", Duration::from_secs(30), slack);
    assert_pttl_near(&server, "opt:ttl-fn:500", Duration::from_secs(600), slack);
}

static NONE_TTL_RUNS: AtomicUsize = AtomicUsize::new(0);

/// `None` for odd numbers.
#[cached(
    store = "redis",
    ttl = "10m",
    none_ttl = "20s",
    namespace = "opt:none-ttl"
)]
fn even_or_none(n: u64) -> Option<u64> {
    NONE_TTL_RUNS.fetch_add(1, SeqCst);
    (n % 2 == 0).then_some(n)
}

#[test]
fn none_ttl_caches_none_in_redis_for_its_own_ttl() {
    let server = RedisServer::start();
    use_server("opt:none-ttl", &server);
    assert_eq!(even_or_none(1), None);
    assert_eq!(even_or_none(2), Some(2));
    let slack = Duration::from_secs(5);
    assert_pttl_near(&server, "opt:none-ttl:1", Duration::from_secs(20), slack);
    assert_pttl_near(&server, "opt:none-ttl:2", Duration::from_secs(600), slack);
    assert_eq!(even_or_none(1), None);
    assert_eq!(even_or_none(2), Some(2));
    assert_eq!(
        NONE_TTL_RUNS.load(SeqCst),
        2,
        "None and Some read from Redis"
    );
}

static SKIP_NONE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", skip_none, namespace = "opt:skip-none")]
fn even_or_skipped(n: u64) -> Option<u64> {
    SKIP_NONE_RUNS.fetch_add(1, SeqCst);
    (n % 2 == 0).then_some(n)
}

#[test]
fn skip_none_never_writes_none_to_redis_and_removes_what_it_replaces() {
    let server = RedisServer::start();
    use_server("opt:skip-none", &server);
    assert_eq!(even_or_skipped(1), None);
    assert!(!exists(&server, "opt:skip-none:1"));
    assert_eq!(even_or_skipped(1), None);
    assert_eq!(SKIP_NONE_RUNS.load(SeqCst), 2, "None is never stored");

    assert_eq!(even_or_skipped(2), Some(2));
    assert!(exists(&server, "opt:skip-none:2"));
    assert_eq!(even_or_skipped(2), Some(2));
    assert_eq!(SKIP_NONE_RUNS.load(SeqCst), 3, "Some is stored");

    // A None inserted over a held value removes it.
    EVEN_OR_SKIPPED.insert(2, None);
    assert!(!exists(&server, "opt:skip-none:2"));
}

// ---------------------------------------------------------------------------
// key = ..., #[skip], tuple keys
// ---------------------------------------------------------------------------

static KEY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", key = id, namespace = "opt:key")]
fn labelled(id: u64, label: &str) -> String {
    KEY_RUNS.fetch_add(1, SeqCst);
    format!("{label} {id}")
}

/// A connection pool stand-in: neither hashable nor serializable.
struct Db {
    offset: u64,
}

static SKIP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "opt:skip")]
fn with_db(id: u64, #[skip] db: &Db) -> u64 {
    SKIP_RUNS.fetch_add(1, SeqCst);
    id + db.offset
}

#[cached(store = "redis", ttl = "10m", namespace = "opt:page")]
fn page(shop: &str, number: u32) -> String {
    format!("{shop} page {number}")
}

#[test]
fn key_and_skip_make_the_redis_key_from_the_key_arguments_only() {
    let server = RedisServer::start();
    for namespace in ["opt:key", "opt:skip", "opt:page"] {
        use_server(namespace, &server);
    }
    assert_eq!(labelled(7, "first"), "first 7");
    assert_eq!(
        labelled(7, "second"),
        "first 7",
        "the label is not in the key"
    );
    assert_eq!(KEY_RUNS.load(SeqCst), 1);
    assert_eq!(LABELLED.remote_key(&7).as_deref(), Some("opt:key:7"));
    assert!(exists(&server, "opt:key:7"));

    assert_eq!(with_db(7, &Db { offset: 100 }), 107);
    assert_eq!(
        with_db(7, &Db { offset: 200 }),
        107,
        "the pool is not in the key"
    );
    assert_eq!(SKIP_RUNS.load(SeqCst), 1);
    assert_eq!(WITH_DB.remote_key(&7).as_deref(), Some("opt:skip:7"));
    assert!(exists(&server, "opt:skip:7"));

    // Several arguments: a readable tuple, strings escaped.
    assert_eq!(page("a:b", 3), "a:b page 3");
    let key = PAGE.remote_key(&("a:b".to_owned(), 3)).unwrap();
    assert_eq!(key, "opt:page:a%3Ab:3");
    assert!(exists(&server, &key));
    assert_eq!(
        server.cli(&["DBSIZE"]).trim(),
        "3",
        "one key per cache: {}",
        server.cli(&["KEYS", "*"])
    );
}

// ---------------------------------------------------------------------------
// stale_if_error
// ---------------------------------------------------------------------------

static QUOTE_RUNS: AtomicUsize = AtomicUsize::new(0);
static QUOTE_FAILING: AtomicBool = AtomicBool::new(false);

/// The number of its run, or an error while failing.
#[cached(
    store = "redis",
    ttl = "1s",
    stale_if_error = "3s",
    namespace = "opt:stale"
)]
fn quote(n: u64) -> Result<u64, String> {
    let run = QUOTE_RUNS.fetch_add(1, SeqCst) as u64 + 1;
    if QUOTE_FAILING.load(SeqCst) {
        return Err(format!("run {run} of {n} failed"));
    }
    Ok(run)
}

#[test]
fn stale_if_error_serves_a_redis_value_past_its_ttl_when_the_body_fails() {
    let server = RedisServer::start();
    use_server("opt:stale", &server);
    assert_eq!(quote(1), Ok(1));
    // Kept past the TTL for the longer of the TTL and the retry window, to be
    // served stale.
    assert_pttl_near(
        &server,
        "opt:stale:1",
        Duration::from_secs(4),
        Duration::from_millis(500),
    );

    QUOTE_FAILING.store(true, SeqCst);
    assert_eq!(quote(1), Ok(1), "fresh: a Redis hit");
    assert_eq!(QUOTE_RUNS.load(SeqCst), 1);
    // Once past its TTL the value is stale: the body runs, fails, and the
    // stale value is served.
    eventually("the value goes stale", Duration::from_secs(3), || {
        assert_eq!(quote(1), Ok(1), "the stale value, served on error");
        QUOTE_RUNS.load(SeqCst) > 1
    });
    // Re-armed in Redis for the retry window, so that every process serves
    // it: later calls are Redis hits and the failing body is left alone.
    assert_pttl_near(
        &server,
        "opt:stale:1",
        Duration::from_secs(6),
        Duration::from_millis(500),
    );
    let (runs, remote_hits) = (QUOTE_RUNS.load(SeqCst), remote(QUOTE.stats()).hits);
    assert_eq!(quote(1), Ok(1));
    assert_eq!(
        QUOTE_RUNS.load(SeqCst),
        runs,
        "no body run within the window"
    );
    assert_eq!(remote(QUOTE.stats()).hits, remote_hits + 1, "a Redis hit");
    assert!(quote(2).is_err(), "nothing stale to serve");

    QUOTE_FAILING.store(false, SeqCst);
    eventually("the retry window passes", Duration::from_secs(5), || {
        quote(1) != Ok(1)
    });
    let recovered = quote(1).expect("the body succeeds again");
    assert!(recovered > 1, "a new value, not the stale one");
    assert_eq!(quote(1), Ok(recovered), "fresh again: a Redis hit");
}

// ---------------------------------------------------------------------------
// refresh_ahead
// ---------------------------------------------------------------------------

static REFRESH_RUNS: AtomicUsize = AtomicUsize::new(0);
static REFRESH_GATE_OPEN: AtomicBool = AtomicBool::new(false);

/// The number of its run; every run after the first waits for the gate.
#[async_cached(
    store = "redis",
    ttl = "1s",
    refresh_ahead = "30s",
    namespace = "opt:refresh"
)]
async fn refreshed(n: u64) -> u64 {
    let run = REFRESH_RUNS.fetch_add(1, SeqCst) as u64 + 1;
    while run > 1 && !REFRESH_GATE_OPEN.load(SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    run + n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_serves_the_stale_redis_value_at_once_while_one_refresh_runs() {
    /// Far longer than a Redis round trip, far shorter than the held refresh.
    const AT_ONCE: Duration = Duration::from_millis(500);
    let server = RedisServer::start();
    use_server("opt:refresh", &server);
    let calls = AtomicUsize::new(1);
    assert_eq!(refreshed(0).await, 1);
    assert_pttl_near(
        &server,
        "opt:refresh:0",
        Duration::from_secs(31),
        Duration::from_secs(5),
    );

    // Past the TTL, the first caller gets the stale value and starts a refresh.
    let deadline = Instant::now() + Duration::from_secs(3);
    while REFRESH_RUNS.load(SeqCst) < 2 {
        assert!(Instant::now() < deadline, "no refresh started");
        let served = tokio::time::timeout(AT_ONCE, refreshed(0)).await;
        calls.fetch_add(1, SeqCst);
        assert_eq!(served, Ok(1), "fresh or stale, at once");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // While it is held, every caller gets the stale value at once.
    let callers: Vec<_> = (0..20)
        .map(|_| tokio::spawn(tokio::time::timeout(AT_ONCE, refreshed(0))))
        .collect();
    for caller in callers {
        calls.fetch_add(1, SeqCst);
        assert_eq!(
            caller.await.unwrap(),
            Ok(1),
            "a caller during the refresh waited for it or got another value"
        );
    }
    assert_eq!(REFRESH_RUNS.load(SeqCst), 2, "one refresh");

    REFRESH_GATE_OPEN.store(true, SeqCst);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let served = refreshed(0).await;
        calls.fetch_add(1, SeqCst);
        if served == 2 {
            break;
        }
        assert_eq!(served, 1, "the stale value until the refresh lands");
        assert!(
            Instant::now() < deadline,
            "the refresh never landed in Redis"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(REFRESH_RUNS.load(SeqCst), 2, "one refresh, then Redis hits");
    // Stale values served count as hits: the first call is the only miss.
    let stats = REFRESHED.stats();
    let calls = calls.load(SeqCst) as u64;
    assert_eq!((stats.hits, stats.misses), (calls - 1, 1), "{stats:?}");
}

// ---------------------------------------------------------------------------
// single_flight = false
// ---------------------------------------------------------------------------

static UNSHARED_RUNS: AtomicUsize = AtomicUsize::new(0);
const UNSHARED_CALLERS: usize = 4;

/// Waits (up to 2 s) until every caller runs it side by side.
#[async_cached(
    store = "redis",
    ttl = "10m",
    single_flight = false,
    namespace = "opt:no-flight"
)]
async fn unshared(n: u64) -> u64 {
    UNSHARED_RUNS.fetch_add(1, SeqCst);
    let deadline = Instant::now() + Duration::from_secs(2);
    while UNSHARED_RUNS.load(SeqCst) < UNSHARED_CALLERS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_single_flight_concurrent_callers_each_run_the_body_and_later_ones_read_redis() {
    let server = RedisServer::start();
    use_server("opt:no-flight", &server);
    let callers: Vec<_> = (0..UNSHARED_CALLERS)
        .map(|_| tokio::spawn(unshared(9)))
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap(), 9);
    }
    assert_eq!(UNSHARED_RUNS.load(SeqCst), UNSHARED_CALLERS);
    assert!(exists(&server, "opt:no-flight:9"));
    assert_eq!(unshared(9).await, 9);
    assert_eq!(UNSHARED_RUNS.load(SeqCst), UNSHARED_CALLERS, "a Redis hit");
}

// ---------------------------------------------------------------------------
// namespace and version
// ---------------------------------------------------------------------------

#[cached(store = "redis", ttl = "10m")]
fn default_namespace(n: u64) -> u64 {
    n + 1
}

#[cached(store = "redis", ttl = "10m", namespace = "shop:product")]
fn product(n: u64) -> u64 {
    n + 2
}

#[test]
fn the_namespace_prefixes_every_redis_key_by_default_the_function_path() {
    let server = RedisServer::start();
    let default = DEFAULT_NAMESPACE.namespace();
    assert_eq!(default, "redis_options::default_namespace");
    use_server(default, &server);
    use_server("shop:product", &server);

    assert_eq!(default_namespace(42), 43);
    assert_eq!(product(42), 44);
    let default_key = format!("{default}:42");
    assert_eq!(DEFAULT_NAMESPACE.remote_key(&42), Some(default_key.clone()));
    assert_eq!(PRODUCT.remote_key(&42).as_deref(), Some("shop:product:42"));
    assert!(exists(&server, &default_key));
    assert!(exists(&server, "shop:product:42"));
    assert_eq!(default_namespace(42), 43);
    assert_eq!(product(42), 44);
    assert_eq!(remote(DEFAULT_NAMESPACE.stats()).hits, 1);
    assert_eq!(remote(PRODUCT.stats()).hits, 1);
}

static VERSIONED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", version = 7, namespace = "opt:version")]
fn versioned(n: u64) -> u64 {
    VERSIONED_RUNS.fetch_add(1, SeqCst);
    n * 2
}

#[test]
fn version_tags_the_stored_value_so_an_older_version_s_entry_is_a_miss() {
    let server = RedisServer::start();
    use_server("opt:version", &server);
    assert_eq!(versioned(3), 6);
    let stored = raw_get(&server, "opt:version:3").expect("written");
    let version_7 = memocache_runtime::fingerprint::<u64>(Bincode::ID, 7);
    assert_eq!(stored[2..10], version_7.to_le_bytes(), "version 7's tag");

    // What the code before the bump wrote: the same key, the same type.
    let version_0 = memocache_runtime::fingerprint::<u64>(Bincode::ID, 0);
    let old = memocache_runtime::seal::<Bincode, u64>(&999, version_0, None).unwrap();
    let mut connection = server.client().get_connection().unwrap();
    redis::cmd("SET")
        .arg("opt:version:3")
        .arg(old)
        .query::<()>(&mut connection)
        .unwrap();
    assert_eq!(versioned(3), 6, "not the old version's 999");
    assert_eq!(VERSIONED_RUNS.load(SeqCst), 2, "a miss");
    assert_eq!(versioned(3), 6);
    assert_eq!(VERSIONED_RUNS.load(SeqCst), 2, "overwritten: a Redis hit");
}

// ---------------------------------------------------------------------------
// codec = "json"
// ---------------------------------------------------------------------------

/// An internally tagged enum: bincode cannot read it back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Shape {
    Circle { radius: f64 },
    Square { side: f64 },
}

static DOCUMENT_RUNS: AtomicUsize = AtomicUsize::new(0);
static SHAPE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(
    store = "redis",
    ttl = "10m",
    codec = "json",
    namespace = "opt:json-value"
)]
fn document(n: u64) -> serde_json::Value {
    DOCUMENT_RUNS.fetch_add(1, SeqCst);
    serde_json::json!({ "id": n, "tags": ["a", "b"], "price": 1.5, "note": null })
}

#[cached(
    store = "redis",
    ttl = "10m",
    codec = "json",
    namespace = "opt:json-enum"
)]
fn shape(n: u64) -> Shape {
    SHAPE_RUNS.fetch_add(1, SeqCst);
    if n % 2 == 0 {
        Shape::Circle { radius: n as f64 }
    } else {
        Shape::Square { side: n as f64 }
    }
}

/// The JSON text after the envelope's header, checking the codec's ID.
fn stored_json(server: &RedisServer, key: &str) -> serde_json::Value {
    let stored = raw_get(server, key).expect("written");
    assert_eq!(stored[1], Json::ID, "{key}: the JSON codec's envelope");
    let text = std::str::from_utf8(&stored[memocache_runtime::HEADER_LEN..])
        .unwrap_or_else(|_| panic!("{key}: the payload is not text"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key}: not JSON ({e}): {text}"))
}

#[test]
fn codec_json_stores_json_text_and_carries_types_bincode_cannot() {
    let server = RedisServer::start();
    use_server("opt:json-value", &server);
    use_server("opt:json-enum", &server);
    let value = document(1);
    // The premise: this value does not survive bincode.
    let fingerprint = memocache_runtime::fingerprint::<serde_json::Value>(Bincode::ID, 0);
    let survives_bincode = memocache_runtime::seal::<Bincode, _>(&value, fingerprint, None)
        .ok()
        .and_then(|bytes| {
            memocache_runtime::open::<Bincode, serde_json::Value>(&bytes, fingerprint, usize::MAX)
                .ok()
        })
        .is_some_and(|opened| opened.value == value);
    assert!(!survives_bincode, "pick a type bincode cannot carry");

    assert_eq!(stored_json(&server, "opt:json-value:1"), value);
    assert_eq!(document(1), value);
    assert_eq!(DOCUMENT_RUNS.load(SeqCst), 1, "read back from Redis");

    assert_eq!(shape(2), Shape::Circle { radius: 2.0 });
    assert_eq!(shape(3), Shape::Square { side: 3.0 });
    assert_eq!(
        stored_json(&server, "opt:json-enum:2"),
        serde_json::json!({ "kind": "Circle", "radius": 2.0 })
    );
    assert_eq!(shape(2), Shape::Circle { radius: 2.0 });
    assert_eq!(shape(3), Shape::Square { side: 3.0 });
    assert_eq!(SHAPE_RUNS.load(SeqCst), 2, "read back from Redis");
}

// ---------------------------------------------------------------------------
// invalidate and clear
// ---------------------------------------------------------------------------

static INVALIDATED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(store = "redis", ttl = "10m", namespace = "opt:invalidate")]
fn invalidated(n: u64) -> u64 {
    INVALIDATED_RUNS.fetch_add(1, SeqCst);
    n
}

#[test]
fn invalidate_unlinks_the_redis_key_and_a_del_by_another_client_is_a_miss_too() {
    let server = RedisServer::start();
    use_server("opt:invalidate", &server);
    assert_eq!(invalidated(1), 1);
    assert!(exists(&server, "opt:invalidate:1"));

    server.cli(&["CONFIG", "RESETSTAT"]);
    assert!(INVALIDATED.invalidate(&1), "there was an entry");
    assert_eq!(command_calls(&server, "unlink"), 1);
    assert!(!exists(&server, "opt:invalidate:1"));
    assert!(!INVALIDATED.invalidate(&1), "there is none now");
    assert_eq!(invalidated(1), 1);
    assert_eq!(INVALIDATED_RUNS.load(SeqCst), 2, "a miss after invalidate");

    // Another process deletes the key on update.
    server.cli(&["DEL", "opt:invalidate:1"]);
    assert_eq!(invalidated(1), 1);
    assert_eq!(INVALIDATED_RUNS.load(SeqCst), 3, "a miss after a DEL");
    assert_eq!(invalidated(1), 1);
    assert_eq!(INVALIDATED_RUNS.load(SeqCst), 3);
}

/// A namespace with glob characters, which `clear` must match literally.
const CLEARED_NAMESPACE: &str = "opt:clear[1]";

#[cached(store = "redis", ttl = "10m", namespace = "opt:clear[1]")]
fn cleared(n: u64) -> u64 {
    n
}

#[cached(store = "redis", ttl = "10m", namespace = "opt:kept")]
fn kept(n: u64) -> u64 {
    n
}

#[test]
fn clear_removes_every_key_of_its_namespace_and_no_other() {
    let server = RedisServer::start();
    use_server(CLEARED_NAMESPACE, &server);
    use_server("opt:kept", &server);
    for n in 0..3 {
        assert_eq!(cleared(n), n);
        assert_eq!(kept(n), n);
    }
    // More keys than one SCAN step returns, written by another client.
    let mut connection = server.client().get_connection().unwrap();
    let mut pipe = redis::pipe();
    for i in 0..1_200 {
        pipe.cmd("SET")
            .arg(format!("{CLEARED_NAMESPACE}:other-{i}"))
            .arg(i)
            .ignore();
    }
    // Keys the namespace's pattern would match if its glob characters were not escaped.
    let foreign = [
        "opt:clear1:0",
        "opt:clear]:0",
        "opt:clear[1]x:0",
        "opt:clear:0",
    ];
    for key in foreign {
        pipe.cmd("SET").arg(key).arg("foreign").ignore();
    }
    pipe.query::<()>(&mut connection).unwrap();
    assert_eq!(server.cli(&["DBSIZE"]).trim(), "1210");

    CLEARED.clear();
    for n in 0..3 {
        assert!(!exists(&server, &format!("{CLEARED_NAMESPACE}:{n}")));
        assert!(
            exists(&server, &format!("opt:kept:{n}")),
            "another cache's key"
        );
    }
    for key in foreign {
        assert!(exists(&server, key), "{key} is not in the namespace");
    }
    assert_eq!(server.cli(&["DBSIZE"]).trim(), "7", "3 kept + 4 foreign");
}
