//! The handle of a `#[cached]` function and the call path its generated code takes.

use std::borrow::Borrow;
use std::hash::Hash;
use std::thread::LocalKey;

use crate::call::handle::{handle_basics, LazyTiers, Tiers};
use crate::call::step::{self, Blocking, Call, Led};
use crate::clock::Clock;
use crate::config::Config;
use crate::memory::claim::LeaderGuard;
use crate::memory::local::{Local, ThreadSlot};
use crate::memory::nesting;
use crate::memory::store::MemoryStore;
use crate::remote::tier::RemoteFactory;
use crate::shape::ReturnShape;
use crate::stats::Stats;
use crate::watch::load::load_sync;

/// The cache behind one `#[cached]` function, reachable through the static the
/// macro generates (`SLOW_SQUARE` for `fn slow_square`).
///
/// Keys are derived from the arguments exactly as the function derives them:
/// for `fn f(n: u64)` the key is `n`, for `fn f(name: &str, page: u32)` it is
/// `(String, u32)`. The store is created on first use.
///
/// With a remote tier (`store = "redis"`), every method reaches it too,
/// waiting for it no longer than its deadline.
pub struct Cache<K: Send, V: Send> {
    pub(crate) core: LazyTiers<K, V>,
}

handle_basics!(Cache);

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// The cached value for `key`, if live, without running the function or
    /// counting a hit: from process memory, else from the remote tier.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        step::finish(self.core.get().read::<Blocking, Q>(key))
    }

    /// Stores `value` for `key` as if the function had returned it.
    pub fn insert(&self, key: K, value: V) {
        step::finish(self.core.get().insert::<Blocking>(key, value));
    }

    /// Removes the entry for `key`; tells whether there was one. A call of the
    /// function already running for `key` will not store its result.
    pub fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        step::finish(self.core.get().invalidate::<Blocking, Q>(key))
    }

    /// Removes every entry; calls already running will not store their results.
    pub fn clear(&self) {
        step::finish(self.core.get().clear::<Blocking>());
    }
}

/// Runs a memoized function: answers from the cache, or runs `body` once per
/// cold key however many threads ask for it. This thread's front table is
/// found through the store.
#[inline]
pub fn call_sync<K, V, R, S, F>(cache: &Cache<K, V>, key: K, _shape: S, body: F) -> R
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    let tiers = cache.core.get();
    serve::<K, V, R, S, F>(tiers, tiers.memory.local(), key, body)
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
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    let tiers = cache.core.get();
    let mut call = Some((key, body));
    let served = slot.try_with(|slot| {
        let (key, body) = call.take().expect("taken once");
        serve::<K, V, R, S, F>(tiers, tiers.memory.local_in(slot), key, body)
    });
    served.unwrap_or_else(|_| {
        // The thread is tearing its thread-locals down: use the store's map.
        let (key, body) = call.take().expect("not taken by a refused access");
        serve::<K, V, R, S, F>(tiers, tiers.memory.local(), key, body)
    })
}

#[inline]
fn serve<K, V, R, S, F>(tiers: &Tiers<K, V>, local: &Local<K, V>, key: K, body: F) -> R
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    match tiers.memory.front_lookup(local, &key) {
        Ok(value) => S::from_value(value),
        Err(hash) => miss::<K, V, R, S, F>(tiers, local, hash, key, body),
    }
}

/// The miss path, kept out of line so that the hit path stays small.
#[cold]
#[inline(never)]
fn miss<K, V, R, S, F>(tiers: &Tiers<K, V>, local: &Local<K, V>, hash: u64, key: K, body: F) -> R
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
    S: ReturnShape<R, Value = V>,
    F: FnOnce() -> R,
{
    let store = &tiers.memory;
    let thread = nesting::this_thread();
    match store.claim_to_lead(local, hash, &key, thread) {
        Ok(seq) if tiers.remote.is_none() => {
            // Nothing to wait for: the leader's steps, with no state machine.
            let guard = LeaderGuard::new(store, hash, key, seq);
            let returned = load_sync::<K, V, R, S>(store, body);
            match step::led::<K, V, R, S>(store, guard, returned, None) {
                Led::Land {
                    guard,
                    value,
                    rearm,
                } => {
                    guard.land_or_rearm(&value, rearm);
                    S::from_value(value)
                }
                Led::Return(returned) => returned,
            }
        }
        Ok(seq) => {
            let guard = LeaderGuard::new(store, hash, key, seq);
            step::finish(step::lead::<Blocking, K, V, R, S, _>(
                tiers,
                guard,
                None,
                Call(body),
                false,
            ))
        }
        Err(claim) => {
            if claim.stale().is_some() {
                store.record_miss();
            }
            step::finish(step::resolve::<Blocking, K, V, R, S, _>(
                tiers,
                key,
                claim,
                Call(body),
                false,
            ))
        }
    }
}
