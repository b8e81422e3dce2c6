//! Servers sharing one store (PostgreSQL): what one server changes that the others keep in
//! memory — the imported FIDO metadata and the tenants made through the admin API — is picked
//! up by [`Engine::follow_shared_store`], which the server runs every
//! [`FOLLOW_INTERVAL`] when its store is shared.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::tenant::TenantSource;
use super::{metadata, Engine, EngineResult};

/// How often a server looks for another server's changes: a metadata import or a tenant change
/// on one server is in use on every server within this (plus one database round trip).
pub const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);

/// What a server last saw of the stored tenants: id → when each was last changed.
pub(super) type SeenTenants = BTreeMap<String, DateTime<Utc>>;

fn seen(records: &[crate::store::TenantRecord]) -> SeenTenants {
    records
        .iter()
        .map(|r| (r.id.clone(), r.updated_at))
        .collect()
}

impl Engine {
    /// Whether other servers may change the store this server runs on.
    pub fn shares_its_store(&self) -> bool {
        self.store().shared_state().is_some()
    }

    /// Takes up another server's metadata import and tenant changes; returns whether anything
    /// changed.
    pub fn follow_shared_store(&self) -> EngineResult<bool> {
        let metadata = self.follow_metadata()?;
        let tenants = self.follow_tenants()?;
        Ok(metadata || tenants)
    }

    fn follow_metadata(&self) -> EngineResult<bool> {
        let stored = self.store().metadata_number()?;
        let in_use = self.metadata().map(|m| m.blob.number);
        if stored == in_use {
            return Ok(false);
        }
        let loaded = metadata::load(self.store(), self.now())?;
        *self
            .inner
            .metadata
            .write()
            .unwrap_or_else(|e| e.into_inner()) = loaded.map(Arc::new);
        tracing::info!(number = ?stored, "FIDO metadata imported on another server taken up");
        Ok(true)
    }

    fn follow_tenants(&self) -> EngineResult<bool> {
        let records = self.store().tenants()?;
        let now_stored = seen(&records);
        let mut seen = self
            .inner
            .seen_tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *seen == now_stored {
            return Ok(false);
        }
        let _changes = self
            .inner
            .tenant_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut built = Vec::new();
        for record in &records {
            if seen.get(&record.id) == Some(&record.updated_at) {
                continue;
            }
            if self
                .tenant(&record.id)
                .is_some_and(|t| t.source != TenantSource::Store)
            {
                continue;
            }
            built.push(self.tenant_of_record(record)?);
        }
        let mut tenants = self
            .inner
            .tenants
            .write()
            .unwrap_or_else(|e| e.into_inner());
        tenants.retain(|id, t| t.source != TenantSource::Store || now_stored.contains_key(id));
        for tenant in built {
            tenants.insert(tenant.id.clone(), tenant);
        }
        tracing::info!(
            tenants = now_stored.len(),
            "tenants changed on another server taken up"
        );
        *seen = now_stored;
        Ok(true)
    }

    /// Notes the stored tenants this server loaded at start, so
    /// [`follow_shared_store`](Self::follow_shared_store) takes up only later changes.
    pub(super) fn note_stored_tenants(&self, records: &[crate::store::TenantRecord]) {
        *self
            .inner
            .seen_tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = seen(records);
    }
}
