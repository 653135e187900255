//! How `#[cached]` derives keys from arguments, and that the handle derives
//! them the same way.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use memocache::cached;

static GREET_RUNS: AtomicUsize = AtomicUsize::new(0);

/// References become owned keys: `&str` is stored as `String`.
#[cached(size = 16)]
fn greet(name: &str) -> String {
    GREET_RUNS.fetch_add(1, SeqCst);
    format!("hello {name}")
}

#[test]
fn reference_arguments_become_owned_keys() {
    assert_eq!(greet("ann"), "hello ann");
    assert_eq!(greet(&String::from("ann")), "hello ann");
    assert_eq!(GREET_RUNS.load(SeqCst), 1);
    assert_eq!(GREET.get("ann").as_deref(), Some("hello ann"));
    assert!(GREET.invalidate("ann"));
    assert!(!GREET.invalidate("ann"), "already gone");
    assert_eq!(greet("ann"), "hello ann");
    assert_eq!(GREET_RUNS.load(SeqCst), 2);
}

static ADD_RUNS: AtomicUsize = AtomicUsize::new(0);
static MUL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn add(a: u64, b: u64) -> u64 {
    ADD_RUNS.fetch_add(1, SeqCst);
    a + b
}

#[cached]
fn mul(a: u64, b: u64) -> u64 {
    MUL_RUNS.fetch_add(1, SeqCst);
    a * b
}

#[test]
fn several_arguments_make_a_tuple_key_and_functions_never_share_entries() {
    assert_eq!(add(2, 3), 5);
    assert_eq!(
        mul(2, 3),
        6,
        "equal arguments, another function: its own entry"
    );
    assert_eq!(add(3, 2), 5, "argument order is part of the key");
    assert_eq!((ADD_RUNS.load(SeqCst), MUL_RUNS.load(SeqCst)), (2, 1));
    assert_eq!(ADD.get(&(2, 3)), Some(5));
    assert_eq!(MUL.get(&(2, 3)), Some(6));
    assert_ne!(ADD.namespace(), MUL.namespace());
}

static AREA_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn area((width, height): (u32, u32)) -> u32 {
    AREA_RUNS.fetch_add(1, SeqCst);
    width * height
}

#[test]
fn destructuring_patterns_key_on_their_bindings() {
    assert_eq!(area((3, 4)), 12);
    assert_eq!(area((3, 4)), 12);
    assert_eq!(area((4, 3)), 12);
    assert_eq!(AREA_RUNS.load(SeqCst), 2);
    assert_eq!(AREA.get(&(3, 4)), Some(12));
}

struct Db {
    name: &'static str,
}

static FIND_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(key = id)]
fn find(db: &Db, id: u64) -> String {
    FIND_RUNS.fetch_add(1, SeqCst);
    format!("{}#{id}", db.name)
}

static FIND_SKIP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn find_skipping(#[skip] db: &Db, id: u64) -> String {
    FIND_SKIP_RUNS.fetch_add(1, SeqCst);
    format!("{}#{id}", db.name)
}

#[test]
fn key_option_and_skip_marker_leave_arguments_out() {
    let (primary, replica) = (Db { name: "primary" }, Db { name: "replica" });
    assert_eq!(find(&primary, 1), "primary#1");
    assert_eq!(find(&replica, 1), "primary#1", "db is not part of the key");
    assert_eq!(FIND_RUNS.load(SeqCst), 1);
    assert_eq!(FIND.get(&1).as_deref(), Some("primary#1"));

    assert_eq!(find_skipping(&primary, 1), "primary#1");
    assert_eq!(find_skipping(&replica, 1), "primary#1");
    assert_eq!(FIND_SKIP_RUNS.load(SeqCst), 1);
    assert_eq!(FIND_SKIPPING.get(&1).as_deref(), Some("primary#1"));
}

struct User {
    id: u64,
    name: String,
}

#[cached(key = user.id, key_type = u64)]
fn badge(user: &User) -> String {
    format!("{}:{}", user.id, user.name)
}

#[test]
fn key_expressions_with_an_explicit_type() {
    let ann = User {
        id: 7,
        name: "ann".into(),
    };
    let renamed = User {
        id: 7,
        name: "anne".into(),
    };
    assert_eq!(badge(&ann), "7:ann");
    assert_eq!(badge(&renamed), "7:ann", "only the id is in the key");
    assert!(BADGE.invalidate(&7));
}

struct Catalog {
    markup: u64,
    lookups: AtomicUsize,
}

impl Catalog {
    /// Methods reach their handle through `Catalog::price_cache()`.
    #[cached(key = id)]
    fn price(&self, id: u64) -> u64 {
        self.lookups.fetch_add(1, SeqCst);
        id * 100 + self.markup
    }
}

#[test]
fn methods_key_on_the_named_arguments_only() {
    let catalog = Catalog {
        markup: 5,
        lookups: AtomicUsize::new(0),
    };
    assert_eq!(catalog.price(3), 305);
    assert_eq!(catalog.price(3), 305);
    assert_eq!(catalog.lookups.load(SeqCst), 1);
    assert_eq!(Catalog::price_cache().get(&3), Some(305));
    assert!(Catalog::price_cache().invalidate(&3));
    assert_eq!(catalog.price(3), 305);
    assert_eq!(catalog.lookups.load(SeqCst), 2);
}

static CONFIG_LOADS: AtomicUsize = AtomicUsize::new(0);

/// A function without arguments caches one value.
#[cached]
fn config() -> Vec<&'static str> {
    CONFIG_LOADS.fetch_add(1, SeqCst);
    vec!["a", "b"]
}

#[test]
fn no_arguments_cache_one_value() {
    assert_eq!(config(), vec!["a", "b"]);
    assert_eq!(config(), vec!["a", "b"]);
    assert_eq!(CONFIG_LOADS.load(SeqCst), 1);
    assert_eq!(CONFIG.len(), 1);
    assert!(CONFIG.invalidate(&()));
}
