//! Retention: removing the oldest audit records by age and by size, in batches of at most
//! [`BATCH`] records. Each batch is one transaction over `audit`, `audit_meta` and the per-user
//! index trees of the removed records' tenants: the records and their index entries go, and the
//! checkpoint is rewritten to name the batch's last record, so the log and its checkpoint never
//! disagree, even when a run stops between batches. A run ends with an `AUDIT_TRIMMED` record
//! (appended like any other, so the trim is itself in the chain). Each batch, and that append,
//! hold `audit_appends`; other appends go on between batches, so the first trim of a large log
//! does not hold up the server's auditing for its whole length.
//!
//! Only what holds is removed: each record is checked against the chain (from the checkpoint's
//! hash, whose signature is checked first) before it goes, so retention never launders a changed
//! record into a freshly signed checkpoint; a break stops retention with an error that names it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use ring::signature::KeyPair;
use sled::Transactional;

use super::super::{decode, tx, user_key, SledStore};
use super::checkpoint::{self, CHECKPOINT_KEY};
use super::{check_record, encode, genesis, key_seq};
use crate::domain::{Username, DEFAULT_TENANT};
use crate::store::{
    AuditEvent, AuditKind, AuditRetention, Checkpoint, StoreError, StoreResult, TrimReport,
};

/// The most records one transaction removes.
pub(super) const BATCH: usize = 1000;

/// What a size trim leaves free below the limit, so the `AUDIT_TRIMMED` record that follows
/// (a few hundred bytes) does not push the log over it again at once.
pub(super) const TRIM_RECORD_ROOM: u64 = 1024;

/// One record to remove.
struct Removal {
    seq: u64,
    hash: String,
    tenant: Option<String>,
    username: Option<Username>,
    len: u64,
}

impl SledStore {
    /// The whole retention run (see [`crate::store::AuditLog::trim`]).
    pub(super) fn trim_log(
        &self,
        now: DateTime<Utc>,
        retention: &AuditRetention,
    ) -> StoreResult<TrimReport> {
        let cutoff = retention
            .max_age
            .and_then(|age| now.checked_sub_signed(age));
        // Over the limit, the log is trimmed to the limit less the room for the AUDIT_TRIMMED
        // record; a log that fits is left alone.
        let size_target = if self.audit_bytes.load(Ordering::SeqCst) > retention.max_bytes {
            retention.max_bytes.saturating_sub(TRIM_RECORD_ROOM)
        } else {
            u64::MAX
        };
        let mut report = TrimReport::default();
        // A batch that fails (a record that does not hold) ends the run; what went before it
        // is still recorded.
        let outcome = loop {
            let mut chain = self.serialise_audit_appends();
            let batch = self.trim_batch(now, cutoff, size_target, BATCH);
            // The head is read from the tree again after a trim.
            *chain = None;
            drop(chain);
            match batch {
                Ok(batch) if batch.removed() == 0 => break Ok(()),
                Ok(batch) => {
                    report.by_age += batch.by_age;
                    report.by_size += batch.by_size;
                    report.up_to = batch.up_to;
                }
                Err(e) => break Err(e),
            }
        };
        if report.removed() > 0 {
            let mut chain = self.serialise_audit_appends();
            let mut event = trimmed_event(now, &report, cutoff, retention.max_bytes);
            self.append_locked(&mut chain, &mut event)?;
            drop(chain);
            self.flush()?;
        }
        outcome.map(|()| report)
    }

    /// One batch of at most `limit` records, in one transaction: the oldest written before
    /// `cutoff`, and the oldest while the records take more than `size_target` bytes. The caller
    /// holds `audit_appends`. Records at or before the checkpoint still present (none, unless
    /// something else wrote them) go too, uncounted.
    pub(super) fn trim_batch(
        &self,
        now: DateTime<Utc>,
        cutoff: Option<DateTime<Utc>>,
        size_target: u64,
        limit: usize,
    ) -> StoreResult<TrimReport> {
        let refuse = |why: String| {
            StoreError::Corrupt(format!(
                "audit retention stopped: {why}; run `fidoflow audit verify`"
            ))
        };
        let previous = match self.checkpoint()? {
            None => None,
            Some(Ok(checkpoint)) => Some(checkpoint),
            Some(Err(why)) => return Err(refuse(format!("the checkpoint: {why}"))),
        };
        let (mut prev, mut after) = match &previous {
            None => (genesis(), "the start of the log".to_string()),
            Some(c) => (
                c.hash.clone(),
                format!("the checkpoint after seq {}", c.seq),
            ),
        };
        let skip_to = previous.as_ref().map_or(0, |c| c.seq);
        let mut remaining = self.audit_bytes.load(Ordering::SeqCst);
        let mut leftovers = Vec::new();
        let mut removals = Vec::new();
        let mut report = TrimReport::default();
        for item in self.audit.iter().take(limit) {
            let (key, value) = item?;
            let seq = key_seq(&key)?;
            let event: AuditEvent = decode(&value)
                .map_err(|e| refuse(format!("audit record seq {seq} is not readable ({e})")))?;
            let removal = Removal {
                seq,
                hash: String::new(),
                tenant: event.tenant.clone(),
                username: event.username.clone(),
                len: value.len() as u64,
            };
            if seq <= skip_to {
                remaining = remaining.saturating_sub(removal.len);
                leftovers.push(removal);
                continue;
            }
            if cutoff.is_some_and(|cutoff| event.time < cutoff) {
                report.by_age += 1;
            } else if remaining > size_target {
                report.by_size += 1;
            } else {
                break;
            }
            let hash = check_record(seq, &value, &prev, &after)
                .map_err(|broken| refuse(broken.to_string()))?;
            remaining = remaining.saturating_sub(removal.len);
            prev = hash.clone();
            after = format!("seq {seq}");
            report.up_to = Some(seq);
            removals.push(Removal { hash, ..removal });
        }
        if removals.is_empty() && leftovers.is_empty() {
            return Ok(report);
        }
        let checkpoint = match removals.last() {
            None => None,
            Some(last) => {
                // A key is made only for the first checkpoint: a later one must be signed by
                // the key that signed the one before, never by a new one that would hide a
                // lost or replaced key.
                let pair = self.audit_key.key(previous.is_none())?.ok_or_else(|| {
                    refuse(format!(
                        "there is no {} to check the checkpoint with and sign the next; \
                         restore it from a backup",
                        checkpoint::SIGNING_KEY_FILE
                    ))
                })?;
                if let Some(previous) = &previous {
                    checkpoint::check_signature(previous, pair.public_key().as_ref()).map_err(
                        |why| refuse(format!("the checkpoint after seq {}: {why}", previous.seq)),
                    )?;
                }
                let removed = previous.as_ref().map_or(0, |c| c.removed) + removals.len() as u64;
                Some(checkpoint::signed(
                    &pair, last.seq, &last.hash, removed, now,
                ))
            }
        };
        let freed: u64 = removals.iter().chain(&leftovers).map(|r| r.len).sum();
        self.remove_batch(&removals, &leftovers, checkpoint.as_ref())?;
        self.audit_bytes.fetch_sub(freed, Ordering::SeqCst);
        Ok(report)
    }

    /// Removes the records and their index entries and writes the checkpoint, in one
    /// transaction.
    fn remove_batch(
        &self,
        removals: &[Removal],
        leftovers: &[Removal],
        checkpoint: Option<&Checkpoint>,
    ) -> StoreResult<()> {
        // The index trees: `default`'s always, and each other tenant's that still exists (a
        // deleted tenant's trees are gone; its records stay in the log). A seq is unique, so
        // an index key with it can only point at this record, whichever tree holds it.
        let existing: Vec<Vec<u8>> = self
            .db
            .tree_names()
            .into_iter()
            .map(|n| n.to_vec())
            .collect();
        let mut trees = vec![
            self.audit.clone(),
            self.audit_meta.clone(),
            self.db.open_tree("audit_by_user")?,
        ];
        let mut tree_of: BTreeMap<&str, usize> = BTreeMap::new();
        for removal in removals.iter().chain(leftovers) {
            if let Some(tenant) = removal.tenant.as_deref() {
                let name = format!("t/{tenant}/audit_by_user");
                if tenant != DEFAULT_TENANT
                    && !tree_of.contains_key(tenant)
                    && existing.iter().any(|n| n == name.as_bytes())
                {
                    tree_of.insert(tenant, trees.len());
                    trees.push(self.db.open_tree(name)?);
                }
            }
        }
        let value = checkpoint.map(encode).transpose()?;
        tx(trees.as_slice().transaction(|views| {
            for removal in removals.iter().chain(leftovers) {
                let seq = removal.seq.to_be_bytes();
                views[0].remove(&seq)?;
                if let Some(username) = &removal.username {
                    let index = user_key(username, &seq);
                    views[2].remove(index.as_slice())?;
                    if let Some(&at) = removal.tenant.as_deref().and_then(|t| tree_of.get(t)) {
                        views[at].remove(index.as_slice())?;
                    }
                }
            }
            if let Some(value) = &value {
                views[1].insert(CHECKPOINT_KEY, value.as_slice())?;
            }
            Ok(())
        }))
    }
}

/// The `AUDIT_TRIMMED` record of a run that removed records.
fn trimmed_event(
    now: DateTime<Utc>,
    report: &TrimReport,
    cutoff: Option<DateTime<Utc>>,
    max_bytes: u64,
) -> AuditEvent {
    let mut why = Vec::new();
    if report.by_age > 0 {
        let before = cutoff.map_or_else(String::new, |c| {
            format!(
                " (written before {})",
                c.to_rfc3339_opts(SecondsFormat::Secs, true)
            )
        });
        why.push(format!(
            "{} older than the retention period{before}",
            report.by_age
        ));
    }
    if report.by_size > 0 {
        why.push(format!(
            "{} because the log exceeded its size limit of {max_bytes} bytes",
            report.by_size
        ));
    }
    AuditEvent::system(
        now,
        AuditKind::AuditTrimmed,
        format!(
            "removed {} audit records up to seq {}: {}; a signed checkpoint names the last one",
            report.removed(),
            report.up_to.unwrap_or_default(),
            why.join(", ")
        ),
    )
}
