//! Stampede: 200 tasks of a multi-thread tokio runtime (2 workers) call one
//! cold key at once; the body sleeps 50 ms of real time and counts its runs.
//! Each peer gets `ROUNDS` rounds, a fresh key each, and reports the body runs
//! per round (1 means the callers were coalesced) and the wall time from the
//! first call to the last return over the 50 ms of one body run.
//!
//! `cargo bench -p memocache-benches --bench stampede` (a plain main; prints a markdown table)

#[path = "peers/async_peers.rs"]
mod async_peers;
mod peers;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_peers::AsyncVisit;
use tokio::runtime::Runtime;
use tokio::sync::Barrier;

/// Concurrent callers of the one cold key of a round.
const CALLERS: usize = 200;
/// What one body run takes.
const SLEEP: Duration = Duration::from_millis(50);
/// Rounds per peer under `cargo bench` (fewer under `cargo test -p memocache-benches --benches`).
const ROUNDS: u64 = 20;
/// The target for memocache: wall time / `SLEEP`.
const TARGET_RATIO: f64 = 1.1;
const WORKERS: usize = 2;

/// Body runs since the round began (rounds run one at a time).
static RUNS: AtomicU64 = AtomicU64::new(0);

async fn slow_body(n: u64) -> u64 {
    RUNS.fetch_add(1, SeqCst);
    tokio::time::sleep(SLEEP).await;
    peers::body(n)
}

async_peers::async_memoized_peers!(4096, slow_body);

/// One round: `CALLERS` tasks released together by a barrier on `key`; returns
/// the wall time from the first call to the last return, and the body runs.
async fn round<F, Fut>(call: F, key: u64) -> (Duration, u64)
where
    F: Fn(u64) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    RUNS.store(0, SeqCst);
    let barrier = Arc::new(Barrier::new(CALLERS));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let began = Instant::now();
                let value = call(key).await;
                (began, Instant::now(), value)
            })
        })
        .collect();
    let mut spans = Vec::with_capacity(CALLERS);
    for caller in callers {
        let (began, ended, value) = caller.await.expect("caller panicked");
        assert_eq!(value, peers::body(key), "a caller got a wrong value");
        spans.push((began, ended));
    }
    let began = spans.iter().map(|s| s.0).min().expect("callers");
    let ended = spans.iter().map(|s| s.1).max().expect("callers");
    (ended - began, RUNS.load(SeqCst))
}

struct Row {
    name: &'static str,
    runs: Vec<u64>,
    /// Wall time / `SLEEP`, sorted.
    ratios: Vec<f64>,
}

struct Stampedes<'a> {
    runtime: &'a Runtime,
    rounds: u64,
    rows: Vec<Row>,
}

impl AsyncVisit for Stampedes<'_> {
    fn peer<F, Fut>(&mut self, name: &'static str, call: F, _len: fn() -> usize)
    where
        F: Fn(u64) -> Fut + Copy + Send + Sync + 'static,
        Fut: Future<Output = u64> + Send + 'static,
    {
        // One untimed round first (statics, the runtime's threads); its key is
        // never used again, so every timed round is cold.
        self.runtime.block_on(round(call, u64::MAX));
        let mut runs = Vec::new();
        let mut ratios = Vec::new();
        for key in 0..self.rounds {
            let (wall, body_runs) = self.runtime.block_on(round(call, key));
            runs.push(body_runs);
            ratios.push(wall.as_secs_f64() / SLEEP.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        self.rows.push(Row { name, runs, ratios });
    }
}

fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test -p memocache-benches --benches` does not.
    let rounds = if std::env::args().any(|arg| arg == "--bench") {
        ROUNDS
    } else {
        3
    };
    let runtime = async_peers::runtime(WORKERS);
    let mut stampedes = Stampedes {
        runtime: &runtime,
        rounds,
        rows: Vec::new(),
    };
    visit_async_peers(&mut stampedes);

    println!(
        "\nstampede: {CALLERS} tasks on one cold key, body sleeps {} ms, {WORKERS} workers, {rounds} rounds per peer\n",
        SLEEP.as_millis()
    );
    println!("| peer | body runs per round (min-max) | median wall / 50 ms | max wall / 50 ms |");
    println!("|---|---:|---:|---:|");
    for row in &stampedes.rows {
        let min = row.runs.iter().min().expect("rounds");
        let max = row.runs.iter().max().expect("rounds");
        let runs = if min == max {
            format!("{min}")
        } else {
            format!("{min}-{max}")
        };
        println!(
            "| {} | {runs} | {:.3}x | {:.3}x |",
            row.name,
            median(&row.ratios),
            row.ratios.last().expect("rounds")
        );
    }
    if let Some(row) = stampedes.rows.iter().find(|row| row.name == "memocache") {
        let once = row.runs.iter().all(|&runs| runs == 1);
        let ratio = median(&row.ratios);
        println!(
            "\nmemocache: body run once per round: {}; median wall / 50 ms {ratio:.3}x (target <= {TARGET_RATIO}x): {}",
            if once { "yes" } else { "NO" },
            if ratio <= TARGET_RATIO { "met" } else { "NOT met" }
        );
    }
}
