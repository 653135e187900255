//! A return type is a `Result` or an `Option` by its type, not by its name
//! (issue 11): an alias of `Result` caches `Ok` values only, whatever it is
//! called; an alias of `Option` gets `none_ttl` and `skip_none`; a type of the
//! user's that is merely called `Result` is cached whole. `returns = "..."`
//! decides where the type checker cannot look (a return type that uses the
//! function's generic parameters), or caches errors too.
//!
//! Every function has its own counter of body runs. A failing call takes the
//! argument 0; cached values are compared by their `Debug` text, which tells
//! `Ok(1)` (the whole return value) from `1` (its `Ok` payload).

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use memocache::{async_cached, cached, Clock, MockTime};

#[derive(Clone, Debug, PartialEq)]
struct AppError;

/// An alias whose name says nothing of `Result`.
type Answer = Result<u64, AppError>;

/// A generic alias.
type AppResult<T> = Result<T, AppError>;

/// Like `anyhow::Result`: named `Result`, from another module, with a default error.
mod errors {
    #[derive(Clone, Debug, PartialEq)]
    pub struct Error;

    pub type Result<T, E = Error> = std::result::Result<T, E>;
}

/// An alias of `Option`.
type Maybe = Option<u64>;

/// `Result<Option<T>, E>` through aliases.
type Lookup = AppResult<Option<String>>;

/// An alias that uses the function's generic parameter: the type checker
/// cannot be asked about it next to the cache's static.
type Outcome<T, E> = Result<T, E>;

/// Installs a fresh mock clock in a cache that has not been used yet.
fn mock_clock(install: impl FnOnce(Clock) -> bool) -> MockTime {
    let (clock, time) = Clock::mock();
    assert!(
        install(clock),
        "the cache was used before its clock was installed"
    );
    time
}

/// `f(0)` fails and `f(1)` succeeds: after two calls of each, the body ran
/// for both failures and once for the success.
fn err_runs_again_ok_is_cached<R: Debug>(f: impl Fn(u64) -> R, runs: &AtomicUsize) {
    for _ in 0..2 {
        let failed = format!("{:?}", f(0));
        assert!(failed.starts_with("Err"), "{failed}");
    }
    assert_eq!(runs.load(SeqCst), 2, "an Err was cached");
    for _ in 0..2 {
        let succeeded = format!("{:?}", f(1));
        assert!(succeeded.starts_with("Ok"), "{succeeded}");
    }
    assert_eq!(runs.load(SeqCst), 3, "the Ok was not cached");
}

/// [`err_runs_again_ok_is_cached`] for an `async fn`.
async fn err_runs_again_ok_is_cached_async<R: Debug, F: Future<Output = R>>(
    f: impl Fn(u64) -> F,
    runs: &AtomicUsize,
) {
    for _ in 0..2 {
        let failed = format!("{:?}", f(0).await);
        assert!(failed.starts_with("Err"), "{failed}");
    }
    assert_eq!(runs.load(SeqCst), 2, "an Err was cached");
    for _ in 0..2 {
        let succeeded = format!("{:?}", f(1).await);
        assert!(succeeded.starts_with("Ok"), "{succeeded}");
    }
    assert_eq!(runs.load(SeqCst), 3, "the Ok was not cached");
}

/// Counts a run and answers `Err` for 0, `Ok(n)` otherwise.
fn run(runs: &AtomicUsize, n: u64) -> Result<u64, AppError> {
    runs.fetch_add(1, SeqCst);
    if n == 0 {
        Err(AppError)
    } else {
        Ok(n)
    }
}

/// The `Debug` text of a cached value.
fn shown(value: impl Debug) -> String {
    format!("{value:?}")
}

// ---------------------------------------------------------------------------
// #[cached]
// ---------------------------------------------------------------------------

static ANSWER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn answer(n: u64) -> Answer {
    run(&ANSWER_RUNS, n)
}

#[test]
fn user_alias_caches_ok_only() {
    err_runs_again_ok_is_cached(answer, &ANSWER_RUNS);
    assert_eq!(shown(ANSWER.get(&1)), "Some(1)", "the Ok payload is cached");
}

static GENERIC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn generic_alias(n: u64) -> AppResult<String> {
    run(&GENERIC_RUNS, n).map(|n| n.to_string())
}

#[test]
fn generic_alias_caches_ok_only() {
    err_runs_again_ok_is_cached(generic_alias, &GENERIC_RUNS);
    assert_eq!(shown(GENERIC_ALIAS.get(&1)), r#"Some("1")"#);
}

static ANYHOW_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn anyhow_style(n: u64) -> errors::Result<u32> {
    run(&ANYHOW_RUNS, n)
        .map(|n| n as u32)
        .map_err(|_| errors::Error)
}

#[test]
fn anyhow_style_alias_from_another_module_caches_ok_only() {
    err_runs_again_ok_is_cached(anyhow_style, &ANYHOW_RUNS);
    assert_eq!(shown(ANYHOW_STYLE.get(&1)), "Some(1)");
}

static IO_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn io_result(n: u64) -> io::Result<Vec<u8>> {
    run(&IO_RUNS, n)
        .map(|n| vec![n as u8])
        .map_err(|_| io::Error::other("down"))
}

#[test]
fn io_result_caches_ok_only() {
    err_runs_again_ok_is_cached(io_result, &IO_RUNS);
    assert_eq!(shown(IO_RESULT.get(&1)), "Some([1])");
}

static MAYBE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(none_ttl = "30s", ttl = "10m")]
fn maybe(n: u64) -> Maybe {
    MAYBE_RUNS.fetch_add(1, SeqCst);
    (n != 0).then_some(n)
}

#[test]
fn option_alias_keeps_none_for_none_ttl() {
    let time = mock_clock(|clock| MAYBE.use_clock(clock));
    assert_eq!((maybe(0), maybe(0)), (None, None));
    assert_eq!((maybe(1), maybe(1)), (Some(1), Some(1)));
    assert_eq!(MAYBE_RUNS.load(SeqCst), 2, "None is cached too");
    time.advance(Duration::from_secs(31));
    assert_eq!((maybe(0), maybe(1)), (None, Some(1)));
    assert_eq!(
        MAYBE_RUNS.load(SeqCst),
        3,
        "None expired after none_ttl, Some did not"
    );
}

static SKIP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(skip_none)]
fn maybe_skipped(n: u64) -> Maybe {
    SKIP_RUNS.fetch_add(1, SeqCst);
    (n != 0).then_some(n)
}

#[test]
fn option_alias_skip_none_stores_no_none() {
    assert_eq!((maybe_skipped(0), maybe_skipped(0)), (None, None));
    assert_eq!((maybe_skipped(1), maybe_skipped(1)), (Some(1), Some(1)));
    assert_eq!(SKIP_RUNS.load(SeqCst), 3, "a None was stored");
    assert_eq!(MAYBE_SKIPPED.len(), 1);
}

static LOOKUP_RUNS: AtomicUsize = AtomicUsize::new(0);

/// `Err` for 0, `Ok(None)` for 1, `Ok(Some(..))` otherwise.
#[cached(none_ttl = "30s")]
fn lookup(n: u64) -> Lookup {
    LOOKUP_RUNS.fetch_add(1, SeqCst);
    match n {
        0 => Err(AppError),
        1 => Ok(None),
        n => Ok(Some(n.to_string())),
    }
}

#[test]
fn result_of_option_alias_caches_ok_and_tunes_none() {
    let time = mock_clock(|clock| LOOKUP.use_clock(clock));
    assert_eq!((lookup(0), lookup(0)), (Err(AppError), Err(AppError)));
    assert_eq!(LOOKUP_RUNS.load(SeqCst), 2, "an Err was cached");
    assert_eq!((lookup(1), lookup(1)), (Ok(None), Ok(None)));
    assert_eq!(
        (lookup(2), lookup(2)),
        (Ok(Some("2".into())), Ok(Some("2".into())))
    );
    assert_eq!(LOOKUP_RUNS.load(SeqCst), 4, "the Ok values were not cached");
    assert_eq!(shown(LOOKUP.get(&1)), "Some(None)");
    time.advance(Duration::from_secs(31));
    assert_eq!((lookup(1), lookup(2)), (Ok(None), Ok(Some("2".into()))));
    assert_eq!(
        LOOKUP_RUNS.load(SeqCst),
        5,
        "Ok(None) expired after none_ttl, Ok(Some) did not"
    );
}

/// A type of the user's that is called `Result` without being std's.
mod shadowed {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    pub struct Result<T>(pub T);

    pub static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    pub fn wrapped(n: u64) -> Result<u64> {
        RUNS.fetch_add(1, SeqCst);
        Result(n)
    }

    #[async_cached]
    pub async fn wrapped_async(n: u64) -> Result<u64> {
        RUNS_ASYNC.fetch_add(1, SeqCst);
        Result(n)
    }

    pub static RUNS_ASYNC: AtomicUsize = AtomicUsize::new(0);
}

#[test]
fn struct_named_result_is_cached_whole() {
    assert_eq!(shadowed::wrapped(1), shadowed::Result(1));
    assert_eq!(shadowed::wrapped(1), shadowed::Result(1));
    assert_eq!(shadowed::RUNS.load(SeqCst), 1);
    assert_eq!(shown(shadowed::WRAPPED.get(&1)), "Some(Result(1))");
}

static OUTCOME_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(returns = "result")]
fn outcome<E: From<AppError>>(n: u64) -> Outcome<u64, E> {
    run(&OUTCOME_RUNS, n).map_err(E::from)
}

#[test]
fn returns_result_caches_ok_only_of_a_generic_alias() {
    err_runs_again_ok_is_cached(outcome::<AppError>, &OUTCOME_RUNS);
    assert_eq!(shown(OUTCOME.get(&1)), "Some(1)");
}

static PLAIN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(returns = "plain")]
fn remembered(n: u64) -> Answer {
    run(&PLAIN_RUNS, n)
}

#[test]
fn returns_plain_caches_errors_too() {
    assert_eq!(
        (remembered(0), remembered(0)),
        (Err(AppError), Err(AppError))
    );
    assert_eq!(PLAIN_RUNS.load(SeqCst), 1, "the Err was not cached");
    assert_eq!(shown(REMEMBERED.get(&0)), "Some(Err(AppError))");
}

// ---------------------------------------------------------------------------
// #[async_cached]
// ---------------------------------------------------------------------------

static ANSWER_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached]
async fn answer_async(n: u64) -> Answer {
    run(&ANSWER_ASYNC_RUNS, n)
}

#[tokio::test]
async fn async_user_alias_caches_ok_only() {
    err_runs_again_ok_is_cached_async(answer_async, &ANSWER_ASYNC_RUNS).await;
    assert_eq!(shown(ANSWER_ASYNC.get(&1).await), "Some(1)");
}

static GENERIC_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached]
async fn generic_alias_async(n: u64) -> AppResult<String> {
    run(&GENERIC_ASYNC_RUNS, n).map(|n| n.to_string())
}

#[tokio::test]
async fn async_generic_alias_caches_ok_only() {
    err_runs_again_ok_is_cached_async(generic_alias_async, &GENERIC_ASYNC_RUNS).await;
    assert_eq!(shown(GENERIC_ALIAS_ASYNC.get(&1).await), r#"Some("1")"#);
}

static ANYHOW_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached]
async fn anyhow_style_async(n: u64) -> errors::Result<u32> {
    run(&ANYHOW_ASYNC_RUNS, n)
        .map(|n| n as u32)
        .map_err(|_| errors::Error)
}

#[tokio::test]
async fn async_anyhow_style_alias_caches_ok_only() {
    err_runs_again_ok_is_cached_async(anyhow_style_async, &ANYHOW_ASYNC_RUNS).await;
    assert_eq!(shown(ANYHOW_STYLE_ASYNC.get(&1).await), "Some(1)");
}

static IO_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached]
async fn io_result_async(n: u64) -> io::Result<Vec<u8>> {
    run(&IO_ASYNC_RUNS, n)
        .map(|n| vec![n as u8])
        .map_err(|_| io::Error::other("down"))
}

#[tokio::test]
async fn async_io_result_caches_ok_only() {
    err_runs_again_ok_is_cached_async(io_result_async, &IO_ASYNC_RUNS).await;
    assert_eq!(shown(IO_RESULT_ASYNC.get(&1).await), "Some([1])");
}

static MAYBE_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(none_ttl = "30s", ttl = "10m")]
async fn maybe_async(n: u64) -> Maybe {
    MAYBE_ASYNC_RUNS.fetch_add(1, SeqCst);
    (n != 0).then_some(n)
}

#[tokio::test]
async fn async_option_alias_keeps_none_for_none_ttl() {
    let time = mock_clock(|clock| MAYBE_ASYNC.use_clock(clock));
    assert_eq!((maybe_async(0).await, maybe_async(0).await), (None, None));
    assert_eq!(
        (maybe_async(1).await, maybe_async(1).await),
        (Some(1), Some(1))
    );
    assert_eq!(MAYBE_ASYNC_RUNS.load(SeqCst), 2, "None is cached too");
    time.advance(Duration::from_secs(31));
    assert_eq!(
        (maybe_async(0).await, maybe_async(1).await),
        (None, Some(1))
    );
    assert_eq!(
        MAYBE_ASYNC_RUNS.load(SeqCst),
        3,
        "None expired after none_ttl, Some did not"
    );
}

static SKIP_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(skip_none)]
async fn maybe_skipped_async(n: u64) -> Maybe {
    SKIP_ASYNC_RUNS.fetch_add(1, SeqCst);
    (n != 0).then_some(n)
}

#[tokio::test]
async fn async_option_alias_skip_none_stores_no_none() {
    for n in [0, 0, 1, 1] {
        assert_eq!(maybe_skipped_async(n).await, (n != 0).then_some(n));
    }
    assert_eq!(SKIP_ASYNC_RUNS.load(SeqCst), 3, "a None was stored");
    assert_eq!(MAYBE_SKIPPED_ASYNC.len(), 1);
}

static LOOKUP_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

/// `Err` for 0, `Ok(None)` for 1, `Ok(Some(..))` otherwise.
#[async_cached(none_ttl = "30s")]
async fn lookup_async(n: u64) -> Lookup {
    LOOKUP_ASYNC_RUNS.fetch_add(1, SeqCst);
    match n {
        0 => Err(AppError),
        1 => Ok(None),
        n => Ok(Some(n.to_string())),
    }
}

#[tokio::test]
async fn async_result_of_option_alias_caches_ok_and_tunes_none() {
    let time = mock_clock(|clock| LOOKUP_ASYNC.use_clock(clock));
    for _ in 0..2 {
        assert_eq!(lookup_async(0).await, Err(AppError));
    }
    assert_eq!(LOOKUP_ASYNC_RUNS.load(SeqCst), 2, "an Err was cached");
    for _ in 0..2 {
        assert_eq!(lookup_async(1).await, Ok(None));
        assert_eq!(lookup_async(2).await, Ok(Some("2".into())));
    }
    assert_eq!(
        LOOKUP_ASYNC_RUNS.load(SeqCst),
        4,
        "the Ok values were not cached"
    );
    assert_eq!(shown(LOOKUP_ASYNC.get(&1).await), "Some(None)");
    time.advance(Duration::from_secs(31));
    assert_eq!(lookup_async(1).await, Ok(None));
    assert_eq!(lookup_async(2).await, Ok(Some("2".into())));
    assert_eq!(
        LOOKUP_ASYNC_RUNS.load(SeqCst),
        5,
        "Ok(None) expired after none_ttl, Ok(Some) did not"
    );
}

#[tokio::test]
async fn async_struct_named_result_is_cached_whole() {
    assert_eq!(shadowed::wrapped_async(1).await, shadowed::Result(1));
    assert_eq!(shadowed::wrapped_async(1).await, shadowed::Result(1));
    assert_eq!(shadowed::RUNS_ASYNC.load(SeqCst), 1);
    assert_eq!(
        shown(shadowed::WRAPPED_ASYNC.get(&1).await),
        "Some(Result(1))"
    );
}

static OUTCOME_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(returns = "result")]
async fn outcome_async<E: From<AppError>>(n: u64) -> Outcome<u64, E> {
    run(&OUTCOME_ASYNC_RUNS, n).map_err(E::from)
}

#[tokio::test]
async fn async_returns_result_caches_ok_only_of_a_generic_alias() {
    err_runs_again_ok_is_cached_async(outcome_async::<AppError>, &OUTCOME_ASYNC_RUNS).await;
    assert_eq!(shown(OUTCOME_ASYNC.get(&1).await), "Some(1)");
}

static PLAIN_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(returns = "plain")]
async fn remembered_async(n: u64) -> Answer {
    run(&PLAIN_ASYNC_RUNS, n)
}

#[tokio::test]
async fn async_returns_plain_caches_errors_too() {
    for _ in 0..2 {
        assert_eq!(remembered_async(0).await, Err(AppError));
    }
    assert_eq!(PLAIN_ASYNC_RUNS.load(SeqCst), 1, "the Err was not cached");
    assert_eq!(shown(REMEMBERED_ASYNC.get(&0).await), "Some(Err(AppError))");
}
