//! Drives the router of `examples/axum_service.rs` through
//! `tower::ServiceExt::oneshot`, without a socket: reads are cached, a write
//! invalidates, a 404 is not cached, concurrent cold reads hit the database
//! once, the TTL expires entries, and `/stats` reports all of it.
//!
//! Tokio's clock is paused, so the simulated 200 ms database read costs no wall
//! time (and the time a request takes on that clock is exact); the cache's TTL
//! runs on memocache's mock clock. The product cache is a process-wide static,
//! so the whole scenario is one test.

#[path = "../examples/axum_service.rs"]
#[allow(dead_code)]
mod axum_service;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::time::Instant;
use tower::ServiceExt;

use axum_service::{app, AppState, StatsBody, DB_LATENCY, GET_PRODUCT};

/// Sends one request; returns the status, the JSON body and how long the
/// request took on tokio's (paused) clock.
async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value, Duration) {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let started = Instant::now();
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!("{uri} answered {status} with a body that is not JSON ({e}): {bytes:?}")
    });
    (status, json, started.elapsed())
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value, Duration) {
    send(app, Method::GET, uri, None).await
}

#[tokio::test(start_paused = true)]
async fn product_api_caches_reads_and_invalidates_on_writes() {
    let (clock, time) = memocache::Clock::mock();
    assert!(
        GET_PRODUCT.use_clock(clock),
        "the product cache was used before the test"
    );
    let state = AppState::with_sample_data().await;
    let app = app(state.clone());
    let cup = json!({ "id": 1, "name": "Espresso cup", "price_cents": 1200 });

    // A miss: the handler reads the database.
    let (status, body, took) = get(&app, "/products/1").await;
    assert_eq!((status, &body), (StatusCode::OK, &cup));
    assert_eq!(state.db.reads(), 1);
    assert!(took >= DB_LATENCY, "a miss must wait for the database");

    // A hit: same body, no read, no waiting.
    let (status, again, took) = get(&app, "/products/1").await;
    assert_eq!((status, &again), (StatusCode::OK, &cup));
    assert_eq!(
        state.db.reads(),
        1,
        "the repeat was not served from the cache"
    );
    assert_eq!(took, Duration::ZERO, "a hit waited for something");

    // A write invalidates: the next read goes to the database and sees it.
    let mug = json!({ "id": 1, "name": "Mug", "price_cents": 900 });
    let update = json!({ "name": "Mug", "price_cents": 900 });
    let (status, body, _) = send(&app, Method::PUT, "/products/1", Some(update)).await;
    assert_eq!((status, &body), (StatusCode::OK, &mug));
    assert!(
        GET_PRODUCT.get(&1).await.is_none(),
        "PUT left the old entry in place"
    );
    let (status, body, _) = get(&app, "/products/1").await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &mug),
        "a stale product after PUT"
    );
    assert_eq!(state.db.reads(), 2);
    let (_, body, _) = get(&app, "/products/1").await;
    assert_eq!(body, mug);
    assert_eq!(state.db.reads(), 2);

    // A 404 is not cached: each request reads the database.
    for reads in [3, 4] {
        let (status, body, _) = get(&app, "/products/999").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({ "error": "no product 999" }));
        assert_eq!(state.db.reads(), reads, "a 404 was served from the cache");
    }

    // Ten requests for a cold product at the same time: one database read.
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { get(&app, "/products/2").await })
        })
        .collect();
    for request in requests {
        let (status, body, _) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["name"], "Milk jug");
    }
    assert_eq!(
        state.db.reads(),
        5,
        "concurrent requests for one product read it more than once"
    );

    // After the 60 s TTL the entry expires and is read again.
    time.advance(Duration::from_secs(61));
    let (_, body, _) = get(&app, "/products/1").await;
    assert_eq!(body, mug);
    assert_eq!(state.db.reads(), 6, "an entry outlived its TTL");

    // /stats: hits are the two repeats; misses are every request that went to
    // (or waited for) the database: 2 for product 1, 2 for 999, 10 for
    // product 2, 1 after expiry.
    let (status, body, _) = get(&app, "/stats").await;
    assert_eq!(status, StatusCode::OK);
    let stats: StatsBody = serde_json::from_value(body).unwrap();
    // JSON need not carry the ratio's last bit: compare it apart.
    assert!(
        (stats.hit_ratio - 2.0 / 17.0).abs() < 1e-12,
        "hit ratio {}",
        stats.hit_ratio
    );
    assert_eq!(
        stats,
        StatsBody {
            hit_ratio: stats.hit_ratio,
            hits: 2,
            misses: 15,
            evictions: 0,
            expirations: 1,
            errors: 0,
            len: 2,
            capacity: Some(10_000),
            db_reads: 6,
        }
    );
}

#[test]
fn the_handler_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let future = axum_service::get_product(
        axum::extract::State(AppState::default()),
        axum::extract::Path(1),
    );
    assert_send(&future);
}
