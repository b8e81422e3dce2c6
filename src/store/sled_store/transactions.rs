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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(user: &str, id: &str) -> TransactionRecord {
        TransactionRecord {
            id: id.into(),
            username: Username::parse(user).unwrap(),
            validated_at: chrono::Utc::now(),
            evidence: serde_json::json!({"transactionID": id}),
        }
    }

    #[test]
    fn a_users_transactions_come_newest_first_and_only_theirs() {
        let s = SledStore::temporary();
        for id in ["t1", "t2", "t3"] {
            s.insert_transaction(&record("alice", id)).unwrap();
        }
        s.insert_transaction(&record("alicia", "other")).unwrap();
        let alice = Username::parse("alice").unwrap();
        let ids: Vec<String> = s
            .transactions_of(&alice, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["t3", "t2", "t1"]);
        assert_eq!(s.transactions_of(&alice, 2).unwrap().len(), 2);
    }

    #[test]
    fn a_tenants_transactions_are_its_own_and_go_with_it() {
        let s = SledStore::temporary();
        let shop = s.tenant_view("shop").unwrap();
        shop.insert_transaction(&record("alice", "t1")).unwrap();
        let alice = Username::parse("alice").unwrap();
        assert!(s.transactions_of(&alice, 10).unwrap().is_empty());
        assert_eq!(shop.transactions_of(&alice, 10).unwrap().len(), 1);
        s.drop_tenant_trees("shop").unwrap();
        let shop = s.tenant_view("shop").unwrap();
        assert!(shop.transactions_of(&alice, 10).unwrap().is_empty());
    }
}
