//! The shared tier behind the memory store: the seam the call paths use
//! ([`tier`]) and, with the `redis` feature, the Redis tier:
//!
//! - [`codec`]: the [`Codec`] trait and the built-in value codecs;
//! - [`envelope`]: the header around a stored value ([`seal`], [`open`]);
//! - [`key`]: the Redis key of a Rust key ([`redis_key`], [`scan_pattern`]);
//! - [`key_parse`]: the Rust key of a Redis key ([`parse_key`]);
//! - [`redis`]: settings, the connection and the store itself.

#[cfg(feature = "redis")]
pub(crate) mod codec;
#[cfg(feature = "redis")]
pub(crate) mod envelope;
#[cfg(feature = "redis")]
pub(crate) mod key;
#[cfg(feature = "redis")]
pub(crate) mod key_parse;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod tier;

#[cfg(feature = "json")]
pub use codec::Json;
#[cfg(feature = "redis")]
pub use codec::{Bincode, Codec, CodecError};
#[cfg(feature = "redis")]
pub use envelope::{
    fingerprint, open, seal, Opened, Rejected, DEFAULT_MAX_VALUE_BYTES, FORMAT, HEADER_LEN,
};
#[cfg(feature = "redis")]
pub use key::{redis_key, scan_pattern};
#[cfg(feature = "redis")]
pub use key_parse::parse_key;
#[cfg(feature = "redis-cluster")]
pub use redis::settings::CLUSTER_VARIABLE;
#[cfg(feature = "redis")]
pub use redis::settings::{
    configure, configure_namespace, RedisSettings, SettingsError, DEFAULT_URL, URL_VARIABLE,
};
#[cfg(feature = "redis")]
pub use redis::{redis_tier, redis_tiered, store::RedisStore};
