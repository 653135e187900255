//! Watching the caches: `memocache::registry()` lists every cache once it is
//! used (and forgets it once dropped), and `Stats` counts loads (runs of the
//! body), the failed ones and their time, exactly, under single-flight too.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use memocache::{async_cached, cached, registry, Cache, CacheReport, Config, Kind, Storage};

/// The report of the one cache listed under `namespace`, if any.
fn report(namespace: &str) -> Option<CacheReport> {
    let mut found = registry()
        .into_iter()
        .filter(|report| report.namespace == namespace);
    let report = found.next();
    assert!(found.next().is_none(), "{namespace} is listed once");
    report
}

#[cached(size = 100, ttl = "10m", namespace = "registry::square")]
fn square(n: u64) -> u64 {
    n * n
}

#[test]
fn a_function_is_listed_on_first_use_with_its_settings_and_stats() {
    assert!(report("registry::square").is_none(), "not used yet");
    square(3);
    square(3);
    square(4);
    let report = report("registry::square").expect("listed on first use");
    assert_eq!(report.kind, Kind::Function);
    assert_eq!(report.store, Storage::Memory);
    assert_eq!(report.capacity, Some(100));
    assert_eq!(report.ttl, Some(Duration::from_secs(600)));
    let stats = report.stats;
    assert_eq!((stats.hits, stats.misses, stats.loads), (1, 2, 2));
    assert_eq!((stats.load_failures, stats.len), (0, 2));
    assert_eq!(
        stats,
        SQUARE.stats(),
        "the registry reads what the handle reads"
    );
    let line = stats.to_string();
    assert!(
        line.starts_with("hits 1, misses 2 (33.3% hits), loads 2 (0 failed"),
        "{line}"
    );
    assert!(line.ends_with("entries 2/100"), "{line}");
}

#[test]
fn a_dropped_cache_leaves_the_registry() {
    let cache = Cache::<u64, u64>::new(Config::new("registry::dropped").size(8));
    assert!(report("registry::dropped").is_none(), "nothing built yet");
    cache.insert(1, 10);
    assert_eq!(report("registry::dropped").expect("listed").stats.len, 1);
    drop(cache);
    assert!(report("registry::dropped").is_none(), "gone with the cache");
}

static SLOW_RUNS: AtomicUsize = AtomicUsize::new(0);
const SLOW_BODY: Duration = Duration::from_millis(100);

#[cached(namespace = "registry::slow")]
fn slow(n: u64) -> u64 {
    SLOW_RUNS.fetch_add(1, SeqCst);
    thread::sleep(SLOW_BODY);
    n + 1
}

#[test]
fn twenty_threads_on_one_cold_key_make_one_load_that_takes_the_body_s_time() {
    let start = Arc::new(Barrier::new(20));
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                slow(7)
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.join().unwrap(), 8);
    }
    let stats = SLOW.stats();
    assert_eq!(SLOW_RUNS.load(SeqCst), 1);
    assert_eq!(stats.loads, 1, "single-flight: one run of the body");
    assert_eq!(stats.hits + stats.misses, 20);
    assert_eq!(stats.load_failures, 0);
    assert!(stats.load_time >= SLOW_BODY, "{:?}", stats.load_time);
    assert_eq!(stats.mean_load_time(), stats.load_time);
}

static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(namespace = "registry::slow_async")]
async fn slow_async(n: u64) -> u64 {
    ASYNC_RUNS.fetch_add(1, SeqCst);
    tokio::time::sleep(SLOW_BODY).await;
    n * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_tasks_on_one_cold_key_make_one_load() {
    let start = Arc::new(tokio::sync::Barrier::new(20));
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                slow_async(21).await
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap(), 42);
    }
    let stats = SLOW_ASYNC.stats();
    assert_eq!(ASYNC_RUNS.load(SeqCst), 1);
    assert_eq!((stats.loads, stats.load_failures), (1, 0));
    assert_eq!(stats.hits + stats.misses, 20);
    assert!(stats.load_time >= SLOW_BODY, "{:?}", stats.load_time);
}

#[cached(namespace = "registry::fallible")]
fn fallible(n: u32) -> Result<u32, String> {
    if n % 2 == 1 {
        Err(format!("{n} is odd"))
    } else {
        Ok(n / 2)
    }
}

#[cached(skip_none, namespace = "registry::maybe")]
fn maybe(n: u32) -> Option<u32> {
    n.checked_sub(1)
}

#[cached(namespace = "registry::boom")]
fn boom(n: u32) -> u32 {
    if n == 0 {
        panic!("no zero");
    }
    n
}

#[test]
fn errors_uncached_nones_and_panics_are_failed_loads() {
    assert!(fallible(1).is_err());
    assert_eq!(fallible(2), Ok(1));
    assert!(
        fallible(1).is_err(),
        "an error is not cached: the body runs again"
    );
    let stats = FALLIBLE.stats();
    assert_eq!((stats.loads, stats.load_failures), (3, 2));

    assert_eq!(maybe(0), None);
    assert_eq!(maybe(5), Some(4));
    let stats = MAYBE.stats();
    assert_eq!((stats.loads, stats.load_failures), (2, 1));

    let panicked = panic::catch_unwind(AssertUnwindSafe(|| boom(0)));
    assert!(panicked.is_err());
    assert_eq!(boom(3), 3);
    let stats = BOOM.stats();
    assert_eq!((stats.loads, stats.load_failures), (2, 1));
}

#[cfg(feature = "serde")]
#[test]
fn reports_serialize_with_durations_in_seconds() {
    #[cached(size = 10, ttl = "90s", namespace = "registry::json")]
    fn halve(n: u64) -> u64 {
        n / 2
    }
    halve(8);
    let json = serde_json::to_value(report("registry::json").expect("listed")).unwrap();
    assert_eq!(json["namespace"], "registry::json");
    assert_eq!(json["kind"], "function");
    assert_eq!(json["store"], "memory");
    assert_eq!(json["capacity"], 10);
    assert_eq!(json["ttl"], 90.0);
    assert_eq!(json["stats"]["misses"], 1);
    assert_eq!(json["stats"]["loads"], 1);
    assert!(json["stats"]["load_time"].is_f64());
    assert!(json["stats"]["remote"].is_null());
}

#[cfg(feature = "http")]
#[tokio::test]
async fn an_http_cache_is_listed_once_with_its_answers() {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use axum::Router;
    use memocache::http::HttpCache;
    use tower::ServiceExt;

    let cache = HttpCache::builder("registry::http")
        .ttl(Duration::from_secs(30))
        .size(50)
        .build();
    let listed = report("registry::http").expect("listed when built");
    assert_eq!((listed.kind, listed.store), (Kind::Http, Storage::Memory));
    assert_eq!(listed.ttl, Some(Duration::from_secs(30)));

    let app = Router::new().route("/", get(|| async { "hello" }).route_layer(cache.clone()));
    for _ in 0..3 {
        let request = Request::get("/").body(Body::empty()).unwrap();
        app.clone().oneshot(request).await.unwrap();
    }
    let listed = report("registry::http").expect("still listed, once");
    let http = listed.http.expect("an HTTP cache's answers");
    assert_eq!((http.hits, http.misses), (2, 1));
    assert_eq!(listed.stats.loads, 1, "the handler ran once");
    assert_eq!(listed.capacity, Some(50));

    drop((app, cache));
    assert!(
        report("registry::http").is_none(),
        "gone with its last clone"
    );
}

/// A Redis cache and a tiered one are listed as such, with their remote
/// tier's counters. No server is needed: the URL is a loopback port nothing
/// listens on, so every Redis operation fails open and counts as an error.
#[cfg(feature = "redis")]
#[test]
fn redis_and_tiered_caches_are_listed_with_their_remote_counters() {
    use memocache::redis::{configure_namespace, RedisSettings};

    #[cached(store = "redis", namespace = "registry::redis")]
    fn remote_only(n: u64) -> u64 {
        n
    }

    #[cached(store = "redis", size = 10, namespace = "registry::tiered")]
    fn tiered(n: u64) -> u64 {
        n
    }

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", closed.local_addr().unwrap());
    drop(closed); // nothing listens there now
    for namespace in ["registry::redis", "registry::tiered"] {
        configure_namespace(namespace, RedisSettings::default().url(url.clone()))
            .expect("configured before first use");
    }
    assert_eq!(remote_only(1), 1, "fail-open");
    assert_eq!(tiered(2), 2, "fail-open");

    for (namespace, store) in [
        ("registry::redis", Storage::Redis),
        ("registry::tiered", Storage::Tiered),
    ] {
        let listed = report(namespace).expect("listed on first use");
        assert_eq!((listed.kind, listed.store), (Kind::Function, store));
        let remote = listed.stats.remote.expect("the remote tier's counters");
        assert!(
            remote.errors + remote.timeouts > 0,
            "{namespace}: {remote:?}"
        );
        assert_eq!(listed.stats.loads, 1, "{namespace}");
    }
}
