//! Which of the two attributes is expanding: the only thing that differs
//! between `#[cached]` and `#[async_cached]`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

/// The attribute being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `#[cached]` on a synchronous `fn`.
    Sync,
    /// `#[async_cached]` on an `async fn`.
    Async,
}

impl Flavor {
    /// The attribute as the user writes it, for messages: `#[cached]`.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Flavor::Sync => "#[cached]",
            Flavor::Async => "#[async_cached]",
        }
    }

    /// The runtime's handle type: `Cache` or `AsyncCache`.
    pub(crate) fn cache_type(self, krate: &syn::Path) -> TokenStream {
        let ty = Ident::new(
            match self {
                Flavor::Sync => "Cache",
                Flavor::Async => "AsyncCache",
            },
            Span::call_site(),
        );
        quote!(#krate::#ty)
    }
}
