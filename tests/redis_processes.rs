//! Tiered caches in several real processes sharing one throwaway
//! redis-server: invalidations reach every process, and a cold key is
//! computed once across all of them. The processes are the `redis_worker`
//! binary of this package (workers/redis_worker.rs), which `cargo test` builds.
#![cfg(feature = "redis")]

#[path = "common/redis_server.rs"]
mod redis_server;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant, SystemTime};

use redis_server::RedisServer;

/// How long a worker may take to answer a command.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// One worker process, killed when dropped.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

fn worker_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_redis_worker"))
}

impl Worker {
    fn start(server: &RedisServer, body_ms: u64, lock_ttl_ms: u64) -> Worker {
        let mut child = Command::new(worker_path())
            .env("MEMOCACHE_REDIS_URL", server.url())
            .env("WORKER_BODY_MS", body_ms.to_string())
            .env("WORKER_LOCK_TTL_MS", lock_ttl_ms.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the worker starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut worker = Worker {
            child,
            stdin,
            lines,
        };
        assert_eq!(worker.answer(), "ready");
        worker
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("the worker reads its input");
        self.stdin.flush().expect("flushed");
    }

    fn answer(&mut self) -> String {
        self.lines
            .recv_timeout(ANSWER_WITHIN)
            .expect("the worker answers in time")
    }

    fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.answer()
    }

    /// The time in a `dropped NANOS` or `at NANOS` answer.
    fn time_of(answer: &str) -> u128 {
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no time in {answer:?}"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos()
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

fn latency_ms(from: u128, to: u128) -> f64 {
    (to.saturating_sub(from)) as f64 / 1e6
}

#[test]
fn an_invalidation_in_one_process_reaches_another_within_100_ms() {
    let server = RedisServer::start();
    let (mut a, mut b) = (
        Worker::start(&server, 10, 2_000),
        Worker::start(&server, 10, 2_000),
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
        Worker::start(&server, 10, 2_000),
        Worker::start(&server, 10, 2_000),
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
        Worker::start(&server, 300, 2_000),
        Worker::start(&server, 300, 2_000),
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
    let mut holder = Worker::start(&server, 60_000, lock_ttl.as_millis() as u64);
    let mut other = Worker::start(
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
