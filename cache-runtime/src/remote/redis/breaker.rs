//! The circuit breaker in front of one Redis connection: after a run of
//! failures it opens, and calls skip Redis (a miss, a skipped write) until a
//! cool-down has passed; then one probe goes through, and its outcome closes
//! the breaker or opens it for another cool-down.
//!
//! Time is passed in, so that tests drive it without sleeping.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// What the breaker lets a caller do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead.
    Proceed,
    /// Go ahead as the one probe of a half-open breaker.
    Probe,
    /// Skip Redis.
    Skip,
}

/// What an admitted operation came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Redis answered.
    Answered,
    /// Redis failed or did not answer in time.
    Failed,
}

#[derive(Debug)]
enum State {
    /// Redis is used; `failures` in a row so far.
    Closed { failures: u32 },
    /// Redis is skipped until `until`.
    Open { until: Instant },
    /// One probe is out; everyone else skips until it reports.
    Probing,
}

/// A circuit breaker (see the module docs).
#[derive(Debug)]
pub(crate) struct Breaker {
    state: Mutex<State>,
    failures_to_open: u32,
    cool_down: Duration,
}

impl Breaker {
    /// A closed breaker that opens after `failures_to_open` failures in a row
    /// (at least 1) and stays open for `cool_down`.
    pub(crate) fn new(failures_to_open: u32, cool_down: Duration) -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
            failures_to_open: failures_to_open.max(1),
            cool_down,
        }
    }

    /// Whether an operation may go to Redis at `now`.
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        let mut state = self.state.lock();
        match *state {
            State::Closed { .. } => Admission::Proceed,
            State::Open { until } if now >= until => {
                *state = State::Probing;
                Admission::Probe
            }
            State::Open { .. } | State::Probing => Admission::Skip,
        }
    }

    /// Records how an admitted operation ended at `now`; tells whether this
    /// opened the breaker (the connection should then be replaced).
    pub(crate) fn record(&self, admission: Admission, verdict: Verdict, now: Instant) -> bool {
        let mut state = self.state.lock();
        match (verdict, &mut *state) {
            (Verdict::Answered, _) if admission == Admission::Probe => {
                *state = State::Closed { failures: 0 };
                false
            }
            (Verdict::Answered, State::Closed { failures }) => {
                *failures = 0;
                false
            }
            // An answer from before the breaker opened changes nothing.
            (Verdict::Answered, _) => false,
            (Verdict::Failed, _) if admission == Admission::Probe => {
                *state = State::Open {
                    until: now + self.cool_down,
                };
                true
            }
            (Verdict::Failed, State::Closed { failures }) => {
                *failures += 1;
                if *failures < self.failures_to_open {
                    return false;
                }
                *state = State::Open {
                    until: now + self.cool_down,
                };
                true
            }
            (Verdict::Failed, _) => false,
        }
    }

    /// Whether Redis is being skipped now (open, or waiting for its probe).
    pub(crate) fn is_open(&self) -> bool {
        !matches!(*self.state.lock(), State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(1);

    fn fail(breaker: &Breaker, now: Instant) -> bool {
        let admission = breaker.admit(now);
        assert_ne!(admission, Admission::Skip, "a failing call was admitted");
        breaker.record(admission, Verdict::Failed, now)
    }

    #[test]
    fn opens_after_the_given_run_of_failures_and_an_answer_resets_the_run() {
        let breaker = Breaker::new(3, COOL_DOWN);
        let t0 = Instant::now();
        assert!(!fail(&breaker, t0));
        assert!(!fail(&breaker, t0));
        let admission = breaker.admit(t0);
        assert!(!breaker.record(admission, Verdict::Answered, t0));
        assert!(!fail(&breaker, t0));
        assert!(!fail(&breaker, t0));
        assert!(!breaker.is_open(), "two failures since the last answer");
        assert!(fail(&breaker, t0), "the third failure in a row opens it");
        assert!(breaker.is_open());
        assert_eq!(breaker.admit(t0 + COOL_DOWN / 2), Admission::Skip);
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_and_its_answer_closes_the_breaker() {
        let breaker = Breaker::new(1, COOL_DOWN);
        let t0 = Instant::now();
        assert!(fail(&breaker, t0));
        let later = t0 + COOL_DOWN;
        assert_eq!(breaker.admit(later), Admission::Probe);
        assert_eq!(breaker.admit(later), Admission::Skip, "one probe at a time");
        assert!(!breaker.record(Admission::Probe, Verdict::Answered, later));
        assert!(!breaker.is_open());
        assert_eq!(breaker.admit(later), Admission::Proceed);
    }

    #[test]
    fn a_failed_probe_opens_the_breaker_for_another_cool_down() {
        let breaker = Breaker::new(1, COOL_DOWN);
        let t0 = Instant::now();
        assert!(fail(&breaker, t0));
        let probe_time = t0 + COOL_DOWN;
        assert_eq!(breaker.admit(probe_time), Admission::Probe);
        assert!(breaker.record(Admission::Probe, Verdict::Failed, probe_time));
        assert_eq!(breaker.admit(probe_time + COOL_DOWN / 2), Admission::Skip);
        assert_eq!(breaker.admit(probe_time + COOL_DOWN), Admission::Probe);
    }

    #[test]
    fn late_reports_of_calls_admitted_before_the_opening_change_nothing() {
        let breaker = Breaker::new(1, COOL_DOWN);
        let t0 = Instant::now();
        let early = breaker.admit(t0);
        assert!(fail(&breaker, t0));
        assert!(!breaker.record(early, Verdict::Answered, t0));
        assert!(!breaker.record(early, Verdict::Failed, t0));
        assert!(breaker.is_open(), "still open until its probe answers");
    }
}
