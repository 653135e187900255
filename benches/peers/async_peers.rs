//! What the async benches share: the peers as memoized `async fn(u64) -> u64`
//! (memocache `#[async_cached]`, `cached`'s `#[cached]` on an `async fn`,
//! `moka::future::Cache::get_with`, `quick_cache`'s `get_or_insert_async`), the
//! timing loop over tasks of a multi-thread tokio runtime, and its criterion
//! groups. Ratios and cores are reported by the sync helpers in [`super`].
//!
//! A bench reaches this file with `mod peers;` then
//! `#[path = "peers/async_peers.rs"] mod async_peers;`, so the sync benches do
//! not compile it.
#![allow(dead_code)]

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use tokio::runtime::Runtime;

use crate::peers;

/// Receives every async peer, in report order, with its memoized function and
/// a function telling how many entries its cache holds (called outside the
/// runtime: it may block on the peer's own lock).
pub trait AsyncVisit {
    fn peer<F, Fut>(&mut self, name: &'static str, call: F, len: fn() -> usize)
    where
        F: Fn(u64) -> Fut + Copy + Send + Sync + 'static,
        Fut: Future<Output = u64> + Send + 'static;
}

/// Defines the async peers as memoized functions over caches of `$size`
/// entries whose body is `$body(n).await` (`$body` an `async fn(u64) -> u64`),
/// and `visit_async_peers(&mut impl AsyncVisit)` to walk them.
macro_rules! async_memoized_peers {
    ($size:tt, $body:path) => {
        #[memocache::async_cached(size = $size)]
        async fn memocache(n: u64) -> u64 {
            $body(n).await
        }

        #[memocache::async_cached(size = $size, ttl = "10m")]
        async fn memocache_ttl(n: u64) -> u64 {
            $body(n).await
        }

        /// `cached`'s default: no coalescing, one global async lock.
        #[cached::macros::cached(max_size = $size)]
        async fn cached_lru(n: u64) -> u64 {
            $body(n).await
        }

        /// `cached`'s own answer to stampedes: a lock per key bucket held
        /// across the body.
        #[cached::macros::cached(max_size = $size, sync_writes = "by_key")]
        async fn cached_by_key(n: u64) -> u64 {
            $body(n).await
        }

        static MOKA: std::sync::LazyLock<moka::future::Cache<u64, u64>> =
            std::sync::LazyLock::new(|| moka::future::Cache::new($size));

        async fn moka(n: u64) -> u64 {
            MOKA.get_with(n, $body(n)).await
        }

        static QUICK: std::sync::LazyLock<quick_cache::sync::Cache<u64, u64>> =
            std::sync::LazyLock::new(|| quick_cache::sync::Cache::new($size));

        async fn quick_cache(n: u64) -> u64 {
            let value = QUICK
                .get_or_insert_async(&n, async {
                    Ok::<_, std::convert::Infallible>($body(n).await)
                })
                .await;
            value.unwrap_or_else(|never| match never {})
        }

        fn visit_async_peers(v: &mut impl $crate::async_peers::AsyncVisit) {
            v.peer("memocache", memocache, || MEMOCACHE.len());
            v.peer("memocache_ttl", memocache_ttl, || MEMOCACHE_TTL.len());
            v.peer("cached", cached_lru, || {
                cached::Cached::cache_size(&*futures::executor::block_on(CACHED_LRU.read()))
            });
            v.peer("cached_by_key", cached_by_key, || {
                cached::Cached::cache_size(&*futures::executor::block_on(CACHED_BY_KEY.read()))
            });
            v.peer("moka", moka, || {
                futures::executor::block_on(MOKA.run_pending_tasks());
                MOKA.entry_count() as usize
            });
            v.peer("quick_cache", quick_cache, || QUICK.len());
        }
    };
}
pub(crate) use async_memoized_peers;

/// The multi-thread runtime every async bench runs on: `workers` worker
/// threads, time and I/O drivers on (real time, never paused).
pub fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Times when the tasks of [`run_tasks`] gave up waiting for each other (so ran
/// partly one after the other): such a sample measures less contention.
static NOT_TOGETHER: AtomicUsize = AtomicUsize::new(0);

/// Spawns one task per stream of `keys`, released together, each awaiting
/// `call` `iters` times as it cycles through its stream from position `start`.
/// Returns the wall time from the first task's start to the last task's end:
/// divided by `iters`, the time per call per task.
///
/// The tasks are spawned from outside the workers (the `block_on` thread), and
/// each spins until all have started: a spinning task holds its worker, so with
/// as many tasks as workers every task gets a worker of its own, as the threads
/// of [`peers::run_concurrently`] get a core. A call that returns `Pending` (a
/// contended async lock) still yields its worker, as it would in a service.
pub async fn run_tasks<F, Fut>(keys: Arc<[Vec<u64>]>, start: u64, iters: u64, call: F) -> Duration
where
    F: Fn(u64) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    let tasks = keys.len();
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (keys, started) = (keys.clone(), started.clone());
            tokio::spawn(async move {
                started.fetch_add(1, SeqCst);
                let deadline = Instant::now() + Duration::from_secs(1);
                while started.load(SeqCst) < tasks {
                    if Instant::now() > deadline {
                        NOT_TOGETHER.fetch_add(1, SeqCst);
                        break;
                    }
                    std::hint::spin_loop();
                }
                let keys = &keys[t];
                let mut at = (start % keys.len() as u64) as usize;
                let began = Instant::now();
                for _ in 0..iters {
                    black_box(call(black_box(keys[at])).await);
                    at += 1;
                    if at == keys.len() {
                        at = 0;
                    }
                }
                (began, Instant::now())
            })
        })
        .collect();
    let mut spans = Vec::with_capacity(tasks);
    for handle in handles {
        spans.push(handle.await.expect("bench task panicked"));
    }
    let began = spans.iter().map(|s| s.0).min().expect("tasks");
    let ended = spans.iter().map(|s| s.1).max().expect("tasks");
    ended - began
}

/// Times every async peer it visits in one criterion group, on `keys.len()`
/// tasks of `runtime`.
pub struct AsyncTimed<'a, 'c> {
    group: BenchmarkGroup<'c, WallTime>,
    runtime: &'a Runtime,
    keys: Arc<[Vec<u64>]>,
    warm: &'a [u64],
    names: Vec<&'static str>,
}

impl AsyncVisit for AsyncTimed<'_, '_> {
    fn peer<F, Fut>(&mut self, name: &'static str, call: F, len: fn() -> usize)
    where
        F: Fn(u64) -> Fut + Copy + Send + Sync + 'static,
        Fut: Future<Output = u64> + Send + 'static,
    {
        let warm = self.warm;
        self.runtime.block_on(async {
            for &key in warm {
                black_box(call(key).await);
            }
        });
        let held = len(); // also lets moka apply its pending writes
        if held != warm.len() {
            eprintln!(
                "warning: {name} holds {held} entries after {} warm keys",
                warm.len()
            );
        }
        let (runtime, keys) = (self.runtime, &self.keys);
        let mut start = 0;
        self.group.bench_function(name, |b| {
            b.to_async(runtime).iter_custom(|iters| {
                let at = start;
                start += iters;
                run_tasks(keys.clone(), at, iters, call)
            })
        });
        self.names.push(name);
    }
}

/// Runs the criterion group `name` over the async peers `visit` walks, each
/// called first on every `warm` key, then on `keys.len()` tasks of `runtime`;
/// prints the ratios to `cached` as the sync groups do.
pub fn time_async_group<'a>(
    criterion: &'a mut Criterion,
    runtime: &'a Runtime,
    name: &str,
    keys: &[Vec<u64>],
    warm: &'a [u64],
    visit: impl FnOnce(&mut AsyncTimed<'a, 'a>),
) {
    peers::median_ns("", ""); // fixes the time results must be newer than
    let cores_before = peers::cores_free(keys.len());
    let not_together = NOT_TOGETHER.load(SeqCst);
    let mut timed = AsyncTimed {
        group: criterion.benchmark_group(name),
        runtime,
        keys: keys.into(),
        warm,
        names: Vec::new(),
    };
    visit(&mut timed);
    timed.group.finish();
    if peers::print_ratios(name, &timed.names) && keys.len() > 1 {
        let after = peers::cores_free(keys.len());
        println!(
            "  cores free for the {} tasks: {cores_before:.1} before, {after:.1} after",
            keys.len()
        );
        let late = NOT_TOGETHER.load(SeqCst) - not_together;
        if late > 0 {
            println!("  {late} task(s) waited over 1 s for the others to start: those samples ran partly in turn");
        }
    }
}
