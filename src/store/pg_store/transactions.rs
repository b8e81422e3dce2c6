//! Validated transactions and their evidence, per tenant, never touched by audit retention.
//!
//! Table `transactions`: (`tenant`, `username`, `validated_at`, `id`) → the JSON
//! [`TransactionRecord`]; a user's records in the order they were validated.

use super::{decode, encode, params, PgStore};
use crate::domain::Username;
use crate::store::{StoreResult, TransactionRecord, TransactionStore};

impl TransactionStore for PgStore {
    fn insert_transaction(&self, record: &TransactionRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO transactions (tenant, id, username, validated_at, record) \
             VALUES ($1, $2, $3, $4, $5)",
            params![
                self.tenant(),
                record.id.clone(),
                record.username.as_str().to_string(),
                record.validated_at,
                encode(record)?
            ],
        )?;
        Ok(())
    }

    fn transactions_of(
        &self,
        username: &Username,
        limit: usize,
    ) -> StoreResult<Vec<TransactionRecord>> {
        self.rows(
            "SELECT record FROM transactions WHERE tenant = $1 AND username = $2 \
             ORDER BY validated_at DESC, id DESC LIMIT $3",
            params![
                self.tenant(),
                username.as_str().to_string(),
                limit.min(i64::MAX as usize) as i64
            ],
        )?
        .iter()
        .map(|r| decode(&r.get::<_, Vec<u8>>(0)))
        .collect()
    }
}
