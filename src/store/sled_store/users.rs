//! Users.
//!
//! Trees and their key encodings:
//! - `users`: normalised username (UTF-8) → JSON [`UserRecord`].
//! - `users_by_handle`: the handle bytes (1–64) → username.
//!
//! Creating a user with their first credential and deleting a user also write the credential
//! trees (see `credentials.rs`), in the same transaction.

use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::{abort, decode, encode, tx, user_key, SledStore};
use crate::domain::{CredentialId, UserHandle, Username};
use crate::store::{CredentialRecord, StoreError, StoreResult, UserRecord, UserStore};

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

    fn insert_user_with_credentials(
        &self,
        user: &UserRecord,
        credentials: &[CredentialRecord],
    ) -> StoreResult<()> {
        let user_value = encode(user)?;
        let name = user.username.as_str().as_bytes();
        let mut rows: Vec<(&[u8], Vec<u8>, Vec<u8>)> = Vec::with_capacity(credentials.len());
        for credential in credentials {
            let id = credential.id.as_bytes();
            if rows.iter().any(|row| row.0 == id) {
                return Err(StoreError::CredentialExists);
            }
            rows.push((id, encode(credential)?, user_key(&user.username, id)));
        }
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
                for (id, _, _) in &rows {
                    if creds.get(id)?.is_some() {
                        return abort(StoreError::CredentialExists);
                    }
                }
                users.insert(name, user_value.as_slice())?;
                by_handle.insert(user.handle.as_bytes(), name)?;
                for (id, value, index) in &rows {
                    creds.insert(*id, value.as_slice())?;
                    by_user.insert(index.as_slice(), &[])?;
                }
                Ok(())
            }))?;
        self.flush()
    }

    fn update_user(
        &self,
        username: &Username,
        change: &mut dyn FnMut(&mut UserRecord) -> StoreResult<()>,
    ) -> StoreResult<UserRecord> {
        let key = username.as_str().as_bytes();
        loop {
            let Some(current) = self.users.get(key)? else {
                return Err(StoreError::NotFound);
            };
            let mut record: UserRecord = decode(&current)?;
            let (name, handle) = (record.username.clone(), record.handle.clone());
            change(&mut record)?;
            record.username = name;
            record.handle = handle;
            let swapped =
                self.users
                    .compare_and_swap(key, Some(&current), Some(encode(&record)?))?;
            if swapped.is_ok() {
                self.flush()?;
                return Ok(record);
            }
        }
    }

    fn delete_user(&self, username: &Username) -> StoreResult<Vec<CredentialId>> {
        let _serial = self.serialise_credential_changes();
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

// The keyspace's behaviour is tested on both backends in `store/suite/users.rs`.
