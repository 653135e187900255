//! Watching the caches of the process: the registry every cache lists itself
//! in when it is first used, the timing of loads (runs of a body), and with
//! the `metrics` feature their export to the `metrics` facade.
//!
//! Nothing here runs on a hit: a cache is listed once, when its store is
//! built; loads are counted on the miss path, in the striped per-thread
//! counters; the registry and the exporter read those counters when asked.

pub(crate) mod load;
#[cfg(feature = "metrics")]
pub mod metrics;
pub(crate) mod registry;
