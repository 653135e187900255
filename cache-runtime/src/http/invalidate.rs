//! Invalidation of every entry of a path or a path prefix.
//!
//! The memory store cannot list its keys, and an entry of a path may sit in
//! Redis under a key no process remembers. So an invalidation leaves a
//! tombstone: the pattern and when it was made. An entry whose response
//! started to be computed before a matching tombstone is outdated: a lookup
//! that finds it removes it and runs the handler. Tombstones are kept as
//! long as an entry older than them can live (the longest TTL, and as long
//! again with `stale_if_error`), and a tombstone replaces the older ones its
//! pattern covers, so repeated invalidations of one prefix keep one.
//!
//! A tombstone compares an entry made by this cache by its invalidation
//! count, exactly, and an entry made by another process (read from Redis) by
//! wall-clock time.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use parking_lot::Mutex;
use thread_local::ThreadLocal;

use crate::http::entry::Started;

/// The paths an invalidation covers: `/products/42` is that path (with any
/// query, key part or variant), `/products/*` every path that starts with
/// `/products/`, and `*` every path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathPattern {
    Exact(String),
    Prefix(String),
}

impl PathPattern {
    pub(crate) fn parse(pattern: &str) -> Self {
        match pattern.strip_suffix('*') {
            Some(prefix) => Self::Prefix(prefix.to_owned()),
            None => Self::Exact(pattern.to_owned()),
        }
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => path == exact,
            Self::Prefix(prefix) => path.starts_with(prefix.as_str()),
        }
    }

    /// Whether every path `other` matches, this one matches too.
    fn covers(&self, other: &PathPattern) -> bool {
        match (self, other) {
            (Self::Exact(a), Self::Exact(b)) => a == b,
            (Self::Exact(_), Self::Prefix(_)) => false,
            (Self::Prefix(p), Self::Exact(b) | Self::Prefix(b)) => b.starts_with(p.as_str()),
        }
    }
}

#[derive(Clone, Debug)]
struct Tombstone {
    pattern: PathPattern,
    /// The invalidation count of this cache once it was made.
    generation: u64,
    at_ms: u64,
    until_ms: u64,
}

/// The tombstones of one cache, read on every hit without a shared write:
/// each thread keeps a snapshot and takes the lock only when a newer list
/// was published.
pub(crate) struct Tombstones {
    origin: u64,
    keep_ms: u64,
    generation: AtomicU64,
    /// The generation of the list last published; 0 while there is none.
    published: AtomicU64,
    list: Mutex<Arc<[Tombstone]>>,
    snapshots: ThreadLocal<RefCell<(u64, Arc<[Tombstone]>)>>,
}

impl Tombstones {
    /// The tombstones of the cache `origin`, each kept `keep_ms`.
    pub(crate) fn new(origin: u64, keep_ms: u64) -> Self {
        Self {
            origin,
            keep_ms,
            generation: AtomicU64::new(0),
            published: AtomicU64::new(0),
            list: Mutex::new(Arc::from(Vec::new())),
            snapshots: ThreadLocal::new(),
        }
    }

    /// When a handler starting now starts, for [`Self::outdated`].
    pub(crate) fn started(&self, now_ms: u64) -> Started {
        Started {
            origin: self.origin,
            generation: self.generation.load(SeqCst),
            ms: now_ms,
        }
    }

    /// Marks every entry of the paths `pattern` matches, computed from now
    /// back, as outdated.
    pub(crate) fn add(&self, pattern: PathPattern, now_ms: u64) {
        let mut list = self.list.lock();
        let generation = self.generation.fetch_add(1, SeqCst) + 1;
        let mut kept: Vec<Tombstone> = list
            .iter()
            .filter(|old| old.until_ms > now_ms && !pattern.covers(&old.pattern))
            .cloned()
            .collect();
        kept.push(Tombstone {
            pattern,
            generation,
            at_ms: now_ms,
            until_ms: now_ms.saturating_add(self.keep_ms),
        });
        *list = Arc::from(kept);
        self.published.store(generation, SeqCst);
    }

    /// Whether an entry of `path` whose computation started at `started`
    /// was invalidated since.
    #[inline]
    pub(crate) fn outdated(&self, path: &str, started: &Started, now_ms: u64) -> bool {
        let published = self.published.load(SeqCst);
        if published == 0 {
            return false;
        }
        let cell = self
            .snapshots
            .get_or(|| RefCell::new((0, Arc::from(Vec::new()))));
        let Ok(mut snapshot) = cell.try_borrow_mut() else {
            return self.outdated_in(&self.list.lock(), path, started, now_ms);
        };
        if snapshot.0 != published {
            let list = self.list.lock();
            *snapshot = (published, Arc::clone(&list));
        }
        self.outdated_in(&snapshot.1, path, started, now_ms)
    }

    fn outdated_in(&self, list: &[Tombstone], path: &str, started: &Started, now_ms: u64) -> bool {
        list.iter().any(|tombstone| {
            tombstone.until_ms > now_ms
                && tombstone.pattern.matches(path)
                && if started.origin == self.origin {
                    started.generation < tombstone.generation
                } else {
                    started.ms <= tombstone.at_ms
                }
        })
    }
}

impl Tombstone {
    #[cfg(test)]
    fn pattern(&self) -> &PathPattern {
        &self.pattern
    }
}

/// Removes the Redis entries of the paths `pattern` matches, with `SCAN
/// MATCH` and `UNLINK` in batches, under the namespace's deadline per
/// command; tells how many keys were removed, or why it stopped.
#[cfg(feature = "redis")]
pub(crate) async fn unlink_matching(
    namespace: &'static str,
    pattern: &PathPattern,
) -> Result<u64, String> {
    use std::time::Duration;

    use redis::AsyncCommands as _;

    let glob = redis_glob(namespace, pattern)?;
    let settings = crate::remote::redis::settings::settings_for(namespace);
    let client = redis_client(&settings).map_err(|error| error.to_string())?;
    let deadline: Duration = settings.timeout;
    let timed = |what: &'static str| move |_| format!("{what}: no answer within the deadline");
    let mut connection = tokio::time::timeout(deadline, client.get_multiplexed_async_connection())
        .await
        .map_err(timed("connect"))?
        .map_err(|error| error.to_string())?;
    let mut cursor = 0u64;
    let mut removed = 0u64;
    loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(&glob)
            .arg("COUNT")
            .arg(500);
        let (next, keys): (u64, Vec<Vec<u8>>) =
            tokio::time::timeout(deadline, scan.query_async(&mut connection))
                .await
                .map_err(timed("SCAN"))?
                .map_err(|error| error.to_string())?;
        if !keys.is_empty() {
            let unlinked: u64 = tokio::time::timeout(deadline, connection.unlink(keys))
                .await
                .map_err(timed("UNLINK"))?
                .map_err(|error| error.to_string())?;
            removed += unlinked;
        }
        if next == 0 {
            return Ok(removed);
        }
        cursor = next;
    }
}

/// The `SCAN MATCH` pattern of the Redis keys of the paths `pattern`
/// matches. A key renders as `{namespace}:{path}:{query}:{extra}:{variant}`
/// with `:` escaped inside each part, and escaping a string escapes each
/// character alone, so the escaped path starts with the escaped prefix
/// exactly when the path starts with the prefix.
#[cfg(feature = "redis")]
pub(crate) fn redis_glob(namespace: &str, pattern: &PathPattern) -> Result<String, String> {
    let (text, exact) = match pattern {
        PathPattern::Exact(path) => (path, true),
        PathPattern::Prefix(prefix) => (prefix, false),
    };
    let rendered = crate::remote::key::redis_key(namespace, &(text.as_str(),))
        .map_err(|error| error.to_string())?;
    let mut glob = String::with_capacity(rendered.len() + 4);
    for c in rendered.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            glob.push('\\');
        }
        glob.push(c);
    }
    glob.push_str(if exact { ":*" } else { "*" });
    Ok(glob)
}

/// A client for the namespace's server, as the Redis tier makes it.
#[cfg(feature = "redis")]
fn redis_client(
    settings: &crate::remote::redis::settings::RedisSettings,
) -> Result<redis::Client, redis::RedisError> {
    #[cfg(feature = "redis-tls")]
    if settings.url.starts_with("rediss://") || settings.root_certificate.is_some() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Some(root_cert) = &settings.root_certificate {
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert.clone()),
            };
            return redis::Client::build_with_tls(settings.url.as_str(), certificates);
        }
    }
    redis::Client::open(settings.url.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let exact = PathPattern::parse("/products/42");
        assert!(exact.matches("/products/42"));
        assert!(!exact.matches("/products/421"));
        let prefix = PathPattern::parse("/products/*");
        assert!(prefix.matches("/products/42"));
        assert!(prefix.matches("/products/"));
        assert!(!prefix.matches("/products"));
        assert!(PathPattern::parse("*").matches("/anything"));
        assert!(prefix.covers(&exact));
        assert!(!exact.covers(&prefix));
    }

    #[test]
    fn a_tombstone_outdates_what_started_before_it_and_only_that() {
        let tombstones = Tombstones::new(7, 60_000);
        let before = tombstones.started(1_000);
        assert!(!tombstones.outdated("/products/1", &before, 1_000));
        tombstones.add(PathPattern::parse("/products/*"), 1_000);
        let after = tombstones.started(1_000);
        assert!(tombstones.outdated("/products/1", &before, 1_000));
        assert!(
            !tombstones.outdated("/products/1", &after, 1_000),
            "same ms, later"
        );
        assert!(!tombstones.outdated("/users/1", &before, 1_000));
        assert!(
            !tombstones.outdated("/products/1", &before, 61_000),
            "expired"
        );

        // Another process's entry is compared by wall time.
        let foreign = |ms| Started {
            origin: 8,
            generation: 0,
            ms,
        };
        assert!(tombstones.outdated("/products/1", &foreign(1_000), 2_000));
        assert!(!tombstones.outdated("/products/1", &foreign(1_001), 2_000));
    }

    #[test]
    fn a_wider_tombstone_replaces_those_it_covers() {
        let tombstones = Tombstones::new(1, 60_000);
        tombstones.add(PathPattern::parse("/a/1"), 0);
        tombstones.add(PathPattern::parse("/b/1"), 0);
        tombstones.add(PathPattern::parse("/a/*"), 0);
        tombstones.add(PathPattern::parse("/a/*"), 0);
        let list = tombstones.list.lock();
        let patterns: Vec<_> = list.iter().map(Tombstone::pattern).collect();
        assert_eq!(
            patterns,
            [&PathPattern::parse("/b/1"), &PathPattern::parse("/a/*")]
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn redis_globs_escape_the_rendering() {
        assert_eq!(
            redis_glob("shop:http", &PathPattern::parse("/products/42")).unwrap(),
            "shop:http:/products/42:*"
        );
        assert_eq!(
            redis_glob("ns", &PathPattern::parse("/a:b[1]/*")).unwrap(),
            "ns:/a%3Ab\\[1\\]/*"
        );
    }
}
