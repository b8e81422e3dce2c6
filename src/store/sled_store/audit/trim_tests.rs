use chrono::{DateTime, Duration, TimeZone, Utc};
use ring::signature::{Ed25519KeyPair, KeyPair};

use super::checkpoint::{self, CHECKPOINT_KEY};
use super::trim::TRIM_RECORD_ROOM;
use super::*;
use crate::store::{AuditKind, Outcome};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// A record written `day` days after [`start`], by `user` of `tenant`.
fn record(day: i64, user: &str, tenant: Option<&str>) -> AuditEvent {
    AuditEvent {
        username: Username::parse(user).ok(),
        tenant: tenant.map(str::to_string),
        ..AuditEvent::new(
            start() + Duration::days(day),
            AuditKind::PasswordCheck,
            "anonymous",
            Outcome::Failure,
            format!("day {day}"),
        )
    }
}

/// A log of one record a day for `days` days; their sequence numbers.
fn daily(days: i64) -> (SledStore, Vec<u64>) {
    let s = SledStore::temporary();
    let seqs = (0..days)
        .map(|day| s.append(record(day, "alice", None)).unwrap())
        .collect();
    (s, seqs)
}

fn by_age(days: i64) -> AuditRetention {
    AuditRetention {
        max_age: Some(Duration::days(days)),
        max_bytes: u64::MAX,
    }
}

fn kept(s: &SledStore) -> Vec<u64> {
    s.audit
        .iter()
        .map(|item| key_seq(&item.unwrap().0).unwrap())
        .collect()
}

fn hash_of(s: &SledStore, seq: u64) -> String {
    let stored = s.audit.get(seq.to_be_bytes()).unwrap().unwrap();
    decode::<AuditEvent>(&stored).unwrap().hash.unwrap()
}

fn stored_checkpoint(s: &SledStore) -> Checkpoint {
    s.checkpoint().unwrap().unwrap().unwrap()
}

fn put_checkpoint(s: &SledStore, checkpoint: &Checkpoint) {
    s.audit_meta
        .insert(CHECKPOINT_KEY, encode(checkpoint).unwrap())
        .unwrap();
}

fn newest(s: &SledStore) -> AuditEvent {
    s.events(None, None, 1).unwrap().remove(0)
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
fn trimming_by_age_removes_exactly_the_older_records_and_leaves_a_signed_checkpoint() {
    let (s, seqs) = daily(10);
    let hash_of_last_removed = hash_of(&s, seqs[3]);
    // On day 9 (less an hour) with 5 days kept: days 0 to 3 are older than day 4 less 1h.
    let now = start() + Duration::days(9) - Duration::hours(1);
    let report = s.trim(now, &by_age(5)).unwrap();
    assert_eq!(
        report,
        TrimReport {
            by_age: 4,
            by_size: 0,
            up_to: Some(seqs[3])
        }
    );
    let trimmed = newest(&s);
    assert_eq!(trimmed.event, AuditKind::AuditTrimmed);
    assert_eq!(trimmed.actor, "system");
    assert!(
        trimmed.detail.starts_with(&format!(
            "removed 4 audit records up to seq {}: 4 older than the retention period (written \
             before 2026-01-05T11:00:00Z)",
            seqs[3]
        )),
        "{}",
        trimmed.detail
    );
    assert_eq!(&kept(&s)[..6], &seqs[4..]);
    assert_eq!(kept(&s).len(), 7);

    let checkpoint = stored_checkpoint(&s);
    assert_eq!(checkpoint.seq, seqs[3]);
    assert_eq!(checkpoint.hash, hash_of_last_removed);
    assert_eq!(checkpoint.removed, 4);
    assert_eq!(checkpoint.time, "2026-01-10T11:00:00Z");
    let public = s.audit_key.public_key().unwrap().unwrap();
    assert_eq!(checkpoint::check_signature(&checkpoint, &public), Ok(()));

    let report = s.verify_chain(None).unwrap().expect("the chain holds");
    assert_eq!(report.records, 7);
    assert_eq!(report.checkpoint, Some(checkpoint.clone()));
    let first: AuditEvent = decode(&s.audit.first().unwrap().unwrap().1).unwrap();
    assert_eq!(first.prev_hash, Some(checkpoint.hash));

    // Nothing more is old enough: a second run removes nothing and appends nothing.
    assert_eq!(s.trim(now, &by_age(5)).unwrap().removed(), 0);
    assert_eq!(kept(&s).len(), 7);
    // Later ones add to the count.
    let later = now + Duration::days(2);
    assert_eq!(s.trim(later, &by_age(5)).unwrap().by_age, 2);
    assert_eq!(stored_checkpoint(&s).removed, 6);
    assert!(s.verify_chain(None).unwrap().is_ok());
}

#[test]
fn forever_keeps_every_record_whatever_its_age() {
    let (s, seqs) = daily(5);
    let forever = AuditRetention {
        max_age: None,
        max_bytes: u64::MAX,
    };
    let report = s.trim(start() + Duration::days(36_500), &forever).unwrap();
    assert_eq!(report.removed(), 0);
    assert_eq!(kept(&s), seqs);
    assert!(s.checkpoint().unwrap().is_none());
}

#[test]
fn trimming_by_size_removes_the_oldest_until_the_log_fits_and_keeps_the_byte_count() {
    let (s, seqs) = daily(30);
    assert_eq!(s.audit_bytes(), actual_bytes(&s));
    let sizes: Vec<u64> = seqs
        .iter()
        .map(|seq| s.audit.get(seq.to_be_bytes()).unwrap().unwrap().len() as u64)
        .collect();
    // Room for the newest 10 records and the AUDIT_TRIMMED record.
    let max_bytes = sizes[20..].iter().sum::<u64>() + TRIM_RECORD_ROOM;
    let retention = AuditRetention {
        max_age: None,
        max_bytes,
    };
    let report = s.trim(start() + Duration::days(30), &retention).unwrap();
    assert_eq!(report.by_size, 20);
    assert_eq!(report.up_to, Some(seqs[19]));
    assert_eq!(&kept(&s)[..10], &seqs[20..]);
    let trimmed = newest(&s);
    assert!(
        trimmed.detail.contains(&format!(
            "20 because the log exceeded its size limit of {max_bytes} bytes"
        )),
        "{}",
        trimmed.detail
    );
    assert_eq!(s.audit_bytes(), actual_bytes(&s));
    assert!(s.audit_bytes() <= max_bytes);
    assert_eq!(stored_checkpoint(&s).seq, seqs[19]);
    assert!(s.verify_chain(None).unwrap().is_ok());
    // The log fits: the next run leaves it alone.
    assert_eq!(
        s.trim(start() + Duration::days(30), &retention).unwrap(),
        TrimReport::default()
    );
    // The count survives a reopening (counted again from the records).
    let again = SledStore::from_db(s.db.clone(), AuditKey::in_memory()).unwrap();
    assert_eq!(again.audit_bytes(), actual_bytes(&s));
}

#[test]
fn the_per_user_index_of_each_tenant_follows_the_trim() {
    let s = SledStore::temporary();
    let shop = s.tenant_view("shop").unwrap();
    let old_default = s.append(record(0, "alice", None)).unwrap();
    let old_shop = shop.append(record(0, "alice", Some("shop"))).unwrap();
    let new_default = s.append(record(9, "alice", None)).unwrap();
    let new_shop = shop.append(record(9, "alice", Some("shop"))).unwrap();
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
fn a_forged_or_changed_checkpoint_is_named() {
    let (s, seqs) = daily(6);
    s.trim(start() + Duration::days(6), &by_age(3)).unwrap();
    let good = stored_checkpoint(&s);
    assert_eq!(good.seq, seqs[2]);

    // A changed signature.
    let mut forged = good.clone();
    let first = if forged.signature.starts_with('A') {
        "B"
    } else {
        "A"
    };
    forged.signature.replace_range(0..1, first);
    put_checkpoint(&s, &forged);
    let e = broken(&s);
    assert!(
        matches!(&e, ChainBreak::Checkpoint { seq, .. } if *seq == seqs[2]),
        "{e}"
    );
    assert!(e.to_string().contains("does not verify"), "{e}");

    // Signed with another key (someone who rewrote the checkpoint to hide records).
    let rng = ring::rand::SystemRandom::new();
    let other =
        Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap();
    let resigned = checkpoint::signed(&other, good.seq, &good.hash, good.removed, start());
    put_checkpoint(&s, &resigned);
    assert_eq!(broken(&s).seq(), seqs[2]);
    // ... which verifies with that key's public key given instead, so keep the key elsewhere.
    assert!(s
        .verify_chain(Some(other.public_key().as_ref()))
        .unwrap()
        .is_ok());

    // A changed hash, or a changed count, breaks the signature.
    let mut changed = good.clone();
    changed.hash = GENESIS.to_string();
    put_checkpoint(&s, &changed);
    assert_eq!(broken(&s).seq(), seqs[2]);
    let mut changed = good.clone();
    changed.removed += 1;
    put_checkpoint(&s, &changed);
    assert_eq!(broken(&s).seq(), seqs[2]);

    // Unreadable: named by the first record kept.
    s.audit_meta
        .insert(CHECKPOINT_KEY, &b"{\"seq\":"[..])
        .unwrap();
    let e = broken(&s);
    assert!(
        matches!(&e, ChainBreak::CheckpointUnreadable { seq, .. } if *seq == seqs[3]),
        "{e}"
    );
    assert!(e.to_string().contains("it is not a checkpoint"), "{e}");

    // Retention refuses to go on from a checkpoint that does not hold.
    put_checkpoint(&s, &forged);
    let refused = s.trim(start() + Duration::days(9), &by_age(3)).unwrap_err();
    assert!(refused.to_string().contains("does not verify"), "{refused}");
    put_checkpoint(&s, &good);
    assert!(s.verify_chain(None).unwrap().is_ok());
}

#[test]
fn a_removed_record_right_after_the_checkpoint_is_named() {
    let (s, seqs) = daily(6);
    s.trim(start() + Duration::days(6), &by_age(3)).unwrap();
    s.audit.remove(seqs[3].to_be_bytes()).unwrap();
    assert_eq!(
        broken(&s),
        ChainBreak::Unlinked {
            seq: seqs[4],
            after: format!("the checkpoint after seq {}", seqs[2])
        }
    );
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
fn retention_refuses_to_remove_a_changed_record() {
    let (s, seqs) = daily(5);
    let mut changed = s
        .audit
        .get(seqs[1].to_be_bytes())
        .unwrap()
        .unwrap()
        .to_vec();
    let at = changed.len() / 2;
    changed[at] ^= 0x01;
    s.audit.insert(seqs[1].to_be_bytes(), changed).unwrap();
    let refused = s.trim(start() + Duration::days(5), &by_age(1)).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains(&format!("audit record seq {}", seqs[1])),
        "{refused}"
    );
    assert!(s.checkpoint().unwrap().is_none());
    assert_eq!(kept(&s), seqs);
}

#[test]
fn appends_after_a_trim_that_emptied_the_log_continue_from_the_checkpoint() {
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
    let next = s.append(record(10, "alice", None)).unwrap();
    let appended: AuditEvent = decode(&s.audit.get(next.to_be_bytes()).unwrap().unwrap()).unwrap();
    assert_eq!(appended.prev_hash, Some(checkpoint.hash));
    assert_eq!(s.verify_chain(None).unwrap().unwrap().records, 1);

    // A whole run that empties the log keeps only its AUDIT_TRIMMED record, chained likewise.
    let (s, _) = daily(3);
    s.trim(now, &by_age(1)).unwrap();
    let only = newest(&s);
    assert_eq!(kept(&s), [only.seq]);
    assert_eq!(only.prev_hash, Some(stored_checkpoint(&s).hash));
    s.append(record(11, "alice", None)).unwrap();
    assert_eq!(s.verify_chain(None).unwrap().unwrap().records, 2);
}

#[test]
fn the_signing_key_is_made_on_first_need_owner_only_and_checks_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join(SIGNING_KEY_FILE);
    let s = SledStore::open(dir.path()).unwrap();
    for day in 0..4 {
        s.append(record(day, "alice", None)).unwrap();
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
