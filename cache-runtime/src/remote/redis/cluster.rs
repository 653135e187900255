//! Redis Cluster (feature `redis-cluster`): the client and connection a link
//! makes for a cluster, how a [`Request`] is routed on it, and where the
//! cluster's masters are.
//!
//! A key's commands go to the master serving its slot (redis-rs follows
//! `MOVED` and `ASK`); one call of the store only ever names one key, so no
//! command spans slots. What must reach every master (`clear`'s `SCAN`,
//! client tracking) is routed there explicitly.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::{AsyncPushSender, ConnectionLike};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
use redis::{ConnectionInfo, IntoConnectionInfo, ProtocolVersion, RedisError, RedisResult, Value};

use crate::remote::redis::link::{Failure, Link, Request};
use crate::remote::redis::runtime;
use crate::remote::redis::settings::RedisSettings;

/// The cluster client for `settings`' nodes, speaking RESP3.
pub(crate) fn client(settings: &RedisSettings) -> Result<ClusterClient, RedisError> {
    let nodes = settings
        .cluster
        .iter()
        .flatten()
        .map(|node| node.as_str().into_connection_info())
        .collect::<RedisResult<Vec<ConnectionInfo>>>()?;
    // Retries are few and short: the link's deadline bounds every request anyway.
    let wait = u64::try_from(settings.timeout.as_millis()).unwrap_or(u64::MAX);
    #[allow(unused_mut)]
    let mut builder = ClusterClient::builder(nodes)
        .use_protocol(ProtocolVersion::RESP3)
        .connection_timeout(settings.timeout)
        .retries(1)
        .min_retry_wait(wait.min(10))
        .max_retry_wait(wait);
    #[cfg(feature = "redis-tls")]
    {
        let tls = settings.root_certificate.is_some()
            || settings
                .cluster
                .iter()
                .flatten()
                .any(|n| n.starts_with("rediss://"));
        if tls {
            crate::remote::redis::link::install_crypto_provider();
        }
        if let Some(root_cert) = &settings.root_certificate {
            builder = builder.certs(redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert.clone()),
            });
        }
    }
    builder.build()
}

/// A connection to the cluster, made in the background on the library's
/// runtime; what the nodes push goes to `pushes`.
pub(crate) fn connect(
    client: &ClusterClient,
    timeout: Duration,
    pushes: Option<impl AsyncPushSender>,
) -> ClusterConnection {
    let _runtime = runtime::handle().enter();
    let mut config = ClusterConfig::new().set_connection_timeout(timeout);
    if let Some(pushes) = pushes {
        config = config.set_push_sender(pushes);
    }
    client.get_pending_async_connection_with_config(config)
}

/// Sends `request` on `connection`, routed as it says (a command by its key).
pub(crate) async fn send(
    connection: &mut ClusterConnection,
    request: &Request,
) -> RedisResult<Value> {
    match request {
        Request::Command(cmd) => connection.req_packed_command(cmd).await,
        Request::Routed(cmd, routing) => {
            connection.route_command(cmd.clone(), routing.clone()).await
        }
        Request::Pipeline(pipeline, route) => connection
            .route_pipeline(
                pipeline.clone(),
                0,
                pipeline.len(),
                SingleNodeRoutingInfo::SpecificNode(*route),
            )
            .await
            .map(Value::Array),
    }
}

/// A master of the cluster, as `CLUSTER SLOTS` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Master {
    /// Its node id (`CLUSTER MYID`).
    pub(crate) id: String,
    /// `host:port`.
    pub(crate) address: String,
    /// A slot it serves: a request routed by it reaches this master.
    pub(crate) slot: u16,
}

impl Master {
    /// The route to this master.
    pub(crate) fn route(&self) -> Route {
        Route::new(self.slot, SlotAddr::Master)
    }
}

/// The masters serving the cluster's slots now.
pub(crate) async fn masters(link: &std::sync::Arc<Link>) -> Result<Vec<Master>, Failure> {
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("SLOTS");
    let answer = std::sync::Arc::clone(link).run(cmd).await?;
    parse_slots(answer).ok_or_else(|| Failure::Failed("CLUSTER SLOTS: unexpected answer".into()))
}

/// The masters of a `CLUSTER SLOTS` answer: ranges of `[start, end, master,
/// replicas...]`, a node being `[host, port, id, ...]`.
fn parse_slots(answer: Value) -> Option<Vec<Master>> {
    let Value::Array(ranges) = answer else {
        return None;
    };
    let mut masters: HashMap<String, Master> = HashMap::new();
    for range in ranges {
        let Value::Array(range) = range else {
            return None;
        };
        let (Some(Value::Int(start)), Some(Value::Array(node))) = (range.first(), range.get(2))
        else {
            return None;
        };
        let (Some(host), Some(Value::Int(port)), Some(id)) = (
            node.first().and_then(text),
            node.get(1),
            node.get(2).and_then(text),
        ) else {
            return None;
        };
        let slot = u16::try_from(*start).ok()?;
        let master = masters.entry(id.clone()).or_insert_with(|| Master {
            id,
            address: format!("{host}:{port}"),
            slot,
        });
        master.slot = master.slot.min(slot);
    }
    let mut masters: Vec<Master> = masters.into_values().collect();
    masters.sort_by_key(|master| master.slot);
    Some(masters)
}

/// A string of an answer, bulk or simple.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn node(port: i64, id: &str) -> Value {
        Value::Array(vec![bulk("127.0.0.1"), Value::Int(port), bulk(id)])
    }

    #[test]
    fn the_masters_of_cluster_slots_are_one_each_with_their_lowest_slot() {
        let range = |start, end, master, replica| {
            Value::Array(vec![Value::Int(start), Value::Int(end), master, replica])
        };
        let answer = Value::Array(vec![
            range(10923, 16383, node(7002, "c"), node(7005, "f")),
            range(5461, 10922, node(7001, "b"), node(7004, "e")),
            range(100, 5460, node(7000, "a"), node(7003, "d")),
            range(0, 99, node(7000, "a"), node(7003, "d")),
        ]);
        let masters = parse_slots(answer).expect("parsed");
        let seen: Vec<(&str, &str, u16)> = masters
            .iter()
            .map(|m| (m.id.as_str(), m.address.as_str(), m.slot))
            .collect();
        assert_eq!(
            seen,
            [
                ("a", "127.0.0.1:7000", 0),
                ("b", "127.0.0.1:7001", 5461),
                ("c", "127.0.0.1:7002", 10923)
            ]
        );
    }

    #[test]
    fn an_answer_of_another_shape_is_refused() {
        assert_eq!(parse_slots(Value::Nil), None);
        assert_eq!(
            parse_slots(Value::Array(vec![Value::Array(vec![Value::Int(0)])])),
            None
        );
    }
}
