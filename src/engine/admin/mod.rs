//! Helpdesk and administration (`/rest/admin`): token authentication, roles and the tenants a
//! token may act on (here); each tenant's users and their credentials (`users.rs`); the tenants
//! themselves (`tenants.rs`); importing users with their credentials from another server
//! (`import.rs`); and the audit trail (`audit.rs`). Every change is audited with actor `token:NAME` and the
//! tenant it touched; a call a token may not make is refused (403) and audited as
//! `ADMIN_ACCESS_DENIED`.

mod audit;
mod import;
mod tenants;
mod users;
mod views;

use std::sync::Arc;

use super::tenant::Tenant;
use super::{AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::config::AdminRole;
use crate::domain::{Username, DEFAULT_TENANT};
use crate::store::{AuditKind, Outcome};

pub use audit::AuditQuery;
pub use users::{CredentialChange, NewUser};
pub use views::{
    AdminUser, AuditEntry, ImportRefusal, ImportReport, Listed, MetadataInUse, MetadataStatus,
    TenantView, TransactionEntry,
};

/// An authenticated administration token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: AdminRole,
    /// The tenants the token may act on; `None`: every tenant.
    pub tenants: Option<Vec<String>>,
}

impl Actor {
    pub(super) fn label(&self) -> String {
        format!("token:{}", self.name)
    }

    pub(super) fn require_admin(&self) -> EngineResult<()> {
        match self.role {
            AdminRole::Admin => Ok(()),
            AdminRole::Helpdesk | AdminRole::Metrics => Err(EngineError::AdminRoleMissing),
        }
    }

    /// Refuses a token whose role may not use the administration API at all (`metrics`, which
    /// may read `/metrics` only); every other call checks its own role on top of this.
    pub fn require_helpdesk(&self) -> EngineResult<()> {
        match self.role {
            AdminRole::Admin | AdminRole::Helpdesk => Ok(()),
            AdminRole::Metrics => Err(EngineError::AdminRoleMissing),
        }
    }

    /// Whether the token may act on tenant `tenant` (`default` for the built-in one).
    pub fn may_act_on(&self, tenant: &str) -> bool {
        match &self.tenants {
            None => true,
            Some(tenants) => tenants.iter().any(|t| t == tenant),
        }
    }

    /// Refuses a call about a tenant the token is not for, whether the tenant exists or not.
    pub(super) fn require_tenant(&self, tenant: &str) -> EngineResult<()> {
        if self.may_act_on(tenant) {
            return Ok(());
        }
        Err(EngineError::AdminTenantForbidden(format!(
            "this token may not act on tenant `{}`",
            tenant.chars().take(64).collect::<String>()
        )))
    }

    /// Refuses, to a token limited to some tenants, what concerns every tenant (making and
    /// changing tenants, the FIDO metadata).
    pub(super) fn require_every_tenant(&self) -> EngineResult<()> {
        match &self.tenants {
            None => Ok(()),
            Some(_) => Err(EngineError::AdminTenantForbidden(
                "this token is limited to some tenants; this call needs a token for every tenant"
                    .into(),
            )),
        }
    }
}

/// `page[size]` and `page[after]` as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub size: Option<String>,
    pub after: Option<String>,
}

const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

impl Page {
    fn size(&self) -> EngineResult<usize> {
        match self.size.as_deref() {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    EngineError::InvalidRequest(format!(
                        "`page[size]` must be a whole number from 1 to {MAX_PAGE_SIZE}"
                    ))
                }),
        }
    }

    fn bad_cursor() -> EngineError {
        EngineError::InvalidRequest(
            "`page[after]` is not a cursor of this list; use the `meta.page.next` of the \
             previous page"
                .into(),
        )
    }

    /// `page[after]` of the audit log: a sequence number.
    fn audit_cursor(&self) -> EngineResult<Option<u64>> {
        self.after
            .as_deref()
            .map(|a| {
                a.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(Page::bad_cursor)
            })
            .transpose()
    }
}

/// The request context of an administration call about `tenant`: its audit events name the
/// tenant (`None` for `default`) and go in that tenant's per-user index.
fn in_tenant(cx: &RequestCtx, tenant: &str) -> RequestCtx {
    RequestCtx {
        tenant: (tenant != DEFAULT_TENANT).then(|| tenant.to_owned()),
        ..cx.clone()
    }
}

impl Engine {
    /// Checks a bearer token (SHA-256, constant-time against every configured token).
    pub fn admin_actor(&self, bearer: Option<&str>) -> EngineResult<Actor> {
        if self.inner.settings.admin.tokens.is_empty() {
            return Err(EngineError::NoAdminTokenConfigured);
        }
        let token = bearer.ok_or(EngineError::AdminTokenInvalid)?;
        let found = self
            .inner
            .settings
            .is_admin_token(token)
            .ok_or(EngineError::AdminTokenInvalid)?;
        Ok(Actor {
            name: found.name.clone(),
            role: found.role,
            tenants: found.tenants.clone(),
        })
    }

    /// The tenant `id` for a call of `actor`: refused (403) when the token is not for it,
    /// whether it exists or not; `TENANT_NOT_FOUND` when there is none.
    fn scoped_tenant(&self, actor: &Actor, id: &str) -> EngineResult<Arc<Tenant>> {
        actor.require_tenant(id)?;
        self.tenant(id)
            .ok_or_else(|| EngineError::TenantNotFound(id.chars().take(64).collect()))
    }

    /// Records a call refused for the token's role or tenants (403): such attempts belong in
    /// the audit trail (of the tenant and user named in the path, if any).
    pub fn audit_refusal(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        call: &str,
        tenant: Option<&str>,
        username: Option<&str>,
        refusal: &EngineError,
    ) {
        let reason = match refusal {
            EngineError::AdminRoleMissing if actor.role == AdminRole::Metrics => {
                "a metrics token may read /metrics only".to_string()
            }
            EngineError::AdminRoleMissing => "it needs the admin role".to_string(),
            other => other.to_string(),
        };
        let tenant = tenant.unwrap_or(DEFAULT_TENANT);
        // A user is named only in a tenant that exists (its per-user index is the tenant's).
        let username = username
            .filter(|_| self.tenant(tenant).is_some())
            .and_then(|u| Username::parse(u).ok());
        let recorded = self.audit(AuditDraft {
            kind: AuditKind::AdminAccessDenied,
            actor: actor.label(),
            username: username.as_ref(),
            credential_id: None,
            outcome: Outcome::Failure,
            detail: format!("{call} refused: {reason}"),
            cx: &in_tenant(cx, tenant),
        });
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not record a refused administration call");
        }
    }
}
