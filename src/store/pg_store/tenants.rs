//! Tenants made through the admin API.
//!
//! Table `tenants`: `id` → the JSON [`TenantRecord`].

use super::{decode, encode, params, PgStore};
use crate::store::{StoreError, StoreResult, TenantRecord, TenantStore};

impl TenantStore for PgStore {
    fn put_tenant(&self, record: &TenantRecord, replace: bool) -> StoreResult<()> {
        let (id, value) = (record.id.clone(), encode(record)?);
        if replace {
            let n = self.execute(
                "UPDATE tenants SET record = $2 WHERE id = $1",
                params![id, value],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
        } else if !self.insert(
            "INSERT INTO tenants (id, record) VALUES ($1, $2)",
            params![id, value],
        )? {
            return Err(StoreError::TenantExists);
        }
        Ok(())
    }

    fn tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        self.rows("SELECT record FROM tenants ORDER BY id", params![])?
            .iter()
            .map(|r| decode(&r.get::<_, Vec<u8>>(0)))
            .collect()
    }

    fn delete_tenant(&self, id: &str) -> StoreResult<()> {
        match self.execute("DELETE FROM tenants WHERE id = $1", params![id.to_string()])? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}
