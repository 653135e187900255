//! Durations of `ttl`, `none_ttl` and `refresh_ahead`: a string in
//! humantime's syntax (`"500ms"`, `"90s"`, `"10m"`, `"1h30m"`) or an integer
//! literal of seconds, turned into nanoseconds at compile time.

use std::time::Duration;
use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};

/// How to write a duration, appended to every duration error.
const HOW: &str = "write a string such as \"500ms\", \"90s\", \"10m\" or \"1h30m\", \
                   or an integer number of seconds";

/// What to write instead of a zero duration for `option`.
pub(crate) fn zero_hint(option: &str) -> &'static str {
    match option {
        "ttl" => "remove `ttl` to keep entries until they are evicted or invalidated",
        "none_ttl" => "to store no `None` result at all, write `skip_none` instead",
        _ => "remove `refresh_ahead` to recompute expired entries in the foreground",
    }
}

/// Parses the value of the duration option `option` (for messages).
/// A zero duration is an error: none of the options has a use for it, and
/// the message says what to write instead (`zero_hint`).
pub(crate) fn parse(option: &str, value: &Expr, zero_hint: &str) -> syn::Result<Duration> {
    let duration = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => {
            let written = text.value();
            humantime::parse_duration(written.trim()).map_err(|error| {
                syn::Error::new(
                    text.span(),
                    format!(
                        "invalid duration {written:?} for `{option}`: {}; {HOW}",
                        describe(&error, written.trim())
                    ),
                )
            })?
        }
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) if int.suffix().is_empty() => Duration::from_secs(int.base10_parse::<u64>()?),
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => {
            // `10m`, `500ms` lex as integers with a suffix.
            return Err(syn::Error::new(
                int.span(),
                format!(
                    "write the duration of `{option}` as a string: `{option} = \"{}\"` \
                     (a bare integer is a number of seconds)",
                    int
                ),
            ));
        }
        Expr::Lit(ExprLit {
            lit: Lit::Float(_), ..
        }) => {
            return Err(syn::Error::new_spanned(
                value,
                format!(
                    "`{option}` takes whole seconds or a string: write fractions as \
                     \"1500ms\"; {HOW}"
                ),
            ))
        }
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => {
            return Err(syn::Error::new_spanned(
                value,
                format!("`{option}` cannot be negative; {HOW}"),
            ))
        }
        _ => {
            return Err(syn::Error::new_spanned(
                value,
                format!("`{option}` must be a literal duration known at compile time; {HOW}"),
            ))
        }
    };
    if duration.is_zero() {
        return Err(syn::Error::new_spanned(
            value,
            format!("`{option}` must be longer than zero; {zero_hint}"),
        ));
    }
    Ok(duration)
}

/// humantime's error, without its byte offsets.
fn describe(error: &humantime::DurationError, text: &str) -> String {
    use humantime::DurationError as E;
    let rest = |at: usize| text.get(at..).unwrap_or_default();
    match error {
        E::InvalidCharacter(at) => format!("unexpected character at `{}`", rest(*at)),
        E::NumberExpected(at) => format!("expected a number at `{}`", rest(*at)),
        E::UnknownUnit { unit, value, .. } if unit.is_empty() => {
            format!("`{value}` needs a unit, such as \"{value}s\" or \"{value}ms\"")
        }
        E::UnknownUnit { unit, .. } => {
            format!("unknown unit {unit:?} (the units are ns, us, ms, s, m, h, d, w)")
        }
        E::NumberOverflow => "the number is too large".to_string(),
        E::Empty => "it is empty".to_string(),
    }
}

/// The duration in whole nanoseconds, as the runtime's
/// `Duration::from_nanos` takes it; an error if it does not fit in `u64`
/// (about 584 years).
pub(crate) fn nanos(option: &str, duration: Duration, value: &Expr) -> syn::Result<u64> {
    u64::try_from(duration.as_nanos()).map_err(|_| {
        syn::Error::new_spanned(
            value,
            format!("`{option}` is too long: the limit is 584 years"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn ok(value: Expr) -> Duration {
        parse("ttl", &value, "remove it").unwrap()
    }

    fn err(value: Expr) -> String {
        parse("ttl", &value, "remove it").unwrap_err().to_string()
    }

    #[test]
    fn strings_and_seconds() {
        assert_eq!(ok(parse_quote!("500ms")), Duration::from_millis(500));
        assert_eq!(ok(parse_quote!("90s")), Duration::from_secs(90));
        assert_eq!(ok(parse_quote!("10m")), Duration::from_secs(600));
        assert_eq!(ok(parse_quote!("1h30m")), Duration::from_secs(5400));
        assert_eq!(ok(parse_quote!("1h 30m")), Duration::from_secs(5400));
        assert_eq!(ok(parse_quote!(90)), Duration::from_secs(90));
        assert_eq!(ok(parse_quote!(1_000)), Duration::from_secs(1000));
    }

    #[test]
    fn rejects_malformed() {
        assert!(err(parse_quote!("10x")).contains("invalid duration \"10x\" for `ttl`"));
        assert!(err(parse_quote!("ten minutes")).contains("invalid duration"));
        assert!(err(parse_quote!("10")).contains("`10` needs a unit, such as \"10s\""));
        assert!(err(parse_quote!("10x")).contains("unknown unit \"x\""));
        assert!(err(parse_quote!("10 mins and more")).contains("expected a number at `and more`"));
        assert!(err(parse_quote!("1h-5m")).contains("unexpected character at `-5m`"));
        assert!(err(parse_quote!("")).contains("it is empty"));
        assert!(err(parse_quote!(10m)).contains("as a string: `ttl = \"10m\"`"));
        assert!(err(parse_quote!(1.5)).contains("1500ms"));
        assert!(err(parse_quote!(-5)).contains("negative"));
        assert!(err(parse_quote!(SECONDS)).contains("literal"));
    }

    #[test]
    fn rejects_zero() {
        assert_eq!(
            err(parse_quote!("0s")),
            "`ttl` must be longer than zero; remove it"
        );
        assert!(err(parse_quote!(0)).contains("longer than zero"));
    }

    #[test]
    fn nanoseconds() {
        let value: Expr = parse_quote!("1s");
        assert_eq!(
            nanos("ttl", Duration::from_secs(1), &value).unwrap(),
            1_000_000_000
        );
        assert!(nanos("ttl", Duration::from_secs(u64::MAX), &value).is_err());
    }
}
