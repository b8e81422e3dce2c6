//! Retention on sled: removing the oldest audit records by age and by size, in batches of at
//! most `BATCH` records (which records go, their checks and the checkpoint: the backends'
//! shared `store/audit_chain/retention.rs`).
//! Each batch is one transaction over `audit`, `audit_meta` and the per-user
//! index trees of the removed records' tenants: the records and their index entries go, and the
//! checkpoint is rewritten to name the batch's last record, so the log and its checkpoint never
//! disagree, even when a run stops between batches. A run ends with an `AUDIT_TRIMMED` record
//! (appended like any other, so the trim is itself in the chain). Each batch, and that append,
//! hold `audit_appends`; other appends go on between batches, so the first trim of a large log
//! does not hold up the server's auditing for its whole length.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use sled::Transactional;

use super::super::{tx, user_key, SledStore};
use super::checkpoint::CHECKPOINT_KEY;
use super::{encode, key_seq};
use crate::domain::DEFAULT_TENANT;
pub(super) use crate::store::audit_chain::BATCH;
use crate::store::audit_chain::{run_trim, Removal, TrimScan};
use crate::store::{AuditRetention, Checkpoint, StoreResult, TrimReport};

impl SledStore {
    /// The whole retention run (see [`crate::store::AuditLog::trim`]).
    pub(super) fn trim_log(
        &self,
        now: DateTime<Utc>,
        retention: &AuditRetention,
    ) -> StoreResult<TrimReport> {
        let bytes = self.audit_bytes.load(Ordering::SeqCst);
        let batch = |cutoff, size_target| {
            let mut chain = self.serialise_audit_appends();
            let batch = self.trim_batch(now, cutoff, size_target, BATCH);
            // The head is read from the tree again after a trim.
            *chain = None;
            batch
        };
        let append = |mut event| {
            let mut chain = self.serialise_audit_appends();
            self.append_locked(&mut chain, &mut event)?;
            drop(chain);
            self.flush()
        };
        run_trim(now, retention, bytes, batch, append)
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
        let bytes = self.audit_bytes.load(Ordering::SeqCst);
        let mut scan = TrimScan::start(self.checkpoint()?, cutoff, size_target, bytes)?;
        for item in self.audit.iter().take(limit) {
            let (key, value) = item?;
            if !scan.take(key_seq(&key)?, &value)? {
                break;
            }
        }
        if scan.is_empty() {
            return Ok(scan.report);
        }
        let checkpoint = scan.checkpoint(&self.audit_key, now)?;
        self.remove_batch(&scan.removals, &scan.leftovers, checkpoint.as_ref())?;
        self.audit_bytes.fetch_sub(scan.freed(), Ordering::SeqCst);
        Ok(scan.report)
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
