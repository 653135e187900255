//! The HTTP cache on the Redis and tiered stores, against throwaway
//! `redis-server`s: responses (and `Vary` records) shared between caches
//! through Redis under readable keys, prefix invalidation reaching Redis,
//! and a Redis outage while serving, which the cache rides out (fail-open).
//!
//! Two caches with one namespace stand for two processes of one service.
#![cfg(all(feature = "http", feature = "redis"))]

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use memocache::http::{HttpCache, Store};
use memocache::redis::{configure_namespace, RedisSettings};
use redis_server::RedisServer;
use tower::ServiceExt;

/// Points the namespace at `server`, with a deadline roomy enough for a
/// loaded test machine.
fn use_server(namespace: &str, server: &RedisServer) {
    let settings = RedisSettings::default()
        .url(server.url())
        .timeout(Duration::from_secs(2));
    configure_namespace(namespace, settings).expect("configured before first use");
}

/// A service: `/{kind}/{id}` answers `{kind} {id} from {name}`, and
/// `/greeting` varies on `Accept-Language`; runs counted.
fn app(cache: &HttpCache, name: &'static str, runs: &Arc<AtomicUsize>) -> Router {
    let (item_runs, greeting_runs) = (runs.clone(), runs.clone());
    Router::new()
        .route(
            "/{kind}/{id}",
            get(move |Path((kind, id)): Path<(String, String)>| async move {
                item_runs.fetch_add(1, SeqCst);
                (
                    [("content-type", "text/plain")],
                    format!("{kind} {id} from {name}"),
                )
            }),
        )
        .route(
            "/greeting",
            get(move |headers: HeaderMap| async move {
                greeting_runs.fetch_add(1, SeqCst);
                let french = headers.get("accept-language").is_some_and(|l| l == "fr");
                (
                    [("vary", "accept-language")],
                    if french { "bonjour" } else { "hello" },
                )
            }),
        )
        .route_layer(cache.clone())
}

async fn fetch(
    app: &Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn redis_keys(server: &RedisServer, pattern: &str) -> Vec<String> {
    let mut keys: Vec<String> = server
        .cli(&["--scan", "--pattern", pattern])
        .lines()
        .map(str::to_owned)
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_and_vary_records_are_shared_through_redis_under_readable_keys() {
    let server = RedisServer::start();
    use_server("test:http:shared", &server);
    let build = || {
        HttpCache::builder("test:http:shared")
            .ttl(Duration::from_secs(300))
            .store(Store::Redis)
            .build()
    };
    let (runs_a, runs_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (cache_a, cache_b) = (build(), build());
    let (a, b) = (app(&cache_a, "a", &runs_a), app(&cache_b, "b", &runs_b));

    let (_, miss, body) = fetch(&a, "/products/42?b=2&a=1", &[]).await;
    assert_eq!(
        (miss["x-cache"].to_str().unwrap(), body.as_str()),
        ("MISS", "products 42 from a")
    );
    assert_eq!(
        redis_keys(&server, "test:http:shared:*"),
        ["test:http:shared:/products/42:a=1&b=2::"]
    );
    let ttl: i64 = server
        .cli(&["PTTL", "test:http:shared:/products/42:a=1&b=2::"])
        .trim()
        .parse()
        .unwrap();
    assert!(
        ttl > 290_000 && ttl <= 300_000,
        "PX from the TTL, got {ttl}"
    );

    let (_, hit, body) = fetch(&b, "/products/42?a=1&b=2", &[]).await;
    assert_eq!(hit["x-cache"], "HIT");
    assert_eq!(body, "products 42 from a", "b answered with a's response");
    assert_eq!(hit["etag"], miss["etag"]);
    assert_eq!(hit["last-modified"], miss["last-modified"]);
    assert_eq!(hit["content-type"], "text/plain");
    assert_eq!(runs_b.load(SeqCst), 0);

    let etag = miss["etag"].to_str().unwrap();
    let (status, _, _) = fetch(&b, "/products/42?a=1&b=2", &[("if-none-match", etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // A response that varies: the record and the variants go through Redis.
    let (_, fr, body) = fetch(&a, "/greeting", &[("accept-language", "fr")]).await;
    assert_eq!(
        (fr["x-cache"].to_str().unwrap(), body.as_str()),
        ("MISS", "bonjour")
    );
    let (_, fr_b, body) = fetch(&b, "/greeting", &[("accept-language", "fr")]).await;
    assert_eq!(
        (fr_b["x-cache"].to_str().unwrap(), body.as_str()),
        ("HIT", "bonjour")
    );
    let (_, en_b, body) = fetch(&b, "/greeting", &[("accept-language", "en")]).await;
    assert_eq!(
        (en_b["x-cache"].to_str().unwrap(), body.as_str()),
        ("MISS", "hello")
    );
    let (_, en_a, body) = fetch(&a, "/greeting", &[("accept-language", "en")]).await;
    assert_eq!(
        (en_a["x-cache"].to_str().unwrap(), body.as_str()),
        ("HIT", "hello")
    );
    assert_eq!((runs_a.load(SeqCst), runs_b.load(SeqCst)), (2, 1));
    assert_eq!(
        redis_keys(&server, "test:http:shared:/greeting:*").len(),
        3,
        "a record, two variants"
    );

    let stats = cache_b.stats();
    assert_eq!(stats.store.remote.map(|r| r.errors), Some(0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidating_a_prefix_deletes_its_redis_keys_for_every_process() {
    let server = RedisServer::start();
    use_server("test:http:prefix", &server);
    let build = || {
        HttpCache::builder("test:http:prefix")
            .store(Store::Redis)
            .build()
    };
    let (runs_a, runs_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (cache_a, cache_b) = (build(), build());
    let (a, b) = (app(&cache_a, "a", &runs_a), app(&cache_b, "b", &runs_b));
    for uri in [
        "/products/1",
        "/products/1?page=2",
        "/products/2",
        "/productsold/1",
        "/users/1",
    ] {
        assert_eq!(fetch(&a, uri, &[]).await.1["x-cache"], "MISS");
        assert_eq!(fetch(&b, uri, &[]).await.1["x-cache"], "HIT");
    }
    assert_eq!(redis_keys(&server, "test:http:prefix:*").len(), 5);

    cache_a.invalidate_path("/products/1").await;
    assert_eq!(
        redis_keys(&server, "test:http:prefix:*"),
        [
            "test:http:prefix:/products/2:::",
            "test:http:prefix:/productsold/1:::",
            "test:http:prefix:/users/1:::",
        ]
    );
    assert_eq!(
        fetch(&b, "/products/1?page=2", &[]).await.1["x-cache"],
        "MISS"
    );

    cache_a.invalidate_path("/products/*").await;
    assert_eq!(
        redis_keys(&server, "test:http:prefix:*"),
        [
            "test:http:prefix:/productsold/1:::",
            "test:http:prefix:/users/1:::",
        ]
    );
    assert_eq!(fetch(&b, "/products/2", &[]).await.1["x-cache"], "MISS");
    assert_eq!(fetch(&b, "/users/1", &[]).await.1["x-cache"], "HIT");

    cache_b.clear().await;
    assert!(redis_keys(&server, "test:http:prefix:*").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_while_serving_is_a_miss_never_an_error() {
    let mut server = RedisServer::start();
    use_server("test:http:outage", &server);
    use_server("test:http:outage-tiered", &server);
    let redis_only = HttpCache::builder("test:http:outage")
        .store(Store::Redis)
        .build();
    let tiered = HttpCache::builder("test:http:outage-tiered")
        .store(Store::Tiered)
        .build();
    let (runs, tiered_runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (app_redis, app_tiered) = (
        app(&redis_only, "r", &runs),
        app(&tiered, "t", &tiered_runs),
    );
    for app in [&app_redis, &app_tiered] {
        assert_eq!(fetch(app, "/items/1", &[]).await.1["x-cache"], "MISS");
        assert_eq!(fetch(app, "/items/1", &[]).await.1["x-cache"], "HIT");
    }

    server.kill();

    // Redis only: every lookup fails, so every request runs the handler,
    // and every one is answered.
    for round in 2..=6 {
        let (status, headers, body) = fetch(&app_redis, "/items/1", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["x-cache"], "MISS");
        assert_eq!(body, "items 1 from r");
        assert_eq!(runs.load(SeqCst), round);
    }
    let (status, _, body) = fetch(&app_redis, "/items/2", &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "items 2 from r"));
    let remote = redis_only.stats().store.remote.expect("a remote tier");
    assert!(
        remote.errors + remote.skipped + remote.timeouts > 0,
        "{remote:?}"
    );

    // Tiered: what is in memory is still served; new keys run the handler.
    assert_eq!(
        fetch(&app_tiered, "/items/1", &[]).await.1["x-cache"],
        "HIT"
    );
    let (status, headers, _) = fetch(&app_tiered, "/items/2", &[]).await;
    assert_eq!(
        (status, headers["x-cache"].to_str().unwrap()),
        (StatusCode::OK, "MISS")
    );
    assert_eq!(
        fetch(&app_tiered, "/items/2", &[]).await.1["x-cache"],
        "HIT"
    );
    assert_eq!(tiered_runs.load(SeqCst), 2);

    // Invalidation with Redis down: the Redis step fails, the rest holds.
    tiered.invalidate_path("/items/*").await;
    assert_eq!(
        fetch(&app_tiered, "/items/1", &[]).await.1["x-cache"],
        "MISS"
    );
}
