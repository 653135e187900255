//! Redis keys: how a namespace and a Rust key become the key of an entry.
//!
//! [`redis_key`] renders a namespace and a Rust key as the key of an entry,
//! readable where the key is made of integers, strings and tuples of them,
//! binary-safe otherwise; [`scan_pattern`] is the `SCAN MATCH` pattern of a
//! namespace. The format is documented on [`redis_key`], for code in other
//! languages that deletes keys on update.

use std::fmt::{self, Write as _};

use base64::Engine as _;
use serde::ser::{self, Impossible, Serialize, Serializer};

use super::codec::CodecError;

/// The Redis key of `key` in `namespace`.
///
/// Fails only when the key's `Serialize` fails (a `Path` that is not UTF-8, a
/// sequence of unknown length): such a key cannot be stored in Redis.
///
/// # Format
///
/// A key is `{namespace}:{rendering}`, the namespace as given. The rendering
/// has one of two forms, chosen by the shape the key's `Serialize` emits, so a
/// key type always takes the same form:
///
/// **Readable**, for keys made of integers, `bool`, `char`, strings, unit `()`,
/// newtype structs of those, and tuples, tuple structs and arrays of those
/// (nested or not):
///
/// - an integer (`i8` to `i128`, `u8` to `u128`) is its decimal form, with a
///   leading `-` when negative: `42`, `-7`;
/// - a `bool` is `true` or `false`;
/// - a string or `char` is its UTF-8 text, in which each of the characters
///   `%` `:` `~`, U+0000 to U+001F and U+007F is replaced by `%` and its two
///   uppercase hex digits (`%25`, `%3A`, `%7E`, `%0A`, ...); every other
///   character, non-ASCII included, stays as it is;
/// - unit `()` is the empty string;
/// - a newtype struct is its field;
/// - a tuple is its elements' renderings joined with `:`.
///
/// So `("page", 3, 20)` in namespace `shop` is `shop:page:3:20`, the string
/// `"a:b"` is `shop:a%3Ab`, and `()` is `shop:`. In Python, a string part is
/// `re.sub(r'[%:~\x00-\x1f\x7f]', lambda m: '%%%02X' % ord(m.group()), s)`.
/// Since escaped strings hold no `:`, and a key type fixes how many parts a
/// key has and which kind each one is, two keys of one type never share a
/// rendering.
///
/// **Binary**, for every other shape anywhere in the key (floats, `Option`,
/// enums, structs with named fields, unit structs, sequences, maps, bytes):
/// `~` followed by the base64url encoding, without padding, of the key's
/// bincode 2 encoding with `bincode::config::standard()`. `~` never starts a
/// readable rendering, since strings escape it.
///
/// The readable form serializes as a human-readable format
/// (`is_human_readable()` is true), so types such as IP addresses that render
/// themselves as text when asked keep a readable key. The form depends on the
/// value only for keys whose `Serialize` picks its shape by value (untagged
/// enums, hand-written impls); such keys must stay injective on their own.
///
/// The namespace is not escaped: namespaces should not be `{other}:...` of one
/// another, since [`scan_pattern`] of `shop` also matches the keys of
/// `shop:product`.
pub fn redis_key<K: Serialize + ?Sized>(namespace: &str, key: &K) -> Result<String, CodecError> {
    let mut readable = Readable {
        out: String::with_capacity(namespace.len() + 24),
    };
    readable.out.push_str(namespace);
    readable.out.push(':');
    if key.serialize(&mut readable).is_ok() {
        return Ok(readable.out);
    }
    let bytes = bincode::serde::encode_to_vec(key, bincode::config::standard())
        .map_err(|error| CodecError::new(format_args!("key: bincode: {error}")))?;
    let mut out = readable.out;
    out.truncate(namespace.len() + 1);
    out.push('~');
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(bytes, &mut out);
    Ok(out)
}

/// The `SCAN MATCH` pattern of every key in `namespace`: the namespace with
/// the glob characters `*`, `?`, `[`, `]` and `\` escaped by a `\`, then `:*`.
pub fn scan_pattern(namespace: &str) -> String {
    let mut pattern = String::with_capacity(namespace.len() + 2);
    for c in namespace.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(":*");
    pattern
}

/// Appends `s` with the readable form's escapes.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        if matches!(c, '%' | ':' | '~' | '\u{0}'..='\u{1f}' | '\u{7f}') {
            // Every escaped character is ASCII: one byte, two hex digits.
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
}

/// A serializer that renders the readable shapes and refuses every other one,
/// so the caller falls back to the binary form.
struct Readable {
    out: String,
}

/// The refusal of [`Readable`] (or an error of the key's own `Serialize`).
#[derive(Debug)]
struct NotReadable;

impl fmt::Display for NotReadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("key has no readable form")
    }
}

impl std::error::Error for NotReadable {}

impl ser::Error for NotReadable {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        NotReadable
    }
}

/// The elements of a tuple, joined with `:`.
struct Joined<'a> {
    readable: &'a mut Readable,
    first: bool,
}

impl Joined<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NotReadable> {
        if !std::mem::take(&mut self.first) {
            self.readable.out.push(':');
        }
        value.serialize(&mut *self.readable)
    }
}

impl ser::SerializeTuple for Joined<'_> {
    type Ok = ();
    type Error = NotReadable;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NotReadable> {
        self.element(value)
    }

    fn end(self) -> Result<(), NotReadable> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Joined<'_> {
    type Ok = ();
    type Error = NotReadable;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NotReadable> {
        self.element(value)
    }

    fn end(self) -> Result<(), NotReadable> {
        Ok(())
    }
}

impl Readable {
    fn number(&mut self, n: impl fmt::Display) -> Result<(), NotReadable> {
        let _ = write!(self.out, "{n}");
        Ok(())
    }
}

impl<'a> Serializer for &'a mut Readable {
    type Ok = ();
    type Error = NotReadable;
    type SerializeSeq = Impossible<(), NotReadable>;
    type SerializeTuple = Joined<'a>;
    type SerializeTupleStruct = Joined<'a>;
    type SerializeTupleVariant = Impossible<(), NotReadable>;
    type SerializeMap = Impossible<(), NotReadable>;
    type SerializeStruct = Impossible<(), NotReadable>;
    type SerializeStructVariant = Impossible<(), NotReadable>;

    fn serialize_bool(self, v: bool) -> Result<(), NotReadable> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_i16(self, v: i16) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_i32(self, v: i32) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_i64(self, v: i64) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_i128(self, v: i128) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_u16(self, v: u16) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_u32(self, v: u32) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_u64(self, v: u64) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_u128(self, v: u128) -> Result<(), NotReadable> {
        self.number(v)
    }

    fn serialize_f32(self, _v: f32) -> Result<(), NotReadable> {
        Err(NotReadable)
    }

    fn serialize_f64(self, _v: f64) -> Result<(), NotReadable> {
        Err(NotReadable)
    }

    fn serialize_char(self, v: char) -> Result<(), NotReadable> {
        push_escaped(&mut self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), NotReadable> {
        push_escaped(&mut self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), NotReadable> {
        Err(NotReadable)
    }

    fn serialize_none(self) -> Result<(), NotReadable> {
        Err(NotReadable)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), NotReadable> {
        Err(NotReadable)
    }

    fn serialize_unit(self) -> Result<(), NotReadable> {
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), NotReadable> {
        Err(NotReadable)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
    ) -> Result<(), NotReadable> {
        Err(NotReadable)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), NotReadable> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), NotReadable> {
        Err(NotReadable)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, NotReadable> {
        Err(NotReadable)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Joined<'a>, NotReadable> {
        Ok(Joined {
            readable: self,
            first: true,
        })
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Joined<'a>, NotReadable> {
        Ok(Joined {
            readable: self,
            first: true,
        })
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, NotReadable> {
        Err(NotReadable)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, NotReadable> {
        Err(NotReadable)
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, NotReadable> {
        Err(NotReadable)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, NotReadable> {
        Err(NotReadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    fn key<K: Serialize + ?Sized>(namespace: &str, key: &K) -> String {
        redis_key(namespace, key).unwrap()
    }

    fn binary<K: Serialize + ?Sized>(namespace: &str, key: &K) -> String {
        let bytes = bincode::serde::encode_to_vec(key, bincode::config::standard()).unwrap();
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        format!("{namespace}:~{encoded}")
    }

    #[derive(Serialize)]
    struct ProductId(u64);

    #[derive(Serialize)]
    struct Page(u32, u32);

    #[derive(Serialize)]
    struct Marker;

    #[derive(Serialize)]
    struct Named {
        id: u64,
    }

    #[derive(Serialize)]
    enum Kind {
        Small,
    }

    #[test]
    fn integers_strings_and_tuples_read_as_text() {
        assert_eq!(key("shop:product", &42u64), "shop:product:42");
        assert_eq!(key("shop", &("page", 3u32, 20u32)), "shop:page:3:20");
        assert_eq!(key("shop:user", "alice"), "shop:user:alice");
        assert_eq!(key("shop:user", &String::from("alice")), "shop:user:alice");
        assert_eq!(key("n", &-7i8), "n:-7");
        assert_eq!(key("n", &i128::MIN), format!("n:{}", i128::MIN));
        assert_eq!(key("n", &u128::MAX), format!("n:{}", u128::MAX));
        assert_eq!(key("n", &(true, false)), "n:true:false");
        assert_eq!(key("n", &'x'), "n:x");
        assert_eq!(key("n", &()), "n:");
        assert_eq!(key("n", &ProductId(42)), "n:42");
        assert_eq!(key("n", &Page(3, 20)), "n:3:20");
        assert_eq!(key("n", &((1u8, "a"), ((), 2u8))), "n:1:a::2");
        assert_eq!(key("n", &[5u16, 6]), "n:5:6");
        assert_eq!(key("n", &std::net::Ipv4Addr::LOCALHOST), "n:127.0.0.1");
    }

    #[test]
    fn strings_escape_percent_colon_tilde_and_controls() {
        assert_eq!(key("n", "a:b"), "n:a%3Ab");
        assert_eq!(key("n", "100%"), "n:100%25");
        assert_eq!(key("n", "~x"), "n:%7Ex");
        assert_eq!(key("n", "\0\t\n\x1f\x7f"), "n:%00%09%0A%1F%7F");
        assert_eq!(key("n", &':'), "n:%3A");
        // Everything else stays as it is, non-ASCII and glob characters too.
        assert_eq!(key("n", "naïve *?[] \\ é€"), "n:naïve *?[] \\ é€");
        assert_eq!(key("n", &("a:b", "c")), "n:a%3Ab:c");
        assert_eq!(key("n", &("a", "b:c")), "n:a:b%3Ac");
    }

    #[test]
    fn other_shapes_make_the_whole_key_binary() {
        assert_eq!(key("n", &Some(1u64)), "n:~AQE");
        assert_eq!(key("n", &Some(1u64)), binary("n", &Some(1u64)));
        assert_eq!(key("n", &None::<u64>), "n:~AA");
        assert_eq!(key("n", &1.5f64), binary("n", &1.5f64));
        assert_eq!(key("n", &vec![1u8, 2]), binary("n", &vec![1u8, 2]));
        assert_eq!(key("n", &Marker), binary("n", &Marker));
        assert_eq!(key("n", &Named { id: 3 }), binary("n", &Named { id: 3 }));
        assert_eq!(key("n", &Kind::Small), binary("n", &Kind::Small));
        // One non-readable part anywhere sends the whole key to binary.
        assert_eq!(
            key("n", &(1u64, Some(2u64))),
            binary("n", &(1u64, Some(2u64)))
        );
        assert_eq!(key("n", &("a", 0.5f32)), binary("n", &("a", 0.5f32)));
    }

    #[test]
    fn keys_that_serialize_with_an_error_have_no_redis_key() {
        struct Broken;
        impl Serialize for Broken {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("broken"))
            }
        }
        let error = redis_key("n", &Broken).unwrap_err();
        assert!(error.to_string().contains("broken"), "{error}");
    }

    #[test]
    fn scan_patterns_escape_glob_characters() {
        assert_eq!(scan_pattern("shop:product"), "shop:product:*");
        assert_eq!(scan_pattern("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f:*");
        assert_eq!(scan_pattern(""), ":*");
    }
}
