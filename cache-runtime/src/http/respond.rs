//! The answers of the cache: a stored response (or `304 Not Modified`) with
//! the headers that say how old it is and what the cache did, and the
//! handler's own response marked with what the cache did.

use std::io::Write as _;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};

use crate::http::body::CacheBody;
use crate::http::cache::Shared;
use crate::http::conditional::not_modified;
use crate::http::entry::ResponseEntry;
use crate::http::policy::CacheControl;
use crate::http::stats::Event;

/// What the cache did for a request, as its status header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum XCache {
    /// Answered from the cache; the handler did not run for this request.
    Hit,
    /// The handler ran for this request.
    Miss,
    /// The handler failed; an expired response was served.
    Stale,
    /// Not looked up: the request may not be answered from the cache.
    Bypass,
}

impl XCache {
    fn value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            XCache::Hit => "HIT",
            XCache::Miss => "MISS",
            XCache::Stale => "STALE",
            XCache::Bypass => "BYPASS",
        })
    }
}

/// The header values of numbers this thread made last, per kind: a hot
/// entry's `Age` and `max-age` change once a second, so most answers clone
/// one (a reference count, on a value no other thread touches) instead of
/// formatting and allocating.
struct Recent {
    age: Option<(u64, HeaderValue)>,
    max_age: Option<(u64, HeaderValue)>,
}

thread_local! {
    static RECENT: std::cell::RefCell<Recent> = const {
        std::cell::RefCell::new(Recent {
            age: None,
            max_age: None,
        })
    };
}

/// The value of `n` for the slot `pick` chooses, made by `make` unless this
/// thread just made it.
fn recent(
    n: u64,
    pick: fn(&mut Recent) -> &mut Option<(u64, HeaderValue)>,
    make: fn(u64) -> HeaderValue,
) -> HeaderValue {
    RECENT
        .try_with(|recent| {
            let mut recent = recent.try_borrow_mut().ok()?;
            let slot = pick(&mut recent);
            match slot {
                Some((last, value)) if *last == n => Some(value.clone()),
                _ => {
                    let value = make(n);
                    *slot = Some((n, value.clone()));
                    Some(value)
                }
            }
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| make(n))
}

/// `Age: <seconds>`.
fn age(seconds: u64) -> HeaderValue {
    recent(seconds, |recent| &mut recent.age, format_age)
}

/// `<seconds>`.
fn format_age(seconds: u64) -> HeaderValue {
    HeaderValue::from(seconds)
}

/// `max-age=<seconds>`, through this thread's recent values.
fn max_age(seconds: u64) -> HeaderValue {
    recent(seconds, |recent| &mut recent.max_age, format_max_age)
}

/// `max-age=<seconds>`.
fn format_max_age(seconds: u64) -> HeaderValue {
    let mut text = BytesMut::with_capacity(28);
    text.extend_from_slice(b"max-age=");
    let _ = write!(Writer(&mut text), "{seconds}");
    HeaderValue::from_maybe_shared(text.freeze()).expect("digits are a valid header value")
}

/// `io::Write` into a `BytesMut`.
struct Writer<'a>(&'a mut BytesMut);

impl std::io::Write for Writer<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The answer to a `GET` (or, with `head`, a `HEAD`) with `request` headers
/// from the stored `entry`: `304 Not Modified` if the request's validators
/// match (with the headers RFC 9110, 15.4.5, has a `304` carry), else the
/// whole response. Both are clones of header maps made when the entry was
/// stored, whose placeholders get their values here.
pub(crate) fn answer<B>(
    shared: &Shared,
    entry: &ResponseEntry,
    x_cache: XCache,
    request: &HeaderMap,
    head: bool,
) -> Response<CacheBody<B>> {
    let settings = &shared.settings;
    let now_ms = shared.clock.now_ms();
    let age_s = now_ms.saturating_sub(entry.stored_ms) / 1000;
    let age = age(age_s);
    let cache_control = match &settings.cache_control {
        // The lifetime less the `Age` sent with it, both in whole seconds,
        // as a client computes freshness (RFC 9111 § 4.2): rounding each
        // on its own would tell 299 of a 300 s entry a millisecond old.
        CacheControl::Remaining => Some(max_age(match x_cache {
            XCache::Stale => 0,
            _ => (entry.ttl_ms / 1000).saturating_sub(age_s),
        })),
        CacheControl::Lifetime => Some(max_age(entry.ttl_ms / 1000)),
        CacheControl::Fixed(value) => Some(value.clone()),
        CacheControl::Origin => entry.origin_cache_control.clone(),
    };
    let not_modified = not_modified(request, &entry.etag, entry.last_modified_s);
    let (status, mut headers, body) = if not_modified {
        shared.counters.count(Event::NotModified);
        let headers = entry.not_modified_headers.clone();
        (StatusCode::NOT_MODIFIED, headers, CacheBody::empty())
    } else if head {
        (entry.status, entry.headers.clone(), CacheBody::empty())
    } else {
        let body = CacheBody::full(entry.body.clone());
        (entry.status, entry.headers.clone(), body)
    };
    headers.insert(header::AGE, age);
    match cache_control {
        Some(value) => headers.insert(header::CACHE_CONTROL, value),
        None => headers.remove(header::CACHE_CONTROL),
    };
    headers.insert(settings.status_header.clone(), x_cache.value());
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The handler's own response, with the status header; without its body
/// when the request was a `HEAD` the cache sent on as a `GET`.
pub(crate) fn mark<B>(
    mut response: Response<CacheBody<B>>,
    x_cache: XCache,
    status_header: &HeaderName,
    strip_body: bool,
) -> Response<CacheBody<B>> {
    response
        .headers_mut()
        .insert(status_header.clone(), x_cache.value());
    if strip_body {
        *response.body_mut() = CacheBody::empty();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_values() {
        assert_eq!(max_age(0), "max-age=0");
        assert_eq!(max_age(300), "max-age=300");
        assert_eq!(max_age(300), "max-age=300");
        assert_eq!(age(300), "300");
        assert_eq!(max_age(u64::MAX), "max-age=18446744073709551615");
        assert_eq!(age(7), "7");
    }
}
