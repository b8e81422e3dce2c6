//! The typed outcomes of the administration use cases; `api::admin` renders them as JSON:API.

use chrono::{DateTime, Utc};

/// A user as the helpdesk sees it.
#[derive(Debug, Clone)]
pub struct AdminUser {
    pub username: String,
    pub display_name: Option<String>,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub credential_count: usize,
    /// When the temporary lock ends, while the user is locked.
    pub lock_expiry: Option<DateTime<Utc>>,
}

/// One page of a list, with the cursor of the next page when more exist.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// One validated transaction and its signed evidence.
#[derive(Debug, Clone)]
pub struct TransactionEntry {
    pub id: String,
    pub validated_at: DateTime<Utc>,
    pub evidence: serde_json::Value,
}

/// One audit event.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub seq: u64,
    pub time: DateTime<Utc>,
    /// `SCREAMING_SNAKE_CASE`, e.g. `FIDO_REGISTRATION`.
    pub event: String,
    pub actor: String,
    pub username: Option<String>,
    pub credential_id: Option<String>,
    /// The credential's current name, while it still exists.
    pub credential_name: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub detail: String,
    pub remote_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub tenant: String,
    pub api_key: Option<String>,
    /// The record's hash in the audit hash chain (lowercase hex SHA-256).
    pub hash: Option<String>,
    /// The hash of the record before it (the genesis value for the first).
    pub prev_hash: Option<String>,
}

/// A tenant as the admin API shows it (never its keys' hashes).
#[derive(Debug, Clone)]
pub struct TenantView {
    pub id: String,
    pub access_path: Option<String>,
    pub rp_id: String,
    pub rp_name: String,
    pub origins: Vec<String>,
    pub conformance: bool,
    pub max_keys_per_user: Option<u32>,
    /// `builtin`, `config` or `store`.
    pub source: &'static str,
    pub api_key_names: Vec<String>,
}

/// What an import did: how many users it imported, and each line it refused.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub tenant: String,
    pub imported: usize,
    pub refused: Vec<ImportRefusal>,
}

#[derive(Debug, Clone)]
pub struct ImportRefusal {
    pub line: usize,
    pub name: Option<String>,
    pub reason: String,
}

/// The FIDO metadata BLOB in use, if one was imported.
#[derive(Debug, Clone)]
pub struct MetadataStatus {
    pub current: Option<MetadataInUse>,
}

#[derive(Debug, Clone)]
pub struct MetadataInUse {
    pub number: u64,
    pub next_update: String,
    pub stale: bool,
    pub imported_at: DateTime<Utc>,
    pub entries: usize,
    pub legal_header: Option<String>,
}
