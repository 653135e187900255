//! The HTTP cache layer in front of real axum routers, driven with
//! `tower::ServiceExt::oneshot`: every header rule, `304`s without running
//! the handler, `HEAD` from a cached `GET`, `Vary`, what is never stored,
//! client directives, key hooks, invalidation from a write handler, bodies
//! that must pass through, stale-if-error and single-flight.
//!
//! Time is memocache's mock clock where a test reads `Age` or lets entries
//! expire, so nothing sleeps.
#![cfg(feature = "http")]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use memocache::http::{CacheControl, CacheKey, HttpCache};
use memocache::{Clock, MockTime};
use tower::ServiceExt;

/// What one request got back.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    fn x_cache(&self) -> &str {
        self.header("x-cache")
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

async fn fetch(app: &Router, uri: &str) -> Answer {
    send(app, request(Method::GET, uri, &[])).await
}

async fn fetch_with(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    send(app, request(Method::GET, uri, headers)).await
}

/// Counts the runs of a handler.
#[derive(Clone, Default)]
struct Runs(Arc<AtomicUsize>);

impl Runs {
    fn bump(&self) -> usize {
        self.0.fetch_add(1, SeqCst) + 1
    }

    fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// A cache on a mock clock, with a 300 s TTL.
fn mock_cache(namespace: &'static str) -> (HttpCache, MockTime) {
    let (clock, time) = Clock::mock();
    let cache = HttpCache::builder(namespace)
        .ttl(Duration::from_secs(300))
        .clock(clock)
        .build();
    (cache, time)
}

/// `GET /items/{id}` answering `item {id} v{run}` as text, counted.
fn items(cache: &HttpCache, runs: &Runs) -> Router {
    let runs = runs.clone();
    Router::new().route(
        "/items/{id}",
        get(move |Path(id): Path<String>| async move {
            let run = runs.bump();
            (
                [("content-type", "text/plain")],
                format!("item {id} v{run}"),
            )
        })
        .route_layer(cache.clone()),
    )
}

#[tokio::test]
async fn a_miss_then_a_hit_carry_validators_age_max_age_and_x_cache() {
    let (cache, time) = mock_cache("test:http:basics");
    let runs = Runs::default();
    let app = items(&cache, &runs);

    let first = fetch(&app, "/items/1").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.x_cache(), "MISS");
    assert_eq!(first.body, "item 1 v1");
    assert_eq!(first.header("content-type"), "text/plain");
    assert_eq!(first.header("content-length"), "9");
    assert_eq!(first.header("cache-control"), "max-age=300");
    assert_eq!(first.header("age"), "0");
    let etag = first.header("etag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "a strong tag of the body's hash: {etag}"
    );
    let last_modified = first.header("last-modified").to_owned();
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");

    time.advance(Duration::from_secs(100));
    let second = fetch(&app, "/items/1").await;
    assert_eq!(second.x_cache(), "HIT");
    assert_eq!(second.body, "item 1 v1");
    assert_eq!(second.header("etag"), etag, "computed once, when stored");
    assert_eq!(second.header("last-modified"), last_modified);
    assert_eq!(second.header("age"), "100");
    assert_eq!(second.header("cache-control"), "max-age=200");
    assert_eq!(second.header("content-type"), "text/plain");
    assert_eq!(runs.get(), 1);

    time.advance(Duration::from_secs(200));
    let expired = fetch(&app, "/items/1").await;
    assert_eq!(expired.x_cache(), "MISS");
    assert_eq!(expired.body, "item 1 v2");
    assert_eq!(runs.get(), 2);

    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (1, 2), "{stats:?}");
}

#[tokio::test]
async fn if_none_match_answers_304_from_the_cache_without_running_the_handler() {
    let (cache, time) = mock_cache("test:http:inm");
    let runs = Runs::default();
    let app = items(&cache, &runs);
    let etag = fetch(&app, "/items/7").await.header("etag").to_owned();
    time.advance(Duration::from_secs(10));

    let weak = format!("W/{etag}");
    let list = format!("\"other\", {weak}");
    for matching in [etag.as_str(), weak.as_str(), list.as_str(), "*"] {
        let answer = fetch_with(&app, "/items/7", &[("if-none-match", matching)]).await;
        assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{matching}");
        assert!(answer.body.is_empty());
        assert_eq!(answer.header("etag"), etag);
        assert_eq!(answer.header("x-cache"), "HIT");
        assert_eq!(answer.header("age"), "10");
        assert_eq!(answer.header("cache-control"), "max-age=290");
        assert!(answer.headers.get("content-type").is_none());
        assert_eq!(
            answer.header("content-length"),
            "9",
            "the 200's length (RFC 9110, 8.6)"
        );
    }
    let other = fetch_with(&app, "/items/7", &[("if-none-match", "\"other\"")]).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.body, "item 7 v1");
    assert_eq!(runs.get(), 1, "no conditional request ran the handler");
    assert_eq!(cache.stats().not_modified, 4);

    // On a miss the fresh response is compared too.
    let cold = fetch_with(&app, "/items/8", &[("if-none-match", "*")]).await;
    assert_eq!(cold.status, StatusCode::NOT_MODIFIED);
    assert_eq!(cold.x_cache(), "MISS");
    assert_eq!(runs.get(), 2);
}

#[tokio::test]
async fn if_modified_since_answers_304_unless_if_none_match_is_sent() {
    let (cache, _time) = mock_cache("test:http:ims");
    let runs = Runs::default();
    let app = items(&cache, &runs);
    let last_modified = fetch(&app, "/items/1")
        .await
        .header("last-modified")
        .to_owned();

    let same = fetch_with(&app, "/items/1", &[("if-modified-since", &last_modified)]).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!(same.header("last-modified"), last_modified);

    let later = "Fri, 31 Dec 9999 23:59:59 GMT";
    let answer = fetch_with(&app, "/items/1", &[("if-modified-since", later)]).await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED);

    let earlier = "Sun, 06 Nov 1994 08:49:37 GMT";
    let answer = fetch_with(&app, "/items/1", &[("if-modified-since", earlier)]).await;
    assert_eq!(answer.status, StatusCode::OK);

    let both = [
        ("if-modified-since", later),
        ("if-none-match", "\"not-it\""),
    ];
    let answer = fetch_with(&app, "/items/1", &both).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "If-Modified-Since is ignored when If-None-Match is sent"
    );
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn head_is_answered_from_a_cached_get_and_a_cold_head_stores_the_get() {
    let cache = HttpCache::builder("test:http:head").build();
    let runs = Runs::default();
    let methods = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let app = {
        let (runs, methods) = (runs.clone(), methods.clone());
        Router::new().route(
            "/doc",
            get(move |method: Method| async move {
                runs.bump();
                methods.lock().push(method);
                "the document"
            })
            .route_layer(cache.clone()),
        )
    };

    let head = send(&app, request(Method::HEAD, "/doc", &[])).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.x_cache(), "MISS");
    assert!(head.body.is_empty(), "no body in an answer to HEAD");
    assert_eq!(head.header("content-length"), "12");
    assert_eq!(*methods.lock(), [Method::GET], "the handler got a GET");

    let get_answer = fetch(&app, "/doc").await;
    assert_eq!(get_answer.x_cache(), "HIT");
    assert_eq!(get_answer.body, "the document", "the GET's body was stored");

    let again = send(&app, request(Method::HEAD, "/doc", &[])).await;
    assert_eq!(again.x_cache(), "HIT");
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), get_answer.header("etag"));
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn vary_keeps_one_entry_per_value_of_the_named_request_headers() {
    let cache = HttpCache::builder("test:http:vary").build();
    let runs = Runs::default();
    let app = {
        let runs = runs.clone();
        Router::new().route(
            "/greeting",
            get(move |headers: HeaderMap| async move {
                runs.bump();
                let greeting = match headers.get("accept-language").map(|v| v.as_bytes()) {
                    Some(b"fr") => "bonjour",
                    Some(b"de") => "hallo",
                    _ => "hello",
                };
                ([("vary", "Accept-Language")], greeting)
            })
            .route_layer(cache.clone()),
        )
    };
    let ask = |language: Option<&'static str>| {
        let app = app.clone();
        async move {
            let headers: Vec<(&str, &str)> = language
                .map(|l| vec![("accept-language", l)])
                .unwrap_or_default();
            fetch_with(&app, "/greeting", &headers).await
        }
    };

    let fr = ask(Some("fr")).await;
    assert_eq!((fr.x_cache(), &fr.body[..]), ("MISS", &b"bonjour"[..]));
    assert_eq!(fr.header("vary"), "Accept-Language");
    let de = ask(Some("de")).await;
    assert_eq!((de.x_cache(), &de.body[..]), ("MISS", &b"hallo"[..]));
    let none = ask(None).await;
    assert_eq!((none.x_cache(), &none.body[..]), ("MISS", &b"hello"[..]));
    assert_eq!(runs.get(), 3);

    for (language, body) in [
        (Some("fr"), "bonjour"),
        (Some("de"), "hallo"),
        (None, "hello"),
    ] {
        let again = ask(language).await;
        assert_eq!(again.x_cache(), "HIT", "{language:?}");
        assert_eq!(again.body, body);
    }
    assert_eq!(runs.get(), 3);
    assert_ne!(fr.header("etag"), de.header("etag"));

    // A 304 of a variant carries its Vary.
    let etag = fr.header("etag");
    let conditional = [("accept-language", "fr"), ("if-none-match", etag)];
    let answer = fetch_with(&app, "/greeting", &conditional).await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED);
    assert_eq!(answer.header("vary"), "Accept-Language");

    // Invalidating the URL drops every variant.
    assert!(cache.invalidate(&CacheKey::new("/greeting")).await);
    assert_eq!(ask(Some("de")).await.x_cache(), "MISS");
    assert_eq!(ask(Some("fr")).await.x_cache(), "MISS");
    assert_eq!(runs.get(), 5);
}

#[tokio::test]
async fn the_query_is_order_normalised_and_part_of_the_key() {
    let cache = HttpCache::builder("test:http:query").build();
    let runs = Runs::default();
    let app = items(&cache, &runs);
    assert_eq!(fetch(&app, "/items/1?b=2&a=1").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/items/1?a=1&b=2").await.x_cache(), "HIT");
    assert_eq!(fetch(&app, "/items/1?a=1&&b=2").await.x_cache(), "HIT");
    assert_eq!(fetch(&app, "/items/1?a=2&b=2").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/items/1").await.x_cache(), "MISS");
    assert_eq!(runs.get(), 3);
}

/// A route whose handler answers what `/{case}` names, counted.
fn uncacheable_app(cache: &HttpCache, runs: &Runs) -> Router {
    let runs = runs.clone();
    let handler = move |Path(case): Path<String>| async move {
        runs.bump();
        match case.as_str() {
            "cookie" => ([("set-cookie", "session=1")], "with a cookie").into_response(),
            "private" => ([("cache-control", "private")], "mine").into_response(),
            "no-store" => ([("cache-control", "no-store")], "secret").into_response(),
            "no-cache" => ([("cache-control", "no-cache")], "check").into_response(),
            "vary-all" => ([("vary", "*")], "anything").into_response(),
            "error" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
            "missing" => (StatusCode::NOT_FOUND, "no such thing").into_response(),
            "moved" => {
                (StatusCode::MOVED_PERMANENTLY, [("location", "/elsewhere")]).into_response()
            }
            "partial" => (StatusCode::PARTIAL_CONTENT, "par").into_response(),
            _ => "fine".into_response(),
        }
    };
    Router::new().route("/{case}", get(handler).route_layer(cache.clone()))
}

#[tokio::test]
async fn set_cookie_errors_private_no_store_and_vary_star_are_never_stored() {
    let cache = HttpCache::builder("test:http:uncacheable").build();
    let runs = Runs::default();
    let app = uncacheable_app(&cache, &runs);
    let cases = [
        "cookie", "private", "no-store", "no-cache", "vary-all", "error", "missing", "moved",
        "partial",
    ];
    for case in cases {
        let before = runs.get();
        let first = fetch(&app, &format!("/{case}")).await;
        let second = fetch(&app, &format!("/{case}")).await;
        assert_eq!(runs.get(), before + 2, "{case} was stored");
        assert_eq!(first.x_cache(), "MISS");
        assert_eq!(second.x_cache(), "MISS");
        assert!(
            second.headers.get("etag").is_none(),
            "{case}: passed on as it was"
        );
    }
    let cookie = fetch(&app, "/cookie").await;
    assert_eq!(cookie.header("set-cookie"), "session=1");
    assert_eq!(cache.stats().uncacheable, 2 * cases.len() as u64 + 1);
    assert_eq!(cache.stats().store.len, 0);

    assert_eq!(fetch(&app, "/fine").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/fine").await.x_cache(), "HIT");
}

#[tokio::test]
async fn statuses_301_and_404_are_stored_only_when_asked() {
    let cache = HttpCache::builder("test:http:statuses")
        .cache_status(StatusCode::MOVED_PERMANENTLY)
        .cache_status_for(StatusCode::NOT_FOUND, Duration::from_secs(5))
        .build();
    let runs = Runs::default();
    let app = uncacheable_app(&cache, &runs);
    let moved = fetch(&app, "/moved").await;
    assert_eq!(
        (moved.status, moved.x_cache()),
        (StatusCode::MOVED_PERMANENTLY, "MISS")
    );
    let moved = fetch(&app, "/moved").await;
    assert_eq!(
        (moved.status, moved.x_cache()),
        (StatusCode::MOVED_PERMANENTLY, "HIT")
    );
    assert_eq!(moved.header("location"), "/elsewhere");
    assert_eq!(moved.header("cache-control"), "max-age=60");

    assert_eq!(fetch(&app, "/missing").await.x_cache(), "MISS");
    let missing = fetch(&app, "/missing").await;
    assert_eq!(
        (missing.status, missing.x_cache()),
        (StatusCode::NOT_FOUND, "HIT")
    );
    assert_eq!(missing.body, "no such thing");
    assert_eq!(missing.header("cache-control"), "max-age=5", "its own TTL");
    assert_eq!(runs.get(), 2);
    assert_eq!(fetch(&app, "/error").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/error").await.x_cache(), "MISS");
}

#[tokio::test]
async fn request_no_cache_refreshes_the_entry_and_no_store_bypasses() {
    let cache = HttpCache::builder("test:http:client").build();
    let runs = Runs::default();
    let app = items(&cache, &runs);
    assert_eq!(fetch(&app, "/items/1").await.body, "item 1 v1");

    let refreshed = fetch_with(&app, "/items/1", &[("cache-control", "no-cache")]).await;
    assert_eq!(refreshed.x_cache(), "MISS");
    assert_eq!(refreshed.body, "item 1 v2");
    let after = fetch(&app, "/items/1").await;
    assert_eq!(
        (after.x_cache(), &after.body[..]),
        ("HIT", &b"item 1 v2"[..])
    );

    let pragma = fetch_with(&app, "/items/1", &[("pragma", "no-cache")]).await;
    assert_eq!(pragma.body, "item 1 v3");

    let bypass = fetch_with(&app, "/items/1", &[("cache-control", "no-store")]).await;
    assert_eq!(bypass.x_cache(), "BYPASS");
    assert_eq!(bypass.body, "item 1 v4");
    assert!(bypass.headers.get("etag").is_none());
    let after = fetch(&app, "/items/1").await;
    assert_eq!(after.body, "item 1 v3", "no-store left the entry alone");
    assert_eq!(runs.get(), 4);
    assert_eq!(cache.stats().bypasses, 1);
}

#[tokio::test]
async fn client_directives_can_be_ignored_for_public_apis() {
    let cache = HttpCache::builder("test:http:client-off")
        .client_no_cache(false)
        .client_no_store(false)
        .build();
    let runs = Runs::default();
    let app = items(&cache, &runs);
    fetch(&app, "/items/1").await;
    for directive in ["no-cache", "no-store", "no-cache, no-store"] {
        let answer = fetch_with(&app, "/items/1", &[("cache-control", directive)]).await;
        assert_eq!(answer.x_cache(), "HIT", "{directive}");
    }
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn cache_control_policies_and_the_status_header_name() {
    let fixed = HttpCache::builder("test:http:cc-fixed")
        .cache_control(CacheControl::fixed(
            "public, max-age=60, stale-while-revalidate=30",
        ))
        .status_header(HeaderName::from_static("x-memocache"))
        .build();
    let app = Router::new().route("/", get(|| async { "x" }).route_layer(fixed));
    let answer = fetch(&app, "/").await;
    assert_eq!(
        answer.header("cache-control"),
        "public, max-age=60, stale-while-revalidate=30"
    );
    assert_eq!(answer.header("x-memocache"), "MISS");
    assert!(answer.headers.get("x-cache").is_none());
    assert_eq!(fetch(&app, "/").await.header("x-memocache"), "HIT");

    let (clock, time) = Clock::mock();
    let lifetime = HttpCache::builder("test:http:cc-lifetime")
        .ttl(Duration::from_secs(300))
        .cache_control(CacheControl::Lifetime)
        .clock(clock)
        .build();
    let app = Router::new().route("/", get(|| async { "x" }).route_layer(lifetime));
    fetch(&app, "/").await;
    time.advance(Duration::from_secs(100));
    let answer = fetch(&app, "/").await;
    assert_eq!(answer.header("cache-control"), "max-age=300");
    assert_eq!(
        answer.header("age"),
        "100",
        "with Age, RFC 9111 caches keep it 200 s more"
    );

    let origin = HttpCache::builder("test:http:cc-origin")
        .cache_control(CacheControl::Origin)
        .build();
    let app = Router::new()
        .route(
            "/own",
            get(|| async { ([("cache-control", "public, max-age=5")], "x") }),
        )
        .route("/none", get(|| async { "x" }))
        .route_layer(origin);
    for _ in 0..2 {
        assert_eq!(
            fetch(&app, "/own").await.header("cache-control"),
            "public, max-age=5"
        );
        assert!(fetch(&app, "/none")
            .await
            .headers
            .get("cache-control")
            .is_none());
    }
}

#[tokio::test]
async fn a_key_hook_adds_a_tenant_to_the_key_or_declines_the_request() {
    let cache = HttpCache::builder("test:http:hook")
        .key_hook(|parts| {
            let tenant = parts.headers.get("x-tenant")?;
            Some(tenant.to_str().ok()?.to_owned())
        })
        .build();
    let runs = Runs::default();
    let app = items(&cache, &runs);
    let a = [("x-tenant", "a")];
    let b = [("x-tenant", "b")];
    assert_eq!(fetch_with(&app, "/items/1", &a).await.x_cache(), "MISS");
    assert_eq!(fetch_with(&app, "/items/1", &b).await.x_cache(), "MISS");
    assert_eq!(fetch_with(&app, "/items/1", &a).await.x_cache(), "HIT");
    assert_eq!(fetch_with(&app, "/items/1", &b).await.x_cache(), "HIT");
    assert_eq!(fetch(&app, "/items/1").await.x_cache(), "BYPASS");
    assert_eq!(runs.get(), 3);

    let key = CacheKey::new("/items/1").with_extra("a");
    assert!(cache.invalidate(&key).await);
    assert_eq!(fetch_with(&app, "/items/1", &a).await.x_cache(), "MISS");
    assert_eq!(fetch_with(&app, "/items/1", &b).await.x_cache(), "HIT");
}

#[tokio::test]
async fn authorization_and_range_requests_bypass_the_cache_by_default() {
    let cache = HttpCache::builder("test:http:auth").build();
    let runs = Runs::default();
    let app = items(&cache, &runs);
    fetch(&app, "/items/1").await;
    let auth = [("authorization", "Bearer x")];
    assert_eq!(
        fetch_with(&app, "/items/1", &auth).await.x_cache(),
        "BYPASS"
    );
    assert_eq!(
        fetch_with(&app, "/items/1", &[("range", "bytes=0-1")])
            .await
            .x_cache(),
        "BYPASS"
    );
    assert_eq!(runs.get(), 3);

    let allowing = HttpCache::builder("test:http:auth-allowed")
        .cache_authorized(true)
        .build();
    let app = items(&allowing, &runs);
    assert_eq!(fetch_with(&app, "/items/1", &auth).await.x_cache(), "MISS");
    assert_eq!(fetch_with(&app, "/items/1", &auth).await.x_cache(), "HIT");
}

#[tokio::test]
async fn write_handlers_invalidate_by_key_by_path_by_prefix_and_whole_namespace() {
    let cache = HttpCache::builder("test:http:invalidate").build();
    let runs = Runs::default();
    let read = {
        let runs = runs.clone();
        move |Path(id): Path<String>| async move {
            let run = runs.bump();
            format!("product {id} v{run}")
        }
    };
    let write = |State(cache): State<HttpCache>, Path(id): Path<String>| async move {
        cache.invalidate_path(&format!("/products/{id}")).await;
        StatusCode::NO_CONTENT
    };
    let reset = |State(cache): State<HttpCache>| async move {
        cache.invalidate_path("/products/*").await;
        StatusCode::NO_CONTENT
    };
    let app = Router::new()
        .route(
            "/products/{id}",
            get(read).route_layer(cache.clone()).put(write),
        )
        .route("/products/reset", post(reset))
        .with_state(cache.clone());

    for uri in ["/products/1", "/products/1?page=2", "/products/2"] {
        assert_eq!(fetch(&app, uri).await.x_cache(), "MISS");
        assert_eq!(fetch(&app, uri).await.x_cache(), "HIT");
    }
    let put = send(&app, request(Method::PUT, "/products/1", &[])).await;
    assert_eq!(put.status, StatusCode::NO_CONTENT);
    assert!(put.headers.get("x-cache").is_none(), "writes pass through");
    assert_eq!(fetch(&app, "/products/1").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/products/1?page=2").await.x_cache(), "MISS");
    assert_eq!(
        fetch(&app, "/products/2").await.x_cache(),
        "HIT",
        "another path"
    );
    assert_eq!(
        fetch(&app, "/products/1").await.x_cache(),
        "HIT",
        "stored again"
    );

    send(&app, request(Method::POST, "/products/reset", &[])).await;
    assert_eq!(fetch(&app, "/products/1").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/products/2").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/products/2").await.x_cache(), "HIT");

    assert!(cache.invalidate(&CacheKey::new("/products/2")).await);
    assert!(!cache.invalidate(&CacheKey::new("/products/2")).await);
    assert_eq!(fetch(&app, "/products/2").await.x_cache(), "MISS");

    cache.clear().await;
    assert_eq!(fetch(&app, "/products/1").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/products/2").await.x_cache(), "MISS");
    assert_eq!(cache.stats().invalidations, 2);
}

#[tokio::test]
async fn a_response_computed_before_an_invalidation_is_not_served_after_it() {
    let cache = HttpCache::builder("test:http:inflight").build();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let runs = Runs::default();
    let app = {
        let (gate, runs) = (gate.clone(), runs.clone());
        Router::new().route(
            "/slow/{id}",
            get(move || async move {
                let run = runs.bump();
                if run == 1 {
                    gate.acquire().await.unwrap().forget();
                }
                format!("v{run}")
            })
            .route_layer(cache.clone()),
        )
    };
    // The first read runs while a write invalidates its path.
    let reading = tokio::spawn({
        let app = app.clone();
        async move { fetch(&app, "/slow/1").await }
    });
    while runs.get() == 0 {
        tokio::task::yield_now().await;
    }
    cache.invalidate_path("/slow/1").await;
    gate.add_permits(1);
    let old = reading.await.unwrap();
    assert_eq!((old.x_cache(), &old.body[..]), ("MISS", &b"v1"[..]));
    // What it stored began before the write: it is not served.
    let fresh = fetch(&app, "/slow/1").await;
    assert_eq!((fresh.x_cache(), &fresh.body[..]), ("MISS", &b"v2"[..]));
    assert_eq!(fetch(&app, "/slow/1").await.x_cache(), "HIT");
}

#[tokio::test]
async fn bodies_over_the_limit_pass_through_and_are_not_stored() {
    let cache = HttpCache::builder("test:http:large")
        .max_body_bytes(10)
        .build();
    let runs = Runs::default();
    let app = {
        let runs = runs.clone();
        Router::new().route(
            "/{size}",
            get(move |Path(size): Path<usize>| async move {
                runs.bump();
                "x".repeat(size)
            })
            .route_layer(cache.clone()),
        )
    };
    assert_eq!(fetch(&app, "/10").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/10").await.x_cache(), "HIT");
    for _ in 0..2 {
        let large = fetch(&app, "/11").await;
        assert_eq!(large.x_cache(), "MISS");
        assert_eq!(large.body.len(), 11);
    }
    assert_eq!(runs.get(), 3);
    assert_eq!(cache.stats().passed_through, 2);
}

#[tokio::test]
async fn a_streamed_body_is_passed_on_as_it_streams_never_buffered() {
    let cache = HttpCache::builder("test:http:stream").build();
    let (chunks_tx, chunks_rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let chunks_rx = Arc::new(tokio::sync::Mutex::new(Some(chunks_rx)));
    let app = Router::new().route(
        "/events",
        get(move || async move {
            let receiver = chunks_rx.lock().await.take().expect("one stream");
            let stream = futures::stream::unfold(receiver, |mut receiver| async move {
                let chunk = receiver.recv().await?;
                Some((Ok::<_, Infallible>(chunk), receiver))
            });
            Body::from_stream(stream)
        })
        .route_layer(cache.clone()),
    );
    let response: Response = app
        .oneshot(request(Method::GET, "/events", &[]))
        .await
        .unwrap();
    assert_eq!(response.headers()["x-cache"], "MISS");
    // The answer came while the stream is still open: nothing waited for its end.
    let mut body = response.into_body();
    chunks_tx.send(Bytes::from_static(b"first")).await.unwrap();
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "first");
    chunks_tx.send(Bytes::from_static(b"second")).await.unwrap();
    drop(chunks_tx);
    assert_eq!(body.collect().await.unwrap().to_bytes(), "second");
    assert_eq!(cache.stats().passed_through, 1);
    assert_eq!(cache.stats().store.len, 0);
}

#[tokio::test]
async fn stale_if_error_serves_the_expired_response_when_the_handler_fails() {
    let (clock, time) = Clock::mock();
    let cache = HttpCache::builder("test:http:stale")
        .ttl(Duration::from_secs(60))
        .stale_if_error()
        .clock(clock)
        .build();
    let runs = Runs::default();
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = {
        let (runs, failing) = (runs.clone(), failing.clone());
        Router::new().route(
            "/report",
            get(move || async move {
                let run = runs.bump();
                if failing.load(SeqCst) {
                    (StatusCode::SERVICE_UNAVAILABLE, "down").into_response()
                } else {
                    format!("report v{run}").into_response()
                }
            })
            .route_layer(cache.clone()),
        )
    };
    assert_eq!(fetch(&app, "/report").await.body, "report v1");
    time.advance(Duration::from_secs(61));
    failing.store(true, SeqCst);
    let stale = fetch(&app, "/report").await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.x_cache(), "STALE");
    assert_eq!(stale.body, "report v1");
    assert_eq!(stale.header("cache-control"), "max-age=0");
    assert_eq!(stale.header("age"), "61");
    assert_eq!(runs.get(), 2, "the handler was tried");

    // Within the retry window (10 s by default) the failing handler is left
    // alone: the expired response is served again, still marked stale.
    time.advance(Duration::from_secs(9));
    let again = fetch(&app, "/report").await;
    assert_eq!(
        (again.x_cache(), &again.body[..]),
        ("STALE", &b"report v1"[..])
    );
    assert_eq!(again.header("cache-control"), "max-age=0");
    assert_eq!(runs.get(), 2, "the handler is not run within the window");

    failing.store(false, SeqCst);
    time.advance(Duration::from_secs(2));
    let fresh = fetch(&app, "/report").await;
    assert_eq!(
        (fresh.x_cache(), &fresh.body[..]),
        ("MISS", &b"report v3"[..])
    );
    assert_eq!(cache.stats().stale, 2);

    // Without stale_if_error the failure is passed on.
    let plain = HttpCache::builder("test:http:no-stale").build();
    let app = Router::new().route(
        "/",
        get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }).route_layer(plain),
    );
    assert_eq!(
        fetch(&app, "/").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_of_a_cold_url_run_the_handler_once() {
    let cache = HttpCache::builder("test:http:flight").build();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let runs = Runs::default();
    let app = {
        let (gate, runs) = (gate.clone(), runs.clone());
        Router::new().route(
            "/cold",
            get(move || async move {
                runs.bump();
                let _permit = gate.acquire().await.unwrap();
                "computed once"
            })
            .route_layer(cache.clone()),
        )
    };
    let requests: Vec<_> = (0..200)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { fetch(&app, "/cold").await })
        })
        .collect();
    // Every request has reached the cache (the store counts each as a miss
    // when it claims the key) before the handler may finish.
    while cache.stats().store.misses < 200 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(1);
    let mut x_cache = std::collections::BTreeMap::new();
    for request in requests {
        let answer = request.await.unwrap();
        assert_eq!(answer.body, "computed once");
        *x_cache.entry(answer.x_cache().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(runs.get(), 1);
    assert_eq!(x_cache["MISS"], 1);
    assert_eq!(x_cache["HIT"], 199);
}

#[tokio::test]
async fn on_a_whole_router_other_methods_pass_through_untouched() {
    let cache = HttpCache::builder("test:http:router").build();
    let runs = Runs::default();
    let app = {
        let (reads, writes) = (runs.clone(), runs.clone());
        Router::new()
            .route(
                "/a",
                get(move || async move { format!("read {}", reads.bump()) }),
            )
            .route(
                "/a",
                post(move || async move { format!("write {}", writes.bump()) }),
            )
            .layer(cache.clone())
    };
    assert_eq!(fetch(&app, "/a").await.x_cache(), "MISS");
    assert_eq!(fetch(&app, "/a").await.x_cache(), "HIT");
    for _ in 0..2 {
        let post = send(&app, request(Method::POST, "/a", &[])).await;
        assert!(post.body.starts_with(b"write"));
        assert!(post.headers.get("x-cache").is_none());
        assert!(post.headers.get("etag").is_none());
    }
    let missing = fetch(&app, "/nowhere").await;
    assert_eq!(
        (missing.status, missing.x_cache()),
        (StatusCode::NOT_FOUND, "MISS")
    );
    assert_eq!(runs.get(), 3);
}

#[tokio::test]
async fn a_handlers_own_etag_is_kept_and_compared() {
    let cache = HttpCache::builder("test:http:own-etag").build();
    let app = Router::new().route(
        "/",
        get(|| async {
            let mut headers = HeaderMap::new();
            headers.insert("etag", HeaderValue::from_static("W/\"v42\""));
            (headers, "body")
        })
        .route_layer(cache),
    );
    assert_eq!(fetch(&app, "/").await.header("etag"), "W/\"v42\"");
    let answer = fetch_with(&app, "/", &[("if-none-match", "\"v42\"")]).await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED);
}
