//! Use cases of the relying-party backend APIs (the AuthFi shape and the FIDO conformance API):
//! a relying party's server begins a registration or an authentication for one of its users, and
//! hands the browser's response back; it manages its users and their credentials. Ceremonies are
//! found by (channel, tenant, challenge) — no cookie — and run through the same ceremony core as
//! the Loginapp flows. Returns typed views; the api layer renders them.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::assertion::{AssertionOptions, Purpose};
use super::ceremony::{CeremonyResult, Channel, Refusal, RefusalKind};
use super::registration::{Attachment, NewCredential, RegistrationOptions};
use super::tenant::Tenant;
use super::{AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::domain::{b64url, b64url_decode, CredentialId, DisplayName, UserHandle, Username};
use crate::fido;
use crate::flow::definitions::{Conveyance, ResidentKey, UserVerification};
use crate::store::{AuditKind, CredentialRecord, DisabledBy, Outcome, StoreError, UserRecord};

/// A user as the backend APIs show it.
#[derive(Debug, Clone)]
pub struct UserView {
    /// The base64url of the user handle (`user.id` of the creation options).
    pub uid: String,
    pub name: String,
    pub display_name: String,
    pub created: DateTime<Utc>,
}

/// A credential as the backend APIs show it.
#[derive(Debug, Clone)]
pub struct KeyView {
    pub credential_id: String,
    pub aaguid: String,
    pub model: Option<String>,
    pub name: String,
    pub format: String,
    pub trusted: bool,
    pub transports: Vec<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub enabled: bool,
    pub sign_count: u32,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// A verified registration or assertion: the user and the credential.
#[derive(Debug, Clone)]
pub struct BackendVerified {
    pub user: UserView,
    pub key: KeyView,
}

/// What a backend asks of a new registration; unset members come from the tenant's defaults,
/// then the server's.
#[derive(Debug, Clone, Default)]
pub struct BackendRegistration {
    pub name: String,
    pub display_name: Option<String>,
    pub user_verification: Option<UserVerification>,
    pub resident_key: Option<ResidentKey>,
    pub attestation: Option<Conveyance>,
    pub attachment: Option<Attachment>,
}

/// What an assertion is for: a usernameless login, or a second factor for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendAssertion {
    Login,
    Verification,
}

impl BackendAssertion {
    fn purpose_key(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Verification => "verification",
        }
    }
}

/// One page of users.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub page: usize,
    pub size: usize,
    pub has_more: bool,
}

impl UserView {
    pub fn of(user: &UserRecord) -> Self {
        Self {
            uid: b64url(user.handle.as_bytes()),
            name: user.username.to_string(),
            display_name: user
                .display_name
                .as_ref()
                .map_or_else(|| user.username.to_string(), |d| d.to_string()),
            created: user.created_at,
        }
    }
}

impl KeyView {
    pub fn of(c: &CredentialRecord) -> Self {
        Self {
            credential_id: c.id.to_b64url(),
            aaguid: c.aaguid.clone(),
            model: c.authenticator_name.clone(),
            name: c.display_name.to_string(),
            format: c.attestation_format.clone(),
            trusted: c.attestation_trusted,
            transports: c.transports.clone(),
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            enabled: c.enabled,
            sign_count: c.sign_count,
            created: c.created_at,
            last_used: c.last_used_at,
        }
    }
}

impl Engine {
    fn ceremony_key<'a>(
        channel: Channel,
        tenant: &'a Tenant,
        purpose: &'static str,
    ) -> impl Fn(&[u8]) -> String + 'a {
        move |challenge| channel.ceremony_key(&tenant.id, purpose, challenge)
    }

    fn backend_timeout(&self, tenant: &Tenant) -> chrono::Duration {
        let std = tenant
            .defaults
            .timeout
            .unwrap_or(self.inner.settings.ceremony.timeout);
        chrono::Duration::from_std(std).unwrap_or(chrono::Duration::minutes(5))
    }

    /// Begins a registration for the user named `req.name` of `tenant`, creating the user
    /// (insert-if-absent) on first use. Returns the user and the creation options.
    pub fn backend_registration_begin(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        channel: Channel,
        req: BackendRegistration,
    ) -> EngineResult<(UserView, Value)> {
        let name = Username::parse(&req.name).map_err(|e| EngineError::InvalidUsername(e.0))?;
        let display_name = req
            .display_name
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        self.inner.limits.check(
            super::Limited::Challenge,
            None,
            Some(&format!("{}/{name}", tenant.id)),
            self.now(),
        )?;
        let user = self.user_or_created(tenant, cx, &name, display_name)?;
        let defaults = &tenant.defaults;
        let options = RegistrationOptions {
            user_verification: req
                .user_verification
                .or(defaults.user_verification)
                .unwrap_or(UserVerification::Preferred),
            resident_key: req
                .resident_key
                .or(defaults.resident_key)
                .unwrap_or(ResidentKey::Preferred),
            attestation: req
                .attestation
                .or(defaults.attestation)
                .unwrap_or(Conveyance::None),
            algorithms: defaults
                .algorithms
                .clone()
                .unwrap_or_else(crate::flow::definitions::default_algorithms),
            timeout: self.backend_timeout(tenant),
            credential_name: None,
            authenticator_attachment: req.attachment,
        };
        let key = Self::ceremony_key(channel, tenant, "registration");
        let begun = self.begin_registration(tenant, &user, &options, Some(&key))?;
        Ok((UserView::of(&user), begun.options))
    }

    /// The user `name` of `tenant`, made now if there is none (a passkey-only account).
    fn user_or_created(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        name: &Username,
        display_name: Option<DisplayName>,
    ) -> EngineResult<UserRecord> {
        let store = tenant.store();
        if let Some(user) = store.user(name)? {
            return Ok(user);
        }
        let user = UserRecord {
            username: name.clone(),
            handle: UserHandle::random(),
            display_name,
            password_hash: None,
            created_at: self.now(),
        };
        match store.insert_user(&user) {
            Ok(()) => {
                self.audit(AuditDraft {
                    kind: AuditKind::UserCreated,
                    actor: cx.actor(),
                    username: Some(name),
                    credential_id: None,
                    outcome: Outcome::Success,
                    detail: "user created on first registration".into(),
                    cx,
                })?;
                Ok(user)
            }
            // Made by a concurrent call meanwhile: use theirs.
            Err(StoreError::UserExists) => Ok(store
                .user(name)?
                .ok_or_else(|| EngineError::Internal("a user vanished while made".into()))?),
            Err(e) => Err(e.into()),
        }
    }

    /// Finishes a registration begun through `channel` of `tenant`: the ceremony is found by
    /// the challenge in the response's client data (spent at once), then verified by the core.
    pub fn backend_registration_finish(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        channel: Channel,
        credential: &Value,
    ) -> CeremonyResult<BackendVerified> {
        let ceremony = self.take_by_challenge(tenant, channel, "registration", credential)?;
        let user = match ceremony.as_ref().and_then(|c| c.username.clone()) {
            Some(name) => tenant.store().user(&name)?,
            None => None,
        };
        let Some(user) = user else {
            return Err(spent().into());
        };
        let record = self.finish_registration(
            tenant,
            cx,
            ceremony,
            &user,
            credential,
            NewCredential::ForUser,
        )?;
        Ok(BackendVerified {
            user: UserView::of(&user),
            key: KeyView::of(&record),
        })
    }

    /// Takes the ceremony a response answers, found by (channel, tenant, purpose, challenge).
    /// A response whose client data cannot be read is malformed.
    fn take_by_challenge(
        &self,
        tenant: &Tenant,
        channel: Channel,
        purpose: &'static str,
        credential: &Value,
    ) -> CeremonyResult<Option<crate::store::Ceremony>> {
        let challenge = fido::response_challenge(credential).map_err(|e| {
            Refusal::new(
                RefusalKind::Malformed,
                "clientData",
                format!("the response is malformed: {e}"),
            )
        })?;
        let key = channel.ceremony_key(&tenant.id, purpose, &challenge);
        Ok(tenant.store().take_ceremony(&key)?)
    }

    /// Begins an assertion: usernameless (`user` is `None`) or for one user, found by `uId`.
    pub fn backend_assertion_begin(
        &self,
        tenant: &Tenant,
        channel: Channel,
        kind: BackendAssertion,
        user: Option<&str>,
        user_verification: Option<UserVerification>,
    ) -> EngineResult<(Option<UserView>, Value)> {
        let user = match user {
            Some(uid) => Some(self.find_user(tenant, uid)?),
            None => None,
        };
        self.inner.limits.check(
            super::Limited::Challenge,
            None,
            user.as_ref()
                .map(|u| format!("{}/{}", tenant.id, u.username))
                .as_deref(),
            self.now(),
        )?;
        let options = AssertionOptions {
            user_verification: user_verification
                .or(tenant.defaults.user_verification)
                .unwrap_or(UserVerification::Preferred),
            timeout: self.backend_timeout(tenant),
            purpose: Purpose::Login,
        };
        let key = Self::ceremony_key(channel, tenant, kind.purpose_key());
        let begun = self.begin_assertion(
            tenant,
            user.as_ref().map(|u| &u.username),
            &options,
            Some(&key),
        )?;
        Ok((user.as_ref().map(UserView::of), begun.options))
    }

    /// Finishes an assertion begun through `channel` of `tenant` for `kind`.
    pub fn backend_assertion_finish(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        channel: Channel,
        kind: BackendAssertion,
        credential: &Value,
    ) -> CeremonyResult<BackendVerified> {
        let ceremony = self.take_by_challenge(tenant, channel, kind.purpose_key(), credential)?;
        if ceremony.is_none() {
            return Err(spent().into());
        }
        let verified = self.finish_assertion(tenant, cx, ceremony, credential, Purpose::Login)?;
        Ok(BackendVerified {
            user: UserView::of(&verified.user),
            key: KeyView::of(&verified.credential),
        })
    }

    /// The user a backend names by `uId`: the base64url of one of the tenant's user handles,
    /// else a user name (normalised as Loginapp usernames are).
    pub fn find_user(&self, tenant: &Tenant, uid: &str) -> EngineResult<UserRecord> {
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
        uid: &str,
        display_name: &str,
    ) -> EngineResult<UserView> {
        let user = self.find_user(tenant, uid)?;
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
        uid: &str,
    ) -> EngineResult<UserView> {
        let user = self.find_user(tenant, uid)?;
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
        uid: &str,
    ) -> EngineResult<(UserView, Vec<KeyView>)> {
        let user = self.find_user(tenant, uid)?;
        let keys = tenant.store().credentials_of(&user.username)?;
        Ok((UserView::of(&user), keys.iter().map(KeyView::of).collect()))
    }

    /// Renames, disables or enables one of a user's credentials.
    pub fn backend_update_key(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        uid: &str,
        credential_id: &str,
        name: Option<&str>,
        enabled: Option<bool>,
    ) -> EngineResult<KeyView> {
        let user = self.find_user(tenant, uid)?;
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
        uid: &str,
        credential_id: &str,
    ) -> EngineResult<KeyView> {
        let user = self.find_user(tenant, uid)?;
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

fn spent() -> Refusal {
    Refusal::new(
        RefusalKind::Spent,
        "challenge",
        "no ceremony of this relying party is waiting for this challenge: it was already used, has expired, or was issued elsewhere; begin a new one",
    )
}
