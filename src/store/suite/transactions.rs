//! Validated transactions.

use super::both;
use crate::domain::Username;
use crate::store::{Storage, TransactionRecord};

fn record(user: &str, id: &str, seconds: i64) -> TransactionRecord {
    TransactionRecord {
        id: id.into(),
        username: Username::parse(user).unwrap(),
        validated_at: chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap(),
        evidence: serde_json::json!({ "transactionID": id }),
    }
}

both!(
    a_users_transactions_come_newest_first_and_only_theirs,
    |s: &dyn Storage| {
        for (i, id) in ["t1", "t2", "t3"].into_iter().enumerate() {
            s.insert_transaction(&record("alice", id, i as i64))
                .unwrap();
        }
        s.insert_transaction(&record("alicia", "other", 10))
            .unwrap();
        let alice = Username::parse("alice").unwrap();
        let ids: Vec<String> = s
            .transactions_of(&alice, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["t3", "t2", "t1"]);
        let newest: Vec<String> = s
            .transactions_of(&alice, 2)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(newest, ["t3", "t2"]);
        let stored = &s.transactions_of(&alice, 1).unwrap()[0];
        assert_eq!(stored.evidence["transactionID"], "t3");
        assert!(s
            .transactions_of(&Username::parse("nobody").unwrap(), 10)
            .unwrap()
            .is_empty());
    }
);

both!(
    a_tenants_transactions_are_its_own_and_go_with_it,
    |s: &dyn Storage| {
        let shop = s.for_tenant("shop").unwrap();
        shop.insert_transaction(&record("alice", "t1", 0)).unwrap();
        let alice = Username::parse("alice").unwrap();
        assert!(s.transactions_of(&alice, 10).unwrap().is_empty());
        assert_eq!(shop.transactions_of(&alice, 10).unwrap().len(), 1);
        s.drop_tenant_data("shop").unwrap();
        let shop = s.for_tenant("shop").unwrap();
        assert!(shop.transactions_of(&alice, 10).unwrap().is_empty());
    }
);
