//! Analysis of the memoized function's signature: its receiver, the
//! bindings its arguments introduce (with their types, inferred from the
//! patterns), which arguments are `#[skip]`ped, and how its return type
//! splits into a cached value.
//!
//! Whether the return type is a `Result` (only `Ok` values cached) or its
//! value an `Option` (`none_ttl`, `skip_none`) is a question about the type,
//! not its spelling: `type Answer = Result<u64, AppError>` is a `Result`, and
//! a user's `struct Result<T>` is not. So the answer is left to the type
//! checker (see `Split::Probed`), and the spelling is only a fallback for a
//! return type that the generated code cannot name next to its static.

use crate::errors::Errors;
use crate::types;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Token, Type};

/// The parts of a function signature the expansion needs.
pub(crate) struct Signature {
    /// `self`, `&self`, `self: Arc<Self>`... (then the function is a method
    /// and its cache handle is an associated function).
    pub(crate) receiver: Option<syn::Receiver>,
    /// The typed arguments, in order.
    pub(crate) args: Vec<Arg>,
    /// `None` when the function returns nothing (an error was recorded).
    pub(crate) output: Option<Output>,
}

/// One typed argument.
pub(crate) struct Arg {
    /// The argument's pattern, as written (without `#[skip]`).
    pub(crate) pat: Pat,
    /// The argument's type.
    pub(crate) ty: Type,
    /// The `#[skip]` marker, if the argument is left out of the key.
    pub(crate) skip: Option<Attribute>,
    /// The identifiers the pattern binds.
    pub(crate) bindings: Vec<Binding>,
}

/// One identifier bound by an argument pattern.
#[derive(Clone)]
pub(crate) struct Binding {
    pub(crate) ident: syn::Ident,
    /// The type of the bound place, when it follows from the pattern and the
    /// argument type; with `by_ref`, the binding itself is a reference to it.
    pub(crate) ty: Option<Type>,
    /// Bound by reference: `ref x`, or by default binding mode (`(a, b): &(A, B)`).
    pub(crate) by_ref: bool,
    /// `mut x`.
    pub(crate) mutability: Option<Token![mut]>,
}

/// How the runtime treats the return value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Every return value is cached.
    Plain,
    /// `Result<T, E>`: `Ok` values are cached, errors are not.
    Fallible,
}

/// How the return type splits into the cached value type `V` and a shape.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// The type checker tells whether the return type is a `Result`, in a
    /// type alias `Returns<R, { Probe::<R>::IS_RESULT }>` next to the cache:
    /// for a path type that the cache's static can name.
    Probed,
    /// Split here, from the tokens: the return type cannot be a `Result` (a
    /// tuple, a reference...) or cannot be named in a static (it uses the
    /// function's generic parameters, `Self` or a borrow), or `returns`
    /// decided. `value` is `V` as written.
    Written { shape: Shape, value: Box<Type> },
}

/// The return type and what is cached of it.
pub(crate) struct Output {
    /// The function's return type, as written.
    pub(crate) ty: Type,
    pub(crate) split: Split,
}

impl Output {
    /// Whether `V` may be an `Option` (always, unless it is written out as
    /// something that is not a path), so that `none_ttl` and `skip_none`
    /// are left for the type checker to check.
    pub(crate) fn may_be_option(&self) -> bool {
        match &self.split {
            Split::Probed => true,
            Split::Written { value, .. } => may_be_alias(value),
        }
    }
}

/// Analyzes `func`'s signature and strips the `#[skip]` markers from it.
pub(crate) fn analyze(func: &mut ItemFn, errors: &mut Errors) -> Signature {
    let mut receiver = None;
    let mut args = Vec::new();
    for input in &mut func.sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                // `self` is never part of the key: a marker on it changes nothing.
                let _ = take_skip(&mut r.attrs, errors);
                receiver = Some(r.clone());
            }
            FnArg::Typed(arg) => {
                let skip = take_skip(&mut arg.attrs, errors);
                let mut bindings = Vec::new();
                bind(&arg.pat, Some(&arg.ty), false, &mut bindings);
                args.push(Arg {
                    pat: (*arg.pat).clone(),
                    ty: (*arg.ty).clone(),
                    skip,
                    bindings,
                });
            }
        }
    }
    let output = output(&func.sig, errors);
    Signature {
        receiver,
        args,
        output,
    }
}

/// The item with the `#[skip]` markers removed, so that it can be emitted
/// unchanged next to a compile error without a second "cannot find
/// attribute `skip`" error; the tokens as given if they are not a function.
pub(crate) fn without_markers(item: TokenStream) -> TokenStream {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(mut func) => {
            for input in &mut func.sig.inputs {
                let attrs = match input {
                    FnArg::Receiver(r) => &mut r.attrs,
                    FnArg::Typed(arg) => &mut arg.attrs,
                };
                attrs.retain(|attr| !is_skip(attr));
            }
            func.into_token_stream()
        }
        Err(_) => item,
    }
}

fn is_skip(attr: &Attribute) -> bool {
    attr.path().is_ident("skip")
}

/// Removes the `#[skip]` markers of one argument, returning the first.
fn take_skip(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> Option<Attribute> {
    let (skips, kept): (Vec<_>, Vec<_>) = std::mem::take(attrs).into_iter().partition(is_skip);
    *attrs = kept;
    for attr in &skips {
        if let Err(e) = attr.meta.require_path_only() {
            errors.push(syn::Error::new(
                e.span(),
                "`#[skip]` takes no arguments: write `#[skip]`",
            ));
        }
    }
    skips.into_iter().next()
}

/// Collects the identifiers `pat` binds. `ty` is the type of the value the
/// pattern matches, when known; `by_ref` is the default binding mode (after
/// a non-reference pattern matched a reference).
fn bind(pat: &Pat, ty: Option<&Type>, by_ref: bool, out: &mut Vec<Binding>) {
    let ty = ty.map(unparen);
    // Match ergonomics: a constructor pattern against `&T` matches `T` and
    // binds by reference.
    if let (
        Pat::Tuple(_) | Pat::TupleStruct(_) | Pat::Struct(_) | Pat::Slice(_),
        Some(Type::Reference(r)),
    ) = (pat, ty)
    {
        return bind(pat, Some(&r.elem), true, out);
    }
    match pat {
        Pat::Ident(p) => {
            out.push(Binding {
                ident: p.ident.clone(),
                ty: ty.cloned(),
                by_ref: p.by_ref.is_some() || (by_ref && p.mutability.is_none()),
                mutability: p.mutability,
            });
            if let Some((_, sub)) = &p.subpat {
                bind(sub, ty, by_ref, out);
            }
        }
        Pat::Reference(p) => match ty {
            Some(Type::Reference(r)) => bind(&p.pat, Some(&r.elem), false, out),
            _ => bind(&p.pat, None, false, out),
        },
        Pat::Paren(p) => bind(&p.pat, ty, by_ref, out),
        Pat::Type(p) => bind(&p.pat, Some(&p.ty), by_ref, out),
        Pat::Tuple(p) => {
            let types = match ty {
                Some(Type::Tuple(t)) => Some(t.elems.iter().collect::<Vec<_>>()),
                _ => None,
            };
            bind_sequence(p.elems.iter(), types.as_deref(), by_ref, out);
        }
        Pat::TupleStruct(p) => {
            // `Path(id): Path<u64>`, `State(db): State<Db>`, `Json(body): Json<T>`:
            // one field against a type with exactly one type argument.
            let inner = match (p.elems.len(), p.elems.first()) {
                (1, Some(elem)) if !matches!(elem, Pat::Rest(_)) => {
                    ty.and_then(single_type_argument)
                }
                _ => None,
            };
            for elem in &p.elems {
                bind(elem, inner, by_ref, out);
            }
        }
        Pat::Slice(p) => {
            let elem = match ty {
                Some(Type::Array(a)) => Some(&*a.elem),
                Some(Type::Slice(s)) => Some(&*s.elem),
                _ => None,
            };
            for pat in &p.elems {
                match pat {
                    // `rest @ ..` binds a subslice.
                    Pat::Ident(i)
                        if matches!(i.subpat.as_ref().map(|(_, p)| &**p), Some(Pat::Rest(_))) =>
                    {
                        bind(pat, None, by_ref, out)
                    }
                    _ => bind(pat, elem, by_ref, out),
                }
            }
        }
        Pat::Struct(p) => {
            for field in &p.fields {
                bind(&field.pat, None, by_ref, out);
            }
        }
        Pat::Or(p) => {
            if let Some(first) = p.cases.first() {
                bind(first, ty, by_ref, out);
            }
        }
        _ => {}
    }
}

/// Binds the elements of a tuple pattern against the element types, if
/// known; a `..` in the pattern aligns the elements after it with the end.
fn bind_sequence<'a>(
    pats: impl ExactSizeIterator<Item = &'a Pat> + Clone,
    types: Option<&[&Type]>,
    by_ref: bool,
    out: &mut Vec<Binding>,
) {
    let rest = pats.clone().position(|p| matches!(p, Pat::Rest(_)));
    let count = pats.len();
    for (i, pat) in pats.enumerate() {
        let ty = types.and_then(|types| match rest {
            None if types.len() == count => types.get(i).copied(),
            None => None,
            Some(r) if i < r => types.get(i).copied(),
            Some(_) => (types.len() + i)
                .checked_sub(count)
                .and_then(|j| types.get(j).copied()),
        });
        bind(pat, ty, by_ref, out);
    }
}

/// `T` of a path type whose last segment has exactly one type argument:
/// `Path<T>`, `State<T>`, `axum::extract::Query<T>`.
fn single_type_argument(ty: &Type) -> Option<&Type> {
    let mut types = generic_types(ty)?.1;
    match (types.next(), types.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The last segment's name and type arguments of a path type.
fn generic_types(ty: &Type) -> Option<(&syn::Ident, impl Iterator<Item = &Type>)> {
    let Type::Path(path) = unparen(ty) else {
        return None;
    };
    let last = path.path.segments.last()?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    Some((&last.ident, types))
}

/// `ty` without the parentheses and invisible groups around it.
pub(crate) fn unparen(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Paren(p) => ty = &p.elem,
            Type::Group(g) => ty = &g.elem,
            _ => return ty,
        }
    }
}

/// `T` if `ty` is `Name<T, ..>` with one or two type arguments and `Name`
/// is `name`.
fn first_argument_of<'a>(ty: &'a Type, name: &str, max: usize) -> Option<&'a Type> {
    let (ident, types) = generic_types(ty)?;
    let types: Vec<_> = types.collect();
    (ident == name && (1..=max).contains(&types.len())).then(|| types[0])
}

/// The type arguments of a path type: `[T, E]` of `AppResult<T, E>`, whose
/// first is the `Ok` type when it is an alias of `Result` written the usual
/// way (`io::Result<T>`, `AppResult<T, E>`).
pub(crate) fn type_arguments(ty: &Type) -> Vec<&Type> {
    generic_types(ty).map_or_else(Vec::new, |(_, types)| types.collect())
}

/// A path (or a macro): a type that may be an alias of anything, `Result`
/// and `Option` included. A tuple, an array, a reference... are none.
pub(crate) fn may_be_alias(ty: &Type) -> bool {
    matches!(unparen(ty), Type::Path(_) | Type::Macro(_))
}

/// The return type's shape; records an error when there is nothing to cache.
fn output(sig: &syn::Signature, errors: &mut Errors) -> Option<Output> {
    let ty = match &sig.output {
        ReturnType::Type(_, ty) if !matches!(unparen(ty), Type::Tuple(t) if t.elems.is_empty()) => {
            (**ty).clone()
        }
        other => {
            let span = match other {
                ReturnType::Type(_, ty) => ty.to_token_stream(),
                ReturnType::Default => sig.ident.to_token_stream(),
            };
            errors.push(syn::Error::new_spanned(
                span,
                format!(
                    "`{}` returns nothing, so there is nothing to cache: memoize a function that returns \
                     the value to keep (`-> T`); to run code only once, use `std::sync::Once`",
                    sig.ident
                ),
            ));
            return None;
        }
    };
    let split = if !may_be_alias(&ty) {
        Split::Written {
            shape: Shape::Plain,
            value: Box::new(ty.clone()),
        }
    } else if types::problems(&ty, &sig.generics).is_empty() {
        Split::Probed
    } else {
        // The generated code cannot name the type next to the static: trust
        // the spelling. A `Result` by name that is not std's is then a type
        // error (the shape `Fallible` takes std's), never a silent cache of
        // the whole value.
        match first_argument_of(&ty, "Result", 2) {
            Some(ok) => Split::Written {
                shape: Shape::Fallible,
                value: Box::new(ok.clone()),
            },
            None => Split::Written {
                shape: Shape::Plain,
                value: Box::new(ty.clone()),
            },
        }
    };
    Some(Output { ty, split })
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn analyzed(mut func: ItemFn) -> (Signature, ItemFn, Result<(), String>) {
        let mut errors = Errors::default();
        let sig = analyze(&mut func, &mut errors);
        (sig, func, errors.finish().map_err(|e| e.to_string()))
    }

    /// `name: type` (or `name: ?` when unknown, `ref` when by reference) of every binding.
    fn bindings(func: ItemFn) -> Vec<String> {
        let (sig, _, _) = analyzed(func);
        sig.args
            .iter()
            .flat_map(|a| &a.bindings)
            .map(|b| {
                let ty =
                    b.ty.as_ref()
                        .map_or("?".to_string(), |t| t.to_token_stream().to_string());
                format!("{}{}: {}", if b.by_ref { "ref " } else { "" }, b.ident, ty)
            })
            .collect()
    }

    #[test]
    fn plain_arguments() {
        let found = bindings(parse_quote!(
            fn f(a: u64, mut b: &str, _: Db) -> u64 {
                0
            }
        ));
        assert_eq!(found, ["a: u64", "b: & str"]);
    }

    #[test]
    fn extractor_patterns() {
        let found = bindings(parse_quote!(
            async fn f(
                State(db): State<Db>,
                Path(id): Path<u64>,
                axum::extract::Query(q): axum::extract::Query<Params>,
                Json(body): Json<Req>,
            ) -> u64 {
                0
            }
        ));
        assert_eq!(found, ["db: Db", "id: u64", "q: Params", "body: Req"]);
    }

    #[test]
    fn tuple_reference_and_nested_patterns() {
        let found = bindings(parse_quote!(
            fn f(
                (a, b): (u64, String),
                &x: &u64,
                Path((c, d)): Path<(u32, Vec<u8>)>,
                (e, ..): (u8, u16, u32),
                (.., g): (u8, u16, u32),
            ) -> u64 {
                0
            }
        ));
        assert_eq!(
            found,
            [
                "a: u64",
                "b: String",
                "x: u64",
                "c: u32",
                "d: Vec < u8 >",
                "e: u8",
                "g: u32"
            ]
        );
    }

    #[test]
    fn unknown_and_by_reference() {
        let found = bindings(parse_quote!(
            fn f(
                Point { x, y }: Point,
                Wrapper(w): Wrapper,
                (p, q): &(u64, String),
                Path(ref id): Path<u64>,
                [s, t]: [u8; 2],
            ) -> u64 {
                0
            }
        ));
        assert_eq!(
            found,
            [
                "x: ?",
                "y: ?",
                "w: ?",
                "ref p: u64",
                "ref q: String",
                "ref id: u64",
                "s: u8",
                "t: u8"
            ]
        );
    }

    #[test]
    fn skip_markers_are_stripped() {
        let (sig, func, errors) = analyzed(parse_quote!(
            fn f(#[skip] db: &Db, #[allow(unused)] id: u64) -> u64 {
                0
            }
        ));
        errors.unwrap();
        assert!(sig.args[0].skip.is_some() && sig.args[1].skip.is_none());
        let text = func.to_token_stream().to_string();
        assert!(!text.contains("skip") && text.contains("allow"), "{text}");
        let (_, _, errors) = analyzed(parse_quote!(
            fn f(#[skip(x)] db: &Db) -> u64 {
                0
            }
        ));
        assert!(errors.unwrap_err().contains("takes no arguments"));
    }

    #[test]
    fn receivers() {
        let (sig, _, _) = analyzed(parse_quote!(
            fn f(&self, id: u64) -> u64 {
                0
            }
        ));
        assert!(sig.receiver.is_some());
        assert_eq!(sig.args.len(), 1);
    }

    /// The split of `func`'s return type: `probed`, or the shape and
    /// value as written.
    fn split(func: ItemFn) -> Option<String> {
        let (sig, _, _) = analyzed(func);
        sig.output.map(|o| match o.split {
            Split::Probed => "probed".to_string(),
            Split::Written { shape, value } => {
                format!("{shape:?} {}", value.to_token_stream())
            }
        })
    }

    #[test]
    fn return_splits() {
        let cases: [(ItemFn, Option<&str>); 12] = [
            (
                parse_quote!(
                    fn f() -> u64 {
                        0
                    }
                ),
                Some("probed"),
            ),
            (
                parse_quote!(
                    fn f() -> Result<u64, E> {
                        0
                    }
                ),
                Some("probed"),
            ),
            (
                parse_quote!(
                    fn f() -> Answer {
                        0
                    }
                ),
                Some("probed"),
            ),
            (
                parse_quote!(
                    fn f() -> io::Result<Vec<u8>> {
                        0
                    }
                ),
                Some("probed"),
            ),
            (
                parse_quote!(
                    fn f() -> Option<u64> {
                        0
                    }
                ),
                Some("probed"),
            ),
            (
                parse_quote!(
                    fn f() -> Result<u64, &'static str> {
                        0
                    }
                ),
                Some("probed"),
            ),
            (
                parse_quote!(
                    fn f() -> (u64, String) {
                        0
                    }
                ),
                Some("Plain (u64 , String)"),
            ),
            // The type cannot be named next to the static: its spelling decides.
            (
                parse_quote!(
                    fn f<E>() -> Result<u64, E> {
                        0
                    }
                ),
                Some("Fallible u64"),
            ),
            (
                parse_quote!(
                    fn f(s: &str) -> io::Result<Option<u8>, &str> {
                        0
                    }
                ),
                Some("Fallible Option < u8 >"),
            ),
            (
                parse_quote!(
                    fn f<E>() -> AppResult<u64, E> {
                        0
                    }
                ),
                Some("Plain AppResult < u64 , E >"),
            ),
            (
                parse_quote!(
                    fn f() {}
                ),
                None,
            ),
            (
                parse_quote!(
                    fn f() -> () {}
                ),
                None,
            ),
        ];
        for (func, expected) in cases {
            let text = func.sig.to_token_stream().to_string();
            assert_eq!(split(func).as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn values_that_may_be_options() {
        let output = |split| Output {
            ty: parse_quote!(u8),
            split,
        };
        let written = |value| Split::Written {
            shape: Shape::Plain,
            value,
        };
        assert!(output(Split::Probed).may_be_option());
        assert!(output(written(parse_quote!(Maybe))).may_be_option());
        assert!(!output(written(parse_quote!([u8; 4]))).may_be_option());
        assert!(!output(written(parse_quote!(&'static str))).may_be_option());
    }

    #[test]
    fn no_return_message() {
        let (_, _, errors) = analyzed(parse_quote!(
            fn warm() {}
        ));
        assert!(errors
            .unwrap_err()
            .starts_with("`warm` returns nothing, so there is nothing to cache"));
    }

    #[test]
    fn fallback_strips_markers() {
        let item = quote::quote!(
            fn f(#[skip] a: u64) -> u64 {
                a
            }
        );
        assert!(!without_markers(item).to_string().contains("skip"));
        let item = quote::quote!(
            struct S;
        );
        assert_eq!(without_markers(item.clone()).to_string(), item.to_string());
    }
}
