//! The sled implementation of the storage traits: one named tree per keyspace, index trees
//! updated in the same transaction as what they index. This file holds the store itself (its
//! trees, opening it, the schema version) and the helpers every keyspace shares; each keyspace
//! lives in its own file, which opens with the key encoding of its trees:
//! - `users.rs`: `users`, `users_by_handle`.
//! - `credentials.rs`: `credentials`, `credentials_by_user`.
//! - `locks.rs`: `locks` (with its in-memory count and expiry index, `LockTable`).
//! - `ceremonies.rs`: `ceremonies` (and the in-memory table that holds them first).
//! - `volatile.rs`: the bounded in-memory tables of what a crash may lose (ceremonies, sessions
//!   nobody is signed in to), which spill into their trees when full.
//! - `audit/`: `audit`, `audit_by_user`, `audit_meta` (the retention checkpoint; the signing
//!   key `audit-signing.key` beside the database).
//! - `metadata.rs`: `mds`.
//! - `sessions.rs`: `sessions`, `sessions_by_user` (and the actix-session store on them and on
//!   the in-memory table of sessions nobody is signed in to).
//!
//! - `tenants.rs`: `tenants` (relying parties made through the admin API).
//! - `transactions.rs`: `transactions` (validated transactions and their evidence).
//!
//! The tree of this file: `meta`: `schema_version` → u32 big-endian ([`SCHEMA_VERSION`]).
//!
//! Tenants: the `default` tenant's users, credentials, locks and per-user audit index live in
//! the trees named above (the layout of schema version 1, which is why a version-1 data directory
//! opens unchanged). Every other tenant `T` has its own trees of the same shape and encoding,
//! named `t/T/users`, `t/T/users_by_handle`, `t/T/credentials`, `t/T/credentials_by_user`,
//! `t/T/locks`, `t/T/audit_by_user` and `t/T/transactions` ([`SledStore::tenant_view`]); a credential id is thus
//! unique within its tenant, and the same username in two tenants is two users. Ceremonies, the
//! audit log, metadata and sessions are shared (ceremonies and audit events name their tenant).
//!
//! Like the rest of `store`, imports only `domain`.

mod audit;
mod ceremonies;
mod credentials;
#[cfg(test)]
mod durability_tests;
mod group_commit;
mod locks;
mod metadata;
mod sessions;
mod tenants;
mod transactions;
mod users;
mod volatile;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::durability::{self, Pending};
use super::{Storage, StoreError, StoreResult, SCHEMA_VERSION};
use crate::domain::Username;

pub use audit::{audit_public_key, SIGNING_KEY_FILE};
pub use group_commit::FlushStats;
pub(in crate::store) use sessions::{
    new_key as new_session_key, signed_in_as, State as SessionState,
};
pub use sessions::{SledSessionStore, AUTHENTICATED_KEY, SID_KEY};

#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    meta: sled::Tree,
    users: sled::Tree,
    users_by_handle: sled::Tree,
    credentials: sled::Tree,
    credentials_by_user: sled::Tree,
    locks: sled::Tree,
    ceremonies: sled::Tree,
    /// The ceremonies kept in memory (see `ceremonies.rs`), shared by every tenant view.
    ceremony_table: Arc<volatile::Volatile<crate::store::Ceremony>>,
    /// The sessions nobody is signed in to, kept in memory (see `sessions.rs`).
    session_table: Arc<volatile::Volatile<sessions::Stored>>,
    audit: sled::Tree,
    audit_by_user: sled::Tree,
    mds: sled::Tree,
    sessions: sled::Tree,
    tenants: sled::Tree,
    transactions: sled::Tree,
    /// Serialises credential changes that must see all of a user's credentials at once (the
    /// last-credential rules) against every other credential write.
    credential_changes: Arc<Mutex<()>>,
    /// Serialises audit appends (and the migration that seals the log), so the hash chain
    /// cannot fork; shared by every tenant view, as the `audit` tree is. It holds the chain's
    /// head (the last record's hash) once an append made it; `None`: read it from the tree.
    audit_appends: Arc<Mutex<Option<String>>>,
    /// The retention checkpoint (see `audit/checkpoint.rs`).
    audit_meta: sled::Tree,
    /// The stored bytes of the `audit` records: counted at open, kept under `audit_appends`.
    audit_bytes: Arc<std::sync::atomic::AtomicU64>,
    /// The key that signs the retention checkpoint.
    audit_key: Arc<audit::AuditKey>,
    sessions_by_user: sled::Tree,
    /// The count and expiry index of `locks` (see `locks.rs`), shared by every view of that tree.
    lock_table: Arc<locks::LockTable>,
    /// Every `locks` tree's [`locks::LockTable`] by tree name, so views of one tree share one.
    lock_tables: Arc<Mutex<HashMap<String, Arc<locks::LockTable>>>>,
    /// Concurrent flushes share one (see `group_commit.rs`).
    flusher: Arc<group_commit::Flusher>,
    /// Failures a test injects (see [`StoreFaults`]); none in a running server.
    faults: StoreFaults,
}

/// The key prefix in `meta` of [`SledStore::probe`]'s short-lived keys.
const PROBE_PREFIX: &[u8] = b"probe/";

/// Fault injection for tests that need a store that stopped working (as a full or failing disk
/// makes sled's writes fail) without breaking a real disk: while a failure is set, the
/// readiness probe's write fails with an I/O error carrying its text. Nothing sets one in a
/// running server; the server's composition root hands the handle only to tests.
#[doc(hidden)]
#[derive(Clone, Default)]
pub struct StoreFaults(Arc<Mutex<Option<String>>>);

impl StoreFaults {
    /// From now on, the probe's write fails with `why` as its I/O error.
    pub fn fail_writes(&self, why: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.to_string());
    }

    /// Writes work again.
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn write_failure(&self) -> Option<sled::Error> {
        let why = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
        Some(sled::Error::Io(std::io::Error::other(why)))
    }
}

fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The key of a per-user index entry: username ‖ 0x00 ‖ `suffix` (usernames hold no 0x00).
fn user_key(username: &Username, suffix: &[u8]) -> Vec<u8> {
    let mut key = username.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(suffix);
    key
}

/// Moves everything `table` holds into `tree`, under the same keys; how many.
fn spill<V: Clone + Serialize>(
    table: &volatile::Volatile<V>,
    tree: &sled::Tree,
) -> StoreResult<usize> {
    let all = table.drain();
    for (key, value) in &all {
        tree.insert(key.as_bytes(), encode(value)?)?;
    }
    Ok(all.len())
}

/// Unwraps a transaction result whose abort carries a `StoreError`.
fn tx<T>(result: Result<T, TransactionError<StoreError>>) -> StoreResult<T> {
    match result {
        Ok(v) => Ok(v),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(StoreError::Sled(e)),
    }
}

fn abort<T>(e: StoreError) -> Result<T, ConflictableTransactionError<StoreError>> {
    Err(ConflictableTransactionError::Abort(e))
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, checking the schema version.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        let db = sled::Config::new().path(dir.join("db")).open()?;
        Self::from_db(db, audit::AuditKey::in_dir(dir))
    }

    fn from_db(db: sled::Db, audit_key: audit::AuditKey) -> StoreResult<Self> {
        let locks = db.open_tree("locks")?;
        let lock_table = Arc::new(locks::LockTable::counted(&locks));
        let lock_tables = HashMap::from([("locks".to_string(), lock_table.clone())]);
        let store = Self {
            meta: db.open_tree("meta")?,
            users: db.open_tree("users")?,
            users_by_handle: db.open_tree("users_by_handle")?,
            credentials: db.open_tree("credentials")?,
            credentials_by_user: db.open_tree("credentials_by_user")?,
            locks,
            lock_table,
            lock_tables: Arc::new(Mutex::new(lock_tables)),
            ceremonies: db.open_tree("ceremonies")?,
            ceremony_table: Arc::new(ceremonies::table()),
            session_table: Arc::new(sessions::table()),
            audit: db.open_tree("audit")?,
            audit_by_user: db.open_tree("audit_by_user")?,
            mds: db.open_tree("mds")?,
            sessions: db.open_tree("sessions")?,
            tenants: db.open_tree("tenants")?,
            transactions: db.open_tree("transactions")?,
            credential_changes: Default::default(),
            audit_appends: Default::default(),
            audit_meta: db.open_tree("audit_meta")?,
            audit_bytes: Default::default(),
            audit_key: Arc::new(audit_key),
            sessions_by_user: db.open_tree("sessions_by_user")?,
            flusher: group_commit::Flusher::new(db.clone()),
            faults: Default::default(),
            db,
        };
        match store.meta.get("schema_version")? {
            None => store.set_schema_version(SCHEMA_VERSION)?,
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("schema_version".into()))?;
                if !(1..=SCHEMA_VERSION).contains(&found) {
                    return Err(StoreError::SchemaVersion {
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
                if found == 1 {
                    store.migrate_from_1()?;
                }
                if found <= 2 {
                    store.migrate_from_2()?;
                }
            }
        }
        store.index_sessions()?;
        store.count_audit_bytes()?;
        Ok(store)
    }

    fn set_schema_version(&self, version: u32) -> StoreResult<()> {
        self.meta.insert("schema_version", &version.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Version 1 → 2: tenants. A version-1 directory's users, credentials, locks and audit
    /// index become the `default` tenant's exactly as they are (its trees keep their names and
    /// encodings), and records written by version 1 read with the members version 2 added left
    /// empty (`Ceremony::tenant`, `AuditEvent::tenant`/`api_key`). Nothing is rewritten; the
    /// version moves on so an older build refuses the directory from now on.
    fn migrate_from_1(&self) -> StoreResult<()> {
        tracing::info!("store schema version 1 found: migrating to version 2 (tenants)");
        self.set_schema_version(2)
    }

    /// Version 2 → 3: the hash-chained audit log (see `audit.rs`). Every stored audit record,
    /// which carried no hash, is sealed into the chain once, in `seq` order from the genesis
    /// value, so the chain covers the whole log; the other keyspaces are unchanged.
    fn migrate_from_2(&self) -> StoreResult<()> {
        let sealed = self.chain_existing_records()?;
        tracing::info!(
            sealed,
            "store schema version 2 found: migrated to version 3 (audit records hash-chained)"
        );
        self.set_schema_version(3)
    }

    /// The same store seen by tenant `tenant`: its users, credentials, locks and per-user audit
    /// index in the tenant's own trees; everything else shared. `default` is this store.
    pub fn tenant_view(&self, tenant: &str) -> StoreResult<SledStore> {
        if tenant == crate::domain::DEFAULT_TENANT {
            return Ok(self.clone());
        }
        let tree = |name: &str| self.db.open_tree(format!("t/{tenant}/{name}"));
        let locks = tree("locks")?;
        let lock_table = self
            .lock_tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(format!("t/{tenant}/locks"))
            .or_insert_with(|| Arc::new(locks::LockTable::counted(&locks)))
            .clone();
        Ok(SledStore {
            users: tree("users")?,
            users_by_handle: tree("users_by_handle")?,
            credentials: tree("credentials")?,
            credentials_by_user: tree("credentials_by_user")?,
            locks,
            lock_table,
            audit_by_user: tree("audit_by_user")?,
            transactions: tree("transactions")?,
            ..self.clone()
        })
    }

    /// The tenants (besides `default`) that have trees in this store.
    pub fn tenant_ids(&self) -> StoreResult<Vec<String>> {
        let mut ids: Vec<String> = self
            .db
            .tree_names()
            .iter()
            .filter_map(|name| {
                let name = std::str::from_utf8(name).ok()?;
                Some(name.strip_prefix("t/")?.strip_suffix("/users")?.to_string())
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Removes a tenant's trees (its users, credentials, locks, audit index) for good.
    pub fn drop_tenant_trees(&self, tenant: &str) -> StoreResult<()> {
        if tenant == crate::domain::DEFAULT_TENANT {
            return Ok(());
        }
        for name in [
            "users",
            "users_by_handle",
            "credentials",
            "credentials_by_user",
            "locks",
            "audit_by_user",
            "transactions",
        ] {
            self.db.drop_tree(format!("t/{tenant}/{name}"))?;
        }
        self.lock_tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&format!("t/{tenant}/locks"));
        self.flush()
    }

    /// A store in a temporary directory that disappears with it.
    #[cfg(test)]
    fn temporary() -> Self {
        Self::from_db(
            sled::Config::new().temporary(true).open().unwrap(),
            audit::AuditKey::in_memory(),
        )
        .unwrap()
    }

    /// Makes everything written before the call durable before the answer that acknowledges
    /// it: inside [`deferred`](crate::store::deferred) it takes a ticket the answer waits for;
    /// elsewhere it returns once the writes are on disk. Concurrent callers share one flush
    /// (group commit).
    pub fn flush(&self) -> StoreResult<()> {
        durability::defer_or_wait(self.pending())
    }

    /// Writes what is kept in memory only (ceremonies, sessions nobody is signed in to) into
    /// the trees, so a restart finds them: the last step of a graceful shutdown, before the
    /// flush. Returns how many records it wrote.
    pub fn keep_volatile(&self) -> StoreResult<usize> {
        let kept = spill(&self.ceremony_table, &self.ceremonies)?
            + spill(&self.session_table, &self.sessions)?;
        if kept > 0 {
            tracing::info!(
                kept,
                "ceremonies and sessions kept in memory written to the store"
            );
        }
        Ok(kept)
    }

    /// A wait for everything written so far to be on disk.
    pub fn pending(&self) -> Pending {
        Pending::of(self.flusher.clone(), self.flusher.ticket())
    }

    /// How much flushing the store has done since it opened.
    pub fn flush_stats(&self) -> FlushStats {
        self.flusher.stats()
    }

    /// Whether the store takes writes: writes a key of its own (a fresh one each time, so
    /// concurrent probes do not meet), reads it back, compares and removes it. No flush: cheap
    /// enough for a readiness check every few seconds.
    pub fn probe(&self) -> StoreResult<()> {
        let mut key = PROBE_PREFIX.to_vec();
        key.extend_from_slice(&rand::random::<[u8; 16]>());
        let value = rand::random::<[u8; 16]>();
        if let Some(e) = self.faults.write_failure() {
            return Err(e.into());
        }
        self.meta.insert(&key, &value[..])?;
        let read = self.meta.get(&key);
        self.meta.remove(&key)?;
        match read? {
            Some(stored) if stored.as_ref() == value => Ok(()),
            Some(_) => Err(StoreError::Corrupt(
                "the probe key read back differs from what was written".into(),
            )),
            None => Err(StoreError::Corrupt(
                "the probe key was not there right after it was written".into(),
            )),
        }
    }

    /// The fault-injection handle of this store (see [`StoreFaults`]).
    #[doc(hidden)]
    pub fn faults(&self) -> StoreFaults {
        self.faults.clone()
    }

    /// Takes the lock that serialises credential changes (see `credential_changes`).
    fn serialise_credential_changes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.credential_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Storage for SledStore {
    fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        Ok(self.purge_ceremonies(now)? + self.purge_sessions(now)?)
    }

    fn for_tenant(&self, tenant: &str) -> StoreResult<Arc<dyn Storage>> {
        Ok(Arc::new(self.tenant_view(tenant)?))
    }

    fn flush_stats(&self) -> FlushStats {
        SledStore::flush_stats(self)
    }

    fn probe(&self) -> StoreResult<()> {
        SledStore::probe(self)
    }

    fn session_count(&self) -> usize {
        SledStore::session_count(self)
    }

    fn flush(&self) -> StoreResult<()> {
        self.keep_volatile()?;
        SledStore::flush(self)
    }

    fn drop_tenant_data(&self, tenant: &str) -> StoreResult<()> {
        self.drop_tenant_trees(tenant)
    }
}

/// A store in a temporary directory that disappears with it (the backend-generic suite).
#[cfg(test)]
pub(in crate::store) fn temporary_store() -> SledStore {
    SledStore::temporary()
}

/// Records the keyspace tests share.
#[cfg(test)]
pub(in crate::store) mod fixtures {
    use chrono::Utc;

    use crate::domain::{CredentialId, DisplayName, UserHandle, Username};
    use crate::store::{CredentialRecord, UserRecord};

    pub fn user(name: &str) -> UserRecord {
        UserRecord {
            username: Username::parse(name).unwrap(),
            handle: UserHandle::random(),
            display_name: None,
            password_hash: None,
            created_at: Utc::now(),
        }
    }

    pub fn credential(user: &UserRecord, id: &[u8]) -> CredentialRecord {
        CredentialRecord {
            id: CredentialId::from_bytes(id.to_vec()).unwrap(),
            username: user.username.clone(),
            user_handle: user.handle.clone(),
            public_key: vec![1, 2, 3],
            algorithm: -7,
            sign_count: 0,
            aaguid: "00000000-0000-0000-0000-000000000000".into(),
            authenticator_name: None,
            attestation_format: "none".into(),
            attestation_trusted: false,
            attestation_object: vec![],
            client_data_json: vec![],
            transports: vec![],
            backup_eligible: false,
            backup_state: false,
            user_verified: true,
            discoverable: None,
            display_name: DisplayName::parse("Key").unwrap(),
            created_at: Utc::now(),
            last_used_at: None,
            enabled: true,
            disabled_by: None,
            payment: false,
            uaf: None,
        }
    }
}
