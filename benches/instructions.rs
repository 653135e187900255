//! A fixed number of calls of one peer on the churn or the hit workload, for
//! `scripts/instructions.sh` to count under callgrind: instruction counts are
//! exact and repeatable where wall time on a shared machine is not.
//!
//! `instructions <churn|hit> <peer> <calls>`

mod peers;

use std::hint::black_box;

use peers::{Rng, Visit};

/// The churn workload: 100,000 distinct keys through caches of 1000.
mod churn {
    crate::peers::memoized_peers!(1000);
}

/// The hit workload: a random walk over 1024 warm keys in caches of 4096.
mod hit {
    crate::peers::memoized_peers!(4096);
}

/// Calls the peer named `name`, if it is visited: first once on each warm key,
/// then `calls` times cycling through `keys`.
struct Calls {
    name: String,
    warm: Vec<u64>,
    keys: Vec<u64>,
    calls: usize,
    found: bool,
}

impl Visit for Calls {
    fn peer<F: Fn(u64) -> u64 + Sync>(&mut self, name: &'static str, call: F, _len: fn() -> usize) {
        if name != self.name {
            return;
        }
        self.found = true;
        for &key in &self.warm {
            black_box(call(key));
        }
        for at in 0..self.calls {
            black_box(call(black_box(self.keys[at % self.keys.len()])));
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, name, calls] = &args[..] else {
        eprintln!("usage: instructions <churn|hit> <peer> <calls>");
        std::process::exit(2);
    };
    let calls = calls.parse().expect("calls: a number");
    let mut run = Calls {
        name: name.clone(),
        warm: Vec::new(),
        keys: Vec::new(),
        calls,
        found: false,
    };
    match workload.as_str() {
        "churn" => {
            run.keys = (0..100_000).collect();
            Rng(1).shuffle(&mut run.keys);
            churn::visit_peers(&mut run);
        }
        "hit" => {
            run.warm = (0..1024).collect();
            run.keys = peers::random_keys(1, 1 << 14, 1024);
            hit::visit_peers(&mut run);
        }
        other => panic!("unknown workload {other}: churn or hit"),
    }
    assert!(run.found, "unknown peer {name}");
}
