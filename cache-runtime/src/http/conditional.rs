//! Conditional requests (RFC 9110, section 13) as an origin server answers
//! them from a cached response: `If-None-Match` (a list of entity tags or
//! `*`, compared weakly) and, only without it, `If-Modified-Since`.

use http::header::{self, HeaderMap, HeaderValue};

/// Whether a `GET` or `HEAD` with `request` headers is answered `304 Not
/// Modified` for a stored response with entity tag `etag`, last modified at
/// `last_modified_s` (seconds since the Unix epoch).
pub(crate) fn not_modified(request: &HeaderMap, etag: &HeaderValue, last_modified_s: u64) -> bool {
    let mut if_none_match = request.get_all(header::IF_NONE_MATCH).iter().peekable();
    if if_none_match.peek().is_some() {
        // A recipient must ignore If-Modified-Since when If-None-Match is present.
        return if_none_match.any(|list| list_matches(list.as_bytes(), etag.as_bytes()));
    }
    request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| httpdate::parse_http_date(text).ok())
        .and_then(|since| since.duration_since(std::time::UNIX_EPOCH).ok())
        .is_some_and(|since| last_modified_s <= since.as_secs())
}

/// The opaque tag of an entity tag (`"xyz"` with its quotes), without `W/`.
fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// Whether an `If-None-Match` field value (`*`, or entity tags separated by
/// commas) matches `etag` under the weak comparison: opaque tags equal, `W/`
/// ignored. A malformed member ends the list (what came before still counts).
pub(crate) fn list_matches(list: &[u8], etag: &[u8]) -> bool {
    let wanted = opaque(etag);
    let mut rest = list;
    loop {
        rest = trim_start(rest, |b| b == b' ' || b == b'\t' || b == b',');
        if rest.is_empty() {
            return false;
        }
        if rest[0] == b'*' {
            return true;
        }
        let tag_start = rest.strip_prefix(b"W/").unwrap_or(rest);
        if tag_start.first() != Some(&b'"') {
            return false;
        }
        // An entity tag holds no `"` of its own, but may hold commas.
        let Some(close) = tag_start[1..].iter().position(|&b| b == b'"') else {
            return false;
        };
        let tag = &tag_start[..close + 2];
        if tag == wanted {
            return true;
        }
        rest = &tag_start[close + 2..];
    }
}

fn trim_start(bytes: &[u8], skip: impl Fn(u8) -> bool) -> &[u8] {
    let start = bytes.iter().position(|&b| !skip(b)).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_compare_weakly() {
        let etag = b"\"abc\"";
        assert!(list_matches(b"\"abc\"", etag));
        assert!(list_matches(b"W/\"abc\"", etag));
        assert!(list_matches(b"\"x\", W/\"abc\"", etag));
        assert!(list_matches(b"\"x\",\"abc\"", etag));
        assert!(list_matches(b"*", etag));
        assert!(list_matches(b"\"abc\"", b"W/\"abc\""));
        assert!(list_matches(b"\"a,b\", \"abc\"", etag));
        assert!(!list_matches(b"\"ab\"", etag));
        assert!(!list_matches(b"\"abcd\"", etag));
        assert!(!list_matches(b"abc", etag));
        assert!(!list_matches(b"", etag));
        assert!(!list_matches(b"\"unterminated", etag));
    }

    #[test]
    fn if_modified_since_applies_only_without_if_none_match() {
        let etag = HeaderValue::from_static("\"abc\"");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert!(not_modified(&headers, &etag, 784_111_777));
        assert!(not_modified(&headers, &etag, 784_111_000));
        assert!(!not_modified(&headers, &etag, 784_111_778));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!not_modified(&headers, &etag, 784_111_000));
        headers.append(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\""));
        assert!(not_modified(&headers, &etag, u64::MAX));
        let mut bad_date = HeaderMap::new();
        bad_date.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("yesterday"),
        );
        assert!(!not_modified(&bad_date, &etag, 0));
    }
}
