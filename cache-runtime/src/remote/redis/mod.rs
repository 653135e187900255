//! The Redis tier (feature `redis`): settings, the library's runtime, one
//! shared connection per server (or Redis Cluster, feature `redis-cluster`)
//! behind a deadline and a circuit breaker, and the store that turns a
//! cache's keys and values into Redis commands.

mod breaker;
#[cfg(feature = "redis-cluster")]
mod cluster;
#[cfg(feature = "redis-cluster")]
mod cluster_clear;
#[cfg(feature = "redis-cluster")]
mod cluster_tracking;
mod link;
mod report;
pub(crate) mod runtime;
pub(crate) mod settings;
pub(crate) mod store;
mod tracking;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::Config;
use crate::remote::codec::Codec;
use crate::remote::key_parse::parse_key;
use crate::remote::tier::RemoteTier;
use store::RedisStore;

/// Builds the Redis tier of a cache that keeps no value in process memory:
/// what `store = "redis"` hands to `Cache::with_remote` as its
/// [`crate::RemoteFactory`], with `C` the codec.
pub fn redis_tier<K, V, C>(config: &Config<V>) -> Box<dyn RemoteTier<K, V>>
where
    K: Serialize + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Send + 'static,
    C: Codec,
{
    Box::new(RedisStore::<K, V, C>::new(config))
}

/// Builds the Redis tier behind a local one (`store = "redis"` with `size`):
/// it also tracks the cache's keys in Redis, so that a change by any client
/// drops the local copy in every process.
pub fn redis_tiered<K, V, C>(config: &Config<V>) -> Box<dyn RemoteTier<K, V>>
where
    K: Serialize + DeserializeOwned + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Send + 'static,
    C: Codec,
{
    Box::new(RedisStore::<K, V, C>::new(config).track_for_local_tier(parse_key::<K>))
}
