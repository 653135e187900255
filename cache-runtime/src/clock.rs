//! The coarse clock that TTLs are checked against.
//!
//! A hit must not pay for a system call: [`Clock::now`] reads a timestamp that a
//! background thread (quanta's upkeep thread) refreshes every millisecond, so
//! reading the time is one relaxed atomic load. Tests swap in a mock clock that
//! only moves when told to.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How often the upkeep thread refreshes the coarse time. Entries may live up to
/// this much longer than their TTL.
pub const RESOLUTION: Duration = Duration::from_millis(1);

/// Nanoseconds since the clock's origin: the unit of every expiry in the stores.
pub type Nanos = u64;

/// A monotonic clock read on every cache lookup that has a TTL.
#[derive(Clone, Debug)]
pub struct Clock {
    source: quanta::Clock,
    origin: quanta::Instant,
}

/// The handle that moves a mock [`Clock`] forward.
#[derive(Clone, Debug)]
pub struct MockTime(Arc<quanta::Mock>);

impl MockTime {
    /// Moves the mock clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.0.increment(by);
    }
}

fn start_upkeep_once() {
    static UPKEEP: OnceLock<Option<quanta::Handle>> = OnceLock::new();
    UPKEEP.get_or_init(|| quanta::Upkeep::new(RESOLUTION).start().ok());
}

impl Clock {
    /// The process-wide coarse clock; starts the upkeep thread on first use.
    pub fn coarse() -> Self {
        start_upkeep_once();
        let source = quanta::Clock::new();
        let origin = source.recent();
        Self { source, origin }
    }

    /// A clock that stands still until the returned [`MockTime`] advances it.
    pub fn mock() -> (Self, MockTime) {
        let (source, mock) = quanta::Clock::mock();
        let origin = source.recent();
        (Self { source, origin }, MockTime(mock))
    }

    /// The current coarse time.
    #[inline]
    pub fn now(&self) -> Nanos {
        duration_nanos(self.source.recent().saturating_duration_since(self.origin))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::coarse()
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (about 584 years).
#[inline]
pub fn duration_nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_clock_moves_only_when_advanced() {
        let (clock, time) = Clock::mock();
        assert_eq!(clock.now(), 0);
        time.advance(Duration::from_millis(5));
        assert_eq!(clock.now(), 5_000_000);
    }

    #[test]
    fn coarse_clock_advances() {
        let clock = Clock::coarse();
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.now() >= start + 10_000_000, "coarse clock did not move");
    }
}
