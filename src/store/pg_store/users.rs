//! Users.
//!
//! Table `users`: (`tenant`, `username`) → the JSON [`UserRecord`]; `handle` unique per tenant;
//! `credentials_version` counts the changes of the user's credentials (see `credentials.rs`).
//! Deleting a user deletes their credentials (`ON DELETE CASCADE`) in the same statement.

use super::{decode, encode, is_unique_violation, params, retry, Fail, PgStore};
use crate::domain::{CredentialId, UserHandle, Username};
use crate::store::{CredentialRecord, StoreError, StoreResult, UserRecord, UserStore};

/// One credential row to insert: id, username, created_at, sign count, record.
pub(super) type CredentialRow = (Vec<u8>, String, chrono::DateTime<chrono::Utc>, i64, Vec<u8>);

pub(super) fn credential_row(c: &CredentialRecord) -> StoreResult<CredentialRow> {
    Ok((
        c.id.as_bytes().to_vec(),
        c.username.as_str().to_string(),
        c.created_at,
        i64::from(c.sign_count),
        encode(c)?,
    ))
}

pub(super) const INSERT_CREDENTIAL: &str = "INSERT INTO credentials \
    (tenant, id, username, created_at, sign_count, record) VALUES ($1, $2, $3, $4, $5, $6)";

impl UserStore for PgStore {
    fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.insert_user_with_credentials(user, &[])
    }

    fn user(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        self.first_record(
            "SELECT record FROM users WHERE tenant = $1 AND username = $2",
            params![self.tenant(), username.as_str().to_string()],
        )
    }

    fn user_by_handle(&self, handle: &UserHandle) -> StoreResult<Option<UserRecord>> {
        self.first_record(
            "SELECT record FROM users WHERE tenant = $1 AND handle = $2",
            params![self.tenant(), handle.as_bytes().to_vec()],
        )
    }

    fn list_users(
        &self,
        prefix: Option<&str>,
        after: Option<&Username>,
        limit: usize,
    ) -> StoreResult<Vec<UserRecord>> {
        self.records(
            "SELECT record FROM users WHERE tenant = $1 \
             AND left(username, length($2)) = $2 AND username COLLATE \"C\" > $3 \
             ORDER BY username COLLATE \"C\" LIMIT $4",
            params![
                self.tenant(),
                prefix.unwrap_or("").to_string(),
                after.map_or(String::new(), |a| a.as_str().to_string()),
                limit.min(i64::MAX as usize) as i64
            ],
        )
    }

    fn insert_user_with_credentials(
        &self,
        user: &UserRecord,
        credentials: &[CredentialRecord],
    ) -> StoreResult<()> {
        let mut rows: Vec<CredentialRow> = Vec::with_capacity(credentials.len());
        for c in credentials {
            if rows.iter().any(|r| r.0 == c.id.as_bytes()) {
                return Err(StoreError::CredentialExists);
            }
            rows.push(credential_row(c)?);
        }
        let tenant = self.tenant();
        let name = user.username.as_str().to_string();
        let handle = user.handle.as_bytes().to_vec();
        let record = encode(user)?;
        self.run(move |pool| async move {
            let (pool, tenant, name, handle, record, rows) =
                (&pool, &tenant, &name, &handle, &record, &rows);
            retry(move || async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let st = tx
                    .prepare_cached(
                        "INSERT INTO users (tenant, username, handle, record) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .await?;
                if let Err(e) = tx.execute(&st, &[tenant, name, handle, record]).await {
                    return Err(if is_unique_violation(&e) {
                        Fail::Store(StoreError::UserExists)
                    } else {
                        e.into()
                    });
                }
                let insert = tx.prepare_cached(INSERT_CREDENTIAL).await?;
                for (id, username, created, count, value) in rows {
                    let result = tx
                        .execute(&insert, &[tenant, id, username, created, count, value])
                        .await;
                    if let Err(e) = result {
                        return Err(if is_unique_violation(&e) {
                            Fail::Store(StoreError::CredentialExists)
                        } else {
                            e.into()
                        });
                    }
                }
                tx.commit().await?;
                Ok(())
            })
            .await
        })
    }

    fn update_user(
        &self,
        username: &Username,
        change: &mut dyn FnMut(&mut UserRecord) -> StoreResult<()>,
    ) -> StoreResult<UserRecord> {
        let (tenant, name) = (self.tenant(), username.as_str().to_string());
        loop {
            let current = self.rows(
                "SELECT record FROM users WHERE tenant = $1 AND username = $2",
                params![tenant.clone(), name.clone()],
            )?;
            let current = current.first().map(|r| r.get::<_, Vec<u8>>(0));
            let Some(current) = current else {
                return Err(StoreError::NotFound);
            };
            let mut record: UserRecord = decode(&current)?;
            let (kept_name, kept_handle) = (record.username.clone(), record.handle.clone());
            change(&mut record)?;
            record.username = kept_name;
            record.handle = kept_handle;
            let new = encode(&record)?;
            let (tenant, name) = (tenant.clone(), name.clone());
            let swapped = self.run(move |pool| async move {
                let client = pool.get().await.map_err(super::pool_error)?;
                let st = client
                    .prepare_cached(
                        "UPDATE users SET record = $3 \
                         WHERE tenant = $1 AND username = $2 AND record = $4",
                    )
                    .await
                    .map_err(super::db_error)?;
                client
                    .execute(&st, &[&tenant, &name, &new, &current])
                    .await
                    .map_err(super::db_error)
            })?;
            if swapped == 1 {
                return Ok(record);
            }
        }
    }

    fn delete_user(&self, username: &Username) -> StoreResult<Vec<CredentialId>> {
        let (tenant, name) = (self.tenant(), username.as_str().to_string());
        let ids = self.run(move |pool| async move {
            let (pool, tenant, name) = (&pool, &tenant, &name);
            retry(move || async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                // The user's row first, as every credential change locks it (see
                // `credentials.rs`): then the credentials' rows.
                tx.execute(
                    "SELECT 1 FROM users WHERE tenant = $1 AND username = $2 FOR UPDATE",
                    &[tenant, name],
                )
                .await?;
                let ids = tx
                    .query(
                        "SELECT id FROM credentials WHERE tenant = $1 AND username = $2 \
                         ORDER BY id FOR UPDATE",
                        &[tenant, name],
                    )
                    .await?;
                let deleted = tx
                    .execute(
                        "DELETE FROM users WHERE tenant = $1 AND username = $2",
                        &[tenant, name],
                    )
                    .await?;
                if deleted == 0 {
                    return Err(Fail::Store(StoreError::NotFound));
                }
                tx.commit().await?;
                Ok(ids
                    .into_iter()
                    .map(|r| r.get::<_, Vec<u8>>(0))
                    .collect::<Vec<_>>())
            })
            .await
        })?;
        ids.into_iter()
            .map(|id| CredentialId::from_bytes(id).map_err(|e| StoreError::Corrupt(e.0)))
            .collect()
    }
}
