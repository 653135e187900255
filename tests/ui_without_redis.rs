//! Compile errors that only a build without the `redis` feature shows:
//! `store = "redis"` and `codec = "json"` name the features they need.
//! `scripts/test.sh` runs this file with the default features.
#![cfg(not(feature = "redis"))]

#[test]
fn ui_without_redis() {
    trybuild::TestCases::new().compile_fail("ui/without_redis/*.rs");
}
