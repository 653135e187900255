//! What a cache key and a cached value must be, as traits whose compile
//! errors say how to fix the function.
//!
//! `#[cached]` and `#[async_cached]` assert these bounds on the type of every
//! argument in the key and on the cached value, so that a type that cannot be
//! either is reported at that argument or at the return type, in these words:
//!
//! ```text
//! error[E0277]: `Db` cannot be part of a cache key
//!  --> src/main.rs:8:42
//!   |
//! 8 | async fn product(State(db): State<Db>, Path(id): Path<u64>) -> Json<Product> {
//!   |                                   ^^ part of the cache key, so it must be `Hash + Eq + Clone + Send + 'static`
//!   |
//!   = note: leave an argument that does not identify the result (a database pool, an axum `State`) out of the key with `#[skip]`, or choose the key with `key = id`
//! ```
//!
//! Both traits are implemented for every type that has what they need; a
//! user never implements them.

use std::hash::Hash;

/// What every part of a cache key must be: hashable and comparable to find
/// the entry, `Clone` to store it, `Send` to share it between threads, and
/// `'static` to live in the cache's `static`.
///
/// Implemented for every such type.
///
/// ```
/// fn key_part<T: memocache_runtime::bounds::KeyPart>() {}
/// key_part::<(u64, String)>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a cache key",
    label = "part of the cache key, so it must be `Hash + Eq + Clone + Send + 'static`",
    note = "leave an argument that does not identify the result (a database pool, an axum `State`) out of the key \
            with `#[skip]`, or choose the key with `key = ...` (and `key_type = ...` for an expression)"
)]
pub trait KeyPart: Hash + Eq + Clone + Send + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Hash + Eq + Clone + Send + 'static> KeyPart for T {}

/// What a cached value must be: `Clone`, since every hit hands out a copy,
/// `Send` to share it between threads, and `'static` to live in the cache's
/// `static`. For a value that is costly to clone or not `Clone` at all,
/// return an `Arc<T>`.
///
/// Implemented for every such type.
///
/// ```
/// fn value<T: memocache_runtime::bounds::CacheValue>() {}
/// value::<std::sync::Arc<Vec<u8>>>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a cached value",
    label = "cached, and every hit hands out a copy, so it must be `Clone + Send + 'static`",
    note = "return an `Arc<T>` for a value that is not `Clone` (or costly to clone); \
            for a web handler, cache the data (`Json<T>`, `String`) rather than a response or `impl IntoResponse`"
)]
pub trait CacheValue: Clone + Send + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Clone + Send + 'static> CacheValue for T {}

/// Asserts `T: KeyPart` where the macros call it, spanned on an argument's type.
#[doc(hidden)]
#[inline(always)]
pub const fn key_part<T: KeyPart>() {}

/// Asserts `T: CacheValue` where the macros call it, spanned on the return type.
#[doc(hidden)]
#[inline(always)]
pub const fn cache_value<T: CacheValue>() {}

/// The call paths of the generated code, with the key and value bounds in
/// this module's words: a type that cannot be cached is reported once, as
/// these traits say, rather than once for each of `Hash`, `Eq` and `Clone`.
#[doc(hidden)]
pub mod call {
    #[cfg(feature = "tokio")]
    use std::future::Future;
    use std::thread::LocalKey;

    use super::{CacheValue, KeyPart};
    use crate::shape::ReturnShape;
    use crate::{Cache, ThreadSlot};

    /// [`crate::call_sync_in`].
    #[inline(always)]
    pub fn cached<K: KeyPart, V: CacheValue, R, S, F>(
        cache: &Cache<K, V>,
        slot: &'static LocalKey<ThreadSlot<K, V>>,
        key: K,
        shape: S,
        body: F,
    ) -> R
    where
        S: ReturnShape<R, Value = V>,
        F: FnOnce() -> R,
    {
        crate::call_sync_in(cache, slot, key, shape, body)
    }

    /// [`crate::call_async`].
    #[cfg(feature = "tokio")]
    #[inline(always)]
    pub fn async_cached<'a, K: KeyPart, V: CacheValue, R, S, F>(
        cache: &'a crate::AsyncCache<K, V>,
        slot: &'static LocalKey<ThreadSlot<K, V>>,
        key: K,
        shape: S,
        body: F,
    ) -> impl Future<Output = R> + 'a
    where
        S: ReturnShape<R, Value = V>,
        F: Future<Output = R> + 'a,
        R: 'a,
        S: 'a,
    {
        crate::call_async(cache, slot, key, shape, body)
    }

    /// [`crate::call_async_refreshing`].
    #[cfg(feature = "tokio")]
    #[inline(always)]
    pub fn async_refreshing<K: KeyPart + Sync, V: CacheValue + Sync, R, S, F, Fut>(
        cache: &'static crate::AsyncCache<K, V>,
        slot: &'static LocalKey<ThreadSlot<K, V>>,
        key: K,
        shape: S,
        body: F,
    ) -> impl Future<Output = R>
    where
        S: ReturnShape<R, Value = V>,
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        crate::call_async_refreshing(cache, slot, key, shape, body)
    }
}
