//! Which flights the current thread is computing right now.
//!
//! A body that calls its own key (recursion) must not wait for itself.
//!
//! A sync body runs on its caller's thread until it returns, so a call of its
//! key from that thread comes from inside it: a sync leader's flight records
//! its [`ThreadTag`], and nothing needs marking while the body runs.
//!
//! Two sibling calls of one task (`join!` of two calls with one key) must share
//! one run, and a task moves between threads, so an async leader is recognised
//! by call nesting instead: while its future is polled its flight is marked on
//! the thread, and a call made from inside it sees the mark.

use std::cell::{Cell, RefCell};

/// Names one flight: the shard that holds it and its number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlightId {
    pub(crate) shard: usize,
    pub(crate) seq: u64,
}

thread_local! {
    /// The innermost flight whose body this thread is running. Kept apart from
    /// the outer ones so that the common case, no nesting, touches one cell.
    static INNERMOST: Cell<Option<FlightId>> = const { Cell::new(None) };
    /// The flights the innermost one is nested in, innermost last.
    static OUTER: RefCell<Vec<FlightId>> = const { RefCell::new(Vec::new()) };
}

/// Names a thread while it runs: the address of one of its thread-locals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ThreadTag(usize);

/// The tag of the current thread.
#[inline]
pub(crate) fn this_thread() -> ThreadTag {
    INNERMOST.with(|cell| ThreadTag(cell as *const _ as usize))
}

/// Whether the current thread is inside the body of flight `id`.
pub(crate) fn inside(id: FlightId) -> bool {
    match INNERMOST.get() {
        None => false,
        Some(innermost) if innermost == id => true,
        Some(_) => OUTER.with(|outer| outer.borrow().contains(&id)),
    }
}

/// Marks a flight while its body runs and removes the mark when the body
/// stops running, even by a panic. Marks nest: they are removed in the reverse
/// order of their making, since each lives in one call frame.
#[cfg(any(test, feature = "tokio"))]
struct Running {
    nested: bool,
}

#[cfg(any(test, feature = "tokio"))]
impl Running {
    #[inline]
    fn enter(id: FlightId) -> Self {
        let outer = INNERMOST.replace(Some(id));
        if let Some(outer) = outer {
            OUTER.with(|stack| stack.borrow_mut().push(outer));
        }
        Self {
            nested: outer.is_some(),
        }
    }
}

#[cfg(any(test, feature = "tokio"))]
impl Drop for Running {
    #[inline]
    fn drop(&mut self) {
        let outer = if self.nested {
            OUTER.with(|stack| stack.borrow_mut().pop())
        } else {
            None
        };
        INNERMOST.set(outer);
    }
}

/// Runs `body` as the leader of flight `id` (`None`: no flight registered).
#[cfg(test)]
pub(crate) fn run<R>(id: Option<FlightId>, body: impl FnOnce() -> R) -> R {
    let _running = id.map(Running::enter);
    body()
}

/// Awaits `body` as the leader of flight `id`, marking each of its polls.
#[cfg(feature = "tokio")]
pub(crate) async fn lead<F: std::future::Future>(id: Option<FlightId>, body: F) -> F::Output {
    let mut body = std::pin::pin!(body);
    std::future::poll_fn(|cx| {
        let _running = id.map(Running::enter);
        body.as_mut().poll(cx)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seq: u64) -> FlightId {
        FlightId { shard: 1, seq }
    }

    #[test]
    fn marks_nest_and_unwind_in_order() {
        let seen = run(Some(id(1)), || {
            run(Some(id(2)), || {
                let in_both = inside(id(1)) && inside(id(2));
                let in_three = run(Some(id(3)), || inside(id(1)) && inside(id(2)));
                (in_both, in_three, inside(id(3)))
            })
        });
        assert_eq!(seen, (true, true, false));
        assert!(!inside(id(1)) && !inside(id(2)));
        assert!(run(None, || !inside(id(1))));
    }

    #[test]
    fn a_panicking_body_leaves_no_mark() {
        let outcome =
            std::panic::catch_unwind(|| run(Some(id(1)), || run(Some(id(2)), || panic!("body"))));
        assert!(outcome.is_err());
        assert!(!inside(id(1)) && !inside(id(2)));
        assert!(run(Some(id(4)), || inside(id(4)) && !inside(id(1))));
    }
}
