//! A worker process: started several times against one throwaway
//! redis-server (or cluster), told what to do on standard input, one command
//! a line, and answering on standard output.
//!
//! A process of its own for `tests/redis_processes.rs` and
//! `tests/redis_cluster.rs`, driven through tests/common/worker_process.rs.
//!
//! Environment: `MEMOCACHE_REDIS_URL`, or `MEMOCACHE_REDIS_CLUSTER` (the
//! nodes of a Redis Cluster, comma-separated; built with `redis-cluster`),
//! `WORKER_BODY_MS` (how long a body runs), `WORKER_LOCK_TTL_MS` (the
//! cross-process lock's TTL).
//!
//! Commands: `call ID TASKS` (TASKS tasks call `slow(ID)` at once; answers
//! `done RUNS OK`), `fill ID`, `watch ID` (answers `dropped NANOS` once the
//! local tier no longer holds ID, NANOS since the Unix epoch), `invalidate ID`
//! (answers `at NANOS` just before invalidating), `exit`.

use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant, SystemTime};

use memocache::async_cached;
use memocache::redis::{configure, RedisSettings};

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn env_ms(name: &str, default: u64) -> Duration {
    let ms = std::env::var(name).ok().and_then(|v| v.parse().ok());
    Duration::from_millis(ms.unwrap_or(default))
}

#[async_cached(store = "redis", size = 1000, ttl = "10m", namespace = "procs:slow")]
async fn slow(id: u64) -> u64 {
    RUNS.fetch_add(1, SeqCst);
    tokio::time::sleep(env_ms("WORKER_BODY_MS", 300)).await;
    id * 10
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos()
}

#[tokio::main]
async fn main() {
    let settings = RedisSettings::from_env()
        .timeout(Duration::from_secs(1))
        .lock_ttl(env_ms("WORKER_LOCK_TTL_MS", 2_000));
    configure(settings).expect("configured before first use");
    println!("ready");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("a line of input");
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| -> u64 { words[i].parse().expect("a number") };
        match words.first().copied() {
            Some("call") => {
                let (id, tasks) = (number(1), number(2));
                let calls: Vec<_> = (0..tasks).map(|_| tokio::spawn(slow(id))).collect();
                let mut right = true;
                for call in calls {
                    right &= call.await.expect("no panic") == id * 10;
                }
                println!("done {} {right}", RUNS.load(SeqCst));
            }
            Some("fill") => {
                assert_eq!(slow(number(1)).await, number(1) * 10);
                println!("filled");
            }
            Some("watch") => {
                let id = number(1);
                let start = Instant::now();
                while SLOW.store().get(&id).is_some() && start.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_micros(200));
                }
                match SLOW.store().get(&id) {
                    None => println!("dropped {}", now_nanos()),
                    Some(_) => println!("kept"),
                }
            }
            Some("invalidate") => {
                println!("at {}", now_nanos());
                SLOW.invalidate(&number(1)).await;
            }
            Some("exit") | None => return,
            Some(other) => panic!("unknown command {other}"),
        }
    }
}
