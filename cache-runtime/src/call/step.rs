//! What a call does once its key was not in this thread's front table, written
//! once for the sync and the async paths: lead (ask the remote tier, run the
//! body, land the result, write it back), wait for another caller's flight,
//! or run alongside a flight whose result could not be shared.
//!
//! The two paths differ only in how they wait, how they run the body and how
//! they take a remote answer ([`Mode`] and [`Body`]). Each step is an `async
//! fn`; the sync path drives it with [`finish`], which polls it once: in
//! [`Blocking`] mode nothing awaits a wake-up, so one poll runs it to the end.

use std::future::Future;
use std::hash::Hash;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::call::handle::Tiers;
use crate::config::Config;
use crate::memory::claim::{Claim, LeaderGuard};
use crate::memory::latch::{Latch, Outcome};
use crate::memory::nesting::{self, ThreadTag};
use crate::memory::store::MemoryStore;
use crate::remote::tier::{Claimed, Fetched, RemoteFuture};
use crate::shape::ReturnShape;
use crate::watch::load::load;

/// How a caller waits: blocking its thread, or yielding its task.
pub(crate) trait Mode {
    /// The thread a sync caller records in the flights it leads, so that its
    /// body calling the same key is recognised; tasks are marked instead.
    fn thread() -> Option<ThreadTag>;

    /// Waits until `latch` opens.
    async fn wait<V: Clone>(latch: &Latch<V>) -> Outcome<V>;

    /// Takes the answer of a remote operation.
    async fn remote<T>(operation: RemoteFuture<T>) -> T;
}

/// A sync caller: blocks its thread on latches and remote operations.
pub(crate) struct Blocking;

impl Blocking {
    /// Waits for a remote operation. It runs on the tier's own runtime and
    /// ends within its deadline, so blocking on it works from any thread.
    pub(crate) fn block<T>(operation: RemoteFuture<T>) -> T {
        pollster::block_on(operation)
    }
}

impl Mode for Blocking {
    fn thread() -> Option<ThreadTag> {
        Some(nesting::this_thread())
    }

    async fn wait<V: Clone>(latch: &Latch<V>) -> Outcome<V> {
        latch.wait_blocking()
    }

    async fn remote<T>(operation: RemoteFuture<T>) -> T {
        Self::block(operation)
    }
}

/// An async caller: yields its task, and never blocks a worker thread.
#[cfg(feature = "tokio")]
pub(crate) struct Tasks;

#[cfg(feature = "tokio")]
impl Mode for Tasks {
    fn thread() -> Option<ThreadTag> {
        None
    }

    async fn wait<V: Clone>(latch: &Latch<V>) -> Outcome<V> {
        latch.wait().await
    }

    async fn remote<T>(operation: RemoteFuture<T>) -> T {
        // The Redis tier then sends from this task, with no hop.
        #[cfg(feature = "redis")]
        let operation = crate::remote::redis::runtime::awaited_by_task(operation);
        operation.await
    }
}

/// A function's body: a closure for a sync function, a future for an async one.
pub(crate) trait Body<R> {
    /// Runs the body as the leader of `guard`'s flight.
    async fn lead<K, V>(self, guard: &LeaderGuard<'_, K, V>) -> R
    where
        K: Hash + Eq + Clone + Send,
        V: Clone + Send;

    /// Runs the body outside any flight.
    async fn run(self) -> R;
}

/// The body of a sync function.
pub(crate) struct Call<F>(pub(crate) F);

impl<R, F: FnOnce() -> R> Body<R> for Call<F> {
    async fn lead<K, V>(self, _guard: &LeaderGuard<'_, K, V>) -> R
    where
        K: Hash + Eq + Clone + Send,
        V: Clone + Send,
    {
        // The flight recorded this thread: a call of the same key from it is
        // a call from inside the body.
        (self.0)()
    }

    async fn run(self) -> R {
        (self.0)()
    }
}

/// The body of an async function.
#[cfg(feature = "tokio")]
pub(crate) struct Task<F>(pub(crate) F);

#[cfg(feature = "tokio")]
impl<F: Future> Body<F::Output> for Task<F> {
    async fn lead<K, V>(self, guard: &LeaderGuard<'_, K, V>) -> F::Output
    where
        K: Hash + Eq + Clone + Send,
        V: Clone + Send,
    {
        // A task moves between threads: each poll of the body is marked.
        nesting::lead(guard.id(), self.0).await
    }

    async fn run(self) -> F::Output {
        self.0.await
    }
}

/// Runs a step of a sync call to its end.
#[inline]
pub(crate) fn finish<F: Future>(step: F) -> F::Output {
    let mut step = pin!(step);
    match step.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(returned) => returned,
        Poll::Pending => unreachable!("a blocking step never waits for a wake-up"),
    }
}

/// Takes `first` (any claim but a front-table hit) to the call's return value.
/// `remote_asked`: the caller already asked the remote tier for this key.
pub(crate) async fn resolve<M, K, V, R, S, B>(
    tiers: &Tiers<K, V>,
    key: K,
    first: Claim<'_, K, V>,
    body: B,
    remote_asked: bool,
) -> R
where
    M: Mode,
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    B: Body<R>,
{
    let mut claim = first;
    let mut remote_asked = remote_asked;
    loop {
        match claim {
            Claim::Hit(value) => return S::from_value(value),
            Claim::Lead { guard, stale } => {
                let stale = stale.map(|s| s.value);
                return lead::<M, K, V, R, S, B>(tiers, guard, stale, body, remote_asked).await;
            }
            Claim::Wait { latch, stale } => match M::wait(&latch).await {
                Outcome::Value(value) => return S::from_value(value),
                Outcome::Failed => {
                    let returned = load::<K, V, R, S>(&tiers.memory, body.run()).await;
                    let stale = stale.map(|s| s.value);
                    return settle::<M, K, V, S, R>(tiers, key, returned, stale).await;
                }
                Outcome::Abandoned => {
                    claim = tiers.memory.claim(&key, false, M::thread());
                    remote_asked = false;
                }
            },
            Claim::Reentrant { stale } => {
                let returned = load::<K, V, R, S>(&tiers.memory, body.run()).await;
                let stale = stale.map(|s| s.value);
                return settle::<M, K, V, S, R>(tiers, key, returned, stale).await;
            }
        }
    }
}

/// The leader of a cold key: asks the remote tier (unless `remote_asked`),
/// else runs the body, lands its result and writes it to the remote tier.
#[inline]
pub(crate) async fn lead<M, K, V, R, S, B>(
    tiers: &Tiers<K, V>,
    guard: LeaderGuard<'_, K, V>,
    stale: Option<V>,
    body: B,
    remote_asked: bool,
) -> R
where
    M: Mode,
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    B: Body<R>,
{
    let mut stale = stale;
    let mut lock = None;
    if let Some(remote) = &tiers.remote {
        if !remote_asked {
            match M::remote(remote.get(guard.key())).await {
                Fetched::Fresh { value, fresh_for } => {
                    tiers.memory.record_remote_hit();
                    guard.land_within(&value, fresh_for);
                    return S::from_value(value);
                }
                Fetched::Stale { value, .. } => stale = stale.or(Some(value)),
                Fetched::Missing => {}
            }
        }
        if tiers.memory.config().single_flight {
            match M::remote(remote.claim(guard.key())).await {
                Claimed::Computed { value, fresh_for } => {
                    tiers.memory.record_remote_hit();
                    guard.land_within(&value, fresh_for);
                    return S::from_value(value);
                }
                Claimed::Compute(taken) => lock = taken,
            }
        }
    }
    let returned = load::<K, V, R, S>(&tiers.memory, body.lead(&guard)).await;
    let returned = match led::<K, V, R, S>(&tiers.memory, guard, returned, stale) {
        Led::Land {
            guard,
            value,
            rearm,
        } => {
            land_and_write::<M, K, V>(tiers, guard, &value, rearm).await;
            S::from_value(value)
        }
        Led::Return(returned) => returned,
    };
    if let (Some(remote), Some(lock)) = (&tiers.remote, lock) {
        // After the write: the processes waiting on the lock find the value.
        M::remote(remote.release(lock)).await;
    }
    returned
}

/// What a leader does with what its body returned.
pub(crate) enum Led<'a, K: Hash + Eq + Clone + Send, V: Clone + Send, R> {
    /// Land `value` and hand it to the waiters: fresh as the policy says, or,
    /// re-armed by `stale_if_error` after a failed body, for `rearm`.
    Land {
        guard: LeaderGuard<'a, K, V>,
        value: V,
        rearm: Option<Duration>,
    },
    /// The flight failed and nothing stale is served: return this.
    Return(R),
}

/// What the body of `guard`'s flight returned: a value to land (the stale
/// value, re-armed for the retry window, if the body failed and the cache
/// serves it), or else the call's return value, the flight failed.
#[inline]
pub(crate) fn led<'a, K, V, R, S>(
    store: &MemoryStore<K, V>,
    guard: LeaderGuard<'a, K, V>,
    returned: R,
    stale: Option<V>,
) -> Led<'a, K, V, R>
where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
{
    match S::into_value(returned) {
        Ok(value) => Led::Land {
            guard,
            value,
            rearm: None,
        },
        Err(returned) => match stale_to_serve(store.config(), stale) {
            Some((value, window)) => Led::Land {
                guard,
                value,
                rearm: Some(window),
            },
            None => {
                guard.fail();
                Led::Return(returned)
            }
        },
    }
}

/// Lands a leader's value (re-armed for `rearm`, if given), then writes it
/// to the remote tier. A flight that an invalidation detached computed an
/// outdated value: it goes nowhere, the remote tier included.
#[inline]
async fn land_and_write<M, K, V>(
    tiers: &Tiers<K, V>,
    guard: LeaderGuard<'_, K, V>,
    value: &V,
    rearm: Option<Duration>,
) where
    M: Mode,
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
{
    let write = tiers.remote.as_ref().map(|remote| match rearm {
        None => remote.put(guard.key(), value),
        Some(window) => remote.rearm(guard.key(), value, window),
    });
    if guard.land_or_rearm(value, rearm) {
        if let Some(write) = write {
            M::remote(write).await;
        }
    }
}

/// Stores a result computed outside a flight (single-flight off, a body
/// calling itself, a waiter released by a failed leader) and hands back the
/// return value (or, for an uncacheable one, the stale value if the cache
/// serves it).
pub(crate) async fn settle<M, K, V, S, R>(
    tiers: &Tiers<K, V>,
    key: K,
    returned: R,
    stale: Option<V>,
) -> R
where
    M: Mode,
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
{
    match S::into_value(returned) {
        Ok(value) => {
            if let Some(remote) = &tiers.remote {
                M::remote(remote.put(&key, &value)).await;
            }
            tiers.memory.store_result(key, value.clone());
            S::from_value(value)
        }
        Err(returned) => match stale_to_serve(tiers.memory.config(), stale) {
            Some((value, window)) => {
                if let Some(remote) = &tiers.remote {
                    M::remote(remote.rearm(&key, &value, window)).await;
                }
                tiers.memory.rearm(key, value.clone(), window);
                S::from_value(value)
            }
            None => returned,
        },
    }
}

/// The last good value to serve in place of a failed body, with the window
/// it is served for before the body runs again (`stale_if_error`): a failing
/// backend sees one call per window per key.
fn stale_to_serve<V>(config: &Config<V>, stale: Option<V>) -> Option<(V, Duration)> {
    stale.zip(config.stale_retry())
}

/// A background refresh (`refresh_ahead`): runs the body as the leader of
/// `guard`'s flight and lands the result; a failure leaves the stale value.
#[cfg(feature = "tokio")]
pub(crate) async fn refresh<K, V, R, S, B>(
    tiers: &Tiers<K, V>,
    guard: LeaderGuard<'_, K, V>,
    body: B,
) where
    K: Hash + Eq + Clone + Send,
    V: Clone + Send,
    S: ReturnShape<R, Value = V>,
    B: Body<R>,
{
    // The error is dropped before the write is awaited: it need not be `Send`.
    let Ok(value) = S::into_value(load::<K, V, R, S>(&tiers.memory, body.lead(&guard)).await)
    else {
        guard.fail();
        return;
    };
    land_and_write::<Tasks, K, V>(tiers, guard, &value, None).await;
}
