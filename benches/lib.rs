//! memocache's benchmarks against its peers are this package's `[[bench]]`
//! targets (see BENCHMARKS.md); this library holds nothing.
