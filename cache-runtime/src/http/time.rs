//! Wall-clock time read from the cache's coarse (or mock) clock: what `Age`,
//! `Last-Modified` and the remaining `max-age` are computed from, at the cost
//! of one atomic load.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::clock::{Clock, Ticks};

/// Milliseconds since the Unix epoch, advancing with a [`Clock`]: the wall
/// time when the cache was built, plus what the clock counted since.
#[derive(Clone, Debug)]
pub(crate) struct WallClock {
    clock: Clock,
    anchor_ms: u64,
    anchor_ticks: Ticks,
}

impl WallClock {
    pub(crate) fn new(clock: Clock) -> Self {
        let anchor_ticks = clock.now();
        let anchor_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Self {
            clock,
            anchor_ms,
            anchor_ticks,
        }
    }

    /// The time now, in milliseconds since the Unix epoch.
    #[inline]
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = self.clock.now().saturating_sub(self.anchor_ticks);
        // A tick is 2^-32 s.
        let elapsed_ms = (u128::from(elapsed) * 1000) >> 32;
        self.anchor_ms
            .saturating_add(u64::try_from(elapsed_ms).unwrap_or(u64::MAX))
    }
}

/// `ms` milliseconds after the Unix epoch, as a [`SystemTime`].
pub(crate) fn system_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn follows_a_mock_clock_from_the_wall_time() {
        let (clock, time) = Clock::mock();
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let wall = WallClock::new(clock);
        let start = wall.now_ms();
        assert!(start.abs_diff(before.as_millis() as u64) < 5_000);
        time.advance(Duration::from_millis(1500));
        assert_eq!(wall.now_ms() - start, 1500);
    }
}
