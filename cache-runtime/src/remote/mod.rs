//! The Redis tier's wire formats: how keys and values look in Redis.
//!
//! - [`codec`]: the [`Codec`] trait and the built-in value codecs;
//! - [`envelope`]: the header around a stored value ([`seal`], [`open`]);
//! - [`key`]: the Redis key of a Rust key ([`redis_key`], [`scan_pattern`]).

mod codec;
mod envelope;
mod key;

#[cfg(feature = "json")]
pub use codec::Json;
pub use codec::{Bincode, Codec, CodecError};
pub use envelope::{
    fingerprint, open, seal, Opened, Rejected, DEFAULT_MAX_VALUE_BYTES, FORMAT, HEADER_LEN,
};
pub use key::{redis_key, scan_pattern};
