//! The ceremonies of the backend APIs: a registration or an assertion begun for a tenant's user
//! (or usernameless) and finished with the response alone, its ceremony found by (channel,
//! tenant, purpose, challenge).

use serde_json::Value;

use super::{BackendAssertion, BackendRegistration, BackendVerified, KeyView, UserView};
use crate::domain::{DisplayName, UserHandle, Username};
use crate::engine::assertion::{AssertionOptions, Purpose};
use crate::engine::ceremony::{CeremonyError, CeremonyResult, Channel, Refusal, RefusalKind};
use crate::engine::metrics::{self, Kind};
use crate::engine::registration::{NewCredential, RegistrationOptions};
use crate::engine::tenant::Tenant;
use crate::engine::{AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::fido;
use crate::flow::definitions::{Conveyance, ResidentKey, UserVerification};
use crate::store::{AuditKind, Outcome, StoreError, UserRecord};

impl Engine {
    fn ceremony_key<'a>(
        channel: Channel,
        tenant: &'a Tenant,
        purpose: &'static str,
    ) -> impl Fn(&[u8]) -> String + 'a {
        move |challenge| channel.ceremony_key(&tenant.id, purpose, challenge)
    }

    pub(in crate::engine) fn backend_timeout(&self, tenant: &Tenant) -> chrono::Duration {
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
            crate::engine::Limited::Challenge,
            None,
            Some(&format!("{}/{name}", tenant.id)),
            self.now(),
        )?;
        let user = self.user_or_created(tenant, cx, &name, display_name)?;
        let options = self.backend_registration_options(
            tenant,
            req.user_verification,
            req.resident_key,
            req.attestation,
            req.attachment,
        );
        let key = Self::ceremony_key(channel, tenant, "registration");
        let begun = self.begin_registration(channel, tenant, &user, &options, Some(&key))?;
        Ok((UserView::of(&user), begun.options))
    }

    /// What a backend asked of a registration, each unset choice taken from the tenant's
    /// defaults, then the server's.
    pub(super) fn backend_registration_options(
        &self,
        tenant: &Tenant,
        user_verification: Option<UserVerification>,
        resident_key: Option<ResidentKey>,
        attestation: Option<Conveyance>,
        attachment: Option<crate::engine::registration::Attachment>,
    ) -> RegistrationOptions {
        let defaults = &tenant.defaults;
        RegistrationOptions {
            user_verification: user_verification
                .or(defaults.user_verification)
                .unwrap_or(UserVerification::Preferred),
            resident_key: resident_key
                .or(defaults.resident_key)
                .unwrap_or(ResidentKey::Preferred),
            attestation: attestation
                .or(defaults.attestation)
                .unwrap_or(Conveyance::None),
            algorithms: defaults
                .algorithms
                .clone()
                .unwrap_or_else(crate::flow::definitions::default_algorithms),
            timeout: self.backend_timeout(tenant),
            credential_name: None,
            authenticator_attachment: attachment,
            payment: false,
        }
    }

    /// The user `name` of `tenant`, made now if there is none (a passkey-only account).
    pub(in crate::engine) fn user_or_created(
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
        // Refused before the core sees it: counted here, as the core counts its own.
        let early = |e: CeremonyError| metrics::refused_early(channel, Kind::Registration, e);
        let ceremony = self
            .take_by_challenge(tenant, channel, "registration", credential)
            .map_err(early)?;
        let user = match ceremony.as_ref().and_then(|c| c.username.clone()) {
            Some(name) => tenant.store().user(&name)?,
            None => None,
        };
        let Some(user) = user else {
            return Err(early(spent().into()));
        };
        let record = self.finish_registration(
            channel,
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
            Some(uid) => Some(self.find_user(tenant, super::Who::Uid(uid))?),
            None => None,
        };
        self.inner.limits.check(
            crate::engine::Limited::Challenge,
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
            signed: None,
        };
        let key = Self::ceremony_key(channel, tenant, kind.purpose_key());
        let begun = self.begin_assertion(
            channel,
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
        let early = |e: CeremonyError| metrics::refused_early(channel, Kind::Assertion, e);
        let ceremony = self
            .take_by_challenge(tenant, channel, kind.purpose_key(), credential)
            .map_err(early)?;
        if ceremony.is_none() {
            return Err(early(spent().into()));
        }
        let verified =
            self.finish_assertion(channel, tenant, cx, ceremony, credential, Purpose::Login)?;
        Ok(BackendVerified {
            user: UserView::of(&verified.user),
            key: KeyView::of(&verified.credential),
        })
    }
}

fn spent() -> Refusal {
    Refusal::new(
        RefusalKind::Spent,
        "challenge",
        "no ceremony of this relying party is waiting for this challenge: it was already used, has expired, or was issued elsewhere; begin a new one",
    )
}
