//! The coarse clock that TTLs are checked against.
//!
//! A hit must not pay for a system call: [`Clock::now`] reads a timestamp that a
//! background thread (coarsetime's updater) refreshes every millisecond, so
//! reading the time is one relaxed atomic load. Tests swap in a mock clock that
//! only moves when told to.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How often the updater thread refreshes the coarse time, in milliseconds.
/// The time it reads is itself coarse (`CLOCK_MONOTONIC_COARSE` on Linux, which
/// moves once per kernel tick, 1 to 4 ms), so an entry may outlive its TTL by
/// a few milliseconds.
pub const RESOLUTION_MS: u64 = 1;

/// A point in time in the clock's own unit (coarsetime ticks, 2^-32 s): the unit
/// of every expiry in the stores. `Ticks::MAX` means never.
pub type Ticks = u64;

/// A monotonic clock read on every cache lookup that has a TTL.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Nanoseconds since the mock clock started, or `None` for the coarse clock.
    mock: Option<Arc<AtomicU64>>,
}

/// The handle that moves a mock [`Clock`] forward.
#[derive(Clone, Debug)]
pub struct MockTime(Arc<AtomicU64>);

impl MockTime {
    /// Moves the mock clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Relaxed);
    }
}

fn start_updater_once() {
    static UPDATER: OnceLock<Option<coarsetime::Updater>> = OnceLock::new();
    UPDATER.get_or_init(|| {
        coarsetime::Instant::update();
        coarsetime::Updater::new(RESOLUTION_MS).start().ok()
    });
}

impl Clock {
    /// The process-wide coarse clock; starts the updater thread on first use.
    pub fn coarse() -> Self {
        start_updater_once();
        Self { mock: None }
    }

    /// A clock that stands still until the returned [`MockTime`] advances it.
    pub fn mock() -> (Self, MockTime) {
        let time = Arc::new(AtomicU64::new(0));
        (
            Self {
                mock: Some(time.clone()),
            },
            MockTime(time),
        )
    }

    /// The current coarse time.
    #[inline]
    pub fn now(&self) -> Ticks {
        match &self.mock {
            None => coarsetime::Instant::recent().as_ticks(),
            // Nanoseconds are summed and converted once, so that steps add up
            // exactly to a TTL converted the same way.
            Some(nanos) => ticks(Duration::from_nanos(nanos.load(Relaxed))),
        }
    }
}

/// `d` in clock ticks, saturating at `Ticks::MAX`.
#[inline]
pub fn ticks(d: Duration) -> Ticks {
    coarsetime::Duration::from(d).as_ticks()
}

/// Clock ticks as a [`Duration`].
#[inline]
pub fn duration(t: Ticks) -> Duration {
    coarsetime::Duration::from_ticks(t).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_clock_moves_only_when_advanced() {
        let (clock, time) = Clock::mock();
        assert_eq!(clock.now(), 0);
        time.advance(Duration::from_millis(5));
        let moved = duration(clock.now());
        assert!(moved.abs_diff(Duration::from_millis(5)) < Duration::from_micros(1));
    }

    #[test]
    fn coarse_clock_advances() {
        let clock = Clock::coarse();
        let start = clock.now();
        // The updater thread may wait for a core on a loaded machine: poll.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while duration(clock.now() - start) < Duration::from_millis(10) {
            assert!(
                std::time::Instant::now() < deadline,
                "the updater thread does not refresh the coarse time"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
