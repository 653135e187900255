//! Compile-time behaviour of `#[cached]` and `#[async_cached]`: every misuse
//! is a compile error at the offending token (`tests/ui/*.rs`, with the
//! expected messages in the `.stderr` files next to them), and the supported
//! shapes of functions compile and run (`tests/ui/pass/`), with the Redis
//! cases when the `redis` feature is on (`tests/ui/redis/`, `tests/ui/pass_redis/`;
//! the cases of a build without it are in `ui_without_redis.rs`).
//!
//! Regenerate the expected output after changing a message with
//! `TRYBUILD=overwrite cargo test -p memocache-tests --test ui`, then read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
    cases.pass("ui/pass/*.rs");
    if cfg!(feature = "redis") {
        cases.compile_fail("ui/redis/*.rs");
        cases.pass("ui/pass_redis/*.rs");
    }
}
