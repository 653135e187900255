//! A serde `Deserializer` wrapper that bounds what a hostile input can make a
//! decode do, beyond bincode's own claim limit.
//!
//! bincode trusts the length prefix of a sequence or map: it hands it to
//! serde as a size hint (serde then preallocates up to 1 MiB of elements, some
//! 2 MiB once a hash map rounds its table up) and loops that many times,
//! which never ends for elements that take no bytes (`()`, a struct whose
//! fields are all `#[serde(skip)]`, which also grows memory with every
//! element). And it recurses once per level of nesting, so a recursive value
//! type (a tree) can be nested deep enough to overflow the stack. The guard
//! sits between bincode and the value's `Deserialize`:
//!
//! - a size hint is cut to the input bytes that are left (an element takes
//!   at least one byte, but for zero-sized ones, which allocate nothing);
//! - sequences and maps together may hold no more elements than the limit;
//! - nesting deeper than [`MAX_DEPTH`] is an error.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// How deep sequences, maps, structs, enums, options and newtypes may nest.
pub(super) const MAX_DEPTH: u32 = 128;

/// What is left of a decode's allowance, shared by every layer of the guard.
pub(super) struct Budget<'a> {
    /// The input bytes that the reader has not handed out yet.
    input_left: &'a Cell<usize>,
    /// Sequence and map elements that may still be decoded.
    elements_left: Cell<usize>,
    depth: Cell<u32>,
}

impl<'a> Budget<'a> {
    pub(super) fn new(input_left: &'a Cell<usize>, max_elements: usize) -> Self {
        Self {
            input_left,
            elements_left: Cell::new(max_elements),
            depth: Cell::new(0),
        }
    }

    fn element<E: de::Error>(&self) -> Result<(), E> {
        let left = self.elements_left.get();
        if left == 0 {
            return Err(E::custom(
                "more sequence or map elements than the decoding limit",
            ));
        }
        self.elements_left.set(left - 1);
        Ok(())
    }

    fn size_hint(&self, hint: Option<usize>) -> Option<usize> {
        hint.map(|hint| {
            hint.min(self.input_left.get())
                .min(self.elements_left.get())
        })
    }

    /// Enters one level of nesting, left when the returned value drops.
    fn enter<E: de::Error>(&self) -> Result<Level<'_, 'a>, E> {
        let depth = self.depth.get();
        if depth >= MAX_DEPTH {
            return Err(E::custom(format_args!(
                "value nests deeper than {MAX_DEPTH} levels"
            )));
        }
        self.depth.set(depth + 1);
        Ok(Level(self))
    }
}

struct Level<'b, 'a>(&'b Budget<'a>);

impl Drop for Level<'_, '_> {
    fn drop(&mut self) {
        self.0.depth.set(self.0.depth.get() - 1);
    }
}

/// A bincode reader over a slice that publishes how many bytes are left.
pub(super) struct CountingReader<'a> {
    rest: &'a [u8],
    left: &'a Cell<usize>,
}

impl<'a> CountingReader<'a> {
    pub(super) fn new(bytes: &'a [u8], left: &'a Cell<usize>) -> Self {
        left.set(bytes.len());
        Self { rest: bytes, left }
    }
}

impl bincode::de::read::Reader for CountingReader<'_> {
    fn read(&mut self, bytes: &mut [u8]) -> Result<(), bincode::error::DecodeError> {
        let Some((head, rest)) = self.rest.split_at_checked(bytes.len()) else {
            return Err(bincode::error::DecodeError::UnexpectedEnd {
                additional: bytes.len() - self.rest.len(),
            });
        };
        bytes.copy_from_slice(head);
        self.rest = rest;
        self.left.set(rest.len());
        Ok(())
    }

    fn peek_read(&mut self, n: usize) -> Option<&[u8]> {
        self.rest.get(..n)
    }

    fn consume(&mut self, n: usize) {
        self.rest = self.rest.get(n..).unwrap_or_default();
        self.left.set(self.rest.len());
    }
}

/// A deserializer, seed, visitor or access of the value under the guard.
pub(super) struct Guarded<'b, 'a, T> {
    pub(super) inner: T,
    pub(super) budget: &'b Budget<'a>,
}

impl<'b, 'a, T> Guarded<'b, 'a, T> {
    fn wrap<U>(&self, inner: U) -> Guarded<'b, 'a, U> {
        Guarded {
            inner,
            budget: self.budget,
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self $(, $arg: $ty)*, visitor: V) -> Result<V::Value, D::Error> {
                let visitor = self.wrap(visitor);
                self.inner.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Guarded<'_, '_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Guarded<'_, '_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        let deserializer = self.wrap(deserializer);
        self.inner.deserialize(deserializer)
    }
}

macro_rules! forward_visit {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<E: de::Error>(self $(, $arg: $ty)*) -> Result<V::Value, E> {
                self.inner.$method($($arg),*)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Guarded<'_, '_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(formatter)
    }

    forward_visit! {
        visit_bool(v: bool);
        visit_i8(v: i8);
        visit_i16(v: i16);
        visit_i32(v: i32);
        visit_i64(v: i64);
        visit_i128(v: i128);
        visit_u8(v: u8);
        visit_u16(v: u16);
        visit_u32(v: u32);
        visit_u64(v: u64);
        visit_u128(v: u128);
        visit_f32(v: f32);
        visit_f64(v: f64);
        visit_char(v: char);
        visit_str(v: &str);
        visit_borrowed_str(v: &'de str);
        visit_string(v: String);
        visit_bytes(v: &[u8]);
        visit_borrowed_bytes(v: &'de [u8]);
        visit_byte_buf(v: Vec<u8>);
        visit_none();
        visit_unit();
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        let _level = self.budget.enter()?;
        let deserializer = self.wrap(deserializer);
        self.inner.visit_some(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        let _level = self.budget.enter()?;
        let deserializer = self.wrap(deserializer);
        self.inner.visit_newtype_struct(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let _level = self.budget.enter()?;
        let seq = self.wrap(seq);
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let _level = self.budget.enter()?;
        let map = self.wrap(map);
        self.inner.visit_map(map)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let _level = self.budget.enter()?;
        let data = self.wrap(data);
        self.inner.visit_enum(data)
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Guarded<'_, '_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.budget.element()?;
        let seed = self.wrap(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.budget.size_hint(self.inner.size_hint())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Guarded<'_, '_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.budget.element()?;
        let seed = self.wrap(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.budget.size_hint(self.inner.size_hint())
    }
}

impl<'b, 'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Guarded<'b, 'a, A> {
    type Error = A::Error;
    type Variant = Guarded<'b, 'a, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let seed = self.wrap(seed);
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((
            value,
            Guarded {
                inner: variant,
                budget: self.budget,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Guarded<'_, '_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bincode::de::read::Reader;

    #[test]
    fn the_reader_publishes_what_is_left() {
        let left = Cell::new(0);
        let mut reader = CountingReader::new(&[1, 2, 3, 4, 5], &left);
        assert_eq!(left.get(), 5);
        let mut two = [0; 2];
        reader.read(&mut two).unwrap();
        assert_eq!((two, left.get()), ([1, 2], 3));
        assert_eq!(reader.peek_read(2), Some(&[3, 4][..]));
        assert_eq!(reader.peek_read(4), None);
        reader.consume(2);
        assert_eq!(left.get(), 1);
        let error = reader.read(&mut two).unwrap_err();
        assert!(matches!(
            error,
            bincode::error::DecodeError::UnexpectedEnd { additional: 1 }
        ));
        assert_eq!(left.get(), 1);
    }

    #[test]
    fn size_hints_shrink_to_the_input_and_elements_left() {
        let left = Cell::new(10);
        let budget = Budget::new(&left, 4);
        assert_eq!(budget.size_hint(Some(1 << 60)), Some(4));
        assert_eq!(budget.size_hint(Some(2)), Some(2));
        assert_eq!(budget.size_hint(None), None);
        left.set(1);
        assert_eq!(budget.size_hint(Some(1 << 60)), Some(1));
    }
}
