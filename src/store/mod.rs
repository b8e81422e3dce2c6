//! Durable state: users, credentials, lock state, ceremony state, server-side sessions and the
//! audit log. The capability traits below (with the records they take and give, and
//! [`StoreError`] with its [`Refusal`]s) are what the engine sees; `sled_store` implements them
//! on sled with one named tree per keyspace, one file per keyspace opening with the key encoding
//! of its trees, and index trees updated in the same transaction. Every mutating call that the
//! contract names as durable is flushed before it returns — or, inside [`deferred`], before the
//! answer that acknowledges it leaves (`durability.rs`): one wait per request.
//!
//! The audit log's records and trait live in `audit.rs`.
//!
//! Imports only `domain` from this crate (besides outside crates: sled, serde, actix-session for
//! the session store); never `clock`, `config`, `flow`, `fido`, `engine` or `api`. The time
//! comes in as arguments (or, for the session store, as a `now` function given at construction).

mod audit;
mod audit_chain;
mod durability;
mod pg_store;
mod session_stores;
mod sled_store;
#[cfg(test)]
pub(crate) mod suite;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{CredentialId, DisplayName, UserHandle, Username};

pub use audit::{
    AuditEvent, AuditExport, AuditKind, AuditLog, AuditRetention, ChainBreak, ChainReport,
    Checkpoint, Outcome, TrimReport,
};
pub use durability::{deferred, Pending};
pub use pg_store::testing as pg_testing;
pub use pg_store::{PgOptions, PgSessionStore, PgStore};
pub use session_stores::Sessions;
pub use sled_store::{
    audit_public_key, FlushStats, SledSessionStore, SledStore, StoreFaults, AUTHENTICATED_KEY,
    SID_KEY, SIGNING_KEY_FILE,
};

/// The version of the key encodings and record shapes below; stored under `meta/schema_version`.
pub const SCHEMA_VERSION: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the user already exists")]
    UserExists,
    #[error("the credential id is already registered")]
    CredentialExists,
    #[error("a tenant with this id already exists")]
    TenantExists,
    #[error("not found")]
    NotFound,
    /// A compare-and-swap change refused by its own check (e.g. a sign counter that regressed).
    #[error("{0}")]
    Refused(Refusal),
    #[error("the data directory holds schema version {found}, this build reads {expected}")]
    SchemaVersion { found: u32, expected: u32 },
    #[error("a stored record could not be decoded: {0}")]
    Corrupt(String),
    /// The audit signing key (`audit-signing.key`) could not be read, made or used.
    #[error("the audit signing key: {0}")]
    SigningKey(String),
    #[error("storage failed: {0}")]
    Sled(#[from] sled::Error),
    /// The wait for a flush could not complete (the task running the flush failed).
    #[error("storage failed: {0}")]
    Flush(String),
    /// The database could not be reached, or the connection broke mid-call: the request may
    /// be sent again (503 `STORE_UNAVAILABLE`).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database refused a statement (500; the text is for the log).
    #[error("the database refused a statement: {0}")]
    Database(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Why a compare-and-swap change refused itself: the checks the engine runs inside
/// `update_credential` and `modify_user_credentials`. The `Display` text is what the user is
/// told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The assertion's signature counter is not above the stored one (a possible clone).
    #[error(
        "the signature counter did not grow ({received} after {stored}); the authenticator may be cloned"
    )]
    CounterNotIncreased { stored: u32, received: u32 },
    #[error("this credential is disabled")]
    CredentialDisabled,
    #[error("this credential is already enabled")]
    AlreadyEnabled,
    #[error("this credential is already disabled")]
    AlreadyDisabled,
    /// Only the helpdesk may enable a credential the helpdesk disabled.
    #[error("the helpdesk disabled this credential; only the helpdesk can enable it again")]
    DisabledByHelpdesk,
    /// Removing or disabling the last enabled credential of an account without a password.
    #[error(
        "this is the only enabled credential of an account without a password; it cannot be removed or disabled"
    )]
    LastCredentialWithoutPassword,
    /// Removing or disabling the last enabled credential where the flow does not allow it.
    #[error("this is the account's last enabled credential; register another one first")]
    LastCredential,
    /// Removing the password of an account that has no enabled credential.
    #[error(
        "without its password this account would have no way to sign in; register a passkey first"
    )]
    NoOtherWayToSignIn,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub username: Username,
    pub handle: UserHandle,
    pub display_name: Option<DisplayName>,
    /// An argon2id PHC string; `None` for passkey-only users.
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisabledBy {
    User,
    Helpdesk,
    /// The relying party's backend, through a tenant API.
    #[serde(rename = "relying-party")]
    RelyingParty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub id: CredentialId,
    pub username: Username,
    pub user_handle: UserHandle,
    /// The COSE_Key exactly as the attested credential data carried it.
    #[serde(with = "b64")]
    pub public_key: Vec<u8>,
    pub algorithm: i64,
    pub sign_count: u32,
    /// Lowercase hyphenated UUID.
    pub aaguid: String,
    pub authenticator_name: Option<String>,
    pub attestation_format: String,
    pub attestation_trusted: bool,
    /// Kept so trust can be re-evaluated later.
    #[serde(with = "b64")]
    pub attestation_object: Vec<u8>,
    #[serde(with = "b64")]
    pub client_data_json: Vec<u8>,
    pub transports: Vec<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub user_verified: bool,
    pub discoverable: Option<bool>,
    pub display_name: DisplayName,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub enabled: bool,
    pub disabled_by: Option<DisabledBy>,
    /// Registered for Secure Payment Confirmation (`payment: {isPayment: true}` was asked).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub payment: bool,
    /// A FIDO UAF key (its `id` is the KeyID, `public_key` in `uaf.key_encoding`); `None`: a
    /// WebAuthn credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uaf: Option<UafKey>,
}

/// What a FIDO UAF key needs besides a WebAuthn credential's members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UafKey {
    /// `VVVV#MMMM`, as the authenticator wrote it.
    pub aaid: String,
    /// The registry's public key encoding (`ALG_KEY_*`).
    pub key_encoding: u16,
    /// The registry's signature algorithm (`ALG_SIGN_*`).
    pub sign_alg: u16,
    pub authenticator_version: u16,
}

/// Server-side state of one WebAuthn ceremony, taken out exactly once before verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ceremony {
    #[serde(with = "b64")]
    pub challenge: Vec<u8>,
    pub purpose: CeremonyPurpose,
    /// The tenant that began it; `None` (records of schema version 1) is the `default` tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub username: Option<Username>,
    pub user_handle: Option<UserHandle>,
    /// The name the new credential will carry (registration).
    pub credential_name: Option<DisplayName>,
    pub require_user_verification: bool,
    pub algorithms: Vec<i64>,
    pub allowed_credentials: Vec<CredentialId>,
    pub expires_at: DateTime<Utc>,
    /// What a transaction-signing or payment assertion binds; `None` for other ceremonies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<SignedRequest>,
    /// A registration that asked for a payment credential (Secure Payment Confirmation).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub payment: bool,
}

/// What the user approves in a transaction-signing or payment assertion, stored with its
/// ceremony: the challenge was derived from exactly this, and is derived again at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedRequest {
    /// The signed content as the relying party sent it (`authenticationMessage`,
    /// `transaction`, `payment`), a JSON object the engine reads.
    pub content: serde_json::Value,
    #[serde(with = "b64")]
    pub nonce: Vec<u8>,
    /// Secure Payment Confirmation: the origin of the merchant page that runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_origin: Option<String>,
}

/// A validated transaction and its signed evidence, kept apart from the audit log's retention
/// (in the tenant's own `transactions` keyspace) so it can be shown years later.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionRecord {
    pub id: String,
    pub username: Username,
    pub validated_at: DateTime<Utc>,
    /// The evidence document as signed (`fidoflow verify transaction` checks it).
    pub evidence: serde_json::Value,
}

/// Validated transactions, per user.
pub trait TransactionStore {
    /// Stores a validated transaction (after every earlier one of its user); flushed before it
    /// returns.
    fn insert_transaction(&self, record: &TransactionRecord) -> StoreResult<()>;
    /// The user's transactions, newest first, at most `limit`.
    fn transactions_of(
        &self,
        username: &Username,
        limit: usize,
    ) -> StoreResult<Vec<TransactionRecord>>;
}

/// A new random ceremony id (32 hex digits), for `put_ceremony` of either backend.
pub(in crate::store) fn new_ceremony_id() -> String {
    let mut raw = [0u8; 16];
    crate::domain::random_bytes(&mut raw);
    crate::domain::hex(&raw)
}

impl Ceremony {
    /// Whether the ceremony was begun by `tenant`.
    pub fn belongs_to(&self, tenant: &str) -> bool {
        self.tenant
            .as_deref()
            .unwrap_or(crate::domain::DEFAULT_TENANT)
            == tenant
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CeremonyPurpose {
    Registration,
    Authentication,
    Approval,
}

/// The outcome of reserving a password or FIDO attempt for a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may go ahead; it already counts as a failure until `attempt_succeeded`.
    Granted,
    /// The username is locked until then.
    Locked(DateTime<Utc>),
    /// The name has no entry and the table is full of entries still counting toward a lock:
    /// refused rather than evict one (which would forget somebody's failures).
    TableFull,
}

#[derive(Debug, Clone, Copy)]
pub struct LockPolicy {
    pub max_failures: u32,
    pub lock_duration: chrono::Duration,
    /// A failure count lapses this long after the name's last counted attempt.
    pub failure_window: chrono::Duration,
    pub table_size: usize,
}

pub trait UserStore {
    /// Insert-if-absent: `UserExists` when the username (or, by chance, the handle) is taken.
    fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    fn user(&self, username: &Username) -> StoreResult<Option<UserRecord>>;
    fn user_by_handle(&self, handle: &UserHandle) -> StoreResult<Option<UserRecord>>;
    /// Users in username order, starting with `prefix`, after `after`.
    fn list_users(
        &self,
        prefix: Option<&str>,
        after: Option<&Username>,
        limit: usize,
    ) -> StoreResult<Vec<UserRecord>>;
    /// Creates a user together with their first credential (passkey sign-up), in one
    /// transaction: `UserExists` or `CredentialExists` and nothing is written.
    fn insert_user_with_credential(
        &self,
        user: &UserRecord,
        credential: &CredentialRecord,
    ) -> StoreResult<()> {
        self.insert_user_with_credentials(user, std::slice::from_ref(credential))
    }
    /// Creates a user together with any number of credentials (an import), in one transaction:
    /// `UserExists` or `CredentialExists` (an id already registered, or twice in `credentials`)
    /// and nothing is written.
    fn insert_user_with_credentials(
        &self,
        user: &UserRecord,
        credentials: &[CredentialRecord],
    ) -> StoreResult<()>;
    /// Compare-and-swap update of a user: `change` sees the current record (its username and
    /// handle are kept whatever it does); `NotFound` when there is no such user.
    fn update_user(
        &self,
        username: &Username,
        change: &mut dyn FnMut(&mut UserRecord) -> StoreResult<()>,
    ) -> StoreResult<UserRecord>;
    /// Deletes the user and all their credentials in one transaction.
    fn delete_user(&self, username: &Username) -> StoreResult<Vec<CredentialId>>;
}

pub trait CredentialStore {
    /// Inserts the credential if its id is registered to nobody and its user still exists, in
    /// one transaction with the user's index.
    fn insert_credential(&self, credential: &CredentialRecord) -> StoreResult<()>;
    fn credential(&self, id: &CredentialId) -> StoreResult<Option<CredentialRecord>>;
    /// The user's credentials, oldest first.
    fn credentials_of(&self, username: &Username) -> StoreResult<Vec<CredentialRecord>>;
    /// Every credential of every user, in credential id order (re-evaluating trust).
    fn all_credentials(&self) -> StoreResult<Vec<CredentialRecord>>;
    /// Compare-and-swap update: `change` sees the current record and may refuse with an error;
    /// retried if another writer got there first.
    fn update_credential(
        &self,
        id: &CredentialId,
        change: &mut dyn FnMut(&mut CredentialRecord) -> StoreResult<()>,
    ) -> StoreResult<CredentialRecord>;
    /// Changes a user's credentials as one unit: `change` sees all of them (oldest first), may
    /// edit, remove or refuse; what it removed is deleted and what it edited is written, while
    /// no other credential change of the store runs.
    fn modify_user_credentials(
        &self,
        username: &Username,
        change: &mut dyn FnMut(&mut Vec<CredentialRecord>) -> StoreResult<()>,
    ) -> StoreResult<()>;
    /// Deletes the credential and its index entry in one transaction, if it belongs to
    /// `username`; `NotFound` otherwise. Returns the deleted record.
    fn delete_credential(
        &self,
        username: &Username,
        id: &CredentialId,
    ) -> StoreResult<CredentialRecord>;
}

/// The imported FIDO metadata BLOB, as verified at import.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetadataRecord {
    /// The BLOB exactly as imported (a JWS in compact serialization).
    pub jwt: String,
    pub imported_at: DateTime<Utc>,
    /// The BLOB's serial number (`no`).
    pub number: u64,
    /// Its parsed form (the engine's `fido::mds::MetadataBlob` as JSON); the store keeps it
    /// without reading it.
    pub blob: serde_json::Value,
}

/// The imported FIDO metadata: one BLOB at a time, replaced by the next import.
pub trait MetadataStore {
    /// Replaces the stored BLOB; flushed before it returns.
    fn put_metadata(&self, record: &MetadataRecord) -> StoreResult<()>;
    fn metadata(&self) -> StoreResult<Option<MetadataRecord>>;
    /// The stored BLOB's serial number, without reading the BLOB (where the store can).
    fn metadata_number(&self) -> StoreResult<Option<u64>> {
        Ok(self.metadata()?.map(|m| m.number))
    }
}

pub trait LockStore {
    /// Counts an attempt for `username` before it is verified (so parallel guesses cannot exceed
    /// the limit); refuses while the name is locked, and locks it when the limit is reached.
    fn reserve_attempt(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Reservation>;
    /// A failed attempt (already counted by its reservation): locks the name when the count
    /// reached the limit, returning the lock's expiry.
    fn attempt_failed(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    /// A verified attempt: the count starts again.
    fn attempt_succeeded(&self, username: &Username) -> StoreResult<()>;
    /// The lock's expiry if the name is locked at `now`.
    fn locked_until(
        &self,
        username: &Username,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    fn unlock(&self, username: &Username) -> StoreResult<bool>;
}

pub trait CeremonyStore {
    /// Stores ceremony state under a new random id and returns the id.
    fn put_ceremony(&self, ceremony: &Ceremony) -> StoreResult<String>;
    /// Stores ceremony state under `id` (made by the caller from the challenge, so that a
    /// backend API can find it by the response alone); replaces nothing: an id in use is
    /// `Corrupt` (challenges are random, so it never is).
    fn put_ceremony_at(&self, id: &str, ceremony: &Ceremony) -> StoreResult<()>;
    /// Takes the ceremony out; a second take of the same id finds nothing.
    fn take_ceremony(&self, id: &str) -> StoreResult<Option<Ceremony>>;
}

/// The server-side sessions as the engine sees them (the HTTP session middleware reads and writes
/// them through `SledSessionStore`). Not to be confused with actix-session's own `SessionStore`.
pub trait SessionStore {
    /// Ends every session signed in as `username`, except the one whose engine session id
    /// (`sid`) is `except_sid`; returns how many were ended. A request of an ended session that
    /// is still running cannot revive its login.
    fn end_sessions_of(&self, username: &Username, except_sid: Option<&str>) -> StoreResult<usize>;
    /// The sessions signed in as `username` that have not expired at `now`, at most `limit` of
    /// them (in no particular order).
    fn sessions_of(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<SignedInSession>>;
    /// Ends the session signed in as `username` whose engine session id is `sid`; `false` when
    /// there is none (ended, expired and purged, or another user's).
    fn end_session_of(&self, username: &Username, sid: &str) -> StoreResult<bool>;
}

/// A session signed in as a user, as [`SessionStore::sessions_of`] lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedInSession {
    /// The engine's session id (`sid` in the state), when the state holds one.
    pub sid: Option<String>,
    /// The state's `login` value, as the engine wrote it.
    pub login: String,
    /// When the session was last written or extended, that is when a request of it was last
    /// seen (`None` for a session stored before this was kept).
    pub seen_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

/// A relying party made through the admin API (tenants of the configuration file are not
/// stored). The store keeps its settings as given, without reading them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: String,
    /// The tenant's settings as the engine wrote them.
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Tenants made through the admin API.
pub trait TenantStore {
    /// Inserts a new tenant (`UserExists`-like `TenantExists` when the id is taken) or, with
    /// `replace`, overwrites it (`NotFound` when there is none); flushed before it returns.
    fn put_tenant(&self, record: &TenantRecord, replace: bool) -> StoreResult<()>;
    fn tenants(&self) -> StoreResult<Vec<TenantRecord>>;
    /// Removes the tenant record; `NotFound` when there is none.
    fn delete_tenant(&self, id: &str) -> StoreResult<()>;
}

/// What one server keeps in memory when it is alone on its store, and a store shared by
/// several servers (PostgreSQL) keeps for all of them: which sessions have a request running,
/// and the rate-limit windows.
pub trait SharedState: Send + Sync {
    /// Claims session `key` for a request (until `until` at most, should the server die
    /// mid-request); `None` when another request of it holds a claim at `now`, else the claim's
    /// token for [`release_session`](Self::release_session).
    fn claim_session(
        &self,
        key: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<String>>;
    /// Ends the claim `token` of session `key` (before the answer goes out, so the client's
    /// next request finds it ended).
    fn end_claim(&self, key: &str, token: &str) -> StoreResult<()>;
    /// [`end_claim`](Self::end_claim) without waiting for the store (a request dropped midway).
    fn release_session(&self, key: &str, token: &str);
    /// Counts one request under `key` in its fixed window (a new window of length `window`
    /// starts at `now` when the last one ended); the count with this request, and when the
    /// window ends.
    fn count_request(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<(u32, DateTime<Utc>)>;
}

/// Everything the engine needs from storage.
pub trait Storage:
    UserStore
    + CredentialStore
    + LockStore
    + CeremonyStore
    + AuditLog
    + SessionStore
    + MetadataStore
    + TenantStore
    + TransactionStore
    + Send
    + Sync
{
    /// Removes expired ceremonies (and sessions); returns how many.
    fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<usize>;
    /// The same store as tenant `tenant` sees it: its own users, credentials, locks and
    /// per-user audit index; ceremonies, the audit log, metadata and sessions shared.
    fn for_tenant(&self, tenant: &str) -> StoreResult<std::sync::Arc<dyn Storage>>;
    /// Deletes a tenant's users, credentials, locks and audit index for good.
    fn drop_tenant_data(&self, tenant: &str) -> StoreResult<()>;
    /// How many flushes the store ran and how many durable writes they acknowledged.
    fn flush_stats(&self) -> FlushStats;
    /// How many sessions are stored (expired ones not yet purged included); one pass over them.
    fn session_count(&self) -> usize;
    /// Whether the store takes writes: writes a key, reads it back and removes it (no flush).
    fn probe(&self) -> StoreResult<()>;
    /// Returns once everything the store holds is on disk, including what it keeps in memory
    /// only while running (at shutdown).
    fn flush(&self) -> StoreResult<()>;
    /// The state several servers on this store share, when they can (`None`: one server per
    /// store, which keeps that state in its memory).
    fn shared_state(&self) -> Option<&dyn SharedState> {
        None
    }
}

/// Byte strings in records are kept as base64url text.
mod b64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::domain::b64url(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        crate::domain::b64url_decode(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Refusal;

    #[test]
    fn a_refusal_says_what_the_user_is_told() {
        assert_eq!(
            Refusal::CounterNotIncreased {
                stored: 51,
                received: 50
            }
            .to_string(),
            "the signature counter did not grow (50 after 51); the authenticator may be cloned"
        );
        assert_eq!(
            Refusal::CredentialDisabled.to_string(),
            "this credential is disabled"
        );
        assert_eq!(
            Refusal::LastCredential.to_string(),
            "this is the account's last enabled credential; register another one first"
        );
    }
}
