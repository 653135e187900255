//! What the cache may store and what it answers with: the request directives
//! it honours, the responses it refuses, and the `Cache-Control` of its answers.

use http::header::{self, HeaderMap, HeaderValue};
use http::{response, StatusCode};

/// The `Cache-Control` header of the answers of the cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CacheControl {
    /// `max-age=<seconds the entry has left>` (the default): a client keeps
    /// the response no longer than the cache does. A downstream cache that
    /// also subtracts the `Age` header (RFC 9111 does) keeps it for less:
    /// never longer than this cache, but it asks again sooner. Prefer
    /// [`CacheControl::Lifetime`] behind shared caches or CDNs.
    #[default]
    Remaining,
    /// `max-age=<the entry's TTL>`, constant: with the `Age` header a cache
    /// that follows RFC 9111 computes exactly the time this cache has left.
    Lifetime,
    /// This value on every answer, for example
    /// `public, max-age=60, stale-while-revalidate=30`.
    Fixed(HeaderValue),
    /// The handler's own `Cache-Control`, if it set one.
    Origin,
}

impl CacheControl {
    /// [`CacheControl::Fixed`] with `value`.
    ///
    /// # Panics
    /// If `value` is not a valid header value (it holds a line break).
    pub fn fixed(value: &str) -> Self {
        Self::Fixed(
            HeaderValue::from_str(value).expect("memocache: an invalid Cache-Control value"),
        )
    }
}

/// The directives of a request the cache acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    /// `no-cache` (or `Pragma: no-cache` without a `Cache-Control`):
    /// do not answer from the cache.
    pub(crate) no_cache: bool,
    /// `no-store`: do not store the response.
    pub(crate) no_store: bool,
}

/// Calls `each` with every directive of the `Cache-Control` fields of
/// `headers`, lowercase-insensitive names compared by the caller.
fn directives(headers: &HeaderMap, mut each: impl FnMut(&str)) {
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',') {
            let name = directive.split('=').next().unwrap_or_default().trim();
            if !name.is_empty() {
                each(name);
            }
        }
    }
}

impl Directives {
    /// The directives of a request with `headers`.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let mut found = Self::default();
        if !headers.contains_key(header::CACHE_CONTROL) {
            found.no_cache = headers
                .get_all(header::PRAGMA)
                .iter()
                .any(|value| value.as_bytes().eq_ignore_ascii_case(b"no-cache"));
            return found;
        }
        directives(headers, |name| {
            if name.eq_ignore_ascii_case("no-cache") {
                found.no_cache = true;
            } else if name.eq_ignore_ascii_case("no-store") {
                found.no_store = true;
            }
        });
        found
    }
}

/// Why a response was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A status the cache does not store.
    Status,
    /// The response sets a cookie.
    SetCookie,
    /// `Cache-Control: private`, `no-store` or `no-cache`.
    CacheControl,
    /// `Vary: *`: no request can be known to match it.
    VaryAll,
}

/// Whether a response may be stored, given the statuses that may be.
pub(crate) fn refusal(
    parts: &response::Parts,
    status_ok: impl Fn(StatusCode) -> bool,
) -> Option<Refusal> {
    if !status_ok(parts.status) {
        return Some(Refusal::Status);
    }
    if parts.headers.contains_key(header::SET_COOKIE) {
        return Some(Refusal::SetCookie);
    }
    let mut refused = false;
    directives(&parts.headers, |name| {
        refused |= ["private", "no-store", "no-cache"]
            .iter()
            .any(|refusing| name.eq_ignore_ascii_case(refusing));
    });
    if refused {
        return Some(Refusal::CacheControl);
    }
    let vary_all = parts
        .headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .any(|name| name.trim() == "*");
    vary_all.then_some(Refusal::VaryAll)
}

/// The statuses cached by default: every `2xx` but `206 Partial Content`.
pub(crate) fn cached_by_default(status: StatusCode) -> bool {
    status.is_success() && status != StatusCode::PARTIAL_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn request_directives() {
        let of = |pairs| Directives::of(&headers(pairs));
        assert_eq!(of(&[]), Directives::default());
        assert!(of(&[("cache-control", "No-Cache")]).no_cache);
        assert!(of(&[("cache-control", "max-age=0, no-store")]).no_store);
        assert!(!of(&[("cache-control", "max-age=0")]).no_cache);
        assert!(of(&[("pragma", "no-cache")]).no_cache);
        assert!(!of(&[("pragma", "no-cache"), ("cache-control", "max-age=5")]).no_cache);
    }

    fn response(status: u16, pairs: &[(&'static str, &'static str)]) -> response::Parts {
        let mut builder = http::Response::builder().status(status);
        for (name, value) in pairs {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn refusals() {
        let check = |status, pairs| refusal(&response(status, pairs), cached_by_default);
        assert_eq!(check(200, &[]), None);
        assert_eq!(check(204, &[]), None);
        assert_eq!(check(206, &[]), Some(Refusal::Status));
        assert_eq!(check(404, &[]), Some(Refusal::Status));
        assert_eq!(check(500, &[]), Some(Refusal::Status));
        assert_eq!(
            check(200, &[("set-cookie", "a=b")]),
            Some(Refusal::SetCookie)
        );
        assert_eq!(
            check(200, &[("cache-control", "public, Private")]),
            Some(Refusal::CacheControl)
        );
        assert_eq!(
            check(200, &[("cache-control", "no-store")]),
            Some(Refusal::CacheControl)
        );
        assert_eq!(check(200, &[("cache-control", "max-age=60")]), None);
        assert_eq!(check(200, &[("vary", "accept, *")]), Some(Refusal::VaryAll));
        assert_eq!(check(200, &[("vary", "accept")]), None);
    }
}
