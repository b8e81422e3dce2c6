//! The audit log, a hash chain.
//!
//! Trees and their key encodings:
//! - `audit`: sequence number (u64 big-endian) → the record: a JSON [`AuditEvent`], sealed into
//!   the hash chain as below.
//! - `audit_by_user`: username ‖ 0x00 ‖ sequence (u64 BE) → empty.
//!
//! Sequence numbers come from sled's `generate_id` (+1), so they keep increasing across
//! restarts and 0 stays free as "no cursor". They may skip numbers (after a crash sled skips the
//! ids it had reserved), so a gap in them is no sign of a removed record; the chain is.
//!
//! The hash chain (schema version 3). `hex` is lowercase hexadecimal (64 characters for a
//! SHA-256). A record's *canonical bytes* `C` are the compact `serde_json` encoding of its
//! [`AuditEvent`] with `seq` set to its key, `prev_hash` set and `hash` absent: one JSON object,
//! members in declaration order, whose last member is `"prev_hash":"<hex>"`. Its *stored bytes*
//! (the value under its key) are `C` without its final `}`, then `,"hash":"`, then
//! `hex(SHA-256(C))`, then `"}` — the same JSON with `hash` as its last member. So
//! `C` = the stored bytes with their last 75 bytes (`,"hash":"<64 hex>"}`) replaced by `}`, and
//! verification hashes exactly the bytes on disk (never a re-encoding of what it decoded).
//! - `hash` = hex(SHA-256(C)): covers every member of the record, `seq` and `prev_hash`
//!   included.
//! - `prev_hash` = the `hash` of the record before it in `seq` order, i.e. the SHA-256 of that
//!   record's stored bytes less their `hash` member; for the first record, [`GENESIS`] =
//!   hex(SHA-256(`fidoflow audit log genesis`)).
//!
//! A changed byte breaks the record's own `hash`; a removed record breaks the `prev_hash` of
//! the one after it; records swapped between keys carry another `seq` than their key. Cutting
//! records off the newest end leaves a valid shorter chain: only a head hash kept elsewhere (the
//! verification reports it) shows that.
//!
//! Records written before schema version 3 carried no hash: the migration to version 3
//! ([`SledStore::chain_existing_records`]) re-encodes and seals every stored record once, in
//! `seq` order, from the genesis value, so the chain covers the whole log. Those older records
//! are tamper-evident from the migration on; what happened to them before it cannot be told.
//!
//! Appends take `audit_appends` (one lock shared by every tenant view of the store) around
//! assigning the sequence number, reading the newest record's hash and writing, so the chain
//! cannot fork and `seq` order is chain order.

use sled::Transactional;

use super::{decode, encode, tx, user_key, SledStore};
use crate::domain::Username;
use crate::store::{AuditEvent, AuditLog, ChainBreak, ChainReport, StoreError, StoreResult};

/// The `prev_hash` of the first record: hex(SHA-256(`fidoflow audit log genesis`)).
pub const GENESIS: &str = "6f4fd7f9c62e39826cb52197a5c38f7faaad48e9703ee3a0b4b761cdf49b0c46";

/// The seed of [`GENESIS`].
#[cfg(test)]
const GENESIS_SEED: &[u8] = b"fidoflow audit log genesis";

/// `,"hash":"` ‖ 64 hex ‖ `"}`: the end of every stored record.
const SEAL_LEN: usize = 9 + 64 + 2;

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn genesis() -> String {
    GENESIS.to_string()
}

/// Sets `event.prev_hash` to `prev` and `event.hash` to its hash, and returns its stored bytes.
fn seal(event: &mut AuditEvent, prev: String) -> StoreResult<Vec<u8>> {
    event.prev_hash = Some(prev);
    event.hash = None;
    let mut bytes = encode(event)?;
    let hash = sha256_hex(&bytes);
    if bytes.pop() != Some(b'}') {
        return Err(StoreError::Corrupt(
            "an audit record is not a JSON object".into(),
        ));
    }
    bytes.extend_from_slice(b",\"hash\":\"");
    bytes.extend_from_slice(hash.as_bytes());
    bytes.extend_from_slice(b"\"}");
    event.hash = Some(hash);
    Ok(bytes)
}

/// Splits stored bytes into the canonical bytes and the `hash` they carry; `None` when they do
/// not end with a `hash` member of 64 lowercase hex digits.
fn unseal(stored: &[u8]) -> Option<(Vec<u8>, &str)> {
    let body_len = stored.len().checked_sub(SEAL_LEN).filter(|&n| n > 1)?;
    let (body, seal) = stored.split_at(body_len);
    let hash = seal.strip_prefix(b",\"hash\":\"")?.strip_suffix(b"\"}")?;
    if !hash
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return None;
    }
    let mut canonical = body.to_vec();
    canonical.push(b'}');
    Some((canonical, std::str::from_utf8(hash).ok()?))
}

fn key_seq(key: &[u8]) -> StoreResult<u64> {
    <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt("an audit key is not a sequence number".into()))
}

/// Checks the record stored under `seq` against the `hash` of the record before it (`prev`,
/// named `after`); returns its own hash.
fn check_record(seq: u64, stored: &[u8], prev: &str, after: &str) -> Result<String, ChainBreak> {
    let changed = |why: &str| ChainBreak::Changed {
        seq,
        why: why.to_string(),
    };
    let (canonical, hash) =
        unseal(stored).ok_or_else(|| changed("it does not end with a valid `hash` member"))?;
    if sha256_hex(&canonical) != hash {
        return Err(changed("its bytes no longer match its `hash`"));
    }
    let event: AuditEvent =
        decode(stored).map_err(|e| changed(&format!("it is not a readable record ({e})")))?;
    if event.hash.as_deref() != Some(hash) {
        return Err(changed("its `hash` member is not the last one"));
    }
    if event.seq != seq {
        return Err(ChainBreak::Moved {
            seq,
            says: event.seq,
        });
    }
    if event.prev_hash.as_deref() != Some(prev) {
        return Err(ChainBreak::Unlinked {
            seq,
            after: after.to_string(),
        });
    }
    Ok(hash.to_string())
}

impl SledStore {
    /// The `hash` of the newest record, or the genesis value for an empty log.
    fn chain_head(&self) -> StoreResult<String> {
        match self.audit.last()? {
            None => Ok(genesis()),
            Some((key, value)) => {
                unseal(&value)
                    .map(|(_, hash)| hash.to_string())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "audit record seq {} carries no hash; run `fidoflow audit verify`",
                            key_seq(&key).unwrap_or_default()
                        ))
                    })
            }
        }
    }

    /// The migration to schema version 3: seals every stored record into the chain, in `seq`
    /// order from the genesis value (records of versions 1 and 2 read with the newer members
    /// empty and are re-encoded). Returns how many records it sealed. Each record is written
    /// on its own; a run cut short by a crash runs again at the next open and writes the same
    /// bytes (sealing a sealed record yields it unchanged).
    pub(super) fn chain_existing_records(&self) -> StoreResult<u64> {
        let _chain = self.serialise_audit_appends();
        let mut prev = genesis();
        let mut sealed = 0;
        for item in self.audit.iter() {
            let (key, value) = item?;
            let mut event: AuditEvent = decode(&value)?;
            event.seq = key_seq(&key)?;
            let bytes = seal(&mut event, prev)?;
            self.audit.insert(key, bytes)?;
            prev = event.hash.unwrap_or_default();
            sealed += 1;
        }
        self.flush()?;
        Ok(sealed)
    }

    fn serialise_audit_appends(&self) -> std::sync::MutexGuard<'_, ()> {
        self.audit_appends.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl AuditLog for SledStore {
    fn append(&self, mut event: AuditEvent) -> StoreResult<u64> {
        // One append at a time: the sequence number, the previous hash and the write belong
        // together (the flush after them need not).
        let chain = self.serialise_audit_appends();
        // generate_id is monotonic across restarts; +1 keeps 0 free as "no cursor".
        let seq = self.db.generate_id()? + 1;
        event.seq = seq;
        let value = seal(&mut event, self.chain_head()?)?;
        let index = event
            .username
            .as_ref()
            .map(|u| user_key(u, &seq.to_be_bytes()));
        tx(
            (&self.audit, &self.audit_by_user).transaction(|(audit, by_user)| {
                audit.insert(&seq.to_be_bytes(), value.as_slice())?;
                if let Some(index) = &index {
                    by_user.insert(index.as_slice(), &[])?;
                }
                Ok(())
            }),
        )?;
        drop(chain);
        self.flush()?;
        Ok(seq)
    }

    fn verify_chain(&self) -> StoreResult<Result<ChainReport, ChainBreak>> {
        // The chain starts at the genesis value. Retention (not built yet) will cut the oldest
        // records; it must then write a signed checkpoint record naming the last cut record's
        // seq and hash, and this walk starts from that checkpoint's hash (after checking its
        // signature) instead of the genesis value.
        let mut prev = genesis();
        let mut after = "the start of the log".to_string();
        let mut records = 0;
        let mut head = None;
        for item in self.audit.iter() {
            let (key, value) = item?;
            let seq = key_seq(&key)?;
            match check_record(seq, &value, &prev, &after) {
                Ok(hash) => {
                    records += 1;
                    head = Some((seq, hash.clone()));
                    prev = hash;
                    after = format!("seq {seq}");
                }
                Err(broken) => return Ok(Err(broken)),
            }
        }
        Ok(Ok(ChainReport { records, head }))
    }

    fn events(
        &self,
        username: Option<&Username>,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEvent>> {
        let end = before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        match username {
            None => {
                for item in self.audit.range(..end.to_be_bytes()).rev().take(limit) {
                    out.push(decode(&item?.1)?);
                }
            }
            Some(user) => {
                let start = user_key(user, &0u64.to_be_bytes());
                let stop = user_key(user, &end.to_be_bytes());
                for item in self.audit_by_user.range(start..stop).rev().take(limit) {
                    let (key, _) = item?;
                    let seq = &key[key.len() - 8..];
                    if let Some(v) = self.audit.get(seq)? {
                        out.push(decode(&v)?);
                    }
                }
            }
        }
        Ok(out)
    }

    fn events_where(
        &self,
        before: Option<u64>,
        limit: usize,
        keep: &dyn Fn(&AuditEvent) -> bool,
    ) -> StoreResult<Vec<AuditEvent>> {
        let end = before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for item in self.audit.range(..end.to_be_bytes()).rev() {
            if out.len() >= limit {
                break;
            }
            let event: AuditEvent = decode(&item?.1)?;
            if keep(&event) {
                out.push(event);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::{AuditKind, Outcome};

    #[test]
    fn the_audit_log_pages_newest_first_per_user() {
        let s = SledStore::temporary();
        let alice = Username::parse("alice").unwrap();
        for i in 0..5 {
            s.append(AuditEvent {
                seq: 0,
                time: Utc::now(),
                event: AuditKind::PasswordCheck,
                actor: "anonymous".into(),
                username: (i % 2 == 0).then(|| alice.clone()),
                credential_id: None,
                outcome: Outcome::Failure,
                detail: format!("{i}"),
                remote_address: None,
                user_agent: None,
                request_id: None,
                tenant: None,
                api_key: None,
                prev_hash: None,
                hash: None,
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
            seq: 0,
            time: Utc::now(),
            event: AuditKind::UserCreated,
            actor: "token:test".into(),
            username: Username::parse("alice").ok(),
            credential_id: None,
            outcome: Outcome::Success,
            detail: detail.into(),
            remote_address: Some("192.0.2.1".into()),
            user_agent: None,
            request_id: None,
            tenant: None,
            api_key: None,
            prev_hash: None,
            hash: None,
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
        s.verify_chain().unwrap().expect_err("the chain is broken")
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
        let report = s.verify_chain().unwrap().expect("the chain holds");
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
        let report = s.verify_chain().unwrap().unwrap();
        assert_eq!(
            report,
            ChainReport {
                records: 0,
                head: None
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
        assert_eq!(s.verify_chain().unwrap().unwrap().records, 200);
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
        assert!(s.verify_chain().unwrap().is_ok());
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
        let s = SledStore::from_db(db.clone()).unwrap();
        assert_eq!(
            meta.get("schema_version").unwrap().unwrap().as_ref(),
            crate::store::SCHEMA_VERSION.to_be_bytes()
        );
        assert_eq!(s.verify_chain().unwrap().unwrap().records, 4);
        let first: AuditEvent = decode(&s.audit.first().unwrap().unwrap().1).unwrap();
        assert_eq!(first.prev_hash.as_deref(), Some(GENESIS));
        assert_eq!(first.detail, "old 1");
        // New appends continue the chain; opening again changes nothing.
        s.append(event("new")).unwrap();
        let before: Vec<_> = s.audit.iter().map(|i| i.unwrap().1.to_vec()).collect();
        let again = SledStore::from_db(db).unwrap();
        assert_eq!(again.verify_chain().unwrap().unwrap().records, 5);
        let after: Vec<_> = again.audit.iter().map(|i| i.unwrap().1.to_vec()).collect();
        assert_eq!(before, after);
    }
}
