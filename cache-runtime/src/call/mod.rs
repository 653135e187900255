//! The handles of annotated functions and the call paths their generated code
//! takes: the sync path, the async path, and the steps both share.

#[cfg(feature = "tokio")]
pub(crate) mod async_call;
pub(crate) mod configure;
pub(crate) mod handle;
pub(crate) mod step;
pub(crate) mod sync_call;
