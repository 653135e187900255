//! memocache's integration, UI and fault tests. They are the `[[test]]`
//! targets of this package, which exists so that their dependencies (trybuild,
//! proptest, axum, a Redis client, ...) are built for the tests only, never
//! for a user's first build of memocache. This library holds nothing.
