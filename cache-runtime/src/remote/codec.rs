//! Value codecs: how a value becomes the payload of an envelope and back.
//!
//! [`Codec`] is the trait a value format implements; [`Bincode`] (the default,
//! bincode 2 with its standard configuration) and, with the `json` feature,
//! [`Json`] are the built-in ones. bincode sits behind this trait because its
//! 2.x line is the last one (3.0 is an empty release): swapping it out must not
//! change anything but the codec.
//!
//! Decoding reads bytes that anything with access to Redis may have written, so
//! a codec must bound what it allocates whatever the bytes claim (a length
//! prefix saying 2^60 elements, say) and must never panic.

mod guard;

use std::cell::Cell;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value format for the Redis tier.
///
/// A codec is a type with no data; the store names it as a type parameter.
/// [`Bincode`] is the default, [`Json`] (feature `json`) carries the types that
/// bincode cannot (those whose `Deserialize` needs a self-describing format:
/// `#[serde(flatten)]`, untagged or internally tagged enums, `serde_json::Value`).
pub trait Codec: Send + Sync + 'static {
    /// Format byte written in the envelope; distinct per codec (built-ins: 1
    /// bincode, 2 json; user codecs should use >= 128). An entry written by
    /// another codec is foreign and is never handed to this one.
    const ID: u8;

    /// Appends the encoding of `value` to `out`. On error `out` may hold part
    /// of an encoding; the caller discards it.
    fn encode<V: Serialize + ?Sized>(value: &V, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Decodes one value that takes up the whole of `bytes` (trailing bytes are
    /// an error).
    ///
    /// Must never panic and never allocate much more than `limit` bytes
    /// whatever `bytes` hold; `bytes` longer than `limit` are an error.
    fn decode<V: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<V, CodecError>;
}

/// Why a value could not be encoded or decoded.
///
/// Carries a message for logs and whether the bytes ended before the value
/// did, which the envelope reports as truncation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError {
    message: String,
    truncated: bool,
}

impl CodecError {
    /// An error with this message.
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            truncated: false,
        }
    }

    /// The error of a decoder whose input ended in the middle of a value.
    pub fn truncated(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            truncated: true,
        }
    }

    /// Whether the input ended in the middle of a value.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    fn too_long(len: usize, limit: usize) -> Self {
        Self::new(format_args!(
            "{len} bytes exceed the decoding limit of {limit} bytes"
        ))
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodecError {}

/// bincode 2 through its serde API, with `bincode::config::standard()`
/// (little endian, variable-length integers). Compact and fast; needs a
/// `Deserialize` that does not ask the format what comes next
/// (`deserialize_any`), which rules out `#[serde(flatten)]` and untagged or
/// internally tagged enums: use [`Json`] for those.
///
/// # Bounded decoding
///
/// bincode counts what a decode claims (the in-memory size of every number,
/// and the length of every string and byte buffer *before* allocating it) and
/// fails once the count passes a limit, but that limit is a const generic. The
/// runtime `limit` is therefore rounded up to the next power of four, from
/// 4 KiB to [`Bincode::MAX_LIMIT`] (limits past it are clamped to it), so a
/// string that claims more than that fails before any allocation and the
/// claims of a whole value stay below four times `limit`. The input itself may
/// not be longer than `limit`.
///
/// bincode trusts the length prefix of a sequence or map, so the decode runs
/// under a guard that cuts the size hint serde preallocates from to the input
/// bytes left, allows no more than `limit` sequence, map and struct elements
/// in all (an element takes a byte or more, unless it is zero-sized), and
/// allows nesting [`Bincode::MAX_DEPTH`] levels deep (a recursive type could
/// otherwise overflow the stack).
///
/// What a decode allocates thus stays within a small multiple of `limit`; the
/// multiple is how much larger a value is in memory than encoded, a property
/// of the type (about 3 for a `Vec<String>` of empty strings).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bincode;

impl Bincode {
    /// The largest decoding limit: a larger `limit` is clamped to this. Redis
    /// caps a string value at 512 MiB, and a bincode value decodes to at most
    /// a few times its encoded size.
    pub const MAX_LIMIT: usize = 1 << 30;

    /// How deep sequences, maps, structs, enums, options and newtype structs
    /// may nest in a decoded value.
    pub const MAX_DEPTH: u32 = guard::MAX_DEPTH;
}

fn bincode_error(error: bincode::error::DecodeError, ceiling: usize) -> CodecError {
    use bincode::error::DecodeError;
    match error {
        DecodeError::UnexpectedEnd { .. } => CodecError::truncated("bincode: input ends early"),
        DecodeError::LimitExceeded => CodecError::new(format_args!(
            "bincode: the value claims more than the decoding limit of {ceiling} bytes"
        )),
        other => CodecError::new(format_args!("bincode: {other}")),
    }
}

/// The claim limit bincode decodes under for the runtime `limit`: the smallest
/// power of four that is at least `limit`, within 4 KiB and
/// [`Bincode::MAX_LIMIT`].
fn bincode_ceiling(limit: usize) -> usize {
    let ceiling = limit.clamp(1 << 12, Bincode::MAX_LIMIT).next_power_of_two();
    if ceiling.trailing_zeros() % 2 == 1 {
        ceiling << 1
    } else {
        ceiling
    }
}

/// Decodes the whole of `bytes` with bincode's claim limit set to `N`, under
/// a [`guard`] that allows `limit` elements.
fn bincode_within<V: DeserializeOwned, const N: usize>(
    bytes: &[u8],
    limit: usize,
) -> Result<V, bincode::error::DecodeError> {
    let input_left = Cell::new(bytes.len());
    let reader = guard::CountingReader::new(bytes, &input_left);
    let config = bincode::config::standard().with_limit::<N>();
    let mut decoder = bincode::serde::OwnedSerdeDecoder::from_reader(reader, config);
    let budget = guard::Budget::new(&input_left, limit);
    let value = V::deserialize(guard::Guarded {
        inner: decoder.as_deserializer(),
        budget: &budget,
    })?;
    match input_left.get() {
        0 => Ok(value),
        trailing => Err(bincode::error::DecodeError::OtherString(format!(
            "{trailing} trailing bytes after the value"
        ))),
    }
}

impl Codec for Bincode {
    const ID: u8 = 1;

    fn encode<V: Serialize + ?Sized>(value: &V, out: &mut Vec<u8>) -> Result<(), CodecError> {
        bincode::serde::encode_into_std_write(value, out, bincode::config::standard())
            .map(drop)
            .map_err(|error| CodecError::new(format_args!("bincode: {error}")))
    }

    fn decode<V: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<V, CodecError> {
        if bytes.len() > limit {
            return Err(CodecError::too_long(bytes.len(), limit));
        }
        // One instance of the decoder per ceiling.
        let ceiling = bincode_ceiling(limit);
        let decoded = match ceiling.trailing_zeros() {
            12 => bincode_within::<V, { 1 << 12 }>(bytes, limit),
            14 => bincode_within::<V, { 1 << 14 }>(bytes, limit),
            16 => bincode_within::<V, { 1 << 16 }>(bytes, limit),
            18 => bincode_within::<V, { 1 << 18 }>(bytes, limit),
            20 => bincode_within::<V, { 1 << 20 }>(bytes, limit),
            22 => bincode_within::<V, { 1 << 22 }>(bytes, limit),
            24 => bincode_within::<V, { 1 << 24 }>(bytes, limit),
            26 => bincode_within::<V, { 1 << 26 }>(bytes, limit),
            28 => bincode_within::<V, { 1 << 28 }>(bytes, limit),
            _ => bincode_within::<V, { Bincode::MAX_LIMIT }>(bytes, limit),
        };
        decoded.map_err(|error| bincode_error(error, ceiling))
    }
}

/// JSON through `serde_json`: larger and slower than [`Bincode`], but
/// self-describing, so it carries every serde type (`#[serde(flatten)]`,
/// untagged enums, `serde_json::Value`) and other languages can read it.
///
/// JSON has no length prefixes, so nothing is allocated on a claim: a decode
/// allocates in proportion to the input, which may not be longer than
/// `limit`; serde_json also stops at 128 levels of nesting.
#[cfg(feature = "json")]
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

#[cfg(feature = "json")]
impl Codec for Json {
    const ID: u8 = 2;

    fn encode<V: Serialize + ?Sized>(value: &V, out: &mut Vec<u8>) -> Result<(), CodecError> {
        serde_json::to_writer(out, value)
            .map_err(|error| CodecError::new(format_args!("json: {error}")))
    }

    fn decode<V: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<V, CodecError> {
        if bytes.len() > limit {
            return Err(CodecError::too_long(bytes.len(), limit));
        }
        serde_json::from_slice(bytes).map_err(|error| {
            if error.is_eof() {
                CodecError::truncated(format_args!("json: {error}"))
            } else {
                CodecError::new(format_args!("json: {error}"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bincode's standard encoding of a length or a `u64`: one byte below 251,
    /// else a marker byte and the little-endian integer.
    fn varint(n: u64) -> Vec<u8> {
        match n {
            0..=250 => vec![n as u8],
            251..=0xFFFF => [&[251][..], &(n as u16).to_le_bytes()].concat(),
            0x1_0000..=0xFFFF_FFFF => [&[252][..], &(n as u32).to_le_bytes()].concat(),
            _ => [&[253][..], &n.to_le_bytes()].concat(),
        }
    }

    fn encoded<C: Codec, V: Serialize>(value: &V) -> Vec<u8> {
        let mut out = Vec::new();
        C::encode(value, &mut out).unwrap();
        out
    }

    #[test]
    fn bincode_round_trips_with_the_standard_configuration() {
        let value = (42u64, String::from("naïve"), vec![-1i32, 7], Some(1.5f64));
        let bytes = encoded::<Bincode, _>(&value);
        assert_eq!(
            bytes,
            bincode::serde::encode_to_vec(&value, bincode::config::standard()).unwrap()
        );
        assert_eq!(
            Bincode::decode::<(u64, String, Vec<i32>, Option<f64>)>(&bytes, 1024),
            Ok(value)
        );
    }

    #[test]
    fn encode_appends_to_what_out_holds() {
        let mut out = vec![9, 9];
        Bincode::encode(&300u16, &mut out).unwrap();
        assert_eq!(out, [9, 9, 251, 0x2C, 0x01]);
    }

    #[test]
    fn the_bincode_ceiling_is_the_next_power_of_four_within_bounds() {
        let cases = [
            (0, 1 << 12),
            (4096, 1 << 12),
            (4097, 1 << 14),
            (16 << 20, 16 << 20),
            ((16 << 20) + 1, 64 << 20),
            (usize::MAX, Bincode::MAX_LIMIT),
        ];
        for (limit, ceiling) in cases {
            assert_eq!(bincode_ceiling(limit), ceiling, "limit {limit}");
        }
    }

    #[test]
    fn input_longer_than_the_limit_is_refused() {
        let bytes = encoded::<Bincode, _>(&"x".repeat(100));
        assert!(Bincode::decode::<String>(&bytes, bytes.len()).is_ok());
        let error = Bincode::decode::<String>(&bytes, bytes.len() - 1).unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
        assert!(!error.is_truncated());
    }

    #[test]
    fn bincode_counts_claims_not_input_bytes() {
        // 600 small u64s take 603 bytes but claim 8 bytes each: over a
        // 4 KiB ceiling, under a 16 KiB one.
        let bytes = encoded::<Bincode, _>(&vec![1u64; 600]);
        assert_eq!(bytes.len(), 603);
        let error = Bincode::decode::<Vec<u64>>(&bytes, 1000).unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
        assert_eq!(
            Bincode::decode::<Vec<u64>>(&bytes, 5000),
            Ok(vec![1u64; 600])
        );
    }

    #[test]
    fn a_string_claiming_more_than_the_limit_fails_before_allocating() {
        for claimed in [5000, 1 << 40, 1 << 60] {
            let mut bytes = varint(claimed);
            bytes.extend_from_slice(b"abc");
            let error = Bincode::decode::<String>(&bytes, 4096).unwrap_err();
            assert!(error.to_string().contains("limit"), "{claimed}: {error}");
        }
    }

    #[test]
    fn bincode_refuses_trailing_bytes() {
        let mut bytes = encoded::<Bincode, _>(&7u32);
        assert_eq!(Bincode::decode::<u32>(&bytes, 64), Ok(7));
        bytes.push(0);
        let error = Bincode::decode::<u32>(&bytes, 64).unwrap_err();
        assert!(error.to_string().contains("trailing"), "{error}");
    }

    #[test]
    fn bincode_reports_input_that_ends_early_as_truncated() {
        let bytes = encoded::<Bincode, _>(&String::from("hello"));
        for cut in 0..bytes.len() {
            let error = Bincode::decode::<String>(&bytes[..cut], 64).unwrap_err();
            assert!(error.is_truncated(), "cut at {cut}: {error}");
        }
        let invalid_utf8 = [2, 0xC3, 0x28];
        let error = Bincode::decode::<String>(&invalid_utf8, 64).unwrap_err();
        assert!(!error.is_truncated(), "{error}");
    }

    #[test]
    fn encoding_errors_are_reported() {
        struct Unsized;
        impl Serialize for Unsized {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                s.serialize_seq(None)?.end()
            }
        }
        let error = Bincode::encode(&Unsized, &mut Vec::new()).unwrap_err();
        assert!(error.to_string().starts_with("bincode: "), "{error}");
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_round_trips_and_reports_truncation() {
        let value = (42u64, String::from("a\"b"), vec![Some(1.5f64), None]);
        let bytes = encoded::<Json, _>(&value);
        assert_eq!(bytes, br#"[42,"a\"b",[1.5,null]]"#);
        assert_eq!(
            Json::decode::<(u64, String, Vec<Option<f64>>)>(&bytes, 64),
            Ok(value)
        );
        let error = Json::decode::<(u64, String, Vec<Option<f64>>)>(&bytes[..10], 64).unwrap_err();
        assert!(error.is_truncated(), "{error}");
        let error = Json::decode::<u64>(b"1 x", 64).unwrap_err();
        assert!(!error.is_truncated(), "{error}");
        let error = Json::decode::<u64>(b"12345", 4).unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
    }
}
