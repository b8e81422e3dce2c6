//! Credentials.
//!
//! Table `credentials`: (`tenant`, `id`) → the JSON [`CredentialRecord`], with its `username`
//! (a foreign key to `users`), `created_at` and `sign_count` as columns, and `version`, bumped by
//! every write: an update is a compare-and-set on it (`UPDATE … WHERE version = $old`), so two
//! assertions of one credential on two nodes cannot both move the counter from one value.
//!
//! Every write of a user's credentials also bumps the user's `credentials_version` in the same
//! transaction, before it touches a credential: every transaction locks the user's row first,
//! then credential rows, so two of them never wait for each other's locks (a deadlock). `modify_user_credentials`, which must see all of a user's credentials at once
//! (the last-credential rules), commits only if that version is still the one it read: no other
//! credential change of the user ran in between, on any node.

use super::users::{credential_row, INSERT_CREDENTIAL};
use super::{decode, encode, is_unique_violation, params, retry, Fail, PgStore};
use crate::domain::{CredentialId, Username};
use crate::store::{CredentialRecord, CredentialStore, StoreError, StoreResult};

const BUMP_USER: &str = "UPDATE users SET credentials_version = credentials_version + 1 \
    WHERE tenant = $1 AND username = $2";

/// A credential as read: its record, its version.
type Versioned = (Vec<u8>, i64);

/// A write of `modify_user_credentials`: id, new record (`None`: delete it), new count, the
/// version it was read at.
type Write = (Vec<u8>, Option<Vec<u8>>, i64, i64);

impl PgStore {
    /// The user's credentials' records and versions (oldest first) and the user's
    /// `credentials_version`, read first (a change in between bumps it, so the
    /// compare-and-set of `modify_user_credentials` fails and reads again); `None` when there
    /// is no such user.
    fn credentials_with_versions(
        &self,
        username: &Username,
    ) -> StoreResult<Option<(i64, Vec<Versioned>)>> {
        let (tenant, name) = (self.tenant(), username.as_str().to_string());
        let user = self.rows(
            "SELECT credentials_version FROM users WHERE tenant = $1 AND username = $2",
            params![tenant.clone(), name.clone()],
        )?;
        let Some(version) = user.first().map(|r| r.get::<_, i64>(0)) else {
            return Ok(None);
        };
        let rows = self.rows(
            "SELECT record, version FROM credentials WHERE tenant = $1 AND username = $2 \
             ORDER BY created_at, id",
            params![tenant, name],
        )?;
        Ok(Some((
            version,
            rows.into_iter().map(|r| (r.get(0), r.get(1))).collect(),
        )))
    }

    fn one_credential(&self, id: &CredentialId) -> StoreResult<Option<(Versioned, String)>> {
        let rows = self.rows(
            "SELECT record, version, username FROM credentials WHERE tenant = $1 AND id = $2",
            params![self.tenant(), id.as_bytes().to_vec()],
        )?;
        Ok(rows.first().map(|r| ((r.get(0), r.get(1)), r.get(2))))
    }
}

impl CredentialStore for PgStore {
    fn insert_credential(&self, credential: &CredentialRecord) -> StoreResult<()> {
        let tenant = self.tenant();
        let row = credential_row(credential)?;
        self.run(move |pool| async move {
            let (pool, tenant, row) = (&pool, &tenant, &row);
            retry(move || async move {
                let (id, username, created, count, value) = row;
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let bump = tx.prepare_cached(BUMP_USER).await?;
                if tx.execute(&bump, &[tenant, username]).await? == 0 {
                    return Err(Fail::Store(StoreError::NotFound));
                }
                let insert = tx.prepare_cached(INSERT_CREDENTIAL).await?;
                match tx
                    .execute(&insert, &[tenant, id, username, created, count, value])
                    .await
                {
                    Err(e) if is_unique_violation(&e) => {
                        return Err(Fail::Store(StoreError::CredentialExists))
                    }
                    other => other?,
                };
                tx.commit().await?;
                Ok(())
            })
            .await
        })
    }

    fn credential(&self, id: &CredentialId) -> StoreResult<Option<CredentialRecord>> {
        self.one_credential(id)?
            .map(|((record, _), _)| decode(&record))
            .transpose()
    }

    fn credentials_of(&self, username: &Username) -> StoreResult<Vec<CredentialRecord>> {
        self.records(
            "SELECT record FROM credentials WHERE tenant = $1 AND username = $2 \
             ORDER BY created_at, id",
            params![self.tenant(), username.as_str().to_string()],
        )
    }

    fn all_credentials(&self) -> StoreResult<Vec<CredentialRecord>> {
        self.records(
            "SELECT record FROM credentials WHERE tenant = $1 ORDER BY id",
            params![self.tenant()],
        )
    }

    fn update_credential(
        &self,
        id: &CredentialId,
        change: &mut dyn FnMut(&mut CredentialRecord) -> StoreResult<()>,
    ) -> StoreResult<CredentialRecord> {
        loop {
            let Some(((raw, version), username)) = self.one_credential(id)? else {
                return Err(StoreError::NotFound);
            };
            let mut record: CredentialRecord = decode(&raw)?;
            change(&mut record)?;
            let value = encode(&record)?;
            let count = i64::from(record.sign_count);
            let (tenant, key) = (self.tenant(), id.as_bytes().to_vec());
            let swapped = self.run(move |pool| async move {
                let (pool, tenant, key, value, username) =
                    (&pool, &tenant, &key, &value, &username);
                retry(move || async move {
                    let mut client = pool.get().await?;
                    let tx = client.transaction().await?;
                    // The user's row first, as every credential change locks it (no deadlock
                    // with `modify_user_credentials`).
                    let bump = tx.prepare_cached(BUMP_USER).await?;
                    tx.execute(&bump, &[tenant, username]).await?;
                    let update = tx
                        .prepare_cached(
                            "UPDATE credentials SET record = $3, sign_count = $4, \
                             version = version + 1 \
                             WHERE tenant = $1 AND id = $2 AND version = $5",
                        )
                        .await?;
                    if tx
                        .execute(&update, &[tenant, key, value, &count, &version])
                        .await?
                        == 0
                    {
                        return Ok(false);
                    }
                    tx.commit().await?;
                    Ok(true)
                })
                .await
            })?;
            if swapped {
                return Ok(record);
            }
        }
    }

    fn modify_user_credentials(
        &self,
        username: &Username,
        change: &mut dyn FnMut(&mut Vec<CredentialRecord>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        loop {
            let Some((user_version, before)) = self.credentials_with_versions(username)? else {
                return Err(StoreError::NotFound);
            };
            let records: Vec<CredentialRecord> = before
                .iter()
                .map(|(raw, _)| decode(raw))
                .collect::<StoreResult<_>>()?;
            let mut after = records.clone();
            change(&mut after)?;
            let mut writes: Vec<Write> = Vec::new();
            for ((raw, version), old) in before.iter().zip(&records) {
                match after.iter().find(|c| c.id == old.id) {
                    None => writes.push((old.id.as_bytes().to_vec(), None, 0, *version)),
                    Some(new) => {
                        let value = encode(new)?;
                        if &value != raw {
                            let count = i64::from(new.sign_count);
                            writes.push((old.id.as_bytes().to_vec(), Some(value), count, *version));
                        }
                    }
                }
            }
            let (tenant, name) = (self.tenant(), username.as_str().to_string());
            let committed = self.run(move |pool| async move {
                let (pool, tenant, name, writes) = (&pool, &tenant, &name, &writes);
                retry(move || async move {
                    let mut client = pool.get().await?;
                    let tx = client.transaction().await?;
                    let claimed = tx
                        .execute(
                            "UPDATE users SET credentials_version = credentials_version + 1 \
                             WHERE tenant = $1 AND username = $2 AND credentials_version = $3",
                            &[tenant, name, &user_version],
                        )
                        .await?;
                    if claimed == 0 {
                        return Ok(false);
                    }
                    for (id, value, count, version) in writes {
                        let n = match value {
                            None => {
                                tx.execute(
                                    "DELETE FROM credentials \
                                     WHERE tenant = $1 AND id = $2 AND version = $3",
                                    &[tenant, id, version],
                                )
                                .await?
                            }
                            Some(value) => {
                                tx.execute(
                                    "UPDATE credentials SET record = $3, sign_count = $4, \
                                     version = version + 1 \
                                     WHERE tenant = $1 AND id = $2 AND version = $5",
                                    &[tenant, id, value, count, version],
                                )
                                .await?
                            }
                        };
                        if n == 0 {
                            return Ok(false);
                        }
                    }
                    tx.commit().await?;
                    Ok(true)
                })
                .await
            })?;
            if committed {
                return Ok(());
            }
        }
    }

    fn delete_credential(
        &self,
        username: &Username,
        id: &CredentialId,
    ) -> StoreResult<CredentialRecord> {
        let (tenant, name, key) = (
            self.tenant(),
            username.as_str().to_string(),
            id.as_bytes().to_vec(),
        );
        let raw = self.run(move |pool| async move {
            let (pool, tenant, name, key) = (&pool, &tenant, &name, &key);
            retry(move || async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                // The user's row first (the order of every credential change).
                let bump = tx.prepare_cached(BUMP_USER).await?;
                tx.execute(&bump, &[tenant, name]).await?;
                let row = tx
                    .query_opt(
                        "DELETE FROM credentials WHERE tenant = $1 AND id = $2 AND username = $3 \
                         RETURNING record",
                        &[tenant, key, name],
                    )
                    .await?;
                let Some(row) = row else {
                    return Err(Fail::Store(StoreError::NotFound));
                };
                tx.commit().await?;
                Ok(row.get::<_, Vec<u8>>(0))
            })
            .await
        })?;
        decode(&raw)
    }
}
