//! Export of every listed cache's counters to the [`metrics`](::metrics)
//! facade (feature `metrics`), so that any of its exporters (Prometheus,
//! OpenTelemetry, StatsD...) publishes them.
//!
//! Nothing is recorded on a hit or a miss: [`export`] reads the registry and
//! sets each metric to its current value. Call it from the handler that
//! serves the scrape, right before rendering, or let [`export_every`] call
//! it on an interval.
//!
//! Per namespace (label `namespace`; caches sharing one are summed):
//!
//! | metric | type | value |
//! |---|---|---|
//! | `memocache_hits_total` | counter | [`Stats::hits`] |
//! | `memocache_misses_total` | counter | [`Stats::misses`] |
//! | `memocache_evictions_total` | counter | [`Stats::evictions`] |
//! | `memocache_expirations_total` | counter | [`Stats::expirations`] |
//! | `memocache_errors_total` | counter | [`Stats::errors`] |
//! | `memocache_loads_total` | counter | [`Stats::loads`] |
//! | `memocache_load_failures_total` | counter | [`Stats::load_failures`] |
//! | `memocache_load_nanoseconds_total` | counter | [`Stats::load_time`], in nanoseconds |
//! | `memocache_entries` | gauge | [`Stats::len`] |
//!
//! Load time is a counter of nanoseconds rather than a histogram: a
//! histogram needs every load recorded as it happens, while a counter is
//! read at scrape time like the others. The mean load time over a window is
//! `rate(memocache_load_nanoseconds_total[5m]) / rate(memocache_loads_total[5m])`.
//!
//! ```
//! // In the handler of `GET /metrics`, with a Prometheus recorder installed:
//! memocache_runtime::metrics::export();
//! // ...then render the recorder's handle.
//! ```

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use ::metrics::{counter, describe_counter, describe_gauge, gauge, Unit};

use crate::stats::Stats;
use crate::watch::registry::registry;

/// Sets every cache's metrics to their current values, on the recorder
/// installed now (none installed: nothing happens).
pub fn export() {
    describe();
    let mut namespaces = BTreeMap::<&'static str, Stats>::new();
    for report in registry() {
        add(
            namespaces.entry(report.namespace).or_default(),
            &report.stats,
        );
    }
    for (namespace, stats) in namespaces {
        let load_nanos = u64::try_from(stats.load_time.as_nanos()).unwrap_or(u64::MAX);
        let counters = [
            ("memocache_hits_total", stats.hits),
            ("memocache_misses_total", stats.misses),
            ("memocache_evictions_total", stats.evictions),
            ("memocache_expirations_total", stats.expirations),
            ("memocache_errors_total", stats.errors),
            ("memocache_loads_total", stats.loads),
            ("memocache_load_failures_total", stats.load_failures),
            ("memocache_load_nanoseconds_total", load_nanos),
        ];
        for (name, value) in counters {
            counter!(name, "namespace" => namespace).absolute(value);
        }
        gauge!("memocache_entries", "namespace" => namespace).set(stats.len as f64);
    }
}

fn describe() {
    describe_counter!("memocache_hits_total", "Calls answered from the cache.");
    describe_counter!(
        "memocache_misses_total",
        "Calls that ran the function or waited for a concurrent run."
    );
    describe_counter!("memocache_evictions_total", "Entries removed to make room.");
    describe_counter!(
        "memocache_expirations_total",
        "Entries found expired and reclaimed."
    );
    describe_counter!(
        "memocache_errors_total",
        "Store failures and timeouts, served as misses."
    );
    describe_counter!("memocache_loads_total", "Runs of the function's body.");
    describe_counter!(
        "memocache_load_failures_total",
        "Runs that gave the cache nothing to keep."
    );
    describe_counter!(
        "memocache_load_nanoseconds_total",
        Unit::Nanoseconds,
        "Time spent running the function's body."
    );
    describe_gauge!(
        "memocache_entries",
        Unit::Count,
        "Entries held in process memory."
    );
}

/// Adds the counters of `more` into `into` (caches sharing a namespace).
fn add(into: &mut Stats, more: &Stats) {
    into.hits += more.hits;
    into.misses += more.misses;
    into.evictions += more.evictions;
    into.expirations += more.expirations;
    into.errors += more.errors;
    into.loads += more.loads;
    into.load_failures += more.load_failures;
    into.load_time += more.load_time;
    into.len += more.len;
}

/// Calls [`export`] every `period` on a thread of its own, until the value
/// returned is dropped: for a recorder that pushes (StatsD, OpenTelemetry)
/// rather than one that is scraped.
#[must_use = "the export stops when this is dropped"]
pub fn export_every(period: Duration) -> Exporting {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("memocache-metrics".into())
        .spawn(move || loop {
            export();
            match stopped.recv_timeout(period) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        })
        .expect("memocache: cannot start the metrics thread");
    Exporting {
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// The export thread of [`export_every`]; dropping it stops the thread.
#[derive(Debug)]
pub struct Exporting {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Exporting {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
