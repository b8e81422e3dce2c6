//! Credentials.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;

use super::both;
use super::fixtures::{credential, id, user};
use crate::store::{Refusal, Storage, StoreError};

both!(a_credential_id_is_registered_once, |s: &dyn Storage| {
    let (a, b) = (user("alice"), user("bob"));
    s.insert_user(&a).unwrap();
    s.insert_user(&b).unwrap();
    s.insert_credential(&credential(&a, b"id-1")).unwrap();
    assert!(matches!(
        s.insert_credential(&credential(&b, b"id-1")),
        Err(StoreError::CredentialExists)
    ));
    assert!(matches!(
        s.insert_credential(&credential(&a, b"id-1")),
        Err(StoreError::CredentialExists)
    ));
    assert_eq!(s.credentials_of(&a.username).unwrap().len(), 1);
    assert!(s.credentials_of(&b.username).unwrap().is_empty());
});

both!(a_credential_id_is_unique_per_tenant, |s: &dyn Storage| {
    let (t1, t2) = (s.for_tenant("t1").unwrap(), s.for_tenant("t2").unwrap());
    let (a1, a2) = (user("alice"), user("alice"));
    t1.insert_user(&a1).unwrap();
    t2.insert_user(&a2).unwrap();
    // The same id in two tenants is two credentials.
    t1.insert_credential(&credential(&a1, b"shared")).unwrap();
    t2.insert_credential(&credential(&a2, b"shared")).unwrap();
    assert_eq!(
        t1.credential(&id(b"shared")).unwrap().unwrap().user_handle,
        a1.handle
    );
    assert_eq!(
        t2.credential(&id(b"shared")).unwrap().unwrap().user_handle,
        a2.handle
    );
    assert!(s.credential(&id(b"shared")).unwrap().is_none());
    // Twice in one tenant is refused, for another user of it too.
    let b1 = user("bob");
    t1.insert_user(&b1).unwrap();
    assert!(matches!(
        t1.insert_credential(&credential(&b1, b"shared")),
        Err(StoreError::CredentialExists)
    ));
    assert!(matches!(
        t1.insert_user_with_credential(&user("carol"), &credential(&a1, b"shared")),
        Err(StoreError::CredentialExists)
    ));
    assert_eq!(t1.all_credentials().unwrap().len(), 1);
    assert_eq!(t2.all_credentials().unwrap().len(), 1);
    // Deleting it in one tenant leaves the other's.
    t1.delete_credential(&a1.username, &id(b"shared")).unwrap();
    assert!(t2.credential(&id(b"shared")).unwrap().is_some());
});

both!(
    a_credential_for_a_user_that_is_gone_is_not_stored,
    |s: &dyn Storage| {
        let ghost = user("ghost");
        assert!(matches!(
            s.insert_credential(&credential(&ghost, b"x")),
            Err(StoreError::NotFound)
        ));
        assert!(s.credential(&id(b"x")).unwrap().is_none());
    }
);

both!(
    a_credential_is_deleted_only_for_its_own_user,
    |s: &dyn Storage| {
        let (a, b) = (user("alice"), user("bob"));
        s.insert_user(&a).unwrap();
        s.insert_user(&b).unwrap();
        s.insert_credential(&credential(&a, b"c1")).unwrap();
        let c1 = id(b"c1");
        assert!(matches!(
            s.delete_credential(&b.username, &c1),
            Err(StoreError::NotFound)
        ));
        assert_eq!(s.delete_credential(&a.username, &c1).unwrap().id, c1);
        assert!(s.credential(&c1).unwrap().is_none());
        assert!(s.credentials_of(&a.username).unwrap().is_empty());
        assert!(matches!(
            s.delete_credential(&a.username, &c1),
            Err(StoreError::NotFound)
        ));
    }
);

both!(
    credentials_come_oldest_first_per_user_and_by_id_for_all,
    |s: &dyn Storage| {
        let (a, b) = (user("alice"), user("bob"));
        s.insert_user(&a).unwrap();
        s.insert_user(&b).unwrap();
        let start = chrono::Utc::now();
        for (i, raw) in [&b"zz"[..], b"mm", b"aa"].into_iter().enumerate() {
            let mut c = credential(&a, raw);
            c.created_at = start + chrono::Duration::seconds(i as i64);
            s.insert_credential(&c).unwrap();
        }
        s.insert_credential(&credential(&b, b"bb")).unwrap();
        let ids = |cs: Vec<crate::store::CredentialRecord>| -> Vec<Vec<u8>> {
            cs.into_iter().map(|c| c.id.as_bytes().to_vec()).collect()
        };
        assert_eq!(
            ids(s.credentials_of(&a.username).unwrap()),
            [b"zz".to_vec(), b"mm".to_vec(), b"aa".to_vec()]
        );
        assert_eq!(
            ids(s.all_credentials().unwrap()),
            [
                b"aa".to_vec(),
                b"bb".to_vec(),
                b"mm".to_vec(),
                b"zz".to_vec()
            ]
        );
    }
);

both!(
    an_update_sees_the_current_record_and_a_refusal_writes_nothing,
    |s: &dyn Storage| {
        let a = user("alice");
        s.insert_user(&a).unwrap();
        s.insert_credential(&credential(&a, b"c1")).unwrap();
        let updated = s
            .update_credential(&id(b"c1"), &mut |c| {
                c.sign_count = 7;
                c.enabled = false;
                Ok(())
            })
            .unwrap();
        assert_eq!(updated.sign_count, 7);
        let refused = s.update_credential(&id(b"c1"), &mut |c| {
            c.sign_count = 99;
            Err(StoreError::Refused(Refusal::CredentialDisabled))
        });
        assert!(matches!(
            refused,
            Err(StoreError::Refused(Refusal::CredentialDisabled))
        ));
        let stored = s.credential(&id(b"c1")).unwrap().unwrap();
        assert_eq!((stored.sign_count, stored.enabled), (7, false));
        assert!(matches!(
            s.update_credential(&id(b"nope"), &mut |_| Ok(())),
            Err(StoreError::NotFound)
        ));
    }
);

/// The counter check of an assertion (`engine/assertion.rs`): refused unless the stored count
/// is below the received one.
fn count_to(
    received: u32,
) -> impl FnMut(&mut crate::store::CredentialRecord) -> Result<(), StoreError> {
    move |current| {
        let stored = current.sign_count;
        if received <= stored {
            return Err(StoreError::Refused(Refusal::CounterNotIncreased {
                stored,
                received,
            }));
        }
        current.sign_count = received;
        Ok(())
    }
}

both!(
    the_counter_update_is_a_compare_and_set_won_once_per_value,
    |s: &dyn Storage| {
        const THREADS: usize = 16;
        let a = user("alice");
        s.insert_user(&a).unwrap();
        s.insert_credential(&credential(&a, b"c1")).unwrap();
        for value in 1..=5u32 {
            let (won, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let barrier = Barrier::new(THREADS);
            std::thread::scope(|scope| {
                for _ in 0..THREADS {
                    scope.spawn(|| {
                        barrier.wait();
                        match s.update_credential(&id(b"c1"), &mut count_to(value)) {
                            Ok(c) => {
                                assert_eq!(c.sign_count, value);
                                won.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(StoreError::Refused(Refusal::CounterNotIncreased {
                                stored,
                                received,
                            })) => {
                                assert_eq!((stored, received), (value, value));
                                refused.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => panic!("{e}"),
                        }
                    });
                }
            });
            assert_eq!(won.into_inner(), 1, "counter value {value}");
            assert_eq!(refused.into_inner(), THREADS - 1);
            assert_eq!(s.credential(&id(b"c1")).unwrap().unwrap().sign_count, value);
        }
        // Threads racing with different values: each value is won at most once, and the
        // highest always.
        let wins: Vec<AtomicUsize> = (0..=THREADS).map(|_| AtomicUsize::new(0)).collect();
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (wins, barrier) = (&wins, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let value = 10 + t as u32;
                    if s.update_credential(&id(b"c1"), &mut count_to(value))
                        .is_ok()
                    {
                        wins[t].fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(wins.iter().all(|w| w.load(Ordering::SeqCst) <= 1));
        assert_eq!(wins[THREADS - 1].load(Ordering::SeqCst), 1);
        assert_eq!(
            s.credential(&id(b"c1")).unwrap().unwrap().sign_count,
            10 + THREADS as u32 - 1
        );
    }
);

both!(
    a_change_of_all_a_users_credentials_is_one_unit,
    |s: &dyn Storage| {
        let (a, b) = (user("alice"), user("bob"));
        s.insert_user(&a).unwrap();
        s.insert_user(&b).unwrap();
        for raw in [&b"c1"[..], b"c2", b"c3"] {
            s.insert_credential(&credential(&a, raw)).unwrap();
        }
        s.insert_credential(&credential(&b, b"b1")).unwrap();
        s.modify_user_credentials(&a.username, &mut |cs| {
            assert_eq!(cs.len(), 3);
            cs.retain(|c| c.id != id(b"c2"));
            cs[0].enabled = false;
            Ok(())
        })
        .unwrap();
        let left = s.credentials_of(&a.username).unwrap();
        assert_eq!(left.len(), 2);
        assert!(!s.credential(&id(b"c1")).unwrap().unwrap().enabled);
        assert!(s.credential(&id(b"c2")).unwrap().is_none());
        assert!(s.credential(&id(b"b1")).unwrap().is_some());
        // A refusal changes nothing.
        let refused = s.modify_user_credentials(&a.username, &mut |cs| {
            cs.clear();
            Err(StoreError::Refused(Refusal::LastCredential))
        });
        assert!(matches!(
            refused,
            Err(StoreError::Refused(Refusal::LastCredential))
        ));
        assert_eq!(s.credentials_of(&a.username).unwrap().len(), 2);
        // Concurrent changes each see the others' results: every one counts.
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    s.modify_user_credentials(&a.username, &mut |cs| {
                        cs[1].sign_count += 1;
                        Ok(())
                    })
                    .unwrap();
                });
                scope.spawn(|| {
                    s.update_credential(&id(b"c3"), &mut |c| {
                        c.sign_count += 100;
                        Ok(())
                    })
                    .unwrap();
                });
            }
        });
        assert_eq!(
            s.credential(&id(b"c3")).unwrap().unwrap().sign_count,
            8 + 800
        );
    }
);
