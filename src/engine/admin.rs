//! Helpdesk and administration (`/rest/admin`): token authentication and roles, users (create,
//! list, show, delete, unlock), a user's credentials (list, rename, disable, enable, delete) and
//! the audit log. Every change is audited with actor `token:NAME`; deleting a user, deleting a
//! credential and disabling a credential end the user's sessions.

use serde_json::{json, Value};

use super::{rfc3339, Answer, AuditDraft, Engine, EngineError, EngineResult, RequestCtx, Resource};
use crate::config::AdminRole;
use crate::domain::{CredentialId, DisplayName, UserHandle, Username};
use crate::store::{
    AuditEvent, AuditKind, CredentialRecord, DisabledBy, Outcome, StoreError, UserRecord,
};

/// An authenticated administration token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: AdminRole,
}

impl Actor {
    pub(super) fn label(&self) -> String {
        format!("token:{}", self.name)
    }

    pub(super) fn require_admin(&self) -> EngineResult<()> {
        match self.role {
            AdminRole::Admin => Ok(()),
            AdminRole::Helpdesk => Err(EngineError::AdminRoleMissing),
        }
    }
}

pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub password: Option<String>,
}

/// `page[size]` and `page[after]` as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub size: Option<String>,
    pub after: Option<String>,
}

/// `PATCH …/fido/credentials/{id}`: the members the client sent.
#[derive(Debug, Clone, Default)]
pub struct CredentialChange {
    pub display_name: Option<String>,
    pub enabled: Option<bool>,
}

const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 8..=1024;
const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;
const USER_DOC: &str = "user";
const CREDENTIAL_DOC: &str = "user.token.fido.credential";
const AUDIT_DOC: &str = "audit.event";

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
}

/// A username from a URL path: one that cannot be valid names no user.
fn path_username(raw: &str) -> EngineResult<Username> {
    Username::parse(raw).map_err(|_| EngineError::UserNotFound(raw.chars().take(64).collect()))
}

impl Engine {
    /// Checks a bearer token (SHA-256, constant-time against every configured token).
    pub fn admin_actor(&self, bearer: Option<&str>) -> EngineResult<Actor> {
        let token = bearer.ok_or(EngineError::AdminTokenInvalid)?;
        let found = self
            .inner
            .settings
            .is_admin_token(token)
            .ok_or(EngineError::AdminTokenInvalid)?;
        Ok(Actor {
            name: found.name.clone(),
            role: found.role,
        })
    }

    /// Records a call refused for the token's role (403): the helpdesk's attempts at admin
    /// actions belong in the audit trail (of the user named in the path, if any).
    pub fn audit_role_refusal(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        call: &str,
        username: Option<&str>,
    ) {
        let username = username.and_then(|u| Username::parse(u).ok());
        let recorded = self.audit(AuditDraft {
            kind: AuditKind::AdminAccessDenied,
            actor: actor.label(),
            username: username.as_ref(),
            credential_id: None,
            outcome: Outcome::Failure,
            detail: format!("{call} refused: it needs the admin role"),
            cx,
        });
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not record a refused administration call");
        }
    }

    /// `POST /rest/admin/users`.
    pub fn create_user(&self, actor: &Actor, cx: &RequestCtx, new: NewUser) -> EngineResult {
        actor.require_admin()?;
        let username =
            Username::parse(&new.username).map_err(|e| EngineError::InvalidUsername(e.0))?;
        let display_name = new
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        let password_hash = match &new.password {
            Some(p) if !PASSWORD_LENGTH.contains(&p.chars().count()) => {
                return Err(EngineError::InvalidPassword(
                    "a password has 8 to 1024 characters".into(),
                ))
            }
            Some(p) => Some(self.inner.passwords.hash(p)?),
            None => None,
        };
        let user = UserRecord {
            username: username.clone(),
            handle: UserHandle::random(),
            display_name,
            password_hash,
            created_at: self.now(),
        };
        match self.store().insert_user(&user) {
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
            cx,
        })?;
        Ok(Answer::one(USER_DOC, username.as_str(), self.user_attributes(&user)?).created())
    }

    /// `GET /rest/admin/users?filter[username]=…&page[size]=…&page[after]=…`: users in
    /// username order.
    pub fn list_users(&self, _actor: &Actor, prefix: Option<&str>, page: &Page) -> EngineResult {
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
        let mut users = self
            .store()
            .list_users(prefix.as_deref(), after.as_ref(), size + 1)?;
        let more = users.len() > size;
        users.truncate(size);
        let next = more
            .then(|| users.last().map(|u| u.username.to_string()))
            .flatten();
        let resources = users
            .iter()
            .map(|u| self.user_resource(u))
            .collect::<EngineResult<_>>()?;
        Ok(Answer::page(resources, next))
    }

    /// `GET /rest/admin/users/{username}`.
    pub fn get_user(&self, _actor: &Actor, username: &str) -> EngineResult {
        let user = self.existing_user(username)?;
        Ok(Answer::from(self.user_resource(&user)?))
    }

    /// `DELETE /rest/admin/users/{username}`: the user and all their credentials in one
    /// transaction; then all their sessions end.
    pub fn delete_user(&self, actor: &Actor, cx: &RequestCtx, username: &str) -> EngineResult {
        actor.require_admin()?;
        let user = self.existing_user(username)?;
        let attributes = self.user_attributes(&user)?;
        let credentials = match self.store().delete_user(&user.username) {
            Ok(ids) => ids,
            Err(StoreError::NotFound) => {
                return Err(EngineError::UserNotFound(user.username.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let sessions = self.store().end_sessions_of(&user.username, None)?;
        self.audit(AuditDraft {
            kind: AuditKind::UserDeleted,
            actor: actor.label(),
            username: Some(&user.username),
            credential_id: None,
            outcome: Outcome::Success,
            detail: format!(
                "user deleted with {} credential(s); {sessions} session(s) ended",
                credentials.len()
            ),
            cx,
        })?;
        Ok(Answer::one(USER_DOC, user.username.as_str(), attributes))
    }

    /// `POST /rest/admin/users/{username}/unlock`: lifts the temporary lock and resets the
    /// failure count.
    pub fn unlock_user(&self, actor: &Actor, cx: &RequestCtx, username: &str) -> EngineResult {
        let user = self.existing_user(username)?;
        let was_locked = self
            .store()
            .locked_until(&user.username, self.now())?
            .is_some();
        self.store().unlock(&user.username)?;
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
            cx,
        })?;
        Ok(Answer::one(
            USER_DOC,
            user.username.as_str(),
            self.user_attributes(&user)?,
        ))
    }

    /// `GET /rest/admin/users/{username}/fido/credentials`: the self-service list's attributes.
    pub fn user_credentials(&self, _actor: &Actor, username: &str) -> EngineResult {
        let user = self.existing_user(username)?;
        let credentials = self.store().credentials_of(&user.username)?;
        Ok(Answer::many(
            credentials
                .iter()
                .map(|c| self.credential_resource(c))
                .collect(),
        ))
    }

    /// `PATCH /rest/admin/users/{username}/fido/credentials/{id}`: rename, disable (as the
    /// helpdesk, ending the user's sessions) or enable (whoever disabled it).
    pub fn change_credential(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        username: &str,
        credential_id: &str,
        change: CredentialChange,
    ) -> EngineResult {
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
        let user = self.existing_user(username)?;
        let id = self.credential_of(&user, credential_id)?;

        let mut renamed: Option<DisplayName> = None;
        let mut toggled: Option<bool> = None;
        let result = self.store().update_credential(&id, &mut |c| {
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
                let sessions = self.store().end_sessions_of(&user.username, None)?;
                self.audit_credential(
                    actor,
                    cx,
                    &record,
                    AuditKind::CredentialDisabled,
                    format!("disabled by the helpdesk; {sessions} session(s) ended"),
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
        Ok(Answer::from(self.credential_resource(&record)))
    }

    /// `DELETE /rest/admin/users/{username}/fido/credentials/{id}`; ends the user's sessions.
    pub fn delete_credential(
        &self,
        actor: &Actor,
        cx: &RequestCtx,
        username: &str,
        credential_id: &str,
    ) -> EngineResult {
        let user = self.existing_user(username)?;
        let id = self.credential_of(&user, credential_id)?;
        let record = match self.store().delete_credential(&user.username, &id) {
            Ok(record) => record,
            Err(StoreError::NotFound) => {
                return Err(EngineError::UserCredentialNotFound(
                    user.username.to_string(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let sessions = self.store().end_sessions_of(&user.username, None)?;
        self.audit_credential(
            actor,
            cx,
            &record,
            AuditKind::CredentialDeleted,
            format!("deleted by the helpdesk; {sessions} session(s) ended"),
        )?;
        Ok(Answer::from(self.credential_resource(&record)))
    }

    /// `GET /rest/admin/audit?username=…&page[size]=…&page[after]=…`: newest first.
    pub fn audit_events(
        &self,
        _actor: &Actor,
        username: Option<&str>,
        page: &Page,
    ) -> EngineResult {
        let size = page.size()?;
        let username = username
            .map(Username::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidRequest(format!("`username`: {}", e.0)))?;
        let before = page
            .after
            .as_deref()
            .map(|a| {
                a.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(Page::bad_cursor)
            })
            .transpose()?;
        let mut events = self.store().events(username.as_ref(), before, size + 1)?;
        let more = events.len() > size;
        events.truncate(size);
        let next = more
            .then(|| events.last().map(|e| e.seq.to_string()))
            .flatten();
        Ok(Answer::page(
            events.iter().map(audit_resource).collect(),
            next,
        ))
    }

    fn existing_user(&self, raw: &str) -> EngineResult<UserRecord> {
        let username = path_username(raw)?;
        self.store()
            .user(&username)?
            .ok_or_else(|| EngineError::UserNotFound(username.to_string()))
    }

    /// The id of one of `user`'s credentials, from a URL path segment (base64url).
    fn credential_of(&self, user: &UserRecord, raw: &str) -> EngineResult<CredentialId> {
        let not_found = || EngineError::UserCredentialNotFound(user.username.to_string());
        let id = CredentialId::parse(raw).map_err(|_| not_found())?;
        match self.store().credential(&id)? {
            Some(c) if c.username == user.username => Ok(id),
            _ => Err(not_found()),
        }
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

    fn user_resource(&self, user: &UserRecord) -> EngineResult<Resource> {
        Ok(Resource {
            doc_type: USER_DOC,
            id: user.username.to_string(),
            attributes: self.user_attributes(user)?,
        })
    }

    fn user_attributes(&self, user: &UserRecord) -> EngineResult<Value> {
        let credentials = self.store().credentials_of(&user.username)?;
        let lock = self.store().locked_until(&user.username, self.now())?;
        Ok(json!({
            "username": user.username,
            "displayName": user.display_name,
            "hasPassword": user.password_hash.is_some(),
            "createdAt": rfc3339(user.created_at),
            "credentialCount": credentials.len(),
            "locked": lock.is_some(),
            "lockExpiry": lock.map(rfc3339),
        }))
    }
}

impl Engine {
    fn credential_resource(&self, c: &CredentialRecord) -> Resource {
        Resource {
            doc_type: CREDENTIAL_DOC,
            id: c.id.to_b64url(),
            attributes: self.credential_attributes(c),
        }
    }
}

fn audit_resource(e: &AuditEvent) -> Resource {
    let mut attributes = json!({
        "time": rfc3339(e.time),
        "event": e.event,
        "actor": e.actor,
        "username": e.username,
        "outcome": e.outcome,
        "detail": e.detail,
        "remoteAddress": e.remote_address,
        "userAgent": e.user_agent,
        "requestId": e.request_id,
    });
    if let Some(id) = &e.credential_id {
        attributes["credentialId"] = json!(id.to_b64url());
    }
    Resource {
        doc_type: AUDIT_DOC,
        id: e.seq.to_string(),
        attributes,
    }
}
