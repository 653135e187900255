//! `clear` on a Redis Cluster: `SCAN MATCH` on every master (a bare `SCAN`
//! reaches one node, at random), then `UNLINK` of what it found, one command
//! per slot (a command spanning slots is refused with `CROSSSLOT`).
//!
//! Each `SCAN` is routed by a slot its master serves, in one pipeline with
//! `CLUSTER MYID`: a cursor belongs to one node, so if the slot moved to
//! another master meanwhile, the answer says so and that master's scan stops
//! rather than go on with another node's cursor.

use std::collections::HashMap;
use std::sync::Arc;

use redis::cluster_routing::Slot;

use crate::remote::redis::cluster::{masters, Master};
use crate::remote::redis::link::{Failure, Link, Request};

/// Unlinks every key matching `pattern` on every master, `batch` keys a
/// `SCAN` step. A master that fails is skipped; the first failure is
/// returned once the others are done.
pub(crate) async fn clear(link: &Arc<Link>, pattern: &str, batch: usize) -> Result<(), Failure> {
    let mut outcome = Ok(());
    for master in masters(link).await? {
        let cleared = clear_master(link, &master, pattern, batch).await;
        if outcome.is_ok() {
            outcome = cleared;
        }
    }
    outcome
}

async fn clear_master(
    link: &Arc<Link>,
    master: &Master,
    pattern: &str,
    batch: usize,
) -> Result<(), Failure> {
    let mut cursor = 0u64;
    loop {
        let mut step = redis::pipe();
        step.cmd("CLUSTER").arg("MYID");
        step.cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(batch);
        let answer = Arc::clone(link)
            .run(Request::Pipeline(step, master.route()))
            .await?;
        let (id, (next, keys)) =
            redis::from_redis_value::<(String, (u64, Vec<Vec<u8>>))>(answer)
                .map_err(|error| Failure::Failed(format!("SCAN on a cluster master: {error}")))?;
        if id != master.id {
            return Err(Failure::Failed(format!(
                "slot {} moved from master {} while clearing",
                master.slot, master.address
            )));
        }
        for keys in by_slot(keys).into_values() {
            let mut unlink = redis::cmd("UNLINK");
            unlink.arg(keys);
            Arc::clone(link).run(unlink).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// `keys` grouped by their slot.
fn by_slot(keys: Vec<Vec<u8>>) -> HashMap<Slot, Vec<Vec<u8>>> {
    let mut slots: HashMap<Slot, Vec<Vec<u8>>> = HashMap::new();
    for key in keys {
        slots.entry(Slot::for_key(&key)).or_default().push(key);
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sharing_a_hash_tag_share_a_group_and_others_do_not() {
        let keys = ["{a}:1", "{a}:2", "b:1"].map(|k| k.as_bytes().to_vec());
        let mut groups: Vec<usize> = by_slot(keys.to_vec()).values().map(Vec::len).collect();
        groups.sort_unstable();
        assert_eq!(groups, [1, 2]);
    }
}
