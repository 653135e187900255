//! Tiered caches in several real processes sharing one throwaway
//! redis-server: invalidations reach every process, and a cold key is
//! computed once across all of them. The processes are the `redis_worker`
//! binary of this package (workers/redis_worker.rs), which `cargo test` builds.
#![cfg(feature = "redis")]

#[path = "common/redis_server.rs"]
mod redis_server;
#[path = "common/worker_process.rs"]
mod worker_process;

use std::time::{Duration, Instant};

use redis_server::RedisServer;
use worker_process::{latency_ms, now_nanos, Worker};

/// A `redis_worker` of `server`.
fn start_worker(server: &RedisServer, body_ms: u64, lock_ttl_ms: u64) -> Worker {
    Worker::start(("MEMOCACHE_REDIS_URL", server.url()), body_ms, lock_ttl_ms)
}

/// Waits until `count` connections have client tracking on.
fn wait_for_tracking(server: &RedisServer, count: usize) {
    let start = Instant::now();
    loop {
        let clients = server.cli(&["CLIENT", "LIST"]);
        let tracking = clients.lines().filter(|l| l.contains("flags=t")).count();
        if tracking >= count {
            // Tracking coming on clears each local tier once; let that pass.
            std::thread::sleep(Duration::from_millis(50));
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{clients}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_invalidation_in_one_process_reaches_another_within_100_ms() {
    let server = RedisServer::start();
    let (mut a, mut b) = (
        start_worker(&server, 10, 2_000),
        start_worker(&server, 10, 2_000),
    );
    assert_eq!(a.ask("fill 1"), "filled");
    assert_eq!(b.ask("fill 1"), "filled");
    wait_for_tracking(&server, 2);
    assert_eq!(b.ask("fill 1"), "filled");

    b.send("watch 1");
    let at = Worker::time_of(&a.ask("invalidate 1"));
    let dropped = b.answer();
    assert!(
        dropped.starts_with("dropped"),
        "process B kept the entry: {dropped}"
    );
    let latency = latency_ms(at, Worker::time_of(&dropped));
    assert!(latency < 100.0, "seen after {latency:.2} ms");
}

#[test]
fn a_delete_by_another_client_empties_every_local_tier_within_100_ms() {
    let server = RedisServer::start();
    let mut workers = [
        start_worker(&server, 10, 2_000),
        start_worker(&server, 10, 2_000),
    ];
    for worker in &mut workers {
        assert_eq!(worker.ask("fill 2"), "filled");
    }
    wait_for_tracking(&server, 2);
    for worker in &mut workers {
        assert_eq!(worker.ask("fill 2"), "filled");
        worker.send("watch 2");
    }
    let at = now_nanos();
    assert_eq!(server.cli(&["DEL", "procs:slow:2"]).trim(), "1");
    for worker in &mut workers {
        let dropped = worker.answer();
        assert!(
            dropped.starts_with("dropped"),
            "a process kept the entry: {dropped}"
        );
        let latency = latency_ms(at, Worker::time_of(&dropped));
        assert!(latency < 100.0, "seen after {latency:.2} ms");
    }
}

#[test]
fn two_processes_of_fifty_tasks_run_a_cold_key_once_in_all() {
    let server = RedisServer::start();
    let (mut a, mut b) = (
        start_worker(&server, 300, 2_000),
        start_worker(&server, 300, 2_000),
    );
    a.send("call 7 50");
    b.send("call 7 50");
    let (done_a, done_b) = (a.answer(), b.answer());
    let runs = |answer: &str| -> usize {
        let words: Vec<&str> = answer.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"done"), "{answer}");
        assert_eq!(words.get(2), Some(&"true"), "a wrong value: {answer}");
        words[1].parse().expect("a count")
    };
    assert_eq!(runs(&done_a) + runs(&done_b), 1, "{done_a} / {done_b}");
}

#[test]
fn a_killed_lock_holder_holds_the_others_no_longer_than_the_lock_ttl() {
    let server = RedisServer::start();
    let lock_ttl = Duration::from_millis(1_000);
    let body = Duration::from_millis(200);
    let mut holder = start_worker(&server, 60_000, lock_ttl.as_millis() as u64);
    let mut other = start_worker(
        &server,
        body.as_millis() as u64,
        lock_ttl.as_millis() as u64,
    );
    holder.send("call 9 1");
    let start = Instant::now();
    while server
        .cli(&["EXISTS", "__memocache_lock:procs:slow:9"])
        .trim()
        != "1"
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the holder never took the lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let taken = Instant::now();
    drop(holder);

    let done = other.ask("call 9 1");
    assert!(done.starts_with("done 1 true"), "{done}");
    let took = taken.elapsed();
    // Bounded by the lock's expiry plus this process's own body, with room
    // for a loaded machine.
    assert!(
        took < lock_ttl + body + Duration::from_millis(700),
        "the other process finished after {took:?}"
    );
}
