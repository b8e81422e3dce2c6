//! The sled implementation of the storage traits.
//!
//! Trees and their key encodings:
//! - `meta`: `schema_version` → u32 big-endian.
//! - `users`: normalised username (UTF-8) → JSON [`UserRecord`].
//! - `users_by_handle`: the 64 handle bytes → username.
//! - `credentials`: credential id bytes → JSON [`CredentialRecord`]; one key space for all
//!   users, which is what makes a credential id unique across users.
//! - `credentials_by_user`: username ‖ 0x00 ‖ credential id → empty (usernames hold no 0x00).
//! - `locks`: username → JSON `LockState`.
//! - `ceremonies`: ceremony id (32 hex chars) → JSON [`Ceremony`].
//! - `audit`: sequence number (u64 big-endian) → JSON [`AuditEvent`].
//! - `audit_by_user`: username ‖ 0x00 ‖ sequence (u64 BE) → empty.
//! - `mds`: `current` → JSON [`MetadataRecord`]: the imported FIDO metadata BLOB (its JWS
//!   text, import time, serial number and parsed entries); replaced by each import.
//! - `sessions`: see `sessions.rs`.
//! - `sessions_by_user`: username ‖ 0x00 ‖ session key (UTF-8) → empty; one entry per session
//!   that holds a login, written in the same transaction as the session (see `sessions.rs`).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::*;

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
    audit: sled::Tree,
    audit_by_user: sled::Tree,
    mds: sled::Tree,
    pub(super) sessions: sled::Tree,
    /// Serialises credential changes that must see all of a user's credentials at once (the
    /// last-credential rules) against every other credential write.
    credential_changes: std::sync::Arc<std::sync::Mutex<()>>,
    pub(super) sessions_by_user: sled::Tree,
}

/// How long an expired ceremony is kept before the purge removes it.
const CEREMONY_GRACE: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LockState {
    failures: u32,
    locked_until: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn user_key(username: &Username, suffix: &[u8]) -> Vec<u8> {
    let mut key = username.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(suffix);
    key
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
        Self::from_db(db)
    }

    fn from_db(db: sled::Db) -> StoreResult<Self> {
        let store = Self {
            meta: db.open_tree("meta")?,
            users: db.open_tree("users")?,
            users_by_handle: db.open_tree("users_by_handle")?,
            credentials: db.open_tree("credentials")?,
            credentials_by_user: db.open_tree("credentials_by_user")?,
            locks: db.open_tree("locks")?,
            ceremonies: db.open_tree("ceremonies")?,
            audit: db.open_tree("audit")?,
            audit_by_user: db.open_tree("audit_by_user")?,
            mds: db.open_tree("mds")?,
            sessions: db.open_tree("sessions")?,
            credential_changes: Default::default(),
            sessions_by_user: db.open_tree("sessions_by_user")?,
            db,
        };
        match store.meta.get("schema_version")? {
            None => {
                store
                    .meta
                    .insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                store.db.flush()?;
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("schema_version".into()))?;
                if found != SCHEMA_VERSION {
                    return Err(StoreError::SchemaVersion {
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
        }
        store.index_sessions()?;
        Ok(store)
    }

    /// A store in a temporary directory that disappears with it.
    #[cfg(test)]
    pub(super) fn temporary() -> Self {
        Self::from_db(sled::Config::new().temporary(true).open().unwrap()).unwrap()
    }

    /// Writes everything to disk; called before an answer that acknowledges a durable change.
    pub fn flush(&self) -> StoreResult<()> {
        self.db.flush()?;
        Ok(())
    }

    fn lock_state(&self, username: &Username) -> StoreResult<LockState> {
        Ok(match self.locks.get(username.as_str())? {
            Some(v) => decode(&v)?,
            None => LockState::default(),
        })
    }

    /// Keeps the lock table bounded: drops the entries least recently touched that hold no
    /// active lock.
    fn trim_locks(&self, now: DateTime<Utc>, table_size: usize) -> StoreResult<()> {
        if self.locks.len() < table_size {
            return Ok(());
        }
        let mut idle: Vec<(DateTime<Utc>, sled::IVec)> = Vec::new();
        for item in self.locks.iter() {
            let (k, v) = item?;
            let state: LockState = decode(&v)?;
            if state.locked_until.is_none_or(|t| t <= now) {
                idle.push((state.updated_at.unwrap_or(DateTime::<Utc>::MIN_UTC), k));
            }
        }
        idle.sort();
        let excess = self.locks.len() + 1 - table_size;
        for (_, k) in idle.into_iter().take(excess) {
            self.locks.remove(k)?;
        }
        Ok(())
    }
}

impl UserStore for SledStore {
    fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        let value = encode(user)?;
        let name = user.username.as_str().as_bytes();
        tx(
            (&self.users, &self.users_by_handle).transaction(|(users, by_handle)| {
                if users.get(name)?.is_some() || by_handle.get(user.handle.as_bytes())?.is_some() {
                    return abort(StoreError::UserExists);
                }
                users.insert(name, value.as_slice())?;
                by_handle.insert(user.handle.as_bytes(), name)?;
                Ok(())
            }),
        )?;
        self.flush()
    }

    fn user(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        self.users
            .get(username.as_str())?
            .map(|v| decode(&v))
            .transpose()
    }

    fn user_by_handle(&self, handle: &UserHandle) -> StoreResult<Option<UserRecord>> {
        match self.users_by_handle.get(handle.as_bytes())? {
            Some(name) => self.users.get(name)?.map(|v| decode(&v)).transpose(),
            None => Ok(None),
        }
    }

    fn list_users(
        &self,
        prefix: Option<&str>,
        after: Option<&Username>,
        limit: usize,
    ) -> StoreResult<Vec<UserRecord>> {
        let prefix = prefix.unwrap_or("");
        let mut out = Vec::new();
        for item in self.users.scan_prefix(prefix) {
            let (k, v) = item?;
            if after.is_some_and(|a| k.as_ref() <= a.as_str().as_bytes()) {
                continue;
            }
            out.push(decode(&v)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn insert_user_with_credential(
        &self,
        user: &UserRecord,
        credential: &CredentialRecord,
    ) -> StoreResult<()> {
        let user_value = encode(user)?;
        let credential_value = encode(credential)?;
        let name = user.username.as_str().as_bytes();
        let id = credential.id.as_bytes();
        let index = user_key(&user.username, id);
        tx((
            &self.users,
            &self.users_by_handle,
            &self.credentials,
            &self.credentials_by_user,
        )
            .transaction(|(users, by_handle, creds, by_user)| {
                if users.get(name)?.is_some() || by_handle.get(user.handle.as_bytes())?.is_some() {
                    return abort(StoreError::UserExists);
                }
                if creds.get(id)?.is_some() {
                    return abort(StoreError::CredentialExists);
                }
                users.insert(name, user_value.as_slice())?;
                by_handle.insert(user.handle.as_bytes(), name)?;
                creds.insert(id, credential_value.as_slice())?;
                by_user.insert(index.as_slice(), &[])?;
                Ok(())
            }))?;
        self.flush()
    }

    fn delete_user(&self, username: &Username) -> StoreResult<Vec<CredentialId>> {
        let _serial = self
            .credential_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let index_keys: Vec<sled::IVec> = self
            .credentials_by_user
            .scan_prefix(user_key(username, b""))
            .keys()
            .collect::<Result<_, _>>()?;
        let prefix_len = username.as_str().len() + 1;
        let ids: Vec<Vec<u8>> = index_keys
            .iter()
            .map(|k| k[prefix_len..].to_vec())
            .collect();
        tx((
            &self.users,
            &self.users_by_handle,
            &self.credentials,
            &self.credentials_by_user,
        )
            .transaction(|(users, by_handle, creds, by_user)| {
                let Some(raw) = users.remove(username.as_str())? else {
                    return abort(StoreError::NotFound);
                };
                let user: UserRecord = decode(&raw).map_err(ConflictableTransactionError::Abort)?;
                by_handle.remove(user.handle.as_bytes())?;
                for (key, id) in index_keys.iter().zip(&ids) {
                    by_user.remove(key)?;
                    creds.remove(id.as_slice())?;
                }
                Ok(())
            }))?;
        self.flush()?;
        ids.into_iter()
            .map(|id| CredentialId::from_bytes(id).map_err(|e| StoreError::Corrupt(e.0)))
            .collect()
    }
}

impl CredentialStore for SledStore {
    fn insert_credential(&self, credential: &CredentialRecord) -> StoreResult<()> {
        let _serial = self
            .credential_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let value = encode(credential)?;
        let id = credential.id.as_bytes();
        let index = user_key(&credential.username, id);
        tx(
            (&self.users, &self.credentials, &self.credentials_by_user).transaction(
                |(users, creds, by_user)| {
                    if users.get(credential.username.as_str())?.is_none() {
                        return abort(StoreError::NotFound);
                    }
                    if creds.get(id)?.is_some() {
                        return abort(StoreError::CredentialExists);
                    }
                    creds.insert(id, value.as_slice())?;
                    by_user.insert(index.as_slice(), &[])?;
                    Ok(())
                },
            ),
        )?;
        self.flush()
    }

    fn credential(&self, id: &CredentialId) -> StoreResult<Option<CredentialRecord>> {
        self.credentials
            .get(id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    fn credentials_of(&self, username: &Username) -> StoreResult<Vec<CredentialRecord>> {
        let prefix = user_key(username, b"");
        let mut out: Vec<CredentialRecord> = Vec::new();
        for key in self.credentials_by_user.scan_prefix(&prefix).keys() {
            let key = key?;
            if let Some(v) = self.credentials.get(&key[prefix.len()..])? {
                out.push(decode(&v)?);
            }
        }
        out.sort_by_key(|c| c.created_at);
        Ok(out)
    }

    fn all_credentials(&self) -> StoreResult<Vec<CredentialRecord>> {
        self.credentials
            .iter()
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    fn update_credential(
        &self,
        id: &CredentialId,
        change: &mut dyn FnMut(&mut CredentialRecord) -> StoreResult<()>,
    ) -> StoreResult<CredentialRecord> {
        let _serial = self
            .credential_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        loop {
            let Some(current) = self.credentials.get(id.as_bytes())? else {
                return Err(StoreError::NotFound);
            };
            let mut record: CredentialRecord = decode(&current)?;
            change(&mut record)?;
            let new = encode(&record)?;
            if self
                .credentials
                .compare_and_swap(id.as_bytes(), Some(current), Some(new))?
                .is_ok()
            {
                self.flush()?;
                return Ok(record);
            }
        }
    }

    fn modify_user_credentials(
        &self,
        username: &Username,
        change: &mut dyn FnMut(&mut Vec<CredentialRecord>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let _serial = self
            .credential_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.modify_user_credentials_serialised(username, change)
    }

    fn delete_credential(
        &self,
        username: &Username,
        id: &CredentialId,
    ) -> StoreResult<CredentialRecord> {
        let _serial = self
            .credential_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let index = user_key(username, id.as_bytes());
        let record = tx((&self.credentials, &self.credentials_by_user).transaction(
            |(creds, by_user)| {
                let Some(raw) = creds.get(id.as_bytes())? else {
                    return abort(StoreError::NotFound);
                };
                let record: CredentialRecord =
                    decode(&raw).map_err(ConflictableTransactionError::Abort)?;
                if &record.username != username {
                    return abort(StoreError::NotFound);
                }
                creds.remove(id.as_bytes())?;
                by_user.remove(index.as_slice())?;
                Ok(record)
            },
        ))?;
        self.flush()?;
        Ok(record)
    }
}

impl SledStore {
    /// See [`CredentialStore::modify_user_credentials`]; the caller holds the change lock.
    fn modify_user_credentials_serialised(
        &self,
        username: &Username,
        change: &mut dyn FnMut(&mut Vec<CredentialRecord>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let before = self.credentials_of(username)?;
        let mut after = before.clone();
        change(&mut after)?;
        let mut batch_creds = sled::Batch::default();
        let mut batch_index = sled::Batch::default();
        for old in &before {
            match after.iter().find(|c| c.id == old.id) {
                None => {
                    batch_creds.remove(old.id.as_bytes());
                    batch_index.remove(user_key(username, old.id.as_bytes()));
                }
                Some(new) => {
                    let (old_v, new_v) = (encode(old)?, encode(new)?);
                    if old_v != new_v {
                        batch_creds.insert(old.id.as_bytes(), new_v);
                    }
                }
            }
        }
        tx(
            (&self.credentials, &self.credentials_by_user).transaction(|(creds, by_user)| {
                creds.apply_batch(&batch_creds)?;
                by_user.apply_batch(&batch_index)?;
                Ok(())
            }),
        )?;
        self.flush()
    }
}

impl LockStore for SledStore {
    fn reserve_attempt(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Reservation> {
        self.trim_locks(now, policy.table_size)?;
        let key = username.as_str();
        loop {
            let current = self.locks.get(key)?;
            let mut state: LockState = match &current {
                Some(v) => decode(v)?,
                None => LockState::default(),
            };
            match state.locked_until {
                Some(until) if until > now => return Ok(Reservation::Locked(until)),
                Some(_) => state = LockState::default(),
                None => {}
            }
            let reservation = if state.failures >= policy.max_failures {
                let until = now + policy.lock_duration;
                state.locked_until = Some(until);
                state.failures = 0;
                Reservation::Locked(until)
            } else {
                state.failures += 1;
                Reservation::Granted
            };
            state.updated_at = Some(now);
            if self
                .locks
                .compare_and_swap(key, current, Some(encode(&state)?))?
                .is_ok()
            {
                self.flush()?;
                return Ok(reservation);
            }
        }
    }

    fn attempt_failed(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let key = username.as_str();
        loop {
            let current = self.locks.get(key)?;
            let mut state: LockState = match &current {
                Some(v) => decode(v)?,
                None => return Ok(None),
            };
            if let Some(until) = state.locked_until.filter(|t| *t > now) {
                return Ok(Some(until));
            }
            if state.failures < policy.max_failures {
                return Ok(None);
            }
            let until = now + policy.lock_duration;
            state.locked_until = Some(until);
            state.failures = 0;
            state.updated_at = Some(now);
            if self
                .locks
                .compare_and_swap(key, current, Some(encode(&state)?))?
                .is_ok()
            {
                self.flush()?;
                return Ok(Some(until));
            }
        }
    }

    fn attempt_succeeded(&self, username: &Username) -> StoreResult<()> {
        if self.locks.remove(username.as_str())?.is_some() {
            self.flush()?;
        }
        Ok(())
    }

    fn locked_until(
        &self,
        username: &Username,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.lock_state(username)?.locked_until.filter(|t| *t > now))
    }

    fn unlock(&self, username: &Username) -> StoreResult<bool> {
        let was = self.locks.remove(username.as_str())?.is_some();
        self.flush()?;
        Ok(was)
    }
}

impl CeremonyStore for SledStore {
    fn put_ceremony(&self, ceremony: &Ceremony) -> StoreResult<String> {
        let mut raw = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        self.ceremonies.insert(id.as_bytes(), encode(ceremony)?)?;
        Ok(id)
    }

    fn take_ceremony(&self, id: &str) -> StoreResult<Option<Ceremony>> {
        self.ceremonies
            .remove(id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }
}

impl AuditLog for SledStore {
    fn append(&self, mut event: AuditEvent) -> StoreResult<u64> {
        // generate_id is monotonic across restarts; +1 keeps 0 free as "no cursor".
        let seq = self.db.generate_id()? + 1;
        event.seq = seq;
        let value = encode(&event)?;
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
        self.flush()?;
        Ok(seq)
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
}

impl MetadataStore for SledStore {
    fn put_metadata(&self, record: &MetadataRecord) -> StoreResult<()> {
        self.mds.insert("current", encode(record)?)?;
        self.flush()
    }

    fn metadata(&self) -> StoreResult<Option<MetadataRecord>> {
        self.mds.get("current")?.map(|v| decode(&v)).transpose()
    }
}

impl Storage for SledStore {
    fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut purged = 0;
        // An expired ceremony is kept a while, so a late answer is told it timed out rather
        // than that its challenge was already used.
        let keep_until = |c: Ceremony| c.expires_at + CEREMONY_GRACE;
        for item in self.ceremonies.iter() {
            let (k, v) = item?;
            let expired = decode::<Ceremony>(&v).map_or(true, |c| keep_until(c) <= now);
            if expired {
                self.ceremonies.remove(k)?;
                purged += 1;
            }
        }
        purged += self.purge_sessions(now)?;
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DisplayName;

    fn store() -> SledStore {
        let db = sled::Config::new().temporary(true).open().unwrap();
        SledStore::from_db(db).unwrap()
    }

    fn user(name: &str) -> UserRecord {
        UserRecord {
            username: Username::parse(name).unwrap(),
            handle: UserHandle::random(),
            display_name: None,
            password_hash: None,
            created_at: Utc::now(),
        }
    }

    fn credential(user: &UserRecord, id: &[u8]) -> CredentialRecord {
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
        }
    }

    #[test]
    fn a_username_can_be_taken_only_once() {
        let s = store();
        s.insert_user(&user("alice")).unwrap();
        assert!(matches!(
            s.insert_user(&user("alice")),
            Err(StoreError::UserExists)
        ));
    }

    #[test]
    fn a_credential_id_is_unique_across_users() {
        let s = store();
        let (a, b) = (user("alice"), user("bob"));
        s.insert_user(&a).unwrap();
        s.insert_user(&b).unwrap();
        s.insert_credential(&credential(&a, b"cred-1")).unwrap();
        assert!(matches!(
            s.insert_credential(&credential(&b, b"cred-1")),
            Err(StoreError::CredentialExists)
        ));
        assert!(matches!(
            s.insert_credential(&credential(&a, b"cred-1")),
            Err(StoreError::CredentialExists)
        ));
        assert_eq!(s.credentials_of(&a.username).unwrap().len(), 1);
        assert!(s.credentials_of(&b.username).unwrap().is_empty());
    }

    #[test]
    fn a_credential_for_a_user_that_is_gone_is_not_stored() {
        let s = store();
        let ghost = user("ghost");
        assert!(matches!(
            s.insert_credential(&credential(&ghost, b"x")),
            Err(StoreError::NotFound)
        ));
    }

    #[test]
    fn deleting_a_user_deletes_their_credentials_and_handle() {
        let s = store();
        let a = user("alice");
        s.insert_user(&a).unwrap();
        s.insert_credential(&credential(&a, b"c1")).unwrap();
        s.insert_credential(&credential(&a, b"c2")).unwrap();
        assert_eq!(s.delete_user(&a.username).unwrap().len(), 2);
        assert!(s.user_by_handle(&a.handle).unwrap().is_none());
        assert!(s
            .credential(&CredentialId::from_bytes(b"c1".to_vec()).unwrap())
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_credential_is_deleted_only_for_its_own_user() {
        let s = store();
        let (a, b) = (user("alice"), user("bob"));
        s.insert_user(&a).unwrap();
        s.insert_user(&b).unwrap();
        s.insert_credential(&credential(&a, b"c1")).unwrap();
        let id = CredentialId::from_bytes(b"c1".to_vec()).unwrap();
        assert!(matches!(
            s.delete_credential(&b.username, &id),
            Err(StoreError::NotFound)
        ));
        assert_eq!(s.delete_credential(&a.username, &id).unwrap().id, id);
        assert!(s.credential(&id).unwrap().is_none());
        assert!(s.credentials_of(&a.username).unwrap().is_empty());
        assert!(matches!(
            s.delete_credential(&a.username, &id),
            Err(StoreError::NotFound)
        ));
    }

    #[test]
    fn a_ceremony_is_taken_exactly_once() {
        let s = store();
        let id = s
            .put_ceremony(&Ceremony {
                challenge: vec![7; 32],
                purpose: CeremonyPurpose::Registration,
                username: None,
                user_handle: None,
                credential_name: None,
                require_user_verification: false,
                algorithms: vec![-7],
                allowed_credentials: vec![],
                expires_at: Utc::now(),
            })
            .unwrap();
        assert!(s.take_ceremony(&id).unwrap().is_some());
        assert!(s.take_ceremony(&id).unwrap().is_none());
    }

    #[test]
    fn an_expired_ceremony_outlives_the_purge_for_an_hour_so_late_answers_are_told_it_timed_out() {
        let s = store();
        let expires_at = Utc::now();
        let id = s
            .put_ceremony(&Ceremony {
                challenge: vec![1; 32],
                purpose: CeremonyPurpose::Authentication,
                username: None,
                user_handle: None,
                credential_name: None,
                require_user_verification: true,
                algorithms: vec![],
                allowed_credentials: vec![],
                expires_at,
            })
            .unwrap();
        s.purge_expired(expires_at + chrono::Duration::minutes(59))
            .unwrap();
        assert!(s.take_ceremony(&id).unwrap().is_some());
        let id = s
            .put_ceremony(&Ceremony {
                challenge: vec![1; 32],
                purpose: CeremonyPurpose::Authentication,
                username: None,
                user_handle: None,
                credential_name: None,
                require_user_verification: true,
                algorithms: vec![],
                allowed_credentials: vec![],
                expires_at,
            })
            .unwrap();
        s.purge_expired(expires_at + chrono::Duration::minutes(61))
            .unwrap();
        assert!(s.take_ceremony(&id).unwrap().is_none());
    }

    #[test]
    fn the_lock_engages_after_the_limit_and_expires() {
        let s = store();
        let name = Username::parse("nobody").unwrap();
        let policy = LockPolicy {
            max_failures: 3,
            lock_duration: chrono::Duration::minutes(5),
            table_size: 100,
        };
        let now = Utc::now();
        for _ in 0..3 {
            assert_eq!(
                s.reserve_attempt(&name, now, &policy).unwrap(),
                Reservation::Granted
            );
        }
        let until = now + policy.lock_duration;
        assert_eq!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Locked(until)
        );
        assert_eq!(s.locked_until(&name, now).unwrap(), Some(until));
        let later = until + chrono::Duration::seconds(1);
        assert_eq!(
            s.reserve_attempt(&name, later, &policy).unwrap(),
            Reservation::Granted
        );
    }

    #[test]
    fn parallel_reservations_cannot_exceed_the_limit() {
        let s = store();
        let name = Username::parse("bob").unwrap();
        let policy = LockPolicy {
            max_failures: 2,
            lock_duration: chrono::Duration::minutes(5),
            table_size: 100,
        };
        let now = Utc::now();
        assert_eq!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Granted
        );
        assert_eq!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Granted
        );
        assert!(matches!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Locked(_)
        ));
    }

    #[test]
    fn a_success_resets_the_count() {
        let s = store();
        let name = Username::parse("alice").unwrap();
        let policy = LockPolicy {
            max_failures: 2,
            lock_duration: chrono::Duration::minutes(5),
            table_size: 100,
        };
        let now = Utc::now();
        s.reserve_attempt(&name, now, &policy).unwrap();
        s.reserve_attempt(&name, now, &policy).unwrap();
        s.attempt_succeeded(&name).unwrap();
        assert_eq!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Granted
        );
    }

    #[test]
    fn the_audit_log_pages_newest_first_per_user() {
        let s = store();
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
    }
}
