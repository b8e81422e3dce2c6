//! The tenants (relying parties) through the admin API: list and show every tenant a token may
//! act on; make, change and delete the ones kept in the store. A tenant is written with the keys
//! of a `[[tenants]]` entry, checked by the configuration's own rules, stored as given and
//! served at once. `default` and the configuration file's tenants are read-only here.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{in_tenant, Actor, TenantView};
use crate::config::{tenant_from_json, ConfigError};
use crate::domain::DEFAULT_TENANT;
use crate::engine::tenant::{Tenant, TenantSource};
use crate::engine::{AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::store::{AuditKind, Outcome, StoreError, TenantRecord};

impl Engine {
    /// `GET /rest/admin/tenants`: every tenant the token may act on, `default` first.
    pub fn list_tenants(&self, actor: &Actor) -> EngineResult<Vec<TenantView>> {
        Ok(self
            .tenants()
            .iter()
            .filter(|t| actor.may_act_on(&t.id))
            .map(|t| tenant_view(t))
            .collect())
    }

    /// `GET /rest/admin/tenants/{tenant}`.
    pub fn get_tenant(&self, actor: &Actor, id: &str) -> EngineResult<TenantView> {
        let tenant = self.scoped_tenant(actor, id)?;
        Ok(tenant_view(&tenant))
    }

    /// `POST /rest/admin/tenants` (admin, every tenant): a new tenant from `[[tenants]]` keys,
    /// stored as given and served at its access path at once.
    pub fn create_tenant(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        given: Value,
    ) -> EngineResult<TenantView> {
        actor.require_admin()?;
        actor.require_every_tenant()?;
        let _one_at_a_time = self.tenant_change_lock();
        self.refuse_taken(&given, None)?;
        let others = self.tenant_settings(None);
        let settings = tenant_from_json(&given, &others).map_err(|e| invalid(e, others.len()))?;
        let tenant = self
            .build_tenant(&settings, TenantSource::Store)
            .map_err(as_invalid)?;
        let now = self.now();
        let record = TenantRecord {
            id: settings.id.clone(),
            settings: given,
            created_at: now,
            updated_at: now,
        };
        match self.store().put_tenant(&record, false) {
            Ok(()) => {}
            Err(StoreError::TenantExists) => {
                return Err(EngineError::TenantExists(format!(
                    "a tenant with the id `{}` is stored already",
                    settings.id
                )))
            }
            Err(e) => return Err(e.into()),
        }
        let tenant = Arc::new(tenant);
        warn_if_conformance(&tenant);
        self.use_tenant(tenant.clone());
        self.audit_tenant(
            actor,
            cx,
            &tenant.id,
            AuditKind::TenantCreated,
            format!("tenant created{}", where_served(&tenant)),
        )?;
        Ok(tenant_view(&tenant))
    }

    /// `PUT /rest/admin/tenants/{tenant}` (admin, every tenant): replaces a stored tenant's
    /// settings (all of them, its id excepted, which cannot change); served at once. Its users
    /// and credentials stay.
    pub fn update_tenant(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        id: &str,
        mut given: Value,
    ) -> EngineResult<TenantView> {
        actor.require_admin()?;
        actor.require_every_tenant()?;
        let _one_at_a_time = self.tenant_change_lock();
        let current = self.stored_tenant(id)?;
        match given.get("id") {
            None | Some(Value::Null) => given["id"] = json!(current.id),
            Some(Value::String(same)) if *same == current.id => {}
            Some(other) => {
                return Err(EngineError::InvalidTenant(format!(
                    "id: {other} is not `{}`: a tenant's id cannot be changed (make a new tenant \
                     instead)",
                    current.id
                )))
            }
        }
        self.refuse_taken(&given, Some(&current.id))?;
        let others = self.tenant_settings(Some(&current.id));
        let settings = tenant_from_json(&given, &others).map_err(|e| invalid(e, others.len()))?;
        let tenant = self
            .build_tenant(&settings, TenantSource::Store)
            .map_err(as_invalid)?;
        let now = self.now();
        let created_at = self
            .store()
            .tenants()?
            .into_iter()
            .find(|r| r.id == current.id)
            .map_or(now, |r| r.created_at);
        let record = TenantRecord {
            id: current.id.clone(),
            settings: given,
            created_at,
            updated_at: now,
        };
        match self.store().put_tenant(&record, true) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(EngineError::TenantNotFound(id.into())),
            Err(e) => return Err(e.into()),
        }
        let tenant = Arc::new(tenant);
        warn_if_conformance(&tenant);
        self.use_tenant(tenant.clone());
        self.audit_tenant(
            actor,
            cx,
            &tenant.id,
            AuditKind::TenantUpdated,
            format!("tenant settings replaced{}", where_served(&tenant)),
        )?;
        Ok(tenant_view(&tenant))
    }

    /// `DELETE /rest/admin/tenants/{tenant}` (admin, every tenant): stops serving a stored
    /// tenant and deletes it with all its users, credentials and locks. Its audit events stay.
    pub fn delete_tenant(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        id: &str,
    ) -> EngineResult<TenantView> {
        actor.require_admin()?;
        actor.require_every_tenant()?;
        let _one_at_a_time = self.tenant_change_lock();
        let current = self.stored_tenant(id)?;
        let users = current.store().list_users(None, None, usize::MAX)?.len();
        let view = tenant_view(&current);
        self.forget_tenant(&current.id);
        // The data goes before the record: a record without data is an empty tenant again.
        self.store().drop_tenant_data(&current.id)?;
        match self.store().delete_tenant(&current.id) {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        self.audit_tenant(
            actor,
            cx,
            &current.id,
            AuditKind::TenantDeleted,
            format!("tenant deleted with {users} user(s) and their credentials"),
        )?;
        Ok(view)
    }

    fn tenant_change_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .tenant_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The tenant `id` if the admin API may change it.
    fn stored_tenant(&self, id: &str) -> EngineResult<Arc<Tenant>> {
        let tenant = self
            .tenant(id)
            .ok_or_else(|| EngineError::TenantNotFound(id.chars().take(64).collect()))?;
        match tenant.source {
            TenantSource::Store => Ok(tenant),
            TenantSource::Builtin => Err(EngineError::TenantReadOnly(format!(
                "`{DEFAULT_TENANT}` is the built-in tenant, configured by [relying_party]; it \
                 cannot be changed or deleted here"
            ))),
            TenantSource::Config => Err(EngineError::TenantReadOnly(format!(
                "tenant `{id}` comes from [[tenants]] in the configuration file; change it there"
            ))),
        }
    }

    /// `TENANT_EXISTS` when the settings' id or access path (ignoring case) is another
    /// tenant's.
    fn refuse_taken(&self, given: &Value, except: Option<&str>) -> EngineResult<()> {
        if let Some(id) = given.get("id").and_then(Value::as_str) {
            if except != Some(id) && (id == DEFAULT_TENANT || self.tenant(id).is_some()) {
                return Err(EngineError::TenantExists(format!(
                    "id: a tenant with the id `{id}` exists already"
                )));
            }
        }
        if let Some(path) = given.get("access_path").and_then(Value::as_str) {
            let taken = self.tenants().into_iter().find(|t| {
                Some(t.id.as_str()) != except
                    && t.access_path
                        .as_deref()
                        .is_some_and(|p| p.eq_ignore_ascii_case(path))
            });
            if let Some(t) = taken {
                return Err(EngineError::TenantExists(format!(
                    "access_path: `{path}` is the access path of tenant `{}` already (compared \
                     ignoring case)",
                    t.id
                )));
            }
        }
        Ok(())
    }

    fn audit_tenant(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        id: &str,
        kind: AuditKind,
        detail: String,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind,
            actor: actor.label(),
            username: None,
            credential_id: None,
            outcome: Outcome::Success,
            detail,
            cx: &in_tenant(cx, id),
        })
    }
}

/// A configuration refusal of tenant settings, its key named as the API client wrote it
/// (`rp_id`, not `tenants[2].rp_id`).
fn invalid(e: ConfigError, index: usize) -> EngineError {
    let text = e
        .to_string()
        .replace(&format!("tenants[{index}]."), "")
        .replace(&format!("tenants[{index}]: "), "");
    EngineError::InvalidTenant(text)
}

/// A tenant whose attestation anchors cannot be read is invalid settings, not a server fault.
fn as_invalid(e: EngineError) -> EngineError {
    match e {
        EngineError::InvalidRequest(text) => EngineError::InvalidTenant(text),
        other => other,
    }
}

fn warn_if_conformance(t: &Tenant) {
    if t.conformance {
        tracing::warn!(
            tenant = %t.id,
            "tenant `{}` serves the FIDO conformance-tool API without a key: for testing only",
            t.id
        );
    }
}

fn where_served(t: &Tenant) -> String {
    format!(
        " at /{} for RP ID {}",
        t.access_path.as_deref().unwrap_or(""),
        t.relying_party.id
    )
}

fn tenant_view(t: &Tenant) -> TenantView {
    TenantView {
        id: t.id.clone(),
        access_path: t.access_path.clone(),
        rp_id: t.relying_party.id.clone(),
        rp_name: t.relying_party.name.clone(),
        origins: t.relying_party.origins.clone(),
        conformance: t.conformance,
        max_keys_per_user: t.max_keys_per_user,
        source: t.source.as_str(),
        api_key_names: t
            .settings
            .iter()
            .flat_map(|s| s.api_keys.iter().map(|k| k.name.clone()))
            .collect(),
    }
}
