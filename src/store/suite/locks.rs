//! Lockout: attempts reserved before they are verified, failures, successes, unlocks and the
//! bounded table.

use chrono::{DateTime, Duration, Utc};

use super::both;
use crate::domain::Username;
use crate::store::{LockPolicy, Reservation, Storage};

fn policy(max_failures: u32, table_size: usize) -> LockPolicy {
    LockPolicy {
        max_failures,
        lock_duration: Duration::minutes(5),
        failure_window: Duration::hours(1),
        table_size,
    }
}

/// The time, to the microsecond: what PostgreSQL keeps of a time (a lock's expiry is read back
/// from there), and what the engine's clock says is never finer than what an answer shows.
fn now() -> DateTime<Utc> {
    use chrono::DurationRound;
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap()
}

fn name(n: &str) -> Username {
    Username::parse(n).unwrap()
}

/// One attempt that fails.
fn fail(s: &dyn Storage, name: &Username, now: DateTime<Utc>, policy: &LockPolicy) {
    assert_eq!(
        s.reserve_attempt(name, now, policy).unwrap(),
        Reservation::Granted
    );
    s.attempt_failed(name, now, policy).unwrap();
}

both!(
    the_lock_engages_after_the_limit_and_expires,
    |s: &dyn Storage| {
        let (name, policy) = (name("nobody"), policy(3, 100));
        let now = now();
        for _ in 0..3 {
            assert_eq!(
                s.reserve_attempt(&name, now, &policy).unwrap(),
                Reservation::Granted
            );
        }
        let until = now + policy.lock_duration;
        assert_eq!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Locked(until)
        );
        assert_eq!(s.locked_until(&name, now).unwrap(), Some(until));
        assert_eq!(s.locked_until(&name, until).unwrap(), None);
        let later = until + Duration::seconds(1);
        assert_eq!(
            s.reserve_attempt(&name, later, &policy).unwrap(),
            Reservation::Granted
        );
    }
);

both!(
    parallel_reservations_cannot_exceed_the_limit,
    |s: &dyn Storage| {
        let (name, policy) = (name("bob"), policy(4, 100));
        let now = now();
        let granted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| match s.reserve_attempt(&name, now, &policy).unwrap() {
                    Reservation::Granted => {
                        granted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Reservation::Locked(_) => {}
                    Reservation::TableFull => panic!("the table has room"),
                });
            }
        });
        assert_eq!(granted.into_inner(), 4);
        assert!(matches!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Locked(_)
        ));
    }
);

both!(a_success_resets_the_count, |s: &dyn Storage| {
    let (name, policy) = (name("alice"), policy(2, 100));
    let now = now();
    fail(s, &name, now, &policy);
    s.reserve_attempt(&name, now, &policy).unwrap();
    s.attempt_succeeded(&name).unwrap();
    // Two more failures are needed to lock the name again.
    fail(s, &name, now, &policy);
    assert_eq!(s.locked_until(&name, now).unwrap(), None);
    assert_eq!(
        s.reserve_attempt(&name, now, &policy).unwrap(),
        Reservation::Granted
    );
    assert_eq!(
        s.attempt_failed(&name, now, &policy).unwrap(),
        Some(now + policy.lock_duration)
    );
});

both!(
    lockout_across_reserve_failed_succeeded_and_unlock,
    |s: &dyn Storage| {
        let (name, policy) = (name("erin"), policy(3, 100));
        let now = now();
        // A failure of a name nobody reserved an attempt for counts nothing.
        assert_eq!(s.attempt_failed(&name, now, &policy).unwrap(), None);
        fail(s, &name, now, &policy);
        fail(s, &name, now, &policy);
        assert_eq!(s.locked_until(&name, now).unwrap(), None);
        // The third failure locks the name.
        s.reserve_attempt(&name, now, &policy).unwrap();
        let until = now + policy.lock_duration;
        assert_eq!(s.attempt_failed(&name, now, &policy).unwrap(), Some(until));
        assert_eq!(s.locked_until(&name, now).unwrap(), Some(until));
        let soon = now + Duration::minutes(1);
        assert_eq!(
            s.reserve_attempt(&name, soon, &policy).unwrap(),
            Reservation::Locked(until),
            "a locked name's lock is not extended by more attempts"
        );
        assert_eq!(s.attempt_failed(&name, soon, &policy).unwrap(), Some(until));
        // An unlock ends it, once.
        assert!(s.unlock(&name).unwrap());
        assert!(!s.unlock(&name).unwrap());
        assert_eq!(s.locked_until(&name, soon).unwrap(), None);
        assert_eq!(
            s.reserve_attempt(&name, soon, &policy).unwrap(),
            Reservation::Granted
        );
        s.attempt_succeeded(&name).unwrap();
        // Attempts in flight count as failures until they succeed: with two in flight, one
        // failure reaches the limit of three.
        for _ in 0..3 {
            assert_eq!(
                s.reserve_attempt(&name, soon, &policy).unwrap(),
                Reservation::Granted
            );
        }
        assert_eq!(
            s.attempt_failed(&name, soon, &policy).unwrap(),
            Some(soon + policy.lock_duration)
        );
        assert!(s.unlock(&name).unwrap());
        // Another name was never involved.
        assert!(!s.unlock(&Username::parse("frank").unwrap()).unwrap());
    }
);

both!(
    a_failure_count_lapses_after_the_failure_window,
    |s: &dyn Storage| {
        let (name, policy) = (name("carol"), policy(2, 100));
        let now = now();
        fail(s, &name, now, &policy);
        s.reserve_attempt(&name, now, &policy).unwrap();
        assert!(s.attempt_failed(&name, now, &policy).unwrap().is_some());
        let later = now + policy.lock_duration.max(policy.failure_window);
        assert_eq!(
            s.reserve_attempt(&name, later, &policy).unwrap(),
            Reservation::Granted,
            "the lock and the failures lapsed: this is the first of a new count"
        );
        assert_eq!(
            s.reserve_attempt(&name, later, &policy).unwrap(),
            Reservation::Granted
        );
        assert!(matches!(
            s.reserve_attempt(&name, later, &policy).unwrap(),
            Reservation::Locked(_)
        ));
        // One failure, then the window passes: the count starts again.
        let other = Username::parse("dave").unwrap();
        fail(s, &other, now, &policy);
        let after_window = now + policy.failure_window + Duration::seconds(1);
        fail(s, &other, after_window, &policy);
        assert_eq!(s.locked_until(&other, after_window).unwrap(), None);
    }
);

both!(
    an_attempt_in_flight_holds_a_place_in_the_table,
    |s: &dyn Storage| {
        let policy = policy(3, 1);
        let now = now();
        let (a, b) = (name("aaa"), name("bbb"));
        assert_eq!(
            s.reserve_attempt(&a, now, &policy).unwrap(),
            Reservation::Granted
        );
        assert_eq!(
            s.reserve_attempt(&b, now, &policy).unwrap(),
            Reservation::TableFull
        );
        s.attempt_succeeded(&a).unwrap();
        assert_eq!(
            s.reserve_attempt(&b, now, &policy).unwrap(),
            Reservation::Granted
        );
    }
);

both!(
    filling_the_table_with_other_names_never_resets_a_counting_entry,
    |s: &dyn Storage| {
        let policy = policy(3, 4);
        let victim = name("victim");
        let now = now();
        for _ in 0..2 {
            fail(s, &victim, now, &policy);
        }
        let mut full = 0;
        for i in 0..50 {
            let other = Username::parse(&format!("filler{i}")).unwrap();
            let later = now + Duration::seconds(i + 1);
            if s.reserve_attempt(&other, later, &policy).unwrap() == Reservation::TableFull {
                full += 1;
            }
        }
        assert_eq!(full, 47, "three fillers find a place beside the victim");
        let later = now + Duration::seconds(60);
        assert_eq!(
            s.reserve_attempt(&victim, later, &policy).unwrap(),
            Reservation::Granted
        );
        assert_eq!(
            s.attempt_failed(&victim, later, &policy).unwrap(),
            Some(later + policy.lock_duration),
            "the victim's third failure locks the name"
        );
    }
);

both!(
    a_full_table_drops_expired_entries_and_refuses_new_names_while_all_still_count,
    |s: &dyn Storage| {
        let policy = policy(3, 2);
        let now = now();
        let (a, b, c, d) = (name("aaa"), name("bbb"), name("ccc"), name("ddd"));
        fail(s, &a, now, &policy);
        fail(s, &b, now + Duration::minutes(10), &policy);
        assert_eq!(
            s.reserve_attempt(&c, now + Duration::minutes(30), &policy)
                .unwrap(),
            Reservation::TableFull
        );
        // Names already in the table go on counting.
        assert_eq!(
            s.reserve_attempt(&a, now + Duration::minutes(30), &policy)
                .unwrap(),
            Reservation::Granted
        );
        // b's count lapses an hour after its last attempt: its entry makes room for c.
        let later = now + Duration::minutes(71);
        assert_eq!(
            s.reserve_attempt(&c, later, &policy).unwrap(),
            Reservation::Granted
        );
        // a and c still count: no room for d, and a's count goes on (two, then three: locked).
        assert_eq!(
            s.reserve_attempt(&d, later, &policy).unwrap(),
            Reservation::TableFull
        );
        assert_eq!(
            s.reserve_attempt(&a, later, &policy).unwrap(),
            Reservation::Granted
        );
        assert!(matches!(
            s.reserve_attempt(&a, later, &policy).unwrap(),
            Reservation::Locked(_)
        ));
    }
);

both!(a_tenants_locks_are_its_own, |s: &dyn Storage| {
    let policy = policy(1, 100);
    let now = now();
    let shop = s.for_tenant("shop").unwrap();
    let alice = name("alice");
    fail(shop.as_ref(), &alice, now, &policy);
    assert!(shop.locked_until(&alice, now).unwrap().is_some());
    assert!(s.locked_until(&alice, now).unwrap().is_none());
    assert_eq!(
        s.reserve_attempt(&alice, now, &policy).unwrap(),
        Reservation::Granted
    );
    s.drop_tenant_data("shop").unwrap();
    let shop = s.for_tenant("shop").unwrap();
    assert!(shop.locked_until(&alice, now).unwrap().is_none());
});

both!(
    parallel_new_names_cannot_overfill_the_table,
    |s: &dyn Storage| {
        let policy = policy(3, 4);
        let now = now();
        let granted = std::sync::atomic::AtomicUsize::new(0);
        let barrier = std::sync::Barrier::new(16);
        std::thread::scope(|scope| {
            for i in 0..16 {
                let (granted, barrier, policy) = (&granted, &barrier, &policy);
                scope.spawn(move || {
                    let name = Username::parse(&format!("racer{i}")).unwrap();
                    barrier.wait();
                    match s.reserve_attempt(&name, now, policy).unwrap() {
                        Reservation::Granted => {
                            granted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Reservation::TableFull => {}
                        Reservation::Locked(_) => panic!("{name:?} has no failures"),
                    }
                });
            }
        });
        assert_eq!(granted.into_inner(), 4, "the table holds four names");
    }
);
