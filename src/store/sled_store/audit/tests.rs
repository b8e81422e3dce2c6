//! Sled internals of the audit log: the migration to version 3 that chains the records
//! written before. Everything the `Storage` trait can express is in `store::suite::audit`.

use chrono::Utc;

use super::*;
use crate::store::{AuditKind, Outcome};

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
