//! `store::deferred` on the sled store: inside a scope a durable write takes a ticket and the
//! flush waits for the scope's `Pending`; outside, each one flushes before it returns.

use std::future::Future as _;

use super::SledStore;
use crate::store::{deferred, FlushStats};

fn flushes(store: &SledStore) -> u64 {
    store.flush_stats().flushes
}

#[test]
fn outside_a_scope_every_durable_write_flushes_before_it_returns() {
    let store = SledStore::temporary();
    let before = flushes(&store);
    store.flush().unwrap();
    store.flush().unwrap();
    assert_eq!(flushes(&store), before + 2);
}

#[test]
fn inside_a_scope_the_writes_wait_once_for_the_pending_they_leave() {
    let store = SledStore::temporary();
    let before = store.flush_stats();
    let ((), pending) = deferred(|| {
        for _ in 0..3 {
            store.flush().unwrap();
        }
    });
    assert_eq!(
        store.flush_stats(),
        before,
        "nothing flushed inside the scope"
    );
    assert!(!pending.is_empty());
    pending.wait().unwrap();
    let after = store.flush_stats();
    assert_eq!(after.flushes, before.flushes + 1, "one flush for the three");
    assert_eq!(after.commits, before.commits + 3);
}

#[test]
fn a_scope_without_durable_writes_leaves_nothing_to_wait_for() {
    let store = SledStore::temporary();
    let before = flushes(&store);
    let (answer, pending) = deferred(|| 42);
    assert_eq!(answer, 42);
    assert!(pending.is_empty());
    pending.wait().unwrap();
    assert_eq!(flushes(&store), before);
}

#[test]
fn a_pending_dropped_without_a_wait_flushes_anyway() {
    let store = SledStore::temporary();
    let before = flushes(&store);
    let ((), pending) = deferred(|| store.flush().unwrap());
    drop(pending);
    assert_eq!(flushes(&store), before + 1);
}

#[test]
fn after_a_scope_ends_writes_flush_at_once_again() {
    let store = SledStore::temporary();
    let ((), pending) = deferred(|| store.flush().unwrap());
    pending.wait().unwrap();
    let before = flushes(&store);
    store.flush().unwrap();
    assert_eq!(flushes(&store), before + 1);
}

#[test]
fn a_nested_scope_keeps_its_writes_and_the_outer_one_its_own() {
    let store = SledStore::temporary();
    let before: FlushStats = store.flush_stats();
    let (inner, outer) = deferred(|| {
        let ((), inner) = deferred(|| store.flush().unwrap());
        inner
    });
    assert!(
        outer.is_empty(),
        "the inner scope's write is the inner pending's"
    );
    assert!(!inner.is_empty());
    assert_eq!(store.flush_stats(), before);
    inner.wait().unwrap();
    assert_eq!(flushes(&store), before.flushes + 1);
}

#[test]
fn a_panic_inside_a_scope_still_flushes_and_ends_the_scope() {
    let store = SledStore::temporary();
    let before = flushes(&store);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        deferred(|| {
            store.flush().unwrap();
            panic!("the engine call failed");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(flushes(&store), before + 1, "the write reached the disk");
    store.flush().unwrap();
    assert_eq!(flushes(&store), before + 2, "no scope is left behind");
}

#[test]
fn the_later_of_two_pendings_covers_both() {
    let store = SledStore::temporary();
    let ((), first) = deferred(|| store.flush().unwrap());
    let ((), second) = deferred(|| store.flush().unwrap());
    let before = store.flush_stats();
    first.and(second).wait().unwrap();
    let after = store.flush_stats();
    assert_eq!(after.flushes, before.flushes + 1);
    assert_eq!(after.commits, before.commits + 2);
}

#[tokio::test]
async fn async_waiters_share_one_flush_holding_no_thread() {
    let store = SledStore::temporary();
    let before = store.flush_stats();
    let pendings: Vec<_> = (0..8)
        .map(|_| deferred(|| store.flush().unwrap()).1)
        .collect();
    let results =
        futures_util::future::join_all(pendings.into_iter().map(|p| p.wait_async())).await;
    assert!(results.iter().all(Result::is_ok));
    let after = store.flush_stats();
    assert_eq!(after.flushes, before.flushes + 1, "one flush for the eight");
    assert_eq!(after.commits, before.commits + 8);
}

#[tokio::test]
async fn a_flush_whose_leading_waiter_went_away_still_completes() {
    let store = SledStore::temporary();
    let ((), first) = deferred(|| store.flush().unwrap());
    let ((), second) = deferred(|| store.flush().unwrap());
    {
        // Polled once (it starts the flush), then dropped: a client that hung up.
        let mut leader = Box::pin(first.wait_async());
        let waker = futures_util::task::noop_waker();
        let _ = leader
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&waker));
    }
    tokio::time::timeout(std::time::Duration::from_secs(10), second.wait_async())
        .await
        .expect("not stuck behind the abandoned flush")
        .unwrap();
}
