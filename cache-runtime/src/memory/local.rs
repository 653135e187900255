//! What one thread keeps for one store: its front table and its counters.
//!
//! A thread reaches them through the store's own per-thread map or, on the
//! path `#[cached]` generates, through a [`ThreadSlot`] the macro declares with
//! `thread_local!` in the memoized function: one access to the thread's TLS
//! block, where the map takes three dependent loads. On a hit of a few
//! nanoseconds that difference shows.

use std::cell::{OnceCell, RefCell};
use std::sync::Arc;

use crate::memory::front::Front;
use crate::stats::ThreadCounters;

/// One thread's front table and counters for one store.
pub(crate) struct Local<K, V> {
    pub(crate) front: RefCell<Front<K, V>>,
    pub(crate) counters: Arc<ThreadCounters>,
}

/// A process-unique number naming one store, so that a slot bound to one
/// store is never taken for another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoreId(pub(crate) u64);

/// One memoized function's state on one thread, declared by the code
/// `#[cached]` generates:
///
/// ```
/// use memocache_runtime::ThreadSlot;
///
/// thread_local! {
///     static SLOT: ThreadSlot<u64, String> = const { ThreadSlot::new() };
/// }
/// ```
///
/// It binds to the first store it serves; a slot asked for another store
/// leaves the work to that store's own per-thread map.
pub struct ThreadSlot<K, V> {
    bound: OnceCell<(StoreId, Local<K, V>)>,
}

impl<K, V> ThreadSlot<K, V> {
    /// An unbound slot.
    pub const fn new() -> Self {
        Self {
            bound: OnceCell::new(),
        }
    }

    /// The state kept here for store `id`, made by `make` on first use; `None`
    /// if the slot serves another store.
    #[inline]
    pub(crate) fn local(
        &self,
        id: StoreId,
        make: impl FnOnce() -> Local<K, V>,
    ) -> Option<&Local<K, V>> {
        let (bound_to, local) = self.bound.get_or_init(|| (id, make()));
        (*bound_to == id).then_some(local)
    }
}

impl<K, V> Default for ThreadSlot<K, V> {
    fn default() -> Self {
        Self::new()
    }
}
