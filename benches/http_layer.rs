//! The cost of an answer of the HTTP cache layer, through an axum 0.8 router
//! driven with `tower::ServiceExt::oneshot` on a current-thread tokio
//! runtime (a request built, routed, answered and its body collected):
//!
//! - `baseline_constant`: the route's handler answers a constant response,
//!   without the layer;
//! - `cached_200`: the same route behind `HttpCache` (memory store), warm:
//!   every request is a hit (target: at most 1.5x `baseline_constant`);
//! - `cached_304`: the same hit with a matching `If-None-Match` (target: no
//!   more than `cached_200`);
//! - `cached_head`: a `HEAD` answered from the cached `GET`.
//!
//! Prints the two ratios after the run.
//!
//! `cargo bench --features http --bench http_layer -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use criterion::Criterion;
use http_body_util::BodyExt;
use memocache::http::HttpCache;
use tower::ServiceExt;

/// What the handler answers: a small JSON document, as an API would.
const BODY: &str =
    r#"{"city":"paris","temperature_c":21,"sky":"clear","wind_kmh":12,"humidity":0.41}"#;

async fn constant() -> ([(&'static str, &'static str); 1], &'static str) {
    ([("content-type", "application/json")], BODY)
}

fn router(cache: Option<&HttpCache>) -> Router {
    let route = get(constant);
    let route = match cache {
        Some(cache) => route.route_layer(cache.clone()),
        None => route,
    };
    Router::new().route("/weather/{city}", route)
}

fn request(method: Method, if_none_match: Option<&str>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri("/weather/paris");
    if let Some(etag) = if_none_match {
        request = request.header("if-none-match", etag);
    }
    request.body(Body::empty()).unwrap()
}

/// One request through `app`, its body collected; returns the status.
async fn call(app: &Router, request: Request<Body>) -> StatusCode {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    black_box(response.into_body().collect().await.unwrap().to_bytes());
    status
}

/// Mean time of one iteration of `bench` in `group`/`name`, as criterion
/// saved it.
fn estimate(name: &str) -> Option<f64> {
    let path = format!("target/criterion/http_layer/{name}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let baseline = router(None);
    let cache = HttpCache::builder("bench:http")
        .ttl(Duration::from_secs(3600))
        .build();
    let cached = router(Some(&cache));
    let etag = runtime.block_on(async {
        let response = cached
            .clone()
            .oneshot(request(Method::GET, None))
            .await
            .unwrap();
        assert_eq!(response.headers()["x-cache"], "MISS");
        response.headers()["etag"].to_str().unwrap().to_owned()
    });
    runtime.block_on(async {
        assert_eq!(
            call(&cached, request(Method::GET, None)).await,
            StatusCode::OK
        );
        let conditional = request(Method::GET, Some(&etag));
        assert_eq!(call(&cached, conditional).await, StatusCode::NOT_MODIFIED);
    });

    let mut group = criterion.benchmark_group("http_layer");
    group.bench_function("baseline_constant", |b| {
        b.to_async(&runtime)
            .iter(|| call(&baseline, request(Method::GET, None)));
    });
    group.bench_function("cached_200", |b| {
        b.to_async(&runtime)
            .iter(|| call(&cached, request(Method::GET, None)));
    });
    group.bench_function("cached_304", |b| {
        b.to_async(&runtime)
            .iter(|| call(&cached, request(Method::GET, Some(&etag))));
    });
    group.bench_function("cached_head", |b| {
        b.to_async(&runtime)
            .iter(|| call(&cached, request(Method::HEAD, None)));
    });
    group.finish();

    let stats = cache.stats();
    assert_eq!(
        stats.misses, 1,
        "every measured request was a hit: {stats:?}"
    );
    if let (Some(base), Some(hit), Some(not_modified)) = (
        estimate("baseline_constant"),
        estimate("cached_200"),
        estimate("cached_304"),
    ) {
        println!(
            "http_layer: baseline {base:.0} ns, cached 200 {hit:.0} ns ({:.2}x baseline, target <= 1.5x), \
             304 {not_modified:.0} ns ({:.2}x the cached 200, target <= 1.0x)",
            hit / base,
            not_modified / hit,
        );
    }
    criterion.final_summary();
}
