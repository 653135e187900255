//! The wire formats of the Redis tier, through the public API: envelopes round
//! trip and refuse what they cannot vouch for, decoding hostile bytes neither
//! panics nor allocates past its limit (measured with a counting global
//! allocator), Redis keys are injective and match their documented format, and
//! SCAN patterns match exactly the keys of their namespace.
#![cfg(feature = "redis")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use memocache_runtime::{
    fingerprint, open, redis_key, scan_pattern, seal, Bincode, Codec, Opened, Rejected,
    DEFAULT_MAX_VALUE_BYTES, FORMAT, HEADER_LEN,
};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------
// Allocation accounting

/// Forwards to the system allocator and, on threads that asked for it,
/// records the largest single allocation and the peak of live bytes.
struct CountingAllocator;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record_alloc(size: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            LARGEST.with(|largest| largest.set(largest.get().max(size)));
            let live = LIVE.with(|live| {
                live.set(live.get() + size);
                live.get()
            });
            PEAK.with(|peak| peak.set(peak.get().max(live)));
        }
    });
}

fn record_dealloc(size: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            LIVE.with(|live| live.set(live.get().saturating_sub(size)));
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// bookkeeping only touches const-initialised thread-locals, which never
// allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record_alloc(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record_alloc(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record_dealloc(layout.size());
        record_alloc(new_size);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record_dealloc(layout.size());
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// What a closure allocated on the current thread.
#[derive(Debug, Clone, Copy)]
struct Usage {
    largest: usize,
    peak: usize,
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, Usage) {
    LIVE.with(|c| c.set(0));
    PEAK.with(|c| c.set(0));
    LARGEST.with(|c| c.set(0));
    ARMED.with(|c| c.set(true));
    let out = f();
    ARMED.with(|c| c.set(false));
    let usage = Usage {
        largest: LARGEST.with(Cell::get),
        peak: PEAK.with(Cell::get),
    };
    (out, usage)
}

// ---------------------------------------------------------------------------
// Value types and helpers

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Record {
    id: u64,
    tags: Vec<String>,
    scores: HashMap<String, u64>,
}

fn record() -> impl Strategy<Value = Record> {
    (
        any::<u64>(),
        prop::collection::vec(".{0,12}", 0..6),
        prop::collection::hash_map(".{0,8}", any::<u64>(), 0..6),
    )
        .prop_map(|(id, tags, scores)| Record { id, tags, scores })
}

/// bincode's standard encoding of a length or `u64`: one byte below 251, else
/// a marker byte and the little-endian integer.
fn varint(n: u64) -> Vec<u8> {
    match n {
        0..=250 => vec![n as u8],
        251..=0xFFFF => [&[251][..], &(n as u16).to_le_bytes()].concat(),
        0x1_0000..=0xFFFF_FFFF => [&[252][..], &(n as u32).to_le_bytes()].concat(),
        _ => [&[253][..], &n.to_le_bytes()].concat(),
    }
}

/// A header that [`open`] accepts for `V` written by `C` under version 0.
fn header<C: Codec, V>() -> Vec<u8> {
    let mut bytes = vec![FORMAT, C::ID];
    bytes.extend_from_slice(&fingerprint::<V>(C::ID, 0).to_le_bytes());
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    bytes
}

fn open_as<C: Codec, V: DeserializeOwned>(bytes: &[u8], max_len: usize) -> Result<V, Rejected> {
    open::<C, V>(bytes, fingerprint::<V>(C::ID, 0), max_len).map(|opened| opened.value)
}

fn at_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn round_trip<C: Codec, V>(value: &V, expiry_ms: Option<u64>, version: u64)
where
    V: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let fp = fingerprint::<V>(C::ID, version);
    let bytes = seal::<C, V>(value, fp, expiry_ms.map(at_millis)).unwrap();
    let opened = open::<C, V>(&bytes, fp, DEFAULT_MAX_VALUE_BYTES).unwrap();
    assert_eq!(&opened.value, value);
    assert_eq!(opened.expires_at, expiry_ms.map(at_millis));
}

/// The claim limit bincode decodes under for `limit` (documented on
/// `Bincode`): the next power of four, at least 4 KiB.
fn bincode_ceiling(limit: usize) -> usize {
    let mut ceiling = 1 << 12;
    while ceiling < limit {
        ceiling <<= 2;
    }
    ceiling
}

// ---------------------------------------------------------------------------
// Envelopes

#[test]
fn values_round_trip_through_bincode_with_their_expiry() {
    let record = Record {
        id: 7,
        tags: vec!["a:b".into(), String::new()],
        scores: HashMap::from([("x".into(), 1), ("y".into(), u64::MAX)]),
    };
    for expiry in [None, Some(0), Some(1_700_000_000_123), Some(u64::MAX - 1)] {
        round_trip::<Bincode, _>(&record, expiry, 3);
        round_trip::<Bincode, _>(&42u64, expiry, 0);
        round_trip::<Bincode, _>(&vec![String::from("é"); 3], expiry, 0);
        round_trip::<Bincode, _>(&Some(1.5f64), expiry, 0);
    }
}

#[cfg(feature = "json")]
#[test]
fn values_round_trip_through_json_with_their_expiry() {
    use memocache_runtime::Json;
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum Untagged {
        Number(u64),
        Text(String),
    }
    let record = Record {
        id: 7,
        tags: vec!["a\"b".into()],
        scores: HashMap::from([("x".into(), 1)]),
    };
    for expiry in [None, Some(0), Some(1_700_000_000_123)] {
        round_trip::<Json, _>(&record, expiry, 0);
        round_trip::<Json, _>(&Untagged::Text("t".into()), expiry, 0);
        round_trip::<Json, _>(&Untagged::Number(5), expiry, 0);
    }
    // bincode cannot carry an untagged enum: its entry is a miss, not a panic.
    let fp = fingerprint::<Untagged>(Bincode::ID, 0);
    let bytes = seal::<Bincode, _>(&Untagged::Number(5), fp, None).unwrap();
    assert!(matches!(
        open::<Bincode, Untagged>(&bytes, fp, DEFAULT_MAX_VALUE_BYTES),
        Err(Rejected::Undecodable(_))
    ));
}

#[test]
fn another_type_or_version_is_a_foreign_fingerprint() {
    let bytes = seal::<Bincode, _>(&5u64, fingerprint::<u64>(Bincode::ID, 1), None).unwrap();
    for fp in [
        fingerprint::<u64>(Bincode::ID, 2),
        fingerprint::<u64>(Bincode::ID, 0),
        fingerprint::<i64>(Bincode::ID, 1),
    ] {
        assert_eq!(
            open::<Bincode, u64>(&bytes, fp, 1024),
            Err(Rejected::ForeignFingerprint)
        );
    }
    assert_eq!(
        open::<Bincode, u64>(&bytes, fingerprint::<u64>(Bincode::ID, 1), 1024),
        Ok(Opened {
            value: 5,
            expires_at: None
        })
    );
}

#[cfg(feature = "json")]
#[test]
fn another_codec_or_format_is_foreign() {
    use memocache_runtime::Json;
    let fp = fingerprint::<u64>(Json::ID, 0);
    let json = seal::<Json, _>(&5u64, fp, None).unwrap();
    assert_eq!(
        open::<Bincode, u64>(&json, fp, 1024),
        Err(Rejected::ForeignFormat)
    );
    assert_eq!(open::<Json, u64>(&json, fp, 1024).map(|o| o.value), Ok(5));
    let mut next_format = json.clone();
    next_format[0] = FORMAT + 1;
    assert_eq!(
        open::<Json, u64>(&next_format, fp, 1024),
        Err(Rejected::ForeignFormat)
    );
    // What a Python client would have written with redis.set(key, "5").
    assert_eq!(
        open::<Json, u64>(b"5", fp, 1024),
        Err(Rejected::ForeignFormat)
    );
}

#[test]
fn every_truncation_is_rejected_as_truncated() {
    let record = Record {
        id: 300,
        tags: vec!["tag".into(); 3],
        scores: HashMap::from([("k".into(), 70_000)]),
    };
    let fp = fingerprint::<Record>(Bincode::ID, 0);
    let bytes = seal::<Bincode, _>(&record, fp, Some(at_millis(5))).unwrap();
    for cut in 0..bytes.len() {
        assert_eq!(
            open::<Bincode, Record>(&bytes[..cut], fp, 1024),
            Err(Rejected::Truncated),
            "cut at {cut} of {}",
            bytes.len()
        );
    }
    #[cfg(feature = "json")]
    {
        use memocache_runtime::Json;
        let fp = fingerprint::<Record>(Json::ID, 0);
        let bytes = seal::<Json, _>(&record, fp, Some(at_millis(5))).unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(
                open::<Json, Record>(&bytes[..cut], fp, 1024),
                Err(Rejected::Truncated),
                "cut at {cut} of {}",
                bytes.len()
            );
        }
    }
}

#[test]
fn oversized_values_are_rejected_before_decoding() {
    let value = "x".repeat(1000);
    let fp = fingerprint::<String>(Bincode::ID, 0);
    let bytes = seal::<Bincode, _>(&value, fp, None).unwrap();
    assert_eq!(bytes.len(), HEADER_LEN + 1003);
    assert_eq!(
        open::<Bincode, String>(&bytes, fp, bytes.len() - 1),
        Err(Rejected::TooLarge {
            len: bytes.len(),
            max_len: bytes.len() - 1
        })
    );
    assert_eq!(
        open::<Bincode, String>(&bytes, fp, bytes.len()).map(|o| o.value),
        Ok(value)
    );
}

#[test]
fn trailing_bytes_make_a_payload_undecodable() {
    let fp = fingerprint::<u64>(Bincode::ID, 0);
    let mut bytes = seal::<Bincode, _>(&5u64, fp, None).unwrap();
    bytes.push(0);
    assert!(matches!(
        open::<Bincode, u64>(&bytes, fp, 1024),
        Err(Rejected::Undecodable(_))
    ));
}

// ---------------------------------------------------------------------------
// Decoder safety

/// Payloads whose length prefixes claim far more than they hold, each behind
/// a valid header for its type.
fn hostile_bincode_payloads(limit: usize) -> Vec<(&'static str, Vec<u8>)> {
    let ceiling = bincode_ceiling(limit) as u64;
    let mut payloads = Vec::new();
    for claim in [
        1 << 60,
        u64::MAX,
        1 << 32,
        ceiling * 4,
        ceiling - 64,
        limit as u64 + 1,
    ] {
        let string = [varint(claim), b"abc".to_vec()].concat();
        payloads.push((
            "String",
            [header::<Bincode, String>(), string.clone()].concat(),
        ));
        payloads.push((
            "Vec<String>",
            [
                header::<Bincode, Vec<String>>(),
                varint(claim),
                varint(1),
                b"a".to_vec(),
            ]
            .concat(),
        ));
        payloads.push((
            "Vec<String> of a long string",
            [
                header::<Bincode, Vec<String>>(),
                varint(2),
                varint(1),
                b"a".to_vec(),
                string.clone(),
            ]
            .concat(),
        ));
        payloads.push((
            "Record tags",
            [
                header::<Bincode, Record>(),
                varint(1),
                varint(claim),
                string.clone(),
            ]
            .concat(),
        ));
        payloads.push((
            "Record scores",
            [
                header::<Bincode, Record>(),
                varint(1),
                varint(0),
                varint(claim),
                string.clone(),
            ]
            .concat(),
        ));
        payloads.push((
            "Vec<u64>",
            [header::<Bincode, Vec<u64>>(), varint(claim), varint(9)].concat(),
        ));
    }
    payloads
}

fn open_any(name: &str, bytes: &[u8], limit: usize) -> bool {
    match name.split_whitespace().next() {
        Some("String") => open_as::<Bincode, String>(bytes, limit).is_ok(),
        Some("Vec<String>") => open_as::<Bincode, Vec<String>>(bytes, limit).is_ok(),
        Some("Record") => open_as::<Bincode, Record>(bytes, limit).is_ok(),
        Some("Vec<u64>") => open_as::<Bincode, Vec<u64>>(bytes, limit).is_ok(),
        _ => unreachable!("{name}"),
    }
}

#[test]
fn hostile_length_claims_allocate_within_the_limit() {
    // 64 KiB and 1 MiB are ceilings themselves; 300 KiB rounds up to 1 MiB.
    for limit in [64 << 10, 300 << 10, 1 << 20, DEFAULT_MAX_VALUE_BYTES] {
        let ceiling = bincode_ceiling(limit);
        for (name, bytes) in hostile_bincode_payloads(limit) {
            let (ok, usage) = measure(|| open_any(name, &bytes, limit));
            assert!(!ok, "{name} decoded at limit {limit}");
            // A string claiming up to the ceiling is allocated before bincode
            // finds the input too short; nothing else grows with a claim.
            assert!(
                usage.largest <= ceiling && usage.peak <= ceiling + 4096,
                "{name} at limit {limit}: {usage:?}"
            );
        }
    }
}

#[test]
fn a_claim_past_the_ceiling_allocates_nothing_large() {
    // The case that would abort without bincode's limit: 2^60 bytes of string.
    let limit = 64 << 10;
    let bytes = [
        header::<Bincode, String>(),
        varint(1 << 60),
        b"abc".to_vec(),
    ]
    .concat();
    let (result, usage) = measure(|| open_as::<Bincode, String>(&bytes, limit));
    assert!(
        matches!(result, Err(Rejected::Undecodable(_))),
        "{result:?}"
    );
    assert!(usage.largest < 1024, "{usage:?}");
}

#[test]
fn zero_sized_elements_cannot_loop_for_ever() {
    // Without a bound on elements, 2^60 units would take centuries to decode.
    let limit = 64 << 10;
    let bytes = [header::<Bincode, Vec<()>>(), varint(1 << 60)].concat();
    let (result, usage) = measure(|| open_as::<Bincode, Vec<()>>(&bytes, limit));
    match result {
        Err(Rejected::Undecodable(error)) => {
            assert!(error.to_string().contains("elements"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    assert!(usage.peak < 1024, "{usage:?}");
    // A legitimate sequence of units decodes, up to the limit.
    let fp = fingerprint::<Vec<()>>(Bincode::ID, 0);
    let units = seal::<Bincode, _>(&vec![(); 1000], fp, None).unwrap();
    assert_eq!(
        open_as::<Bincode, Vec<()>>(&units, limit),
        Ok(vec![(); 1000])
    );
}

#[test]
fn elements_that_take_no_bytes_grow_memory_only_up_to_the_limit() {
    #[derive(Serialize, Deserialize, Debug, Default)]
    struct Skipped {
        #[serde(skip)]
        _cache: [u64; 16],
    }
    let limit = 4 << 10;
    let bytes = [header::<Bincode, Vec<Skipped>>(), varint(1 << 60)].concat();
    let (result, usage) = measure(|| open_as::<Bincode, Vec<Skipped>>(&bytes, limit));
    assert!(matches!(result, Err(Rejected::Undecodable(_))));
    // At most `limit` elements of 128 bytes, in a Vec that doubles.
    assert!(usage.peak <= 2 * limit * 128, "{usage:?}");
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Tree {
    children: Vec<Tree>,
}

fn tree(depth: usize) -> Tree {
    (0..depth).fold(Tree { children: vec![] }, |child, _| Tree {
        children: vec![child],
    })
}

#[test]
fn deep_nesting_is_refused_before_the_stack_runs_out() {
    // A tree level is a struct and a sequence: two levels of nesting.
    let shallow = tree(Bincode::MAX_DEPTH as usize / 2 - 1);
    let fp = fingerprint::<Tree>(Bincode::ID, 0);
    let bytes = seal::<Bincode, _>(&shallow, fp, None).unwrap();
    assert_eq!(open_as::<Bincode, Tree>(&bytes, 1 << 20), Ok(shallow));
    let deeper = seal::<Bincode, _>(&tree(Bincode::MAX_DEPTH as usize / 2), fp, None).unwrap();
    assert!(matches!(
        open_as::<Bincode, Tree>(&deeper, 1 << 20),
        Err(Rejected::Undecodable(_))
    ));
    // A million levels claimed in a million bytes; decoded on a thread with a
    // small stack, which the recursion would overflow without the bound.
    let hostile = [header::<Bincode, Tree>(), vec![1; 1 << 20]].concat();
    let result = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || open_as::<Bincode, Tree>(&hostile, 2 << 20).is_err())
        .unwrap()
        .join()
        .unwrap();
    assert!(result);
}

#[cfg(feature = "json")]
#[test]
fn hostile_json_stays_within_its_input() {
    use memocache_runtime::Json;
    let limit = 64 << 10;
    let deep = "[".repeat(limit - HEADER_LEN);
    let many = format!("[{}", "\"\",".repeat((limit - HEADER_LEN) / 3 - 1));
    let long = format!("\"{}", "x".repeat(limit - HEADER_LEN - 1));
    for payload in [deep, many, long] {
        let bytes = [header::<Json, Vec<String>>(), payload.into_bytes()].concat();
        assert!(bytes.len() <= limit);
        let (result, usage) = measure(|| open_as::<Json, Vec<String>>(&bytes, limit));
        assert!(result.is_err());
        // Empty strings are 24 bytes each in memory for 3 bytes of input, and
        // a growing Vec may hold twice what it needs.
        assert!(usage.peak <= 20 * limit, "{usage:?}");
    }
}

fn decodes_without_panic_within<V: DeserializeOwned>(payload: &[u8], limit: usize) {
    let ceiling = bincode_ceiling(limit);
    for bytes in [
        payload.to_vec(),
        [header::<Bincode, V>(), payload.to_vec()].concat(),
    ] {
        let (_, usage) = measure(|| open_as::<Bincode, V>(&bytes, limit));
        assert!(usage.largest <= ceiling, "{usage:?}");
    }
    #[cfg(feature = "json")]
    {
        use memocache_runtime::Json;
        for bytes in [
            payload.to_vec(),
            [header::<Json, V>(), payload.to_vec()].concat(),
        ] {
            let (_, usage) = measure(|| open_as::<Json, V>(&bytes, limit));
            assert!(usage.largest <= limit, "{usage:?}");
        }
    }
}

/// Bytes that tend to reach deep into a decoder: a valid encoding with a few
/// bytes overwritten, varint markers and large lengths included.
fn mutated<V: Serialize + std::fmt::Debug>(
    value: impl Strategy<Value = V>,
) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            prop_oneof![any::<u8>(), Just(0xFD), Just(0xFC), Just(0xFF)],
        ),
        1..4,
    );
    (value, edits).prop_map(|(value, edits)| {
        let mut bytes = bincode::serde::encode_to_vec(&value, bincode::config::standard()).unwrap();
        for (at, byte) in edits {
            if !bytes.is_empty() {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_nor_allocate_past_the_limit(
        payload in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let limit = 64 << 10;
        decodes_without_panic_within::<u64>(&payload, limit);
        decodes_without_panic_within::<String>(&payload, limit);
        decodes_without_panic_within::<Vec<String>>(&payload, limit);
        decodes_without_panic_within::<Record>(&payload, limit);
    }

    #[test]
    fn damaged_encodings_never_panic_nor_allocate_past_the_limit(
        strings in mutated(prop::collection::vec(".{0,8}", 0..8)),
        records in mutated(record()),
    ) {
        let limit = 64 << 10;
        decodes_without_panic_within::<Vec<String>>(&strings, limit);
        decodes_without_panic_within::<Record>(&records, limit);
    }

    #[test]
    fn sealed_values_open_as_they_were(
        value in record(),
        expiry in prop::option::of(0..u64::MAX),
        version in any::<u64>(),
    ) {
        round_trip::<Bincode, _>(&value, expiry, version);
        #[cfg(feature = "json")]
        round_trip::<memocache_runtime::Json, _>(&value, expiry, version);
    }
}

// ---------------------------------------------------------------------------
// Redis keys

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Query {
    text: String,
    page: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Lookup {
    ById(u64),
    ByName(String),
    All,
}

/// The documented escaping, written as other languages would: byte by byte.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let code = c as u32;
        if code < 0x20 || code == 0x7F || c == '%' || c == ':' || c == '~' {
            out.push_str(&format!("%{code:02X}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks that `key` is the binary form of `value` in `namespace` by decoding
/// it back.
fn assert_binary<K>(namespace: &str, value: &K, key: &str)
where
    K: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let encoded = key
        .strip_prefix(namespace)
        .and_then(|rest| rest.strip_prefix(":~"))
        .unwrap_or_else(|| panic!("{key} is not binary in {namespace}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .unwrap();
    let (decoded, read): (K, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!((&decoded, read), (value, bytes.len()));
}

/// Asserts that distinct keys got distinct Redis keys.
fn assert_injective<K: std::fmt::Debug>(
    keys: &[K],
    rendered: &[String],
    same: impl Fn(&K, &K) -> bool,
) {
    let mut seen: HashMap<&str, &K> = HashMap::new();
    for (key, redis) in keys.iter().zip(rendered) {
        if let Some(other) = seen.insert(redis, key) {
            assert!(same(key, other), "{key:?} and {other:?} share {redis}");
        }
    }
}

fn namespace() -> impl Strategy<Value = String> {
    "[a-c:*?\\[\\]\\\\^-]{0,6}"
}

/// Strings rich in the characters the escaping is about.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a:%~\\x00-\\x1f\\x7f é*]{0,8}", any::<String>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn readable_keys_follow_the_documented_format(
        ns in namespace(),
        n in any::<u64>(),
        i in any::<i64>(),
        s in text(),
        pair in (text(), any::<u32>()),
        triple in (any::<u64>(), any::<bool>(), text()),
    ) {
        prop_assert_eq!(redis_key(&ns, &n).unwrap(), format!("{ns}:{n}"));
        prop_assert_eq!(redis_key(&ns, &i).unwrap(), format!("{ns}:{i}"));
        prop_assert_eq!(redis_key(&ns, &s).unwrap(), format!("{ns}:{}", escape(&s)));
        prop_assert_eq!(redis_key(&ns, s.as_str()).unwrap(), format!("{ns}:{}", escape(&s)));
        prop_assert_eq!(
            redis_key(&ns, &pair).unwrap(),
            format!("{ns}:{}:{}", escape(&pair.0), pair.1)
        );
        prop_assert_eq!(
            redis_key(&ns, &triple).unwrap(),
            format!("{ns}:{}:{}:{}", triple.0, triple.1, escape(&triple.2))
        );
    }

    #[test]
    fn other_keys_take_the_binary_form(
        ns in namespace(),
        option in any::<Option<u64>>(),
        bytes in prop::collection::vec(any::<u8>(), 0..16),
        query in (text(), any::<u32>()).prop_map(|(text, page)| Query { text, page }),
        lookup in prop_oneof![
            any::<u64>().prop_map(Lookup::ById),
            text().prop_map(Lookup::ByName),
            Just(Lookup::All),
        ],
        float in any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()),
    ) {
        assert_binary(&ns, &option, &redis_key(&ns, &option).unwrap());
        assert_binary(&ns, &bytes, &redis_key(&ns, &bytes).unwrap());
        assert_binary(&ns, &query, &redis_key(&ns, &query).unwrap());
        assert_binary(&ns, &lookup, &redis_key(&ns, &lookup).unwrap());
        assert_binary(&ns, &float, &redis_key(&ns, &float).unwrap());
    }

    #[test]
    fn distinct_keys_have_distinct_redis_keys(
        ns in namespace(),
        ints in prop::collection::vec(any::<u64>(), 0..32),
        signed in prop::collection::vec(any::<i64>(), 0..32),
        strings in prop::collection::vec(text(), 0..32),
        pairs in prop::collection::vec(("[a:%]{0,3}", 0..4u32), 0..32),
        triples in prop::collection::vec((0..3u64, any::<bool>(), "[a:%~]{0,3}"), 0..32),
        options in prop::collection::vec(any::<Option<u64>>(), 0..32),
        byte_strings in prop::collection::vec(prop::collection::vec(0..3u8, 0..4), 0..32),
        queries in prop::collection::vec(("[a:]{0,2}", 0..3u32), 0..32),
        lookups in prop::collection::vec((0..3u64, "[a:]{0,2}", 0..3u8), 0..32),
        floats in prop::collection::vec(any::<f64>(), 0..32),
    ) {
        fn render<K: Serialize>(ns: &str, keys: &[K]) -> Vec<String> {
            keys.iter().map(|k| redis_key(ns, k).unwrap()).collect()
        }
        assert_injective(&ints, &render(&ns, &ints), |a, b| a == b);
        assert_injective(&signed, &render(&ns, &signed), |a, b| a == b);
        assert_injective(&strings, &render(&ns, &strings), |a, b| a == b);
        assert_injective(&pairs, &render(&ns, &pairs), |a, b| a == b);
        assert_injective(&triples, &render(&ns, &triples), |a, b| a == b);
        assert_injective(&options, &render(&ns, &options), |a, b| a == b);
        assert_injective(&byte_strings, &render(&ns, &byte_strings), |a, b| a == b);
        let queries: Vec<Query> =
            queries.into_iter().map(|(text, page)| Query { text, page }).collect();
        assert_injective(&queries, &render(&ns, &queries), |a, b| a == b);
        let lookups: Vec<Lookup> = lookups
            .into_iter()
            .map(|(id, name, which)| match which {
                0 => Lookup::ById(id),
                1 => Lookup::ByName(name),
                _ => Lookup::All,
            })
            .collect();
        assert_injective(&lookups, &render(&ns, &lookups), |a, b| a == b);
        // Floats are told apart by their bits (0.0 and -0.0 get two keys).
        assert_injective(&floats, &render(&ns, &floats), |a, b| a.to_bits() == b.to_bits());
    }
}

// ---------------------------------------------------------------------------
// SCAN patterns

/// Redis glob matching (`stringmatchlen`): `*`, `?`, `[...]` with `^`,
/// ranges and `\` escapes, and `\` escaping the next character.
fn glob(pattern: &[u8], string: &[u8]) -> bool {
    match pattern.split_first() {
        None => string.is_empty(),
        Some((b'*', rest)) => (0..=string.len()).any(|skip| glob(rest, &string[skip..])),
        Some((b'?', rest)) => !string.is_empty() && glob(rest, &string[1..]),
        Some((b'[', rest)) => {
            let Some((&c, tail)) = string.split_first() else {
                return false;
            };
            let (negate, mut class) = match rest.split_first() {
                Some((b'^', class)) => (true, class),
                _ => (false, rest),
            };
            let mut matched = false;
            loop {
                match class {
                    [b'\\', escaped, after @ ..] => {
                        matched |= *escaped == c;
                        class = after;
                    }
                    [b']', after @ ..] => {
                        class = after;
                        break;
                    }
                    [] => break,
                    [start, b'-', end, after @ ..] => {
                        let (low, high) = ((*start).min(*end), (*start).max(*end));
                        matched |= (low..=high).contains(&c);
                        class = after;
                    }
                    [literal, after @ ..] => {
                        matched |= *literal == c;
                        class = after;
                    }
                }
            }
            matched != negate && glob(class, tail)
        }
        Some((b'\\', [escaped, rest @ ..])) => {
            string.first() == Some(escaped) && glob(rest, &string[1..])
        }
        Some((literal, rest)) => string.first() == Some(literal) && glob(rest, &string[1..]),
    }
}

#[test]
fn the_test_glob_treats_unescaped_glob_characters_as_redis_does() {
    assert!(glob(b"a*:*", b"abc:1"));
    assert!(glob(b"[ab]:*", b"a:1"));
    assert!(glob(b"[^a]:*", b"b:1"));
    assert!(!glob(b"[^a]:*", b"a:1"));
    assert!(glob(b"?:*", b"x:1"));
    assert!(glob(b"[a-c]x", b"bx"));
    assert!(!glob(b"a\\*:*", b"abc:1"));
    assert!(glob(b"a\\*:*", b"a*:1"));
    assert!(glob(b"a\\\\:*", b"a\\:1"));
    assert!(!glob(b"shop:*", b"shopx:1"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_scan_pattern_matches_exactly_the_keys_of_its_namespace(
        ns in namespace(),
        other in namespace(),
        id in any::<u64>(),
        name in text(),
        option in any::<Option<u64>>(),
        junk in "[a-c:*?\\[\\]\\\\^-]{0,8}",
    ) {
        let pattern = scan_pattern(&ns);
        for key in [
            redis_key(&ns, &id).unwrap(),
            redis_key(&ns, &name).unwrap(),
            redis_key(&ns, &(name.as_str(), id)).unwrap(),
            redis_key(&ns, &option).unwrap(),
        ] {
            prop_assert!(glob(pattern.as_bytes(), key.as_bytes()), "{} misses {}", pattern, key);
        }
        // Any other key matches if and only if it starts with `{ns}:`; with
        // glob characters left unescaped, namespaces like `a*` or `[ab]`
        // would also match `ab:...` or `a:...`.
        for key in [
            redis_key(&other, &id).unwrap(),
            redis_key(&other, &name).unwrap(),
            redis_key(&other, &option).unwrap(),
            junk.clone(),
            format!("{other}:{junk}"),
        ] {
            prop_assert_eq!(
                glob(pattern.as_bytes(), key.as_bytes()),
                key.starts_with(&format!("{ns}:")),
                "{} against {}", pattern, key
            );
        }
    }
}

#[test]
fn scan_patterns_of_glob_namespaces_leave_lookalikes_alone() {
    let cases = [
        ("a*", "ab"),
        ("[ab]", "a"),
        ("?", "x"),
        ("a\\", "a"),
        ("[^a]", "b"),
    ];
    for (ns, lookalike) in cases {
        let key = redis_key(lookalike, &1u64).unwrap();
        assert_eq!(
            glob(scan_pattern(ns).as_bytes(), key.as_bytes()),
            ns == lookalike,
            "{ns} against {key}"
        );
        assert!(glob(
            scan_pattern(ns).as_bytes(),
            redis_key(ns, &1u64).unwrap().as_bytes()
        ));
    }
}
