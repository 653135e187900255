//! The handle of a `#[cached]` function and the call path its generated code takes.

use std::borrow::Borrow;
use std::hash::Hash;
use std::thread::LocalKey;

use crate::clock::Clock;
use crate::config::Config;
use crate::handle::{fallback, handle_basics, settle, LazyStore};
use crate::latch::Outcome;
use crate::leader::{Claim, LeaderGuard};
use crate::local::{Local, ThreadSlot};
use crate::nesting::{self, ThreadTag};
use crate::shape::ReturnShape;
use crate::stats::Stats;
use crate::store::MemoryStore;

/// The cache behind one `#[cached]` function, reachable through the static the
/// macro generates (`SLOW_SQUARE` for `fn slow_square`).
///
/// Keys are derived from the arguments exactly as the function derives them:
/// for `fn f(n: u64)` the key is `n`, for `fn f(name: &str, page: u32)` it is
/// `(String, u32)`. The store is created on first use.
pub struct Cache<K: Send, V: Send> {
    core: LazyStore<K, V>,
}

handle_basics!(Cache);

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    /// The cached value for `key`, if live, without running the function or counting a hit.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.read(key)
    }

    /// Stores `value` for `key` as if the function had returned it.
    pub fn insert(&self, key: K, value: V) {
        self.core.get().insert(key, value);
    }

    /// Removes the entry for `key`; tells whether there was one. A call of the
    /// function already running for `key` will not store its result.
    pub fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.get().remove(key)
    }

    /// Removes every entry; calls already running will not store their results.
    pub fn clear(&self) {
        self.core.get().clear();
    }
}

/// Runs a memoized function: answers from the cache, or runs `body` once per
/// cold key however many threads ask for it. This thread's front table is
/// found through the store.
#[inline]
pub fn call_sync<K, V, R, S, F>(cache: &Cache<K, V>, key: K, _shape: S, body: F) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    let store = cache.core.get();
    serve::<K, V, R, S, F>(store, store.local(), key, body)
}

/// [`call_sync`] for a function that declares its own [`ThreadSlot`], the path
/// `#[cached]` generates: this thread's front table is one TLS access away.
#[inline]
pub fn call_sync_in<K, V, R, S, F>(
    cache: &Cache<K, V>,
    slot: &'static LocalKey<ThreadSlot<K, V>>,
    key: K,
    _shape: S,
    body: F,
) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    let store = cache.core.get();
    let mut call = Some((key, body));
    let served = slot.try_with(|slot| {
        let (key, body) = call.take().expect("taken once");
        serve::<K, V, R, S, F>(store, store.local_in(slot), key, body)
    });
    served.unwrap_or_else(|_| {
        // The thread is tearing its thread-locals down: use the store's map.
        let (key, body) = call.take().expect("not taken by a refused access");
        serve::<K, V, R, S, F>(store, store.local(), key, body)
    })
}

#[inline]
fn serve<K, V, R, S, F>(store: &MemoryStore<K, V>, local: &Local<K, V>, key: K, body: F) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    match store.front_lookup(local, &key) {
        Ok(value) => S::from_value(value),
        Err(hash) => miss::<K, V, R, S, F>(store, local, hash, key, body),
    }
}

/// The miss path, kept out of line so that the hit path stays small.
#[cold]
#[inline(never)]
fn miss<K, V, R, S, F>(
    store: &MemoryStore<K, V>,
    local: &Local<K, V>,
    hash: u64,
    key: K,
    body: F,
) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    let thread = nesting::this_thread();
    match store.claim_to_lead(local, hash, &key, thread) {
        Ok(seq) => {
            lead::<K, V, R, S, F>(store, LeaderGuard::new(store, hash, key, seq), None, body)
        }
        Err(claim) => resolve::<K, V, R, S, F>(store, key, claim, thread, body),
    }
}

/// Runs `body` as the leader of its key's flight and lands the guard.
#[inline]
fn lead<K, V, R, S, F>(
    store: &MemoryStore<K, V>,
    guard: LeaderGuard<'_, K, V>,
    stale: Option<V>,
    body: F,
) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    match S::into_value(body()) {
        Ok(value) => {
            guard.land(&value);
            S::from_value(value)
        }
        Err(returned) => {
            guard.fail();
            fallback::<K, V, S, R>(store, returned, stale)
        }
    }
}

/// What a caller does with any claim but that of a leader with nothing stale.
fn resolve<K, V, R, S, F>(
    store: &MemoryStore<K, V>,
    key: K,
    first: Claim<'_, K, V>,
    thread: ThreadTag,
    body: F,
) -> R
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    let mut claim = first;
    if claim.stale().is_some() {
        store.record_miss();
    }
    loop {
        match claim {
            Claim::Hit(value) => return S::from_value(value),
            Claim::Lead { guard, stale } => {
                return lead::<K, V, R, S, F>(store, guard, stale.map(|s| s.value), body)
            }
            Claim::Wait { latch, stale } => match latch.wait_blocking() {
                Outcome::Value(value) => return S::from_value(value),
                Outcome::Failed => {
                    return settle::<K, V, S, R>(store, key, body(), stale.map(|s| s.value))
                }
                Outcome::Abandoned => claim = store.claim(&key, false, Some(thread)),
            },
            Claim::Reentrant { stale } => {
                return settle::<K, V, S, R>(store, key, body(), stale.map(|s| s.value))
            }
        }
    }
}
