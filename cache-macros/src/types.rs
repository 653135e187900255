//! What a static can hold. The cache of a memoized function is a `static`
//! (or a `static` inside an associated function), so its key and value types
//! cannot mention the function's generic parameters, `Self`, `impl Trait`,
//! `_`, or any borrow that is not `'static`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::visit::{self, Visit};
use syn::{GenericParam, Generics, Ident, Type};

/// Which type is being checked, for the wording of the error.
#[derive(Clone, Copy)]
pub(crate) enum Role<'a> {
    /// The type of an argument binding that is part of the key.
    Arg(&'a Ident),
    /// The type written with `key_type = ...`.
    KeyType,
    /// The cached value type (the return type, or `T` of `Result<T, E>`).
    Value,
}

/// Something a static cannot hold, with the tokens to point at.
#[derive(Debug)]
pub(crate) enum Problem {
    /// `impl Trait`.
    ImplTrait(TokenStream),
    /// A generic type or const parameter of the function.
    Generic(Ident),
    /// `Self`.
    SelfType(Span),
    /// A lifetime other than `'static`, including `'_`.
    Lifetime(syn::Lifetime),
    /// A reference without a lifetime (`&str`).
    ElidedRef(TokenStream),
    /// `_`.
    Infer(Span),
}

/// Everything in `ty` that a static cannot hold, in order of appearance.
pub(crate) fn problems(ty: &Type, generics: &Generics) -> Vec<Problem> {
    let params = generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(t) => Some(t.ident.clone()),
            GenericParam::Const(c) => Some(c.ident.clone()),
            GenericParam::Lifetime(_) => None,
        })
        .collect();
    let mut finder = Finder {
        params,
        higher_ranked: 0,
        found: Vec::new(),
    };
    finder.visit_type(ty);
    finder.found
}

/// The first borrow in `ty` (a non-`'static` reference or lifetime), if any.
pub(crate) fn borrow(ty: &Type) -> Option<Problem> {
    problems(ty, &Generics::default())
        .into_iter()
        .find(|p| matches!(p, Problem::Lifetime(_) | Problem::ElidedRef(_)))
}

/// `Err` if `ty`, in `role`, is not something a static can hold.
pub(crate) fn check(ty: &Type, generics: &Generics, role: Role) -> syn::Result<()> {
    match problems(ty, generics).into_iter().next() {
        None => Ok(()),
        Some(problem) => Err(error(problem, role)),
    }
}

fn error(problem: Problem, role: Role) -> syn::Error {
    let (subject, fix) = match role {
        Role::Arg(arg) => (
            format!("argument `{arg}` is part of the cache key, but its type"),
            "mark the argument `#[skip]`, or choose the key with `key = ..., key_type = ...`"
                .to_string(),
        ),
        Role::KeyType => (
            "`key_type`".to_string(),
            "write a concrete, owned type".to_string(),
        ),
        Role::Value => (
            "the cached value type".to_string(),
            "return a concrete, owned type".to_string(),
        ),
    };
    let static_note = "the cache is a static, and";
    match problem {
        Problem::ImplTrait(tokens) => {
            let (what, fix) = match role {
                Role::Arg(arg) => (
                    format!("argument `{arg}` has an `impl Trait` type, so it cannot be part of the cache key:"),
                    "mark the argument `#[skip]`, give it a concrete type, or choose the key with `key = ..., key_type = ...`".to_string(),
                ),
                Role::KeyType => ("`key_type` cannot be `impl Trait`:".to_string(), fix),
                Role::Value if tokens.to_string().contains("Future") => (
                    "cannot cache an `impl Future`:".to_string(),
                    "write the function as an `async fn` and memoize it with #[async_cached]".to_string(),
                ),
                Role::Value if tokens.to_string().contains("IntoResponse") => (
                    "cannot cache an `impl IntoResponse`:".to_string(),
                    "return a concrete type that is `Clone`, such as `Json<T>`, `String` or `(StatusCode, Json<T>)` \
                     (an axum `Response` is not `Clone`: cache the data, and build the response from it in the handler)"
                        .to_string(),
                ),
                Role::Value => (
                    "cannot cache a value of an `impl Trait` type:".to_string(),
                    "return a concrete type (or a `Box<dyn Trait>`)".to_string(),
                ),
            };
            syn::Error::new_spanned(tokens, format!("{what} {static_note} a static needs a type it can name; {fix}"))
        }
        Problem::Generic(param) => syn::Error::new(
            param.span(),
            format!(
                "{subject} uses the generic parameter `{param}`: {static_note} a static cannot be generic; {}",
                match role {
                    Role::Value => "memoize a non-generic function instead (for example one wrapper per concrete type)".to_string(),
                    _ => fix,
                }
            ),
        ),
        Problem::SelfType(span) => syn::Error::new(
            span,
            format!("{subject} uses `Self`: {static_note} a static cannot name `Self`; write the concrete type instead"),
        ),
        Problem::Lifetime(lifetime) => syn::Error::new(
            lifetime.span(),
            format!(
                "{subject} borrows for `{lifetime}`: the cache outlives every call, so it must own what it holds; \
                 {fix} (`String` for `&str`, `Vec<T>` or `Arc<[T]>` for `&[T]`)"
            ),
        ),
        Problem::ElidedRef(tokens) => syn::Error::new_spanned(
            tokens,
            format!(
                "{subject} holds a reference: the cache outlives every call, so it must own what it holds; \
                 {fix} (`String` for `&str`, `Vec<T>` or `Arc<[T]>` for `&[T]`), or a `&'static` reference"
            ),
        ),
        Problem::Infer(span) => syn::Error::new(span, format!("{subject} must be written out, not `_`")),
    }
}

struct Finder {
    params: Vec<Ident>,
    /// Inside `fn(..)`, `Fn(..)` or `for<'a>`: elided and named lifetimes
    /// there are higher-ranked, not borrows.
    higher_ranked: usize,
    found: Vec<Problem>,
}

impl Finder {
    fn path(&mut self, path: &syn::Path) {
        if path.leading_colon.is_some() {
            return;
        }
        if let Some(first) = path.segments.first() {
            if first.ident == "Self" {
                self.found.push(Problem::SelfType(first.ident.span()));
            } else if self.params.contains(&first.ident) {
                self.found.push(Problem::Generic(first.ident.clone()));
            }
        }
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_type_path(&mut self, ty: &'ast syn::TypePath) {
        if ty.qself.is_none() {
            self.path(&ty.path);
        }
        visit::visit_type_path(self, ty);
    }

    fn visit_expr_path(&mut self, expr: &'ast syn::ExprPath) {
        if expr.qself.is_none() {
            self.path(&expr.path);
        }
        visit::visit_expr_path(self, expr);
    }

    fn visit_type_impl_trait(&mut self, ty: &'ast syn::TypeImplTrait) {
        self.found.push(Problem::ImplTrait(ty.to_token_stream()));
        visit::visit_type_impl_trait(self, ty);
    }

    fn visit_type_infer(&mut self, ty: &'ast syn::TypeInfer) {
        self.found.push(Problem::Infer(ty.underscore_token.span));
    }

    fn visit_type_reference(&mut self, ty: &'ast syn::TypeReference) {
        if ty.lifetime.is_none() && self.higher_ranked == 0 {
            self.found.push(Problem::ElidedRef(ty.to_token_stream()));
        }
        visit::visit_type_reference(self, ty);
    }

    fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
        if lifetime.ident != "static" && self.higher_ranked == 0 {
            self.found.push(Problem::Lifetime(lifetime.clone()));
        }
    }

    fn visit_type_bare_fn(&mut self, ty: &'ast syn::TypeBareFn) {
        self.higher_ranked += 1;
        visit::visit_type_bare_fn(self, ty);
        self.higher_ranked -= 1;
    }

    fn visit_parenthesized_generic_arguments(
        &mut self,
        args: &'ast syn::ParenthesizedGenericArguments,
    ) {
        self.higher_ranked += 1;
        visit::visit_parenthesized_generic_arguments(self, args);
        self.higher_ranked -= 1;
    }

    fn visit_trait_bound(&mut self, bound: &'ast syn::TraitBound) {
        let higher_ranked = usize::from(bound.lifetimes.is_some());
        self.higher_ranked += higher_ranked;
        visit::visit_trait_bound(self, bound);
        self.higher_ranked -= higher_ranked;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn first(ty: Type) -> Option<Problem> {
        let generics: Generics = parse_quote!(<'a, T: Clone, const N: usize>);
        problems(&ty, &generics).into_iter().next()
    }

    #[test]
    fn storable_types() {
        let types: [Type; 10] = [
            parse_quote!(u64),
            parse_quote!(::std::string::String),
            parse_quote!(Option<Vec<(u64, String)>>),
            parse_quote!(&'static str),
            parse_quote!(Box<dyn Fn(&str) -> u64 + Send + Sync>),
            parse_quote!(fn(&u64) -> Option<Duration>),
            parse_quote!(Box<dyn for<'x> Fn(&'x str) -> &'x str>),
            parse_quote!([u8; 16]),
            parse_quote!(Arc<Tee>),
            parse_quote!(<u64 as ToOwned>::Owned),
        ];
        for ty in types {
            let found = first(ty.clone());
            assert!(found.is_none(), "{}: {found:?}", ty.to_token_stream());
        }
    }

    #[test]
    fn problems_found() {
        assert!(matches!(first(parse_quote!(Vec<T>)), Some(Problem::Generic(p)) if p == "T"));
        assert!(matches!(
            first(parse_quote!(T::Output)),
            Some(Problem::Generic(_))
        ));
        assert!(matches!(first(parse_quote!([u8; N])), Some(Problem::Generic(p)) if p == "N"));
        assert!(matches!(
            first(parse_quote!(Option<Self>)),
            Some(Problem::SelfType(_))
        ));
        assert!(matches!(
            first(parse_quote!(impl Iterator<Item = u8>)),
            Some(Problem::ImplTrait(_))
        ));
        assert!(
            matches!(first(parse_quote!(Cow<'a, str>)), Some(Problem::Lifetime(l)) if l.ident == "a")
        );
        assert!(matches!(
            first(parse_quote!(Foo<'_>)),
            Some(Problem::Lifetime(_))
        ));
        assert!(matches!(
            first(parse_quote!(Vec<&str>)),
            Some(Problem::ElidedRef(_))
        ));
        assert!(matches!(first(parse_quote!(_)), Some(Problem::Infer(_))));
        assert!(matches!(
            first(parse_quote!(Box<dyn Send + 'a>)),
            Some(Problem::Lifetime(_))
        ));
    }

    #[test]
    fn borrows() {
        assert!(borrow(&parse_quote!(&Db)).is_some());
        assert!(borrow(&parse_quote!(&'a mut Vec<u8>)).is_some());
        assert!(borrow(&parse_quote!(Cow<'_, str>)).is_some());
        assert!(borrow(&parse_quote!(&'static str)).is_none());
        assert!(borrow(&parse_quote!(Arc<Db>)).is_none());
        assert!(borrow(&parse_quote!(T)).is_none());
    }

    #[test]
    fn messages() {
        let arg: Ident = parse_quote!(filter);
        let e = check(
            &parse_quote!(impl Fn(u64) -> bool),
            &Generics::default(),
            Role::Arg(&arg),
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("argument `filter` has an `impl Trait` type"));
        let generics: Generics = parse_quote!(<T>);
        let e = check(&parse_quote!(Vec<T>), &generics, Role::Value).unwrap_err();
        assert!(e.to_string().contains("generic parameter `T`"));
    }
}
