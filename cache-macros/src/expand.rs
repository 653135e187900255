//! Code generation. The generated code stays small: it computes the key,
//! then hands the key and the body (as a closure or a future) to a generic
//! function of `memocache::bounds::call` (which asserts that the key and value
//! can be cached) and on to the runtime, which does all the caching.
//!
//! A free function becomes
//!
//! ```text
//! fn name(args) -> R {
//!     thread_local! { static __MEMOCACHE_SLOT: ThreadSlot<K, V> = ... }
//!     let __memocache_key: K = /* key from the arguments */;
//!     memocache::bounds::call::cached(&NAME, &__MEMOCACHE_SLOT, __memocache_key, SHAPE, || -> R { body })
//! }
//! type __memocache_name = memocache::__private::Returns<R, { /* is R a Result? */ }>;
//! static NAME: memocache::Cache<K, V> = memocache::Cache::new(/* const config */);
//! ```
//!
//! where the type alias asks the type checker whether `R` is a `Result`, so
//! that `V` is `Value<__memocache_name>` (`T` of `Result<T, E>`, or `R`) and
//! `SHAPE` is `<__memocache_name as Split>::SHAPE`; a return type that cannot
//! be named there is split from its tokens instead (`signature::Split`).
//! A method keeps its cache in a static inside a generated associated
//! function `name_cache()`, since an `impl` block cannot hold a static, and
//! the alias inside that function and inside the method.

use crate::attr::{Codec, Given, Opt, Returns, Store};
use crate::flavor::Flavor;
use crate::signature::{Shape, Split};
use crate::validate::{self, Plan};
use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{AttrStyle, FnArg, Ident};

/// The memoized function and its cache handle.
pub(crate) fn expand(plan: &Plan) -> TokenStream {
    let krate = &plan.krate;
    let split = Value::new(plan);
    let (key, value) = (&plan.key.ty, split.ty());
    let alias = split.alias();
    let checks = checks(plan, &split);
    let cache = plan.flavor.cache_type(krate);
    let config = config(plan, &split);
    let make = match remote_codec(plan) {
        Some(codec) => {
            let factory = if has_local_tier(plan) {
                quote!(redis_tiered)
            } else {
                quote!(redis_tier)
            };
            quote! {
                #cache::with_remote(#config, #krate::__private::#factory::<#key, #value, #krate::__private::#codec>)
            }
        }
        None => quote!(#cache::new(#config)),
    };
    let handle = &plan.handle;
    let doc = doc(plan);
    let vis = &plan.func.vis;
    if plan.is_method() {
        // The alias is not in scope in the signature.
        let inline = split.inline_ty();
        let func = function(plan, &split, quote!(Self::#handle()), alias.clone());
        quote! {
            #[doc = #doc]
            #vis fn #handle() -> &'static #cache<#key, #inline> {
                #alias
                #checks
                static HANDLE: #cache<#key, #value> = #make;
                &HANDLE
            }
            #func
        }
    } else {
        let func = function(plan, &split, quote!(&#handle), TokenStream::new());
        // Before the function, so that rustc reports a type that cannot be
        // cached at the argument or return type first.
        let bounds = bounds(plan, &split);
        quote! {
            #bounds
            #func
            #alias
            #checks
            #[doc = #doc]
            #vis static #handle: #cache<#key, #value> = #make;
        }
    }
}

/// The cached value type `V` and the shape of the call, as the generated code
/// writes them: through a type alias of `Returns<R, FALLIBLE>` when the type
/// checker splits the return type `R`, as written otherwise.
struct Value<'a> {
    plan: &'a Plan,
    /// `Returns<R, { Probe::<R>::IS_RESULT }>`, named by `alias`.
    returns: Option<TokenStream>,
    alias: Ident,
}

impl<'a> Value<'a> {
    fn new(plan: &'a Plan) -> Self {
        let krate = &plan.krate;
        let ret = &plan.output.ty;
        let returns = (plan.output.split == Split::Probed).then(|| {
            let fallible = probe(krate, ret, "NotResult", "IS_RESULT");
            quote!(#krate::__private::Returns<#ret, #fallible>)
        });
        let name = plan.func.sig.ident.to_string();
        Value {
            plan,
            returns,
            alias: format_ident!("__memocache_{}", name.trim_start_matches("r#")),
        }
    }

    /// `V`, with the alias in scope.
    fn ty(&self) -> TokenStream {
        let krate = &self.plan.krate;
        match (&self.returns, &self.plan.output.split) {
            (Some(_), _) => {
                let alias = &self.alias;
                quote!(#krate::__private::Value<#alias>)
            }
            (None, Split::Written { value, .. }) => value.to_token_stream(),
            (None, Split::Probed) => unreachable!("a split by the type checker has an alias"),
        }
    }

    /// `V`, without the alias.
    fn inline_ty(&self) -> TokenStream {
        let krate = &self.plan.krate;
        match &self.returns {
            Some(returns) => quote!(#krate::__private::Value<#returns>),
            None => self.ty(),
        }
    }

    /// The type alias, if the type checker splits.
    fn alias(&self) -> TokenStream {
        let alias = &self.alias;
        self.returns
            .as_ref()
            .map_or_else(TokenStream::new, |returns| {
                quote! {
                    #[allow(non_camel_case_types)]
                    type #alias = #returns;
                }
            })
    }

    /// The shape argument of the call path.
    fn shape(&self) -> TokenStream {
        let krate = &self.plan.krate;
        let alias = &self.alias;
        match &self.plan.output.split {
            Split::Probed => quote!(<#alias as #krate::__private::Split>::SHAPE),
            Split::Written {
                shape: Shape::Plain,
                ..
            } => quote!(#krate::__private::Plain),
            Split::Written {
                shape: Shape::Fallible,
                ..
            } => quote!(#krate::__private::Fallible),
        }
    }

    /// `Probe::<V>::NONE_TEST`: `Some(Option::is_none)` if `V` is an `Option`.
    fn none_test(&self) -> TokenStream {
        probe(&self.plan.krate, self.ty(), "NotOption", "NONE_TEST")
    }
}

/// `Probe::<ty>::konst`, with the trait that answers for other types in scope.
fn probe(krate: &syn::Path, ty: impl ToTokens, otherwise: &str, konst: &str) -> TokenStream {
    let otherwise = Ident::new(otherwise, Span::call_site());
    let konst = Ident::new(konst, Span::call_site());
    quote!({
        #[allow(unused_imports)]
        use #krate::__private::#otherwise as _;
        #krate::__private::Probe::<#ty>::#konst
    })
}

/// Const assertions for the options that need a particular return type when
/// only the type checker can tell whether it is one, each spanned on its
/// option so that the failure points there.
fn checks(plan: &Plan, split: &Value) -> TokenStream {
    let mut checks = TokenStream::new();
    let sig = &plan.func.sig;
    for (name, what) in validate::none_options(&plan.options) {
        let message = validate::not_an_option(name, what, sig);
        let none_test = split.none_test();
        checks.extend(quote_spanned! {name.span()=>
            const _: () = ::core::assert!(#none_test.is_some(), #message);
        });
    }
    if plan.output.split == Split::Probed {
        let o = &plan.options;
        let returns = o.returns.as_ref().filter(|r| r.value == Returns::Result);
        let needs_result = [
            (returns.map(|r| &r.name), validate::returns_no_result(sig)),
            (
                o.stale_if_error.as_ref().map(|s| &s.name),
                validate::not_a_result(sig),
            ),
        ];
        let (krate, alias) = (&plan.krate, &split.alias);
        for (name, message) in needs_result {
            if let Some(name) = name {
                checks.extend(quote_spanned! {name.span()=>
                    const _: () = ::core::assert!(<#alias as #krate::__private::Split>::FALLIBLE, #message);
                });
            }
        }
    }
    checks
}

/// The function with its body replaced by a call into the runtime; `cache`
/// is an expression of type `&'static Cache<K, V>`, and `alias` the type
/// alias that `V` needs in the body, if not in scope already.
fn function(plan: &Plan, split: &Value, cache: TokenStream, alias: TokenStream) -> TokenStream {
    let krate = &plan.krate;
    let func = &plan.func;
    let (outer, inner): (Vec<_>, Vec<_>) = func
        .attrs
        .iter()
        .partition(|a| matches!(a.style, AttrStyle::Outer));
    let (vis, block) = (&func.vis, &func.block);
    let mut sig = func.sig.clone();
    if plan.options.refresh_ahead.is_some() {
        // The factory re-binds each argument (`let mut a = a.clone();`):
        // the parameters themselves are no longer mutated.
        for input in &mut sig.inputs {
            if let FnArg::Typed(arg) = input {
                Immutable.visit_pat_mut(&mut arg.pat);
            }
        }
    }
    let ret = &plan.output.ty;
    // Mixed-site hygiene: the body cannot see (or shadow) these.
    let key = Ident::new("__memocache_key", Span::mixed_site());
    let out = Ident::new("__memocache_out", Span::mixed_site());
    let slot = Ident::new("__MEMOCACHE_SLOT", Span::mixed_site());
    let shape = split.shape();
    // The async block's output is pinned to the return type, so `?` and
    // `.into()` in the body infer as they do in the original function.
    let future = quote!(async move { let #out: #ret = #block; #out });
    let call = match (plan.flavor, &plan.options.refresh_ahead) {
        (Flavor::Sync, _) => quote! {
            #krate::bounds::call::cached(#cache, &#slot, #key, #shape, || -> #ret #block)
        },
        (Flavor::Async, None) => quote! {
            #krate::bounds::call::async_cached(#cache, &#slot, #key, #shape, #future).await
        },
        (Flavor::Async, Some(_)) => {
            // A factory that a background refresh can call again: each call
            // clones the (owned) arguments into a new future.
            let rebind = plan
                .args
                .iter()
                .flat_map(|arg| &arg.bindings)
                .map(|binding| {
                    let (ident, mutability) = (&binding.ident, &binding.mutability);
                    // Spanned on the argument: "`Db: Clone` is not satisfied" points there.
                    quote_spanned! {ident.span()=>
                        #[allow(unused_variables, unused_mut)]
                        let #mutability #ident = ::core::clone::Clone::clone(&#ident);
                    }
                });
            quote! {
                #krate::bounds::call::async_refreshing(#cache, &#slot, #key, #shape, move || { #(#rebind)* #future }).await
            }
        }
    };
    let (key_type, key_value) = (&plan.key.ty, &plan.key.value);
    let value_type = split.ty();
    // A method's assertions go in its body, with the alias; a free
    // function's before it (see `expand`).
    let bounds = if plan.is_method() {
        bounds(plan, split)
    } else {
        TokenStream::new()
    };
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #alias
            #bounds
            ::std::thread_local! {
                static #slot: #krate::__private::ThreadSlot<#key_type, #value_type> =
                    const { #krate::__private::ThreadSlot::new() };
            }
            let #key: #key_type = #key_value;
            #call
        }
    }
}

/// Const assertions that the key's parts and the value can be cached, each
/// spanned on the type the user wrote, so that rustc reports a type that
/// cannot at that argument or at the return type, in the words of
/// `memocache::bounds`.
fn bounds(plan: &Plan, split: &Value) -> TokenStream {
    let krate = &plan.krate;
    let mut bounds = TokenStream::new();
    for (ty, span) in &plan.key.parts {
        let ty = respan(ty.clone(), *span);
        bounds.extend(quote_spanned! {*span=>
            const _: () = #krate::bounds::key_part::<#ty>();
        });
    }
    let span = match &plan.output.split {
        Split::Written { value, .. } => value.span(),
        Split::Probed => plan.output.ty.span(),
    };
    let value = respan(split.ty(), span);
    bounds.extend(quote_spanned! {span=>
        const _: () = #krate::bounds::cache_value::<#value>();
    });
    bounds
}

/// `tokens` with every span set to `span`, so that an error about a
/// generated type points where the user wrote it.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = inner.into();
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// Removes `mut` from the bindings of a pattern.
struct Immutable;

impl VisitMut for Immutable {
    fn visit_pat_ident_mut(&mut self, pat: &mut syn::PatIdent) {
        pat.mutability = None;
        visit_mut::visit_pat_ident_mut(self, pat);
    }
}

/// The const builder chain of the cache's configuration: only the options
/// that were given, each spanned on its option so that type errors (a
/// `ttl_fn` of the wrong type) point there.
fn config(plan: &Plan, split: &Value) -> TokenStream {
    let o = &plan.options;
    let krate = &plan.krate;
    let value = split.ty();
    let duration = |option: &Opt<Given<u64>>| match &option.value {
        Given::Literal(nanos) => quote!(#krate::__private::Duration::from_nanos(#nanos)),
        Given::Const(expr) => konst(
            expr,
            quote!(#krate::__private::Duration),
            Some((
                quote!(!__MEMOCACHE_VALUE.is_zero()),
                format!(
                    "`{}` must be longer than zero; {}",
                    option.name,
                    crate::duration::zero_hint(&option.name.to_string())
                ),
            )),
        ),
    };
    let namespace = match &o.namespace {
        Some(namespace) => namespace.tokens.clone(),
        None => {
            let name = plan.func.sig.ident.to_string();
            let name = name.trim_start_matches("r#");
            quote!(::core::concat!(::core::module_path!(), "::", #name))
        }
    };
    let mut chain = quote!(#krate::__private::Config::<#value>::new(#namespace));
    if let Some(size) = &o.size {
        let mut entries = match &size.value {
            Given::Literal(n) => Literal::u64_unsuffixed(*n).into_token_stream(),
            Given::Const(expr) => konst(
                expr,
                quote!(usize),
                Some((
                    quote!(__MEMOCACHE_VALUE >= 1),
                    "`size` must be at least 1: it is the most entries the cache holds; \
                     for a cache without a bound write `unbounded` instead"
                        .to_string(),
                )),
            ),
        };
        if let Given::Const(_) = &size.value {
            // The assertion reports 0; 1 keeps `Config::size` from reporting it again.
            entries = quote!({
                let entries: usize = #entries;
                if entries == 0 { 1 } else { entries }
            });
        }
        chain.extend(quote_spanned!(size.name.span()=> .size(#entries)));
    }
    if let Some(unbounded) = &o.unbounded {
        chain.extend(quote_spanned!(unbounded.name.span()=> .unbounded()));
    }
    if let Some(ttl) = &o.ttl {
        let ttl_value = duration(ttl);
        chain.extend(quote_spanned!(ttl.name.span()=> .ttl(#ttl_value)));
    }
    if let Some(sliding) = &o.sliding {
        chain.extend(quote_spanned!(sliding.name.span()=> .sliding()));
    }
    if let Some(ttl_fn) = &o.ttl_fn {
        let path = &ttl_fn.value;
        chain.extend(quote_spanned!(ttl_fn.name.span()=> .ttl_fn(#path)));
    }
    if let Some(none_ttl) = &o.none_ttl {
        let none_ttl_value = duration(none_ttl);
        chain.extend(quote_spanned!(none_ttl.name.span()=> .none_ttl(#none_ttl_value)));
    }
    if let Some(skip_none) = &o.skip_none {
        chain.extend(quote_spanned!(skip_none.name.span()=> .skip_none()));
    }
    if plan.output.may_be_option() {
        let none_test = split.none_test();
        chain.extend(quote!(.none_test(#none_test)));
    }
    if let Some(stale) = &o.stale_if_error {
        chain.extend(match stale.value {
            None => quote_spanned!(stale.name.span()=> .stale_if_error()),
            Some(nanos) => {
                let window = quote!(#krate::__private::Duration::from_nanos(#nanos));
                quote_spanned!(stale.name.span()=> .stale_if_error_for(#window))
            }
        });
    }
    if let Some(refresh) = &o.refresh_ahead {
        let refresh_value = duration(refresh);
        chain.extend(quote_spanned!(refresh.name.span()=> .refresh_ahead(#refresh_value)));
    }
    if let Some(single_flight) = o.single_flight.as_ref().filter(|s| !s.value) {
        chain.extend(quote_spanned!(single_flight.name.span()=> .single_flight(false)));
    }
    if let Some(version) = &o.version {
        let number = match &version.value {
            Given::Literal(n) => Literal::u64_unsuffixed(*n).into_token_stream(),
            Given::Const(expr) => konst(expr, quote!(u64), None),
        };
        chain.extend(quote_spanned!(version.name.span()=> .version(#number)));
    }
    if let Some(store) = o.store.as_ref().filter(|s| s.value == Store::Redis) {
        if !has_local_tier(plan) {
            chain.extend(quote_spanned!(store.name.span()=> .remote_only()));
        }
    }
    chain
}

/// A block that evaluates `expr` as a `const` of type `ty`, so that a value
/// of another type is a type error at `expr`, and that asserts `check` of it
/// (an expression of `__MEMOCACHE_VALUE`) with `message` at compile time.
fn konst(expr: &syn::Expr, ty: TokenStream, check: Option<(TokenStream, String)>) -> TokenStream {
    let span = expr.span();
    let check = check.map(|(holds, message)| {
        quote_spanned! {span=>
            const _: () = ::core::assert!(#holds, #message);
        }
    });
    quote_spanned! {span=>
        {
            const __MEMOCACHE_VALUE: #ty = #expr;
            #check
            __MEMOCACHE_VALUE
        }
    }
}

/// Whether a Redis cache keeps a local tier in front of Redis: `size` (or
/// `unbounded`) says how large.
fn has_local_tier(plan: &Plan) -> bool {
    plan.options.size.is_some() || plan.options.unbounded.is_some()
}

/// The codec type of a Redis cache (`None`: the cache has no remote tier).
fn remote_codec(plan: &Plan) -> Option<Ident> {
    let o = &plan.options;
    o.store.as_ref().filter(|s| s.value == Store::Redis)?;
    let (name, span) = match &o.codec {
        Some(codec) if codec.value == Codec::Json => ("Json", codec.name.span()),
        Some(codec) => ("Bincode", codec.name.span()),
        None => ("Bincode", Span::call_site()),
    };
    Some(Ident::new(name, span))
}

/// The handle's documentation, linking the function.
fn doc(plan: &Plan) -> String {
    let name = plan.func.sig.ident.to_string();
    let attr = plan.flavor.attr();
    let key = &plan.key.describe;
    let (link, handle) = if plan.is_method() {
        (format!("Self::{name}"), format!("Self::{}()", plan.handle))
    } else {
        (name, plan.handle.to_string())
    };
    let awaited = match plan.flavor {
        Flavor::Sync => "",
        Flavor::Async => ".await",
    };
    format!(
        "Cache of [`{link}`], generated by `{attr}`; keyed by {key}.\n\n\
         `{handle}.invalidate(&key){awaited}` drops one entry, `{handle}.clear(){awaited}` drops them all, \
         and `{handle}.stats()` reads hits, misses, evictions and size."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Errors;
    use crate::{attr, signature, validate};
    use quote::quote;

    fn expanded(flavor: Flavor, args: TokenStream, item: TokenStream) -> String {
        let mut func: syn::ItemFn = syn::parse2(item).unwrap();
        let mut errors = Errors::default();
        let options = attr::Options::parse(flavor, args, &mut errors).unwrap();
        let sig = signature::analyze(&mut func, &mut errors);
        let plan = validate::plan(flavor, options, func, sig, errors).unwrap();
        let file: syn::File = syn::parse2(expand(&plan)).unwrap();
        // The bound assertions have a test of their own.
        let bounds = format!("{} ", bounds(&plan, &Value::new(&plan)));
        file.items
            .iter()
            .map(|i| quote!(#i).to_string().replace(&bounds, ""))
            .filter(|i| !(i.starts_with("const _ : ()") && i.contains(":: bounds ::")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn bound_assertions() {
        let out = expanded_with_bounds(
            quote!(key = (id, name)),
            quote!(
                fn get(id: u64, name: &str, db: Db) -> Result<Item, E> {
                    todo!()
                }
            ),
        );
        let bounds = [
            "const _ : () = :: memocache :: bounds :: key_part :: < (u64 , :: std :: string :: String) > () ; ",
            "const _ : () = :: memocache :: bounds :: cache_value :: < :: memocache :: __private :: Value < __memocache_get > > () ;",
        ]
        .concat();
        assert!(out.contains(&bounds), "{out}");
        let out = expanded_with_bounds(
            quote!(),
            quote!(
                fn get(id: u64, name: &str, #[skip] db: Db) -> Item {
                    todo!()
                }
            ),
        );
        let bounds = [
            "const _ : () = :: memocache :: bounds :: key_part :: < u64 > () ; ",
            "const _ : () = :: memocache :: bounds :: key_part :: < :: std :: string :: String > () ; ",
            "const _ : () = :: memocache :: bounds :: cache_value :: < :: memocache :: __private :: Value < __memocache_get > > () ;",
        ]
        .concat();
        assert!(out.contains(&bounds), "{out}");
    }

    fn expanded_with_bounds(args: TokenStream, item: TokenStream) -> String {
        let mut func: syn::ItemFn = syn::parse2(item).unwrap();
        let mut errors = Errors::default();
        let options = attr::Options::parse(Flavor::Sync, args, &mut errors).unwrap();
        let sig = signature::analyze(&mut func, &mut errors);
        let plan = validate::plan(Flavor::Sync, options, func, sig, errors).unwrap();
        expand(&plan).to_string()
    }

    /// `Value<alias>`, `V` of a return type split by the type checker.
    const VALUE: &str = ":: memocache :: __private :: Value < __memocache_square >";

    #[test]
    fn free_function() {
        let out = expanded(
            Flavor::Sync,
            quote!(size = 10, ttl = "1s"),
            quote!(
                /// Doc.
                pub fn square(n: u64, #[skip] db: &Db) -> Option<u64> {
                    Some(n * n)
                }
            ),
        );
        let expected = [
            r#"# [doc = r" Doc."] pub fn square (n : u64 , db : & Db) -> Option < u64 > { "#,
            ":: std :: thread_local ! { static __MEMOCACHE_SLOT : :: memocache :: __private :: ThreadSlot < u64 , ",
            VALUE,
            " > = const { :: memocache :: __private :: ThreadSlot :: new () } ; } ",
            "let __memocache_key : u64 = :: core :: clone :: Clone :: clone (& n) ; ",
            ":: memocache :: bounds :: call :: cached (& SQUARE , & __MEMOCACHE_SLOT , __memocache_key , ",
            "< __memocache_square as :: memocache :: __private :: Split > :: SHAPE , ",
            "| | -> Option < u64 > { Some (n * n) }) }\n",
            // The type checker tells whether the return type is a `Result`.
            "# [allow (non_camel_case_types)] type __memocache_square = :: memocache :: __private :: Returns < Option < u64 > , ",
            "{ # [allow (unused_imports)] use :: memocache :: __private :: NotResult as _ ; ",
            ":: memocache :: __private :: Probe :: < Option < u64 > > :: IS_RESULT } > ;\n",
            "# [doc = \"Cache of [`square`], generated by `#[cached]`; keyed by `n`.\\n\\n`SQUARE.invalidate(&key)` drops one entry, ",
            "`SQUARE.clear()` drops them all, and `SQUARE.stats()` reads hits, misses, evictions and size.\"] ",
            "pub static SQUARE : :: memocache :: Cache < u64 , ",
            VALUE,
            " > = :: memocache :: Cache :: new (",
            ":: memocache :: __private :: Config :: < ",
            VALUE,
            " > :: new (",
            ":: core :: concat ! (:: core :: module_path ! () , \"::\" , \"square\")) ",
            ". size (10) . ttl (:: memocache :: __private :: Duration :: from_nanos (1000000000u64)) ",
            // And whether the value is an `Option`.
            ". none_test ({ # [allow (unused_imports)] use :: memocache :: __private :: NotOption as _ ; ",
            ":: memocache :: __private :: Probe :: < ",
            VALUE,
            " > :: NONE_TEST })) ;",
        ]
        .concat();
        assert_eq!(out, expected);
    }

    #[test]
    fn every_option_in_the_config() {
        let out = expanded(
            Flavor::Async,
            quote!(
                size = 5,
                ttl = "2s",
                sliding,
                ttl_fn = ttl_of,
                stale_if_error,
                none_ttl = 1,
                refresh_ahead = "500ms",
                single_flight = false,
                version = 3,
                namespace = "ns",
                name = LOOKUP,
                crate = ::facade::memocache
            ),
            quote!(
                async fn get(id: u64) -> Result<Option<u8>, E> {
                    Ok(None)
                }
            ),
        );
        let value = ":: facade :: memocache :: __private :: Value < __memocache_get >";
        let chain = [
            ":: facade :: memocache :: __private :: Config :: < ",
            value,
            " > :: new (\"ns\") . size (5) ",
            ". ttl (:: facade :: memocache :: __private :: Duration :: from_nanos (2000000000u64)) . sliding () . ttl_fn (ttl_of) ",
            ". none_ttl (:: facade :: memocache :: __private :: Duration :: from_nanos (1000000000u64)) ",
            ". none_test ({ # [allow (unused_imports)] use :: facade :: memocache :: __private :: NotOption as _ ; ",
            ":: facade :: memocache :: __private :: Probe :: < ",
            value,
            " > :: NONE_TEST }) . stale_if_error () ",
            ". refresh_ahead (:: facade :: memocache :: __private :: Duration :: from_nanos (500000000u64)) ",
            ". single_flight (false) . version (3)",
        ]
        .concat();
        assert!(out.contains(&chain), "{out}");
        assert!(
            out.contains(&format!(
                "static LOOKUP : :: facade :: memocache :: AsyncCache < u64 , {value} >"
            )),
            "{out}"
        );
        assert!(
            out.contains(
                "async_refreshing (& LOOKUP , & __MEMOCACHE_SLOT , __memocache_key , \
                 < __memocache_get as :: facade :: memocache :: __private :: Split > :: SHAPE"
            ),
            "{out}"
        );
        // The type checker checks what the options need of the return type.
        let checks = [
            "const _ : () = :: core :: assert ! ({ # [allow (unused_imports)] use :: facade :: memocache :: __private :: NotOption as _ ; ",
            ":: facade :: memocache :: __private :: Probe :: < ",
            value,
            " > :: NONE_TEST } . is_some () , \"`none_ttl` is the TTL of cached `None` results, but `get` does not return an `Option` ",
            "(nor a `Result<Option<T>, E>`): remove `none_ttl`\") ;\n",
            "const _ : () = :: core :: assert ! (< __memocache_get as :: facade :: memocache :: __private :: Split > :: FALLIBLE , ",
            "\"`stale_if_error` serves the last good value when the function returns `Err`, but `get` does not return a `Result`: ",
            "remove `stale_if_error`\") ;",
        ]
        .concat();
        assert!(out.contains(&checks), "{out}");
    }

    #[test]
    fn split_from_the_tokens() {
        // A return type that uses the function's generic parameters cannot
        // be named next to the static: its spelling decides, without alias.
        let out = expanded(
            Flavor::Sync,
            quote!(none_ttl = "1s", stale_if_error),
            quote!(
                fn parse<E>(text: String) -> Result<Option<u64>, E> {
                    Ok(None)
                }
            ),
        );
        assert!(!out.contains("type __memocache_parse"), "{out}");
        assert!(
            out.contains(
                "__memocache_key , :: memocache :: __private :: Fallible , | | -> Result < Option < u64 > , E >"
            ),
            "{out}"
        );
        assert!(
            out.contains("static PARSE : :: memocache :: Cache < String , Option < u64 > >"),
            "{out}"
        );
        // Its value may still be an alias of `Option`: the type checker says.
        let none_test =
            "{ # [allow (unused_imports)] use :: memocache :: __private :: NotOption as _ ; \
                         :: memocache :: __private :: Probe :: < Option < u64 > > :: NONE_TEST }";
        assert!(out.contains(&format!(". none_test ({none_test})")), "{out}");
        assert!(
            out.contains(&format!(
                "const _ : () = :: core :: assert ! ({none_test} . is_some ()"
            )),
            "{out}"
        );
        assert!(!out.contains("FALLIBLE"), "{out}");
        // A value that cannot be an `Option` gets no test.
        let out = expanded(
            Flavor::Sync,
            quote!(),
            quote!(
                fn pair(n: u64) -> (u64, u64) {
                    (n, n)
                }
            ),
        );
        assert!(
            !out.contains("none_test") && !out.contains("type __memocache_pair"),
            "{out}"
        );
        assert!(out.contains(":: memocache :: __private :: Plain"), "{out}");
    }

    #[test]
    fn returns_option() {
        // `returns = "result"` where the type checker cannot look: the first
        // type argument is the `Ok` type.
        let out = expanded(
            Flavor::Sync,
            quote!(returns = "result"),
            quote!(
                fn load<E>(id: u64) -> AppResult<Item, E> {
                    todo!()
                }
            ),
        );
        assert!(
            out.contains(":: memocache :: __private :: Fallible , | | -> AppResult < Item , E >"),
            "{out}"
        );
        assert!(out.contains("Cache < u64 , Item >"), "{out}");
        // Where it can, it finds out by itself, and the option asserts that
        // it finds a `Result`.
        let out = expanded(
            Flavor::Sync,
            quote!(returns = "result"),
            quote!(
                fn load(id: u64) -> Answer {
                    todo!()
                }
            ),
        );
        assert!(
            out.contains("type __memocache_load = :: memocache :: __private :: Returns < Answer ,"),
            "{out}"
        );
        assert!(
            out.contains(
                "const _ : () = :: core :: assert ! (< __memocache_load as :: memocache :: __private :: Split > :: FALLIBLE , \
                 \"`returns = \\\"result\\\"` caches only the `Ok` values of a `Result`, but `load` does not return a `Result`: remove `returns`\") ;"
            ),
            "{out}"
        );
        // `returns = "plain"`: the whole value, `Err` included.
        let out = expanded(
            Flavor::Sync,
            quote!(returns = "plain"),
            quote!(
                fn load(id: u64) -> Answer {
                    todo!()
                }
            ),
        );
        assert!(!out.contains("type __memocache_load"), "{out}");
        assert!(
            out.contains(":: memocache :: __private :: Plain , | | -> Answer"),
            "{out}"
        );
        assert!(out.contains("Cache < u64 , Answer >"), "{out}");
    }

    #[test]
    fn async_function() {
        let out = expanded(
            Flavor::Async,
            quote!(),
            quote!(
                async fn get(name: &str) -> Vec<u8> {
                    vec![]
                }
            ),
        );
        let call = [
            "let __memocache_key : :: std :: string :: String = :: std :: borrow :: ToOwned :: to_owned (& * name) ; ",
            ":: memocache :: bounds :: call :: async_cached (& GET , & __MEMOCACHE_SLOT , __memocache_key , ",
            "< __memocache_get as :: memocache :: __private :: Split > :: SHAPE , ",
            "async move { let __memocache_out : Vec < u8 > = { vec ! [] } ; __memocache_out }) . await }",
        ]
        .concat();
        assert!(out.contains(&call), "{out}");
        assert!(out.contains(
            "static GET : :: memocache :: AsyncCache < :: std :: string :: String , :: memocache :: __private :: Value < __memocache_get > >"
        ));
    }

    #[test]
    fn refresh_ahead_factory() {
        let out = expanded(
            Flavor::Async,
            quote!(ttl = "1s", refresh_ahead = "1s", key = id),
            quote!(
                async fn get(State(db): State<Db>, Path(id): Path<u64>, mut n: u8) -> u64 {
                    n += 1;
                    id
                }
            ),
        );
        // The parameters lose `mut`: the factory's copies carry it.
        assert!(out.starts_with("async fn get (State (db) : State < Db > , Path (id) : Path < u64 > , n : u8) -> u64"), "{out}");
        let factory = [
            "move | | { # [allow (unused_variables , unused_mut)] let db = :: core :: clone :: Clone :: clone (& db) ; ",
            "# [allow (unused_variables , unused_mut)] let id = :: core :: clone :: Clone :: clone (& id) ; ",
            "# [allow (unused_variables , unused_mut)] let mut n = :: core :: clone :: Clone :: clone (& n) ; ",
            "async move { let __memocache_out : u64 = { n += 1 ; id } ; __memocache_out } }) . await",
        ]
        .concat();
        assert!(out.contains(&factory), "{out}");
    }

    #[test]
    fn method() {
        let out = expanded(
            Flavor::Sync,
            quote!(key = id),
            quote!(
                pub fn price(&self, id: u64) -> u64 {
                    id
                }
            ),
        );
        let returns = ":: memocache :: __private :: Returns < u64 , { # [allow (unused_imports)] \
                       use :: memocache :: __private :: NotResult as _ ; :: memocache :: __private :: Probe :: < u64 > :: IS_RESULT } >";
        // An `impl` block holds no type alias: one in each function's body,
        // and none in scope in the handle's signature.
        let alias =
            format!("# [allow (non_camel_case_types)] type __memocache_price = {returns} ; ");
        let value = ":: memocache :: __private :: Value < __memocache_price >";
        let expected = [
            "# [doc = \"Cache of [`Self::price`], generated by `#[cached]`; keyed by `id`.\\n\\n",
            "`Self::price_cache().invalidate(&key)` drops one entry, `Self::price_cache().clear()` drops them all, ",
            "and `Self::price_cache().stats()` reads hits, misses, evictions and size.\"] ",
            "pub fn price_cache () -> & 'static :: memocache :: Cache < u64 , :: memocache :: __private :: Value < ",
            returns,
            " > > { ",
            &alias,
            "static HANDLE : :: memocache :: Cache < u64 , ",
            value,
            " > = :: memocache :: Cache :: new (:: memocache :: __private :: Config :: < ",
            value,
            " > :: new (:: core :: concat ! (:: core :: module_path ! () , \"::\" , \"price\")) ",
            ". none_test ({ # [allow (unused_imports)] use :: memocache :: __private :: NotOption as _ ; ",
            ":: memocache :: __private :: Probe :: < ",
            value,
            " > :: NONE_TEST })) ; ",
            "& HANDLE }\n",
            "pub fn price (& self , id : u64) -> u64 { ",
            &alias,
            ":: std :: thread_local ! { static __MEMOCACHE_SLOT : :: memocache :: __private :: ThreadSlot < u64 , ",
            value,
            " > = const { :: memocache :: __private :: ThreadSlot :: new () } ; } ",
            "let __memocache_key : u64 = :: core :: clone :: Clone :: clone (& id) ; ",
            ":: memocache :: bounds :: call :: cached (Self :: price_cache () , & __MEMOCACHE_SLOT , __memocache_key , ",
            "< __memocache_price as :: memocache :: __private :: Split > :: SHAPE , ",
            "| | -> u64 { id }) }",
        ]
        .concat();
        assert_eq!(out, expected);
    }

    #[test]
    fn inner_attributes_stay_inside() {
        let out = expanded(
            Flavor::Sync,
            quote!(),
            quote!(
                fn once() -> u8 {
                    #![allow(unused)]
                    1
                }
            ),
        );
        assert!(
            out.starts_with("fn once () -> u8 { # ! [allow (unused)] :: std :: thread_local ! {"),
            "{out}"
        );
    }
}
