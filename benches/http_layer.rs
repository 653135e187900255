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
//! - `cached_200_other_tag`: a hit whose `If-None-Match` does not match: a
//!   request of the same size as the `304`'s, answered `200`;
//! - `cached_head`: a `HEAD` answered from the cached `GET`.
//!
//! The machine this runs on is shared, so after criterion's own runs the
//! variants are also timed interleaved, round after round, and the ratios
//! are taken from the fastest round of each (what the code costs when
//! nothing else runs) and from the medians. `baseline_route_layer` (the
//! baseline behind a layer that does nothing) shows what axum itself charges
//! for any `route_layer`.
//!
//! `cargo bench -p memocache-benches --features http --bench http_layer -- --warm-up-time 1 --measurement-time 3`
//!
//! Instructions per request, exact and repeatable (`scripts/http_instructions.sh`
//! runs this for every variant): `HTTP_LAYER_INSTRUCTIONS=cached_304:20000`
//! runs 20 000 requests of one variant under the same setup and exits;
//! callgrind's count for N and 2N requests, differenced, is the cost of N.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
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

/// The baseline behind a layer that does nothing.
fn router_with_identity_layer() -> Router {
    let route = get(constant).route_layer(tower::layer::util::Identity::new());
    Router::new().route("/weather/{city}", route)
}

/// A request as a client sends it (`accept`, `user-agent`), with an
/// `If-None-Match` if given.
fn request(method: Method, if_none_match: Option<&HeaderValue>) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri("/weather/paris")
        .header(header::ACCEPT, HeaderValue::from_static("application/json"))
        .header(header::USER_AGENT, HeaderValue::from_static("bench/1.0"));
    if let Some(etag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, etag.clone());
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

/// `VARIANT:N` in this variable runs N requests of one variant and exits.
const INSTRUCTIONS_VARIABLE: &str = "HTTP_LAYER_INSTRUCTIONS";

/// Rounds of the interleaved timing.
const ROUNDS: usize = 60;

/// Requests per variant per round.
const ROUND_REQUESTS: u32 = 1_000;

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
    let layered = router_with_identity_layer();
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
        response.headers()["etag"].clone()
    });
    runtime.block_on(async {
        assert_eq!(
            call(&cached, request(Method::GET, None)).await,
            StatusCode::OK
        );
        let conditional = request(Method::GET, Some(&etag));
        assert_eq!(call(&cached, conditional).await, StatusCode::NOT_MODIFIED);
    });

    let other_tag = HeaderValue::from_static("\"not-the-tag\"");
    let variants: [(&str, &Router, Option<&HeaderValue>, Method); 6] = [
        ("baseline_constant", &baseline, None, Method::GET),
        ("baseline_route_layer", &layered, None, Method::GET),
        ("cached_200", &cached, None, Method::GET),
        ("cached_304", &cached, Some(&etag), Method::GET),
        (
            "cached_200_other_tag",
            &cached,
            Some(&other_tag),
            Method::GET,
        ),
        ("cached_head", &cached, None, Method::HEAD),
    ];
    if let Ok(only) = std::env::var(INSTRUCTIONS_VARIABLE) {
        // `VARIANT:N`: N requests of one variant and nothing else, for an
        // instruction count under callgrind (exact where time is not).
        let (name, n) = only.split_once(':').expect("VARIANT:N");
        let n: u32 = n.parse().expect("a number of requests");
        let (_, app, etag, method) = variants
            .iter()
            .find(|(variant, ..)| *variant == name)
            .expect("a variant of this bench");
        runtime.block_on(async {
            for _ in 0..n {
                black_box(call(app, request(method.clone(), *etag)).await);
            }
        });
        return;
    }
    let mut group = criterion.benchmark_group("http_layer");
    group.bench_function("baseline_constant", |b| {
        b.to_async(&runtime)
            .iter(|| call(&baseline, request(Method::GET, None)));
    });
    group.bench_function("baseline_route_layer", |b| {
        b.to_async(&runtime)
            .iter(|| call(&layered, request(Method::GET, None)));
    });
    group.bench_function("cached_200", |b| {
        b.to_async(&runtime)
            .iter(|| call(&cached, request(Method::GET, None)));
    });
    group.bench_function("cached_304", |b| {
        b.to_async(&runtime)
            .iter(|| call(&cached, request(Method::GET, Some(&etag))));
    });
    group.bench_function("cached_200_other_tag", |b| {
        b.to_async(&runtime)
            .iter(|| call(&cached, request(Method::GET, Some(&other_tag))));
    });
    group.bench_function("cached_head", |b| {
        b.to_async(&runtime)
            .iter(|| call(&cached, request(Method::HEAD, None)));
    });
    group.finish();

    let variants: [(&str, &Router, Option<&HeaderValue>, Method); 6] = [
        ("baseline_constant", &baseline, None, Method::GET),
        ("baseline_route_layer", &layered, None, Method::GET),
        ("cached_200", &cached, None, Method::GET),
        ("cached_304", &cached, Some(&etag), Method::GET),
        (
            "cached_200_other_tag",
            &cached,
            Some(&other_tag),
            Method::GET,
        ),
        ("cached_head", &cached, None, Method::HEAD),
    ];
    let rounds: Vec<Vec<f64>> = (0..ROUNDS)
        .map(|_| {
            variants
                .iter()
                .map(|(_, app, etag, method)| {
                    let started = Instant::now();
                    runtime.block_on(async {
                        for _ in 0..ROUND_REQUESTS {
                            black_box(call(app, request(method.clone(), *etag)).await);
                        }
                    });
                    started.elapsed().as_nanos() as f64 / ROUND_REQUESTS as f64
                })
                .collect()
        })
        .collect();
    let per_variant = |i: usize| {
        let mut times: Vec<f64> = rounds.iter().map(|round| round[i]).collect();
        times.sort_by(f64::total_cmp);
        (times[0], times[times.len() / 2])
    };
    println!("\nhttp_layer, interleaved: {ROUNDS} rounds of {ROUND_REQUESTS} requests per variant");
    let figures: Vec<(f64, f64)> = (0..variants.len()).map(per_variant).collect();
    for ((name, ..), (min, median)) in variants.iter().zip(&figures) {
        println!("  {name:<22} fastest round {min:>7.0} ns   median {median:>7.0} ns");
    }
    let ratio = |a: usize, b: usize| (figures[a].0 / figures[b].0, figures[a].1 / figures[b].1);
    let (hit_min, hit_median) = ratio(2, 0);
    let (nm_min, nm_median) = ratio(3, 2);
    let (same_min, same_median) = ratio(3, 4);
    let (layered_min, _) = ratio(1, 0);
    println!(
        "  cached 200 / baseline: {hit_min:.2}x fastest, {hit_median:.2}x median (target <= 1.5x); \
         an identity route_layer alone: {layered_min:.2}x"
    );
    println!(
        "  304 / cached 200:      {nm_min:.2}x fastest, {nm_median:.2}x median (target <= 1.0x)"
    );
    println!(
        "  304 / cached 200 asked with another tag (a request of the same size): \
         {same_min:.2}x fastest, {same_median:.2}x median"
    );

    let stats = cache.stats();
    assert_eq!(
        stats.misses, 1,
        "every measured request was a hit: {stats:?}"
    );
    criterion.final_summary();
}
