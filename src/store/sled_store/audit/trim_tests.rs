//! Sled internals of retention: the per-user index trees, batches and their transactions, the
//! byte count kept in memory, the signing key file. Everything the `Storage` trait can express
//! is in `store::suite::audit`.

use chrono::Duration;

use super::*;
use crate::store::suite::audit::{by_age, record, start};

/// [`record`] of the tenant `shop`.
fn shop_record(day: i64) -> AuditEvent {
    AuditEvent {
        tenant: Some("shop".into()),
        ..record(day)
    }
}
/// A log of one record a day for `days` days; their sequence numbers.
fn daily(days: i64) -> (SledStore, Vec<u64>) {
    let s = SledStore::temporary();
    let seqs = (0..days)
        .map(|day| s.append(record(day)).unwrap())
        .collect();
    (s, seqs)
}

fn kept(s: &SledStore) -> Vec<u64> {
    s.audit
        .iter()
        .map(|item| key_seq(&item.unwrap().0).unwrap())
        .collect()
}

fn stored_checkpoint(s: &SledStore) -> Checkpoint {
    s.checkpoint().unwrap().unwrap().unwrap()
}

fn broken(s: &SledStore) -> ChainBreak {
    s.verify_chain(None)
        .unwrap()
        .expect_err("the chain is broken")
}

fn actual_bytes(s: &SledStore) -> u64 {
    s.audit.iter().map(|i| i.unwrap().1.len() as u64).sum()
}

#[test]
fn the_byte_count_kept_in_memory_follows_the_trim_and_is_counted_again_on_reopening() {
    let (s, _) = daily(30);
    assert_eq!(s.audit_bytes(), actual_bytes(&s));
    let now = start() + Duration::days(30) - Duration::hours(1);
    assert_eq!(s.trim(now, &by_age(5)).unwrap().by_age, 25);
    assert_eq!(s.audit_bytes(), actual_bytes(&s));
    let again = SledStore::from_db(s.db.clone(), AuditKey::in_memory()).unwrap();
    assert_eq!(again.audit_bytes(), actual_bytes(&s));
}

#[test]
fn the_per_user_index_of_each_tenant_follows_the_trim() {
    let s = SledStore::temporary();
    let shop = s.tenant_view("shop").unwrap();
    let old_default = s.append(record(0)).unwrap();
    let old_shop = shop.append(shop_record(0)).unwrap();
    let new_default = s.append(record(9)).unwrap();
    let new_shop = shop.append(shop_record(9)).unwrap();
    let alice = Username::parse("alice").unwrap();
    let seqs_of = |store: &SledStore| -> Vec<u64> {
        store
            .events(Some(&alice), None, 10)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect()
    };
    assert_eq!(seqs_of(&s), [new_default, old_default]);
    assert_eq!(seqs_of(&shop), [new_shop, old_shop]);
    let report = s.trim(start() + Duration::days(10), &by_age(5)).unwrap();
    assert_eq!(report.by_age, 2);
    assert_eq!(seqs_of(&s), [new_default]);
    assert_eq!(seqs_of(&shop), [new_shop]);
    assert_eq!(s.audit_by_user.len(), 1);
    assert_eq!(shop.audit_by_user.len(), 1);
    // A deleted tenant's index is gone; its records still go, and its trees stay gone.
    s.drop_tenant_trees("shop").unwrap();
    s.trim(start() + Duration::days(20), &by_age(5)).unwrap();
    assert!(!s
        .db
        .tree_names()
        .iter()
        .any(|name| name.as_ref() == b"t/shop/audit_by_user"));
    assert!(seqs_of(&s).is_empty());
}

#[test]
fn a_trim_interrupted_between_batches_still_verifies() {
    let (s, seqs) = daily(7);
    let now = start() + Duration::days(7);
    {
        let _chain = s.serialise_audit_appends();
        let cutoff = Some(now - Duration::days(2));
        let batch = s.trim_batch(now, cutoff, u64::MAX, 2).unwrap();
        assert_eq!(batch.by_age, 2);
    }
    // Stopped after the first batch: its records are gone, the checkpoint names its last one.
    assert_eq!(kept(&s), seqs[2..]);
    assert_eq!(stored_checkpoint(&s).seq, seqs[1]);
    assert_eq!(s.verify_chain(None).unwrap().unwrap().records, 5);
    // The next run finishes it.
    let report = s.trim(now, &by_age(2)).unwrap();
    assert_eq!(report.by_age, 3);
    assert_eq!(stored_checkpoint(&s).seq, seqs[4]);
    assert_eq!(stored_checkpoint(&s).removed, 5);
    assert!(s.verify_chain(None).unwrap().is_ok());
}

#[test]
fn records_left_at_or_before_the_checkpoint_are_ignored_and_removed_next_time() {
    let (s, seqs) = daily(5);
    let first = s.audit.get(seqs[0].to_be_bytes()).unwrap().unwrap();
    s.trim(start() + Duration::days(5), &by_age(3)).unwrap();
    s.audit.insert(seqs[0].to_be_bytes(), first).unwrap();
    s.count_audit_bytes().unwrap();
    assert_eq!(s.verify_chain(None).unwrap().unwrap().records, 4);
    s.trim(start() + Duration::days(5), &by_age(3)).unwrap();
    assert!(s.audit.get(seqs[0].to_be_bytes()).unwrap().is_none());
    assert_eq!(s.audit_bytes(), actual_bytes(&s));
}

#[test]
fn a_batch_that_empties_the_log_leaves_the_checkpoint_the_next_append_continues_from() {
    let (s, seqs) = daily(3);
    let now = start() + Duration::days(10);
    {
        // The batch step alone leaves an empty log and its checkpoint.
        let _chain = s.serialise_audit_appends();
        s.trim_batch(now, Some(now), u64::MAX, super::trim::BATCH)
            .unwrap();
    }
    assert!(s.audit.is_empty());
    let checkpoint = stored_checkpoint(&s);
    assert_eq!(checkpoint.seq, seqs[2]);
    assert_eq!(s.chain_head().unwrap(), checkpoint.hash);
    let empty = s.verify_chain(None).unwrap().unwrap();
    assert_eq!((empty.records, empty.head), (0, None));
    let next = s.append(record(10)).unwrap();
    let appended: AuditEvent = decode(&s.audit.get(next.to_be_bytes()).unwrap().unwrap()).unwrap();
    assert_eq!(appended.prev_hash, Some(checkpoint.hash));
    assert_eq!(s.verify_chain(None).unwrap().unwrap().records, 1);
}

#[test]
fn the_signing_key_is_made_on_first_need_owner_only_and_checks_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join(SIGNING_KEY_FILE);
    let s = SledStore::open(dir.path()).unwrap();
    for day in 0..4 {
        s.append(record(day)).unwrap();
    }
    assert!(!key_file.exists(), "no key before retention needs one");
    assert!(s.verify_chain(None).unwrap().is_ok());
    s.trim(start() + Duration::days(4), &by_age(2)).unwrap();
    assert!(key_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let public = audit_public_key(dir.path(), false).unwrap().unwrap();
    assert_eq!(public.len(), 32);
    assert!(s.verify_chain(None).unwrap().is_ok());
    assert!(s.verify_chain(Some(&public)).unwrap().is_ok());
    drop(s);

    // Without the key file, the checkpoint cannot be checked, unless the key is given.
    std::fs::rename(&key_file, dir.path().join("elsewhere.key")).unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let e = broken(&s);
    assert!(e.to_string().contains("no audit-signing.key"), "{e}");
    assert!(s.verify_chain(Some(&public)).unwrap().is_ok());
    // ... and retention stops rather than sign the next checkpoint with a new key.
    let refused = s
        .trim(start() + Duration::days(10), &by_age(2))
        .unwrap_err();
    assert!(
        refused.to_string().contains("restore it from a backup"),
        "{refused}"
    );
    assert!(!key_file.exists());
    assert!(s.verify_chain(Some(&public)).unwrap().is_ok());
}
