//! The handle of an `#[async_cached]` function and the call paths its generated
//! code takes.
//!
//! Waiting for another caller's computation yields the task (no worker thread
//! is blocked), no lock is held across an `.await`, and a caller whose future
//! is dropped mid-body abandons its flight so that a waiter takes over.

use std::borrow::Borrow;
use std::future::Future;
use std::hash::Hash;
use std::thread::LocalKey;

use crate::call::handle::{handle_basics, LazyTiers};
use crate::call::step::{self, Mode, Task, Tasks};
use crate::clock::Clock;
use crate::config::Config;
use crate::memory::claim::{Claim, Stale};
use crate::memory::local::{Local, ThreadSlot};
use crate::memory::store::MemoryStore;
use crate::remote::tier::{Fetched, RemoteFactory};
use crate::shape::ReturnShape;
use crate::stats::Stats;

/// The cache behind one `#[async_cached]` function, reachable through the static
/// the macro generates (`GET_PRODUCT` for `async fn get_product`).
///
/// The same store as [`crate::Cache`]; invalidation and clearing are `async` so
/// that remote tiers can take part in them.
pub struct AsyncCache<K: Send, V: Send> {
    pub(crate) core: LazyTiers<K, V>,
}

handle_basics!(AsyncCache);

impl<K, V> AsyncCache<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// The cached value for `key`, if live, without running the function or
    /// counting a hit: from process memory, else from the remote tier.
    pub async fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.core.get().read::<Tasks, Q>(key).await
    }

    /// Stores `value` for `key` as if the function had returned it.
    pub async fn insert(&self, key: K, value: V) {
        self.core.get().insert::<Tasks>(key, value).await;
    }

    /// Removes the entry for `key`; tells whether there was one. A call of the
    /// function already running for `key` will not store its result.
    pub async fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.core.get().invalidate::<Tasks, Q>(key).await
    }

    /// Removes every entry; calls already running will not store their results.
    pub async fn clear(&self) {
        self.core.get().clear::<Tasks>().await;
    }
}

/// Runs an `#[async_cached]` function: answers from the cache, or awaits `body`
/// once per cold key however many tasks ask for it. `slot` is the function's
/// [`ThreadSlot`], which holds the front table of the thread polling.
pub async fn call_async<K, V, R, S, F>(
    cache: &AsyncCache<K, V>,
    slot: &'static LocalKey<ThreadSlot<K, V>>,
    key: K,
    _shape: S,
    body: F,
) -> R
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
    S: ReturnShape<R, Value = V>,
    F: Future<Output = R>,
{
    let tiers = cache.core.get();
    let claim = match look_up(&tiers.memory, slot, &key) {
        Ok(value) => return S::from_value(value),
        Err(claim) => claim,
    };
    if claim.stale().is_some() {
        tiers.memory.record_miss();
    }
    step::resolve::<Tasks, K, V, R, S, _>(tiers, key, claim, Task(body), false).await
}

/// Like [`call_async`], for functions with `refresh_ahead`: within the window
/// after expiry the stale value is returned at once while one background task
/// runs a fresh body made by `body`. A failed refresh leaves the stale value in
/// place; the next stale hit tries again.
pub async fn call_async_refreshing<K, V, R, S, F, Fut>(
    cache: &'static AsyncCache<K, V>,
    slot: &'static LocalKey<ThreadSlot<K, V>>,
    key: K,
    _shape: S,
    body: F,
) -> R
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: ReturnShape<R, Value = V>,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let tiers = cache.core.get();
    let store = &tiers.memory;
    let window = cache.core.config.refresh_ahead.unwrap_or_default();
    let claim = match look_up(store, slot, &key) {
        Ok(value) | Err(Claim::Hit(value)) => return S::from_value(value),
        Err(claim) => claim,
    };
    // With nothing stale in memory (a remote-only cache keeps nothing), the
    // remote tier may hold a stale value: the leader's to serve while it
    // refreshes and, while a refresh runs, every waiter's. Such a claim
    // counted a miss, which a value served then turns into a hit.
    let counted_miss = claim.stale().is_none();
    let (claim, remote_asked) = match (claim, &tiers.remote) {
        (Claim::Lead { guard, stale: None }, Some(remote)) => {
            match Tasks::remote(remote.get(guard.key())).await {
                Fetched::Fresh { value, fresh_for } => {
                    store.record_remote_hit();
                    guard.land_within(&value, fresh_for);
                    return S::from_value(value);
                }
                Fetched::Stale { value, expired_for } => {
                    let stale = Some(Stale { value, expired_for });
                    (Claim::Lead { guard, stale }, true)
                }
                Fetched::Missing => (Claim::Lead { guard, stale: None }, true),
            }
        }
        (Claim::Wait { latch, stale: None }, Some(remote)) => {
            match Tasks::remote(remote.get(&key)).await {
                Fetched::Fresh { value, .. } => {
                    store.record_remote_hit();
                    return S::from_value(value);
                }
                Fetched::Stale { value, expired_for } => {
                    let stale = Some(Stale { value, expired_for });
                    (Claim::Wait { latch, stale }, true)
                }
                Fetched::Missing => (Claim::Wait { latch, stale: None }, true),
            }
        }
        (claim, _) => (claim, false),
    };
    let fresh_enough = claim
        .stale()
        .is_some_and(|stale| stale.expired_for < window);
    if fresh_enough && tokio::runtime::Handle::try_current().is_ok() {
        if counted_miss {
            store.record_remote_hit();
        } else {
            store.record_hit();
        }
        return match claim {
            Claim::Lead {
                guard,
                stale: Some(stale),
            } => {
                tokio::spawn(async move {
                    step::refresh::<K, V, R, S, _>(cache.core.get(), guard, Task(body())).await;
                });
                S::from_value(stale.value)
            }
            // A refresh is running, or this task runs it (and calls itself).
            Claim::Wait {
                stale: Some(stale), ..
            }
            | Claim::Reentrant { stale: Some(stale) } => S::from_value(stale.value),
            _ => unreachable!("a claim with a stale value"),
        };
    }
    if claim.stale().is_some() && !counted_miss {
        store.record_miss();
    }
    step::resolve::<Tasks, K, V, R, S, _>(tiers, key, claim, Task(body()), remote_asked).await
}

/// A front-table copy of `key`'s value, or else what its shard says to do.
/// This thread's state comes from `slot`, or from the store's map while the
/// thread tears its thread-locals down.
fn look_up<'a, K, V>(
    store: &'a MemoryStore<K, V>,
    slot: &'static LocalKey<ThreadSlot<K, V>>,
    key: &K,
) -> Result<V, Claim<'a, K, V>>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    fn with_local<'a, K, V>(
        store: &'a MemoryStore<K, V>,
        local: &Local<K, V>,
        key: &K,
    ) -> Result<V, Claim<'a, K, V>>
    where
        K: Hash + Eq + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        store
            .front_lookup(local, key)
            .map_err(|hash| store.claim_hashed(local, hash, key, true, None))
    }
    slot.try_with(|slot| with_local(store, store.local_in(slot), key))
        .unwrap_or_else(|_| with_local(store, store.local(), key))
}
