//! The audit log: appends and pages, the hash chain and what its verification names, retention
//! with its signed checkpoint, and concurrent appends. The tests that change the stored log
//! behind the store's back (`raw!`) reach it through each backend's `raw_*` test methods.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::both;
use crate::domain::Username;
use crate::store::audit_chain::{sha256_hex, signed, GENESIS, GENESIS_SEED, TRIM_RECORD_ROOM};
use crate::store::{
    AuditEvent, AuditKind, AuditRetention, ChainBreak, ChainReport, Checkpoint, Outcome, PgStore,
    SledStore, Storage, TrimReport,
};

/// The stored log, read and changed as an attacker with access to the storage would.
trait Raw {
    fn record(&self, seq: u64) -> Option<Vec<u8>>;
    fn put(&self, seq: u64, bytes: Option<Vec<u8>>);
    fn put_checkpoint(&self, bytes: Vec<u8>);
    fn bytes(&self) -> u64;
}

macro_rules! raw_of {
    ($store:ty) => {
        impl Raw for $store {
            fn record(&self, seq: u64) -> Option<Vec<u8>> {
                self.raw_audit_record(seq)
            }
            fn put(&self, seq: u64, bytes: Option<Vec<u8>>) {
                self.raw_put_audit_record(seq, bytes)
            }
            fn put_checkpoint(&self, bytes: Vec<u8>) {
                self.raw_put_audit_checkpoint(bytes)
            }
            fn bytes(&self) -> u64 {
                self.raw_audit_bytes()
            }
        }
    };
}
raw_of!(SledStore);
raw_of!(PgStore);

/// `raw!(name, |s: &dyn Storage, raw: &dyn Raw| …)`: as [`both!`], with raw access to the log.
macro_rules! raw {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sled() {
                let store = crate::store::sled_store::temporary_store();
                ($body)(&store as &dyn Storage, &store as &dyn Raw);
            }

            #[test]
            fn postgres() {
                let (store, _dir) = crate::store::pg_store::testing::store();
                ($body)(&store as &dyn Storage, &store as &dyn Raw);
            }
        }
    };
}

pub(in crate::store) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn alice() -> Username {
    Username::parse("alice").unwrap()
}

/// A record of `alice` written `day` days after [`start`].
pub(in crate::store) fn record(day: i64) -> AuditEvent {
    AuditEvent {
        username: Some(alice()),
        remote_address: Some("192.0.2.1".into()),
        ..AuditEvent::new(
            start() + Duration::days(day),
            AuditKind::PasswordCheck,
            "anonymous",
            Outcome::Failure,
            format!("day {day}"),
        )
    }
}

/// One record a day for `days` days; their sequence numbers.
fn daily(s: &dyn Storage, days: i64) -> Vec<u64> {
    (0..days)
        .map(|day| s.append(record(day)).unwrap())
        .collect()
}

fn details(events: &[AuditEvent]) -> Vec<&str> {
    events.iter().map(|e| e.detail.as_str()).collect()
}

fn broken(s: &dyn Storage) -> ChainBreak {
    s.verify_chain(None)
        .unwrap()
        .expect_err("the chain is broken")
}

fn holds(s: &dyn Storage) -> ChainReport {
    s.verify_chain(None).unwrap().expect("the chain holds")
}

pub(in crate::store) fn by_age(days: i64) -> AuditRetention {
    AuditRetention {
        max_age: Some(Duration::days(days)),
        max_bytes: u64::MAX,
    }
}

fn newest(s: &dyn Storage) -> AuditEvent {
    s.events(None, None, 1).unwrap().remove(0)
}

fn seqs(events: &[AuditEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

both!(the_log_pages_newest_first_per_user, |s: &dyn Storage| {
    for i in 0..5 {
        s.append(AuditEvent {
            username: (i % 2 == 0).then(alice),
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
    assert_eq!(details(&all), ["4", "3", "2", "1", "0"]);
    assert!(all.windows(2).all(|w| w[0].seq > w[1].seq));
    let mine = s.events(Some(&alice()), None, 2).unwrap();
    assert_eq!(details(&mine), ["4", "2"]);
    let next = s.events(Some(&alice()), Some(mine[1].seq), 2).unwrap();
    assert_eq!(details(&next), ["0"]);
    assert_eq!(
        details(&s.events(None, Some(all[1].seq), 2).unwrap()),
        ["2", "1"]
    );
    let odd = |e: &AuditEvent| e.username.is_none();
    let kept = s.events_where(None, 1, &odd).unwrap();
    assert_eq!(details(&kept), ["3"]);
    let kept = s.events_where(Some(kept[0].seq), 5, &odd).unwrap();
    assert_eq!(details(&kept), ["1"]);
});

both!(
    events_where_scans_past_a_page_of_others,
    |s: &dyn Storage| {
        let wanted = s.append(record(0)).unwrap();
        for day in 1..1200 {
            s.append(AuditEvent {
                username: None,
                ..record(day)
            })
            .unwrap();
        }
        let found = s
            .events_where(None, 5, &|e: &AuditEvent| e.username.is_some())
            .unwrap();
        assert_eq!(seqs(&found), [wanted]);
        assert_eq!(s.events(Some(&alice()), None, 5).unwrap().len(), 1);
    }
);

both!(
    each_tenant_view_lists_its_own_users_events,
    |s: &dyn Storage| {
        let shop = s.for_tenant("shop").unwrap();
        let mine = s.append(record(0)).unwrap();
        let theirs = shop
            .append(AuditEvent {
                tenant: Some("shop".into()),
                ..record(1)
            })
            .unwrap();
        assert_eq!(seqs(&s.events(Some(&alice()), None, 10).unwrap()), [mine]);
        assert_eq!(
            seqs(&shop.events(Some(&alice()), None, 10).unwrap()),
            [theirs]
        );
        // The log itself is shared.
        assert_eq!(seqs(&shop.events(None, None, 10).unwrap()), [theirs, mine]);
        assert_eq!(holds(&*shop).records, 2);
    }
);

raw!(
    a_chain_of_appends_verifies_and_each_record_carries_the_hash_before_it,
    |s: &dyn Storage, raw: &dyn Raw| {
        assert_eq!(GENESIS, sha256_hex(GENESIS_SEED));
        let seqs = daily(s, 20);
        let report = holds(s);
        assert_eq!(report.records, 20);
        assert!(report.checkpoint.is_none());
        let mut prev = GENESIS.to_string();
        for &seq in &seqs {
            let bytes = raw.record(seq).unwrap();
            let stored: AuditEvent = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(stored.seq, seq);
            assert_eq!(stored.prev_hash.as_deref(), Some(prev.as_str()));
            // The stored bytes are the record's own JSON, `hash` last; the hash covers the
            // bytes without it.
            assert_eq!(bytes, serde_json::to_vec(&stored).unwrap());
            let hash = stored.hash.clone().unwrap();
            let mut canonical = serde_json::to_vec(&AuditEvent {
                hash: None,
                ..stored
            })
            .unwrap();
            assert_eq!(hash, sha256_hex(&canonical));
            canonical.pop();
            assert!(bytes.starts_with(&canonical));
            prev = hash;
        }
        assert_eq!(report.head, Some((*seqs.last().unwrap(), prev.clone())));
        assert_eq!(newest(s).hash, Some(prev));
    }
);

both!(an_empty_log_verifies, |s: &dyn Storage| {
    assert_eq!(
        holds(s),
        ChainReport {
            records: 0,
            head: None,
            checkpoint: None
        }
    );
});

both!(
    append_sealed_returns_the_hash_of_the_record,
    |s: &dyn Storage| {
        let (seq, hash) = s.append_sealed(record(0)).unwrap();
        assert_eq!(holds(s).head, Some((seq, hash.clone())));
        assert_eq!(newest(s).hash, Some(hash));
    }
);

both!(
    concurrent_appends_from_tenant_views_do_not_fork_the_chain,
    |s: &dyn Storage| {
        let views: Vec<_> = (0..8)
            .map(|t| s.for_tenant(&format!("t{}", t % 3)).unwrap())
            .collect();
        std::thread::scope(|scope| {
            for (t, store) in views.iter().enumerate() {
                scope.spawn(move || {
                    for i in 0..25 {
                        store
                            .append(AuditEvent {
                                detail: format!("{t}-{i}"),
                                ..record(0)
                            })
                            .unwrap();
                    }
                });
            }
        });
        let report = holds(s);
        assert_eq!(report.records, 200);
        let all = s.events(None, None, 300).unwrap();
        assert_eq!(all.len(), 200);
        assert_eq!(report.head.map(|(seq, _)| seq), Some(all[0].seq));
    }
);

raw!(
    a_changed_byte_anywhere_in_a_record_is_named,
    |s: &dyn Storage, raw: &dyn Raw| {
        let seqs = daily(s, 5);
        let target = seqs[2];
        let original = raw.record(target).unwrap();
        let after = |text: &[u8]| {
            original
                .windows(text.len())
                .position(|w| w == text)
                .unwrap()
                + text.len()
        };
        let in_detail = after(b"\"detail\":\"");
        let in_prev_hash = after(b"\"prev_hash\":\"") + 7;
        for at in [
            0,
            in_detail,
            in_prev_hash,
            original.len() / 2,
            original.len() - 10,
        ] {
            let mut changed = original.clone();
            changed[at] ^= 0x01;
            raw.put(target, Some(changed));
            let e = broken(s);
            assert!(
                matches!(e, ChainBreak::Changed { seq, .. } if seq == target),
                "byte {at}: {e:?}"
            );
            assert!(e.to_string().contains(&format!("seq {target}")), "{e}");
        }
        let text = String::from_utf8(original.clone())
            .unwrap()
            .replace("\"detail\":\"day 2\"", "\"detail\":\"d\\u0061y 2\"");
        raw.put(target, Some(text.into_bytes()));
        assert_eq!(broken(s).seq(), target);
        raw.put(target, Some(original));
        assert_eq!(holds(s).records, 5);
    }
);

raw!(
    a_removed_record_is_named_by_the_record_after_it,
    |s: &dyn Storage, raw: &dyn Raw| {
        let seqs = daily(s, 5);
        raw.put(seqs[2], None);
        assert_eq!(
            broken(s),
            ChainBreak::Unlinked {
                seq: seqs[3],
                after: format!("seq {}", seqs[1])
            }
        );
        raw.put(seqs[0], None);
        assert_eq!(
            broken(s),
            ChainBreak::Unlinked {
                seq: seqs[1],
                after: "the start of the log".into()
            }
        );
    }
);

raw!(
    two_reordered_records_are_named,
    |s: &dyn Storage, raw: &dyn Raw| {
        let seqs = daily(s, 5);
        let (a, b) = (raw.record(seqs[1]), raw.record(seqs[2]));
        raw.put(seqs[1], b);
        raw.put(seqs[2], a);
        assert_eq!(
            broken(s),
            ChainBreak::Moved {
                seq: seqs[1],
                says: seqs[2]
            }
        );
    }
);

both!(
    trimming_by_age_removes_the_older_records_and_leaves_a_signed_checkpoint,
    |s: &dyn Storage| {
        let seqs = daily(s, 10);
        let last_removed = s.events(None, Some(seqs[4]), 1).unwrap().remove(0);
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
        let trimmed = newest(s);
        assert_eq!(trimmed.event, AuditKind::AuditTrimmed);
        assert_eq!(trimmed.actor, "system");
        assert!(
            trimmed.detail.starts_with(&format!(
                "removed 4 audit records up to seq {}: 4 older than the retention period \
                 (written before 2026-01-05T11:00:00Z)",
                seqs[3]
            )),
            "{}",
            trimmed.detail
        );
        let kept = s.events(None, None, 20).unwrap();
        assert_eq!(kept.len(), 7);
        assert_eq!(kept.last().unwrap().seq, seqs[4]);
        let older: Vec<u64> = kept[1..].iter().rev().map(|e| e.seq).collect();
        assert_eq!(older, seqs[4..]);
        assert_eq!(s.events(Some(&alice()), None, 20).unwrap().len(), 6);

        let report = holds(s);
        assert_eq!(report.records, 7);
        let checkpoint = report.checkpoint.expect("a checkpoint");
        assert_eq!(checkpoint.seq, seqs[3]);
        assert_eq!(Some(&checkpoint.hash), last_removed.hash.as_ref());
        assert_eq!(checkpoint.removed, 4);
        assert_eq!(checkpoint.time, "2026-01-10T11:00:00Z");
        assert_eq!(kept.last().unwrap().prev_hash, Some(checkpoint.hash));

        // Nothing more is old enough: a second run removes nothing and appends nothing.
        assert_eq!(s.trim(now, &by_age(5)).unwrap().removed(), 0);
        assert_eq!(holds(s).records, 7);
        // Later ones add to the count.
        assert_eq!(
            s.trim(now + Duration::days(2), &by_age(5)).unwrap().by_age,
            2
        );
        assert_eq!(holds(s).checkpoint.unwrap().removed, 6);
    }
);

both!(forever_keeps_every_record, |s: &dyn Storage| {
    let mut written = daily(s, 5);
    let forever = AuditRetention {
        max_age: None,
        max_bytes: u64::MAX,
    };
    let later = start() + Duration::days(36_500);
    assert_eq!(s.trim(later, &forever).unwrap().removed(), 0);
    let report = holds(s);
    assert_eq!((report.records, report.checkpoint), (5, None));
    written.reverse();
    assert_eq!(seqs(&s.events(None, None, 10).unwrap()), written);
});

raw!(
    trimming_by_size_removes_the_oldest_until_the_log_fits,
    |s: &dyn Storage, raw: &dyn Raw| {
        let seqs = daily(s, 30);
        let sizes: Vec<u64> = seqs
            .iter()
            .map(|&seq| raw.record(seq).unwrap().len() as u64)
            .collect();
        assert_eq!(raw.bytes(), sizes.iter().sum::<u64>());
        // Room for the newest 10 records and the AUDIT_TRIMMED record.
        let max_bytes = sizes[20..].iter().sum::<u64>() + TRIM_RECORD_ROOM;
        let retention = AuditRetention {
            max_age: None,
            max_bytes,
        };
        let report = s.trim(start() + Duration::days(30), &retention).unwrap();
        assert_eq!((report.by_size, report.up_to), (20, Some(seqs[19])));
        let trimmed = newest(s);
        assert!(
            trimmed.detail.contains(&format!(
                "20 because the log exceeded its size limit of {max_bytes} bytes"
            )),
            "{}",
            trimmed.detail
        );
        let kept = s.events(None, None, 50).unwrap();
        assert_eq!(kept.len(), 11);
        let older: Vec<u64> = kept[1..].iter().rev().map(|e| e.seq).collect();
        assert_eq!(older, seqs[20..]);
        let actual: u64 = kept
            .iter()
            .map(|e| raw.record(e.seq).unwrap().len() as u64)
            .sum();
        assert_eq!(raw.bytes(), actual);
        assert!(raw.bytes() <= max_bytes);
        let report = holds(s);
        assert_eq!(report.checkpoint.unwrap().seq, seqs[19]);
        // The log fits: the next run leaves it alone.
        assert_eq!(
            s.trim(start() + Duration::days(30), &retention).unwrap(),
            TrimReport::default()
        );
    }
);

raw!(
    a_forged_or_unreadable_checkpoint_is_named_and_stops_retention,
    |s: &dyn Storage, raw: &dyn Raw| {
        let seqs = daily(s, 6);
        s.trim(start() + Duration::days(6), &by_age(3)).unwrap();
        let good = holds(s).checkpoint.unwrap();
        assert_eq!(good.seq, seqs[2]);
        let put = |c: &Checkpoint| raw.put_checkpoint(serde_json::to_vec(c).unwrap());

        // Each of these is named by the checkpoint, whose signature does not verify.
        let does_not_verify = |c: &Checkpoint, why: &str| {
            put(c);
            let e = broken(s);
            assert!(
                matches!(&e, ChainBreak::Checkpoint { seq, .. } if *seq == seqs[2]),
                "{why}: {e}"
            );
            assert!(e.to_string().contains("does not verify"), "{why}: {e}");
        };
        let mut forged = good.clone();
        let first = if forged.signature.starts_with('A') {
            "B"
        } else {
            "A"
        };
        forged.signature.replace_range(0..1, first);
        does_not_verify(&forged, "a changed signature");
        let changed_hash = Checkpoint {
            hash: GENESIS.to_string(),
            ..good.clone()
        };
        does_not_verify(&changed_hash, "a changed hash");
        let changed_count = Checkpoint {
            removed: good.removed + 1,
            ..good.clone()
        };
        does_not_verify(&changed_count, "a changed count");
        // Signed with another key (someone who rewrote the checkpoint to hide records)...
        let rng = ring::rand::SystemRandom::new();
        let other = ring::signature::Ed25519KeyPair::from_pkcs8(
            ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
                .unwrap()
                .as_ref(),
        )
        .unwrap();
        let resigned = signed(&other, good.seq, &good.hash, good.removed, start());
        does_not_verify(&resigned, "signed with another key");
        // ... which verifies with that key's public key given instead, so keep the key elsewhere.
        let other_public = ring::signature::KeyPair::public_key(&other)
            .as_ref()
            .to_vec();
        assert!(s.verify_chain(Some(&other_public)).unwrap().is_ok());

        // Retention refuses to go on from a checkpoint that does not hold.
        put(&forged);
        let refused = s.trim(start() + Duration::days(9), &by_age(3)).unwrap_err();
        assert!(refused.to_string().contains("does not verify"), "{refused}");

        raw.put_checkpoint(b"{\"seq\":".to_vec());
        let e = broken(s);
        assert!(
            matches!(&e, ChainBreak::CheckpointUnreadable { seq, .. } if *seq == seqs[3]),
            "{e}"
        );
        assert!(e.to_string().contains("it is not a checkpoint"), "{e}");

        put(&good);
        assert!(s.verify_chain(None).unwrap().is_ok());
        // A record removed right after the checkpoint is named.
        raw.put(seqs[3], None);
        assert_eq!(
            broken(s),
            ChainBreak::Unlinked {
                seq: seqs[4],
                after: format!("the checkpoint after seq {}", seqs[2])
            }
        );
    }
);

raw!(
    retention_refuses_to_remove_a_changed_record,
    |s: &dyn Storage, raw: &dyn Raw| {
        let seqs = daily(s, 5);
        let original = raw.record(seqs[1]).unwrap();
        let mut changed = original.clone();
        let at = changed.len() / 2;
        changed[at] ^= 0x01;
        raw.put(seqs[1], Some(changed));
        let refused = s.trim(start() + Duration::days(5), &by_age(1)).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains(&format!("audit record seq {}", seqs[1])),
            "{refused}"
        );
        assert!(seqs.iter().all(|&seq| raw.record(seq).is_some()));
        assert!(matches!(broken(s), ChainBreak::Changed { seq, .. } if seq == seqs[1]));
        // Nothing was removed or appended, and no checkpoint was left.
        raw.put(seqs[1], Some(original));
        let mut written = seqs.clone();
        written.reverse();
        assert_eq!(super::seqs(&s.events(None, None, 10).unwrap()), written);
        let report = holds(s);
        assert_eq!((report.records, report.checkpoint), (5, None));
    }
);

both!(
    appends_after_a_trim_that_emptied_the_log_continue_from_the_checkpoint,
    |s: &dyn Storage| {
        daily(s, 3);
        s.trim(start() + Duration::days(10), &by_age(1)).unwrap();
        let only = newest(s);
        assert_eq!(only.event, AuditKind::AuditTrimmed);
        assert_eq!(s.events(None, None, 10).unwrap().len(), 1);
        let checkpoint = holds(s).checkpoint.unwrap();
        assert_eq!(only.prev_hash, Some(checkpoint.hash));
        s.append(record(11)).unwrap();
        assert_eq!(holds(s).records, 2);
    }
);
