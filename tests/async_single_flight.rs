//! Single-flight of `#[async_cached]` functions: one body run per cold key
//! however many tasks ask, waiters that yield instead of blocking a worker, and
//! a flight that survives its leader being cancelled, panicking or failing.
//!
//! Every test has its own function (so its own cache), since tests run in
//! parallel. Bodies report to a [`Probe`] passed as an argument outside the key
//! and wait at its gate, so that the test decides when a body finishes; nothing
//! depends on timing. Deadlocks fail the test through `must_finish` instead of
//! hanging it.

#[path = "common/async_util.rs"]
mod async_util;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_util::{must_finish, settle, wait_until, Probe};
use memocache::async_cached;
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------
// 200 tasks, one cold key
// ---------------------------------------------------------------------------

#[async_cached(size = 100, key = id)]
async fn cold(id: u64, probe: Probe) -> u64 {
    probe.enter();
    probe.gate().await;
    id * 10
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tasks_on_one_cold_key_run_the_body_once() {
    const TASKS: usize = 200;
    let probe = Probe::new();
    let start = Arc::new(Barrier::new(TASKS));
    let callers: Vec<JoinHandle<u64>> = (0..TASKS)
        .map(|_| {
            let (probe, start) = (probe.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                cold(7, probe).await
            })
        })
        .collect();
    // Every caller has looked the key up and missed while the body is held at
    // the gate: without single-flight, each of them would run the body.
    wait_until("every caller missed", || {
        COLD.stats().misses == TASKS as u64
    })
    .await;
    probe.open();
    for caller in callers {
        assert_eq!(must_finish("a caller", caller).await.unwrap(), 70);
    }
    assert_eq!(
        probe.runs(),
        1,
        "the body ran more than once for one cold key"
    );
    assert_eq!(cold(7, probe.clone()).await, 70);
    assert_eq!(probe.runs(), 1);
    let stats = COLD.stats();
    assert_eq!((stats.hits, stats.misses, stats.len), (1, TASKS as u64, 1));
}

// ---------------------------------------------------------------------------
// The leader is cancelled
// ---------------------------------------------------------------------------

/// The first run never finishes on its own: only cancelling its caller ends it.
#[async_cached(size = 100, key = id)]
async fn aborted(id: u64, probe: Probe) -> u64 {
    if probe.enter() == 1 {
        std::future::pending::<()>().await;
    }
    probe.finish();
    id * 10
}

/// Spawns `n` callers of `f(id)` and waits until `misses` shows every one of
/// them looked the key up and joined the flight (on a current-thread runtime a
/// caller reaches its wait in the same poll as its lookup).
async fn spawn_waiters<F, Fut>(
    n: usize,
    misses: impl Fn() -> u64,
    f: F,
) -> Vec<JoinHandle<Fut::Output>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let before = misses();
    let waiters: Vec<_> = (0..n).map(|_| tokio::spawn(f())).collect();
    wait_until("every waiter joined the flight", || {
        misses() == before + n as u64
    })
    .await;
    waiters
}

#[tokio::test(start_paused = true)]
async fn aborted_leader_hands_the_flight_to_one_waiter() {
    let probe = Probe::new();
    let leader = tokio::spawn(aborted(3, probe.clone()));
    wait_until("the leader runs its body", || probe.runs() == 1).await;
    let waiters = spawn_waiters(50, || ABORTED.stats().misses, || aborted(3, probe.clone())).await;
    assert_eq!(
        probe.runs(),
        1,
        "waiters must not run the body while the leader does"
    );

    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    for waiter in waiters {
        assert_eq!(must_finish("a waiter", waiter).await.unwrap(), 30);
    }
    // The aborted leader's run and exactly one successor's.
    assert_eq!(probe.runs(), 2);
    assert_eq!(probe.finished(), 1);
    assert_eq!(ABORTED.get(&3).await, Some(30));
}

/// Like [`aborted`]: the first run never finishes on its own.
#[async_cached(size = 100, key = id)]
async fn timed_out(id: u64, probe: Probe) -> u64 {
    if probe.enter() == 1 {
        std::future::pending::<()>().await;
    }
    probe.finish();
    id * 10
}

#[tokio::test(start_paused = true)]
async fn leader_dropped_by_a_timeout_hands_the_flight_to_one_waiter() {
    let probe = Probe::new();
    let leader = tokio::spawn(tokio::time::timeout(
        Duration::from_secs(5),
        timed_out(4, probe.clone()),
    ));
    wait_until("the leader runs its body", || probe.runs() == 1).await;
    let waiters = spawn_waiters(
        50,
        || TIMED_OUT.stats().misses,
        || timed_out(4, probe.clone()),
    )
    .await;

    // The paused clock jumps to the deadline once every task waits: the
    // timeout drops the leader's future in the middle of its body.
    assert!(
        leader.await.unwrap().is_err(),
        "the leader should have timed out"
    );
    for waiter in waiters {
        assert_eq!(must_finish("a waiter", waiter).await.unwrap(), 40);
    }
    assert_eq!(probe.runs(), 2);
    assert_eq!(probe.finished(), 1);
}

// ---------------------------------------------------------------------------
// The leader panics
// ---------------------------------------------------------------------------

#[async_cached(size = 100, key = id)]
async fn panicky(id: u64, probe: Probe) -> u64 {
    if probe.enter() == 1 {
        probe.gate().await;
        panic!("the database went away (expected by the test)");
    }
    id * 10
}

#[tokio::test(start_paused = true)]
async fn panicking_leader_releases_its_waiters_and_poisons_nothing() {
    let probe = Probe::new();
    let leader = tokio::spawn(panicky(5, probe.clone()));
    wait_until("the leader runs its body", || probe.runs() == 1).await;
    let waiters = spawn_waiters(20, || PANICKY.stats().misses, || panicky(5, probe.clone())).await;

    probe.open();
    assert!(leader.await.unwrap_err().is_panic());
    for waiter in waiters {
        assert_eq!(must_finish("a waiter", waiter).await.unwrap(), 50);
    }
    assert_eq!(probe.runs(), 2, "one waiter, and only one, takes over");

    // Nothing is poisoned: the key is served, invalidated and recomputed, and
    // other keys work.
    assert_eq!(must_finish("a hit", panicky(5, probe.clone())).await, 50);
    assert_eq!(probe.runs(), 2);
    assert!(PANICKY.invalidate(&5).await);
    assert_eq!(
        must_finish("a recomputation", panicky(5, probe.clone())).await,
        50
    );
    assert_eq!(
        must_finish("another key", panicky(6, probe.clone())).await,
        60
    );
    assert_eq!(probe.runs(), 4);
}

// ---------------------------------------------------------------------------
// The leader fails
// ---------------------------------------------------------------------------

const FLAKY_WAITERS: usize = 8;

#[async_cached(size = 100, key = id)]
async fn flaky(id: u64, probe: Probe, all_waiters: Arc<Barrier>) -> Result<u64, String> {
    let run = probe.enter();
    if run == 1 {
        probe.gate().await;
        return Err("leader failed".to_string());
    }
    // Returns only once every released waiter runs its body at the same
    // time: run one after another, they would wait here forever.
    all_waiters.wait().await;
    Err(format!("run {run} failed"))
}

#[tokio::test(start_paused = true)]
async fn failed_leader_lets_its_waiters_run_side_by_side() {
    let probe = Probe::new();
    let barrier = Arc::new(Barrier::new(FLAKY_WAITERS));
    let leader = tokio::spawn(flaky(8, probe.clone(), barrier.clone()));
    wait_until("the leader runs its body", || probe.runs() == 1).await;
    let waiters = spawn_waiters(
        FLAKY_WAITERS,
        || FLAKY.stats().misses,
        || flaky(8, probe.clone(), barrier.clone()),
    )
    .await;

    probe.open();
    assert_eq!(leader.await.unwrap(), Err("leader failed".to_string()));
    let mut errors = BTreeSet::new();
    for waiter in must_finish(
        "waiters released by a failed leader (serialized instead of concurrent?)",
        futures::future::join_all(waiters),
    )
    .await
    {
        errors.insert(waiter.unwrap().unwrap_err());
    }
    // Each waiter got the error of its own run.
    let expected: BTreeSet<_> = (2..=FLAKY_WAITERS + 1)
        .map(|run| format!("run {run} failed"))
        .collect();
    assert_eq!(errors, expected);
    assert_eq!(probe.runs(), FLAKY_WAITERS + 1);
    assert!(FLAKY.is_empty(), "an Err was cached");
}

// ---------------------------------------------------------------------------
// Keys are independent
// ---------------------------------------------------------------------------

#[async_cached(size = 100, key = id)]
async fn keyed(id: u64, probe: Probe) -> u64 {
    probe.enter();
    if id == 1 {
        probe.gate().await;
    }
    id * 10
}

#[tokio::test(start_paused = true)]
async fn different_keys_never_wait_on_each_other() {
    let probe = Probe::new();
    let held = tokio::spawn(keyed(1, probe.clone()));
    wait_until("key 1 runs its body", || probe.runs() == 1).await;
    let waiters = spawn_waiters(5, || KEYED.stats().misses, || keyed(1, probe.clone())).await;

    // Key 1's flight is open, with waiters; every other key completes anyway.
    // (Enough keys that some share key 1's shard of the flight table, whatever
    // the hasher's seed.)
    for id in 2..=200 {
        assert_eq!(
            must_finish("another key", keyed(id, probe.clone())).await,
            id * 10
        );
    }
    assert!(!held.is_finished());
    probe.open();
    assert_eq!(held.await.unwrap(), 10);
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), 10);
    }
    assert_eq!(probe.runs(), 200);
}

// ---------------------------------------------------------------------------
// Waiting yields the worker thread
// ---------------------------------------------------------------------------

/// Where the leader of [`parked`] picks up the channel it waits on.
type Release = Arc<tokio::sync::Mutex<Option<tokio::sync::oneshot::Receiver<u64>>>>;

#[async_cached(size = 100, key = id)]
async fn parked(id: u64, release: Release) -> u64 {
    let receiver = release
        .lock()
        .await
        .take()
        .expect("only the leader runs the body");
    receiver.await.expect("the test sends the value") + id
}

/// A plain `#[test]` driving its own two-worker runtime, watched from the test
/// thread: if waiters blocked their worker threads instead of yielding them,
/// the runtime would hang, and the watching thread fails the test instead.
#[test]
fn waiting_tasks_never_block_a_worker_thread() {
    const WAITERS: u64 = 100;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (send, receive) = tokio::sync::oneshot::channel();
    let release = Arc::new(tokio::sync::Mutex::new(Some(receive)));
    let leader = runtime.spawn(parked(9, release.clone()));
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| runtime.spawn(parked(9, release.clone())))
        .collect();

    let (done, finished) = std::sync::mpsc::channel();
    let watched = |what: &str, finished: &std::sync::mpsc::Receiver<()>| {
        if finished.recv_timeout(Duration::from_secs(30)).is_err() {
            panic!("{what}: the runtime's workers are blocked");
        }
    };
    let everyone_waits = done.clone();
    runtime.spawn(async move {
        // Every caller has missed, so all 101 are leader or waiting; with
        // blocking waits, two of them would hold both workers and this task
        // could not get this far.
        wait_until("every caller missed", || {
            PARKED.stats().misses == WAITERS + 1
        })
        .await;
        everyone_waits.send(()).unwrap();
    });
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        watched("waiting for every caller to miss", &finished);
        // An unrelated task on the same runtime still gets a worker.
        runtime.spawn(async move {
            tokio::task::yield_now().await;
            done.send(()).unwrap();
        });
        watched("an unrelated task", &finished);
    }));
    if let Err(panic) = outcome {
        // Dropping a runtime whose workers are blocked would hang.
        runtime.shutdown_background();
        std::panic::resume_unwind(panic);
    }

    send.send(90).unwrap();
    runtime.block_on(async {
        assert_eq!(must_finish("the leader", leader).await.unwrap(), 99);
        for waiter in waiters {
            assert_eq!(must_finish("a waiter", waiter).await.unwrap(), 99);
        }
    });
}

// ---------------------------------------------------------------------------
// Invalidation races a running body
// ---------------------------------------------------------------------------

/// Run `n` returns `n * 100 + id`; the first run waits at the gate.
#[async_cached(size = 100, key = id)]
async fn raced(id: u64, probe: Probe) -> u64 {
    let run = probe.enter() as u64;
    if run == 1 {
        probe.gate().await;
    }
    run * 100 + id
}

#[tokio::test(start_paused = true)]
async fn invalidating_while_a_body_runs_keeps_its_result_out_of_the_cache() {
    let probe = Probe::new();
    let leader = tokio::spawn(raced(1, probe.clone()));
    wait_until("the leader runs its body", || probe.runs() == 1).await;
    let early = spawn_waiters(3, || RACED.stats().misses, || raced(1, probe.clone())).await;

    assert!(!RACED.invalidate(&1).await, "nothing was stored yet");
    probe.open();
    // The caller and the waiters queued before the invalidation get the value...
    assert_eq!(leader.await.unwrap(), 101);
    for waiter in early {
        assert_eq!(waiter.await.unwrap(), 101);
    }
    // ...but it is not stored: the next call runs the body again.
    assert_eq!(RACED.get(&1).await, None);
    assert!(RACED.is_empty());
    assert_eq!(raced(1, probe.clone()).await, 201);
    assert_eq!(RACED.get(&1).await, Some(201));
    assert_eq!(probe.runs(), 2);
}

/// Like [`raced`].
#[async_cached(size = 100, key = id)]
async fn raced_again(id: u64, probe: Probe) -> u64 {
    let run = probe.enter() as u64;
    if run == 1 {
        probe.gate().await;
    }
    run * 100 + id
}

#[tokio::test(start_paused = true)]
async fn a_body_started_before_an_invalidation_never_overwrites_a_newer_value() {
    let probe = Probe::new();
    let stale = tokio::spawn(raced_again(2, probe.clone()));
    wait_until("the first body runs", || probe.runs() == 1).await;

    assert!(!RACED_AGAIN.invalidate(&2).await);
    // A caller after the invalidation does not join the old flight: it runs its
    // own body and finishes while the old one is still held.
    assert_eq!(
        must_finish(
            "a caller after the invalidation",
            raced_again(2, probe.clone())
        )
        .await,
        202
    );
    assert!(!stale.is_finished());

    probe.open();
    assert_eq!(stale.await.unwrap(), 102);
    settle().await;
    assert_eq!(
        RACED_AGAIN.get(&2).await,
        Some(202),
        "the older body overwrote the newer value"
    );
    assert_eq!(raced_again(2, probe.clone()).await, 202);
    assert_eq!(probe.runs(), 2);
}

#[async_cached(size = 100, key = id)]
async fn cleared(id: u64, probe: Probe) -> u64 {
    probe.enter();
    probe.gate().await;
    id * 10
}

#[tokio::test(start_paused = true)]
async fn clearing_while_bodies_run_keeps_their_results_out_of_the_cache() {
    let probe = Probe::new();
    let running: Vec<_> = (1..=3)
        .map(|id| tokio::spawn(cleared(id, probe.clone())))
        .collect();
    wait_until("three bodies run", || probe.runs() == 3).await;
    CLEARED.clear().await;
    probe.open();
    for (id, call) in (1..=3).zip(running) {
        assert_eq!(call.await.unwrap(), id * 10);
    }
    assert!(
        CLEARED.is_empty(),
        "a body that started before clear() stored its value"
    );
}

/// Like [`raced`].
#[async_cached(size = 100, key = id)]
async fn overwritten(id: u64, probe: Probe) -> u64 {
    let run = probe.enter() as u64;
    if run == 1 {
        probe.gate().await;
    }
    run * 100 + id
}

#[tokio::test(start_paused = true)]
async fn a_value_inserted_while_a_body_runs_is_not_overwritten_by_it() {
    let probe = Probe::new();
    let running = tokio::spawn(overwritten(3, probe.clone()));
    wait_until("the body runs", || probe.runs() == 1).await;
    OVERWRITTEN.insert(3, 7).await;
    probe.open();
    assert_eq!(running.await.unwrap(), 103);
    assert_eq!(
        OVERWRITTEN.get(&3).await,
        Some(7),
        "the body overwrote an inserted value"
    );
    assert_eq!(overwritten(3, probe.clone()).await, 7);
    assert_eq!(probe.runs(), 1);
}

// ---------------------------------------------------------------------------
// Recursion and calls from one task
// ---------------------------------------------------------------------------

#[async_cached(size = 200)]
async fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        Box::pin(fib(n - 1)).await + Box::pin(fib(n - 2)).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_body_calling_its_own_function_never_deadlocks() {
    assert_eq!(
        must_finish("fib(80)", fib(80)).await,
        23_416_728_348_467_685
    );
    assert_eq!(
        must_finish("fib(80) in a task", tokio::spawn(fib(80)))
            .await
            .unwrap(),
        23_416_728_348_467_685
    );
    assert_eq!(FIB.len(), 81);
}

/// Calls itself once with the same key: the inner call must run, not wait for
/// the outer one (its own flight).
#[async_cached(size = 100, key = id)]
async fn same_key(id: u64, depth: u32) -> u64 {
    if depth == 0 {
        Box::pin(same_key(id, 1)).await + 1
    } else {
        id
    }
}

#[tokio::test(start_paused = true)]
async fn a_body_calling_itself_with_the_same_key_never_deadlocks_in_a_task() {
    let value = must_finish("same-key recursion in a task", tokio::spawn(same_key(1, 0))).await;
    assert_eq!(value.unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_body_calling_itself_with_the_same_key_never_deadlocks_in_block_on() {
    // The body of `#[tokio::test]` and `#[tokio::main]` is not a spawned task.
    assert_eq!(
        must_finish("same-key recursion in block_on", same_key(2, 0)).await,
        3
    );
}

#[async_cached(size = 100, key = id)]
async fn joined(id: u64, probe: Probe) -> u64 {
    probe.enter();
    probe.gate().await;
    id * 10
}

/// A handler that fetches several ids at once (`join_all`) from one task: the
/// duplicate ids are concurrent callers of one cold key too.
#[tokio::test(start_paused = true)]
async fn concurrent_calls_from_one_task_share_one_run() {
    let probe = Probe::new();
    let gate = probe.clone();
    let handler = tokio::spawn(async move {
        futures::future::join_all([3, 3, 3, 4].map(|id| joined(id, probe.clone()))).await
    });
    settle().await;
    gate.open();
    assert_eq!(
        must_finish("join_all", handler).await.unwrap(),
        vec![30, 30, 30, 40]
    );
    assert_eq!(
        gate.runs(),
        2,
        "key 3 was computed more than once by concurrent calls in one task"
    );
}

// ---------------------------------------------------------------------------
// Send
// ---------------------------------------------------------------------------

fn assert_send<T: Send>(_: &T) {}

#[test]
fn the_future_of_a_cached_call_is_send() {
    let future = cold(1, Probe::new());
    assert_send(&future);
    let future = flaky(1, Probe::new(), Arc::new(Barrier::new(1)));
    assert_send(&future);
}
