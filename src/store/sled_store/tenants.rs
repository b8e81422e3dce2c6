//! Tenants made through the admin API.
//!
//! Tree and its key encoding:
//! - `tenants`: tenant id (UTF-8) → JSON [`TenantRecord`].

use super::{decode, encode, SledStore};
use crate::store::{StoreError, StoreResult, TenantRecord, TenantStore};

impl TenantStore for SledStore {
    fn put_tenant(&self, record: &TenantRecord, replace: bool) -> StoreResult<()> {
        let value = encode(record)?;
        let key = record.id.as_bytes();
        if replace {
            if self.tenants.get(key)?.is_none() {
                return Err(StoreError::NotFound);
            }
            self.tenants.insert(key, value)?;
        } else if self
            .tenants
            .compare_and_swap(key, None as Option<&[u8]>, Some(value))?
            .is_err()
        {
            return Err(StoreError::TenantExists);
        }
        self.flush()
    }

    fn tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        self.tenants.iter().values().map(|v| decode(&v?)).collect()
    }

    fn delete_tenant(&self, id: &str) -> StoreResult<()> {
        match self.tenants.remove(id.as_bytes())? {
            Some(_) => self.flush(),
            None => Err(StoreError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> TenantRecord {
        TenantRecord {
            id: id.into(),
            settings: serde_json::json!({"rp_id": "example.org"}),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_tenant_id_can_be_taken_only_once_and_replaced_only_when_it_exists() {
        let s = SledStore::temporary();
        s.put_tenant(&record("demo"), false).unwrap();
        assert!(matches!(
            s.put_tenant(&record("demo"), false),
            Err(StoreError::TenantExists)
        ));
        s.put_tenant(&record("demo"), true).unwrap();
        assert!(matches!(
            s.put_tenant(&record("other"), true),
            Err(StoreError::NotFound)
        ));
        assert_eq!(s.tenants().unwrap().len(), 1);
        s.delete_tenant("demo").unwrap();
        assert!(matches!(s.delete_tenant("demo"), Err(StoreError::NotFound)));
    }

    #[test]
    fn a_tenant_view_keeps_its_users_apart_from_the_default_tenants() {
        use crate::store::UserStore;
        let s = SledStore::temporary();
        let demo = s.tenant_view("demo").unwrap();
        let alice = super::super::fixtures::user("alice");
        s.insert_user(&alice).unwrap();
        assert!(demo.user(&alice.username).unwrap().is_none());
        demo.insert_user(&super::super::fixtures::user("alice"))
            .unwrap();
        assert_ne!(
            demo.user(&alice.username).unwrap().unwrap().handle,
            s.user(&alice.username).unwrap().unwrap().handle
        );
        assert!(s
            .user_by_handle(&demo.user(&alice.username).unwrap().unwrap().handle)
            .unwrap()
            .is_none());
    }
}
