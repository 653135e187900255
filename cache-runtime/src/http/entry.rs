//! What the cache stores under a key: a whole response, with the validators
//! (`ETag`, `Last-Modified`) computed once when it is stored, or the `Vary`
//! record of a URL whose responses vary on request headers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

use crate::http::time::system_time;

/// When and where the response of an entry started to be computed; an
/// invalidation of its path made later makes it outdated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Started {
    /// The cache (process) that computed it.
    pub(crate) origin: u64,
    /// That cache's invalidation count when the handler started.
    pub(crate) generation: u64,
    /// The wall time when the handler started, in ms since the Unix epoch.
    pub(crate) ms: u64,
}

/// A cached response.
#[derive(Debug)]
pub(crate) struct ResponseEntry {
    pub(crate) status: StatusCode,
    /// What a full answer carries: the handler's headers without those the
    /// cache sets per answer, with `Content-Length`, `ETag` and
    /// `Last-Modified`, and placeholders for `Age`, `Cache-Control` and the
    /// status header, so that an answer replaces values and never grows the map.
    pub(crate) headers: HeaderMap,
    /// What a `304 Not Modified` carries: the validators, `Vary`, `Expires`,
    /// `Content-Location`, `Content-Length` (the 200's), and the same
    /// placeholders.
    pub(crate) not_modified_headers: HeaderMap,
    /// The handler's own `Cache-Control`, for [`CacheControl::Origin`](crate::http::CacheControl::Origin).
    pub(crate) origin_cache_control: Option<HeaderValue>,
    pub(crate) body: Bytes,
    pub(crate) etag: HeaderValue,
    /// `Last-Modified` in seconds since the Unix epoch.
    pub(crate) last_modified_s: u64,
    pub(crate) stored_ms: u64,
    pub(crate) ttl_ms: u64,
    pub(crate) started: Started,
    /// The status header a placeholder is held under, if any (none in an
    /// entry read back from a remote tier: its answers add the header).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    placeholder: Option<HeaderName>,
}

/// The `Vary` record of a URL: its responses are stored under variant keys
/// made of `epoch` and the request's values of the headers `names` names.
/// A new record gets a new epoch, which orphans the variants of the old one.
#[derive(Debug)]
pub(crate) struct VaryRecord {
    /// Lowercase, sorted, without duplicates.
    pub(crate) names: Vec<HeaderName>,
    pub(crate) epoch: u64,
    pub(crate) ttl_ms: u64,
    pub(crate) started: Started,
}

/// A value of the HTTP cache.
#[derive(Clone, Debug)]
pub(crate) enum Stored {
    Response(Arc<ResponseEntry>),
    Vary(Arc<VaryRecord>),
}

impl Stored {
    /// How long the value lives: the TTL it was stored with.
    pub(crate) fn ttl_of(&self) -> Option<Duration> {
        let ms = match self {
            Stored::Response(entry) => entry.ttl_ms,
            Stored::Vary(record) => record.ttl_ms,
        };
        Some(Duration::from_millis(ms))
    }
}

/// Headers a cache never stores: hop-by-hop ones, and those set per answer.
fn per_connection_or_answer(name: &HeaderName, status_header: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name == header::TE
        || name == header::TRAILER
        || name == header::PROXY_AUTHENTICATE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
        || name == header::AGE
        || name == header::DATE
        || name == header::CACHE_CONTROL
        || name == header::CONTENT_LENGTH
        || name == status_header
}

/// Whether `value` is an entity tag: `"..."` or `W/"..."`.
fn is_entity_tag(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    let opaque = bytes.strip_prefix(b"W/").unwrap_or(bytes);
    opaque.len() >= 2
        && opaque[0] == b'"'
        && opaque[opaque.len() - 1] == b'"'
        && !opaque[1..opaque.len() - 1].contains(&b'"')
}

/// The strong entity tag of `body`: its 128-bit XXH3 hash in hex, quoted.
/// XXH3 is fixed by its specification, so every process (and version of
/// memocache) tags the same body alike.
pub(crate) fn strong_etag(body: &[u8]) -> HeaderValue {
    let hash = xxhash_rust::xxh3::xxh3_128(body);
    HeaderValue::from_str(&format!("\"{hash:032x}\"")).expect("hex is a valid header value")
}

/// What a response entry is made from besides its status, headers and body.
pub(crate) struct Stamp {
    pub(crate) started: Started,
    pub(crate) stored_ms: u64,
    pub(crate) ttl: Duration,
}

impl ResponseEntry {
    /// The entry for a response the handler returned: its headers less those
    /// never stored, with `Content-Length`, a strong `ETag` computed from the
    /// body unless the handler set one, and `Last-Modified` (the handler's,
    /// else the time of storing).
    pub(crate) fn new(
        status: StatusCode,
        mut headers: HeaderMap,
        body: Bytes,
        stamp: Stamp,
        status_header: &HeaderName,
    ) -> Self {
        let origin_cache_control = headers.get(header::CACHE_CONTROL).cloned();
        let keep: Vec<HeaderName> = headers
            .keys()
            .filter(|name| per_connection_or_answer(name, status_header))
            .cloned()
            .collect();
        for name in keep {
            headers.remove(&name);
        }
        if !headers.get(header::ETAG).is_some_and(is_entity_tag) {
            headers.insert(header::ETAG, strong_etag(&body));
        }
        let last_modified = headers
            .get(header::LAST_MODIFIED)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| httpdate::parse_http_date(text).ok());
        if last_modified.is_none() {
            let stored = httpdate::fmt_http_date(system_time(stamp.stored_ms));
            headers.insert(
                header::LAST_MODIFIED,
                HeaderValue::from_str(&stored).expect("an HTTP date is a valid header value"),
            );
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        Self::assemble(
            status,
            headers,
            origin_cache_control,
            body,
            stamp,
            Some(status_header),
        )
    }

    /// The entry for headers already in stored form (as [`Self::new`] left
    /// them, or as read back from a remote tier).
    fn assemble(
        status: StatusCode,
        mut headers: HeaderMap,
        origin_cache_control: Option<HeaderValue>,
        body: Bytes,
        stamp: Stamp,
        status_header: Option<&HeaderName>,
    ) -> Self {
        let etag = headers
            .get(header::ETAG)
            .cloned()
            .unwrap_or_else(|| strong_etag(&body));
        let last_modified_at = headers
            .get(header::LAST_MODIFIED)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| httpdate::parse_http_date(text).ok())
            .unwrap_or_else(|| system_time(stamp.stored_ms));
        let last_modified = headers
            .get(header::LAST_MODIFIED)
            .cloned()
            .unwrap_or_else(|| {
                HeaderValue::from_str(&httpdate::fmt_http_date(last_modified_at))
                    .expect("an HTTP date is a valid header value")
            });
        let last_modified_s = last_modified_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut not_modified_headers = HeaderMap::with_capacity(8);
        not_modified_headers.insert(header::ETAG, etag.clone());
        not_modified_headers.insert(header::LAST_MODIFIED, last_modified.clone());
        // RFC 9110, 15.4.5, and `Content-Length`, which a 304 may carry when
        // it is the length of the 200's body (8.6): without it, a framework
        // that sets the length of an empty body would say 0.
        for name in [
            header::VARY,
            header::EXPIRES,
            header::CONTENT_LOCATION,
            header::CONTENT_LENGTH,
        ] {
            for value in headers.get_all(&name) {
                not_modified_headers.append(name.clone(), value.clone());
            }
        }
        // Placeholders: an answer replaces their values in place.
        let placeholder = HeaderValue::from_static("0");
        for map in [&mut headers, &mut not_modified_headers] {
            map.insert(header::AGE, placeholder.clone());
            map.insert(header::CACHE_CONTROL, placeholder.clone());
            if let Some(name) = status_header {
                map.insert(name.clone(), placeholder.clone());
            }
        }
        Self {
            status,
            headers,
            not_modified_headers,
            origin_cache_control,
            body,
            etag,
            last_modified_s,
            stored_ms: stamp.stored_ms,
            ttl_ms: u64::try_from(stamp.ttl.as_millis()).unwrap_or(u64::MAX),
            started: stamp.started,
            placeholder: status_header.cloned(),
        }
    }

    /// The entry's headers as a remote tier stores them: without the
    /// placeholders.
    #[cfg(feature = "redis")]
    fn stored_headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> + '_ {
        self.headers.iter().filter(move |(name, _)| {
            *name != header::AGE
                && *name != header::CACHE_CONTROL
                && Some(*name) != self.placeholder.as_ref()
        })
    }
}

impl VaryRecord {
    /// The names a `Vary` header lists, lowercase, sorted and without
    /// duplicates; `None` if the response does not vary.
    pub(crate) fn names(headers: &HeaderMap) -> Option<Vec<HeaderName>> {
        let mut names: Vec<HeaderName> = headers
            .get_all(header::VARY)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|list| list.split(','))
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
            .collect();
        if names.is_empty() {
            return None;
        }
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        names.dedup();
        Some(names)
    }
}

/// The serialized form of the values, for a remote tier (feature `redis`).
#[cfg(feature = "redis")]
mod wire {
    use super::*;
    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;
    use serde::{Deserialize, Serialize};

    /// Bytes serialized as a byte string, not a sequence of numbers.
    struct Blob<'a>(&'a [u8]);

    impl Serialize for Blob<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(self.0)
        }
    }

    /// A byte string read back.
    struct OwnedBlob(Vec<u8>);

    impl<'de> Deserialize<'de> for OwnedBlob {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct BlobVisitor;
            impl<'de> Visitor<'de> for BlobVisitor {
                type Value = OwnedBlob;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<OwnedBlob, E> {
                    Ok(OwnedBlob(v.to_vec()))
                }
                fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<OwnedBlob, E> {
                    Ok(OwnedBlob(v))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OwnedBlob, A::Error> {
                    let mut bytes = Vec::new();
                    while let Some(byte) = seq.next_element::<u8>()? {
                        bytes.push(byte);
                    }
                    Ok(OwnedBlob(bytes))
                }
            }
            deserializer.deserialize_byte_buf(BlobVisitor)
        }
    }

    #[derive(Serialize)]
    struct StartedWire {
        origin: u64,
        generation: u64,
        ms: u64,
    }

    #[derive(Deserialize)]
    struct StartedRead {
        origin: u64,
        generation: u64,
        ms: u64,
    }

    #[derive(Serialize)]
    enum StoredWire<'a> {
        Response {
            status: u16,
            headers: Vec<(&'a str, Blob<'a>)>,
            origin_cache_control: Option<Blob<'a>>,
            body: Blob<'a>,
            stored_ms: u64,
            ttl_ms: u64,
            started: StartedWire,
        },
        Vary {
            names: Vec<&'a str>,
            epoch: u64,
            ttl_ms: u64,
            started: StartedWire,
        },
    }

    #[derive(Deserialize)]
    enum StoredRead {
        Response {
            status: u16,
            headers: Vec<(String, OwnedBlob)>,
            origin_cache_control: Option<OwnedBlob>,
            body: OwnedBlob,
            stored_ms: u64,
            ttl_ms: u64,
            started: StartedRead,
        },
        Vary {
            names: Vec<String>,
            epoch: u64,
            ttl_ms: u64,
            started: StartedRead,
        },
    }

    fn started_wire(started: Started) -> StartedWire {
        StartedWire {
            origin: started.origin,
            generation: started.generation,
            ms: started.ms,
        }
    }

    fn started_read(started: StartedRead) -> Started {
        Started {
            origin: started.origin,
            generation: started.generation,
            ms: started.ms,
        }
    }

    impl Serialize for Stored {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let wire = match self {
                Stored::Response(entry) => StoredWire::Response {
                    status: entry.status.as_u16(),
                    headers: entry
                        .stored_headers()
                        .map(|(name, value)| (name.as_str(), Blob(value.as_bytes())))
                        .collect(),
                    origin_cache_control: entry
                        .origin_cache_control
                        .as_ref()
                        .map(|value| Blob(value.as_bytes())),
                    body: Blob(&entry.body),
                    stored_ms: entry.stored_ms,
                    ttl_ms: entry.ttl_ms,
                    started: started_wire(entry.started),
                },
                Stored::Vary(record) => StoredWire::Vary {
                    names: record.names.iter().map(HeaderName::as_str).collect(),
                    epoch: record.epoch,
                    ttl_ms: record.ttl_ms,
                    started: started_wire(record.started),
                },
            };
            wire.serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for Stored {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let invalid = |what: &str| de::Error::custom(format_args!("invalid {what}"));
            Ok(match StoredRead::deserialize(deserializer)? {
                StoredRead::Response {
                    status,
                    headers,
                    origin_cache_control,
                    body,
                    stored_ms,
                    ttl_ms,
                    started,
                } => {
                    let status = StatusCode::from_u16(status).map_err(|_| invalid("status"))?;
                    let mut map = HeaderMap::with_capacity(headers.len() + 3);
                    for (name, value) in headers {
                        let name = HeaderName::from_bytes(name.as_bytes())
                            .map_err(|_| invalid("header name"))?;
                        let value = HeaderValue::from_bytes(&value.0)
                            .map_err(|_| invalid("header value"))?;
                        map.append(name, value);
                    }
                    let origin_cache_control = origin_cache_control
                        .map(|value| HeaderValue::from_bytes(&value.0))
                        .transpose()
                        .map_err(|_| invalid("cache-control"))?;
                    let stamp = Stamp {
                        started: started_read(started),
                        stored_ms,
                        ttl: Duration::from_millis(ttl_ms),
                    };
                    Stored::Response(Arc::new(ResponseEntry::assemble(
                        status,
                        map,
                        origin_cache_control,
                        Bytes::from(body.0),
                        stamp,
                        None,
                    )))
                }
                StoredRead::Vary {
                    names,
                    epoch,
                    ttl_ms,
                    started,
                } => {
                    let names = names
                        .iter()
                        .map(|name| HeaderName::from_bytes(name.as_bytes()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| invalid("vary name"))?;
                    Stored::Vary(Arc::new(VaryRecord {
                        names,
                        epoch,
                        ttl_ms,
                        started: started_read(started),
                    }))
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            started: Started {
                origin: 1,
                generation: 0,
                ms: 1_700_000_000_000,
            },
            stored_ms: 1_700_000_000_500,
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn an_entry_gets_validators_and_drops_per_answer_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.insert(header::DATE, HeaderValue::from_static("x"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
        let status_header = HeaderName::from_static("x-cache");
        let entry = ResponseEntry::new(
            StatusCode::OK,
            headers,
            Bytes::from_static(b"hello"),
            stamp(),
            &status_header,
        );
        assert_eq!(entry.etag, strong_etag(b"hello"));
        assert_eq!(entry.headers[header::ETAG], entry.etag);
        assert_eq!(entry.headers[header::CONTENT_LENGTH], "5");
        assert_eq!(
            entry.headers[header::LAST_MODIFIED],
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
        assert_eq!(
            entry.not_modified_headers.len(),
            6,
            "{:?}",
            entry.not_modified_headers
        );
        assert_eq!(entry.not_modified_headers[header::CONTENT_LENGTH], "5");
        assert_eq!(entry.last_modified_s, 1_700_000_000);
        assert!(entry.headers.get(header::DATE).is_none());
        assert!(entry.headers.get(header::CONNECTION).is_none());
        assert_eq!(entry.origin_cache_control.as_ref().unwrap(), "public");
        assert_eq!(entry.headers.len(), 7, "{:?}", entry.headers);
    }

    #[test]
    fn the_handlers_validators_are_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, HeaderValue::from_static("W/\"v7\""));
        headers.insert(
            header::LAST_MODIFIED,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        let entry = ResponseEntry::new(
            StatusCode::OK,
            headers,
            Bytes::new(),
            stamp(),
            &HeaderName::from_static("x-cache"),
        );
        assert_eq!(entry.etag, "W/\"v7\"");
        assert_eq!(entry.last_modified_s, 784_111_777);
    }

    #[test]
    fn the_etag_depends_on_the_body_only() {
        assert_eq!(strong_etag(b"a"), strong_etag(b"a"));
        assert_ne!(strong_etag(b"a"), strong_etag(b"b"));
        assert_eq!(strong_etag(b"").len(), 34);
    }

    #[test]
    fn vary_names_are_normalised() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::VARY,
            HeaderValue::from_static("Accept-Language, accept"),
        );
        headers.append(header::VARY, HeaderValue::from_static("ACCEPT"));
        let names = VaryRecord::names(&headers).unwrap();
        assert_eq!(names, ["accept", "accept-language"]);
        assert!(VaryRecord::names(&HeaderMap::new()).is_none());
    }
}
