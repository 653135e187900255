//! The envelope: what is stored under a Redis key.
//!
//! The layout is documented on [`seal`].
//!
//! The logical expiry is the writer's idea of freshness; the Redis TTL may run
//! past it so that a stale value can still be served (`refresh_ahead`,
//! `stale_if_error`). Anything [`open`] cannot vouch for (too large, truncated,
//! another format, codec or fingerprint, a payload that does not decode) is
//! [`Rejected`]: the store treats it as a miss and overwrites it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{Codec, CodecError};

/// The first byte of every envelope of this layout. 0xF5 never starts UTF-8
/// text, so a value another client wrote as text is foreign; a future layout
/// takes the next byte.
pub const FORMAT: u8 = 0xF5;

/// Length of the header in front of the payload: format byte, codec ID,
/// fingerprint and expiry.
pub const HEADER_LEN: usize = 18;

/// The default bound on a stored value, envelope included: longer values are
/// rejected before they are decoded.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 << 20;

/// The stored expiry that means never.
const NEVER: u64 = u64::MAX;

/// Seed of the fingerprint hash. Changing it orphans every stored entry.
const FINGERPRINT_SEED: u64 = u64::from_le_bytes(*b"memocach");

/// The fingerprint of entries holding a `V` written by the codec `codec_id`
/// under `version`: xxh3-64, seeded with a fixed seed, of
/// `std::any::type_name::<V>()`, the codec ID and `version` (little endian).
///
/// A changed value type or a bumped `version` changes it, so older entries
/// become foreign. `type_name` is not guaranteed to stay the same across
/// compiler versions; when it changes, entries are orphaned, which costs
/// misses and nothing else. Two types with the same path (one crate at two
/// versions) share a fingerprint: bump `version` when a value type changes
/// shape without changing name.
pub fn fingerprint<V: ?Sized>(codec_id: u8, version: u64) -> u64 {
    let name = std::any::type_name::<V>().as_bytes();
    // The name is the only variable-length part and it comes first, so the
    // concatenation is unambiguous.
    let mut input = Vec::with_capacity(name.len() + 9);
    input.extend_from_slice(name);
    input.push(codec_id);
    input.extend_from_slice(&version.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64_with_seed(&input, FINGERPRINT_SEED)
}

/// Encodes `value` with the codec `C` into an envelope carrying `fingerprint`
/// (see [`fingerprint`]) and the logical expiry `expires_at` (`None`: never).
///
/// The expiry is stored in whole milliseconds, rounded down; a time before
/// the Unix epoch is stored as the epoch.
///
/// # Layout
///
/// ```text
/// byte 0       format byte, FORMAT (0xF5 for this layout)
/// byte 1       codec ID (Codec::ID: 1 bincode, 2 json)
/// bytes 2..10  fingerprint of the value type, codec and version, u64 little endian
/// bytes 10..18 logical expiry, u64 little endian, Unix epoch milliseconds,
///              u64::MAX for never
/// bytes 18..   payload, the value as the codec encodes it
/// ```
pub fn seal<C: Codec, V: Serialize + ?Sized>(
    value: &V,
    fingerprint: u64,
    expires_at: Option<SystemTime>,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(HEADER_LEN + 32);
    out.push(FORMAT);
    out.push(C::ID);
    out.extend_from_slice(&fingerprint.to_le_bytes());
    out.extend_from_slice(&expiry_millis(expires_at).to_le_bytes());
    C::encode(value, &mut out)?;
    Ok(out)
}

/// A value taken out of an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened<V> {
    /// The decoded value.
    pub value: V,
    /// The logical expiry the writer gave it, to the millisecond; `None` for
    /// never.
    pub expires_at: Option<SystemTime>,
}

/// Why [`open`] refused bytes. Every case is a miss for the store, which then
/// overwrites the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Longer than the size limit; nothing was decoded.
    TooLarge {
        /// Length of the bytes.
        len: usize,
        /// The limit they exceed.
        max_len: usize,
    },
    /// Shorter than the header, or the payload ended in the middle of the value.
    Truncated,
    /// Not an envelope of this layout, or written by another codec.
    ForeignFormat,
    /// Written for another value type or `version`.
    ForeignFingerprint,
    /// The payload does not decode as the value type.
    Undecodable(CodecError),
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max_len } => {
                write!(
                    f,
                    "value of {len} bytes exceeds the limit of {max_len} bytes"
                )
            }
            Self::Truncated => f.write_str("value is truncated"),
            Self::ForeignFormat => f.write_str("value is not an envelope of this format and codec"),
            Self::ForeignFingerprint => {
                f.write_str("value was written for another type or version")
            }
            Self::Undecodable(error) => write!(f, "value does not decode: {error}"),
        }
    }
}

impl std::error::Error for Rejected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Undecodable(error) => Some(error),
            _ => None,
        }
    }
}

/// Takes the value out of an envelope that [`seal`] wrote with the codec `C`
/// and the same `fingerprint`.
///
/// Bytes longer than `max_len` are rejected before anything is decoded, and
/// `max_len` is the decoding limit of the payload. Never panics, whatever
/// `bytes` hold.
pub fn open<C: Codec, V: DeserializeOwned>(
    bytes: &[u8],
    fingerprint: u64,
    max_len: usize,
) -> Result<Opened<V>, Rejected> {
    if bytes.len() > max_len {
        return Err(Rejected::TooLarge {
            len: bytes.len(),
            max_len,
        });
    }
    // The identifying bytes are checked before the length, so that a short
    // value of another format is called foreign rather than truncated.
    match bytes {
        [format, ..] if *format != FORMAT => return Err(Rejected::ForeignFormat),
        [_, codec, ..] if *codec != C::ID => return Err(Rejected::ForeignFormat),
        _ => {}
    }
    let (stored_fingerprint, rest) = bytes
        .get(2..)
        .and_then(split_u64)
        .ok_or(Rejected::Truncated)?;
    if stored_fingerprint != fingerprint {
        return Err(Rejected::ForeignFingerprint);
    }
    let (expiry, payload) = split_u64(rest).ok_or(Rejected::Truncated)?;
    let value = C::decode(payload, max_len).map_err(|error| {
        if error.is_truncated() {
            Rejected::Truncated
        } else {
            Rejected::Undecodable(error)
        }
    })?;
    Ok(Opened {
        value,
        expires_at: expiry_time(expiry),
    })
}

/// The little-endian `u64` at the start of `bytes`, and the bytes after it.
fn split_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*head), rest))
}

fn expiry_millis(expires_at: Option<SystemTime>) -> u64 {
    match expires_at {
        None => NEVER,
        Some(at) => match at.duration_since(UNIX_EPOCH) {
            // A real time never maps to NEVER.
            Ok(since) => u64::try_from(since.as_millis()).map_or(NEVER - 1, |ms| ms.min(NEVER - 1)),
            Err(_) => 0,
        },
    }
}

fn expiry_time(millis: u64) -> Option<SystemTime> {
    if millis == NEVER {
        return None;
    }
    // A time the platform cannot represent is far enough to count as never.
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::codec::Bincode;

    const FP: u64 = 0x0123_4567_89AB_CDEF;

    #[test]
    fn the_header_is_format_codec_fingerprint_expiry() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let bytes = seal::<Bincode, _>(&300u16, FP, Some(at)).unwrap();
        let mut expected = vec![FORMAT, 1];
        expected.extend_from_slice(&FP.to_le_bytes());
        expected.extend_from_slice(&1_700_000_000_123u64.to_le_bytes());
        expected.extend_from_slice(&[251, 0x2C, 0x01]);
        assert_eq!(bytes, expected);
        assert_eq!(HEADER_LEN, 18);
    }

    #[test]
    fn expiry_is_stored_in_whole_milliseconds() {
        let cases = [
            (None, u64::MAX),
            (Some(UNIX_EPOCH), 0),
            (Some(UNIX_EPOCH + Duration::from_micros(2_999)), 2),
            (Some(UNIX_EPOCH - Duration::from_secs(1)), 0),
            (
                Some(UNIX_EPOCH + Duration::from_secs(u64::MAX / 1000 + 1)),
                u64::MAX - 1,
            ),
        ];
        for (at, millis) in cases {
            assert_eq!(expiry_millis(at), millis, "{at:?}");
        }
        assert_eq!(expiry_time(u64::MAX), None);
        assert_eq!(expiry_time(2), Some(UNIX_EPOCH + Duration::from_millis(2)));
    }

    #[test]
    fn open_gives_back_value_and_expiry() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        for expires_at in [None, Some(at)] {
            let bytes = seal::<Bincode, _>("hello", FP, expires_at).unwrap();
            let opened = open::<Bincode, String>(&bytes, FP, 1024).unwrap();
            assert_eq!(
                opened,
                Opened {
                    value: "hello".to_string(),
                    expires_at
                }
            );
        }
    }

    #[test]
    fn short_input_is_foreign_when_its_first_bytes_say_so_else_truncated() {
        let cases: [(&[u8], Rejected); 6] = [
            (&[], Rejected::Truncated),
            (&[FORMAT], Rejected::Truncated),
            (&[FORMAT, 1, 0, 0], Rejected::Truncated),
            (b"{", Rejected::ForeignFormat),
            (&[FORMAT, 2], Rejected::ForeignFormat),
            (&[FORMAT, 2, 0, 0], Rejected::ForeignFormat),
        ];
        for (bytes, rejected) in cases {
            assert_eq!(
                open::<Bincode, u8>(bytes, FP, 1024),
                Err(rejected),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn length_is_checked_before_anything_else() {
        let bytes = [0xAB; 40];
        assert_eq!(
            open::<Bincode, u8>(&bytes, FP, 39),
            Err(Rejected::TooLarge {
                len: 40,
                max_len: 39
            })
        );
        assert_eq!(
            open::<Bincode, u8>(&bytes, FP, 40),
            Err(Rejected::ForeignFormat)
        );
    }

    #[test]
    fn fingerprints_are_stable_and_tell_types_codecs_and_versions_apart() {
        // Stored entries outlive the process: the hash must not change between
        // builds.
        assert_eq!(fingerprint::<u64>(1, 0), 0xD2B1_3E3E_FEC3_1DEC);
        let all = [
            fingerprint::<u64>(1, 0),
            fingerprint::<u64>(2, 0),
            fingerprint::<u64>(1, 1),
            fingerprint::<i64>(1, 0),
            fingerprint::<String>(1, 0),
            fingerprint::<Vec<u64>>(1, 0),
            fingerprint::<str>(1, 0),
        ];
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "{all:x?}");
    }
}
