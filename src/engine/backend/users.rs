//! Users and keys as a relying party's backend manages them: found by `uId` (a user handle or a
//! name), listed in pages, renamed, deleted; keys renamed, disabled, enabled and deleted. Every
//! change is audited with the calling key as actor.

use super::{KeyView, UserPage, UserView, Who};
use crate::domain::{b64url_decode, CredentialId, DisplayName, UserHandle, Username};
use crate::engine::tenant::Tenant;
use crate::engine::{AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::store::{AuditKind, DisabledBy, Outcome, StoreError, UserRecord};

impl Engine {
    /// The user a backend names: by `uId` (the base64url of one of the tenant's user handles,
    /// else a user name), or by name alone (normalised as Loginapp usernames are).
    pub fn find_user(&self, tenant: &Tenant, who: Who<'_>) -> EngineResult<UserRecord> {
        let uid = match who {
            Who::Uid(uid) => uid,
            Who::Name(name) => {
                let name = Username::parse(name).map_err(|e| EngineError::InvalidUsername(e.0))?;
                return tenant
                    .store()
                    .user(&name)?
                    .ok_or_else(|| EngineError::UserNotFound(name.to_string()));
            }
        };
        let store = tenant.store();
        let handle = b64url_decode(uid)
            .ok()
            .and_then(|b| UserHandle::from_bytes(&b).ok());
        if let Some(handle) = &handle {
            if let Some(user) = store.user_by_handle(handle)? {
                return Ok(user);
            }
        }
        let name = match (Username::parse(uid), handle) {
            (Ok(name), _) => name,
            // A user handle, of nobody in this tenant.
            (Err(_), Some(_)) => {
                return Err(EngineError::UserNotFound(uid.chars().take(16).collect()))
            }
            (Err(e), None) => return Err(EngineError::InvalidUsername(e.0)),
        };
        store
            .user(&name)?
            .ok_or_else(|| EngineError::UserNotFound(name.to_string()))
    }

    /// Page `page` (from 1) of the tenant's users in name order, `size` per page.
    pub fn backend_users(
        &self,
        tenant: &Tenant,
        page: usize,
        size: usize,
    ) -> EngineResult<UserPage> {
        let store = tenant.store();
        let mut after: Option<Username> = None;
        let mut current = Vec::new();
        for index in 1..=page {
            current = store.list_users(None, after.as_ref(), size + 1)?;
            if index < page {
                if current.len() <= size {
                    return Err(EngineError::InvalidRequest(format!(
                        "page {page} is past the last page of users"
                    )));
                }
                current.truncate(size);
                after = current.last().map(|u| u.username.clone());
            }
        }
        if page > 1 && current.is_empty() {
            return Err(EngineError::InvalidRequest(format!(
                "page {page} is past the last page of users"
            )));
        }
        let has_more = current.len() > size;
        current.truncate(size);
        Ok(UserPage {
            users: current.iter().map(UserView::of).collect(),
            page,
            size,
            has_more,
        })
    }

    /// Changes a user's display name.
    pub fn backend_rename_user(
        &self,
        tenant: &Tenant,
        who: Who<'_>,
        display_name: &str,
    ) -> EngineResult<UserView> {
        let user = self.find_user(tenant, who)?;
        let name =
            DisplayName::parse(display_name).map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        let updated = tenant.store().update_user(&user.username, &mut |u| {
            u.display_name = Some(name.clone());
            Ok(())
        })?;
        Ok(UserView::of(&updated))
    }

    /// Deletes a user and every credential of theirs.
    pub fn backend_delete_user(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        who: Who<'_>,
    ) -> EngineResult<UserView> {
        let user = self.find_user(tenant, who)?;
        let removed = match tenant.store().delete_user(&user.username) {
            Ok(removed) => removed,
            Err(StoreError::NotFound) => {
                return Err(EngineError::UserNotFound(user.username.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        self.audit(AuditDraft {
            kind: AuditKind::UserDeleted,
            actor: cx.actor(),
            username: Some(&user.username),
            credential_id: None,
            outcome: Outcome::Success,
            detail: format!("user deleted with {} credential(s)", removed.len()),
            cx,
        })?;
        Ok(UserView::of(&user))
    }

    /// A user's credentials, oldest first.
    pub fn backend_keys(
        &self,
        tenant: &Tenant,
        who: Who<'_>,
    ) -> EngineResult<(UserView, Vec<KeyView>)> {
        let user = self.find_user(tenant, who)?;
        let keys = tenant.store().credentials_of(&user.username)?;
        Ok((UserView::of(&user), keys.iter().map(KeyView::of).collect()))
    }

    /// Renames, disables or enables one of a user's credentials.
    pub fn backend_update_key(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        who: Who<'_>,
        credential_id: &str,
        name: Option<&str>,
        enabled: Option<bool>,
    ) -> EngineResult<KeyView> {
        let user = self.find_user(tenant, who)?;
        let id = self.backend_credential_of(tenant, &user, credential_id)?;
        let name = name
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        let updated = tenant.store().update_credential(&id, &mut |c| {
            if let Some(name) = &name {
                c.display_name = name.clone();
            }
            match enabled {
                Some(true) => {
                    c.enabled = true;
                    c.disabled_by = None;
                }
                Some(false) if c.enabled => {
                    c.enabled = false;
                    c.disabled_by = Some(DisabledBy::RelyingParty);
                }
                _ => {}
            }
            Ok(())
        })?;
        let changes = [
            (
                name.is_some(),
                AuditKind::CredentialRenamed,
                "renamed by the relying party",
            ),
            (
                enabled == Some(false),
                AuditKind::CredentialDisabled,
                "disabled by the relying party",
            ),
            (
                enabled == Some(true),
                AuditKind::CredentialEnabled,
                "enabled by the relying party",
            ),
        ];
        for (_, kind, detail) in changes.iter().filter(|c| c.0) {
            self.audit(AuditDraft {
                kind: *kind,
                actor: cx.actor(),
                username: Some(&user.username),
                credential_id: Some(&id),
                outcome: Outcome::Success,
                detail: (*detail).into(),
                cx,
            })?;
        }
        Ok(KeyView::of(&updated))
    }

    /// Deletes one of a user's credentials.
    pub fn backend_delete_key(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        who: Who<'_>,
        credential_id: &str,
    ) -> EngineResult<KeyView> {
        let user = self.find_user(tenant, who)?;
        let id = self.backend_credential_of(tenant, &user, credential_id)?;
        let deleted = match tenant.store().delete_credential(&user.username, &id) {
            Ok(deleted) => deleted,
            Err(StoreError::NotFound) => {
                return Err(EngineError::UserCredentialNotFound(
                    user.username.to_string(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        self.audit(AuditDraft {
            kind: AuditKind::CredentialDeleted,
            actor: cx.actor(),
            username: Some(&user.username),
            credential_id: Some(&id),
            outcome: Outcome::Success,
            detail: "deleted by the relying party".into(),
            cx,
        })?;
        Ok(KeyView::of(&deleted))
    }

    /// The id of `user`'s credential `credential_id` (base64url); `UserCredentialNotFound` when
    /// it is not theirs.
    fn backend_credential_of(
        &self,
        tenant: &Tenant,
        user: &UserRecord,
        credential_id: &str,
    ) -> EngineResult<CredentialId> {
        let not_found = || EngineError::UserCredentialNotFound(user.username.to_string());
        let id = CredentialId::parse(credential_id).map_err(|_| not_found())?;
        tenant
            .store()
            .credential(&id)?
            .filter(|c| c.username == user.username)
            .ok_or_else(not_found)?;
        Ok(id)
    }
}
