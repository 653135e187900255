//! The Redis tier (feature `redis`): settings, the library's runtime, one
//! shared connection per server behind a deadline and a circuit breaker, and
//! the store that turns a cache's keys and values into Redis commands.

mod breaker;
mod link;
mod report;
mod runtime;
pub(crate) mod settings;
pub(crate) mod store;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::Config;
use crate::remote::codec::Codec;
use crate::remote::tier::RemoteTier;
use store::RedisStore;

/// Builds the Redis tier of a cache: what `store = "redis"` hands to
/// `Cache::with_remote` as its [`crate::RemoteFactory`], with `C` the codec.
pub fn redis_tier<K, V, C>(config: &Config<V>) -> Box<dyn RemoteTier<K, V>>
where
    K: Serialize + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Send + 'static,
    C: Codec,
{
    Box::new(RedisStore::<K, V, C>::new(config))
}
