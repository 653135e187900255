//! Compile-time behaviour of `#[cached]` and `#[async_cached]`: every misuse
//! is a compile error at the offending token (`tests/ui/*.rs`, with the
//! expected messages in the `.stderr` files next to them), and the supported
//! shapes of functions compile and run (`tests/ui/pass/`).
//!
//! Regenerate the expected output after changing a message with
//! `TRYBUILD=overwrite cargo test --test ui`, then read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
