//! Where Redis is and how long memocache waits for it: set once for the
//! process (or for one cache's namespace) before first use, or read from
//! `MEMOCACHE_REDIS_URL` (or, for a Redis Cluster, `MEMOCACHE_REDIS_CLUSTER`).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;

use crate::remote::envelope::DEFAULT_MAX_VALUE_BYTES;

/// The environment variable the Redis URL is read from when no code set one.
pub const URL_VARIABLE: &str = "MEMOCACHE_REDIS_URL";

/// The environment variable naming the nodes of a Redis Cluster, as URLs
/// separated by commas (feature `redis-cluster`). When it is set, it wins over
/// [`URL_VARIABLE`].
#[cfg(feature = "redis-cluster")]
pub const CLUSTER_VARIABLE: &str = "MEMOCACHE_REDIS_CLUSTER";

/// The URL used when neither code nor [`URL_VARIABLE`] sets one.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// How memocache reaches Redis and how long it waits for it.
///
/// ```
/// use std::time::Duration;
/// use memocache_runtime::RedisSettings;
///
/// let settings = RedisSettings::from_env()
///     .url("redis://:secret@127.0.0.1:6379/0")
///     .timeout(Duration::from_millis(20))
///     .breaker(5, Duration::from_secs(1));
/// assert_eq!(settings.url_str(), "redis://:secret@127.0.0.1:6379/0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisSettings {
    pub(crate) url: String,
    /// The nodes of a Redis Cluster to discover it from; `None`: one server, at `url`.
    pub(crate) cluster: Option<Vec<String>>,
    pub(crate) timeout: Duration,
    pub(crate) failures_to_open: u32,
    pub(crate) cool_down: Duration,
    pub(crate) max_value_bytes: usize,
    pub(crate) root_certificate: Option<Vec<u8>>,
    pub(crate) lock_ttl: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_owned(),
            cluster: None,
            timeout: Duration::from_millis(50),
            failures_to_open: 5,
            cool_down: Duration::from_secs(1),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            root_certificate: None,
            lock_ttl: Duration::from_secs(2),
        }
    }
}

impl RedisSettings {
    /// The defaults, with the URL from `MEMOCACHE_REDIS_URL` if it is set
    /// (with feature `redis-cluster`, the cluster's nodes from
    /// `MEMOCACHE_REDIS_CLUSTER` if that is set): a 50 ms deadline per
    /// operation, a breaker that opens after 5 failures in a row for 1 s,
    /// values up to 16 MiB, and 2 s locks on cold keys.
    pub fn from_env() -> Self {
        let mut settings = Self::default();
        if let Ok(url) = std::env::var(URL_VARIABLE) {
            settings.url = url;
        }
        #[cfg(feature = "redis-cluster")]
        if let Ok(nodes) = std::env::var(CLUSTER_VARIABLE) {
            settings = settings.cluster(node_list(&nodes));
        }
        #[cfg(not(feature = "redis-cluster"))]
        if std::env::var_os("MEMOCACHE_REDIS_CLUSTER").is_some() {
            tracing::warn!(
                target: "memocache::redis",
                "MEMOCACHE_REDIS_CLUSTER is set but memocache was built without the \
                 `redis-cluster` feature: using {}",
                crate::remote::redis::report::redact(&settings.url)
            );
        }
        settings
    }

    /// The server: `redis://[user][:password@]host[:port][/db]`, or
    /// `rediss://...` for TLS (feature `redis-tls`). Leaves cluster mode.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self.cluster = None;
        self
    }

    /// A Redis Cluster (feature `redis-cluster`), discovered from these nodes
    /// (URLs as for [`Self::url`], with the same credentials; one is
    /// enough, more survive one being down). Keys are spread over the
    /// cluster's masters; `clear` scans every master, and a tiered cache
    /// tracks its keys on every master.
    ///
    /// ```
    /// use memocache_runtime::RedisSettings;
    ///
    /// let settings = RedisSettings::default()
    ///     .cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]);
    /// assert_eq!(settings.cluster_nodes().map(<[String]>::len), Some(2));
    /// ```
    #[cfg(feature = "redis-cluster")]
    pub fn cluster(mut self, nodes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let nodes: Vec<String> = nodes.into_iter().map(Into::into).collect();
        if let Some(first) = nodes.first() {
            self.url = first.clone();
        }
        self.cluster = Some(nodes);
        self
    }

    /// The nodes of the Redis Cluster set, or `None` for one server.
    pub fn cluster_nodes(&self) -> Option<&[String]> {
        self.cluster.as_deref()
    }

    /// The URL set.
    pub fn url_str(&self) -> &str {
        &self.url
    }

    /// The longest any one operation (connecting included) may take; past
    /// it the call goes on without Redis (a miss, a skipped write).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// After `failures_to_open` failures or timeouts in a row (at least 1),
    /// Redis is skipped for `cool_down`; then one call probes it.
    pub fn breaker(mut self, failures_to_open: u32, cool_down: Duration) -> Self {
        self.failures_to_open = failures_to_open.max(1);
        self.cool_down = cool_down;
        self
    }

    /// How long the lock a process takes to compute a cold key lives (2 s by
    /// default): the other processes wait for its value at most this long,
    /// then compute it themselves, so a process that dies holding it blocks
    /// nobody for longer.
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl;
        self
    }

    /// Values whose encoding is larger are neither written nor read.
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// A PEM certificate (or bundle) to trust for `rediss://` instead of the
    /// system's roots, for a server with a private certificate authority.
    #[cfg(feature = "redis-tls")]
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }
}

/// The URLs of a comma-separated list, blanks around them and empty ones dropped.
#[cfg(feature = "redis-cluster")]
fn node_list(nodes: &str) -> impl Iterator<Item = &str> {
    nodes
        .split(',')
        .map(str::trim)
        .filter(|node| !node.is_empty())
}

/// Why settings were not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// A cache of that scope already reached Redis with the settings it found.
    AlreadyInUse,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AlreadyInUse => f.write_str(
                "memocache: Redis settings must be set before the first call of a cache they \
                 apply to; set them at start-up",
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

static GLOBAL: OnceLock<RedisSettings> = OnceLock::new();

/// Settings of single namespaces; `None` once the namespace's cache took the global ones.
static NAMESPACES: Mutex<Option<HashMap<String, Option<RedisSettings>>>> = Mutex::new(None);

/// Sets the Redis settings of every cache that has none of its own. Call it
/// at start-up: once any Redis cache has been used, the settings are fixed
/// and this returns [`SettingsError::AlreadyInUse`].
pub fn configure(settings: RedisSettings) -> Result<(), SettingsError> {
    GLOBAL
        .set(settings)
        .map_err(|_| SettingsError::AlreadyInUse)
}

/// Sets the Redis settings of the cache whose namespace is `namespace` (its
/// handle's `namespace()`), before its first use: another server, another
/// deadline.
pub fn configure_namespace(namespace: &str, settings: RedisSettings) -> Result<(), SettingsError> {
    let mut namespaces = NAMESPACES.lock();
    let namespaces = namespaces.get_or_insert_with(HashMap::new);
    match namespaces.get(namespace) {
        Some(None) => Err(SettingsError::AlreadyInUse),
        _ => {
            namespaces.insert(namespace.to_owned(), Some(settings));
            Ok(())
        }
    }
}

/// The settings a cache of `namespace` uses, fixed from now on.
pub(crate) fn settings_for(namespace: &str) -> RedisSettings {
    let mut namespaces = NAMESPACES.lock();
    let namespaces = namespaces.get_or_insert_with(HashMap::new);
    if let Some(Some(own)) = namespaces.get(namespace) {
        return own.clone();
    }
    namespaces.insert(namespace.to_owned(), None);
    GLOBAL.get_or_init(RedisSettings::from_env).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "redis-cluster")]
    #[test]
    fn the_cluster_variable_lists_nodes_and_a_url_leaves_cluster_mode() {
        let nodes: Vec<&str> = node_list(" redis://a:7000,redis://b:7001 ,, ").collect();
        assert_eq!(nodes, ["redis://a:7000", "redis://b:7001"]);
        let settings = RedisSettings::default().cluster(nodes);
        assert_eq!(settings.url_str(), "redis://a:7000");
        assert_eq!(settings.cluster_nodes().map(<[String]>::len), Some(2));
        assert_eq!(settings.url("redis://c:6379").cluster_nodes(), None);
    }

    #[test]
    fn a_namespace_keeps_its_own_settings_and_refuses_them_once_in_use() {
        let own = RedisSettings::default().url("redis://127.0.0.1:1");
        configure_namespace("settings-test:own", own.clone()).unwrap();
        assert_eq!(settings_for("settings-test:own"), own);

        let global = settings_for("settings-test:global");
        assert_eq!(
            configure_namespace("settings-test:global", own),
            Err(SettingsError::AlreadyInUse)
        );
        assert_eq!(settings_for("settings-test:global"), global);
    }
}
