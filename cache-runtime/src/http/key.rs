//! The key of a cached response: path, order-normalised query, the part a
//! key hook adds, and (for a response that varies) the request headers its
//! `Vary` names.

use std::fmt;

use http::{HeaderMap, HeaderName};

/// The key of one cached response, as [`HttpCache`](crate::http::HttpCache)
/// derives it from a request: the path, the query with its parameters in a
/// normalised order, and the part the cache's key hook adds (empty without
/// one). The method is not part of it: a `HEAD` is answered from a cached
/// `GET`.
///
/// The query is normalised by sorting its parameters by name (a stable sort,
/// so repeated names keep their order: `b=2&a=1&a=0` is `a=1&a=0&b=2`) and
/// dropping empty parameters (`a=1&&b=2` is `a=1&b=2`); names and values are
/// compared as sent, percent-escapes included.
///
/// ```
/// use memocache_runtime::http::CacheKey;
///
/// let key = CacheKey::new("/products?page=2&sort=name&limit=20");
/// assert_eq!(key.path(), "/products");
/// assert_eq!(key.query(), "limit=20&page=2&sort=name");
/// assert_eq!(key, CacheKey::new("/products?sort=name&limit=20&page=2"));
/// assert_ne!(key, key.clone().with_extra("tenant-a"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// Path, query, extra part and variant, one after the other.
    text: String,
    path_end: u32,
    query_end: u32,
    extra_end: u32,
}

impl CacheKey {
    /// The key of `path_and_query` (`/products?page=2`), as a request for it
    /// without a key hook would have.
    pub fn new(path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, query),
            None => (path_and_query, ""),
        };
        Self::from_parts(path, query, "")
    }

    /// The key of `path` with `query` (no leading `?`) and the extra part
    /// `extra` (what the key hook returned for the request).
    pub fn from_parts(path: &str, query: &str, extra: &str) -> Self {
        let mut text = String::with_capacity(path.len() + query.len() + extra.len());
        text.push_str(path);
        let path_end = offset(&text);
        push_normalised_query(&mut text, query);
        let query_end = offset(&text);
        text.push_str(extra);
        let extra_end = offset(&text);
        Self {
            text,
            path_end,
            query_end,
            extra_end,
        }
    }

    /// This key with its extra part replaced by `extra`.
    pub fn with_extra(self, extra: &str) -> Self {
        Self::from_parts(self.path(), self.query(), extra)
    }

    /// The path.
    pub fn path(&self) -> &str {
        &self.text[..self.path_end as usize]
    }

    /// The normalised query, without the `?`.
    pub fn query(&self) -> &str {
        &self.text[self.path_end as usize..self.query_end as usize]
    }

    /// The part the key hook added (empty without one).
    pub fn extra(&self) -> &str {
        &self.text[self.query_end as usize..self.extra_end as usize]
    }

    /// The variant part: empty for the key of a URL, else the epoch of the
    /// URL's `Vary` record and the request's values of the headers it names.
    pub(crate) fn variant(&self) -> &str {
        &self.text[self.extra_end as usize..]
    }

    /// The key of the variant of this URL that a request with `headers`
    /// selects, among the variants stored under the `Vary` record `epoch`
    /// that names `names`.
    pub(crate) fn with_variant(
        &self,
        epoch: u64,
        names: &[HeaderName],
        headers: &HeaderMap,
    ) -> Self {
        let mut text = String::with_capacity(self.extra_end as usize + 16 + 16 * names.len());
        text.push_str(&self.text[..self.extra_end as usize]);
        push_variant(&mut text, epoch, names, headers);
        Self {
            text,
            path_end: self.path_end,
            query_end: self.query_end,
            extra_end: self.extra_end,
        }
    }
}

fn offset(text: &str) -> u32 {
    u32::try_from(text.len()).expect("memocache: a request target over 4 GiB")
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("CacheKey");
        debug
            .field("path", &self.path())
            .field("query", &self.query())
            .field("extra", &self.extra());
        if !self.variant().is_empty() {
            debug.field("variant", &self.variant());
        }
        debug.finish()
    }
}

/// The name of a query parameter: what comes before its `=`.
fn name_of(parameter: &str) -> &str {
    parameter
        .split_once('=')
        .map_or(parameter, |(name, _)| name)
}

/// Appends `query` with its parameters sorted by name (stably) and empty
/// ones dropped. A query already in that form is copied as it is.
fn push_normalised_query(out: &mut String, query: &str) {
    let mut previous: Option<&str> = None;
    let normal = query.split('&').all(|parameter| {
        let name = name_of(parameter);
        let in_order = !parameter.is_empty() && previous.is_none_or(|before| before <= name);
        previous = Some(name);
        in_order
    });
    if normal {
        out.push_str(query);
        return;
    }
    let mut parameters: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    parameters.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    for (i, parameter) in parameters.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(parameter);
    }
}

/// Appends the variant part: the epoch in hex, then per header name a line
/// that is `-` when the request lacks it, else `=` and its values joined
/// with `, `, with `%` and bytes outside printable ASCII escaped as `%XX`.
fn push_variant(out: &mut String, epoch: u64, names: &[HeaderName], headers: &HeaderMap) {
    use std::fmt::Write as _;
    let _ = write!(out, "{epoch:016x}");
    for name in names {
        out.push('\n');
        let mut values = headers.get_all(name).iter().peekable();
        if values.peek().is_none() {
            out.push('-');
            continue;
        }
        out.push('=');
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            for &byte in value.as_bytes() {
                if byte == b'%' || !(0x20..0x7f).contains(&byte) {
                    let _ = write!(out, "%{byte:02X}");
                } else {
                    out.push(char::from(byte));
                }
            }
        }
    }
}

/// Redis renders a key as `{namespace}:{path}:{query}:{extra}:{variant}`,
/// each part escaped, so that the entries of a path or of a path prefix can
/// be found with `SCAN MATCH`.
#[cfg(feature = "redis")]
impl serde::Serialize for CacheKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple as _;
        let mut tuple = serializer.serialize_tuple(4)?;
        tuple.serialize_element(self.path())?;
        tuple.serialize_element(self.query())?;
        tuple.serialize_element(self.extra())?;
        tuple.serialize_element(self.variant())?;
        tuple.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn query_order_is_normalised_and_repeated_names_keep_their_order() {
        let key = CacheKey::new("/p?b=2&a=1&&a=0&c");
        assert_eq!(key.query(), "a=1&a=0&b=2&c");
        assert_eq!(key, CacheKey::new("/p?a=1&c&a=0&b=2"));
        assert_ne!(key, CacheKey::new("/p?a=0&a=1&b=2&c"));
        assert_eq!(CacheKey::new("/p?a=1&b=2").query(), "a=1&b=2");
        assert_eq!(CacheKey::new("/p").query(), "");
        assert_eq!(CacheKey::new("/p?").query(), "");
    }

    #[test]
    fn parts_never_run_into_each_other() {
        let a = CacheKey::from_parts("/ab", "", "c");
        let b = CacheKey::from_parts("/a", "", "bc");
        let c = CacheKey::from_parts("/a", "b", "c");
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_eq!(c.path(), "/a");
        assert_eq!(c.query(), "b");
        assert_eq!(c.extra(), "c");
    }

    #[test]
    fn variants_tell_absent_empty_and_escaped_values_apart() {
        let names = [HeaderName::from_static("accept-language")];
        let key = CacheKey::new("/w");
        let mut headers = HeaderMap::new();
        let absent = key.with_variant(1, &names, &headers);
        headers.insert("accept-language", HeaderValue::from_static(""));
        let empty = key.with_variant(1, &names, &headers);
        headers.insert("accept-language", HeaderValue::from_static("fr"));
        let fr = key.with_variant(1, &names, &headers);
        let other_epoch = key.with_variant(2, &names, &headers);
        headers.insert("accept-language", HeaderValue::from_static("fr%0A"));
        let escaped = key.with_variant(1, &names, &headers);
        let all = [&absent, &empty, &fr, &other_epoch, &escaped];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(fr.path(), "/w");
        assert!(fr.variant().ends_with("\n=fr"));
        assert!(escaped.variant().ends_with("\n=fr%250A"));
    }
}
