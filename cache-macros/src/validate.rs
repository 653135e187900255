//! Every cross-check between the attribute, its options and the function,
//! ending in the `Plan` that `expand` turns into code.

use crate::attr::{Codec, Options, Returns, Store};
use crate::errors::Errors;
use crate::flavor::Flavor;
use crate::key::{self, Key};
use crate::signature::{self, Arg, Output, Shape, Signature, Split};
use crate::types::{self, Problem, Role};
use proc_macro2::TokenStream;
use quote::{format_ident, ToTokens};
use syn::{Expr, Ident, ItemFn, Type};

/// What to generate, after every check passed.
pub(crate) struct Plan {
    pub(crate) flavor: Flavor,
    /// The function, without its `#[skip]` markers.
    pub(crate) func: ItemFn,
    /// `self`, `&self`...: then the function is a method.
    pub(crate) receiver: Option<syn::Receiver>,
    pub(crate) args: Vec<Arg>,
    pub(crate) output: Output,
    pub(crate) options: Options,
    pub(crate) key: Key,
    /// The path of memocache: `crate = ...`, or `::memocache`.
    pub(crate) krate: syn::Path,
    /// The handle: the static's name, or for a method the associated
    /// function that returns it.
    pub(crate) handle: Ident,
}

impl Plan {
    /// A method: the handle is an associated function, not a static.
    pub(crate) fn is_method(&self) -> bool {
        self.receiver.is_some()
    }
}

/// Checks everything and builds the plan; `Err` with every error found.
pub(crate) fn plan(
    flavor: Flavor,
    options: Options,
    func: ItemFn,
    mut sig: Signature,
    mut errors: Errors,
) -> syn::Result<Plan> {
    check_item(flavor, &func.sig, &mut errors);
    check_options(flavor, &options, &mut errors);
    if let Some(output) = &mut sig.output {
        // After a `returns` that cannot apply, the value would be wrong too.
        if apply_returns(&options, output, &func.sig, &mut errors) {
            check_output(&options, output, &func.sig, &mut errors);
        }
    }
    check_key_choice(&options, &sig, &mut errors);
    if let (Flavor::Async, Some(_)) = (flavor, &options.refresh_ahead) {
        check_refresh_ahead(&sig, &mut errors);
    }
    // A method without `key` is an error of its own: no key to derive.
    let key = match (&sig.receiver, &options.key) {
        (Some(_), None) => None,
        _ => key::derive(&options, &sig, &func.sig.generics, &mut errors),
    };
    let handle = handle(&options, &func.sig, sig.receiver.is_some(), &mut errors);
    errors.finish()?;
    let Signature {
        receiver,
        args,
        output,
    } = sig;
    Ok(Plan {
        flavor,
        krate: options
            .krate
            .as_ref()
            .map_or_else(|| syn::parse_quote!(::memocache), |k| k.value.clone()),
        output: output.expect("no errors, so a return type"),
        key: key.expect("no errors, so a key"),
        func,
        receiver,
        args,
        options,
        handle,
    })
}

/// `async`, `const` and the attribute's flavor.
fn check_item(flavor: Flavor, sig: &syn::Signature, errors: &mut Errors) {
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span,
            format!(
                "{} cannot memoize a `const fn`: the cache is runtime state that a const fn cannot reach; remove `const`",
                flavor.attr()
            ),
        ));
    }
    match (flavor, &sig.asyncness) {
        (Flavor::Sync, Some(asyncness)) => errors.push(syn::Error::new(
            asyncness.span,
            "#[cached] memoizes synchronous functions; this is an `async fn`: use #[async_cached] instead",
        )),
        (Flavor::Async, None) => errors.push(syn::Error::new(
            sig.fn_token.span,
            "#[async_cached] memoizes `async fn`s; this function is synchronous: use #[cached] instead, or make it an `async fn`",
        )),
        _ => {}
    }
}

/// Options that conflict, or that need another option.
fn check_options(flavor: Flavor, o: &Options, errors: &mut Errors) {
    if let (Some(_), Some(unbounded)) = (&o.size, &o.unbounded) {
        errors.push(unbounded.error(
            "`size` and `unbounded` conflict: `size` bounds the cache and `unbounded` lifts the bound; keep one of them",
        ));
    }
    if let (Some(sliding), None, None) = (&o.sliding, &o.ttl, &o.ttl_fn) {
        errors.push(sliding.error(
            "`sliding` renews an entry's TTL on each hit, but there is no TTL: add `ttl = \"10m\"` (or `ttl_fn`), or remove `sliding`",
        ));
    }
    if let (Some(_), Some(skip_none)) = (&o.none_ttl, &o.skip_none) {
        errors.push(skip_none.error(
            "`none_ttl` and `skip_none` conflict: `none_ttl` keeps `None` results for a while, `skip_none` never stores them; keep one of them",
        ));
    }
    if let (Some(key_type), None) = (&o.key_type, &o.key) {
        errors.push(key_type.error(
            "`key_type` is the type of the `key = ...` expression, but there is no `key`: add `key = ...`, \
             or remove `key_type` (the key of the arguments is typed automatically)",
        ));
    }
    if let Some(refresh) = &o.refresh_ahead {
        match flavor {
            Flavor::Sync => errors.push(refresh.error(
                "`refresh_ahead` is only for #[async_cached]: it refreshes expired entries in a background task. \
                 With #[cached], remove it (an expired entry is recomputed by the next caller)",
            )),
            Flavor::Async if o.ttl.is_none() && o.ttl_fn.is_none() => errors.push(refresh.error(
                "`refresh_ahead` serves an expired value while it refreshes it, but there is no TTL: add `ttl = \"10m\"`, or remove `refresh_ahead`",
            )),
            Flavor::Async => {}
        }
    }
    let redis = matches!(&o.store, Some(store) if store.value == Store::Redis);
    if let (Some(store), true) = (&o.store, redis) {
        if !cfg!(feature = "redis") {
            errors.push(syn::Error::new_spanned(
                &store.tokens,
                format!(
                    "`store = \"redis\"` needs the `redis` feature of memocache: enable it with \
                 `memocache = {{ version = \"{}.{}\", features = [\"redis\"] }}` in Cargo.toml",
                    env!("CARGO_PKG_VERSION_MAJOR"),
                    env!("CARGO_PKG_VERSION_MINOR"),
                ),
            ));
        }
    }
    if let (Some(codec), false) = (&o.codec, redis) {
        errors.push(codec.error(
            "`codec` chooses how values are encoded in Redis, so it needs `store = \"redis\"`; \
             remove it (the in-memory store keeps values as they are)",
        ));
    }
    if let (Some(codec), true) = (&o.codec, redis) {
        if codec.value == Codec::Json && !cfg!(feature = "json") {
            errors.push(codec.error(
                "`codec = \"json\"` needs the `json` feature of memocache: add it next to `redis` in Cargo.toml",
            ));
        }
    }
    if let Some(ttl_fn) = &o.ttl_fn {
        if let Expr::Path(path) = &ttl_fn.value {
            if path
                .path
                .segments
                .first()
                .is_some_and(|s| s.ident == "Self")
            {
                errors.push(syn::Error::new_spanned(
                    &ttl_fn.tokens,
                    "`ttl_fn` cannot name `Self`: the cache is a static, which cannot refer to `Self`; \
                     write the type's name (`Catalog::ttl_of`) or use a free function",
                ));
            }
        }
    }
}

/// `returns = "..."`: the split it asks for; `false` after recording why it
/// cannot apply.
fn apply_returns(
    o: &Options,
    output: &mut Output,
    sig: &syn::Signature,
    errors: &mut Errors,
) -> bool {
    let Some(returns) = &o.returns else {
        return true;
    };
    let ty = &output.ty;
    let split = match returns.value {
        Returns::Plain => Split::Written {
            shape: Shape::Plain,
            value: Box::new(ty.clone()),
        },
        Returns::Result if !signature::may_be_alias(ty) => {
            let message = returns_no_result(sig);
            errors.push(syn::Error::new_spanned(&returns.tokens, message));
            return false;
        }
        // The type checker can look, and finds out by itself; the generated
        // code asserts that it finds a `Result`.
        Returns::Result if output.split == Split::Probed => return true,
        Returns::Result => match signature::type_arguments(ty).first() {
            Some(&ok) => Split::Written {
                shape: Shape::Fallible,
                value: Box::new(ok.clone()),
            },
            None => {
                errors.push(syn::Error::new_spanned(
                    &returns.tokens,
                    format!(
                        "`returns = \"result\"` needs the `Ok` type as the first type argument of `{}`, \
                         as in `AppResult<T, E>`: write the return type that way, or as `Result<T, E>`",
                        written(ty)
                    ),
                ));
                return false;
            }
        },
    };
    output.split = split;
    true
}

/// Options that need a particular return type, and the value type itself.
///
/// When the value may be an `Option` or the return type a `Result` that the
/// tokens do not show, the generated code checks with a const assertion at
/// the option (see `expand`); here, only what the tokens rule out.
fn check_output(o: &Options, output: &Output, sig: &syn::Signature, errors: &mut Errors) {
    if !output.may_be_option() {
        for (name, what) in none_options(o) {
            errors.push(syn::Error::new(name.span(), not_an_option(name, what, sig)));
        }
    }
    if let (
        Some(stale),
        Split::Written {
            shape: Shape::Plain,
            ..
        },
    ) = (&o.stale_if_error, &output.split)
    {
        errors.push(match &o.returns {
            Some(returns) if returns.value == Returns::Plain => stale.error(
                "`stale_if_error` serves the last good value when the function returns `Err`, \
                 but `returns = \"plain\"` caches every return value, `Err` included: remove one of them",
            ),
            _ => stale.error(not_a_result(sig)),
        });
    }
    if let Split::Written { value, shape } = &output.split {
        if let Err(error) = types::check(value, &sig.generics, Role::Value) {
            let storable = |ty: &Type| types::problems(ty, &sig.generics).is_empty();
            errors.push(match (shape, &signature::type_arguments(&output.ty)[..]) {
                // `AppResult<u64, E>`: if it is an alias of `Result`, `returns`
                // caches its `u64`, which a static can hold.
                (Shape::Plain, [ok, rest @ ..])
                    if o.returns.is_none() && storable(ok) && !rest.iter().all(|ty| storable(ty)) =>
                {
                    syn::Error::new(
                        error.span(),
                        format!(
                            "{error}. If `{}` is an alias of `Result`, add `returns = \"result\"` to cache only its `Ok` type `{}` \
                             (an alias that uses the function's generic parameters or borrows cannot be looked through)",
                            written(&output.ty),
                            written(ok)
                        ),
                    )
                }
                _ => error,
            });
        }
    }
}

/// A type as the user would write it, for messages: `AppResult<u64, E>`
/// rather than the token string `AppResult < u64 , E >`.
fn written(ty: &Type) -> String {
    let text = ty.to_token_stream().to_string();
    [
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" ,", ","),
        (" :: ", "::"),
        (":: ", "::"),
        ("& ", "&"),
    ]
    .iter()
    .fold(text, |text, (from, to)| text.replace(from, to))
}

/// `none_ttl` and `skip_none`, those given, with what each does.
pub(crate) fn none_options(o: &Options) -> impl Iterator<Item = (&Ident, &'static str)> {
    [
        (
            o.none_ttl.as_ref().map(|x| &x.name),
            "is the TTL of cached `None` results",
        ),
        (
            o.skip_none.as_ref().map(|x| &x.name),
            "leaves `None` results out of the cache",
        ),
    ]
    .into_iter()
    .filter_map(|(name, what)| Some((name?, what)))
}

/// Why `none_ttl` or `skip_none` (`name`, which `what`) cannot apply.
pub(crate) fn not_an_option(name: &Ident, what: &str, sig: &syn::Signature) -> String {
    format!(
        "`{name}` {what}, but `{}` does not return an `Option` (nor a `Result<Option<T>, E>`): remove `{name}`",
        sig.ident
    )
}

/// Why `returns = "result"` cannot apply.
pub(crate) fn returns_no_result(sig: &syn::Signature) -> String {
    format!(
        "`returns = \"result\"` caches only the `Ok` values of a `Result`, but `{}` does not return a `Result`: remove `returns`",
        sig.ident
    )
}

/// Why `stale_if_error` cannot apply.
pub(crate) fn not_a_result(sig: &syn::Signature) -> String {
    format!(
        "`stale_if_error` serves the last good value when the function returns `Err`, but `{}` does not return a `Result`: \
         remove `stale_if_error`",
        sig.ident
    )
}

/// `#[skip]` with `key`, and methods without `key`.
fn check_key_choice(o: &Options, sig: &Signature, errors: &mut Errors) {
    if o.key.is_some() {
        for skip in sig.args.iter().filter_map(|arg| arg.skip.as_ref()) {
            errors.push(syn::Error::new_spanned(
                skip,
                "`#[skip]` and `key = ...` both choose the key; pick one: with `key`, the arguments it does not name \
                 are already left out, so remove `#[skip]`",
            ));
        }
    }
    if let (Some(receiver), None) = (&sig.receiver, &o.key) {
        errors.push(syn::Error::new_spanned(
            receiver,
            "a memoized method needs `key = ...`: `self` is never hashed implicitly. Name the arguments that make the key \
             (`key = id`, `key = (id, page)`), and add `key_type = ...` to include a field of `self` (`key = (self.shop_id, id), key_type = (u64, u64)`)",
        ));
    }
}

/// `refresh_ahead` runs the body again later: every argument must be owned.
fn check_refresh_ahead(sig: &Signature, errors: &mut Errors) {
    let why = "`refresh_ahead` runs the body again in a background task, so it needs owned `Send + 'static` arguments";
    if let Some(receiver) = &sig.receiver {
        errors.push(syn::Error::new_spanned(
            receiver,
            format!("{why}, and a method's `self` cannot be moved into that task: memoize a free function that takes owned arguments (an `Arc` for shared state), or remove `refresh_ahead`"),
        ));
    }
    for arg in &sig.args {
        if let Some(problem) = types::borrow(&arg.ty) {
            let what = match &arg.pat {
                syn::Pat::Ident(p) => format!("`{}`", p.ident),
                _ => "this argument".to_string(),
            };
            let at: TokenStream = match problem {
                Problem::Lifetime(lifetime) => lifetime.to_token_stream(),
                _ => arg.ty.to_token_stream(),
            };
            errors.push(syn::Error::new_spanned(
                at,
                format!("{why}, but {what} is borrowed: take it by value (for example an `Arc<...>` or another cheap `Clone` handle), or remove `refresh_ahead`"),
            ));
        } else if let Some(binding) = arg.bindings.iter().find(|b| b.by_ref) {
            errors.push(syn::Error::new(
                binding.ident.span(),
                format!(
                    "{why}, but `{}` is bound by reference: remove `ref`",
                    binding.ident
                ),
            ));
        }
    }
}

/// The handle's name: `name = ...`, or the function's name in capitals, or
/// for a method `<method>_cache`.
fn handle(o: &Options, sig: &syn::Signature, method: bool, errors: &mut Errors) -> Ident {
    let fn_name = sig.ident.to_string();
    let fn_name = fn_name.trim_start_matches("r#");
    match &o.name {
        Some(name) if name.value == fn_name => {
            errors.push(syn::Error::new_spanned(
                &name.tokens,
                format!("`name` must differ from the function's own name `{fn_name}`: both live in the same namespace"),
            ));
            name.value.clone()
        }
        Some(name) => name.value.clone(),
        None if method => format_ident!("{}_cache", fn_name, span = sig.ident.span()),
        None => Ident::new(&fn_name.to_uppercase(), sig.ident.span()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn types_written_as_users_write_them() {
        let shown = |ty: Type| written(&ty);
        assert_eq!(shown(parse_quote!(AppResult<u64, E>)), "AppResult<u64, E>");
        assert_eq!(shown(parse_quote!(Resp<'a>)), "Resp<'a>");
        assert_eq!(
            shown(parse_quote!(std::io::Result<Vec<&'a str>>)),
            "std::io::Result<Vec<&'a str>>"
        );
    }
}
