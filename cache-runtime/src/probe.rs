//! Telling a `Result` or an `Option` return type by its type, not by how it
//! is spelled.
//!
//! A macro sees tokens: `type Answer = Result<u64, AppError>` makes `-> Answer`
//! a `Result` that no token says is one, and a user's own `struct Result<T>`
//! is spelled like one without being one. The type checker knows, so the
//! generated code asks it, in a const context, with the trick of the `impls`
//! crate: an inherent associated const takes priority over a trait's const of
//! the same name, and the inherent impl only exists for the type looked for.
//!
//! ```
//! use memocache_runtime::{Probe, NotOption, NotResult, Returns, Split, Value};
//!
//! type Answer = Result<u64, String>;
//!
//! // As `#[cached]` writes it for `fn answer(..) -> Answer`:
//! #[allow(unused_imports)]
//! type Shape = Returns<Answer, { use NotResult as _; Probe::<Answer>::IS_RESULT }>;
//!
//! assert!(<Shape as Split>::FALLIBLE); // only `Ok` values are cached...
//! let cached: Value<Shape> = 42_u64; // ...and they are `u64`s
//! #[allow(unused_imports)]
//! let test = { use NotOption as _; Probe::<Value<Shape>>::NONE_TEST };
//! assert!(test.is_none()); // a `u64` is not an `Option`
//! # let _ = cached;
//! ```
//!
//! The probe needs a type it can name where the decision is made, in a type
//! alias next to the cache's static: a return type that mentions the
//! function's generic parameters or borrows cannot be probed, and the macros
//! fall back on its spelling there (or on `returns = "result"`).

use std::marker::PhantomData;

use crate::config::Config;
use crate::shape::{Fallible, Plain};

/// A type to look at: its associated consts say what `T` is.
///
/// `Probe::<T>::IS_RESULT` is `true` if `T` is a `Result` (through any
/// aliases) and `Probe::<T>::NONE_TEST` is `Some(Option::is_none)` if `T` is
/// an `Option`, provided that [`NotResult`] and [`NotOption`], which answer
/// for every other type, are in scope.
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T, E> Probe<Result<T, E>> {
    /// `T` is a `Result`: only its `Ok` values are cached.
    pub const IS_RESULT: bool = true;
}

impl<T> Probe<Option<T>> {
    /// `T` is an `Option`: `none_ttl` and `skip_none` apply to its `None`.
    pub const NONE_TEST: Option<fn(&Option<T>) -> bool> = Some(Option::is_none);
}

/// What [`Probe`] says of a type that is not a `Result`; import it as `_`.
pub trait NotResult {
    /// Not a `Result`: the whole value is cached.
    const IS_RESULT: bool = false;
}

impl<T: ?Sized> NotResult for Probe<T> {}

/// What [`Probe`] says of a type that is not an `Option`; import it as `_`.
pub trait NotOption<T: ?Sized> {
    /// Not an `Option`: no value is a `None`.
    const NONE_TEST: Option<fn(&T) -> bool> = None;
}

impl<T: ?Sized> NotOption<T> for Probe<T> {}

/// A function's return type `R` and whether only the `Ok` values of it are
/// cached (`FALLIBLE`, as [`Probe`] found or as `returns = ...` chose).
pub struct Returns<R: ?Sized, const FALLIBLE: bool>(PhantomData<R>);

/// How a [`Returns`] splits: the cached value type and the shape the call
/// path takes.
pub trait Split {
    /// What the cache stores: `T` of `Result<T, E>`, or the whole return value.
    type Value;
    /// [`Fallible`] or [`Plain`].
    type Shape;
    /// Passed to the call path, which takes its type.
    const SHAPE: Self::Shape;
    /// Whether only `Ok` values are cached.
    const FALLIBLE: bool;
}

impl<T, E> Split for Returns<Result<T, E>, true> {
    type Value = T;
    type Shape = Fallible;
    const SHAPE: Fallible = Fallible;
    const FALLIBLE: bool = true;
}

impl<R> Split for Returns<R, false> {
    type Value = R;
    type Shape = Plain;
    const SHAPE: Plain = Plain;
    const FALLIBLE: bool = false;
}

/// The cached value type of a [`Returns`].
pub type Value<S> = <S as Split>::Value;

impl<V> Config<V> {
    /// Tells `None` results apart if `test` is `Some` (what
    /// `Probe::<V>::NONE_TEST` gives for an `Option`); else changes nothing.
    #[doc(hidden)]
    pub const fn none_test(self, test: Option<fn(&V) -> bool>) -> Self {
        match test {
            Some(test) => self.is_none(test),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(unused_imports)]
    use super::*;

    mod errors {
        pub struct Error;
        pub type Result<T, E = Error> = std::result::Result<T, E>;
    }

    mod mine {
        /// Not std's.
        #[derive(Clone)]
        pub struct Result<T>(pub T);
    }

    type Answer = Result<u64, String>;
    type AppResult<T> = Result<T, String>;
    type Maybe = Option<u8>;

    macro_rules! is_result {
        ($ty:ty) => {{
            use NotResult as _;
            Probe::<$ty>::IS_RESULT
        }};
    }

    macro_rules! is_option {
        ($ty:ty) => {{
            use NotOption as _;
            Probe::<$ty>::NONE_TEST.is_some()
        }};
    }

    #[test]
    fn results_through_aliases() {
        assert!(is_result!(Result<u8, ()>));
        assert!(is_result!(Answer));
        assert!(is_result!(AppResult<Vec<u8>>));
        assert!(is_result!(errors::Result<u8>));
        assert!(is_result!(std::io::Result<u8>));
        assert!(!is_result!(mine::Result<u8>));
        assert!(!is_result!(Maybe));
        assert!(!is_result!(str));
    }

    #[test]
    fn options_through_aliases() {
        assert!(is_option!(Maybe));
        assert!(is_option!(Option<String>));
        assert!(!is_option!(Answer));
        assert!(!is_option!(mine::Result<Maybe>));
        assert!(is_option!(Value<Returns<AppResult<Maybe>, true>>));
        assert!(!is_option!(Value<Returns<AppResult<Maybe>, false>>));
    }

    #[test]
    fn split_values() {
        fn same<A: 'static, B: 'static>() -> bool {
            std::any::TypeId::of::<A>() == std::any::TypeId::of::<B>()
        }
        type Probed = Returns<Answer, { is_result!(Answer) }>;
        assert!(same::<Value<Probed>, u64>());
        const { assert!(<Probed as Split>::FALLIBLE) };
        type Whole = Returns<Answer, false>;
        assert!(same::<Value<Whole>, Answer>());
        const { assert!(!<Whole as Split>::FALLIBLE) };
    }

    #[test]
    fn none_test_sets_the_test_of_options_only() {
        let config = Config::<Maybe>::new("t").none_test(Some(Option::is_none));
        assert!(config.is_none.is_some());
        let config = Config::<u8>::new("t").none_test(None);
        assert!(config.is_none.is_none());
    }
}
