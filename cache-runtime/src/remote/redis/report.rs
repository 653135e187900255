//! Redis failures reported through `tracing`, at most one event per interval
//! per connection, each saying how many were left unreported before it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The shortest time between two reports of one connection.
const INTERVAL: Duration = Duration::from_secs(10);

/// Rate-limits the failure reports of one connection.
#[derive(Debug, Default)]
pub(crate) struct Reporter {
    last: Mutex<Option<Instant>>,
    unreported: AtomicU64,
}

impl Reporter {
    /// Reports a failure of an operation against `url`, or counts it for the
    /// next report.
    pub(crate) fn failure(&self, url: &str, what: &dyn std::fmt::Display) {
        let now = Instant::now();
        let mut last = self.last.lock();
        if last.is_some_and(|at| now.duration_since(at) < INTERVAL) {
            self.unreported.fetch_add(1, Relaxed);
            return;
        }
        *last = Some(now);
        drop(last);
        let unreported = self.unreported.swap(0, Relaxed);
        tracing::warn!(
            target: "memocache::redis",
            url = %redact(url),
            unreported,
            "Redis failed, served without it: {what}"
        );
    }
}

/// `url` without its password.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_report() {
        assert_eq!(
            redact("redis://app:s3cret@10.0.0.1:6379/2"),
            "redis://app:***@10.0.0.1:6379/2"
        );
        assert_eq!(redact("rediss://:pw@h"), "rediss://:***@h");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
