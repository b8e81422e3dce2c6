use chrono::Utc;

use super::*;
use crate::store::{AuditKind, Outcome};

#[test]
fn the_audit_log_pages_newest_first_per_user() {
    let s = SledStore::temporary();
    let alice = Username::parse("alice").unwrap();
    for i in 0..5 {
        s.append(AuditEvent {
            username: (i % 2 == 0).then(|| alice.clone()),
            ..AuditEvent::new(
                Utc::now(),
                AuditKind::PasswordCheck,
                "anonymous",
                Outcome::Failure,
                i.to_string(),
            )
        })
        .unwrap();
    }
    let all = s.events(None, None, 10).unwrap();
    assert_eq!(
        all.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
        ["4", "3", "2", "1", "0"]
    );
    let mine = s.events(Some(&alice), None, 2).unwrap();
    assert_eq!(
        mine.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
        ["4", "2"]
    );
    let next = s.events(Some(&alice), Some(mine[1].seq), 2).unwrap();
    assert_eq!(
        next.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
        ["0"]
    );
    let odd = |e: &AuditEvent| e.username.is_none();
    let kept = s.events_where(None, 1, &odd).unwrap();
    assert_eq!(kept[0].detail, "3");
    let kept = s.events_where(Some(kept[0].seq), 5, &odd).unwrap();
    assert_eq!(
        kept.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
        ["1"]
    );
}

fn event(detail: &str) -> AuditEvent {
    AuditEvent {
        username: Username::parse("alice").ok(),
        remote_address: Some("192.0.2.1".into()),
        ..AuditEvent::new(
            Utc::now(),
            AuditKind::UserCreated,
            "token:test",
            Outcome::Success,
            detail,
        )
    }
}

/// A log of `n` records (details "0", "1", …) and their sequence numbers.
fn log_of(n: usize) -> (SledStore, Vec<u64>) {
    let s = SledStore::temporary();
    let seqs = (0..n)
        .map(|i| s.append(event(&i.to_string())).unwrap())
        .collect();
    (s, seqs)
}

fn broken(s: &SledStore) -> ChainBreak {
    s.verify_chain(None)
        .unwrap()
        .expect_err("the chain is broken")
}

fn stored(s: &SledStore, seq: u64) -> Vec<u8> {
    s.audit.get(seq.to_be_bytes()).unwrap().unwrap().to_vec()
}

#[test]
fn the_genesis_value_is_the_hash_of_its_seed() {
    assert_eq!(GENESIS, sha256_hex(GENESIS_SEED));
}

#[test]
fn a_chain_of_appends_verifies_and_each_record_carries_the_hash_before_it() {
    let (s, seqs) = log_of(20);
    let report = s.verify_chain(None).unwrap().expect("the chain holds");
    assert_eq!(report.records, 20);
    let mut prev = GENESIS.to_string();
    for &seq in &seqs {
        let bytes = stored(&s, seq);
        let record: AuditEvent = decode(&bytes).unwrap();
        assert_eq!(record.seq, seq);
        assert_eq!(record.prev_hash.as_deref(), Some(prev.as_str()));
        // The stored bytes are the record's own JSON, `hash` last; the hash covers the
        // bytes without it.
        assert_eq!(bytes, encode(&record).unwrap());
        let hash = record.hash.clone().unwrap();
        let mut canonical = encode(&AuditEvent {
            hash: None,
            ..record
        })
        .unwrap();
        assert_eq!(hash, sha256_hex(&canonical));
        canonical.pop();
        assert!(bytes.starts_with(&canonical));
        prev = hash;
    }
    assert_eq!(report.head, Some((*seqs.last().unwrap(), prev)));
    // The pages the helpdesk reads carry the hashes.
    let newest = &s.events(None, None, 1).unwrap()[0];
    assert_eq!(newest.hash, report.head.map(|(_, h)| h));
}

#[test]
fn an_empty_log_verifies() {
    let s = SledStore::temporary();
    let report = s.verify_chain(None).unwrap().unwrap();
    assert_eq!(
        report,
        ChainReport {
            records: 0,
            head: None,
            checkpoint: None
        }
    );
}

#[test]
fn concurrent_appends_from_tenant_views_do_not_fork_the_chain() {
    let s = SledStore::temporary();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = s.tenant_view(&format!("t{}", t % 3)).unwrap();
            std::thread::spawn(move || {
                for i in 0..25 {
                    store.append(event(&format!("{t}-{i}"))).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.verify_chain(None).unwrap().unwrap().records, 200);
}

#[test]
fn one_changed_byte_anywhere_in_a_stored_record_is_detected_and_named() {
    let (s, seqs) = log_of(5);
    let target = seqs[2];
    let original = stored(&s, target);
    let in_detail = original
        .windows(11)
        .position(|w| w == b"\"detail\":\"2")
        .unwrap()
        + 10;
    let in_prev_hash = original
        .windows(13)
        .position(|w| w == b"\"prev_hash\":\"")
        .unwrap()
        + 20;
    let in_hash = original.len() - 10;
    for (at, why) in [
        (in_detail, "detail"),
        (in_prev_hash, "prev_hash"),
        (in_hash, "hash"),
        (0, "the opening brace"),
    ] {
        let mut changed = original.clone();
        changed[at] ^= 0x01;
        s.audit.insert(target.to_be_bytes(), changed).unwrap();
        match broken(&s) {
            ChainBreak::Changed { seq, .. } => assert_eq!(seq, target, "{why}"),
            other => panic!("{why}: {other:?}"),
        }
        assert!(
            broken(&s).to_string().contains(&format!("seq {target}")),
            "{why}"
        );
    }
    s.audit.insert(target.to_be_bytes(), original).unwrap();
    assert!(s.verify_chain(None).unwrap().is_ok());
}

#[test]
fn a_re_encoded_record_with_the_same_meaning_is_still_a_change() {
    let (s, seqs) = log_of(3);
    let original = stored(&s, seqs[1]);
    let text = String::from_utf8(original)
        .unwrap()
        .replace("\"detail\":\"1\"", "\"detail\":\"\\u0031\"");
    s.audit
        .insert(seqs[1].to_be_bytes(), text.as_bytes())
        .unwrap();
    assert_eq!(broken(&s).seq(), seqs[1]);
}

#[test]
fn a_removed_record_is_named_by_the_record_after_it() {
    let (s, seqs) = log_of(5);
    s.audit.remove(seqs[2].to_be_bytes()).unwrap();
    let e = broken(&s);
    assert_eq!(
        e,
        ChainBreak::Unlinked {
            seq: seqs[3],
            after: format!("seq {}", seqs[1])
        }
    );
    let (s, seqs) = log_of(3);
    s.audit.remove(seqs[0].to_be_bytes()).unwrap();
    assert_eq!(
        broken(&s),
        ChainBreak::Unlinked {
            seq: seqs[1],
            after: "the start of the log".into()
        }
    );
}

#[test]
fn two_reordered_records_are_named() {
    let (s, seqs) = log_of(5);
    let (a, b) = (stored(&s, seqs[1]), stored(&s, seqs[2]));
    s.audit.insert(seqs[1].to_be_bytes(), b).unwrap();
    s.audit.insert(seqs[2].to_be_bytes(), a).unwrap();
    assert_eq!(
        broken(&s),
        ChainBreak::Moved {
            seq: seqs[1],
            says: seqs[2]
        }
    );
}

#[test]
fn the_migration_to_version_3_chains_the_records_written_without_hashes() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let meta = db.open_tree("meta").unwrap();
    meta.insert("schema_version", &2u32.to_be_bytes()).unwrap();
    let audit = db.open_tree("audit").unwrap();
    for _ in 1..=4 {
        let seq = db.generate_id().unwrap() + 1;
        // As versions 1 and 2 wrote them: no `prev_hash`, no `hash`.
        let legacy = encode(&AuditEvent {
            seq,
            ..event(&format!("old {seq}"))
        })
        .unwrap();
        assert!(!String::from_utf8_lossy(&legacy).contains("hash"));
        audit.insert(seq.to_be_bytes(), legacy).unwrap();
    }
    let s = SledStore::from_db(db.clone(), AuditKey::in_memory()).unwrap();
    assert_eq!(
        meta.get("schema_version").unwrap().unwrap().as_ref(),
        crate::store::SCHEMA_VERSION.to_be_bytes()
    );
    assert_eq!(s.verify_chain(None).unwrap().unwrap().records, 4);
    let first: AuditEvent = decode(&s.audit.first().unwrap().unwrap().1).unwrap();
    assert_eq!(first.prev_hash.as_deref(), Some(GENESIS));
    assert_eq!(first.detail, "old 1");
    // New appends continue the chain; opening again changes nothing.
    s.append(event("new")).unwrap();
    let before: Vec<_> = s.audit.iter().map(|i| i.unwrap().1.to_vec()).collect();
    let again = SledStore::from_db(db, AuditKey::in_memory()).unwrap();
    assert_eq!(again.verify_chain(None).unwrap().unwrap().records, 5);
    let after: Vec<_> = again.audit.iter().map(|i| i.unwrap().1.to_vec()).collect();
    assert_eq!(before, after);
}
