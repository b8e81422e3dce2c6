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

// The keyspace's behaviour is tested on both backends in `store/suite/tenants.rs`.
