//! Administration: token authentication and user creation.

use serde_json::json;

use super::{rfc3339, Answer, AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::config::AdminRole;
use crate::domain::{DisplayName, UserHandle, Username};
use crate::store::{AuditKind, Outcome, StoreError, UserRecord};

/// An authenticated administration token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: AdminRole,
}

impl Actor {
    fn label(&self) -> String {
        format!("token:{}", self.name)
    }

    fn require_admin(&self) -> EngineResult<()> {
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

const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 8..=1024;

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
        Ok(Answer::one("user", username.as_str(), user_attributes(&user)).created())
    }
}

fn user_attributes(user: &UserRecord) -> serde_json::Value {
    json!({
        "username": user.username,
        "displayName": user.display_name,
        "hasPassword": user.password_hash.is_some(),
        "createdAt": rfc3339(user.created_at),
    })
}
