//! The in-process tier: sharded LRUs with TTL entries, the per-thread front
//! tables that keep a hit off shared memory, the budget the shards share, and
//! the flights through which concurrent callers of a cold key share one run.

pub(crate) mod budget;
pub(crate) mod claim;
pub(crate) mod flights;
pub(crate) mod front;
pub(crate) mod latch;
pub(crate) mod local;
pub(crate) mod nesting;
pub(crate) mod shard;
pub(crate) mod store;
