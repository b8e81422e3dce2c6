//! The audit log as the engine sees it: the records ([`AuditEvent`], [`AuditKind`]), what a
//! walk of the hash chain finds ([`ChainReport`], [`ChainBreak`]), the retention checkpoint
//! ([`Checkpoint`]) and policy ([`AuditRetention`], [`TrimReport`]), and the [`AuditLog`] trait.
//! Re-exported by `store`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::domain::{CredentialId, Username};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditKind {
    PasswordCheck,
    FidoAuthentication,
    FidoRegistration,
    FidoApproval,
    FidoAbort,
    SignUp,
    Logout,
    UserLocked,
    UserUnlocked,
    UserCreated,
    UserDeleted,
    CredentialRenamed,
    CredentialDisabled,
    CredentialEnabled,
    CredentialDeleted,
    SignCounterRegression,
    /// A known administration token asked for what its role may not do (403).
    AdminAccessDenied,
    /// An administrator replaced the FIDO metadata BLOB in use.
    MetadataImported,
    /// An administrator re-judged the stored credentials against the metadata.
    MetadataReevaluated,
    /// An administrator made a tenant through the admin API.
    TenantCreated,
    /// An administrator replaced a stored tenant's settings.
    TenantUpdated,
    /// An administrator deleted a stored tenant with its users and credentials.
    TenantDeleted,
    /// A user (with their credentials) imported from another server.
    UserImported,
    /// One import call: how many users were imported and which lines were refused.
    UserImportFinished,
    /// Retention removed the oldest records of the audit log (how many, up to which seq, and
    /// why: age or size); a signed checkpoint names the last removed record.
    AuditTrimmed,
    /// A relying party's transaction (or payment) was approved with a FIDO assertion; the
    /// record's hash is cited by the transaction's evidence.
    TransactionValidated,
    /// A user changed their account's display name (self-service).
    UserDisplayNameChanged,
    /// A user changed or added their password (self-service; the detail says which).
    PasswordChanged,
    /// A user removed their password (self-service).
    PasswordRemoved,
    /// A user signed out one session of their account, or every other one (self-service; the
    /// detail says which and how many).
    SessionsEnded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Assigned by the log: strictly increasing.
    #[serde(default)]
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub event: AuditKind,
    /// `user:NAME`, `token:NAME`, `key:NAME`, `anonymous`, or `system` (the log's own records,
    /// `AUDIT_TRIMMED`).
    pub actor: String,
    pub username: Option<Username>,
    pub credential_id: Option<CredentialId>,
    pub outcome: Outcome,
    pub detail: String,
    pub remote_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The tenant the event belongs to; `None` (and records of schema version 1): `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The name of the API key a relying party's backend called with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Set by the log (schema version 3): the `hash` of the record before this one, or the
    /// genesis value for the first (lowercase hex SHA-256; see `sled_store/audit.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
    /// Set by the log: the lowercase hex SHA-256 of this record's canonical bytes (its stored
    /// bytes without this member). Must stay the last member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

impl AuditEvent {
    /// An event of `actor` with nothing else known: no user, credential, request or tenant
    /// (`default`); the log assigns `seq` and the hashes.
    pub fn new(
        time: DateTime<Utc>,
        event: AuditKind,
        actor: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            seq: 0,
            time,
            event,
            actor: actor.into(),
            username: None,
            credential_id: None,
            outcome,
            detail: detail.into(),
            remote_address: None,
            user_agent: None,
            request_id: None,
            tenant: None,
            api_key: None,
            prev_hash: None,
            hash: None,
        }
    }

    /// The log's own record (actor `system`), such as `AUDIT_TRIMMED`.
    pub fn system(time: DateTime<Utc>, event: AuditKind, detail: impl Into<String>) -> Self {
        Self::new(time, event, "system", Outcome::Success, detail)
    }

    /// Whether the event belongs to `tenant` (`None` is `default`).
    pub fn belongs_to(&self, tenant: &str) -> bool {
        self.tenant
            .as_deref()
            .unwrap_or(crate::domain::DEFAULT_TENANT)
            == tenant
    }
}

/// What a walk of the whole audit hash chain found when nothing was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// How many records the chain holds.
    pub records: u64,
    /// The sequence number and `hash` of the newest record (`None` for an empty log): keep it
    /// somewhere else to notice later that records were cut off the end.
    pub head: Option<(u64, String)>,
    /// The signed checkpoint the chain starts from (its signature checked), when retention has
    /// removed the oldest records; `None`: the chain starts at the genesis value.
    pub checkpoint: Option<Checkpoint>,
}

/// Where the audit chain starts once retention removed the oldest records: the last removed
/// record, signed with the data directory's audit signing key (Ed25519). Its signed bytes are
/// [`Checkpoint::signed_bytes`]; the encoding is in `sled_store/audit/checkpoint.rs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The sequence number of the last removed record.
    pub seq: u64,
    /// Its `hash`: the `prev_hash` of the first record kept.
    pub hash: String,
    /// How many records retention has removed in all, since the log began.
    pub removed: u64,
    /// When it was written, RFC 3339 in UTC to the second (`2026-12-03T18:56:19Z`), signed as
    /// written.
    pub time: String,
    /// The Ed25519 signature of [`Checkpoint::signed_bytes`], base64url without padding.
    pub signature: String,
}

impl Checkpoint {
    /// The bytes the signature covers: the ASCII lines
    /// `fidoflow audit checkpoint v1`, `seq=<decimal>`, `hash=<64 lowercase hex>`,
    /// `removed=<decimal>`, `time=<RFC 3339>`, each ended by a line feed (0x0A).
    pub fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "fidoflow audit checkpoint v1\nseq={}\nhash={}\nremoved={}\ntime={}\n",
            self.seq, self.hash, self.removed, self.time
        )
        .into_bytes()
    }
}

/// How long audit records are kept and how much of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRetention {
    /// Records older than this are removed; `None`: kept whatever their age.
    pub max_age: Option<chrono::Duration>,
    /// The oldest records are removed while the records' stored bytes exceed this.
    pub max_bytes: u64,
}

/// What one retention run removed (nothing when `removed` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrimReport {
    /// Records removed because they were older than the retention period.
    pub by_age: u64,
    /// Records removed because the log was larger than its size limit.
    pub by_size: u64,
    /// The sequence number of the last removed record.
    pub up_to: Option<u64>,
}

impl TrimReport {
    pub fn removed(&self) -> u64 {
        self.by_age + self.by_size
    }
}

/// The first place where the audit hash chain does not hold, by the record's sequence number
/// (the key it is stored under).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// The record's bytes no longer hash to its `hash` (or are no record at all).
    #[error("audit record seq {seq} was changed: {why}")]
    Changed { seq: u64, why: String },
    /// The record is intact but does not follow the record before it: a record between them was
    /// removed, or records were reordered.
    #[error(
        "audit record seq {seq} does not follow {after}: a record before it was removed, or records were reordered"
    )]
    Unlinked { seq: u64, after: String },
    /// An intact record stored under another sequence number than its own: moved or reordered.
    #[error(
        "audit record stored at seq {seq} is record seq {says}: records were reordered or moved"
    )]
    Moved { seq: u64, says: u64 },
    /// The signed checkpoint the chain starts from does not hold (its signature fails, or there
    /// is no key to check it with); `seq` is the last removed record it names.
    #[error("the audit checkpoint after seq {seq} cannot be trusted: {why}")]
    Checkpoint { seq: u64, why: String },
    /// The checkpoint cannot be read at all; named by the first record kept (`seq`, 0 for an
    /// empty log), whose start it should vouch for.
    #[error("the audit checkpoint before record seq {seq} cannot be read: {why}")]
    CheckpointUnreadable { seq: u64, why: String },
}

impl ChainBreak {
    /// The sequence number (storage key) of the record where the chain breaks.
    pub fn seq(&self) -> u64 {
        match self {
            ChainBreak::Changed { seq, .. }
            | ChainBreak::Unlinked { seq, .. }
            | ChainBreak::Moved { seq, .. }
            | ChainBreak::Checkpoint { seq, .. }
            | ChainBreak::CheckpointUnreadable { seq, .. } => *seq,
        }
    }
}

/// Audit records as stored (their bytes, under their sequence numbers) and the retention
/// checkpoint's bytes: what `fidoflow migrate sled-to-postgres` copies, page by page.
#[derive(Debug, Clone, Default)]
pub struct AuditExport {
    pub records: Vec<(u64, Vec<u8>)>,
    pub checkpoint: Option<Vec<u8>>,
}

pub trait AuditLog {
    /// Appends `event` (its `seq`, `prev_hash` and `hash` are set by the log) at the end of the
    /// hash chain; appends are serialised, so the chain never forks. Flushed before it returns.
    fn append(&self, event: AuditEvent) -> StoreResult<u64> {
        self.append_sealed(event).map(|(seq, _)| seq)
    }
    /// `append`, returning the record's `seq` and its `hash` (the SHA-256, lowercase hex, of
    /// the record as sealed into the chain), which evidence cites.
    fn append_sealed(&self, event: AuditEvent) -> StoreResult<(u64, String)>;
    /// Walks the whole hash chain from the genesis value, or from the signed checkpoint when
    /// retention removed the oldest records (its signature checked with `public_key`, a raw
    /// 32-byte Ed25519 key, or else with the store's own signing key): `Ok(Err(break))` names
    /// the first record that was changed, removed or reordered, or the checkpoint.
    fn verify_chain(
        &self,
        public_key: Option<&[u8]>,
    ) -> StoreResult<Result<ChainReport, ChainBreak>>;
    /// Retention: removes the oldest records older than `now - max_age` and the oldest while
    /// the log is larger than `max_bytes`, in bounded batches, each in one transaction with
    /// its per-user index entries and a new signed checkpoint; then appends an `AUDIT_TRIMMED`
    /// record. Refuses (`Corrupt`) to remove records whose chain or checkpoint does not hold.
    fn trim(&self, now: DateTime<Utc>, retention: &AuditRetention) -> StoreResult<TrimReport>;
    /// Newest first, optionally only one user's, with `seq` below `before`.
    fn events(
        &self,
        username: Option<&Username>,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEvent>>;
    /// Newest first, the events `keep` accepts, with `seq` below `before` (a scan of the log).
    fn events_where(
        &self,
        before: Option<u64>,
        limit: usize,
        keep: &dyn Fn(&AuditEvent) -> bool,
    ) -> StoreResult<Vec<AuditEvent>>;
}
