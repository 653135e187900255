//! Invalidations that reach every process: RESP3 client tracking in
//! broadcasting mode (`CLIENT TRACKING ON BCAST NOLOOP PREFIX ...`) on the
//! shared connection of a server.
//!
//! Redis then pushes the name of every key under a tracked prefix that any
//! client writes, deletes, or lets expire, with no server configuration;
//! `NOLOOP` spares a process the echo of its own writes. Each tiered cache
//! registers its namespace and a sink that turns a Redis key into a local
//! invalidation.
//!
//! A process that loses the channel may have missed invalidations, so it
//! clears its local tiers: when the connection drops (redis-rs pushes a
//! disconnection), when the connection is replaced, when a heartbeat `PING`
//! fails or misses its deadline (a frozen server), and once more when
//! tracking is back on, for what was filled while it was off.
//!
//! On a Redis Cluster (feature `redis-cluster`) tracking is on at every
//! master, and the heartbeat checks it is on at each (see
//! `cluster_tracking`); while it cannot be turned on, the local tiers are
//! cleared at every heartbeat, since the masters that are up keep serving
//! values that other clients may change unseen.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Notify;

#[cfg(feature = "redis-cluster")]
use crate::remote::redis::cluster_tracking;
use crate::remote::redis::link::Link;
use crate::remote::redis::runtime;

/// Where tracking was turned on: the masters of a cluster, by address (none
/// for one server).
pub(crate) type Tracked = BTreeSet<String>;

/// How often the channel is checked with a `PING`.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(100);

/// What a tiered cache is told: one of its keys changed (`Some`), or anything
/// may have (`None`).
pub(crate) type Sink = Box<dyn Fn(Option<&str>) + Send + Sync>;

struct Registration {
    prefix: String,
    sink: Sink,
}

/// The tracking of one server's shared connection.
pub(crate) struct Tracker {
    registrations: Mutex<Vec<Registration>>,
    changed: Notify,
}

impl Tracker {
    /// Starts tracking for `link`: from now on its connection is made with
    /// `pushes`' sender, and the task that reads them runs.
    pub(crate) fn start(link: &Arc<Link>, pushes: UnboundedReceiver<PushInfo>) -> Arc<Self> {
        let tracker = Arc::new(Self {
            registrations: Mutex::new(Vec::new()),
            changed: Notify::new(),
        });
        runtime::spawn(follow(Arc::clone(link), Arc::clone(&tracker), pushes));
        tracker
    }

    /// Tracks keys under `prefix` for `sink`.
    pub(crate) fn register(&self, prefix: String, sink: Sink) {
        self.registrations
            .lock()
            .push(Registration { prefix, sink });
        self.changed.notify_one();
    }

    /// Tells every registration that anything may have changed.
    fn clear_all(&self) {
        for registration in self.registrations.lock().iter() {
            (registration.sink)(None);
        }
    }

    /// Hands a changed key to the registrations whose prefix it has.
    fn invalidate(&self, key: &str) {
        for registration in self.registrations.lock().iter() {
            if key.starts_with(&registration.prefix) {
                (registration.sink)(Some(key));
            }
        }
    }

    /// The prefixes to track: no two may overlap (Redis refuses it), so a
    /// prefix inside a shorter one is left to the shorter one.
    fn prefixes(&self) -> Vec<String> {
        let mut prefixes: Vec<String> = self
            .registrations
            .lock()
            .iter()
            .map(|r| r.prefix.clone())
            .collect();
        prefixes.sort();
        prefixes.dedup();
        let mut kept: Vec<String> = Vec::new();
        for prefix in prefixes {
            if !kept
                .iter()
                .any(|shorter| prefix.starts_with(shorter.as_str()))
            {
                kept.push(prefix);
            }
        }
        kept
    }

    /// Turns tracking on for the current prefixes; tells where, if it is on.
    async fn enable(&self, link: &Arc<Link>) -> Option<Tracked> {
        let prefixes = self.prefixes();
        if prefixes.is_empty() {
            return None;
        }
        let mut on = redis::cmd("CLIENT");
        on.arg("TRACKING").arg("ON").arg("BCAST").arg("NOLOOP");
        for prefix in &prefixes {
            on.arg("PREFIX").arg(prefix);
        }
        #[cfg(feature = "redis-cluster")]
        if link.is_cluster() {
            return cluster_tracking::enable(link, on).await;
        }
        let mut off = redis::cmd("CLIENT");
        off.arg("TRACKING").arg("OFF");
        Arc::clone(link).run(off).await.ok()?;
        Arc::clone(link).run(on).await.ok()?;
        Some(Tracked::new())
    }
}

/// Whether tracking is still on where it was turned on: a `PING` answered
/// in time, or on a cluster, tracking still on at the same masters.
async fn alive(link: &Arc<Link>, tracked: &Tracked) -> bool {
    #[cfg(feature = "redis-cluster")]
    if link.is_cluster() {
        return cluster_tracking::alive(link, tracked).await;
    }
    let _ = tracked;
    Arc::clone(link).run(redis::cmd("PING")).await.is_ok()
}

/// Reads the pushes of `link`'s connection for `tracker`, keeps tracking on,
/// and clears the local tiers whenever invalidations may have been missed.
async fn follow(link: Arc<Link>, tracker: Arc<Tracker>, mut pushes: UnboundedReceiver<PushInfo>) {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The connection tracking was turned on for, and where (`None`: off).
    let mut tracked_epoch: Option<(u64, Tracked)> = None;
    loop {
        if tracked_epoch.is_none() {
            let epoch = link.epoch.load(SeqCst);
            match tracker.enable(&link).await {
                Some(tracked) if link.epoch.load(SeqCst) == epoch => {
                    // What was filled while tracking was off may be outdated.
                    tracker.clear_all();
                    tracked_epoch = Some((epoch, tracked));
                }
                _ if link.is_cluster() => tracker.clear_all(),
                _ => {}
            }
        }
        tokio::select! {
            push = pushes.recv() => {
                let Some(push) = push else { return };
                match push.kind {
                    PushKind::Invalidate => match push.data.first() {
                        Some(Value::Array(keys)) => {
                            for key in keys {
                                match key {
                                    Value::BulkString(key) => match std::str::from_utf8(key) {
                                        Ok(key) => tracker.invalidate(key),
                                        Err(_) => tracker.clear_all(),
                                    },
                                    _ => tracker.clear_all(),
                                }
                            }
                        }
                        // FLUSHDB / FLUSHALL: every key went.
                        _ => tracker.clear_all(),
                    },
                    PushKind::Disconnection => {
                        tracked_epoch = None;
                        tracker.clear_all();
                    }
                    _ => {}
                }
            }
            _ = heartbeat.tick() => {
                if let Some((epoch, tracked)) = &tracked_epoch {
                    let alive = link.epoch.load(SeqCst) == *epoch
                        && alive(&link, tracked).await;
                    if !alive {
                        tracked_epoch = None;
                        tracker.clear_all();
                    }
                }
            }
            _ = tracker.changed.notified() => tracked_epoch = None,
        }
    }
}
