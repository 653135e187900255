//! The procedural macros of [memocache]: `#[cached]` and `#[async_cached]`.
//!
//! Use them through the `memocache` crate, which re-exports them next to the
//! runtime that the generated code calls.
//!
//! Both attributes run one pipeline, one module per stage, in the manner of
//! `thiserror-impl`: `attr` parses the options (`duration` their durations,
//! `suggest` the "did you mean"), `signature` analyzes the function (bindings
//! of argument patterns, `#[skip]` markers, return shape), `validate`
//! cross-checks both, `key` derives the cache key and `types` checks that a
//! static can hold it, and `expand` writes the code. Every mistake is a
//! compile error at the offending token that says how to fix it; independent
//! mistakes are reported together.
//!
//! [memocache]: https://docs.rs/memocache
#![deny(missing_docs)]

mod attr;
mod duration;
mod errors;
mod expand;
mod flavor;
mod key;
mod signature;
mod suggest;
mod types;
mod validate;

use crate::errors::Errors;
use crate::flavor::Flavor;
use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;

/// Memoizes a synchronous function.
///
/// ```
/// use memocache::cached;
///
/// #[cached(size = 1000, ttl = "10m")]
/// fn slow_square(n: u64) -> u64 {
///     n * n
/// }
///
/// assert_eq!(slow_square(7), 49);
/// assert!(SLOW_SQUARE.invalidate(&7));
/// ```
///
/// # The handle
///
/// The cache is a static next to the function, named after it in capitals
/// (`SLOW_SQUARE`; `name = OTHER` renames it), with `get`, `insert`,
/// `invalidate`, `clear`, `len` and `stats`. A method (a function with a
/// `self` receiver) cannot have a static beside it in its `impl` block: its
/// cache is returned by a generated associated function `<method>_cache()`
/// (`Catalog::price_cache().clear()`; `name = ...` renames it).
///
/// # The key
///
/// By default the key is every binding of every argument, in order, except
/// arguments marked `#[skip]`: one binding is the key itself (so
/// `SLOW_SQUARE.invalidate(&7)`), several make a tuple, none make `()` (the
/// function caches one value). A binding of type `&T` is stored owned
/// (`&str` as `String`, `&[u8]` as `Vec<u8>`, `&T` as `T::Owned`).
/// Destructuring patterns key on what they bind: `Path(id): Path<u64>` on
/// `id: u64`, `(a, b): (u64, String)` on `a` and `b`.
///
/// `key = expr` chooses the key instead: `key = id`, `key = (user_id, page)`.
/// When `expr` is more than argument names, give its type:
/// `key = user.id, key_type = u64`. `self` is never part of a key
/// implicitly, so methods need `key`.
///
/// # The value
///
/// `Result<T, E>` caches `Ok(T)` only. `Option<T>` (also inside a `Result`)
/// caches `None` too, unless `skip_none`, with its own TTL `none_ttl`. Any
/// other return type is cached whole. Key and value types must be nameable in
/// a static: no generic parameters of the function, no `impl Trait`, no `Self`,
/// no borrows other than `'static`.
///
/// Whether the return type is a `Result` is asked of the type checker, so an
/// alias is one whatever its name, and a type merely called `Result` is not:
///
/// ```
/// use memocache::cached;
/// # #[derive(Clone, Debug, PartialEq)]
/// # struct AppError;
///
/// type Answer = Result<u64, AppError>;
///
/// #[cached]
/// fn answer(n: u64) -> Answer {
///     if n == 0 { Err(AppError) } else { Ok(n) }
/// }
///
/// assert_eq!(answer(0), Err(AppError)); // not cached
/// assert_eq!(answer(1), Ok(1));
/// assert_eq!(ANSWER.get(&1), Some(1)); // the cache holds the `Ok` value
/// ```
///
/// The same holds of an `Option` value. The type checker is asked in a type
/// alias next to the cache's static, so it cannot look at a return type that
/// uses the function's generic parameters or borrows: there the name decides
/// (`Result<T, E>`, `io::Result<T>`), and `returns = "result"` says that
/// another name is an alias of `Result` whose first type argument is the `Ok`
/// type:
///
/// ```
/// use memocache::cached;
///
/// type AppResult<T, E> = Result<T, E>;
///
/// #[cached(returns = "result")]
/// fn parse<E: From<std::num::ParseIntError>>(text: String) -> AppResult<u64, E> {
///     Ok(text.parse::<u64>()?)
/// }
/// # let parsed: Result<u64, std::num::ParseIntError> = parse("7".into());
/// # assert_eq!(PARSE.get("7"), Some(7));
/// ```
///
/// `returns = "plain"` caches every return value whole, `Err` included.
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `size = N` | most entries held, `N >= 1` (the default is bounded too); `N` may be a `usize` const expression |
/// | `unbounded` | no bound on entries |
/// | `ttl = "90s"` | time to live: `"500ms"`, `"10m"`, `"1h30m"`, an integer of seconds, or a `Duration` const expression |
/// | `sliding` | a hit renews the TTL (needs `ttl` or `ttl_fn`) |
/// | `ttl_fn = path` | per-value TTL, a `fn(&V) -> Option<Duration>` |
/// | `key = expr` | the key, from the arguments |
/// | `key_type = T` | the type of `key`, when it is more than argument names |
/// | `#[skip]` on an argument | leaves the argument out of the key (not with `key`) |
/// | `none_ttl = "30s"` | `Option` returns: TTL of `None` results |
/// | `skip_none` | `Option` returns: `None` is not stored |
/// | `stale_if_error` / `stale_if_error = "30s"` | `Result` returns: on `Err`, serve the last good value if one is held, and keep serving it for the retry window (default 10 s) before running the function again |
/// | `returns = "result"` | only `Ok` values, for an alias of `Result` that the type checker cannot be asked about (see above) |
/// | `returns = "plain"` | every return value whole, `Err` included |
/// | `refresh_ahead = "30s"` | `#[async_cached]` only: serve an expired value this long while one background refresh runs |
/// | `single_flight = false` | no per-key coalescing of concurrent calls (on by default) |
/// | `store = "redis"` | Redis store: needs the `redis` feature of memocache |
/// | `namespace = "shop:product"` | stats name and Redis key prefix; default: module path and function name |
/// | `version = N` | bump to orphan entries written by older code (an integer or a `u64` const expression) |
/// | `codec = "json"` | Redis value encoding (`"bincode"` by default); needs `store = "redis"` |
/// | `name = IDENT` | name of the handle |
/// | `crate = path` | path of memocache, for crates that re-export it |
///
/// # Each option
///
/// `size = N` bounds the cache to `N` entries, least recently used out
/// first; `N` is an integer (`N >= 1`) or a const expression of type `usize`:
///
/// ```
/// # use memocache::cached;
/// const CACHE_SIZE: usize = 2;
///
/// #[cached(size = CACHE_SIZE)]
/// fn double(n: u64) -> u64 { n * 2 }
///
/// for n in 0..3 { double(n); }
/// assert_eq!(DOUBLE.len(), 2);
/// ```
///
/// `unbounded` lifts the bound (only TTLs and invalidation remove entries):
///
/// ```
/// # use memocache::cached;
/// #[cached(unbounded)]
/// fn double(n: u64) -> u64 { n * 2 }
///
/// for n in 0..20_000 { double(n); }
/// assert_eq!(DOUBLE.len(), 20_000);
/// ```
///
/// `ttl` is how long an entry lives after it is written: a string
/// (`"500ms"`, `"90s"`, `"10m"`, `"1h30m"`) or an integer of seconds, both
/// checked at compile time, or a const expression of type
/// `std::time::Duration`. `none_ttl` and `refresh_ahead` take the same forms.
///
/// ```
/// # use memocache::cached;
/// use std::time::Duration;
/// use memocache::Clock;
///
/// const CACHE_TTL: Duration = Duration::from_secs(60);
///
/// #[cached(ttl = CACHE_TTL)]
/// fn double(n: u64) -> u64 { n * 2 }
///
/// let (clock, time) = Clock::mock();
/// DOUBLE.use_clock(clock);
/// double(1);
/// time.advance(Duration::from_secs(61));
/// assert_eq!(DOUBLE.get(&1), None); // expired
/// ```
///
/// Size and TTL can also come from the application's configuration at
/// start-up, before the cache's first use, with `configure` (or `set_size`,
/// `set_ttl`) on the handle; after first use these answer
/// `Err(AlreadyInUse)` and change nothing:
///
/// ```
/// # use memocache::cached;
/// use std::time::Duration;
///
/// #[cached(size = 100, ttl = "1m")]
/// fn double(n: u64) -> u64 { n * 2 }
///
/// let size: usize = std::env::var("DOUBLE_CACHE_SIZE").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
/// DOUBLE.configure(|c| c.size(size).ttl(Duration::from_secs(300))).unwrap();
/// double(1);
/// assert!(DOUBLE.set_size(10).is_err()); // too late: the cache is in use
/// ```
///
/// `sliding` renews the TTL on every hit (it needs `ttl` or `ttl_fn`):
///
/// ```
/// # use memocache::cached;
/// #[cached(ttl = "10m", sliding)]
/// fn session(id: u64) -> String { format!("session {id}") }
/// # assert_eq!(session(1), "session 1");
/// ```
///
/// `ttl_fn` gives each value its own TTL; `None` falls back to `ttl`:
///
/// ```
/// # use memocache::cached;
/// use std::time::Duration;
///
/// fn ttl_of(price: &u64) -> Option<Duration> {
///     (*price > 100).then(|| Duration::from_secs(5))
/// }
///
/// #[cached(ttl = "1h", ttl_fn = ttl_of)]
/// fn price(id: u64) -> u64 { id * 10 }
/// # assert_eq!(price(20), 200);
/// ```
///
/// `key` chooses the key from the arguments, `key_type` gives its type when
/// it is more than argument names, and `#[skip]` leaves an argument out:
///
/// ```
/// # use memocache::cached;
/// # #[derive(Clone)] pub struct Db;
/// pub struct User { id: u64 }
///
/// #[cached(key = id)]
/// fn by_id(db: &Db, id: u64) -> String { format!("user {id}") }
///
/// #[cached(key = user.id, key_type = u64)]
/// fn greeting(user: &User) -> String { format!("hello {}", user.id) }
///
/// #[cached]
/// fn by_name(#[skip] db: &Db, name: &str) -> usize { name.len() }
///
/// by_id(&Db, 7);
/// greeting(&User { id: 7 });
/// by_name(&Db, "ada");
/// assert!(BY_ID.invalidate(&7) && GREETING.invalidate(&7) && BY_NAME.invalidate("ada"));
/// ```
///
/// `none_ttl` keeps `None` results for a shorter time, `skip_none` does not
/// keep them at all:
///
/// ```
/// # use memocache::cached;
/// #[cached(ttl = "1h", none_ttl = "30s")]
/// fn find(id: u64) -> Option<u64> { (id > 0).then_some(id) }
///
/// #[cached(skip_none)]
/// fn lookup(id: u64) -> Option<u64> { (id > 0).then_some(id) }
///
/// find(0);
/// lookup(0);
/// assert_eq!(FIND.len(), 1);
/// assert_eq!(LOOKUP.len(), 0);
/// ```
///
/// `stale_if_error` serves the last good value when the body fails:
///
/// ```
/// # use memocache::cached;
/// #[cached(ttl = "1m", stale_if_error)]
/// fn rate(currency: String) -> Result<f64, String> { Ok(1.1) }
/// # assert_eq!(rate("EUR".into()), Ok(1.1));
/// ```
///
/// `returns = "plain"` caches every return value, `Err` included
/// (`returns = "result"` is shown above):
///
/// ```
/// # use memocache::cached;
/// #[cached(returns = "plain")]
/// fn parse(text: String) -> Result<u64, String> { text.parse().map_err(|_| text) }
///
/// assert!(parse("x".into()).is_err());
/// assert_eq!(PARSE.get("x"), Some(Err("x".to_string())));
/// ```
///
/// `single_flight = false` lets concurrent calls of one key each run the body:
///
/// ```
/// # use memocache::cached;
/// #[cached(single_flight = false)]
/// fn cheap(n: u64) -> u64 { n + 1 }
/// # assert_eq!(cheap(1), 2);
/// ```
///
/// `namespace` names the cache in stats (and prefixes Redis keys); `version`
/// (an integer or a `u64` const expression) tags entries so that new code
/// ignores old ones; `name` renames the handle:
///
/// ```
/// # use memocache::cached;
/// #[cached(namespace = "shop:price", version = 2, name = PRICES)]
/// fn price(id: u64) -> u64 { id * 10 }
///
/// price(1);
/// assert_eq!(PRICES.namespace(), "shop:price");
/// ```
///
/// `store = "redis"` (feature `redis`) keeps entries in Redis, `codec =
/// "json"` (feature `json`) encodes them as JSON there; see the README's
/// Redis section:
///
/// ```ignore
/// #[async_cached(store = "redis", ttl = "10m", codec = "json", namespace = "shop:product")]
/// async fn product(id: u64) -> Result<Product, AppError> { load(id).await }
/// ```
///
/// `crate` is the path of memocache, for a crate that re-exports it:
///
/// ```
/// mod facade { pub use memocache; }
///
/// #[memocache::cached(crate = facade::memocache)]
/// fn double(n: u64) -> u64 { n * 2 }
/// # assert_eq!(double(2), 4);
/// ```
///
/// # Types that cannot be cached
///
/// Every part of the key must be `Hash + Eq + Clone + Send + 'static`, and
/// the cached value `Clone + Send + 'static` (see `memocache::bounds`); the
/// error points at the argument or return type and says the fix (`#[skip]`,
/// `key = ...`, an `Arc<T>`). A handle whose name is already taken in the
/// module (say, a `static SQUARE` next to `fn square`) is reported by rustc
/// as "the name `SQUARE` is defined multiple times", pointing at the
/// function's name: rename the handle with `name = ...`.
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    memoize(Flavor::Sync, args.into(), item.into()).into()
}

/// Memoizes an `async fn`.
///
/// ```
/// use axum::extract::{Path, State};
/// use axum::Json;
/// use memocache::async_cached;
/// # #[derive(Clone)]
/// # struct Db;
/// # #[derive(Clone, Debug, PartialEq)]
/// # struct Product { id: u64 }
/// # #[derive(Debug)]
/// # struct AppError;
/// # impl Db {
/// #     async fn load(&self, id: u64) -> Result<Product, AppError> { Ok(Product { id }) }
/// # }
///
/// #[async_cached(size = 10_000, ttl = "60s", key = id)]
/// async fn get_product(State(db): State<Db>, Path(id): Path<u64>) -> Result<Json<Product>, AppError> {
///     db.load(id).await.map(Json)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let product = get_product(State(Db), Path(42)).await.unwrap();
/// assert_eq!(product.0, Product { id: 42 });
/// assert!(GET_PRODUCT.invalidate(&42).await);
/// # }
/// ```
///
/// Takes the options of [`macro@cached`] and derives keys and values the same
/// way; the handle is an `AsyncCache`. `refresh_ahead = "30s"` serves an
/// expired value for up to that long while one background task runs the body
/// again, so every argument must be owned (`Send + 'static`), and the
/// function cannot be a method.
///
/// ```
/// use std::time::Duration;
/// use memocache::async_cached;
///
/// const RATE_TTL: Duration = Duration::from_secs(60);
///
/// #[async_cached(ttl = RATE_TTL, refresh_ahead = "10s", namespace = "fx:rate")]
/// async fn rate(currency: String) -> Result<f64, String> {
///     Ok(if currency == "EUR" { 1.1 } else { 1.0 })
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// RATE.set_size(1_000).unwrap(); // at start-up, before first use
/// assert_eq!(rate("EUR".into()).await, Ok(1.1));
/// assert_eq!(RATE.get("EUR").await, Some(1.1));
/// # }
/// ```
#[proc_macro_attribute]
pub fn async_cached(args: TokenStream, item: TokenStream) -> TokenStream {
    memoize(Flavor::Async, args.into(), item.into()).into()
}

/// Runs the pipeline; on error, the errors followed by the function
/// unchanged, so that the user sees these errors and not a cascade of
/// "cannot find function" ones.
fn memoize(flavor: Flavor, args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    pipeline(flavor, args, item.clone()).unwrap_or_else(|error| {
        let mut tokens = error.to_compile_error();
        tokens.extend(signature::without_markers(item));
        tokens
    })
}

/// Parse, analyze, validate, expand.
fn pipeline(flavor: Flavor, args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let mut func = syn::parse2::<syn::ItemFn>(item).map_err(|e| {
        let message = format!("{} applies to a function with a body: {e}", flavor.attr());
        syn::Error::new(e.span(), message)
    })?;
    let mut errors = Errors::default();
    let options = attr::Options::parse(flavor, args, &mut errors)?;
    let sig = signature::analyze(&mut func, &mut errors);
    let plan = validate::plan(flavor, options, func, sig, errors)?;
    Ok(expand::expand(&plan))
}
