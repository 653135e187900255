//! Size and TTL set at start-up (`configure`, `set_size`, `set_ttl`): they
//! apply when given before the cache's first use, and are refused with
//! `AlreadyInUse` after it, changing nothing.

use std::time::Duration;

use memocache::{async_cached, cached, AlreadyInUse, Clock};

#[cached(size = 100, ttl = "1h")]
fn configured(n: u64) -> u64 {
    n
}

#[test]
fn building_the_store_seals_the_settings() {
    let (clock, _time) = Clock::mock();
    assert!(CONFIGURED.use_clock(clock));
    // `use_clock` built the store: too late to configure now.
    let late = CONFIGURED.set_size(2).unwrap_err();
    assert_eq!(late.namespace(), CONFIGURED.namespace());
    assert_eq!(CONFIGURED.stats().capacity, Some(100));
}

#[cached(size = 100, ttl = "1h")]
fn sized(n: u64) -> u64 {
    n
}

#[test]
fn size_and_ttl_set_before_first_use_are_used() {
    SIZED
        .configure(|c| c.size(2).ttl(Duration::from_secs(5)))
        .unwrap();
    let (clock, time) = Clock::mock();
    assert!(SIZED.use_clock(clock));
    assert_eq!(SIZED.stats().capacity, Some(2));
    for n in 0..3 {
        sized(n);
    }
    assert_eq!(SIZED.len(), 2, "the size set at run time bounds the cache");
    assert_eq!(SIZED.get(&2), Some(2));
    time.advance(Duration::from_secs(6));
    assert_eq!(SIZED.get(&2), None, "the TTL set at run time expires it");
}

#[cached(unbounded)]
fn used_first(n: u64) -> u64 {
    n
}

#[test]
fn configure_after_first_use_is_refused_and_changes_nothing() {
    used_first(1);
    let refused: AlreadyInUse = USED_FIRST.set_size(1).unwrap_err();
    assert!(refused.to_string().contains("already in use"), "{refused}");
    assert!(USED_FIRST.set_ttl(Duration::from_secs(1)).is_err());
    used_first(2);
    assert_eq!(USED_FIRST.len(), 2, "still unbounded");
    assert_eq!(USED_FIRST.stats().capacity, None);
}

#[async_cached(size = 10)]
async fn fetched(n: u64) -> u64 {
    n
}

#[tokio::test]
async fn async_cache_is_configured_the_same_way() {
    FETCHED.set_size(1).unwrap();
    FETCHED.set_ttl(Duration::from_secs(60)).unwrap();
    fetched(1).await;
    fetched(2).await;
    assert_eq!(FETCHED.len(), 1);
    assert_eq!(FETCHED.stats().capacity, Some(1));
    assert!(FETCHED.set_size(5).is_err());
}
