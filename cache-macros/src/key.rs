//! The cache key: its type and how to compute it from the arguments.
//!
//! By default the key is made of every binding of every argument not marked
//! `#[skip]`, in order: no binding gives `()`, one binding its own type (not
//! a 1-tuple, so `HANDLE.invalidate(&7)` works for `fn f(n: u64)`), several a
//! tuple. `key = expr` chooses the key instead; its type is inferred when
//! `expr` is an argument name or a (nested) tuple of them, and is given with
//! `key_type = T` otherwise.
//!
//! Each binding of type `T` contributes a `T` (cloned), or the owned form
//! of `U` when `T` is `&U`/`&mut U` (`&str` → `String`, `&[u8]` → `Vec<u8>`).

use crate::attr::Options;
use crate::errors::Errors;
use crate::signature::{unparen, Binding, Signature};
use crate::suggest;
use crate::types::{self, Role};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Expr, Generics, Ident, Type};

/// The derived key.
pub(crate) struct Key {
    /// The key type `K`.
    pub(crate) ty: TokenStream,
    /// An expression of type `K`, evaluated at the start of the body.
    pub(crate) value: TokenStream,
    /// The key as the user sees it, for the handle's docs: `` `(a, b)` ``.
    pub(crate) describe: String,
    /// The types that make up `ty`, each with where the user wrote it (an
    /// argument's type, `key_type`, the `key` expression), for the
    /// assertions that they can be part of a key.
    pub(crate) parts: Vec<(TokenStream, Span)>,
}

/// Derives the key of `sig` under `options`; `None` after recording errors.
pub(crate) fn derive(
    options: &Options,
    sig: &Signature,
    generics: &Generics,
    errors: &mut Errors,
) -> Option<Key> {
    match &options.key {
        Some(key) => {
            let key_type = options.key_type.as_ref().map(|t| &t.value);
            chosen(&key.value, key_type, sig, generics, errors)
        }
        None => of_arguments(sig, generics, errors),
    }
}

/// The key of `key = expr` (and `key_type = ty`).
fn chosen(
    expr: &Expr,
    key_type: Option<&Type>,
    sig: &Signature,
    generics: &Generics,
    errors: &mut Errors,
) -> Option<Key> {
    let bindings: Vec<&Binding> = sig.args.iter().flat_map(|arg| &arg.bindings).collect();
    if let Some(ty) = key_type {
        errors.ok(types::check(ty, generics, Role::KeyType))?;
    }
    let node = errors.ok(node(expr, &bindings, key_type.is_some()))?;
    let describe = format!("`{}`", source(expr));
    let (ty, value, at) = match key_type {
        Some(ty) => (ty.to_token_stream(), convert(&node, ty), ty.span()),
        None => {
            let (ty, value) = errors.ok(typed(&node, generics))?;
            (ty, value, expr.span())
        }
    };
    Some(Key {
        parts: vec![(ty.clone(), at)],
        ty,
        value,
        describe,
    })
}

/// The default key: every binding of every argument not marked `#[skip]`.
fn of_arguments(sig: &Signature, generics: &Generics, errors: &mut Errors) -> Option<Key> {
    let mut components = Vec::new();
    let mut parts = Vec::new();
    let mut names = Vec::new();
    let mut complete = true;
    for arg in sig.args.iter().filter(|arg| arg.skip.is_none()) {
        let unknown: Vec<String> = arg
            .bindings
            .iter()
            .filter(|b| b.ty.is_none())
            .map(|b| format!("`{}`", b.ident))
            .collect();
        if !unknown.is_empty() {
            let (what, them) = match unknown.len() {
                1 => ("type", "it"),
                _ => ("types", "they"),
            };
            errors.push(syn::Error::new_spanned(
                &arg.pat,
                format!(
                    "cannot infer the {what} of {} from this pattern, so {them} cannot be part of the cache key: \
                     choose the key with `key = ..., key_type = ...`, or mark the argument `#[skip]`",
                    unknown.join(", ")
                ),
            ));
            complete = false;
            continue;
        }
        for binding in &arg.bindings {
            names.push(binding.ident.to_string());
            let ty = binding.ty.as_ref().expect("checked above");
            match errors.ok(component(binding, ty, generics)) {
                Some(c) => {
                    let written = match unparen(ty) {
                        Type::Reference(reference) => reference.elem.span(),
                        ty => ty.span(),
                    };
                    parts.push((c.0.clone(), written));
                    components.push(c);
                }
                None => complete = false,
            }
        }
    }
    if !complete {
        return None;
    }
    let describe = match names.len() {
        0 => {
            "`()`: the function takes no arguments for the key, so it caches one value".to_string()
        }
        1 => format!("`{}`", names[0]),
        _ => format!("`({})`", names.join(", ")),
    };
    let (ty, value) = match components.len() {
        1 => components.pop().expect("one component"),
        _ => {
            let (types, values): (Vec<_>, Vec<_>) = components.into_iter().unzip();
            (quote!((#(#types),*)), quote!((#(#values),*)))
        }
    };
    Some(Key {
        ty,
        value,
        describe,
        parts,
    })
}

/// A `key = ...` expression, split into what can be typed from the
/// arguments and what cannot.
enum Node<'a> {
    /// `(a, b)`; `true` for a 1-tuple written `(a,)`.
    Tuple(Vec<Node<'a>>, bool),
    /// An argument binding.
    Binding(&'a Binding),
    /// Anything else: `user.id`, `name.len()`, `CONSTANT`.
    Other(&'a Expr),
}

/// Splits `expr`; an identifier that is no binding is an error, unless
/// `key_type` is given (then it may be a constant).
fn node<'a>(expr: &'a Expr, bindings: &[&'a Binding], has_key_type: bool) -> syn::Result<Node<'a>> {
    match expr {
        Expr::Paren(e) => node(&e.expr, bindings, has_key_type),
        Expr::Group(e) => node(&e.expr, bindings, has_key_type),
        Expr::Tuple(t) => {
            let mut errors = Errors::default();
            let nodes: Vec<_> = t
                .elems
                .iter()
                .filter_map(|e| errors.ok(node(e, bindings, has_key_type)))
                .collect();
            errors.finish()?;
            Ok(Node::Tuple(nodes, t.elems.len() == 1))
        }
        Expr::Path(p)
            if p.qself.is_none() && p.attrs.is_empty() && p.path.get_ident().is_some() =>
        {
            let ident = p.path.get_ident().expect("checked");
            if let Some(binding) = bindings.iter().find(|b| b.ident == *ident) {
                Ok(Node::Binding(binding))
            } else if has_key_type || ident == "self" {
                Ok(Node::Other(expr))
            } else {
                Err(unknown_argument(ident, bindings))
            }
        }
        _ => Ok(Node::Other(expr)),
    }
}

fn unknown_argument(ident: &Ident, bindings: &[&Binding]) -> syn::Error {
    let names: Vec<String> = bindings.iter().map(|b| b.ident.to_string()).collect();
    let message = match suggest::closest(&ident.to_string(), names.iter().map(String::as_str)) {
        Some(found) => format!("`key` names `{ident}`, which is not an argument of this function; did you mean `{found}`?"),
        None if names.is_empty() => {
            format!("`key` names `{ident}`, which is not an argument of this function (it has none)")
        }
        None => format!(
            "`key` names `{ident}`, which is not an argument of this function (its arguments are: {}); \
             to key on a constant or another expression, also give its type with `key_type = TYPE`",
            names.join(", ")
        ),
    };
    syn::Error::new(ident.span(), message)
}

/// The type and value of a key made only of bindings with known types.
fn typed(node: &Node, generics: &Generics) -> syn::Result<(TokenStream, TokenStream)> {
    match node {
        Node::Tuple(nodes, one) => {
            let mut errors = Errors::default();
            let parts: Vec<_> = nodes.iter().filter_map(|n| errors.ok(typed(n, generics))).collect();
            errors.finish()?;
            let (types, values): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
            let comma = one.then(|| quote!(,));
            Ok((quote!((#(#types),* #comma)), quote!((#(#values),* #comma))))
        }
        Node::Binding(binding) => match &binding.ty {
            Some(ty) => component(binding, ty, generics),
            None => Err(syn::Error::new(
                binding.ident.span(),
                format!(
                    "cannot infer the type of `{}` from the pattern of its argument; give the key's type with `key_type = TYPE`",
                    binding.ident
                ),
            )),
        },
        Node::Other(expr) => Err(syn::Error::new_spanned(
            expr,
            "cannot infer the type of this key expression: only argument names and tuples of them are typed \
             automatically; give the key's type with `key_type = TYPE` (for example `key = user.id, key_type = u64`)",
        )),
    }
}

/// The value of a key of the given type `key_type`: each leaf is made
/// owned and converted with `From`, element by element when the key and
/// `key_type` are tuples of the same length.
fn convert(node: &Node, key_type: &Type) -> TokenStream {
    match (node, unparen(key_type)) {
        (Node::Tuple(nodes, one), Type::Tuple(types)) if nodes.len() == types.elems.len() => {
            let values = nodes.iter().zip(&types.elems).map(|(n, t)| convert(n, t));
            let comma = one.then(|| quote!(,));
            quote!((#(#values),* #comma))
        }
        _ => {
            let value = owned(node);
            quote!(::core::convert::From::from(#value))
        }
    }
}

/// An owned value for `node`, with no type known in advance.
fn owned(node: &Node) -> TokenStream {
    match node {
        Node::Tuple(nodes, one) => {
            let values = nodes.iter().map(owned);
            let comma = one.then(|| quote!(,));
            quote!((#(#values),* #comma))
        }
        Node::Binding(binding) => {
            let place = place(binding);
            match binding.ty.as_ref().map(unparen) {
                Some(Type::Reference(_)) => quote!(::std::borrow::ToOwned::to_owned(&*#place)),
                Some(_) => quote!(::core::clone::Clone::clone(&#place)),
                None => quote!(::std::borrow::ToOwned::to_owned(&#place)),
            }
        }
        Node::Other(expr) => quote!(::std::borrow::ToOwned::to_owned(&(#expr))),
    }
}

/// The place a binding names: the binding itself, or what it refers to when
/// it was bound by reference.
fn place(binding: &Binding) -> TokenStream {
    let ident = &binding.ident;
    if binding.by_ref {
        quote!((*#ident))
    } else {
        quote!(#ident)
    }
}

/// The key type and value of one binding of type `ty`, after checking that a
/// static can hold it.
fn component(
    binding: &Binding,
    ty: &Type,
    generics: &Generics,
) -> syn::Result<(TokenStream, TokenStream)> {
    let place = place(binding);
    match unparen(ty) {
        Type::Reference(reference) => {
            let elem = &*reference.elem;
            types::check(elem, generics, Role::Arg(&binding.ident))?;
            let owned = match unparen(elem) {
                Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => {
                    quote!(::std::string::String)
                }
                Type::Slice(s) => {
                    let elem = &s.elem;
                    quote!(::std::vec::Vec<#elem>)
                }
                _ => quote!(<#elem as ::std::borrow::ToOwned>::Owned),
            };
            let value =
                quote_spanned!(binding.ident.span()=> ::std::borrow::ToOwned::to_owned(&*#place));
            Ok((owned, value))
        }
        ty => {
            types::check(ty, generics, Role::Arg(&binding.ident))?;
            Ok((
                ty.to_token_stream(),
                quote_spanned!(binding.ident.span()=> ::core::clone::Clone::clone(&#place)),
            ))
        }
    }
}

/// The source text of `expr` as written, or its tokens.
fn source(expr: &Expr) -> String {
    let tokens = expr.to_token_stream();
    let mut iter = tokens.clone().into_iter();
    let first = iter.next().map(|t| t.span());
    let last = iter.last().map(|t| t.span()).or(first);
    match (first, last) {
        (Some(first), Some(last)) => first.join(last).and_then(|s| s.source_text()),
        _ => None,
    }
    .unwrap_or_else(|| tokens.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flavor::Flavor;
    use crate::signature;
    use syn::{parse_quote, ItemFn};

    fn derive_key(attr: TokenStream, mut func: ItemFn) -> Result<(String, String), String> {
        let mut errors = Errors::default();
        let options = Options::parse(Flavor::Sync, attr, &mut errors).unwrap();
        let sig = signature::analyze(&mut func, &mut errors);
        let key = derive(&options, &sig, &func.sig.generics, &mut errors);
        errors.finish_messages()?;
        let key = key.expect("a key without errors");
        Ok((key.ty.to_string(), key.value.to_string()))
    }

    fn ok(attr: TokenStream, func: ItemFn) -> (String, String) {
        derive_key(attr, func).unwrap()
    }

    fn err(attr: TokenStream, func: ItemFn) -> String {
        derive_key(attr, func).unwrap_err()
    }

    #[test]
    fn default_keys() {
        assert_eq!(
            ok(
                quote!(),
                parse_quote!(
                    fn f() -> u64 {
                        0
                    }
                )
            ),
            ("()".into(), "()".into())
        );
        assert_eq!(
            ok(
                quote!(),
                parse_quote!(
                    fn f(n: u64) -> u64 {
                        n
                    }
                )
            ),
            (
                "u64".into(),
                ":: core :: clone :: Clone :: clone (& n)".into()
            )
        );
        let (ty, value) = ok(
            quote!(),
            parse_quote!(
                fn f(name: &str, #[skip] db: &Db, bytes: &[u8]) -> u64 {
                    0
                }
            ),
        );
        assert_eq!(
            ty,
            "(:: std :: string :: String , :: std :: vec :: Vec < u8 >)"
        );
        assert!(
            value.contains("to_owned (& * name)") && value.contains("to_owned (& * bytes)"),
            "{value}"
        );
        let (ty, _) = ok(
            quote!(),
            parse_quote!(
                fn f(p: &Path) -> u64 {
                    0
                }
            ),
        );
        assert_eq!(ty, "< Path as :: std :: borrow :: ToOwned > :: Owned");
        let (ty, value) = ok(
            quote!(),
            parse_quote!(
                fn f((a, b): &(u64, String)) -> u64 {
                    0
                }
            ),
        );
        assert_eq!(ty, "(u64 , String)");
        assert!(value.contains("clone (& (* a))"), "{value}");
    }

    #[test]
    fn key_of_bindings() {
        let func: ItemFn = parse_quote!(
            async fn f(State(db): State<Db>, Path(id): Path<u64>, name: &str) -> u64 {
                0
            }
        );
        assert_eq!(ok(quote!(key = id), func.clone()).0, "u64");
        assert_eq!(ok(quote!(key = (id)), func.clone()).0, "u64");
        assert_eq!(ok(quote!(key = (id,)), func.clone()).0, "(u64 ,)");
        assert_eq!(
            ok(quote!(key = (id, (name, id))), func.clone()).0,
            "(u64 , (:: std :: string :: String , u64))"
        );
    }

    #[test]
    fn key_with_key_type() {
        let func: ItemFn = parse_quote!(
            fn f(user: &User, page: u32) -> u64 {
                0
            }
        );
        let (ty, value) = ok(
            quote!(key = (user.id, page), key_type = (u64, u32)),
            func.clone(),
        );
        assert_eq!(ty, "(u64 , u32)");
        assert_eq!(
            value,
            "(:: core :: convert :: From :: from (:: std :: borrow :: ToOwned :: to_owned (& (user . id))) , \
             :: core :: convert :: From :: from (:: core :: clone :: Clone :: clone (& page)))"
        );
        let (ty, value) = ok(quote!(key = user.name.as_str(), key_type = String), func);
        assert_eq!(ty, "String");
        assert!(value.starts_with(":: core :: convert :: From :: from"));
    }

    #[test]
    fn key_errors() {
        let func: ItemFn = parse_quote!(
            fn f(user_id: u64, page: u32, Wrapper(w): Wrapper) -> u64 {
                0
            }
        );
        assert_eq!(
            err(quote!(key = account), func.clone()),
            "`key` names `account`, which is not an argument of this function (its arguments are: user_id, page, w); \
             to key on a constant or another expression, also give its type with `key_type = TYPE`"
        );
        assert!(err(quote!(key = (usr_id, page)), func.clone()).contains("did you mean `user_id`?"));
        assert!(err(quote!(key = user), func.clone()).ends_with("; did you mean `user_id`?"));
        assert!(err(quote!(key = user.id), func.clone())
            .starts_with("cannot infer the type of this key expression"));
        assert!(err(quote!(key = w), func.clone()).starts_with("cannot infer the type of `w`"));
        assert!(err(quote!(), func)
            .starts_with("cannot infer the type of `w` from this pattern, so it cannot"));
        let func: ItemFn = parse_quote!(
            fn f(Point { x, y }: Point) -> u64 {
                0
            }
        );
        assert!(err(quote!(), func)
            .starts_with("cannot infer the types of `x`, `y` from this pattern, so they cannot"));
    }

    #[test]
    fn storable_components() {
        let func: ItemFn = parse_quote!(
            fn f<T: Hash>(filter: impl Fn(u64) -> bool, t: T, v: Vec<&str>) -> u64 {
                0
            }
        );
        let e = err(quote!(), func);
        let lines: Vec<_> = e.lines().collect();
        assert_eq!(lines.len(), 3, "{e}");
        assert!(lines[0].starts_with("argument `filter` has an `impl Trait` type"));
        assert!(lines[1].contains("generic parameter `T`"));
        assert!(lines[2].contains("holds a reference"));
    }
}
