//! A tenant's users and their credentials, as the helpdesk manages them: create, list, show,
//! delete, unlock; list, rename, disable, enable and delete credentials. `default`'s users are
//! the portal's: deleting one, or deleting or disabling their credential, ends their sessions.
//! Other tenants have no sessions here.

use super::{in_tenant, Actor, Page};
use super::{AdminUser, Listed, TransactionEntry};
use crate::domain::{CredentialId, DisplayName, UserHandle, Username};
use crate::engine::tenant::Tenant;
use crate::engine::{AuditDraft, CredentialView, Engine, EngineError, EngineResult, RequestCtx};
use crate::store::{AuditKind, CredentialRecord, DisabledBy, Outcome, StoreError, UserRecord};

pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub password: Option<String>,
}

/// `PATCH …/fido/credentials/{id}`: the members the client sent.
#[derive(Debug, Clone, Default)]
pub struct CredentialChange {
    pub display_name: Option<String>,
    pub enabled: Option<bool>,
}

/// A username from a URL path: one that cannot be valid names no user.
fn path_username(raw: &str) -> EngineResult<Username> {
    Username::parse(raw).map_err(|_| EngineError::UserNotFound(raw.chars().take(64).collect()))
}

impl Engine {
    /// `POST /rest/admin[/tenants/{tenant}]/users`.
    pub fn create_user(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        tenant: &str,
        new: NewUser,
    ) -> EngineResult<AdminUser> {
        actor.require_admin()?;
        let tenant = self.scoped_tenant(actor, tenant)?;
        let username =
            Username::parse(&new.username).map_err(|e| EngineError::InvalidUsername(e.0))?;
        let display_name = new
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        let password_hash = match &new.password {
            Some(p) => {
                crate::engine::passwords::check_password_rule(p)?;
                Some(self.inner.passwords.hash(p)?)
            }
            None => None,
        };
        let user = UserRecord {
            username: username.clone(),
            handle: UserHandle::random(),
            display_name,
            password_hash,
            created_at: self.now(),
        };
        match tenant.store().insert_user(&user) {
            Ok(()) => {}
            Err(StoreError::UserExists) => return Err(EngineError::UserExists),
            Err(e) => return Err(e.into()),
        }
        self.audit(AuditDraft {
            kind: AuditKind::UserCreated,
            actor: actor.label(),
            username: Some(&username),
            credential_id: None,
            outcome: Outcome::Success,
            detail: "user created".into(),
            cx: &in_tenant(cx, &tenant.id),
        })?;
        self.admin_user(&tenant, &user)
    }

    /// `GET /rest/admin[/tenants/{tenant}]/users?filter[username]=…&page[size]=…&page[after]=…`:
    /// users in username order.
    pub fn list_users(
        &self,
        actor: &Actor,
        tenant: &str,
        prefix: Option<&str>,
        page: &Page,
    ) -> EngineResult<Listed<AdminUser>> {
        let tenant = self.scoped_tenant(actor, tenant)?;
        let size = page.size()?;
        let prefix = prefix
            .map(Username::parse_prefix)
            .transpose()
            .map_err(|e| EngineError::InvalidRequest(format!("`filter[username]`: {}", e.0)))?;
        let after = page
            .after
            .as_deref()
            .map(|a| Username::parse(a).map_err(|_| Page::bad_cursor()))
            .transpose()?;
        let mut users = tenant
            .store()
            .list_users(prefix.as_deref(), after.as_ref(), size + 1)?;
        let more = users.len() > size;
        users.truncate(size);
        let next = more
            .then(|| users.last().map(|u| u.username.to_string()))
            .flatten();
        let items = users
            .iter()
            .map(|u| self.admin_user(&tenant, u))
            .collect::<EngineResult<_>>()?;
        Ok(Listed { items, next })
    }

    /// `GET /rest/admin[/tenants/{tenant}]/users/{username}`.
    pub fn get_user(&self, actor: &Actor, tenant: &str, username: &str) -> EngineResult<AdminUser> {
        let tenant = self.scoped_tenant(actor, tenant)?;
        let user = existing_user(&tenant, username)?;
        self.admin_user(&tenant, &user)
    }

    /// `GET /rest/admin[/tenants/{tenant}]/users/{username}/transactions`: the user's validated
    /// transactions with their evidence, newest first (at most 1000).
    pub fn user_transactions(
        &self,
        actor: &Actor,
        tenant: &str,
        username: &str,
    ) -> EngineResult<Vec<TransactionEntry>> {
        let tenant = self.scoped_tenant(actor, tenant)?;
        let user = existing_user(&tenant, username)?;
        Ok(tenant
            .store()
            .transactions_of(&user.username, 1000)?
            .into_iter()
            .map(|t| TransactionEntry {
                id: t.id,
                validated_at: t.validated_at,
                evidence: t.evidence,
            })
            .collect())
    }

    /// `DELETE /rest/admin[/tenants/{tenant}]/users/{username}`: the user and all their
    /// credentials in one transaction; then all their sessions end.
    pub fn delete_user(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        tenant: &str,
        username: &str,
    ) -> EngineResult<AdminUser> {
        actor.require_admin()?;
        let tenant = self.scoped_tenant(actor, tenant)?;
        let user = existing_user(&tenant, username)?;
        let view = self.admin_user(&tenant, &user)?;
        let credentials = match tenant.store().delete_user(&user.username) {
            Ok(ids) => ids,
            Err(StoreError::NotFound) => {
                return Err(EngineError::UserNotFound(user.username.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let ended = self.end_sessions(&tenant, &user.username)?;
        self.audit(AuditDraft {
            kind: AuditKind::UserDeleted,
            actor: actor.label(),
            username: Some(&user.username),
            credential_id: None,
            outcome: Outcome::Success,
            detail: format!(
                "user deleted with {} credential(s){ended}",
                credentials.len()
            ),
            cx: &in_tenant(cx, &tenant.id),
        })?;
        Ok(view)
    }

    /// `POST /rest/admin[/tenants/{tenant}]/users/{username}/unlock`: lifts the temporary lock
    /// and resets the failure count (both kept per tenant).
    pub fn unlock_user(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        tenant: &str,
        username: &str,
    ) -> EngineResult<AdminUser> {
        let tenant = self.scoped_tenant(actor, tenant)?;
        let user = existing_user(&tenant, username)?;
        let store = tenant.store();
        let was_locked = store.locked_until(&user.username, self.now())?.is_some();
        store.unlock(&user.username)?;
        self.audit(AuditDraft {
            kind: AuditKind::UserUnlocked,
            actor: actor.label(),
            username: Some(&user.username),
            credential_id: None,
            outcome: Outcome::Success,
            detail: if was_locked {
                "temporary lock lifted; failure count reset".into()
            } else {
                "was not locked; failure count reset".into()
            },
            cx: &in_tenant(cx, &tenant.id),
        })?;
        self.admin_user(&tenant, &user)
    }

    /// `POST /rest/admin[/tenants/{tenant}]/users/{username}/sessions/end`: signs the user out
    /// everywhere; audited `SESSIONS_ENDED` with how many ended. Only `default`'s users have
    /// sessions here: for another tenant's user none end.
    pub fn end_user_sessions(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        tenant: &str,
        username: &str,
    ) -> EngineResult<AdminUser> {
        let tenant = self.scoped_tenant(actor, tenant)?;
        let user = existing_user(&tenant, username)?;
        let ended = if tenant.is_default() {
            self.store().end_sessions_of(&user.username, None)?
        } else {
            0
        };
        self.audit(AuditDraft {
            kind: AuditKind::SessionsEnded,
            actor: actor.label(),
            username: Some(&user.username),
            credential_id: None,
            outcome: Outcome::Success,
            detail: format!("signed out everywhere by the helpdesk: {ended} session(s) ended"),
            cx: &in_tenant(cx, &tenant.id),
        })?;
        self.admin_user(&tenant, &user)
    }

    /// `GET /rest/admin[/tenants/{tenant}]/users/{username}/fido/credentials`: the self-service
    /// list's attributes.
    pub fn user_credentials(
        &self,
        actor: &Actor,
        tenant: &str,
        username: &str,
    ) -> EngineResult<Vec<CredentialView>> {
        let tenant = self.scoped_tenant(actor, tenant)?;
        let user = existing_user(&tenant, username)?;
        let credentials = tenant.store().credentials_of(&user.username)?;
        Ok(credentials
            .iter()
            .map(|c| self.credential_view(c))
            .collect())
    }

    /// `PATCH /rest/admin[/tenants/{tenant}]/users/{username}/fido/credentials/{id}`: rename,
    /// disable (as the helpdesk, ending the user's sessions) or enable (whoever disabled it).
    pub fn change_credential(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        tenant: &str,
        username: &str,
        credential_id: &str,
        change: CredentialChange,
    ) -> EngineResult<CredentialView> {
        let tenant = self.scoped_tenant(actor, tenant)?;
        let cx = &in_tenant(cx, &tenant.id);
        if change.display_name.is_none() && change.enabled.is_none() {
            return Err(EngineError::InvalidRequest(
                "send `displayName`, `enabled` or both".into(),
            ));
        }
        let new_name = change
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        let user = existing_user(&tenant, username)?;
        let id = credential_of(&tenant, &user, credential_id)?;

        let mut renamed: Option<DisplayName> = None;
        let mut toggled: Option<bool> = None;
        let result = tenant.store().update_credential(&id, &mut |c| {
            renamed = None;
            toggled = None;
            if c.username != user.username {
                return Err(StoreError::NotFound);
            }
            if let Some(name) = &new_name {
                if &c.display_name != name {
                    renamed = Some(c.display_name.clone());
                    c.display_name = name.clone();
                }
            }
            match change.enabled {
                Some(false) if c.enabled || c.disabled_by != Some(DisabledBy::Helpdesk) => {
                    c.enabled = false;
                    c.disabled_by = Some(DisabledBy::Helpdesk);
                    toggled = Some(false);
                }
                Some(true) if !c.enabled || c.disabled_by.is_some() => {
                    c.enabled = true;
                    c.disabled_by = None;
                    toggled = Some(true);
                }
                _ => {}
            }
            Ok(())
        });
        let record = match result {
            Ok(record) => record,
            Err(StoreError::NotFound) => {
                return Err(EngineError::UserCredentialNotFound(
                    user.username.to_string(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(old) = &renamed {
            self.audit_credential(
                actor,
                cx,
                &record,
                AuditKind::CredentialRenamed,
                format!(
                    "renamed from \"{old}\" to \"{}\" by the helpdesk",
                    record.display_name
                ),
            )?;
        }
        match toggled {
            Some(false) => {
                let ended = self.end_sessions(&tenant, &user.username)?;
                self.audit_credential(
                    actor,
                    cx,
                    &record,
                    AuditKind::CredentialDisabled,
                    format!("disabled by the helpdesk{ended}"),
                )?;
            }
            Some(true) => self.audit_credential(
                actor,
                cx,
                &record,
                AuditKind::CredentialEnabled,
                "enabled by the helpdesk".into(),
            )?,
            None => {}
        }
        Ok(self.credential_view(&record))
    }

    /// `DELETE /rest/admin[/tenants/{tenant}]/users/{username}/fido/credentials/{id}`; ends the
    /// user's sessions.
    pub fn delete_credential(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        tenant: &str,
        username: &str,
        credential_id: &str,
    ) -> EngineResult<CredentialView> {
        let tenant = self.scoped_tenant(actor, tenant)?;
        let user = existing_user(&tenant, username)?;
        let id = credential_of(&tenant, &user, credential_id)?;
        let record = match tenant.store().delete_credential(&user.username, &id) {
            Ok(record) => record,
            Err(StoreError::NotFound) => {
                return Err(EngineError::UserCredentialNotFound(
                    user.username.to_string(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let ended = self.end_sessions(&tenant, &user.username)?;
        self.audit_credential(
            actor,
            &in_tenant(cx, &tenant.id),
            &record,
            AuditKind::CredentialDeleted,
            format!("deleted by the helpdesk{ended}"),
        )?;
        let mut view = self.credential_view(&record);
        view.uaf_deregistration_request = self
            .uaf_deregistration_of(&tenant, &crate::engine::KeyView::of(&record))
            .map(|request| request.to_string());
        Ok(view)
    }

    /// Ends the sessions of a `default` user (`; N session(s) ended` for the audit detail);
    /// other tenants' users have no sessions here.
    fn end_sessions(&self, tenant: &Tenant, username: &Username) -> EngineResult<String> {
        if !tenant.is_default() {
            return Ok(String::new());
        }
        let sessions = self.store().end_sessions_of(username, None)?;
        Ok(format!("; {sessions} session(s) ended"))
    }

    fn audit_credential(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        record: &CredentialRecord,
        kind: AuditKind,
        detail: String,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind,
            actor: actor.label(),
            username: Some(&record.username),
            credential_id: Some(&record.id),
            outcome: Outcome::Success,
            detail,
            cx,
        })
    }

    fn admin_user(&self, tenant: &Tenant, user: &UserRecord) -> EngineResult<AdminUser> {
        let credentials = tenant.store().credentials_of(&user.username)?;
        Ok(AdminUser {
            username: user.username.to_string(),
            display_name: user.display_name.as_ref().map(ToString::to_string),
            has_password: user.password_hash.is_some(),
            created_at: user.created_at,
            credential_count: credentials.len(),
            lock_expiry: tenant.store().locked_until(&user.username, self.now())?,
        })
    }
}

fn existing_user(tenant: &Tenant, raw: &str) -> EngineResult<UserRecord> {
    let username = path_username(raw)?;
    tenant
        .store()
        .user(&username)?
        .ok_or_else(|| EngineError::UserNotFound(username.to_string()))
}

/// The id of one of `user`'s credentials, from a URL path segment (base64url).
fn credential_of(tenant: &Tenant, user: &UserRecord, raw: &str) -> EngineResult<CredentialId> {
    let not_found = || EngineError::UserCredentialNotFound(user.username.to_string());
    let id = CredentialId::parse(raw).map_err(|_| not_found())?;
    match tenant.store().credential(&id)? {
        Some(c) if c.username == user.username => Ok(id),
        _ => Err(not_found()),
    }
}
