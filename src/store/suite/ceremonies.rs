//! Ceremonies. The bodies are functions so that `sled_store/ceremonies.rs` can run them on its
//! other tier too (a store whose ceremonies all go to the tree).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;

use chrono::{Duration, Utc};

use super::both;
use super::fixtures::ceremony;
use crate::store::{Ceremony, Storage, StoreError};

pub(in crate::store) fn taken_exactly_once(s: &dyn Storage) {
    let id = s.put_ceremony(&ceremony()).unwrap();
    let taken = s.take_ceremony(&id).unwrap().unwrap();
    assert_eq!(taken.challenge, ceremony().challenge);
    assert!(s.take_ceremony(&id).unwrap().is_none());
    assert!(s.take_ceremony("never-put").unwrap().is_none());
    // Under a caller's id, which is refused while in use.
    s.put_ceremony_at("chosen", &ceremony()).unwrap();
    assert!(matches!(
        s.put_ceremony_at("chosen", &ceremony()),
        Err(StoreError::Corrupt(_))
    ));
    assert!(s.take_ceremony("chosen").unwrap().is_some());
    assert!(s.take_ceremony("chosen").unwrap().is_none());
}

both!(a_ceremony_is_taken_exactly_once, taken_exactly_once);

pub(in crate::store) fn taken_once_under_racing_takes(s: &dyn Storage) {
    const THREADS: usize = 16;
    for _ in 0..5 {
        let id = s.put_ceremony(&ceremony()).unwrap();
        let taken = AtomicUsize::new(0);
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    barrier.wait();
                    if s.take_ceremony(&id).unwrap().is_some() {
                        taken.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(taken.into_inner(), 1, "ceremony {id}");
    }
}

both!(
    a_ceremony_is_taken_once_by_sixteen_racing_takes,
    taken_once_under_racing_takes
);

pub(in crate::store) fn expired_outlives_the_purge_for_an_hour(s: &dyn Storage) {
    let expired = Ceremony {
        expires_at: Utc::now(),
        ..ceremony()
    };
    let id = s.put_ceremony(&expired).unwrap();
    assert_eq!(
        s.purge_expired(expired.expires_at + Duration::minutes(59))
            .unwrap(),
        0
    );
    assert!(s.take_ceremony(&id).unwrap().is_some());
    let id = s.put_ceremony(&expired).unwrap();
    let live = s.put_ceremony(&ceremony()).unwrap();
    assert_eq!(
        s.purge_expired(expired.expires_at + Duration::minutes(61))
            .unwrap(),
        1
    );
    assert!(s.take_ceremony(&id).unwrap().is_none());
    assert!(s.take_ceremony(&live).unwrap().is_some());
}

both!(
    an_expired_ceremony_outlives_the_purge_for_an_hour_so_late_answers_are_told_it_timed_out,
    expired_outlives_the_purge_for_an_hour
);

pub(in crate::store) fn the_purge_goes_by_the_time_it_is_given(s: &dyn Storage) {
    let start = Utc::now();
    let ids: Vec<String> = (0..5)
        .map(|i| {
            let c = Ceremony {
                expires_at: start + Duration::minutes(10 * i),
                ..ceremony()
            };
            s.put_ceremony(&c).unwrap()
        })
        .collect();
    // Long after the last one expired, as a clock far ahead would say.
    assert_eq!(s.purge_expired(start + Duration::days(1)).unwrap(), 5);
    for id in &ids {
        assert!(s.take_ceremony(id).unwrap().is_none());
    }
    // A time in the past purges nothing.
    let id = s.put_ceremony(&ceremony()).unwrap();
    assert_eq!(s.purge_expired(start - Duration::days(1)).unwrap(), 0);
    assert!(s.take_ceremony(&id).unwrap().is_some());
}

both!(
    purge_expired_removes_the_ceremonies_expired_at_the_time_passed_in,
    the_purge_goes_by_the_time_it_is_given
);

both!(ceremonies_are_shared_by_tenants, |s: &dyn Storage| {
    let shop = s.for_tenant("shop").unwrap();
    let c = Ceremony {
        tenant: Some("shop".into()),
        ..ceremony()
    };
    let id = shop.put_ceremony(&c).unwrap();
    let taken = s.take_ceremony(&id).unwrap().unwrap();
    assert!(taken.belongs_to("shop"));
    assert!(shop.take_ceremony(&id).unwrap().is_none());
});
