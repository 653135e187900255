//! Expired entries of `#[async_cached]` functions: `refresh_ahead` (serve the
//! stale value at once while one background refresh runs) and `stale_if_error`
//! (serve the stale value when the body fails).
//!
//! TTLs run on memocache's mock clock, installed with `use_clock` before each
//! cache's first use and moved with `MockTime::advance`; tokio's clock is
//! paused so that the helpers' short sleeps cost no wall time. Each test has its
//! own function, hence its own cache.

#[path = "common/async_util.rs"]
mod async_util;

use std::time::Duration;

use async_util::{settle, wait_until, Probe};
use futures::FutureExt;
use memocache::{async_cached, Clock, MockTime};

const TTL: Duration = Duration::from_secs(10);
const WINDOW: Duration = Duration::from_secs(30);

/// Installs a fresh mock clock in a cache that has not been used yet.
fn mock_clock(install: impl FnOnce(Clock) -> bool) -> MockTime {
    let (clock, time) = Clock::mock();
    assert!(
        install(clock),
        "the cache was used before its clock was installed"
    );
    time
}

// ---------------------------------------------------------------------------
// refresh_ahead: one background refresh, stale value served meanwhile
// ---------------------------------------------------------------------------

/// Returns the number of its run; every run after the first waits at the gate.
#[async_cached(size = 100, ttl = "10s", refresh_ahead = "30s", key = id)]
async fn refreshed(id: u64, probe: Probe) -> u64 {
    let run = probe.enter() as u64;
    if run > 1 {
        probe.gate().await;
    }
    run
}

#[tokio::test(start_paused = true)]
async fn within_the_window_the_stale_value_is_served_at_once_while_one_refresh_runs() {
    let time = mock_clock(|clock| REFRESHED.use_clock(clock));
    let probe = Probe::new();
    assert_eq!(refreshed(1, probe.clone()).await, 1);
    assert_eq!(refreshed(1, probe.clone()).await, 1);
    assert_eq!(probe.runs(), 1);

    time.advance(TTL + Duration::from_secs(1));
    // Expired one second ago, well within the window: every caller gets the
    // stale value on the first poll, without waiting for anything.
    for _ in 0..50 {
        let served = refreshed(1, probe.clone()).now_or_never();
        assert_eq!(
            served,
            Some(1),
            "a caller in the window waited or got no stale value"
        );
    }
    wait_until("the refresh starts", || probe.runs() == 2).await;
    // More callers while the refresh is held open: still stale, still one refresh.
    for _ in 0..50 {
        assert_eq!(refreshed(1, probe.clone()).now_or_never(), Some(1));
    }
    settle().await;
    assert_eq!(probe.runs(), 2, "more than one background refresh ran");

    probe.open();
    wait_until("the refresh lands", || REFRESHED.store().get(&1) == Some(2)).await;
    assert_eq!(refreshed(1, probe.clone()).now_or_never(), Some(2));
    assert_eq!(probe.runs(), 2);
    // Stale values served count as hits; the first call was the only miss.
    let stats = REFRESHED.stats();
    assert_eq!((stats.hits, stats.misses), (102, 1));
}

/// Fails while the probe says so; otherwise returns the number of its run.
#[async_cached(size = 100, ttl = "10s", refresh_ahead = "30s", key = id)]
async fn refresh_fails(id: u64, probe: Probe) -> Result<u64, String> {
    probe.outcome(probe.enter())
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_stale_value_until_the_window_ends() {
    let time = mock_clock(|clock| REFRESH_FAILS.use_clock(clock));
    let probe = Probe::new();
    assert_eq!(refresh_fails(1, probe.clone()).await, Ok(1));

    time.advance(TTL + Duration::from_secs(1));
    probe.set_failing(true);
    assert_eq!(refresh_fails(1, probe.clone()).now_or_never(), Some(Ok(1)));
    wait_until("the refresh ran", || probe.runs() == 2).await;
    settle().await;
    // The refresh failed: the stale value is still served, and the next caller
    // in the window starts another refresh.
    time.advance(Duration::from_secs(10));
    assert_eq!(refresh_fails(1, probe.clone()).now_or_never(), Some(Ok(1)));
    wait_until("the second refresh ran", || probe.runs() == 3).await;
    settle().await;
    assert_eq!(
        REFRESH_FAILS.store().get(&1),
        None,
        "a failed refresh stored something"
    );

    // Past the window the stale value is no longer served: the caller runs the
    // body itself and gets its result, here an error.
    time.advance(WINDOW);
    assert_eq!(
        refresh_fails(1, probe.clone()).await,
        Err("run 4 failed".to_string())
    );
    probe.set_failing(false);
    assert_eq!(refresh_fails(1, probe.clone()).await, Ok(5));
    assert_eq!(refresh_fails(1, probe.clone()).now_or_never(), Some(Ok(5)));
    assert_eq!(probe.runs(), 5);
}

/// Returns the number of its run; every run waits at the gate.
#[async_cached(size = 100, ttl = "10s", refresh_ahead = "30s", key = id)]
async fn refresh_late(id: u64, probe: Probe) -> u64 {
    let run = probe.enter() as u64;
    probe.gate().await;
    run
}

#[tokio::test(start_paused = true)]
async fn past_the_window_the_caller_waits_for_a_fresh_value() {
    let time = mock_clock(|clock| REFRESH_LATE.use_clock(clock));
    let probe = Probe::new();
    probe.open();
    assert_eq!(refresh_late(1, probe.clone()).await, 1);

    let probe = Probe::new();
    time.advance(TTL + WINDOW + Duration::from_secs(1));
    let caller = tokio::spawn(refresh_late(1, probe.clone()));
    wait_until("the caller runs the body", || probe.runs() == 1).await;
    settle().await;
    assert!(
        !caller.is_finished(),
        "the stale value was served past the window"
    );
    probe.open();
    assert_eq!(caller.await.unwrap(), 1);
}

/// Returns the number of its run; every run after the first waits at the gate.
#[async_cached(size = 100, ttl = "10s", refresh_ahead = "30s", key = id)]
async fn refresh_outlives_window(id: u64, probe: Probe) -> u64 {
    let run = probe.enter() as u64;
    if run > 1 {
        probe.gate().await;
    }
    run
}

/// A refresh still running when the window ends is the key's flight: a caller
/// past the window waits for it rather than running a second body, also when
/// that caller is the task whose stale hit started the refresh (a handler task
/// that calls the function twice, say).
#[tokio::test(start_paused = true)]
async fn a_caller_past_the_window_waits_for_the_running_refresh() {
    let time = mock_clock(|clock| REFRESH_OUTLIVES_WINDOW.use_clock(clock));
    let probe = Probe::new();
    let task = tokio::spawn(async move {
        assert_eq!(refresh_outlives_window(1, probe.clone()).await, 1);
        time.advance(TTL + Duration::from_secs(1));
        assert_eq!(
            refresh_outlives_window(1, probe.clone()).now_or_never(),
            Some(1)
        );
        wait_until("the refresh starts", || probe.runs() == 2).await;

        time.advance(WINDOW);
        let opener = probe.clone();
        let (late, ()) = tokio::join!(refresh_outlives_window(1, probe.clone()), async move {
            settle().await;
            opener.open();
        });
        (late, probe.runs())
    });
    let (late, runs) = task.await.unwrap();
    assert_eq!(runs, 2, "a second body ran while the refresh was running");
    assert_eq!(late, 2, "the late caller did not get the refreshed value");
}

/// Returns the number of its run; every run after the first waits at the gate.
#[async_cached(size = 100, ttl = "10s", refresh_ahead = "30s", key = id)]
async fn refresh_invalidated(id: u64, probe: Probe) -> u64 {
    let run = probe.enter() as u64;
    if run > 1 {
        probe.gate().await;
        probe.finish();
    }
    run
}

#[tokio::test(start_paused = true)]
async fn invalidating_during_a_refresh_keeps_the_refreshed_value_out() {
    let time = mock_clock(|clock| REFRESH_INVALIDATED.use_clock(clock));
    let probe = Probe::new();
    assert_eq!(refresh_invalidated(1, probe.clone()).await, 1);
    time.advance(TTL + Duration::from_secs(1));
    assert_eq!(
        refresh_invalidated(1, probe.clone()).now_or_never(),
        Some(1)
    );
    wait_until("the refresh starts", || probe.runs() == 2).await;

    assert!(
        REFRESH_INVALIDATED.invalidate(&1).await,
        "the stale entry was not held"
    );
    probe.open();
    wait_until("the refresh returns", || probe.finished() == 1).await;
    settle().await;
    assert_eq!(
        REFRESH_INVALIDATED.store().get(&1),
        None,
        "a refresh undid an invalidation"
    );
    // The next caller finds nothing: it runs the body and waits for it.
    assert_eq!(refresh_invalidated(1, probe.clone()).await, 3);
}

/// Panics in every run after the first while the probe is failing.
#[async_cached(size = 100, ttl = "10s", refresh_ahead = "30s", key = id)]
async fn refresh_panics(id: u64, probe: Probe) -> u64 {
    let run = probe.enter() as u64;
    if probe.failing() {
        panic!("refresh {run} of {id} panicked (expected by the test)");
    }
    run
}

#[tokio::test(start_paused = true)]
async fn a_panicking_refresh_keeps_the_stale_value_and_is_retried() {
    let time = mock_clock(|clock| REFRESH_PANICS.use_clock(clock));
    let probe = Probe::new();
    assert_eq!(refresh_panics(1, probe.clone()).await, 1);
    time.advance(TTL + Duration::from_secs(1));
    probe.set_failing(true);
    assert_eq!(refresh_panics(1, probe.clone()).now_or_never(), Some(1));
    wait_until("the refresh ran", || probe.runs() == 2).await;
    settle().await;

    // The panic abandoned the refresh's flight: the stale value is still
    // served, and the next stale hit starts a new refresh, which succeeds.
    probe.set_failing(false);
    assert_eq!(refresh_panics(1, probe.clone()).now_or_never(), Some(1));
    wait_until("the retried refresh lands", || {
        REFRESH_PANICS.store().get(&1) == Some(3)
    })
    .await;
    assert_eq!(refresh_panics(1, probe.clone()).now_or_never(), Some(3));
}

// ---------------------------------------------------------------------------
// stale_if_error
// ---------------------------------------------------------------------------

#[async_cached(size = 100, ttl = "10s", stale_if_error, key = id)]
async fn stale_on_error(id: u64, probe: Probe) -> Result<u64, String> {
    probe.outcome(probe.enter()).map(|run| run * 100 + id)
}

#[tokio::test(start_paused = true)]
async fn stale_if_error_serves_the_expired_value_when_the_body_fails() {
    let time = mock_clock(|clock| STALE_ON_ERROR.use_clock(clock));
    let probe = Probe::new();
    assert_eq!(stale_on_error(1, probe.clone()).await, Ok(101));

    time.advance(TTL + Duration::from_secs(1));
    probe.set_failing(true);
    // Expired, and the body fails: the last good value is served.
    assert_eq!(stale_on_error(1, probe.clone()).await, Ok(101));
    assert_eq!(
        probe.runs(),
        2,
        "the body must run before a stale value is served"
    );
    // Re-armed for the default retry window: the failing body is not run again
    // within it, and the calls are hits.
    let hits = STALE_ON_ERROR.stats().hits;
    time.advance(Duration::from_secs(9));
    assert_eq!(stale_on_error(1, probe.clone()).await, Ok(101));
    assert_eq!(
        probe.runs(),
        2,
        "within the retry window the body is not run"
    );
    assert_eq!(STALE_ON_ERROR.stats().hits, hits + 1);
    // Once the window has passed, one call runs the body again and re-arms.
    time.advance(Duration::from_secs(2));
    assert_eq!(stale_on_error(1, probe.clone()).await, Ok(101));
    assert_eq!(probe.runs(), 3);
    assert_eq!(stale_on_error(1, probe.clone()).await, Ok(101));
    assert_eq!(probe.runs(), 3);
    // Long after, the same: the stale value is held until evicted.
    time.advance(Duration::from_secs(3600));
    assert_eq!(stale_on_error(1, probe.clone()).await, Ok(101));
    assert_eq!(probe.runs(), 4);
    // With no value held, the error comes through.
    assert_eq!(
        stale_on_error(2, probe.clone()).await,
        Err("run 5 failed".to_string())
    );

    // Recovery is seen once the retry window has passed.
    time.advance(Duration::from_secs(11));
    probe.set_failing(false);
    assert_eq!(stale_on_error(1, probe.clone()).await, Ok(601));
    assert_eq!(stale_on_error(1, probe.clone()).await, Ok(601));
    assert_eq!(probe.runs(), 6);
}

#[async_cached(size = 100, ttl = "10s", key = id)]
async fn no_stale_on_error(id: u64, probe: Probe) -> Result<u64, String> {
    probe.outcome(probe.enter()).map(|run| run * 100 + id)
}

#[tokio::test(start_paused = true)]
async fn without_stale_if_error_an_expired_value_is_never_served() {
    let time = mock_clock(|clock| NO_STALE_ON_ERROR.use_clock(clock));
    let probe = Probe::new();
    assert_eq!(no_stale_on_error(1, probe.clone()).await, Ok(101));
    time.advance(TTL + Duration::from_secs(1));
    probe.set_failing(true);
    assert_eq!(
        no_stale_on_error(1, probe.clone()).await,
        Err("run 2 failed".to_string())
    );
    let stats = NO_STALE_ON_ERROR.stats();
    assert_eq!(stats.expirations, 1);
    assert_eq!(stats.len, 0);
}

/// The leader fails after its waiters joined: it re-arms the stale value,
/// which every waiter gets without running the failing body.
#[async_cached(size = 100, ttl = "10s", stale_if_error, key = id)]
async fn stale_for_waiters(id: u64, probe: Probe) -> Result<u64, String> {
    let run = probe.enter();
    probe.gate().await;
    probe.outcome(run).map(|run| run * 100 + id)
}

#[tokio::test(start_paused = true)]
async fn stale_if_error_covers_waiters_released_by_a_failed_leader() {
    let time = mock_clock(|clock| STALE_FOR_WAITERS.use_clock(clock));
    let probe = Probe::new();
    probe.open();
    assert_eq!(stale_for_waiters(1, probe.clone()).await, Ok(101));

    let probe = Probe::new();
    probe.set_failing(true);
    time.advance(TTL + Duration::from_secs(1));
    let callers: Vec<_> = (0..5)
        .map(|_| tokio::spawn(stale_for_waiters(1, probe.clone())))
        .collect();
    wait_until("every caller missed", || {
        STALE_FOR_WAITERS.stats().misses == 6
    })
    .await;
    assert_eq!(probe.runs(), 1, "waiters ran before the leader failed");
    probe.open();
    for caller in callers {
        assert_eq!(caller.await.unwrap(), Ok(101));
    }
    assert_eq!(
        probe.runs(),
        1,
        "the waiters got the re-armed value: a failing backend sees one call"
    );
}

#[async_cached(size = 100, ttl = "10s", stale_if_error = "30s", key = id)]
async fn stale_window(id: u64, probe: Probe) -> Result<u64, String> {
    probe.outcome(probe.enter()).map(|run| run * 100 + id)
}

#[tokio::test(start_paused = true)]
async fn a_failing_backend_sees_one_call_per_retry_window_per_key() {
    let time = mock_clock(|clock| STALE_WINDOW.use_clock(clock));
    let probe = Probe::new();
    assert_eq!(stale_window(1, probe.clone()).await, Ok(101));
    assert_eq!(stale_window(2, probe.clone()).await, Ok(202));
    time.advance(TTL + Duration::from_secs(1));
    probe.set_failing(true);

    // Two minutes of an outage, one call per key every second.
    for _ in 0..120 {
        assert_eq!(stale_window(1, probe.clone()).await, Ok(101));
        assert_eq!(stale_window(2, probe.clone()).await, Ok(202));
        time.advance(Duration::from_secs(1));
    }
    // Per key: at 0 s, 30 s, 60 s and 90 s.
    assert_eq!(
        probe.runs(),
        2 + 2 * 4,
        "one body run per 30 s window per key"
    );
}
