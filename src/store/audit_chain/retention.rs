//! Retention as every backend runs it: which of the oldest records go (by age, then by size),
//! each checked against the chain before it goes, the signed checkpoint that names the last
//! one, and the `AUDIT_TRIMMED` record that ends a run. The backends read the oldest records
//! into a [`TrimScan`] and remove what it chose, with its checkpoint, in one transaction per
//! batch.
//!
//! Only what holds is removed: each record is checked against the chain (from the checkpoint's
//! hash, whose signature is checked first) before it goes, so retention never launders a changed
//! record into a freshly signed checkpoint; a break stops retention with an error that names it.

use chrono::{DateTime, SecondsFormat, Utc};
use ring::signature::KeyPair;

use super::{check_signature, signed, AuditKey, Walk, SIGNING_KEY_FILE};
use crate::domain::Username;
use crate::store::{
    AuditEvent, AuditKind, AuditRetention, Checkpoint, StoreError, StoreResult, TrimReport,
};

/// The most records one transaction removes.
pub(in crate::store) const BATCH: usize = 1000;

/// What a size trim leaves free below the limit, so the `AUDIT_TRIMMED` record that follows
/// (a few hundred bytes) does not push the log over it again at once.
pub(in crate::store) const TRIM_RECORD_ROOM: u64 = 1024;

/// One record to remove.
pub(in crate::store) struct Removal {
    pub seq: u64,
    pub hash: String,
    pub tenant: Option<String>,
    pub username: Option<Username>,
    pub len: u64,
}

fn refuse(why: String) -> StoreError {
    StoreError::Corrupt(format!(
        "audit retention stopped: {why}; run `fidoflow audit verify`"
    ))
}

/// One batch being chosen: the oldest records, in `seq` order, fed to [`TrimScan::take`].
pub(in crate::store) struct TrimScan {
    previous: Option<Checkpoint>,
    walk: Walk,
    cutoff: Option<DateTime<Utc>>,
    size_target: u64,
    /// The stored bytes of the records left.
    remaining: u64,
    pub report: TrimReport,
    /// The records to remove, checked against the chain.
    pub removals: Vec<Removal>,
    /// Records at or before the checkpoint still present (none, unless a trim was cut short
    /// or something else wrote them): they go too, uncounted and unchecked.
    pub leftovers: Vec<Removal>,
}

impl TrimScan {
    /// A batch removing the records written before `cutoff`, and the oldest while the records
    /// take more than `size_target` of their `bytes`, from the stored checkpoint on.
    pub(in crate::store) fn start(
        stored: Option<Result<Checkpoint, String>>,
        cutoff: Option<DateTime<Utc>>,
        size_target: u64,
        bytes: u64,
    ) -> StoreResult<Self> {
        let previous = match stored {
            None => None,
            Some(Ok(checkpoint)) => Some(checkpoint),
            Some(Err(why)) => return Err(refuse(format!("the checkpoint: {why}"))),
        };
        Ok(TrimScan {
            walk: Walk::from(previous.as_ref()),
            previous,
            cutoff,
            size_target,
            remaining: bytes,
            report: TrimReport::default(),
            removals: Vec::new(),
            leftovers: Vec::new(),
        })
    }

    /// Considers the next oldest record, stored under `seq`: `false` when it stays, which ends
    /// the batch. A record that does not hold stops retention.
    pub(in crate::store) fn take(&mut self, seq: u64, stored: &[u8]) -> StoreResult<bool> {
        let event: AuditEvent = serde_json::from_slice(stored).map_err(|e| {
            refuse(format!(
                "audit record seq {seq} is not readable ({})",
                StoreError::Corrupt(e.to_string())
            ))
        })?;
        let removal = Removal {
            seq,
            hash: String::new(),
            tenant: event.tenant.clone(),
            username: event.username.clone(),
            len: stored.len() as u64,
        };
        if self.walk.is_leftover(seq) {
            self.remaining = self.remaining.saturating_sub(removal.len);
            self.leftovers.push(removal);
            return Ok(true);
        }
        if self.cutoff.is_some_and(|cutoff| event.time < cutoff) {
            self.report.by_age += 1;
        } else if self.remaining > self.size_target {
            self.report.by_size += 1;
        } else {
            return Ok(false);
        }
        let hash = self
            .walk
            .step(seq, stored)
            .map_err(|broken| refuse(broken.to_string()))?;
        self.remaining = self.remaining.saturating_sub(removal.len);
        self.report.up_to = Some(seq);
        self.removals.push(Removal { hash, ..removal });
        Ok(true)
    }

    /// Whether the batch removes nothing at all.
    pub(in crate::store) fn is_empty(&self) -> bool {
        self.removals.is_empty() && self.leftovers.is_empty()
    }

    /// The stored bytes the batch frees.
    pub(in crate::store) fn freed(&self) -> u64 {
        self.removals
            .iter()
            .chain(&self.leftovers)
            .map(|r| r.len)
            .sum()
    }

    /// The checkpoint after the batch's last removed record, signed with `key` at `now`
    /// (`None` when it removes only leftovers). A key is made only for the first checkpoint:
    /// a later one must be signed by the key that signed the one before, never by a new one
    /// that would hide a lost or replaced key.
    pub(in crate::store) fn checkpoint(
        &self,
        key: &AuditKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Checkpoint>> {
        let Some(last) = self.removals.last() else {
            return Ok(None);
        };
        let previous = self.previous.as_ref();
        let pair = key.key(previous.is_none())?.ok_or_else(|| {
            refuse(format!(
                "there is no {SIGNING_KEY_FILE} to check the checkpoint with and sign the next; \
                 restore it from a backup"
            ))
        })?;
        if let Some(previous) = previous {
            check_signature(previous, pair.public_key().as_ref()).map_err(|why| {
                refuse(format!("the checkpoint after seq {}: {why}", previous.seq))
            })?;
        }
        let removed = previous.map_or(0, |c| c.removed) + self.removals.len() as u64;
        Ok(Some(signed(&pair, last.seq, &last.hash, removed, now)))
    }
}

/// The whole retention run (see [`crate::store::AuditLog::trim`]) over a log of `bytes` stored
/// bytes: `batch(cutoff, size_target)` removes one batch (in one transaction) until one removes
/// nothing; then `append` adds the `AUDIT_TRIMMED` record when anything went. A batch that
/// fails (a record that does not hold) ends the run; what went before it is still recorded.
pub(in crate::store) fn run_trim(
    now: DateTime<Utc>,
    retention: &AuditRetention,
    bytes: u64,
    mut batch: impl FnMut(Option<DateTime<Utc>>, u64) -> StoreResult<TrimReport>,
    append: impl FnOnce(AuditEvent) -> StoreResult<()>,
) -> StoreResult<TrimReport> {
    let cutoff = retention
        .max_age
        .and_then(|age| now.checked_sub_signed(age));
    // Over the limit, the log is trimmed to the limit less the room for the AUDIT_TRIMMED
    // record; a log that fits is left alone.
    let size_target = if bytes > retention.max_bytes {
        retention.max_bytes.saturating_sub(TRIM_RECORD_ROOM)
    } else {
        u64::MAX
    };
    let mut report = TrimReport::default();
    let outcome = loop {
        match batch(cutoff, size_target) {
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
        append(trimmed_event(now, &report, cutoff, retention.max_bytes))?;
    }
    outcome.map(|()| report)
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
