//! Parsing of the attribute's options: `#[cached(size = 1000, ttl = "10m")]`.
//!
//! Every option keeps its name token and its value tokens, so that later
//! stages can point an error at exactly what the user wrote. Mistakes in one
//! option (a bad value, a duplicate, an unknown name) are collected and the
//! parse goes on; only a token stream that is not `name [= value], ...` at all
//! stops it.

use crate::duration;
use crate::errors::Errors;
use crate::flavor::Flavor;
use crate::suggest;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::discouraged::Speculative;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, ExprLit, Ident, Lit, Token, Type};

/// One option as written: its name, its parsed value, and the value's tokens
/// for error spans (the name's, for flags).
pub(crate) struct Opt<T> {
    /// The option's name token (`size` in `size = 10`).
    pub(crate) name: Ident,
    /// The parsed value.
    pub(crate) value: T,
    /// The value as written, for spans.
    pub(crate) tokens: TokenStream,
}

impl<T> Opt<T> {
    /// An error on the option's name.
    pub(crate) fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        syn::Error::new(self.name.span(), message)
    }
}

/// The value of `size`, `version` and the durations: a literal, checked and
/// computed here, or any other expression (`CACHE_SIZE`, `Duration::from_secs(60)`),
/// which the type checker checks in a typed `const` of the generated code.
#[derive(Debug, PartialEq)]
pub(crate) enum Given<T> {
    /// A literal's value (in nanoseconds, for a duration).
    Literal(T),
    /// A const expression: `usize` for `size`, `u64` for `version`,
    /// `std::time::Duration` for a duration.
    Const(Expr),
}

/// Whether `value` is written as a literal (`10`, `"10m"`, `-1`), whose
/// mistakes this crate reports, rather than as a const expression.
fn literal(value: &Expr) -> bool {
    match value {
        Expr::Lit(_) => true,
        Expr::Unary(unary) => matches!(unary.op, syn::UnOp::Neg(_)) && literal(&unary.expr),
        Expr::Group(group) => literal(&group.expr),
        _ => false,
    }
}

/// `check(value)` for a literal, else the expression as it is.
fn given<T>(value: &Expr, check: impl FnOnce(&Expr) -> syn::Result<T>) -> syn::Result<Given<T>> {
    if literal(value) {
        check(value).map(Given::Literal)
    } else {
        Ok(Given::Const(value.clone()))
    }
}

/// A flag option such as `sliding`: just its name token.
pub(crate) type Flag = Opt<()>;

/// `store = "..."`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Store {
    /// In-process memory, the default.
    Memory,
    /// Redis, possibly with an in-process tier in front (feature `redis`).
    Redis,
}

/// `codec = "..."`: how Redis values are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    /// serde_json, self-describing.
    Json,
    /// bincode, the default.
    Bincode,
}

/// `returns = "..."`: how the return value is cached, for the rare return
/// type that the type checker cannot be asked about (one that uses the
/// function's generic parameters or borrows), or to cache errors too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Returns {
    /// A `Result` whatever its name: only `Ok` values are cached.
    Result,
    /// The whole return value, `Err` included.
    Plain,
}

/// Every option of both attributes, as given; `None` when not written.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) size: Option<Opt<Given<u64>>>,
    pub(crate) unbounded: Option<Flag>,
    /// In nanoseconds.
    pub(crate) ttl: Option<Opt<Given<u64>>>,
    pub(crate) sliding: Option<Flag>,
    /// A path to (or a closure coercible to) `fn(&V) -> Option<Duration>`.
    pub(crate) ttl_fn: Option<Opt<Expr>>,
    pub(crate) key: Option<Opt<Expr>>,
    pub(crate) key_type: Option<Opt<Type>>,
    /// In nanoseconds.
    pub(crate) none_ttl: Option<Opt<Given<u64>>>,
    pub(crate) skip_none: Option<Flag>,
    /// The retry window in nanoseconds, when written (`stale_if_error = "30s"`).
    pub(crate) stale_if_error: Option<Opt<Option<u64>>>,
    pub(crate) returns: Option<Opt<Returns>>,
    /// In nanoseconds.
    pub(crate) refresh_ahead: Option<Opt<Given<u64>>>,
    pub(crate) single_flight: Option<Opt<bool>>,
    pub(crate) store: Option<Opt<Store>>,
    pub(crate) namespace: Option<Opt<String>>,
    pub(crate) version: Option<Opt<Given<u64>>>,
    pub(crate) codec: Option<Opt<Codec>>,
    pub(crate) name: Option<Opt<Ident>>,
    pub(crate) krate: Option<Opt<syn::Path>>,
}

/// The options, each with how it is written (no `=` means a flag).
const OPTIONS: &[(&str, &str)] = &[
    ("size", "size = 1000"),
    ("unbounded", "unbounded"),
    ("ttl", "ttl = \"10m\""),
    ("sliding", "sliding"),
    ("ttl_fn", "ttl_fn = ttl_of"),
    ("key", "key = id"),
    ("key_type", "key_type = u64"),
    ("none_ttl", "none_ttl = \"30s\""),
    ("skip_none", "skip_none"),
    ("stale_if_error", "stale_if_error = \"30s\""),
    ("returns", "returns = \"result\""),
    ("refresh_ahead", "refresh_ahead = \"30s\""),
    ("single_flight", "single_flight = false"),
    ("store", "store = \"redis\""),
    ("namespace", "namespace = \"shop:product\""),
    ("version", "version = 2"),
    ("codec", "codec = \"json\""),
    ("name", "name = PRICES"),
    ("crate", "crate = ::memocache"),
];

/// Options of the `cached` crate (and similar) that memocache spells
/// differently, with how to write them here.
const FOREIGN: &[(&str, &str)] = &[
    ("max_size", "memocache spells it `size = N`"),
    ("capacity", "memocache spells it `size = N`"),
    ("time", "memocache spells it `ttl = \"60s\"`"),
    ("expire", "memocache spells it `ttl = \"60s\"`"),
    ("time_refresh", "memocache spells it `sliding`"),
    ("convert", "memocache spells it `key = EXPR` (with `key_type = TYPE` when the key is not just argument names)"),
    ("sync_writes", "memocache coalesces concurrent calls of one key by default (`single_flight`)"),
    ("result", "memocache needs no option for it: a `Result` return, aliases included, is detected and only `Ok` values are cached \
                (`returns = \"result\"` is only for a return type that uses the function's generic parameters or borrows)"),
    ("option", "memocache needs no option for it: an `Option` value, aliases included, is detected; see `none_ttl` and `skip_none`"),
];

/// The option names `flavor` accepts.
fn names(flavor: Flavor) -> impl Iterator<Item = &'static str> {
    OPTIONS
        .iter()
        .map(|&(name, _)| name)
        .filter(move |&name| flavor == Flavor::Async || name != "refresh_ahead")
}

/// How `name` is written, for "needs a value" messages.
fn example(name: &str) -> &'static str {
    OPTIONS
        .iter()
        .find(|&&(n, _)| n == name)
        .map_or("", |&(_, example)| example)
}

impl Options {
    /// Parses the attribute's arguments. Mistakes in single options go to
    /// `errors`; `Err` only for input that is not a list of options at all.
    pub(crate) fn parse(
        flavor: Flavor,
        tokens: TokenStream,
        errors: &mut Errors,
    ) -> syn::Result<Options> {
        let parser = |input: ParseStream| {
            let mut options = Options::default();
            let mut seen: Vec<Ident> = Vec::new();
            while !input.is_empty() {
                if !input.peek(Ident::peek_any) {
                    let list = names(flavor).collect::<Vec<_>>().join(", ");
                    return Err(input.error(format!(
                        "expected an option such as `size = 1000`; the options of {} are: {list}",
                        flavor.attr()
                    )));
                }
                let name = input.call(Ident::parse_any)?;
                let value = parse_value(input, &name)?;
                if seen.contains(&name) {
                    errors.push(syn::Error::new(
                        name.span(),
                        format!("duplicate option `{name}`: it is already set earlier in this attribute; keep only one"),
                    ));
                } else {
                    seen.push(name.clone());
                    options.set(flavor, name, value, errors);
                }
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(options)
        };
        parser.parse2(tokens)
    }

    /// Stores one option, or records why its value is not valid.
    fn set(&mut self, flavor: Flavor, name: Ident, value: Value, errors: &mut Errors) {
        let option = name.to_string();
        match option.as_str() {
            "unbounded" => self.unbounded = errors.ok(flag(&name, value)),
            "sliding" => self.sliding = errors.ok(flag(&name, value)),
            "skip_none" => self.skip_none = errors.ok(flag(&name, value)),
            "stale_if_error" => self.stale_if_error = errors.ok(retry_window(&name, value)),
            "key_type" => {
                self.key_type = errors.ok(match value {
                    Value::Type(ty) => Ok(Opt {
                        tokens: ty.to_token_stream(),
                        name,
                        value: ty,
                    }),
                    _ => Err(missing(&name)),
                })
            }
            _ if !OPTIONS.iter().any(|&(n, _)| n == option) => errors.push(unknown(flavor, &name)),
            _ => {
                let Some(expr) = errors.ok(expr(&name, value)) else {
                    return;
                };
                let at = Site {
                    name: &name,
                    expr: &expr,
                };
                match option.as_str() {
                    "size" => self.size = errors.ok(at.opt(given(&expr, size))),
                    "version" => self.version = errors.ok(at.opt(given(&expr, version))),
                    "ttl" | "none_ttl" | "refresh_ahead" => {
                        let hint = duration::zero_hint(&option);
                        let value =
                            errors.ok(at.opt(given(&expr, |e| duration_nanos(&name, e, hint))));
                        *match option.as_str() {
                            "ttl" => &mut self.ttl,
                            "none_ttl" => &mut self.none_ttl,
                            _ => &mut self.refresh_ahead,
                        } = value;
                    }
                    "single_flight" => {
                        self.single_flight = errors.ok(at.opt(boolean(&name, &expr)))
                    }
                    "store" => {
                        let choices = [("memory", Store::Memory), ("redis", Store::Redis)];
                        self.store = errors.ok(at.opt(choice(&name, &expr, &choices)));
                    }
                    "returns" => self.returns = errors.ok(at.opt(returns(&name, &expr))),
                    "codec" => {
                        let choices = [("json", Codec::Json), ("bincode", Codec::Bincode)];
                        self.codec = errors.ok(at.opt(choice(&name, &expr, &choices)));
                    }
                    "namespace" => self.namespace = errors.ok(at.opt(namespace(&expr))),
                    "name" => self.name = errors.ok(at.opt(ident(&name, &expr))),
                    "crate" => self.krate = errors.ok(at.opt(krate(&expr))),
                    "ttl_fn" => {
                        self.ttl_fn = errors.ok(at.opt(ttl_fn(&expr).map(|()| expr.clone())))
                    }
                    "key" => self.key = errors.ok(at.opt(Ok(expr.clone()))),
                    _ => unreachable!("every option of OPTIONS has an arm"),
                }
            }
        }
    }
}

/// An option's value as parsed: nothing (a flag), an expression, or a type
/// (`key_type`); `Skipped` after an unknown name.
enum Value {
    None,
    Expr(Expr),
    Type(Type),
    Skipped,
}

/// Parses `= value` after `name`, if present.
fn parse_value(input: ParseStream, name: &Ident) -> syn::Result<Value> {
    if !input.peek(Token![=]) {
        return Ok(Value::None);
    }
    input.parse::<Token![=]>()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(input.error(format!(
            "`{name} =` needs a value: `{}`",
            example(&name.to_string())
        )));
    }
    match name.to_string().as_str() {
        "key_type" => input.parse().map(Value::Type),
        option if OPTIONS.iter().any(|&(n, _)| n == option) => input.parse().map(Value::Expr),
        _ => {
            // Unknown option: skip its value, a type (whose generics may hold
            // commas) or an expression, else everything up to a comma.
            let ends = |fork: &syn::parse::ParseBuffer| fork.is_empty() || fork.peek(Token![,]);
            let expr = input.fork();
            let ty = input.fork();
            if ty.parse::<Type>().is_ok() && ends(&ty) {
                input.advance_to(&ty);
            } else if expr.parse::<Expr>().is_ok() && ends(&expr) {
                input.advance_to(&expr);
            }
            while !ends(input) {
                input.parse::<proc_macro2::TokenTree>()?;
            }
            Ok(Value::Skipped)
        }
    }
}

/// Where an option with a value was written, to build its `Opt`.
struct Site<'a> {
    name: &'a Ident,
    expr: &'a Expr,
}

impl Site<'_> {
    /// The option, once its value is parsed from `self.expr`.
    fn opt<T>(&self, value: syn::Result<T>) -> syn::Result<Opt<T>> {
        value.map(|value| Opt {
            name: self.name.clone(),
            value,
            tokens: self.expr.to_token_stream(),
        })
    }
}

fn missing(name: &Ident) -> syn::Error {
    syn::Error::new(
        name.span(),
        format!("`{name}` needs a value: `{}`", example(&name.to_string())),
    )
}

fn expr(name: &Ident, value: Value) -> syn::Result<Expr> {
    match value {
        Value::Expr(expr) => Ok(expr),
        _ => Err(missing(name)),
    }
}

/// `stale_if_error` alone (the default retry window) or `stale_if_error = "30s"`.
fn retry_window(name: &Ident, value: Value) -> syn::Result<Opt<Option<u64>>> {
    let Value::Expr(expr) = value else {
        return flag(name, value).map(|flag| Opt {
            name: flag.name,
            value: None,
            tokens: flag.tokens,
        });
    };
    let hint = "write `stale_if_error` alone for the default retry window (10s)";
    Ok(Opt {
        name: name.clone(),
        value: Some(duration_nanos(name, &expr, hint)?),
        tokens: expr.to_token_stream(),
    })
}

fn flag(name: &Ident, value: Value) -> syn::Result<Flag> {
    match value {
        Value::None => Ok(Opt {
            name: name.clone(),
            value: (),
            tokens: name.to_token_stream(),
        }),
        Value::Expr(expr) => Err(syn::Error::new_spanned(
            expr,
            format!("`{name}` is a flag and takes no value: write `{name}` alone, or leave it out"),
        )),
        Value::Type(_) | Value::Skipped => {
            unreachable!("only key_type and unknown options parse so")
        }
    }
}

fn int(value: &Expr) -> Option<&syn::LitInt> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => Some(int),
        _ => None,
    }
}

fn size(value: &Expr) -> syn::Result<u64> {
    let int = int(value).ok_or_else(|| {
        syn::Error::new_spanned(
            value,
            "`size` takes an integer, the most entries the cache holds: `size = 1_000`, \
             or a const expression of type `usize`: `size = CACHE_SIZE`",
        )
    })?;
    match int.base10_parse::<u64>()? {
        0 => Err(syn::Error::new_spanned(
            value,
            "`size` must be at least 1: it is the most entries the cache holds; for a cache without a bound write `unbounded` instead",
        )),
        size => Ok(size),
    }
}

fn version(value: &Expr) -> syn::Result<u64> {
    let int = int(value).ok_or_else(|| {
        syn::Error::new_spanned(
            value,
            "`version` takes an integer: `version = 2`, or a const expression of type `u64`",
        )
    })?;
    int.base10_parse::<u64>()
}

fn boolean(name: &Ident, value: &Expr) -> syn::Result<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(b.value),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`{name}` takes `true` or `false`"),
        )),
    }
}

fn string(value: &Expr) -> Option<&syn::LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s),
        _ => None,
    }
}

fn choice<T: Copy>(name: &Ident, value: &Expr, choices: &[(&'static str, T)]) -> syn::Result<T> {
    let list = choices
        .iter()
        .map(|(s, _)| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    let text = string(value).ok_or_else(|| {
        syn::Error::new_spanned(value, format!("`{name}` takes a string: {list}"))
    })?;
    let given = text.value();
    choices
        .iter()
        .find(|(s, _)| *s == given)
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let hint = suggest::closest(&given, choices.iter().map(|(s, _)| *s))
                .map_or_else(String::new, |found| format!("; did you mean \"{found}\"?"));
            syn::Error::new(
                text.span(),
                format!("unknown {name} {given:?}: expected {list}{hint}"),
            )
        })
}

fn returns(name: &Ident, value: &Expr) -> syn::Result<Returns> {
    if string(value).is_some_and(|s| s.value() == "option") {
        return Err(syn::Error::new_spanned(
            value,
            "`returns` has no \"option\": an `Option` value is found by its type, aliases included, and needs no option; \
             `returns` is \"result\" (cache only `Ok` values) or \"plain\" (cache every return value, `Err` included)",
        ));
    }
    choice(
        name,
        value,
        &[("result", Returns::Result), ("plain", Returns::Plain)],
    )
}

fn namespace(value: &Expr) -> syn::Result<String> {
    let text = string(value).ok_or_else(|| {
        syn::Error::new_spanned(
            value,
            "`namespace` takes a string: `namespace = \"shop:product\"`",
        )
    })?;
    match text.value() {
        s if s.trim().is_empty() => Err(syn::Error::new(
            text.span(),
            "`namespace` cannot be empty: it prefixes every Redis key and names the cache in stats; \
             leave it out to use the default, the function's module path and name",
        )),
        s => Ok(s),
    }
}

fn ident(name: &Ident, value: &Expr) -> syn::Result<Ident> {
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            path.path.get_ident().cloned()
        }
        _ => None,
    }
    .ok_or_else(|| {
        syn::Error::new_spanned(
            value,
            format!(
                "`{name}` takes an identifier: `{}`",
                example(&name.to_string())
            ),
        )
    })
}

fn krate(value: &Expr) -> syn::Result<syn::Path> {
    match value {
        Expr::Path(path) if path.qself.is_none() => Ok(path.path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => s.parse(),
        _ => Err(syn::Error::new_spanned(
            value,
            "`crate` takes the path of memocache: `crate = ::my_facade::memocache`",
        )),
    }
}

fn ttl_fn(value: &Expr) -> syn::Result<()> {
    match value {
        Expr::Path(_) | Expr::Closure(_) => Ok(()),
        _ => Err(syn::Error::new_spanned(
            value,
            "`ttl_fn` takes the path of a `fn(&V) -> Option<Duration>`: `ttl_fn = ttl_of`",
        )),
    }
}

fn duration_nanos(name: &Ident, value: &Expr, zero_hint: &str) -> syn::Result<u64> {
    let option = name.to_string();
    duration::nanos(&option, duration::parse(&option, value, zero_hint)?, value)
}

fn unknown(flavor: Flavor, name: &Ident) -> syn::Error {
    let given = name.to_string();
    let attr = flavor.attr();
    let message = if let Some((_, how)) = FOREIGN.iter().find(|(n, _)| *n == given) {
        format!("unknown option `{given}` for {attr}: {how}")
    } else if let Some(found) = suggest::closest(&given, names(flavor)) {
        format!("unknown option `{given}` for {attr}; did you mean `{found}`?")
    } else {
        let list = names(flavor).collect::<Vec<_>>().join(", ");
        format!("unknown option `{given}` for {attr}; the options are: {list}")
    };
    syn::Error::new(name.span(), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(flavor: Flavor, tokens: TokenStream) -> Result<Options, String> {
        let mut errors = Errors::default();
        let options = Options::parse(flavor, tokens, &mut errors).map_err(|e| e.to_string())?;
        errors.finish_messages()?;
        Ok(options)
    }

    fn error(tokens: TokenStream) -> String {
        parse(Flavor::Sync, tokens).err().expect("an error")
    }

    #[test]
    fn parses_every_option() {
        let o = parse(
            Flavor::Async,
            quote!(
                size = 1_000,
                ttl = "1h30m",
                sliding,
                ttl_fn = ttl_of,
                key = (user.id, page),
                key_type = (u64, u32),
                none_ttl = 30,
                skip_none,
                stale_if_error,
                returns = "result",
                refresh_ahead = "30s",
                single_flight = false,
                store = "memory",
                namespace = "shop:product",
                version = 3,
                codec = "json",
                name = PRICES,
                crate = ::my::memocache
            ),
        )
        .unwrap();
        assert_eq!(o.size.unwrap().value, Given::Literal(1000));
        assert_eq!(o.ttl.unwrap().value, Given::Literal(5400 * 1_000_000_000));
        assert!(o.sliding.is_some() && o.skip_none.is_some() && o.stale_if_error.is_some());
        assert!(o.ttl_fn.is_some() && o.key.is_some() && o.key_type.is_some());
        assert_eq!(
            o.none_ttl.unwrap().value,
            Given::Literal(30 * 1_000_000_000)
        );
        assert_eq!(
            o.refresh_ahead.unwrap().value,
            Given::Literal(30 * 1_000_000_000)
        );
        assert!(!o.single_flight.unwrap().value);
        assert_eq!(o.store.unwrap().value, Store::Memory);
        assert_eq!(o.returns.unwrap().value, Returns::Result);
        assert_eq!(o.namespace.unwrap().value, "shop:product");
        assert_eq!(o.version.unwrap().value, Given::Literal(3));
        assert_eq!(o.codec.unwrap().value, Codec::Json);
        assert_eq!(o.name.unwrap().value, "PRICES");
        let krate = o.krate.unwrap().value;
        assert_eq!(
            quote!(#krate).to_string().replace(' ', ""),
            "::my::memocache"
        );
    }

    #[test]
    fn empty_and_trailing_comma() {
        assert!(parse(Flavor::Sync, quote!()).unwrap().size.is_none());
        assert!(parse(Flavor::Sync, quote!(unbounded,))
            .unwrap()
            .unbounded
            .is_some());
        let o = parse(
            Flavor::Sync,
            quote!(crate = "::x::memocache", key_type = Vec<u8>),
        )
        .unwrap();
        assert!(o.krate.is_some() && o.key_type.is_some());
    }

    #[test]
    fn unknown_options() {
        assert_eq!(
            error(quote!(sise = 10)),
            "unknown option `sise` for #[cached]; did you mean `size`?"
        );
        assert!(error(quote!(max_size = 10)).contains("memocache spells it `size = N`"));
        assert!(error(quote!(whatever)).contains("the options are: size, unbounded, ttl"));
        // refresh_ahead is not an option of #[cached]: no suggestion of it.
        assert!(!error(quote!(refresh_ahed = "1s")).contains("refresh_ahead"));
        // Skipping an unknown value with commas inside generics still finds the next option.
        let e = error(quote!(bogus = HashMap<u64, u64>, sise = 1));
        assert!(
            e.contains("`bogus`") && e.contains("did you mean `size`"),
            "{e}"
        );
    }

    #[test]
    fn value_errors() {
        assert!(error(quote!(size = 0)).contains("at least 1"));
        assert!(error(quote!(size = "10")).contains("`size` takes an integer"));
        assert!(error(quote!(size = -1)).contains("`size` takes an integer"));
        assert!(error(quote!(ttl = -5)).contains("negative"));
        assert!(error(quote!(size)).contains("`size` needs a value: `size = 1000`"));
        assert!(error(quote!(size = , ttl = 1)).contains("`size =` needs a value"));
        assert!(error(quote!(sliding = true)).contains("flag and takes no value"));
        assert!(error(quote!(ttl = "0s")).contains("longer than zero"));
        assert!(error(quote!(store = "redsi")).contains(
            "unknown store \"redsi\": expected \"memory\" or \"redis\"; did you mean \"redis\"?"
        ));
        assert!(error(quote!(namespace = "")).contains("cannot be empty"));
        assert!(error(quote!(name = "X")).contains("takes an identifier"));
        assert!(error(quote!(single_flight = 0)).contains("`true` or `false`"));
        assert!(error(quote!(ttl_fn = 5)).contains("fn(&V) -> Option<Duration>"));
        assert!(error(quote!(returns = "resutl")).contains(
            "unknown returns \"resutl\": expected \"result\" or \"plain\"; did you mean \"result\"?"
        ));
        assert!(error(quote!(returns = "option")).starts_with("`returns` has no \"option\""));
        assert!(error(quote!(returns = result)).contains("`returns` takes a string"));
        assert!(error(quote!("size")).contains("expected an option"));
    }

    #[test]
    fn const_expressions() {
        let o = parse(
            Flavor::Async,
            quote!(
                size = CACHE_SIZE,
                ttl = config::TTL,
                none_ttl = Duration::from_secs(5),
                refresh_ahead = { WINDOW },
                version = 2 + 1
            ),
        )
        .unwrap();
        let expr = |given: Given<u64>| match given {
            Given::Const(expr) => expr.to_token_stream().to_string(),
            Given::Literal(n) => panic!("a literal: {n}"),
        };
        assert_eq!(expr(o.size.unwrap().value), "CACHE_SIZE");
        assert_eq!(expr(o.ttl.unwrap().value), "config :: TTL");
        assert_eq!(expr(o.none_ttl.unwrap().value), "Duration :: from_secs (5)");
        assert_eq!(expr(o.refresh_ahead.unwrap().value), "{ WINDOW }");
        assert_eq!(expr(o.version.unwrap().value), "2 + 1");
    }

    #[test]
    fn collects_several_errors() {
        let e = error(quote!(size = 0, size = 2, sise = 3, ttl = "x"));
        let lines: Vec<_> = e.lines().collect();
        assert_eq!(lines.len(), 4, "{e}");
        assert!(lines[1].starts_with("duplicate option `size`"));
    }
}
