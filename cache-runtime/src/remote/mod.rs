//! The shared tier behind the memory store: the seam the call paths use
//! ([`tier`]) and, with the `redis` feature, the Redis store.

pub(crate) mod tier;
