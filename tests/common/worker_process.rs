//! Drives `redis_worker` processes (tests/workers/redis_worker.rs), the
//! binary of this package that `cargo test` builds: each one a tiered cache in a process of its
//! own, told what to do on standard input and answering on standard output.
//!
//! Included with `#[path = "common/worker_process.rs"] mod worker_process;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, SystemTime};

/// How long a worker may take to answer a command.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// One worker process, killed (by its own pid) when dropped.
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

fn worker_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_redis_worker"))
}

impl Worker {
    /// Starts a worker whose Redis is set by `redis` (`MEMOCACHE_REDIS_URL`
    /// or `MEMOCACHE_REDIS_CLUSTER` and its value), whose body takes
    /// `body_ms`, and whose cross-process lock lives `lock_ttl_ms`; waits
    /// for its `ready`.
    pub fn start(redis: (&str, String), body_ms: u64, lock_ttl_ms: u64) -> Worker {
        let mut child = Command::new(worker_path())
            .env_remove("MEMOCACHE_REDIS_URL")
            .env_remove("MEMOCACHE_REDIS_CLUSTER")
            .env(redis.0, redis.1)
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

    /// Sends one command line.
    pub fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("the worker reads its input");
        self.stdin.flush().expect("flushed");
    }

    /// The next line the worker writes, within [`ANSWER_WITHIN`].
    pub fn answer(&mut self) -> String {
        self.lines
            .recv_timeout(ANSWER_WITHIN)
            .expect("the worker answers in time")
    }

    /// Sends `command` and returns the answer.
    pub fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.answer()
    }

    /// The time in a `dropped NANOS` or `at NANOS` answer.
    pub fn time_of(answer: &str) -> u128 {
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

/// Nanoseconds since the Unix epoch, as the workers write them.
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos()
}

/// Milliseconds from one `now_nanos` to a later one.
pub fn latency_ms(from: u128, to: u128) -> f64 {
    (to.saturating_sub(from)) as f64 / 1e6
}
