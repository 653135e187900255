//! Opens arbitrary bytes as envelopes of a few value types with both codecs,
//! as they are and behind a valid header, so that the payload decoders see
//! them too. `open` must never panic, never overflow the stack and never
//! allocate much past its limit (run with `-malloc_limit_mb=8`: the limit
//! here is 64 KiB, and bincode's claim ceiling for it too).
//!
//! A value that opens must open again, equal, once sealed anew.
//!
//! Run with `cargo +nightly fuzz run open_envelope -- -malloc_limit_mb=8`
//! from `cache-runtime/`. With only a stable toolchain (no AddressSanitizer,
//! but coverage-guided all the same), from `cache-runtime/fuzz/`:
//!
//! ```text
//! RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
//!   -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
//!   -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
//!   cargo build --release --target x86_64-unknown-linux-gnu --bin open_envelope
//! mkdir -p corpus/open_envelope
//! target/x86_64-unknown-linux-gnu/release/open_envelope corpus/open_envelope \
//!   -max_total_time=180 -malloc_limit_mb=8 -max_len=4096
//! ```
//!
//! (`--target` keeps the coverage flags away from build scripts.)
#![no_main]

use std::collections::HashMap;
use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use memocache_runtime::{fingerprint, open, seal, Bincode, Codec, Json, FORMAT};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const LIMIT: usize = 64 << 10;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Record {
    id: u64,
    tags: Vec<String>,
    scores: HashMap<String, u64>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Shape {
    Unit,
    Pair(u32, i64),
    Named { label: String, flag: Option<bool> },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Tree {
    children: Vec<Tree>,
}

fn check<C: Codec, V>(data: &[u8])
where
    V: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let fp = fingerprint::<V>(C::ID, 0);
    let mut behind_header = vec![FORMAT, C::ID];
    behind_header.extend_from_slice(&fp.to_le_bytes());
    behind_header.extend_from_slice(&u64::MAX.to_le_bytes());
    behind_header.extend_from_slice(data);
    for bytes in [data, &behind_header[..]] {
        if let Ok(opened) = open::<C, V>(bytes, fp, LIMIT) {
            let again = seal::<C, V>(&opened.value, fp, opened.expires_at)
                .expect("a decoded value encodes");
            let reopened = open::<C, V>(&again, fp, usize::MAX).expect("a sealed value opens");
            assert_eq!(reopened.value, opened.value);
            assert_eq!(reopened.expires_at, opened.expires_at);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    match selector % 12 {
        0 => check::<Bincode, u64>(data),
        1 => check::<Bincode, String>(data),
        2 => check::<Bincode, Vec<String>>(data),
        3 => check::<Bincode, Record>(data),
        4 => check::<Bincode, Shape>(data),
        5 => check::<Bincode, Tree>(data),
        6 => check::<Json, u64>(data),
        7 => check::<Json, String>(data),
        8 => check::<Json, Vec<String>>(data),
        9 => check::<Json, Record>(data),
        10 => check::<Json, Shape>(data),
        _ => check::<Json, Tree>(data),
    }
});
