//! Validated transactions and their evidence, per tenant (like users and credentials), never
//! touched by audit retention.
//!
//! Tree and its key encoding:
//! - `transactions`: username ‖ 0x00 ‖ store-wide sequence number (u64 big-endian) → JSON
//!   [`TransactionRecord`]; a user's records in the order they were validated.

use super::{decode, encode, user_key, SledStore};
use crate::domain::Username;
use crate::store::{StoreResult, TransactionRecord, TransactionStore};

impl TransactionStore for SledStore {
    fn insert_transaction(&self, record: &TransactionRecord) -> StoreResult<()> {
        let seq = self.db.generate_id()?;
        let key = user_key(&record.username, &seq.to_be_bytes());
        self.transactions.insert(key, encode(record)?)?;
        self.flush()
    }

    fn transactions_of(
        &self,
        username: &Username,
        limit: usize,
    ) -> StoreResult<Vec<TransactionRecord>> {
        self.transactions
            .scan_prefix(user_key(username, &[]))
            .values()
            .rev()
            .take(limit)
            .map(|v| decode(&v?))
            .collect()
    }
}

// The keyspace's behaviour is tested on both backends in `store/suite/transactions.rs`.
