//! The tower layer: which requests the cache looks up, the single-flight
//! lookup of a URL and of its variant, and running the handler on a miss.

use std::future::Future;
use std::hash::BuildHasher as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{request, Method, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::call::async_call::call_async;
use crate::http::body::{self, BoxError, CacheBody, NotCollected};
use crate::http::cache::{HttpCache, Shared};
use crate::http::entry::{ResponseEntry, Stamp, Stored, VaryRecord};
use crate::http::key::CacheKey;
use crate::http::policy::{refusal, Directives};
use crate::http::respond::{answer, mark, XCache};
use crate::http::stats::Event;
use crate::memory::local::ThreadSlot;
use crate::shape::Fallible;

thread_local! {
    /// This thread's front table of the first HTTP cache it serves (other
    /// caches use their stores' own per-thread maps).
    static SLOT: ThreadSlot<CacheKey, Stored> = const { ThreadSlot::new() };
}

impl<S> Layer<S> for HttpCache {
    type Service = HttpCacheService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpCacheService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`HttpCache`] wraps around a service: answers `GET` and
/// `HEAD` from the cache, runs `inner` on a miss, passes every other
/// request to `inner` untouched.
#[derive(Clone)]
pub struct HttpCacheService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for HttpCacheService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCacheService").finish_non_exhaustive()
    }
}

pin_project! {
    /// The future of an [`HttpCacheService`] call: ready at once for an
    /// answer from this thread's front table (no allocation, no task
    /// machinery), else the boxed lookup and handler run.
    pub struct ResponseFuture<T, E> {
        #[pin]
        state: State<T, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<T, E> {
        Ready { answer: Option<Result<T, E>> },
        Running { future: Pin<Box<dyn Future<Output = Result<T, E>> + Send>> },
    }
}

impl<T, E> ResponseFuture<T, E> {
    fn ready(answer: Result<T, E>) -> Self {
        Self {
            state: State::Ready {
                answer: Some(answer),
            },
        }
    }

    fn running(future: impl Future<Output = Result<T, E>> + Send + 'static) -> Self {
        Self {
            state: State::Running {
                future: Box::pin(future),
            },
        }
    }
}

impl<T, E> Future for ResponseFuture<T, E> {
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        match self.project().state.project() {
            StateProj::Ready { answer } => Poll::Ready(
                answer
                    .take()
                    .expect("a ResponseFuture polled after it completed"),
            ),
            StateProj::Running { future } => future.as_mut().poll(cx),
        }
    }
}

impl<T, E> std::fmt::Debug for ResponseFuture<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for HttpCacheService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqB: Send + 'static,
    ResB: Body<Data = Bytes> + Send + 'static,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<CacheBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let lookup = match classify(&shared, request) {
            Classified::Lookup(lookup) => lookup,
            Classified::Pass(request) => {
                let call = self.ready_inner().call(request);
                return ResponseFuture::running(async move {
                    Ok(call.await?.map(CacheBody::passthrough))
                });
            }
            Classified::Bypass(request) => {
                shared.counters.count(Event::Bypass);
                let call = self.ready_inner().call(request);
                return ResponseFuture::running(async move {
                    let response = call.await?.map(CacheBody::passthrough);
                    let name = &shared.settings.status_header;
                    Ok(mark(response, XCache::Bypass, name, false))
                });
            }
        };
        if let Some(answer) = front_answer(&shared, &lookup) {
            // The polled readiness of `inner` stays for the next call.
            return ResponseFuture::ready(Ok(answer));
        }
        let inner = self.ready_inner();
        ResponseFuture::running(serve(shared, inner, lookup))
    }
}

impl<S: Clone> HttpCacheService<S> {
    /// The instance of the inner service that was polled ready, leaving a
    /// clone in its place.
    fn ready_inner(&mut self) -> S {
        let fresh = self.inner.clone();
        std::mem::replace(&mut self.inner, fresh)
    }
}

/// A request on its way: the handler and the request until the handler
/// runs, then the request's headers and what the handler produced.
struct Run<S, ReqB, ResB, E> {
    inner: Option<S>,
    request: Option<Request<ReqB>>,
    headers: Option<HeaderMap>,
    produced: Option<Produced<ResB, E>>,
}

/// What the handler produced for this request.
enum Produced<ResB, E> {
    /// A response now stored (or storable): answered from its entry.
    Fresh(Arc<ResponseEntry>),
    /// A response not stored, passed on; `failed` for a `5xx`.
    Pass {
        response: Response<CacheBody<ResB>>,
        failed: bool,
    },
    /// The service failed.
    Failed(E),
}

/// The result of a handler run that stored nothing under the flight's key.
#[derive(Debug)]
struct NotStored;

/// Which key a handler run stores its response under.
enum Mode<'a> {
    /// The URL's key: the response, or the URL's `Vary` record (and the
    /// response under the variant key the request selects).
    Lead,
    /// A variant key of the URL `url` under its `Vary` record `record`.
    Variant {
        url: &'a CacheKey,
        record: &'a VaryRecord,
    },
    /// No flight: the request asked for a fresh response, which replaces
    /// what is stored.
    Refresh,
}

/// A `GET` or `HEAD` the cache looks up.
struct Lookup<ReqB> {
    parts: request::Parts,
    body: ReqB,
    key: CacheKey,
    head: bool,
    /// The request asked for a fresh response (`no-cache`), and may.
    refresh: bool,
}

/// What the cache does with a request.
enum Classified<ReqB> {
    /// Not a `GET` or `HEAD`: passed on untouched.
    Pass(Request<ReqB>),
    /// A `GET` or `HEAD` the cache may not answer: passed on, marked.
    Bypass(Request<ReqB>),
    Lookup(Lookup<ReqB>),
}

fn classify<ReqB>(shared: &Shared, request: Request<ReqB>) -> Classified<ReqB> {
    let head = request.method() == Method::HEAD;
    if !head && request.method() != Method::GET {
        return Classified::Pass(request);
    }
    let settings = &shared.settings;
    let (parts, body) = request.into_parts();
    let directives = Directives::of(&parts.headers);
    let bypass = (directives.no_store && settings.client_no_store)
        || (!settings.authorized && parts.headers.contains_key(header::AUTHORIZATION))
        || parts.headers.contains_key(header::RANGE);
    let key = if bypass { None } else { shared.key_for(&parts) };
    match key {
        Some(key) => Classified::Lookup(Lookup {
            parts,
            body,
            key,
            head,
            refresh: directives.no_cache && settings.client_no_cache,
        }),
        None => Classified::Bypass(Request::from_parts(parts, body)),
    }
}

/// The value this thread's front table holds for `key`, if any (counted as
/// a hit by the store).
fn front_value(shared: &Shared, key: &CacheKey) -> Option<Stored> {
    let store = shared.cache.store();
    SLOT.try_with(|slot| store.front_lookup(store.local_in(slot), key).ok())
        .ok()
        .flatten()
}

/// The answer from this thread's front table, the whole of the common hit
/// path: no future, no flight. `None` sends the request down the full path.
fn front_answer<ReqB, B>(shared: &Shared, lookup: &Lookup<ReqB>) -> Option<Response<CacheBody<B>>> {
    if lookup.refresh {
        return None;
    }
    let now_ms = shared.clock.now_ms();
    let entry = match front_value(shared, &lookup.key)? {
        Stored::Response(entry) => entry,
        Stored::Vary(record) => {
            if shared
                .tombstones
                .outdated(lookup.key.path(), &record.started, now_ms)
            {
                return None;
            }
            let headers = &lookup.parts.headers;
            let variant = lookup
                .key
                .with_variant(record.epoch, &record.names, headers);
            match front_value(shared, &variant)? {
                Stored::Response(entry) => entry,
                Stored::Vary(_) => return None,
            }
        }
    };
    if shared
        .tombstones
        .outdated(lookup.key.path(), &entry.started, now_ms)
    {
        return None;
    }
    let served = count_served(shared, &entry, now_ms);
    let headers = &lookup.parts.headers;
    Some(answer(shared, &entry, served, headers, lookup.head))
}

/// Counts a response answered from the cache and tells how to mark it: a
/// `STALE` one is past its own TTL, served again within `stale_if_error`'s
/// retry window because the handler failed.
fn count_served(shared: &Shared, entry: &ResponseEntry, now_ms: u64) -> XCache {
    if now_ms >= entry.stored_ms.saturating_add(entry.ttl_ms) {
        shared.counters.count(Event::Stale);
        XCache::Stale
    } else {
        shared.counters.count(Event::Hit);
        XCache::Hit
    }
}

/// The full path: single-flight lookups of the URL and its variant, the
/// handler on a miss, revalidation.
async fn serve<S, ReqB, ResB>(
    shared: Arc<Shared>,
    inner: S,
    lookup: Lookup<ReqB>,
) -> Result<Response<CacheBody<ResB>>, S::Error>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: Body<Data = Bytes>,
    ResB::Error: Into<BoxError>,
{
    let Lookup {
        mut parts,
        body,
        key,
        head,
        refresh,
    } = lookup;
    // A HEAD is answered from a GET: on a miss the handler runs a GET, whose
    // body is stored and left out of this answer.
    parts.method = Method::GET;
    let mut run = Run {
        inner: Some(inner),
        request: Some(Request::from_parts(parts, body)),
        headers: None,
        produced: None,
    };
    if refresh {
        let _ = produce(&shared, &mut run, &key, Mode::Refresh).await;
        return finish(&shared, run, &key, None, head);
    }
    let mut flight_key = key.clone();
    let mut record: Option<Arc<VaryRecord>> = None;
    // Each round either answers or moves on (to the variant, or past an
    // outdated entry it removed); a few rounds are plenty.
    for _ in 0..4 {
        let mode = match &record {
            None => Mode::Lead,
            Some(record) => Mode::Variant { url: &key, record },
        };
        let running = produce(&shared, &mut run, &flight_key, mode);
        let got = call_async(&shared.cache, &SLOT, flight_key.clone(), Fallible, running).await;
        if run.produced.is_some() {
            return finish(&shared, run, &key, got.ok(), head);
        }
        let now_ms = shared.clock.now_ms();
        match got {
            Ok(Stored::Response(entry)) => {
                if shared
                    .tombstones
                    .outdated(key.path(), &entry.started, now_ms)
                {
                    shared.cache.invalidate(&flight_key).await;
                    continue;
                }
                let served = count_served(&shared, &entry, now_ms);
                let request = run.request.as_ref().expect("the handler did not run");
                return Ok(answer(&shared, &entry, served, request.headers(), head));
            }
            Ok(Stored::Vary(found)) if record.is_none() => {
                if shared
                    .tombstones
                    .outdated(key.path(), &found.started, now_ms)
                {
                    shared.cache.invalidate(&key).await;
                    continue;
                }
                let request = run.request.as_ref().expect("the handler did not run");
                flight_key = key.with_variant(found.epoch, &found.names, request.headers());
                record = Some(found);
            }
            Ok(Stored::Vary(_)) | Err(NotStored) => break,
        }
    }
    // Not answered from the cache: the handler runs for this request alone.
    let stored = produce(&shared, &mut run, &key, Mode::Refresh).await.ok();
    finish(&shared, run, &key, stored, head)
}

/// Runs the handler once for this request (a no-op if it already ran) and
/// stores its response under `key` as `mode` says. The response is left in
/// `run.produced`; the result is what the flight of `key` stores.
async fn produce<S, ReqB, ResB>(
    shared: &Shared,
    run: &mut Run<S, ReqB, ResB, S::Error>,
    key: &CacheKey,
    mode: Mode<'_>,
) -> Result<Stored, NotStored>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: Body<Data = Bytes>,
    ResB::Error: Into<BoxError>,
{
    let (Some(mut inner), Some(request)) = (run.inner.take(), run.request.take()) else {
        return Err(NotStored);
    };
    let started = shared.tombstones.started(shared.clock.now_ms());
    run.headers = Some(request.headers().clone());
    let response = match inner.call(request).await {
        Ok(response) => response,
        Err(error) => {
            run.produced = Some(Produced::Failed(error));
            return Err(NotStored);
        }
    };
    let (parts, body) = response.into_parts();
    let ttl = shared.settings.ttl_for(parts.status);
    let refused = refusal(&parts, |status| shared.settings.ttl_for(status).is_some());
    let (Some(ttl), None) = (ttl, refused) else {
        shared.counters.count(Event::Uncacheable);
        let failed = parts.status.is_server_error();
        let response = Response::from_parts(parts, CacheBody::passthrough(body));
        run.produced = Some(Produced::Pass { response, failed });
        return Err(NotStored);
    };
    let bytes = match body::collect(body, shared.settings.max_body).await {
        Ok(bytes) => bytes,
        Err((body, why)) => {
            shared.counters.count(Event::PassedThrough);
            let response = Response::from_parts(parts, body);
            let failed = why == NotCollected::Broken;
            run.produced = Some(Produced::Pass { response, failed });
            return Err(NotStored);
        }
    };
    let stamp = Stamp {
        started,
        stored_ms: shared.clock.now_ms(),
        ttl,
    };
    let status_header = &shared.settings.status_header;
    let entry = Arc::new(ResponseEntry::new(
        parts.status,
        parts.headers,
        bytes,
        stamp,
        status_header,
    ));
    let names = VaryRecord::names(&entry.headers);
    let headers = run.headers.as_ref().expect("set before the handler ran");
    let stored = match (mode, names) {
        (Mode::Lead, None) => Ok(Stored::Response(Arc::clone(&entry))),
        (Mode::Lead, Some(names)) => {
            let record = Arc::new(VaryRecord {
                names,
                epoch: new_epoch(),
                ttl_ms: entry.ttl_ms,
                started,
            });
            let variant = key.with_variant(record.epoch, &record.names, headers);
            let response = Stored::Response(Arc::clone(&entry));
            shared.cache.insert(variant, response).await;
            Ok(Stored::Vary(record))
        }
        (Mode::Variant { record, .. }, Some(names)) if names == record.names => {
            Ok(Stored::Response(Arc::clone(&entry)))
        }
        (Mode::Variant { url, .. }, _) => {
            // The URL's responses now vary otherwise: learn it again.
            shared.cache.invalidate(url).await;
            Err(NotStored)
        }
        (Mode::Refresh, names) => {
            refresh(shared, key, &entry, names, headers).await;
            Err(NotStored)
        }
    };
    run.produced = Some(Produced::Fresh(entry));
    stored
}

/// Stores `entry`, computed outside any flight for the URL `key`, in place
/// of what is stored (reusing the URL's `Vary` record if it names the same
/// headers).
async fn refresh(
    shared: &Shared,
    key: &CacheKey,
    entry: &Arc<ResponseEntry>,
    names: Option<Vec<http::HeaderName>>,
    headers: &HeaderMap,
) {
    let response = Stored::Response(Arc::clone(entry));
    let Some(names) = names else {
        shared.cache.insert(key.clone(), response).await;
        return;
    };
    let known = match shared.cache.get(key).await {
        Some(Stored::Vary(record)) if record.names == names => Some(record),
        _ => None,
    };
    let record = known.unwrap_or_else(|| {
        Arc::new(VaryRecord {
            names,
            epoch: new_epoch(),
            ttl_ms: entry.ttl_ms,
            started: entry.started,
        })
    });
    let variant = key.with_variant(record.epoch, &record.names, headers);
    shared.cache.insert(variant, response).await;
    shared.cache.insert(key.clone(), Stored::Vary(record)).await;
}

/// The answer once the handler ran for this request (or had to but could
/// not). `got`: what the flight returned, an expired response when the
/// cache serves one on error.
fn finish<S, ReqB, ResB, E>(
    shared: &Shared,
    run: Run<S, ReqB, ResB, E>,
    key: &CacheKey,
    got: Option<Stored>,
    head: bool,
) -> Result<Response<CacheBody<ResB>>, E> {
    let headers = run.headers.unwrap_or_default();
    let status_header = &shared.settings.status_header;
    let stale = || match &got {
        Some(Stored::Response(entry))
            if !shared
                .tombstones
                .outdated(key.path(), &entry.started, shared.clock.now_ms()) =>
        {
            Some(Arc::clone(entry))
        }
        _ => None,
    };
    match run.produced {
        Some(Produced::Fresh(entry)) => {
            shared.counters.count(Event::Miss);
            Ok(answer(shared, &entry, XCache::Miss, &headers, head))
        }
        Some(Produced::Pass { response, failed }) => {
            if let Some(entry) = stale().filter(|_| failed) {
                shared.counters.count(Event::Stale);
                return Ok(answer(shared, &entry, XCache::Stale, &headers, head));
            }
            shared.counters.count(Event::Miss);
            Ok(mark(response, XCache::Miss, status_header, head))
        }
        Some(Produced::Failed(error)) => match stale() {
            Some(entry) => {
                shared.counters.count(Event::Stale);
                Ok(answer(shared, &entry, XCache::Stale, &headers, head))
            }
            None => Err(error),
        },
        None => {
            // Unreachable: every round that takes the request leaves what
            // the handler produced. Answer rather than panic in a server.
            let mut response = Response::new(CacheBody::empty());
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            Ok(response)
        }
    }
}

/// A number for a new `Vary` record, unlike the one it replaces.
fn new_epoch() -> u64 {
    static MADE: AtomicU64 = AtomicU64::new(0);
    foldhash::fast::RandomState::default().hash_one(MADE.fetch_add(1, Relaxed))
}
