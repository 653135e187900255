//! Drives the router of `examples/http_cache.rs` through
//! `tower::ServiceExt::oneshot`: the weather endpoint calls its slow
//! upstream once per city per 5 minutes and answers conditional requests
//! with `304`; a `PUT` invalidates the product and the list; `/metrics` and
//! `/cache/stats` show both caches' exact counters.
//!
//! Tokio's clock is paused, so the one-second upstream costs no wall time
//! and the time a request takes on that clock is exact.
#![cfg(all(feature = "http", feature = "serde", feature = "metrics"))]

#[path = "../examples/http_cache.rs"]
#[allow(dead_code)]
mod http_cache;

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::time::Instant;
use tower::ServiceExt;

use http_cache::{app, AppState, UPSTREAM_LATENCY};

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, String, Duration) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
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
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    (parts.status, parts.headers, text, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn the_weather_and_product_endpoints_cache_validate_and_invalidate() {
    let state = AppState::new();
    let upstream = state.upstream.clone();
    let app = app(state);
    let get = |uri: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let app = app.clone();
        async move { send(&app, Method::GET, uri, headers, None).await }
    };

    let (status, miss, body, took) = get("/weather/paris", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(miss["x-cache"], "MISS");
    assert_eq!(miss["cache-control"], "max-age=300");
    assert!(took >= UPSTREAM_LATENCY, "the upstream was called");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["city"], "paris");

    let (_, hit, cached_body, took) = get("/weather/paris", &[]).await;
    assert_eq!(hit["x-cache"], "HIT");
    assert_eq!(cached_body, body);
    assert_eq!(took, Duration::ZERO, "answered without the upstream");

    let etag = miss["etag"].to_str().unwrap().to_owned();
    let (status, _, empty, _) = send(
        &app,
        Method::GET,
        "/weather/paris",
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!((status, empty.as_str()), (StatusCode::NOT_MODIFIED, ""));
    assert_eq!(upstream.calls(), 1);

    let (_, other, _, _) = get("/weather/oslo", &[]).await;
    assert_eq!(other["x-cache"], "MISS");
    assert_eq!(upstream.calls(), 2);

    // Products: cached reads, a write that invalidates the product and the list.
    assert_eq!(get("/products/1", &[]).await.1["x-cache"], "MISS");
    assert_eq!(get("/products/1", &[]).await.1["x-cache"], "HIT");
    assert_eq!(get("/products", &[]).await.1["x-cache"], "MISS");
    assert_eq!(get("/products", &[]).await.1["x-cache"], "HIT");
    let update = json!({ "name": "Mug", "price_cents": 900 });
    let (status, put, _, _) = send(&app, Method::PUT, "/products/1", &[], Some(update)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(put.get("x-cache").is_none());
    let (_, after, body, _) = get("/products/1", &[]).await;
    assert_eq!(after["x-cache"], "MISS");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["name"], "Mug");
    let (_, list, body, _) = get("/products", &[]).await;
    assert_eq!(list["x-cache"], "MISS");
    assert!(body.contains("Mug"));
    let (status, missing, _, _) = get("/products/99", &[]).await;
    assert_eq!(
        (status, missing["x-cache"].to_str().unwrap()),
        (StatusCode::NOT_FOUND, "MISS")
    );

    let (_, _, stats, _) = get("/stats", &[]).await;
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["upstream_calls"], 2);
    assert_eq!(stats["weather"]["hits"], 2);
    assert_eq!(stats["weather"]["not_modified"], 1);
    assert_eq!(stats["products"]["uncacheable"], 1);

    let (status, headers, text, _) = get("/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let metrics = prometheus_values(&text);
    for (namespace, hits, misses, loads, failures, entries) in [
        ("example:weather", 2.0, 2.0, 2.0, 0.0, 2.0),
        ("example:products", 2.0, 5.0, 5.0, 1.0, 2.0),
    ] {
        let value = |name: &str| metrics[&format!("{name}{{namespace=\"{namespace}\"}}")];
        assert_eq!(value("memocache_hits_total"), hits, "{namespace}");
        assert_eq!(value("memocache_misses_total"), misses, "{namespace}");
        assert_eq!(value("memocache_loads_total"), loads, "{namespace}");
        assert_eq!(
            value("memocache_load_failures_total"),
            failures,
            "{namespace}"
        );
        assert_eq!(value("memocache_entries"), entries, "{namespace}");
        assert_eq!(value("memocache_evictions_total"), 0.0, "{namespace}");
        assert_eq!(value("memocache_expirations_total"), 0.0, "{namespace}");
        assert_eq!(value("memocache_errors_total"), 0.0, "{namespace}");
        assert!(
            value("memocache_load_nanoseconds_total") > 0.0,
            "{namespace}"
        );
    }

    let (status, _, reports, _) = get("/cache/stats", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let reports: Vec<Value> = serde_json::from_str(&reports).unwrap();
    assert_eq!(reports.len(), 2, "the two HTTP caches: {reports:?}");
    let weather = &reports[0];
    assert_eq!(weather["namespace"], "example:weather");
    assert_eq!(
        (&weather["kind"], &weather["store"]),
        (&json!("http"), &json!("memory"))
    );
    assert_eq!(
        (&weather["capacity"], &weather["ttl"]),
        (&json!(10_000), &json!(300.0))
    );
    assert_eq!(weather["stats"]["hits"], 2);
    assert_eq!(weather["stats"]["loads"], 2);
    assert_eq!(weather["http"]["not_modified"], 1);
    let products = &reports[1];
    assert_eq!(products["namespace"], "example:products");
    assert_eq!(products["ttl"], 60.0);
    assert_eq!(products["stats"]["load_failures"], 1);
    assert_eq!(products["http"]["invalidations"], 2);
}

/// The samples of a Prometheus text page, by name and labels.
fn prometheus_values(text: &str) -> std::collections::HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}
