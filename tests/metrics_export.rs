//! `memocache::metrics::export()` on a real `metrics` recorder (the
//! debugging recorder of `metrics-util`): after a known sequence of hits and
//! misses every metric has its exact value, labelled by namespace, and a
//! later export moves the counters on.
#![cfg(feature = "metrics")]

use std::collections::HashMap;

use memocache::cached;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// Exports to `recorder` and returns the values of the metrics labelled
/// `namespace`, by name (gauges as their integer value).
fn export(
    recorder: &DebuggingRecorder,
    snapshotter: &Snapshotter,
    namespace: &str,
) -> HashMap<String, u64> {
    metrics::with_local_recorder(recorder, memocache::metrics::export);
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            key.key()
                .labels()
                .any(|label| label.key() == "namespace" && label.value() == namespace)
        })
        .map(|(key, _, _, value)| {
            let value = match value {
                DebugValue::Counter(count) => count,
                DebugValue::Gauge(gauge) => gauge.into_inner() as u64,
                DebugValue::Histogram(_) => panic!("no histogram is exported"),
            };
            (key.key().name().to_owned(), value)
        })
        .collect()
}

#[cached(size = 16, namespace = "metrics::double")]
fn double(n: u64) -> u64 {
    n * 2
}

#[cached(size = 16, namespace = "metrics::checked")]
fn checked(n: u64) -> Result<u64, String> {
    if n == 0 {
        Err("zero".into())
    } else {
        Ok(n)
    }
}

#[test]
fn counters_and_gauges_have_exact_values_after_a_known_sequence() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    for n in [1, 2, 3, 1, 2, 1] {
        double(n);
    }
    let metrics = export(&recorder, &snapshotter, "metrics::double");
    let expected = [
        ("memocache_hits_total", 3),
        ("memocache_misses_total", 3),
        ("memocache_evictions_total", 0),
        ("memocache_expirations_total", 0),
        ("memocache_errors_total", 0),
        ("memocache_loads_total", 3),
        ("memocache_load_failures_total", 0),
        ("memocache_entries", 3),
    ];
    for (name, value) in expected {
        assert_eq!(metrics.get(name), Some(&value), "{name} in {metrics:?}");
    }
    let load_nanos = metrics["memocache_load_nanoseconds_total"];
    assert_eq!(
        u128::from(load_nanos),
        DOUBLE.stats().load_time.as_nanos(),
        "the load time, in nanoseconds"
    );
    assert_eq!(
        metrics.len(),
        expected.len() + 1,
        "nothing else: {metrics:?}"
    );

    // Another export reads the counters again: they moved on.
    double(3);
    double(4);
    let metrics = export(&recorder, &snapshotter, "metrics::double");
    assert_eq!(metrics["memocache_hits_total"], 4);
    assert_eq!(metrics["memocache_misses_total"], 4);
    assert_eq!(metrics["memocache_entries"], 4);
}

#[test]
fn failed_loads_are_counted_under_their_own_namespace() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    assert!(checked(0).is_err());
    assert_eq!(checked(5), Ok(5));
    assert_eq!(checked(5), Ok(5));
    let metrics = export(&recorder, &snapshotter, "metrics::checked");
    assert_eq!(metrics["memocache_loads_total"], 2);
    assert_eq!(metrics["memocache_load_failures_total"], 1);
    assert_eq!(metrics["memocache_hits_total"], 1);
    assert_eq!(metrics["memocache_entries"], 1);
}

#[test]
fn export_every_exports_from_its_thread_until_dropped() {
    #[cached(namespace = "metrics::interval")]
    fn one(n: u64) -> u64 {
        n
    }
    one(1);
    one(1);
    // The export thread is not this one: the only test with a global recorder.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("no other global recorder");
    let exporting = memocache::metrics::export_every(std::time::Duration::from_secs(3600));
    drop(exporting); // joins the thread, which exports once before it waits
    let hits = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find_map(|(key, _, _, value)| {
            let ours = key.key().name() == "memocache_hits_total"
                && key
                    .key()
                    .labels()
                    .any(|label| label.value() == "metrics::interval");
            ours.then_some(value)
        });
    assert_eq!(hits, Some(DebugValue::Counter(1)));
}
