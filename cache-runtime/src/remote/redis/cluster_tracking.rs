//! Client tracking on a Redis Cluster: each master reports changes to its own
//! keys only, so tracking is turned on on every master (on the cluster
//! connection's link to it, which then receives its pushes), and the
//! heartbeat asks every master whether tracking is still on there.
//!
//! A node connection that redis-rs replaced (after a drop, or a master that
//! failed over) comes back without tracking: `CLIENT TRACKINGINFO` shows it
//! off, or shows a master that was not tracked, and the local tiers are
//! cleared as when one server's channel is lost.

use std::sync::Arc;

use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};
use redis::{Cmd, Value};

use crate::remote::redis::cluster::text;
use crate::remote::redis::link::{Link, Request};
use crate::remote::redis::tracking::Tracked;

/// Turns tracking on with `on` (`CLIENT TRACKING ON ...`) at every master;
/// the masters it is on at, if that is every master.
pub(crate) async fn enable(link: &Arc<Link>, on: Cmd) -> Option<Tracked> {
    let mut off = redis::cmd("CLIENT");
    off.arg("TRACKING").arg("OFF");
    for cmd in [off, on] {
        let request = Request::Routed(cmd, every_master(Some(ResponsePolicy::AllSucceeded)));
        Arc::clone(link).run(request).await.ok()?;
    }
    tracking_masters(link).await
}

/// Whether tracking is still on at every master, and those are `tracked`.
pub(crate) async fn alive(link: &Arc<Link>, tracked: &Tracked) -> bool {
    tracking_masters(link).await.as_ref() == Some(tracked)
}

/// The masters the cluster connection knows, if tracking is on at all of them.
async fn tracking_masters(link: &Arc<Link>) -> Option<Tracked> {
    let mut info = redis::cmd("CLIENT");
    info.arg("TRACKINGINFO");
    // No response policy: one answer per master, by address.
    let answer = Arc::clone(link)
        .run(Request::Routed(info, every_master(None)))
        .await
        .ok()?;
    let Value::Map(answers) = answer else {
        return None;
    };
    let mut tracked = Tracked::new();
    for (address, info) in answers {
        if !is_on(&info) {
            return None;
        }
        tracked.insert(text(&address)?);
    }
    (!tracked.is_empty()).then_some(tracked)
}

fn every_master(policy: Option<ResponsePolicy>) -> RoutingInfo {
    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, policy))
}

/// Whether a `CLIENT TRACKINGINFO` answer has the flag `on`.
fn is_on(info: &Value) -> bool {
    let Value::Map(fields) = info else {
        return false;
    };
    fields.iter().any(|(name, flags)| {
        text(name).as_deref() == Some("flags")
            && matches!(flags, Value::Set(flags) | Value::Array(flags)
                if flags.iter().any(|flag| text(flag).as_deref() == Some("on")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(flags: &[&str]) -> Value {
        let flags = flags
            .iter()
            .map(|f| Value::SimpleString((*f).to_owned()))
            .collect();
        Value::Map(vec![
            (Value::BulkString(b"flags".to_vec()), Value::Set(flags)),
            (Value::BulkString(b"redirect".to_vec()), Value::Int(-1)),
        ])
    }

    #[test]
    fn tracking_is_on_only_when_the_flags_say_so() {
        assert!(is_on(&info(&["on", "bcast", "noloop"])));
        assert!(!is_on(&info(&["off"])));
        assert!(!is_on(&Value::Nil));
    }
}
