//! memocache's axum and Redis examples are this package's `[[example]]`
//! targets; this library holds nothing.
