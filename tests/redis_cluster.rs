//! The Redis tier on a local 3-master Redis Cluster that the harness creates:
//! values spread over every master and come back, `invalidate` and `clear`
//! reach the right masters (`clear` every one), tiered caches in separate
//! processes see each other's invalidations and a raw `DEL`, and a killed
//! master costs misses, never an error.
#![cfg(feature = "redis-cluster")]

#[path = "common/redis_server.rs"]
mod redis_server;
#[path = "common/worker_process.rs"]
mod worker_process;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use memocache::async_cached;
use memocache::redis::{configure_namespace, RedisSettings, CLUSTER_VARIABLE};
use redis_server::RedisCluster;
use worker_process::{latency_ms, now_nanos, Worker};

const MASTERS: usize = 3;

fn use_cluster(namespace: &str, cluster: &RedisCluster, timeout: Duration) {
    let settings = RedisSettings::default()
        .cluster(cluster.urls())
        .timeout(timeout);
    configure_namespace(namespace, settings).expect("configured before first use");
}

/// The keys matching `pattern` that node `index` holds.
fn keys_on(cluster: &RedisCluster, index: usize, pattern: &str) -> BTreeSet<String> {
    cluster.nodes()[index]
        .cli(&["--scan", "--pattern", pattern])
        .lines()
        .map(str::to_owned)
        .filter(|key| !key.is_empty())
        .collect()
}

static SQUARE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(store = "redis", ttl = "10m", namespace = "cluster:square")]
async fn square(n: u64) -> u64 {
    SQUARE_RUNS.fetch_add(1, SeqCst);
    n * n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_spread_over_every_master_come_back_and_invalidate_reaches_their_master() {
    let cluster = RedisCluster::start(MASTERS);
    use_cluster("cluster:square", &cluster, Duration::from_secs(2));

    for n in 0..60 {
        assert_eq!(square(n).await, n * n);
    }
    assert_eq!(SQUARE_RUNS.load(SeqCst), 60);
    for index in 0..MASTERS {
        assert!(
            !keys_on(&cluster, index, "cluster:square:*").is_empty(),
            "master {index} holds none of the keys"
        );
    }
    // No local tier: these come from the cluster, each from its key's master.
    for n in 0..60 {
        assert_eq!(square(n).await, n * n);
    }
    assert_eq!(SQUARE_RUNS.load(SeqCst), 60, "every value came back");
    assert_eq!(SQUARE.stats().remote.expect("a Redis tier").hits, 60);

    let key = "cluster:square:41";
    let master = cluster.node_of(key);
    assert!(keys_on(&cluster, master, key).contains(key));
    assert!(SQUARE.invalidate(&41).await, "the key was in the cluster");
    assert!(
        keys_on(&cluster, master, key).is_empty(),
        "gone from its master"
    );
    assert_eq!(square(41).await, 41 * 41);
    assert_eq!(SQUARE_RUNS.load(SeqCst), 61, "computed again, once");
}

#[async_cached(store = "redis", ttl = "10m", namespace = "cluster:clear")]
async fn cleared(n: u64) -> u64 {
    n + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_unlinks_the_namespace_on_every_master_and_nothing_else() {
    let cluster = RedisCluster::start(MASTERS);
    use_cluster("cluster:clear", &cluster, Duration::from_secs(2));

    // More keys than one SCAN step asks for, over every master.
    for n in 0..1_200 {
        assert_eq!(cleared(n).await, n + 1);
    }
    let foreign = ["cluster:clearance:1", "other:1", "cluster:clea"];
    for key in foreign {
        assert_eq!(cluster.cli(&["SET", key, "kept"]), "OK");
    }
    let mut held = 0;
    for index in 0..MASTERS {
        let keys = keys_on(&cluster, index, "cluster:clear:*").len();
        assert!(keys > 0, "master {index} holds none of the keys");
        held += keys;
    }
    assert_eq!(held, 1_200);

    CLEARED.clear().await;

    for index in 0..MASTERS {
        let left = keys_on(&cluster, index, "cluster:clear:*");
        assert!(left.is_empty(), "master {index} kept {} keys", left.len());
    }
    for key in foreign {
        assert_eq!(cluster.cli(&["GET", key]), "kept", "{key} is not ours");
    }
    assert_eq!(CLEARED.stats().remote.expect("a Redis tier").errors, 0);
}

/// Waits until every master has `count` connections with client tracking on.
fn wait_for_tracking(cluster: &RedisCluster, count: usize) {
    let start = Instant::now();
    for node in cluster.nodes() {
        loop {
            let clients = node.cli(&["CLIENT", "LIST"]);
            if clients.lines().filter(|l| l.contains("flags=t")).count() >= count {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "node {}: {clients}",
                node.port()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // Tracking coming on clears each local tier once; let that pass.
    std::thread::sleep(Duration::from_millis(50));
}

/// Two worker ids whose keys (`procs:slow:ID`) live on different masters.
fn ids_on_two_masters(cluster: &RedisCluster) -> (u64, u64) {
    let first = cluster.node_of("procs:slow:1");
    let other = (2..100)
        .find(|id| cluster.node_of(&format!("procs:slow:{id}")) != first)
        .expect("100 keys do not all share a master");
    (1, other)
}

#[test]
fn tiered_processes_see_each_others_invalidations_and_a_raw_delete_on_any_master() {
    let cluster = RedisCluster::start(MASTERS);
    let nodes = cluster.urls().join(",");
    let mut workers = [
        Worker::start((CLUSTER_VARIABLE, nodes.clone()), 10, 2_000),
        Worker::start((CLUSTER_VARIABLE, nodes), 10, 2_000),
    ];
    let (invalidated, deleted) = ids_on_two_masters(&cluster);
    for worker in &mut workers {
        assert_eq!(worker.ask(&format!("fill {invalidated}")), "filled");
    }
    wait_for_tracking(&cluster, 2);

    // An invalidation in process A reaches process B.
    for worker in &mut workers {
        assert_eq!(worker.ask(&format!("fill {invalidated}")), "filled");
    }
    let [a, b] = &mut workers;
    b.send(&format!("watch {invalidated}"));
    let at = Worker::time_of(&a.ask(&format!("invalidate {invalidated}")));
    let dropped = b.answer();
    assert!(
        dropped.starts_with("dropped"),
        "process B kept it: {dropped}"
    );
    let seen = Worker::time_of(&dropped);
    assert!(seen >= at, "dropped before the invalidation");
    let latency = latency_ms(at, seen);
    assert!(latency < 100.0, "seen after {latency:.2} ms");

    // A raw DEL by another client, on another master, reaches both.
    for worker in &mut workers {
        assert_eq!(worker.ask(&format!("fill {deleted}")), "filled");
        worker.send(&format!("watch {deleted}"));
    }
    let at = now_nanos();
    assert_eq!(cluster.cli(&["DEL", &format!("procs:slow:{deleted}")]), "1");
    for worker in &mut workers {
        let dropped = worker.answer();
        assert!(
            dropped.starts_with("dropped"),
            "a process kept it: {dropped}"
        );
        let latency = latency_ms(at, Worker::time_of(&dropped));
        assert!(latency < 100.0, "seen after {latency:.2} ms");
    }
}

static SPREAD_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(store = "redis", ttl = "10m", namespace = "cluster:spread")]
async fn spread(n: u64) -> u64 {
    SPREAD_RUNS.fetch_add(1, SeqCst);
    n * 3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_costs_misses_and_never_an_error() {
    let mut cluster = RedisCluster::start(MASTERS);
    use_cluster("cluster:spread", &cluster, Duration::from_millis(200));
    for n in 0..30 {
        assert_eq!(spread(n).await, n * 3);
    }
    assert_eq!(SPREAD_RUNS.load(SeqCst), 30);

    let victim = cluster.node_of("cluster:spread:0");
    let lost: Vec<u64> = (0..30)
        .filter(|n| cluster.node_of(&format!("cluster:spread:{n}")) == victim)
        .collect();
    cluster.node_mut(victim).kill();

    for n in 0..30 {
        assert_eq!(spread(n).await, n * 3, "the right value, Redis or not");
    }
    let runs = SPREAD_RUNS.load(SeqCst) - 30;
    assert!(
        runs >= lost.len(),
        "the {} keys of the killed master were computed again ({runs} runs)",
        lost.len()
    );
    let remote = SPREAD.stats().remote.expect("a Redis tier");
    assert!(
        remote.errors + remote.timeouts + remote.skipped > 0,
        "the failures are counted: {remote:?}"
    );
}

static LOCAL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_cached(store = "redis", size = 100, ttl = "10m", namespace = "cluster:local")]
async fn local(n: u64) -> u64 {
    LOCAL_RUNS.fetch_add(1, SeqCst);
    n * 7
}

/// Fills `cache`'s local tier (namespace `cluster:NAME`) while tracking is
/// on at every master, takes down the master of its first key with `outage`,
/// and waits for the local tier to be emptied.
async fn local_tier_dropped_on_outage<F: std::future::Future<Output = u64>>(
    namespace: &str,
    call: impl Fn(u64) -> F,
    held: impl Fn(u64) -> bool,
    outage: impl FnOnce(&mut redis_server::RedisServer),
) -> RedisCluster {
    let mut cluster = RedisCluster::start(MASTERS);
    use_cluster(namespace, &cluster, Duration::from_millis(200));
    assert_eq!(call(0).await, 0);
    wait_for_tracking(&cluster, 1);

    for n in 0..20 {
        assert_eq!(call(n).await, n * 7);
    }
    assert!((0..20).all(&held), "held locally");

    // A master gone: the invalidations of its keys may be missed from now on.
    let victim = cluster.node_of(&format!("{namespace}:0"));
    outage(cluster.node_mut(victim));
    // `held` reads the local store, which applies the invalidations received first.
    let held_now = || (0..20).filter(|n| held(*n)).count();
    let start = Instant::now();
    while held_now() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the local tier still holds {} entries",
            held_now()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiered_cache_drops_its_local_tier_when_a_tracked_master_is_killed() {
    let runs = || LOCAL_RUNS.load(SeqCst);
    let _cluster = local_tier_dropped_on_outage(
        "cluster:local",
        local,
        |n| LOCAL.store().get(&n).is_some(),
        redis_server::RedisServer::kill,
    )
    .await;
    let before = runs();
    for n in 0..20 {
        assert_eq!(local(n).await, n * 7, "the right value, Redis or not");
    }
    assert!(
        runs() > before,
        "the lost master's keys were computed again"
    );
}

#[async_cached(store = "redis", size = 100, ttl = "10m", namespace = "cluster:frozen")]
async fn frozen(n: u64) -> u64 {
    n * 7
}

/// A frozen master drops no connection: only the heartbeat can tell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiered_cache_drops_its_local_tier_when_a_tracked_master_freezes() {
    let _cluster = local_tier_dropped_on_outage(
        "cluster:frozen",
        frozen,
        |n| FROZEN.store().get(&n).is_some(),
        redis_server::RedisServer::pause,
    )
    .await;
    for n in 0..20 {
        assert_eq!(frozen(n).await, n * 7, "the right value, Redis or not");
    }
}
