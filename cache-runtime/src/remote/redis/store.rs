//! The Redis tier of one cache: its keys (`{namespace}:{key}`), its values (an
//! envelope around the codec's bytes) and its commands.
//!
//! `GET` (`GETEX ... PX` for a sliding cache), `SET ... PX`, `UNLINK`, and
//! `SCAN MATCH` + `UNLINK` in batches for `clear` (on every master of a
//! Redis Cluster, see `cluster_clear`). Every operation goes
//! through the shared [`Link`], so none waits past the deadline, and none
//! fails in the caller's eyes: an error is a miss or a skipped write.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redis::{Cmd, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::Config;
use crate::remote::codec::Codec;
use crate::remote::envelope::{fingerprint, open, seal};
use crate::remote::key::{redis_key, scan_pattern};
#[cfg(feature = "redis-cluster")]
use crate::remote::redis::cluster_clear;
use crate::remote::redis::link::{Failure, Link};
use crate::remote::redis::runtime;
use crate::remote::redis::settings::settings_for;
use crate::remote::tier::{
    Claimed, Fetched, Invalidation, Invalidations, RemoteFuture, RemoteLock, RemoteStats,
    RemoteTier,
};

/// How many keys one `SCAN` step asks for while clearing.
const SCAN_BATCH: usize = 500;

/// The Redis tier of one cache; `C` encodes its values.
pub struct RedisStore<K, V, C> {
    link: Arc<Link>,
    namespace: &'static str,
    config: Config<V>,
    fingerprint: u64,
    max_value_bytes: usize,
    lock_ttl: Duration,
    counters: Arc<Counters>,
    /// For a tiered cache: where changes Redis reports reach the local tier.
    invalidations: Option<Arc<Invalidations<K>>>,
    _types: PhantomData<fn(K, C) -> V>,
}

/// Finds the Rust key of a Redis key of a namespace.
pub(crate) type ParseKey<K> = fn(namespace: &str, redis_key: &str) -> Option<K>;

/// The counters of one tier, shared with its operations under way.
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    skipped: AtomicU64,
}

impl Counters {
    fn failure(&self, failure: &Failure) {
        let counter = match failure {
            Failure::Skipped => &self.skipped,
            Failure::TimedOut => &self.timeouts,
            Failure::Failed(_) => &self.errors,
        };
        counter.fetch_add(1, Relaxed);
    }
}

impl<K, V, C> RedisStore<K, V, C>
where
    C: Codec,
{
    /// The tier of the cache configured by `config`, with the Redis settings
    /// of its namespace (or the process's).
    pub fn new(config: &Config<V>) -> Self {
        let namespace = config.namespace_str();
        let settings = settings_for(namespace);
        Self {
            link: Link::shared(&settings),
            namespace,
            config: *config,
            fingerprint: fingerprint::<V>(C::ID, config.version_number()),
            max_value_bytes: settings.max_value_bytes,
            lock_ttl: settings.lock_ttl,
            counters: Arc::default(),
            invalidations: None,
            _types: PhantomData,
        }
    }

    /// Makes this the tier behind a local one: every change Redis reports
    /// under the namespace (by any client, expiry included) drops the local
    /// copy, found with `parse`; a key it cannot parse clears the local tier.
    pub(crate) fn track_for_local_tier(mut self, parse: ParseKey<K>) -> Self
    where
        K: Send + 'static,
    {
        let invalidations = Arc::new(Invalidations::default());
        let inbox = Arc::clone(&invalidations);
        let namespace = self.namespace;
        self.link.track(
            format!("{namespace}:"),
            Box::new(move |redis_key| {
                let key = redis_key.and_then(|redis_key| parse(namespace, redis_key));
                inbox.push(key.map_or(Invalidation::All, Invalidation::Key));
            }),
        );
        self.invalidations = Some(invalidations);
        self
    }

    /// The Redis key under which `key`'s value is stored; `None` for a key
    /// that cannot be serialized, which is never stored in Redis.
    pub fn redis_key(&self, key: &K) -> Option<String>
    where
        K: Serialize,
    {
        match redis_key(self.namespace, key) {
            Ok(name) => Some(name),
            Err(error) => {
                self.counters.errors.fetch_add(1, Relaxed);
                tracing::debug!(
                    target: "memocache::redis",
                    namespace = self.namespace,
                    "key not serializable, Redis skipped: {error}"
                );
                None
            }
        }
    }

    /// How long Redis keeps a value written now, and when it stops being
    /// fresh; `None`: it never expires.
    fn lifetime(&self, value: &V) -> Option<(Duration, SystemTime)> {
        let ttl = self.config.ttl_of(value)?;
        // A sliding entry's freshness is its Redis TTL, which reads renew.
        let grace = if self.config.is_sliding() {
            Duration::ZERO
        } else {
            self.config.stale_grace(ttl)
        };
        Some((ttl + grace, SystemTime::now() + ttl))
    }

    /// Writes `value` for `key`, kept and fresh as `lifetime` says (`None`:
    /// forever).
    fn write(
        &self,
        key: &K,
        value: &V,
        lifetime: Option<(Duration, SystemTime)>,
    ) -> RemoteFuture<()>
    where
        K: Serialize,
        V: Serialize,
    {
        let sealed = seal::<C, V>(value, self.fingerprint, lifetime.map(|(_, fresh)| fresh));
        let bytes = match sealed {
            Ok(bytes) if bytes.len() <= self.max_value_bytes => bytes,
            Ok(_) | Err(_) => {
                // Too large or not encodable: nothing is written, and the
                // value stays served from memory only.
                self.counters.errors.fetch_add(1, Relaxed);
                tracing::debug!(
                    target: "memocache::redis",
                    namespace = self.namespace,
                    "value not written to Redis: not encodable or over the size limit"
                );
                return done(());
            }
        };
        let Some(name) = self.redis_key(key) else {
            return done(());
        };
        let mut cmd = redis::cmd("SET");
        cmd.arg(name).arg(bytes);
        if let Some((keep_for, _)) = lifetime {
            cmd.arg("PX").arg(millis(keep_for));
        }
        let (link, counters) = (Arc::clone(&self.link), Arc::clone(&self.counters));
        Box::pin(async move {
            if let Err(failure) = link.run(cmd).await {
                counters.failure(&failure);
            }
        })
    }

    /// What reading this cache's values takes.
    fn reader(&self) -> Reader<V, C> {
        Reader {
            link: Arc::clone(&self.link),
            counters: Arc::clone(&self.counters),
            fingerprint: self.fingerprint,
            max_len: self.max_value_bytes,
            sliding_ttl: self.sliding_ttl(),
            renew: (self.config.is_sliding() && self.sliding_ttl().is_none())
                .then_some(self.config),
            _types: PhantomData,
        }
    }

    /// The TTL a sliding read renews every entry with, when it is the same
    /// for every value. With `ttl_fn` or `none_ttl` it depends on the value,
    /// known only once read.
    fn sliding_ttl(&self) -> Option<Duration> {
        let per_value = self.config.ttl_fn.is_some() || self.config.none_ttl.is_some();
        self.config
            .ttl
            .filter(|_| self.config.is_sliding() && !per_value)
    }

    /// `GETEX key PX ttl` for a sliding cache with one TTL for all values,
    /// `GET key` otherwise.
    fn read_command(&self, redis_key: String) -> Cmd {
        match self.sliding_ttl() {
            Some(ttl) => {
                let mut cmd = redis::cmd("GETEX");
                cmd.arg(redis_key).arg("PX").arg(millis(ttl));
                cmd
            }
            None => {
                let mut cmd = redis::cmd("GET");
                cmd.arg(redis_key);
                cmd
            }
        }
    }
}

/// Where the lock on the key named `redis_key` is held: outside every
/// namespace, so that taking it invalidates no local tier.
fn lock_name(redis_key: &str) -> String {
    format!("__memocache_lock:{redis_key}")
}

/// A token no other lock owner has: this process, this moment, a sequence number.
fn lock_token() -> String {
    static TAKEN: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let sequence = TAKEN.fetch_add(1, Relaxed);
    format!("{}:{nanos}:{sequence}", std::process::id())
}

/// How often a process waiting on another's lock looks for the value.
const LOCK_POLL: Duration = Duration::from_millis(5);

/// Deletes a lock if it still holds the owner's token.
const RELEASE_SCRIPT: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// What reading a value takes: a `GET` (or `GETEX`) and the envelope opened.
struct Reader<V, C> {
    link: Arc<Link>,
    counters: Arc<Counters>,
    fingerprint: u64,
    max_len: usize,
    /// A sliding entry's freshness is its Redis TTL, renewed by the read.
    sliding_ttl: Option<Duration>,
    /// A sliding cache whose TTL depends on the value: the entry is renewed
    /// once read, with its value's TTL.
    renew: Option<Config<V>>,
    _types: PhantomData<fn(C) -> V>,
}

impl<V: DeserializeOwned, C: Codec> Reader<V, C> {
    /// Runs `cmd`, which reads `redis_key`, and opens what it returns.
    async fn read(&self, cmd: Cmd, redis_key: &str) -> Fetched<V> {
        let bytes = match Arc::clone(&self.link).run(cmd).await {
            Ok(Value::BulkString(bytes)) => bytes,
            Ok(_) => {
                self.counters.misses.fetch_add(1, Relaxed);
                return Fetched::Missing;
            }
            Err(failure) => {
                self.counters.failure(&failure);
                return Fetched::Missing;
            }
        };
        let Ok(opened) = open::<C, V>(&bytes, self.fingerprint, self.max_len) else {
            // Foreign, truncated or undecodable: a miss, overwritten by the next write.
            self.counters.misses.fetch_add(1, Relaxed);
            return Fetched::Missing;
        };
        self.counters.hits.fetch_add(1, Relaxed);
        let value = opened.value;
        if let Some(ttl) = self.sliding_ttl {
            return Fetched::Fresh {
                value,
                fresh_for: Some(ttl),
            };
        }
        if let Some(config) = &self.renew {
            let ttl = config.ttl_of(&value);
            if let Some(ttl) = ttl {
                let mut pexpire = redis::cmd("PEXPIRE");
                pexpire.arg(redis_key).arg(millis(ttl));
                if let Err(failure) = Arc::clone(&self.link).run(pexpire).await {
                    self.counters.failure(&failure);
                }
            }
            return Fetched::Fresh {
                value,
                fresh_for: ttl,
            };
        }
        let Some(at) = opened.expires_at else {
            return Fetched::Fresh {
                value,
                fresh_for: None,
            };
        };
        match at.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => Fetched::Fresh {
                value,
                fresh_for: Some(left),
            },
            Ok(_) => Fetched::Stale {
                value,
                expired_for: Duration::ZERO,
            },
            Err(past) => Fetched::Stale {
                value,
                expired_for: past.duration(),
            },
        }
    }
}

/// Deletes `lock` if it still holds its owner's token.
async fn release(link: &Arc<Link>, counters: &Counters, lock: RemoteLock) {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(RELEASE_SCRIPT)
        .arg(1)
        .arg(lock.name)
        .arg(lock.token);
    if let Err(failure) = Arc::clone(link).run(cmd).await {
        counters.failure(&failure);
    }
}

/// A duration in whole milliseconds, at least 1 (`PX 0` is an error).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A finished operation.
fn done<T: Send + 'static>(value: T) -> RemoteFuture<T> {
    Box::pin(std::future::ready(value))
}

impl<K, V, C> RemoteTier<K, V> for RedisStore<K, V, C>
where
    K: Serialize + Send + Sync,
    V: Serialize + DeserializeOwned + Send + 'static,
    C: Codec,
{
    fn get(&self, key: &K) -> RemoteFuture<Fetched<V>> {
        let Some(name) = self.redis_key(key) else {
            return done(Fetched::Missing);
        };
        let (reader, cmd) = (self.reader(), self.read_command(name.clone()));
        Box::pin(async move { reader.read(cmd, &name).await })
    }

    fn put(&self, key: &K, value: &V) -> RemoteFuture<()> {
        if self.config.skips(value) {
            // The value is one the policy does not keep: what was held is outdated.
            let remove = self.remove(key);
            return Box::pin(async move {
                remove.await;
            });
        }
        self.write(key, value, self.lifetime(value))
    }

    fn rearm(&self, key: &K, value: &V, window: Duration) -> RemoteFuture<()> {
        let grace = self
            .config
            .stale_grace(self.config.ttl_of(value).unwrap_or(window));
        self.write(
            key,
            value,
            Some((window + grace, SystemTime::now() + window)),
        )
    }

    fn remove(&self, key: &K) -> RemoteFuture<bool> {
        let Some(name) = self.redis_key(key) else {
            return done(false);
        };
        let mut cmd = redis::cmd("UNLINK");
        cmd.arg(name);
        let (link, counters) = (Arc::clone(&self.link), Arc::clone(&self.counters));
        Box::pin(async move {
            match link.run(cmd).await {
                Ok(Value::Int(removed)) => removed > 0,
                Ok(_) => false,
                Err(failure) => {
                    counters.failure(&failure);
                    false
                }
            }
        })
    }

    fn clear(&self) -> RemoteFuture<()> {
        let pattern = scan_pattern(self.namespace);
        let (link, counters) = (Arc::clone(&self.link), Arc::clone(&self.counters));
        #[cfg(feature = "redis-cluster")]
        if link.is_cluster() {
            return Box::pin(async move {
                let cleared = cluster_clear::clear(&link, &pattern, SCAN_BATCH).await;
                if let Err(failure) = cleared {
                    counters.failure(&failure);
                }
            });
        }
        Box::pin(async move {
            let mut cursor = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_BATCH);
                let answer = match Arc::clone(&link).run(scan).await {
                    Ok(answer) => answer,
                    Err(failure) => return counters.failure(&failure),
                };
                let Ok((next, keys)) = redis::from_redis_value::<(u64, Vec<Vec<u8>>)>(answer)
                else {
                    counters.errors.fetch_add(1, Relaxed);
                    return;
                };
                if !keys.is_empty() {
                    let mut unlink = redis::cmd("UNLINK");
                    unlink.arg(keys);
                    if let Err(failure) = Arc::clone(&link).run(unlink).await {
                        return counters.failure(&failure);
                    }
                }
                if next == 0 {
                    return;
                }
                cursor = next;
            }
        })
    }

    fn claim(&self, key: &K) -> RemoteFuture<Claimed<V>> {
        let Some(name) = self.redis_key(key) else {
            return done(Claimed::Compute(None));
        };
        let lock = RemoteLock {
            name: lock_name(&name),
            token: lock_token(),
        };
        let read_command = self.read_command(name.clone());
        let mut take = redis::cmd("SET");
        take.arg(&lock.name)
            .arg(&lock.token)
            .arg("NX")
            .arg("PX")
            .arg(millis(self.lock_ttl));
        let (link, counters, lock_ttl) = (
            Arc::clone(&self.link),
            Arc::clone(&self.counters),
            self.lock_ttl,
        );
        let reader = self.reader();
        Box::pin(async move {
            let give_up = std::time::Instant::now() + lock_ttl;
            let mut waited = false;
            loop {
                match Arc::clone(&link).run(take.clone()).await {
                    // The owner before may have written the value and then
                    // released the lock since this process last looked.
                    Ok(Value::Okay) if waited => {
                        if let Fetched::Fresh { value, fresh_for } =
                            reader.read(read_command.clone(), &name).await
                        {
                            release(&link, &counters, lock).await;
                            return Claimed::Computed { value, fresh_for };
                        }
                        return Claimed::Compute(Some(lock));
                    }
                    Ok(Value::Okay) => return Claimed::Compute(Some(lock)),
                    // Another process holds it: look for its value, then try again.
                    Ok(_) => {}
                    Err(failure) => {
                        counters.failure(&failure);
                        return Claimed::Compute(None);
                    }
                }
                if let Fetched::Fresh { value, fresh_for } =
                    reader.read(read_command.clone(), &name).await
                {
                    return Claimed::Computed { value, fresh_for };
                }
                if std::time::Instant::now() >= give_up {
                    return Claimed::Compute(None);
                }
                waited = true;
                // The caller may be a sync thread or a runtime without a
                // timer: the pause runs on the library's runtime.
                let _ = runtime::spawn(async { tokio::time::sleep(LOCK_POLL).await }).await;
            }
        })
    }

    fn release(&self, lock: RemoteLock) -> RemoteFuture<()> {
        let (link, counters) = (Arc::clone(&self.link), Arc::clone(&self.counters));
        Box::pin(async move { release(&link, &counters, lock).await })
    }

    fn key_name(&self, key: &K) -> Option<String> {
        self.redis_key(key)
    }

    fn invalidations(&self) -> Option<Arc<Invalidations<K>>> {
        self.invalidations.clone()
    }

    fn stats(&self) -> RemoteStats {
        RemoteStats {
            hits: self.counters.hits.load(Relaxed),
            misses: self.counters.misses.load(Relaxed),
            errors: self.counters.errors.load(Relaxed),
            timeouts: self.counters.timeouts.load(Relaxed),
            skipped: self.counters.skipped.load(Relaxed),
            breaker_open: self.link.is_open(),
        }
    }
}
