//! Audit records copied in as stored (`fidoflow migrate sled-to-postgres`): each record's bytes
//! under its own `seq`, indexed by the tenant and user it names; the head then points at the
//! last one, so the next append continues the same chain, and the retention checkpoint is
//! copied as it was signed.

use super::{retry, PgStore};
use crate::store::audit_chain::unseal;
use crate::store::{AuditEvent, AuditExport, StoreError, StoreResult};

impl PgStore {
    /// Inserts one page of an export (records after every record already copied), moving the
    /// head to its last record, in one transaction.
    pub fn import_audit_page(&self, page: &AuditExport) -> StoreResult<()> {
        let mut rows = Vec::with_capacity(page.records.len());
        let mut added_bytes = 0i64;
        for (seq, bytes) in &page.records {
            let event: AuditEvent = super::decode(bytes)?;
            let (_, hash) = unseal(bytes).ok_or_else(|| {
                StoreError::Corrupt(format!("audit record seq {seq} carries no hash"))
            })?;
            let tenant = event
                .tenant
                .clone()
                .unwrap_or_else(|| crate::domain::DEFAULT_TENANT.to_string());
            let username = event.username.as_ref().map(|u| u.as_str().to_string());
            added_bytes += bytes.len() as i64;
            rows.push((
                i64::try_from(*seq).unwrap_or(i64::MAX),
                tenant,
                username,
                bytes.clone(),
                hash.to_string(),
            ));
        }
        let checkpoint = page.checkpoint.clone();
        self.run(move |pool| async move {
            let (pool, rows, checkpoint) = (&pool, &rows, &checkpoint);
            retry(move || async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let insert = tx
                    .prepare_cached(
                        "INSERT INTO audit (seq, tenant, username, record) VALUES ($1, $2, $3, $4)",
                    )
                    .await?;
                for (seq, tenant, username, record, _) in rows {
                    tx.execute(&insert, &[seq, tenant, username, record]).await?;
                }
                if let Some((seq, _, _, _, hash)) = rows.last() {
                    tx.execute(
                        "UPDATE audit_head SET seq = $1, hash = $2, bytes = bytes + $3 WHERE id = 1",
                        &[seq, hash, &added_bytes],
                    )
                    .await?;
                }
                if let Some(checkpoint) = checkpoint {
                    tx.execute(
                        "INSERT INTO audit_meta (name, value) VALUES ('checkpoint', $1) \
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        &[checkpoint],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            })
            .await
        })
        .map_err(|e| match e {
            StoreError::Database(why) => StoreError::Database(format!("audit import: {why}")),
            other => other,
        })
    }
}
