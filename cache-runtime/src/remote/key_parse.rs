//! Redis keys back to Rust keys: [`parse_key`], the inverse of [`redis_key`].
//!
//! The readable form is parsed by a small `Deserializer` over its
//! `:`-separated segments that accepts exactly what [`redis_key`] writes; the
//! binary form is decoded with the bounded [`Bincode`] codec. Both are then
//! checked by rendering the parsed key again (see [`parse_key`]).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::de::{self, DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};
use serde::Serialize;

use super::codec::{Bincode, Codec};
use super::key::redis_key;

/// The decoding limit of a binary key whose bincode encoding is shorter (see
/// [`Codec::decode`]); a longer one is decoded with its own length as limit.
const BINARY_LIMIT: usize = 1 << 16;

/// The key of type `K` whose Redis key in `namespace` is `key`: the inverse of
/// [`redis_key`].
///
/// `None` when `key` is not `{namespace}:` followed by a rendering that parses
/// as a `K`. Parsing a rendering back gives the key it was rendered from, and a
/// string that parses at all is the rendering of what it parses to:
/// `parse_key(ns, s)` is `Some(k)` only when `redis_key(ns, &k)` is `s`. The
/// parsed key is rendered again to check the second part, since some strings
/// decode to a key without being its rendering: a bincode integer written in
/// more bytes than needed, a map with a repeated key, a type whose
/// `Deserialize` normalizes its input. Never panics, whatever `key` holds
/// (unless `K`'s own `Serialize` or `Deserialize` does).
///
/// A readable key whose `Deserialize` needs a self-describing format
/// (`deserialize_any`: untagged enums, `#[serde(flatten)]`) does not parse.
pub fn parse_key<K: Serialize + DeserializeOwned>(namespace: &str, key: &str) -> Option<K> {
    let rendering = key.strip_prefix(namespace)?.strip_prefix(':')?;
    let parsed: K = match rendering.strip_prefix('~') {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .ok()?;
            Bincode::decode(&bytes, bytes.len().max(BINARY_LIMIT)).ok()?
        }
        None => parse_readable(rendering)?,
    };
    (redis_key(namespace, &parsed).ok()? == key).then_some(parsed)
}

/// Parses a readable rendering (without its namespace), every segment used.
fn parse_readable<K: DeserializeOwned>(rendering: &str) -> Option<K> {
    let mut segments = Segments {
        rest: Some(rendering),
    };
    let parsed = K::deserialize(&mut segments).ok()?;
    segments.rest.is_none().then_some(parsed)
}

/// Whether the readable form escapes `c`.
fn escaped(c: char) -> bool {
    matches!(c, '%' | ':' | '~' | '\u{0}'..='\u{1f}' | '\u{7f}')
}

/// The value of an uppercase hex digit.
fn hex(c: char) -> Option<u32> {
    match c {
        '0'..='9' | 'A'..='F' => c.to_digit(16),
        _ => None,
    }
}

/// The string whose escaped form is `segment`, if `segment` is one: every
/// escaped character as `%XX` in uppercase hex, no other `%XX`.
fn unescape(segment: &str) -> Result<String, Mismatch> {
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let high = chars.next().and_then(hex).ok_or(Mismatch)?;
            let low = chars.next().and_then(hex).ok_or(Mismatch)?;
            let c = char::from_u32(high << 4 | low).ok_or(Mismatch)?;
            if !escaped(c) {
                return Err(Mismatch);
            }
            out.push(c);
        } else if escaped(c) {
            return Err(Mismatch);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// The segments of a readable rendering not yet parsed; `None` once the last
/// one is taken (a rendering has at least one segment, maybe empty).
struct Segments<'a> {
    rest: Option<&'a str>,
}

impl<'a> Segments<'a> {
    fn next(&mut self) -> Result<&'a str, Mismatch> {
        let rest = self.rest.take().ok_or(Mismatch)?;
        match rest.split_once(':') {
            Some((segment, after)) => {
                self.rest = Some(after);
                Ok(segment)
            }
            None => Ok(rest),
        }
    }

    /// An integer in its canonical decimal form (no `+`, no leading zero, no
    /// `-0`).
    fn integer<T: FromStr + fmt::Display>(&mut self) -> Result<T, Mismatch> {
        let segment = self.next()?;
        let n: T = segment.parse().map_err(|_| Mismatch)?;
        if n.to_string() == segment {
            Ok(n)
        } else {
            Err(Mismatch)
        }
    }

    /// `len` elements; an empty tuple, like unit, is one empty segment.
    fn tuple<'de, V: Visitor<'de>>(
        &mut self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        if len == 0 && !self.next()?.is_empty() {
            return Err(Mismatch);
        }
        let mut elements = Elements {
            segments: self,
            left: len,
        };
        let value = visitor.visit_seq(&mut elements)?;
        if elements.left == 0 {
            Ok(value)
        } else {
            Err(Mismatch)
        }
    }
}

/// What the readable parser says when a rendering is not one of the type.
#[derive(Debug)]
struct Mismatch;

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not the readable rendering of a key of this type")
    }
}

impl std::error::Error for Mismatch {}

impl de::Error for Mismatch {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Mismatch
    }
}

/// The elements of a tuple, each taking its own segments.
struct Elements<'s, 'a> {
    segments: &'s mut Segments<'a>,
    left: usize,
}

impl<'de> SeqAccess<'de> for Elements<'_, '_> {
    type Error = Mismatch;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Mismatch> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.segments).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

macro_rules! integers {
    ($($method:ident => $visit:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
            visitor.$visit(self.integer()?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Segments<'_> {
    type Error = Mismatch;

    /// The shape of a readable rendering is not self-describing.
    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Mismatch> {
        Err(Mismatch)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match self.next()? {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(Mismatch),
        }
    }

    integers! {
        deserialize_i8 => visit_i8,
        deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64,
        deserialize_i128 => visit_i128,
        deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32,
        deserialize_u64 => visit_u64,
        deserialize_u128 => visit_u128,
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        let text = unescape(self.next()?)?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(Mismatch),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        visitor.visit_string(unescape(self.next()?)?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        visitor.visit_string(unescape(self.next()?)?)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        if self.next()?.is_empty() {
            visitor.visit_unit()
        } else {
            Err(Mismatch)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        self.tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        self.tuple(len, visitor)
    }

    fn is_human_readable(&self) -> bool {
        true
    }

    // Shapes that [`redis_key`] renders in binary.
    serde::forward_to_deserialize_any! {
        f32 f64 bytes byte_buf option unit_struct seq map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct ProductId(u64);

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Page(String, u32);

    #[test]
    fn readable_keys_parse_back() {
        assert_eq!(parse_key("shop:product", "shop:product:42"), Some(42u64));
        assert_eq!(
            parse_key("shop", "shop:page:3:20"),
            Some((String::from("page"), 3u32, 20u32))
        );
        assert_eq!(parse_key("n", "n:a%3Ab"), Some(String::from("a:b")));
        assert_eq!(
            parse_key("n", "n:%00%09%0A%1F%7F%25%7E"),
            Some(String::from("\0\t\n\x1f\x7f%~"))
        );
        assert_eq!(parse_key("n", "n:naïve é€"), Some(String::from("naïve é€")));
        assert_eq!(parse_key("n", "n:-7"), Some(-7i8));
        assert_eq!(parse_key("n", "n:true:false"), Some((true, false)));
        assert_eq!(parse_key("n", "n:%3A"), Some(':'));
        assert_eq!(parse_key("n", "n:"), Some(()));
        assert_eq!(parse_key("n", "n:42"), Some(ProductId(42)));
        assert_eq!(parse_key("n", "n:a:3"), Some(Page("a".into(), 3)));
        assert_eq!(parse_key("n", "n:5:6"), Some([5u16, 6]));
        assert_eq!(parse_key("n", "n:"), Some([0u8; 0]));
        assert_eq!(parse_key("n", "n:1::2"), Some((1u8, [0u8; 0], 2u8)));
        assert_eq!(
            parse_key("n", "n:1:a::2"),
            Some(((1u8, String::from("a")), ((), 2u8)))
        );
        assert_eq!(
            parse_key("n", "n:127.0.0.1"),
            Some(std::net::Ipv4Addr::LOCALHOST)
        );
    }

    #[test]
    fn binary_keys_parse_back() {
        assert_eq!(parse_key("n", "n:~AQE"), Some(Some(1u64)));
        assert_eq!(parse_key("n", "n:~AA"), Some(None::<u64>));
        let key = redis_key("n", &vec![1u8, 2]).unwrap();
        assert_eq!(parse_key("n", &key), Some(vec![1u8, 2]));
    }

    #[test]
    fn other_namespaces_and_shapes_do_not_parse() {
        assert_eq!(parse_key::<u64>("shop", "shop"), None);
        assert_eq!(parse_key::<u64>("shop", "shop42"), None);
        assert_eq!(parse_key::<u64>("shop", "shot:42"), None);
        assert_eq!(parse_key::<u64>("shop", "shop:42:1"), None);
        assert_eq!(parse_key::<(u64, u64)>("shop", "shop:42"), None);
        assert_eq!(parse_key::<u8>("n", "n:256"), None);
        assert_eq!(parse_key::<char>("n", "n:ab"), None);
        assert_eq!(parse_key::<char>("n", "n:"), None);
        assert_eq!(parse_key::<()>("n", "n:x"), None);
        assert_eq!(parse_key::<bool>("n", "n:True"), None);
        // A binary type never parses from a readable rendering, nor the reverse.
        assert_eq!(parse_key::<Option<u64>>("n", "n:1"), None);
        assert_eq!(parse_key::<u64>("n", "n:~AQ"), None);
        assert_eq!(parse_key::<[u8; 4]>("n", "n:~AAAAAA"), None);
        assert_eq!(parse_key::<Option<u64>>("n", "n:~"), None);
        assert_eq!(parse_key::<Option<u64>>("n", "n:~A"), None);
    }

    #[test]
    fn only_the_canonical_rendering_parses() {
        for integer in ["+42", "042", "00", "", " 42", "4_2"] {
            assert_eq!(parse_key::<u64>("n", &format!("n:{integer}")), None);
        }
        for integer in ["-0", "+1", "-01", "--1"] {
            assert_eq!(parse_key::<i64>("n", &format!("n:{integer}")), None);
        }
        // Lowercase hex, needless escapes, stray `%`, raw `~` and controls.
        for text in [
            "%3a", "%41", "%C3%A9", "%", "%3", "%G0", "a~b", "a\nb", "\u{7f}",
        ] {
            assert_eq!(
                parse_key::<String>("n", &format!("n:{text}")),
                None,
                "{text:?}"
            );
        }
        // `~AQE` padded, and `Some(1)` with its integer in three bytes, which
        // bincode decodes: only rendering it again tells it apart.
        assert_eq!(parse_key::<Option<u64>>("n", "n:~AQE="), None);
        assert_eq!(
            Bincode::decode::<Option<u64>>(&[1, 251, 1, 0], BINARY_LIMIT),
            Ok(Some(1))
        );
        assert_eq!(parse_key::<Option<u64>>("n", "n:~AfsBAA"), None);
        assert_eq!(parse_key::<Option<u64>>("n", "n:~AQF"), None);
    }

    /// What the readable parser accepts on its own re-renders to itself, so
    /// the check in [`parse_key`] is a second line for readable keys.
    fn readable_is_canonical<K>(rendering: &str) -> Result<(), TestCaseError>
    where
        K: Serialize + DeserializeOwned,
    {
        if let Some(parsed) = parse_readable::<K>(rendering) {
            prop_assert_eq!(redis_key("", &parsed).unwrap(), format!(":{rendering}"));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn the_readable_parser_accepts_only_renderings(
            rendering in prop_oneof![
                "[-+0-9a:%~A-F\\x00\\n\\x7fé]{0,12}",
                "(-?[0-9]{1,3}|true|false|%[0-9A-Fa-f]{2}|[a~]|)(:(-?[0-9]{1,3}|true|%[0-9A-F]{2}|a|)){0,3}",
            ],
        ) {
            readable_is_canonical::<u64>(&rendering)?;
            readable_is_canonical::<i8>(&rendering)?;
            readable_is_canonical::<bool>(&rendering)?;
            readable_is_canonical::<char>(&rendering)?;
            readable_is_canonical::<String>(&rendering)?;
            readable_is_canonical::<()>(&rendering)?;
            readable_is_canonical::<(String, u32)>(&rendering)?;
            readable_is_canonical::<(i64, bool, String)>(&rendering)?;
            readable_is_canonical::<((u8, ()), [char; 2])>(&rendering)?;
            readable_is_canonical::<Page>(&rendering)?;
        }
    }
}
