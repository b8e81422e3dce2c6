//! Credentials.
//!
//! Trees and their key encodings:
//! - `credentials`: credential id bytes → JSON [`CredentialRecord`]; one key space for all
//!   users, which is what makes a credential id unique across users.
//! - `credentials_by_user`: username ‖ 0x00 ‖ credential id → empty (usernames hold no 0x00).
//!
//! Every write holds the store's credential-change lock, so a change that must see all of a
//! user's credentials at once (`modify_user_credentials`) runs alone.

use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::{abort, decode, encode, tx, user_key, SledStore};
use crate::domain::{CredentialId, Username};
use crate::store::{CredentialRecord, CredentialStore, StoreError, StoreResult};

impl CredentialStore for SledStore {
    fn insert_credential(&self, credential: &CredentialRecord) -> StoreResult<()> {
        let _serial = self.serialise_credential_changes();
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
        let _serial = self.serialise_credential_changes();
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
        let _serial = self.serialise_credential_changes();
        self.modify_user_credentials_serialised(username, change)
    }

    fn delete_credential(
        &self,
        username: &Username,
        id: &CredentialId,
    ) -> StoreResult<CredentialRecord> {
        let _serial = self.serialise_credential_changes();
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

// The keyspace's behaviour is tested on both backends in `store/suite/credentials.rs`.
