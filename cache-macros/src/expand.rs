//! Code generation. The generated code stays small: it computes the key,
//! then hands the key and the body (as a closure or a future) to a generic
//! function of `memocache::__private`, which does all the caching.
//!
//! A free function becomes
//!
//! ```text
//! fn name(args) -> R {
//!     let __memocache_key: K = /* key from the arguments */;
//!     memocache::__private::call_sync(&NAME, __memocache_key, memocache::__private::Plain, || -> R { body })
//! }
//! static NAME: memocache::Cache<K, V> = memocache::Cache::new(/* const config */);
//! ```
//!
//! and a method keeps its cache in a static inside a generated associated
//! function `name_cache()`, since an `impl` block cannot hold a static.

use crate::attr::{Codec, Store};
use crate::flavor::Flavor;
use crate::signature::Shape;
use crate::validate::Plan;
use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::visit_mut::{self, VisitMut};
use syn::{AttrStyle, FnArg, Ident};

/// The memoized function and its cache handle.
pub(crate) fn expand(plan: &Plan) -> TokenStream {
    let krate = &plan.krate;
    let (key, value) = (&plan.key.ty, &plan.output.value);
    let cache = plan.flavor.cache_type(krate);
    let config = config(plan);
    let make = match remote_codec(plan) {
        Some(codec) => quote! {
            #cache::with_remote(#config, #krate::__private::redis_tier::<#key, #value, #krate::__private::#codec>)
        },
        None => quote!(#cache::new(#config)),
    };
    let handle = &plan.handle;
    let doc = doc(plan);
    let vis = &plan.func.vis;
    if plan.is_method() {
        let func = function(plan, quote!(Self::#handle()));
        quote! {
            #[doc = #doc]
            #vis fn #handle() -> &'static #cache<#key, #value> {
                static HANDLE: #cache<#key, #value> = #make;
                &HANDLE
            }
            #func
        }
    } else {
        let func = function(plan, quote!(&#handle));
        quote! {
            #func
            #[doc = #doc]
            #vis static #handle: #cache<#key, #value> = #make;
        }
    }
}

/// The function with its body replaced by a call into the runtime; `cache`
/// is an expression of type `&'static Cache<K, V>`.
fn function(plan: &Plan, cache: TokenStream) -> TokenStream {
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
    let shape = match plan.output.shape {
        Shape::Plain => quote!(#krate::__private::Plain),
        Shape::Fallible => quote!(#krate::__private::Fallible),
    };
    // The async block's output is pinned to the return type, so `?` and
    // `.into()` in the body infer as they do in the original function.
    let future = quote!(async move { let #out: #ret = #block; #out });
    let call = match (plan.flavor, &plan.options.refresh_ahead) {
        (Flavor::Sync, _) => quote! {
            #krate::__private::call_sync_in(#cache, &#slot, #key, #shape, || -> #ret #block)
        },
        (Flavor::Async, None) => quote! {
            #krate::__private::call_async(#cache, &#slot, #key, #shape, #future).await
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
                #krate::__private::call_async_refreshing(#cache, &#slot, #key, #shape, move || { #(#rebind)* #future }).await
            }
        }
    };
    let (key_type, key_value) = (&plan.key.ty, &plan.key.value);
    let value_type = &plan.output.value;
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            ::std::thread_local! {
                static #slot: #krate::__private::ThreadSlot<#key_type, #value_type> =
                    const { #krate::__private::ThreadSlot::new() };
            }
            let #key: #key_type = #key_value;
            #call
        }
    }
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
fn config(plan: &Plan) -> TokenStream {
    let o = &plan.options;
    let krate = &plan.krate;
    let value = &plan.output.value;
    let duration = |nanos: u64| quote!(#krate::__private::Duration::from_nanos(#nanos));
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
        let size = Literal::u64_unsuffixed(size.value);
        chain.extend(quote_spanned!(size.span()=> .size(#size)));
    }
    if let Some(unbounded) = &o.unbounded {
        chain.extend(quote_spanned!(unbounded.name.span()=> .unbounded()));
    }
    if let Some(ttl) = &o.ttl {
        let ttl_value = duration(ttl.value);
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
        let none_ttl_value = duration(none_ttl.value);
        chain.extend(quote_spanned!(none_ttl.name.span()=> .none_ttl(#none_ttl_value)));
    }
    if let Some(skip_none) = &o.skip_none {
        chain.extend(quote_spanned!(skip_none.name.span()=> .skip_none()));
    }
    if plan.output.is_option {
        chain.extend(quote!(.is_none(::core::option::Option::is_none)));
    }
    if let Some(stale) = &o.stale_if_error {
        chain.extend(quote_spanned!(stale.name.span()=> .stale_if_error()));
    }
    if let Some(refresh) = &o.refresh_ahead {
        let refresh_value = duration(refresh.value);
        chain.extend(quote_spanned!(refresh.name.span()=> .refresh_ahead(#refresh_value)));
    }
    if let Some(single_flight) = o.single_flight.as_ref().filter(|s| !s.value) {
        chain.extend(quote_spanned!(single_flight.name.span()=> .single_flight(false)));
    }
    if let Some(version) = &o.version {
        let number = Literal::u64_unsuffixed(version.value);
        chain.extend(quote_spanned!(version.name.span()=> .version(#number)));
    }
    if let Some(store) = o.store.as_ref().filter(|s| s.value == Store::Redis) {
        chain.extend(quote_spanned!(store.name.span()=> .remote_only()));
    }
    chain
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
        file.items
            .iter()
            .map(|i| quote!(#i).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

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
            ":: std :: thread_local ! { static __MEMOCACHE_SLOT : :: memocache :: __private :: ThreadSlot < u64 , Option < u64 > > = const { :: memocache :: __private :: ThreadSlot :: new () } ; } ",
            "let __memocache_key : u64 = :: core :: clone :: Clone :: clone (& n) ; ",
            ":: memocache :: __private :: call_sync_in (& SQUARE , & __MEMOCACHE_SLOT , __memocache_key , :: memocache :: __private :: Plain , ",
            "| | -> Option < u64 > { Some (n * n) }) }\n",
            "# [doc = \"Cache of [`square`], generated by `#[cached]`; keyed by `n`.\\n\\n`SQUARE.invalidate(&key)` drops one entry, ",
            "`SQUARE.clear()` drops them all, and `SQUARE.stats()` reads hits, misses, evictions and size.\"] ",
            "pub static SQUARE : :: memocache :: Cache < u64 , Option < u64 > > = :: memocache :: Cache :: new (",
            ":: memocache :: __private :: Config :: < Option < u64 > > :: new (",
            ":: core :: concat ! (:: core :: module_path ! () , \"::\" , \"square\")) ",
            ". size (10) . ttl (:: memocache :: __private :: Duration :: from_nanos (1000000000u64)) ",
            ". is_none (:: core :: option :: Option :: is_none)) ;",
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
        let chain = [
            ":: facade :: memocache :: __private :: Config :: < Option < u8 > > :: new (\"ns\") . size (5) ",
            ". ttl (:: facade :: memocache :: __private :: Duration :: from_nanos (2000000000u64)) . sliding () . ttl_fn (ttl_of) ",
            ". none_ttl (:: facade :: memocache :: __private :: Duration :: from_nanos (1000000000u64)) ",
            ". is_none (:: core :: option :: Option :: is_none) . stale_if_error () ",
            ". refresh_ahead (:: facade :: memocache :: __private :: Duration :: from_nanos (500000000u64)) ",
            ". single_flight (false) . version (3)",
        ]
        .concat();
        assert!(out.contains(&chain), "{out}");
        assert!(
            out.contains(
                "static LOOKUP : :: facade :: memocache :: AsyncCache < u64 , Option < u8 > >"
            ),
            "{out}"
        );
        assert!(out.contains("call_async_refreshing (& LOOKUP , & __MEMOCACHE_SLOT , __memocache_key , :: facade :: memocache :: __private :: Fallible"));
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
            ":: memocache :: __private :: call_async (& GET , & __MEMOCACHE_SLOT , __memocache_key , :: memocache :: __private :: Plain , ",
            "async move { let __memocache_out : Vec < u8 > = { vec ! [] } ; __memocache_out }) . await }",
        ]
        .concat();
        assert!(out.contains(&call), "{out}");
        assert!(out.contains(
            "static GET : :: memocache :: AsyncCache < :: std :: string :: String , Vec < u8 > >"
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
        let expected = [
            "# [doc = \"Cache of [`Self::price`], generated by `#[cached]`; keyed by `id`.\\n\\n",
            "`Self::price_cache().invalidate(&key)` drops one entry, `Self::price_cache().clear()` drops them all, ",
            "and `Self::price_cache().stats()` reads hits, misses, evictions and size.\"] ",
            "pub fn price_cache () -> & 'static :: memocache :: Cache < u64 , u64 > { ",
            "static HANDLE : :: memocache :: Cache < u64 , u64 > = :: memocache :: Cache :: new (",
            ":: memocache :: __private :: Config :: < u64 > :: new (:: core :: concat ! (:: core :: module_path ! () , \"::\" , \"price\"))) ; ",
            "& HANDLE }\n",
            "pub fn price (& self , id : u64) -> u64 { ",
            ":: std :: thread_local ! { static __MEMOCACHE_SLOT : :: memocache :: __private :: ThreadSlot < u64 , u64 > = const { :: memocache :: __private :: ThreadSlot :: new () } ; } ",
            "let __memocache_key : u64 = :: core :: clone :: Clone :: clone (& id) ; ",
            ":: memocache :: __private :: call_sync_in (Self :: price_cache () , & __MEMOCACHE_SLOT , __memocache_key , :: memocache :: __private :: Plain , ",
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
