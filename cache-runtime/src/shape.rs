//! Which part of a function's return value is cached.
//!
//! `Result<T, E>` caches `Ok(T)` only; every other return type (including
//! `Option<T>`, whose `None` is cached as a negative result) is cached whole.

/// How a return value of type `R` splits into a cacheable value.
pub trait ReturnShape<R> {
    /// What the cache stores.
    type Value: Clone;

    /// The cacheable value, or the return value handed back untouched.
    fn into_value(returned: R) -> Result<Self::Value, R>;

    /// Rebuilds a return value from a cached value.
    fn from_value(value: Self::Value) -> R;
}

/// The whole return value is cached.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

/// `Result<T, E>`: `Ok(T)` is cached, `Err(E)` never is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fallible;

impl<T: Clone> ReturnShape<T> for Plain {
    type Value = T;

    #[inline]
    fn into_value(returned: T) -> Result<T, T> {
        Ok(returned)
    }

    #[inline]
    fn from_value(value: T) -> T {
        value
    }
}

impl<T: Clone, E> ReturnShape<Result<T, E>> for Fallible {
    type Value = T;

    #[inline]
    fn into_value(returned: Result<T, E>) -> Result<T, Result<T, E>> {
        match returned {
            Ok(value) => Ok(value),
            Err(error) => Err(Err(error)),
        }
    }

    #[inline]
    fn from_value(value: T) -> Result<T, E> {
        Ok(value)
    }
}
