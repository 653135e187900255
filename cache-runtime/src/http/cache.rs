//! [`HttpCache`]: the cache of whole HTTP responses, its settings and the
//! handle that invalidates it and reads its stats.

use std::fmt;
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use http::{request, HeaderName, StatusCode};

use crate::call::async_call::AsyncCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::http::entry::Stored;
use crate::http::invalidate::{PathPattern, Tombstones};
use crate::http::key::CacheKey;
use crate::http::policy::{cached_by_default, CacheControl};
use crate::http::stats::{Counters, Event, HttpStats};
use crate::http::time::WallClock;

/// The hook that adds to the key of a request (a tenant header, a user id
/// from an extension), or declines to cache it by returning `None`.
pub type KeyHook = Arc<dyn Fn(&request::Parts) -> Option<String> + Send + Sync>;

/// Where an [`HttpCache`] keeps its responses: the stores of `#[cached]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Store {
    /// In process memory: a sized LRU with TTL entries (the default).
    #[default]
    Memory,
    /// In Redis only, shared by every process (feature `redis`): every
    /// lookup asks Redis, under its deadline; a Redis that fails or is slow
    /// makes lookups misses, never errors.
    #[cfg(feature = "redis")]
    Redis,
    /// In process memory in front of Redis (feature `redis`): hits stay in
    /// the process; a miss asks Redis before running the handler.
    #[cfg(feature = "redis")]
    Tiered,
}

/// The default bound on entries.
pub const DEFAULT_ENTRIES: usize = 1_000;

/// The default TTL of a response.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// The default limit on the size of a stored body.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// What an [`HttpCache`] is asked to do; built by [`HttpCache::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct HttpCacheBuilder {
    namespace: &'static str,
    entries: usize,
    settings: Settings,
    store: Store,
    stale_if_error: bool,
    clock: Option<Clock>,
}

/// The rules the layer applies per request.
pub(crate) struct Settings {
    pub(crate) ttl: Duration,
    pub(crate) max_body: usize,
    /// Statuses stored besides the default ones, or with a TTL of their own.
    pub(crate) statuses: Vec<(StatusCode, Option<Duration>)>,
    pub(crate) client_no_cache: bool,
    pub(crate) client_no_store: bool,
    pub(crate) authorized: bool,
    pub(crate) status_header: HeaderName,
    pub(crate) cache_control: CacheControl,
    pub(crate) key_hook: Option<KeyHook>,
}

impl HttpCacheBuilder {
    /// At most `entries` responses (and `Vary` records) are held in process
    /// memory; the least recently used goes first. Default:
    /// [`DEFAULT_ENTRIES`]. With `Store::Redis` nothing is held in memory.
    /// The bound is in entries: the memory held stays under `entries` times
    /// [`Self::max_body_bytes`] plus headers.
    ///
    /// # Panics
    /// If `entries` is 0.
    pub fn size(mut self, entries: usize) -> Self {
        assert!(entries >= 1, "memocache: size must be at least 1");
        self.entries = entries;
        self
    }

    /// How long a response is fresh after it was stored. Default: [`DEFAULT_TTL`].
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.settings.ttl = ttl;
        self
    }

    /// Bodies larger than this are passed on untouched, not stored. The
    /// limit is checked against the body's size hint before the body is
    /// read, so a body that does not say how long it is (a stream) is never
    /// buffered. Default: [`DEFAULT_MAX_BODY`] (1 MiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_body = bytes;
        self
    }

    /// Also stores responses with `status` (every `2xx` but `206` is stored
    /// by default): `301 Moved Permanently`, `404 Not Found`...
    pub fn cache_status(mut self, status: StatusCode) -> Self {
        self.settings.statuses.retain(|(known, _)| *known != status);
        self.settings.statuses.push((status, None));
        self
    }

    /// Stores responses with `status` for `ttl` (a short negative-caching
    /// TTL for `404`, say).
    pub fn cache_status_for(mut self, status: StatusCode, ttl: Duration) -> Self {
        self.settings.statuses.retain(|(known, _)| *known != status);
        self.settings.statuses.push((status, Some(ttl)));
        self
    }

    /// Whether a request's `Cache-Control: no-cache` (or `Pragma: no-cache`)
    /// makes the cache run the handler and refresh the entry. Default: on.
    /// Turn it off for public APIs whose clients must not bust the cache.
    pub fn client_no_cache(mut self, honour: bool) -> Self {
        self.settings.client_no_cache = honour;
        self
    }

    /// Whether a request's `Cache-Control: no-store` bypasses the cache.
    /// Default: on.
    pub fn client_no_store(mut self, honour: bool) -> Self {
        self.settings.client_no_store = honour;
        self
    }

    /// Whether requests with an `Authorization` header are cached. Default:
    /// off (they bypass the cache), since the response may be the user's
    /// own. Turn it on only with a key hook that puts the user in the key,
    /// or for responses that are the same for every user.
    pub fn cache_authorized(mut self, cache: bool) -> Self {
        self.settings.authorized = cache;
        self
    }

    /// The name of the header that says what the cache did (`HIT`, `MISS`,
    /// `STALE`, `BYPASS`). Default: `x-cache`.
    pub fn status_header(mut self, name: HeaderName) -> Self {
        self.settings.status_header = name;
        self
    }

    /// The `Cache-Control` of the answers. Default: [`CacheControl::Remaining`].
    pub fn cache_control(mut self, policy: CacheControl) -> Self {
        self.settings.cache_control = policy;
        self
    }

    /// Adds to the key of each request what `hook` returns for it (a
    /// tenant header, a user id from an extension), or bypasses the cache
    /// for the request when it returns `None`.
    pub fn key_hook<F>(mut self, hook: F) -> Self
    where
        F: Fn(&request::Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.settings.key_hook = Some(Arc::new(hook));
        self
    }

    /// Where responses are kept. Default: [`Store::Memory`]. For Redis, set
    /// the namespace's Redis settings (`memocache::redis::configure_namespace`)
    /// before the first request, or before [`Self::clock`] builds the store.
    pub fn store(mut self, store: Store) -> Self {
        self.store = store;
        self
    }

    /// When the handler fails (an error of the service, or a `5xx`), answer
    /// with the last good response if one is still held, even expired, for
    /// up to one more TTL (`X-Cache: STALE`). The handler is then left alone
    /// for a retry window of [`crate::DEFAULT_STALE_RETRY`]: the stale
    /// response answers meanwhile, still marked `STALE`.
    pub fn stale_if_error(mut self) -> Self {
        self.stale_if_error = true;
        self
    }

    /// The clock TTLs, `Age` and `Last-Modified` are read from: a mock clock
    /// ([`Clock::mock`]) makes expiry testable. Builds the store at once.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The cache.
    pub fn build(self) -> HttpCache {
        let mut config = Config::<Stored>::new(self.namespace)
            .size(self.entries)
            .ttl(self.settings.longest_ttl())
            .ttl_fn(Stored::ttl_of);
        if self.stale_if_error {
            config = config.stale_if_error();
        }
        let cache = match self.store {
            Store::Memory => AsyncCache::new(config),
            #[cfg(feature = "redis")]
            Store::Redis => AsyncCache::with_remote(
                config.remote_only(),
                crate::remote::redis_tier::<CacheKey, Stored, crate::remote::Bincode>,
            ),
            #[cfg(feature = "redis")]
            Store::Tiered => AsyncCache::with_remote(
                config,
                crate::remote::redis_tier::<CacheKey, Stored, crate::remote::Bincode>,
            ),
        }
        .unlisted(); // the HTTP cache lists itself, with its own counters
        let clock = match self.clock {
            Some(clock) => {
                cache.use_clock(clock.clone());
                clock
            }
            None => Clock::coarse(),
        };
        let origin = new_origin();
        let longest = self.settings.longest_ttl();
        let keep = if self.stale_if_error {
            longest.saturating_mul(2)
        } else {
            longest
        };
        let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        let built = HttpCache {
            shared: Arc::new(Shared {
                cache,
                settings: self.settings,
                clock: WallClock::new(clock),
                tombstones: Tombstones::new(origin, keep_ms),
                counters: Counters::default(),
                namespace: self.namespace,
                store: self.store,
            }),
        };
        crate::http::watch::enlist(&built);
        built
    }
}

/// A number telling this cache's entries from those of other caches and
/// processes.
fn new_origin() -> u64 {
    static MADE: AtomicU64 = AtomicU64::new(0);
    foldhash::fast::RandomState::default().hash_one((
        std::process::id(),
        MADE.fetch_add(1, Relaxed),
        std::time::SystemTime::now(),
    ))
}

impl Settings {
    /// The TTL of a response with `status`, or `None` if it is not stored.
    pub(crate) fn ttl_for(&self, status: StatusCode) -> Option<Duration> {
        match self.statuses.iter().find(|(known, _)| *known == status) {
            Some((_, ttl)) => Some(ttl.unwrap_or(self.ttl)),
            None => cached_by_default(status).then_some(self.ttl),
        }
    }

    fn longest_ttl(&self) -> Duration {
        self.statuses
            .iter()
            .filter_map(|(_, ttl)| *ttl)
            .fold(self.ttl, Duration::max)
    }
}

/// What the layer's services and the handle share.
pub(crate) struct Shared {
    pub(crate) cache: AsyncCache<CacheKey, Stored>,
    pub(crate) settings: Settings,
    pub(crate) clock: WallClock,
    pub(crate) tombstones: Tombstones,
    pub(crate) counters: Counters,
    namespace: &'static str,
    store: Store,
}

impl Shared {
    /// The key of a request, or `None` if the key hook declines it.
    pub(crate) fn key_for(&self, parts: &request::Parts) -> Option<CacheKey> {
        let extra = match &self.settings.key_hook {
            Some(hook) => Some(hook(parts)?),
            None => None,
        };
        let uri = &parts.uri;
        Some(CacheKey::from_parts(
            uri.path(),
            uri.query().unwrap_or_default(),
            extra.as_deref().unwrap_or_default(),
        ))
    }
}

/// A cache of whole HTTP responses, and the [`tower::Layer`] that puts it in
/// front of a service: an axum route (`Router::route_layer`), a whole
/// router (`Router::layer`), or any tower service of `http` requests.
///
/// It answers `GET` and `HEAD` requests from stored `GET` responses, with
/// `ETag`, `Last-Modified`, `Age`, `Cache-Control` and `X-Cache` headers, and
/// `304 Not Modified` to conditional requests, without running the handler;
/// a cold key is computed once however many requests ask for it at the same
/// time. Every other method passes through untouched. Clones share the
/// cache: keep one in your application state to invalidate entries from a
/// write handler.
///
/// [`tower::Layer`]: tower_layer::Layer
///
/// ```
/// use std::time::Duration;
/// use memocache_runtime::http::HttpCache;
/// # use std::convert::Infallible;
/// # use http::{Request, Response};
/// # use tower_layer::Layer;
/// # use tower_service::Service;
///
/// let cache = HttpCache::builder("shop:http")
///     .ttl(Duration::from_secs(300))
///     .size(10_000)
///     .build();
///
/// // With axum: `Router::new().route("/weather/{city}", get(weather)).route_layer(cache.clone())`.
/// // Here, any tower service:
/// let handler = tower_service_fn(|_req: Request<String>| async {
///     Ok::<_, Infallible>(Response::new(String::from("sunny")))
/// });
/// let mut service = cache.layer(handler);
///
/// # pollster::block_on(async {
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let request = || Request::get("/weather/paris").body(String::new()).unwrap();
/// let first = service.call(request()).await.unwrap();
/// assert_eq!(first.headers()["x-cache"], "MISS");
/// let second = service.call(request()).await.unwrap();
/// assert_eq!(second.headers()["x-cache"], "HIT");
/// assert_eq!(second.headers()["cache-control"], "max-age=300");
///
/// // In a write handler:
/// cache.invalidate_path("/weather/*").await;
/// # });
/// # });
/// # fn tower_service_fn<F>(f: F) -> ServiceFn<F> { ServiceFn(f) }
/// # #[derive(Clone)] struct ServiceFn<F>(F);
/// # impl<F: FnMut(R) -> Fut, R, Fut: std::future::Future> Service<R> for ServiceFn<F>
/// # where Fut: std::future::Future<Output = Result<Response<String>, Infallible>> {
/// #     type Response = Response<String>; type Error = Infallible; type Future = Fut;
/// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> { std::task::Poll::Ready(Ok(())) }
/// #     fn call(&mut self, req: R) -> Fut { (self.0)(req) }
/// # }
/// ```
#[derive(Clone)]
pub struct HttpCache {
    pub(crate) shared: Arc<Shared>,
}

impl HttpCache {
    /// A builder for a cache whose entries live under `namespace` (the
    /// Redis key prefix, and the name of its stats).
    pub fn builder(namespace: &'static str) -> HttpCacheBuilder {
        HttpCacheBuilder {
            namespace,
            entries: DEFAULT_ENTRIES,
            settings: Settings {
                ttl: DEFAULT_TTL,
                max_body: DEFAULT_MAX_BODY,
                statuses: Vec::new(),
                client_no_cache: true,
                client_no_store: true,
                authorized: false,
                status_header: HeaderName::from_static("x-cache"),
                cache_control: CacheControl::Remaining,
                key_hook: None,
            },
            store: Store::Memory,
            stale_if_error: false,
            clock: None,
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &'static str {
        self.shared.namespace
    }

    /// Where responses are kept.
    pub fn store(&self) -> Store {
        self.shared.store
    }

    /// The key the cache files a request under (`None` if its key hook
    /// declines the request), to invalidate it with [`Self::invalidate`].
    pub fn key_for(&self, request: &request::Parts) -> Option<CacheKey> {
        self.shared.key_for(request)
    }

    /// Removes the response stored under `key` (every variant of it, when
    /// the response varies on request headers), in every tier; tells
    /// whether there was one. A handler already running for it will not
    /// store its response.
    pub async fn invalidate(&self, key: &CacheKey) -> bool {
        self.shared.cache.invalidate(key).await
    }

    /// Removes the responses of every path `pattern` matches, with any
    /// query, key part or variant: `/products/42` is that path,
    /// `/products/*` every path that starts with `/products/`, `*` every
    /// path. A handler already running for one of them will not have its
    /// response served again.
    ///
    /// In process memory this takes effect at once (see the `invalidate`
    /// module notes: entries are found outdated when next looked up). With
    /// Redis, the matching Redis keys are deleted too (`SCAN MATCH` and
    /// `UNLINK`), so other processes no longer find them there; if Redis
    /// fails, that step is skipped with a `tracing` warning.
    pub async fn invalidate_path(&self, pattern: &str) {
        let pattern = PathPattern::parse(pattern);
        self.shared.counters.count(Event::Invalidation);
        self.shared
            .tombstones
            .add(pattern.clone(), self.shared.clock.now_ms());
        #[cfg(feature = "redis")]
        if self.shared.store != Store::Memory {
            // On the library's runtime: its deadlines need a timer, which
            // the caller's runtime may lack.
            let namespace = self.shared.namespace;
            let removal = crate::remote::redis::runtime::spawn({
                let pattern = pattern.clone();
                async move { crate::http::invalidate::unlink_matching(namespace, &pattern).await }
            })
            .await
            .unwrap_or_else(|error| Err(error.to_string()));
            if let Err(error) = removal {
                tracing::warn!(
                    target: "memocache::http",
                    namespace = self.shared.namespace,
                    "Redis entries of {pattern:?} not removed: {error}"
                );
            }
        }
        #[cfg(not(feature = "redis"))]
        let _ = pattern;
    }

    /// Removes every response, in every tier (Redis: `SCAN MATCH` and
    /// `UNLINK` over the namespace).
    pub async fn clear(&self) {
        self.shared.cache.clear().await;
    }

    /// What the cache did so far, and its store's counters.
    pub fn stats(&self) -> HttpStats {
        self.shared.counters.sum(self.shared.cache.stats())
    }
}

impl fmt::Debug for HttpCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCache")
            .field("namespace", &self.shared.namespace)
            .field("store", &self.shared.store)
            .field("ttl", &self.shared.settings.ttl)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for HttpCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCacheBuilder")
            .field("namespace", &self.namespace)
            .field("entries", &self.entries)
            .field("store", &self.store)
            .field("ttl", &self.settings.ttl)
            .finish_non_exhaustive()
    }
}
