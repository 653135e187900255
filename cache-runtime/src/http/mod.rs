//! HTTP response caching (feature `http`): [`HttpCache`], a tower layer that
//! caches whole responses of `GET` and `HEAD` requests on memocache's stores
//! and speaks HTTP to clients and proxies.
//!
//! Its modules, one concept each: `key` (the key of a response,
//! [`CacheKey`]: path, order-normalised query, a key hook's part, and the
//! request headers the response's `Vary` names), `policy` (what may be
//! stored, and the `Cache-Control` of the answers), `entry` (a stored
//! response, its `ETag` and `Last-Modified` computed once when it is
//! stored), `body` (collecting a body within a size bound; the body of an
//! answer), `conditional` (`If-None-Match`, `If-Modified-Since`), `respond`
//! (the answers and their headers), `invalidate` (paths and path prefixes),
//! `layer` (the tower layer and the lookup path), `cache` (the handle and
//! its builder) and `stats`.
//!
//! # What is cached
//!
//! `GET` responses with a status of `2xx` (not `206`), or one added with
//! [`HttpCacheBuilder::cache_status`], without `Set-Cookie`, without
//! `Cache-Control: private`, `no-store` or `no-cache`, without `Vary: *`,
//! whose body says it is at most [`HttpCacheBuilder::max_body_bytes`] long.
//! A body of unknown length (a stream) is passed on untouched, never read
//! into memory. A `HEAD` is answered from a stored `GET`, and on a miss the
//! handler gets a `GET` so that the whole response is stored.
//!
//! Requests with `Cache-Control: no-store`, `Authorization` (unless
//! [`HttpCacheBuilder::cache_authorized`]) or `Range`, or that the key hook
//! declines, bypass the cache. Every method but `GET` and `HEAD` passes
//! through untouched, without a status header.
//!
//! # Headers
//!
//! Answers carry `ETag` (strong, the XXH3-128 hash of the body computed
//! when the response was stored, unless the handler set one),
//! `Last-Modified` (the handler's, else the time it was stored), `Age`,
//! `Cache-Control` ([`CacheControl`]; by default `max-age=` what the entry
//! has left) and `X-Cache`: `HIT` (answered from the cache: the handler did
//! not run for this request, also when it waited for a concurrent request
//! that ran it), `MISS` (the handler ran for it), `STALE` (the handler failed
//! and an expired response was served, with
//! [`HttpCacheBuilder::stale_if_error`]) or `BYPASS`.
//!
//! `If-None-Match` (a list of tags compared weakly, or `*`) and, only
//! without it, `If-Modified-Since` are answered `304 Not Modified` from the
//! stored response, without a body and without running the handler.
//!
//! A request's `Cache-Control: no-cache` runs the handler and stores its
//! response in place of the old one; `no-store` bypasses the cache. Both
//! can be turned off ([`HttpCacheBuilder::client_no_cache`],
//! [`HttpCacheBuilder::client_no_store`]).
//!
//! # Stores
//!
//! [`Store::Memory`] (a sized LRU with TTL entries), and with the `redis`
//! feature `Store::Redis` and `Store::Tiered`. A cold key is computed
//! once however many requests ask for it at the same time (per process);
//! a store that fails (Redis down, slow, refusing) is a miss, never an
//! error.

mod body;
mod cache;
mod conditional;
mod entry;
mod invalidate;
mod key;
mod layer;
mod policy;
mod respond;
mod stats;
mod time;
mod watch;

pub use body::{BoxError, CacheBody};
pub use cache::{
    HttpCache, HttpCacheBuilder, KeyHook, Store, DEFAULT_ENTRIES, DEFAULT_MAX_BODY, DEFAULT_TTL,
};
pub use key::CacheKey;
pub use layer::{HttpCacheService, ResponseFuture};
pub use policy::CacheControl;
pub use stats::HttpStats;
