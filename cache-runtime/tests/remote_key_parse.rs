//! Redis keys parse back into the Rust keys they render, through the public
//! API: every key round trips through `redis_key` and `parse_key`, and no
//! string parses into a key whose rendering is another string, whatever it
//! holds (nor panics).
#![cfg(feature = "redis")]

use std::fmt::Debug;

use base64::Engine as _;
use memocache_runtime::{parse_key, redis_key};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct ProductId(u64);

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Page(String, u32);

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

fn namespace() -> impl Strategy<Value = String> {
    "[a-c:*~%]{0,6}"
}

/// Strings rich in the characters the escaping is about.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a:%~\\x00-\\x1f\\x7f é*0-9A-F]{0,8}", any::<String>()]
}

fn lookup() -> impl Strategy<Value = Lookup> {
    prop_oneof![
        any::<u64>().prop_map(Lookup::ById),
        text().prop_map(Lookup::ByName),
        Just(Lookup::All),
    ]
}

/// `parse_key` gives `key` back from its Redis key.
fn round_trips<K>(ns: &str, key: &K) -> Result<(), TestCaseError>
where
    K: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let rendered = redis_key(ns, key).unwrap();
    let parsed = parse_key::<K>(ns, &rendered);
    prop_assert_eq!(parsed.as_ref(), Some(key), "{}", rendered);
    Ok(())
}

/// `s` parses as a `K` in `ns` only if it is that key's rendering.
fn parses_only_from_its_rendering<K>(ns: &str, s: &str) -> Result<(), TestCaseError>
where
    K: Serialize + DeserializeOwned,
{
    if let Some(key) = parse_key::<K>(ns, s) {
        prop_assert_eq!(redis_key(ns, &key).unwrap(), s);
    }
    Ok(())
}

/// The rest of a candidate key: readable-looking, binary-looking (often the
/// base64 of bytes bincode's varint markers 251 to 253 make non-canonical) or
/// anything.
fn rendering() -> impl Strategy<Value = String> {
    let byte = prop_oneof![0..4u8, 248..=255u8, any::<u8>()];
    prop_oneof![
        "[-+0-9a:%~A-Fé\\x00\\n\\x7f]{0,16}",
        "(-?[0-9]{1,3}|true|false|%[0-9A-Fa-f]{2}|[a~]|)(:(-?[0-9]{1,3}|true|%[0-9A-F]{2}|a|)){0,3}",
        "~[A-Za-z0-9_=+/-]{0,12}",
        prop::collection::vec(byte, 0..12).prop_map(|bytes| {
            format!(
                "~{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
            )
        }),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_key_parses_back_to_itself(
        ns in namespace(),
        ints in (any::<u64>(), any::<i64>(), any::<u128>(), any::<i128>()),
        flag in any::<bool>(),
        c in any::<char>(),
        s in text(),
        pair in (text(), any::<u32>()),
        triple in (any::<u64>(), any::<bool>(), text()),
        page in (text(), any::<u32>()),
        array in any::<[u8; 4]>(),
        option in any::<Option<u64>>(),
        bytes in prop::collection::vec(any::<u8>(), 0..16),
        query in (text(), any::<u32>()),
        lookup in lookup(),
        float in any::<f64>(),
    ) {
        round_trips(&ns, &ints.0)?;
        round_trips(&ns, &ints.1)?;
        round_trips(&ns, &ints.2)?;
        round_trips(&ns, &ints.3)?;
        round_trips(&ns, &flag)?;
        round_trips(&ns, &c)?;
        round_trips(&ns, &s)?;
        round_trips(&ns, &pair)?;
        round_trips(&ns, &triple)?;
        round_trips(&ns, &ProductId(ints.0))?;
        round_trips(&ns, &Page(page.0, page.1))?;
        round_trips(&ns, &array)?;
        round_trips(&ns, &())?;
        round_trips(&ns, &((pair.1, ()), (s, [c, c])))?;
        round_trips(&ns, &option)?;
        round_trips(&ns, &bytes)?;
        round_trips(&ns, &Query { text: query.0, page: query.1 })?;
        round_trips(&ns, &lookup)?;
        // Floats by their bits: NaN is not equal to itself.
        let rendered = redis_key(&ns, &float).unwrap();
        let parsed = parse_key::<f64>(&ns, &rendered).map(f64::to_bits);
        prop_assert_eq!(parsed, Some(float.to_bits()));
    }

    #[test]
    fn no_string_parses_into_a_key_rendered_otherwise(
        ns in namespace(),
        rest in rendering(),
        stray in any::<String>(),
    ) {
        for s in [format!("{ns}:{rest}"), stray] {
            parses_only_from_its_rendering::<u64>(&ns, &s)?;
            parses_only_from_its_rendering::<i64>(&ns, &s)?;
            parses_only_from_its_rendering::<bool>(&ns, &s)?;
            parses_only_from_its_rendering::<char>(&ns, &s)?;
            parses_only_from_its_rendering::<String>(&ns, &s)?;
            parses_only_from_its_rendering::<(String, u32)>(&ns, &s)?;
            parses_only_from_its_rendering::<(u64, bool, String)>(&ns, &s)?;
            parses_only_from_its_rendering::<ProductId>(&ns, &s)?;
            parses_only_from_its_rendering::<Page>(&ns, &s)?;
            parses_only_from_its_rendering::<[u8; 4]>(&ns, &s)?;
            parses_only_from_its_rendering::<()>(&ns, &s)?;
            parses_only_from_its_rendering::<Option<u64>>(&ns, &s)?;
            parses_only_from_its_rendering::<Vec<u8>>(&ns, &s)?;
            parses_only_from_its_rendering::<Query>(&ns, &s)?;
            parses_only_from_its_rendering::<Lookup>(&ns, &s)?;
            parses_only_from_its_rendering::<f64>(&ns, &s)?;
            parses_only_from_its_rendering::<std::collections::BTreeMap<u8, u8>>(&ns, &s)?;
        }
    }
}

#[test]
fn non_canonical_binary_keys_do_not_parse() {
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    // `Some(1)` with its integer in three bytes instead of one.
    assert_eq!(
        parse_key::<Option<u64>>("n", &format!("n:~{}", base64(&[1, 251, 1, 0]))),
        None
    );
    // A map with one key twice decodes to one entry.
    let twice = format!("n:~{}", base64(&[2, 1, 1, 1, 2]));
    assert_eq!(
        parse_key::<std::collections::BTreeMap<u8, u8>>("n", &twice),
        None
    );
    // Trailing bytes.
    assert_eq!(
        parse_key::<Option<u64>>("n", &format!("n:~{}", base64(&[1, 1, 0]))),
        None
    );
}
