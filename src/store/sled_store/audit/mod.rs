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
//!
//! Retention (`trim.rs`) removes the oldest records and leaves a signed checkpoint
//! (`checkpoint.rs`, tree `audit_meta`) naming the last removed record's seq and hash; the
//! chain then starts from the checkpoint's hash instead of [`GENESIS`]: the first record kept
//! carries it as its `prev_hash` (and, when the log was emptied, so does the next append).
//!
//! `audit_bytes` counts the stored bytes (values) of the `audit` tree: counted once when the
//! store opens, then kept by appends and trims under `audit_appends`, so the size limit needs no
//! scan.

mod checkpoint;
mod export;
#[cfg(test)]
mod tests;
mod trim;
#[cfg(test)]
mod trim_tests;

use std::sync::atomic::Ordering;

use super::{decode, encode, user_key, SledStore};
use crate::domain::Username;
#[cfg(test)]
use crate::store::audit_chain::GENESIS;
use crate::store::audit_chain::{chain_start, empty_log_head, genesis, seal, unseal, Walk};
use crate::store::{
    AuditEvent, AuditLog, AuditRetention, ChainBreak, ChainReport, Checkpoint, StoreError,
    StoreResult, TrimReport,
};

pub(super) use checkpoint::AuditKey;
pub use checkpoint::{audit_public_key, SIGNING_KEY_FILE};

fn key_seq(key: &[u8]) -> StoreResult<u64> {
    <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt("an audit key is not a sequence number".into()))
}

impl SledStore {
    /// The `hash` of the newest record; for an empty log, the checkpoint's hash when retention
    /// emptied it, else the genesis value.
    fn chain_head(&self) -> StoreResult<String> {
        match self.audit.last()? {
            None => empty_log_head(self.checkpoint()?),
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
        let mut chain = self.serialise_audit_appends();
        *chain = None;
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

    /// The lock that serialises appends, with the chain's head when known.
    fn serialise_audit_appends(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.audit_appends.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the stored bytes of the audit records (once, when the store opens).
    pub(super) fn count_audit_bytes(&self) -> StoreResult<()> {
        let _chain = self.serialise_audit_appends();
        let mut bytes = 0u64;
        for item in self.audit.iter() {
            bytes += item?.1.len() as u64;
        }
        self.audit_bytes.store(bytes, Ordering::SeqCst);
        Ok(())
    }

    /// The stored bytes of the audit records, as counted.
    #[cfg(test)]
    fn audit_bytes(&self) -> u64 {
        self.audit_bytes.load(Ordering::SeqCst)
    }

    /// [`AuditLog::append`] while the caller holds `audit_appends` (whose value, the chain's
    /// head, is `head`); not flushed.
    fn append_locked(&self, head: &mut Option<String>, event: &mut AuditEvent) -> StoreResult<u64> {
        // generate_id is monotonic across restarts; +1 keeps 0 free as "no cursor".
        let seq = self.db.generate_id()? + 1;
        event.seq = seq;
        // Taken: a failure below leaves it unknown, to be read from the tree again.
        let prev = match head.take() {
            Some(prev) => prev,
            None => self.chain_head()?,
        };
        let value = seal(event, prev)?;
        let index = event
            .username
            .as_ref()
            .map(|u| user_key(u, &seq.to_be_bytes()));
        // The index entry first, then the record: no transaction (in sled each one writes the
        // log out twice, synchronously). A crash between the two leaves an index entry without
        // its record, which `events` skips; a record is never left without its entry.
        if let Some(index) = &index {
            self.audit_by_user.insert(index.as_slice(), &[])?;
        }
        self.audit.insert(seq.to_be_bytes(), value.as_slice())?;
        self.audit_bytes
            .fetch_add(value.len() as u64, Ordering::SeqCst);
        *head = event.hash.clone();
        Ok(seq)
    }

    /// Where the chain starts: the genesis value, or the checkpoint's hash once its signature
    /// is checked (with `public_key`, else the store's own key); a break when it does not hold.
    fn chain_start(
        &self,
        public_key: Option<&[u8]>,
    ) -> StoreResult<Result<Option<Checkpoint>, ChainBreak>> {
        let first = || match self.audit.first()? {
            Some((key, _)) => key_seq(&key),
            None => Ok(0),
        };
        chain_start(self.checkpoint()?, first, public_key, &self.audit_key)
    }
}

impl AuditLog for SledStore {
    fn append_sealed(&self, mut event: AuditEvent) -> StoreResult<(u64, String)> {
        // One append at a time: the sequence number, the previous hash and the write belong
        // together (the flush after them need not).
        let mut chain = self.serialise_audit_appends();
        let seq = self.append_locked(&mut chain, &mut event)?;
        drop(chain);
        self.flush()?;
        let hash = event
            .hash
            .ok_or_else(|| StoreError::Corrupt("an audit record was not sealed".into()))?;
        Ok((seq, hash))
    }

    fn verify_chain(
        &self,
        public_key: Option<&[u8]>,
    ) -> StoreResult<Result<ChainReport, ChainBreak>> {
        // The chain starts at the genesis value, or at the signed checkpoint retention left.
        let checkpoint = match self.chain_start(public_key)? {
            Ok(checkpoint) => checkpoint,
            Err(broken) => return Ok(Err(broken)),
        };
        let mut walk = Walk::from(checkpoint.as_ref());
        // Records at or before the checkpoint's seq (a trim cut short; none when every batch is
        // one transaction) are about to go and are not checked.
        for item in self.audit.range(walk.first_seq().to_be_bytes()..) {
            let (key, value) = item?;
            if let Err(broken) = walk.step(key_seq(&key)?, &value) {
                return Ok(Err(broken));
            }
        }
        Ok(Ok(walk.report(checkpoint)))
    }

    fn trim(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        retention: &AuditRetention,
    ) -> StoreResult<TrimReport> {
        self.trim_log(now, retention)
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

/// Raw access for the backend-generic tests that change the stored log behind the store's
/// back (the PostgreSQL store has the same methods).
#[cfg(test)]
impl SledStore {
    /// The stored bytes of the record `seq`.
    pub(in crate::store) fn raw_audit_record(&self, seq: u64) -> Option<Vec<u8>> {
        self.audit
            .get(seq.to_be_bytes())
            .unwrap()
            .map(|v| v.to_vec())
    }

    /// Stores `bytes` as the record `seq` (`None`: removes it), as an attacker would.
    pub(in crate::store) fn raw_put_audit_record(&self, seq: u64, bytes: Option<Vec<u8>>) {
        match bytes {
            Some(bytes) => self.audit.insert(seq.to_be_bytes(), bytes).map(drop),
            None => self.audit.remove(seq.to_be_bytes()).map(drop),
        }
        .unwrap();
    }

    /// Stores `bytes` as the checkpoint.
    pub(in crate::store) fn raw_put_audit_checkpoint(&self, bytes: Vec<u8>) {
        self.audit_meta
            .insert(checkpoint::CHECKPOINT_KEY, bytes)
            .unwrap();
    }

    /// The stored bytes of the records kept, as counted.
    pub(in crate::store) fn raw_audit_bytes(&self) -> u64 {
        self.audit_bytes()
    }
}
