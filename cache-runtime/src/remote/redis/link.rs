//! One shared, multiplexed connection per Redis server (or Redis Cluster,
//! feature `redis-cluster`), behind a deadline and a circuit breaker.
//!
//! The connection is made lazily, so a process starts and serves with Redis
//! down. Every operation runs under its deadline, in the library runtime's
//! context (on the caller's task for an async caller, else hopping onto it); a
//! failure or a timeout counts against the breaker, and when the breaker
//! opens the connection is dropped, to be made anew by the next operation it
//! admits. That is what recovers from a frozen server (whose connection only
//! ever times out) and from a refused password (which ends redis-rs's own
//! reconnecting for good).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{
    Client, Cmd, IntoConnectionInfo, ProtocolVersion, PushInfo, RedisError, RedisResult, Value,
};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::remote::redis::breaker::{Admission, Breaker, Verdict};
#[cfg(feature = "redis-cluster")]
use crate::remote::redis::cluster;
use crate::remote::redis::report::Reporter;
use crate::remote::redis::runtime;
use crate::remote::redis::settings::RedisSettings;
use crate::remote::redis::tracking::{Sink, Tracker};

/// Why an operation went without Redis.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The breaker is open: Redis was not asked.
    Skipped,
    /// No answer within the deadline.
    TimedOut,
    /// Redis, or the way to it, failed.
    Failed(String),
}

/// What an operation sends: a command (routed by its key on a cluster), or,
/// on a cluster, a command or a pipeline for nodes of the caller's choosing.
pub(crate) enum Request {
    /// One command.
    Command(Cmd),
    /// One command for these nodes (one server ignores the routing).
    #[cfg(feature = "redis-cluster")]
    Routed(Cmd, redis::cluster_routing::RoutingInfo),
    /// Commands run in one round trip by the master serving the route's slot;
    /// answered as an array of their answers.
    #[cfg(feature = "redis-cluster")]
    Pipeline(redis::Pipeline, redis::cluster_routing::Route),
}

impl From<Cmd> for Request {
    fn from(cmd: Cmd) -> Self {
        Self::Command(cmd)
    }
}

/// Where a link connects: one server, or a Redis Cluster.
// One per link, made once: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Endpoint {
    Single(Client),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster::ClusterClient),
}

/// The connection of a link: the one place that tells one server from a cluster.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Connection {
    async fn send(&mut self, request: &Request) -> RedisResult<Value> {
        match (self, request) {
            (Self::Single(manager), Request::Command(cmd)) => {
                manager.send_packed_command(cmd).await
            }
            #[cfg(feature = "redis-cluster")]
            (Self::Single(manager), Request::Routed(cmd, _)) => {
                manager.send_packed_command(cmd).await
            }
            #[cfg(feature = "redis-cluster")]
            (Self::Single(manager), Request::Pipeline(pipeline, _)) => manager
                .send_packed_commands(pipeline, 0, pipeline.len())
                .await
                .map(Value::Array),
            #[cfg(feature = "redis-cluster")]
            (Self::Cluster(connection), request) => cluster::send(connection, request).await,
        }
    }
}

/// A connection to one server (or cluster), shared by every cache that uses it.
pub(crate) struct Link {
    url: String,
    client: Result<Endpoint, String>,
    manager: Mutex<Option<Connection>>,
    /// Counts the connections made: tracking holds for one of them only.
    pub(crate) epoch: AtomicU64,
    /// Where the connection sends what Redis pushes, once a tiered cache tracks keys.
    pushes: Mutex<Option<UnboundedSender<PushInfo>>>,
    tracker: OnceLock<Arc<Tracker>>,
    breaker: Breaker,
    timeout: Duration,
    reporter: Reporter,
}

/// What makes two links differ: URL, cluster nodes, trusted certificate,
/// deadline, and the breaker's failures to open and cool-down.
type LinkKey = (
    String,
    Option<Vec<String>>,
    Option<Vec<u8>>,
    Duration,
    u32,
    Duration,
);

/// The links of the process.
type Links = HashMap<LinkKey, Arc<Link>>;

static LINKS: OnceLock<Mutex<Links>> = OnceLock::new();

impl Link {
    /// The link to the server `settings` name, made on first request and
    /// shared by every cache with the same settings. A cache whose deadline
    /// or breaker differs gets a link (a connection) of its own, so that it
    /// keeps them whichever cache reached the server first.
    pub(crate) fn shared(settings: &RedisSettings) -> Arc<Link> {
        let key = (
            settings.url.clone(),
            settings.cluster.clone(),
            settings.root_certificate.clone(),
            settings.timeout,
            settings.failures_to_open,
            settings.cool_down,
        );
        LINKS
            .get_or_init(Mutex::default)
            .lock()
            .entry(key)
            .or_insert_with(|| Arc::new(Link::new(settings)))
            .clone()
    }

    fn new(settings: &RedisSettings) -> Self {
        Self {
            url: settings.url.clone(),
            client: endpoint(settings).map_err(|error| error.to_string()),
            manager: Mutex::new(None),
            epoch: AtomicU64::new(0),
            pushes: Mutex::new(None),
            tracker: OnceLock::new(),
            breaker: Breaker::new(settings.failures_to_open, settings.cool_down),
            timeout: settings.timeout,
            reporter: Reporter::default(),
        }
    }

    /// Whether the breaker is skipping Redis now.
    pub(crate) fn is_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Whether the link is to a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        #[cfg(feature = "redis-cluster")]
        if let Ok(Endpoint::Cluster(_)) = &self.client {
            return true;
        }
        false
    }

    /// Runs `cmd` under the deadline, unless the breaker skips Redis.
    pub(crate) async fn run(self: Arc<Self>, cmd: impl Into<Request>) -> Result<Value, Failure> {
        let cmd = cmd.into();
        let admission = self.breaker.admit(Instant::now());
        if admission == Admission::Skip {
            return Err(Failure::Skipped);
        }
        // Sent, timed and recorded to the end even when the caller's future
        // is dropped meanwhile: a probe never recorded would keep the breaker
        // half-open, skipping Redis, for good.
        let link = Arc::clone(&self);
        let operation = async move {
            let outcome = link.send(&cmd).await;
            link.record(admission, &outcome);
            outcome
        };
        if runtime::polled_by_task() {
            // No hop onto the library's runtime for an async caller.
            return runtime::on_caller_task(operation).await;
        }
        runtime::spawn(operation).await.unwrap_or_else(|join| {
            let outcome = Err(Failure::Failed(join.to_string()));
            self.record(admission, &outcome);
            outcome
        })
    }

    /// Sends `cmd` and waits for its answer, no longer than the deadline.
    async fn send(&self, cmd: &Request) -> Result<Value, Failure> {
        let mut manager = self.manager()?;
        match tokio::time::timeout(self.timeout, manager.send(cmd)).await {
            // redis-rs hands a single command's error reply (NOPERM,
            // WRONGTYPE, OOM...) back as `Ok(Value::ServerError)`.
            Ok(answer) => answer
                .and_then(Value::extract_error)
                .map_err(|error| Failure::Failed(describe(&error))),
            Err(_) => Err(Failure::TimedOut),
        }
    }

    /// Reports a failed operation and tells the breaker how an operation it
    /// admitted ended; replaces the connection when that opens the breaker.
    fn record(&self, admission: Admission, outcome: &Result<Value, Failure>) {
        let verdict = match outcome {
            Ok(_) => Verdict::Answered,
            // A key holding another type answers for a live server.
            Err(Failure::Failed(error)) if error.starts_with("WRONGTYPE") => Verdict::Answered,
            Err(_) => Verdict::Failed,
        };
        if let Err(failure) = outcome {
            let what: &dyn std::fmt::Display = match failure {
                Failure::TimedOut => &"no answer within the deadline",
                Failure::Failed(error) => error,
                Failure::Skipped => &"skipped",
            };
            self.reporter.failure(&self.url, what);
        }
        if self.breaker.record(admission, verdict, Instant::now()) {
            tracing::warn!(
                target: "memocache::redis",
                url = %crate::remote::redis::report::redact(&self.url),
                "Redis circuit breaker opened: skipping Redis for a cool-down"
            );
            // A new connection will be made by the next operation admitted.
            self.drop_connection();
        }
    }

    /// Drops the connection; the next operation admitted makes a new one.
    fn drop_connection(&self) {
        let mut manager = self.manager.lock();
        if manager.take().is_some() {
            self.epoch.fetch_add(1, SeqCst);
        }
    }

    /// Delivers every change Redis reports under `prefix` (a key, or `None`:
    /// anything may have changed) to `sink`, for as long as the process runs.
    pub(crate) fn track(self: &Arc<Self>, prefix: String, sink: Sink) {
        let tracker = self.tracker.get_or_init(|| {
            let (sender, receiver) = unbounded_channel();
            *self.pushes.lock() = Some(sender);
            // The connection must be made anew, with the push sender.
            self.drop_connection();
            Tracker::start(self, receiver)
        });
        tracker.register(prefix, sink);
    }

    /// The connection, made now (in the library runtime's context) if there is none.
    fn manager(&self) -> Result<Connection, Failure> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| Failure::Failed(e.clone()))?;
        let mut manager = self.manager.lock();
        if let Some(manager) = &*manager {
            return Ok(manager.clone());
        }
        let client = match client {
            Endpoint::Single(client) => client,
            #[cfg(feature = "redis-cluster")]
            Endpoint::Cluster(client) => {
                let pushes = self.pushes.lock().clone();
                let made = Connection::Cluster(cluster::connect(client, self.timeout, pushes));
                *manager = Some(made.clone());
                return Ok(made);
            }
        };
        let mut config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(None)
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(self.timeout);
        if let Some(pushes) = &*self.pushes.lock() {
            config = config.set_push_sender(pushes.clone());
        }
        let made = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map(Connection::Single)
            .map_err(|error| Failure::Failed(describe(&error)))?;
        *manager = Some(made.clone());
        Ok(made)
    }
}

/// The client for `settings`: of a cluster when they name one.
fn endpoint(settings: &RedisSettings) -> Result<Endpoint, RedisError> {
    #[cfg(feature = "redis-cluster")]
    if settings.cluster.is_some() {
        return cluster::client(settings).map(Endpoint::Cluster);
    }
    client(settings).map(Endpoint::Single)
}

/// A client for `settings`, speaking RESP3.
fn client(settings: &RedisSettings) -> Result<Client, RedisError> {
    let info = settings.url.as_str().into_connection_info()?;
    let redis = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let info = info.set_redis_settings(redis);
    #[cfg(feature = "redis-tls")]
    if let Some(root_cert) = &settings.root_certificate {
        install_crypto_provider();
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert.clone()),
        };
        return Client::build_with_tls(info, certificates);
    }
    #[cfg(feature = "redis-tls")]
    if settings.url.starts_with("rediss://") {
        install_crypto_provider();
    }
    Client::open(info)
}

/// rustls needs a process-wide crypto provider; memocache installs ring's
/// unless the application installed one first.
#[cfg(feature = "redis-tls")]
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An error as one line, with the server's code (`WRONGTYPE`, `NOPERM`...)
/// first when there is one.
fn describe(error: &RedisError) -> String {
    match error.code() {
        Some(code) => format!("{code}: {error}"),
        None => error.to_string(),
    }
}
