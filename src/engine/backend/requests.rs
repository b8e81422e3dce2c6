//! Ceremonies a backend finds by the `requestID` it was given (the OneSpan shape): a
//! registration, a login, or a transaction (or payment) approval of one named user. A request id
//! is `registration:<uuid>` or `authentication:<uuid>`; its ceremony is stored under (channel,
//! tenant, purpose, SHA-256 of the uuid), so it is found only by the API, tenant and purpose
//! that made it (a login id never validates a transaction), names its user, is taken exactly
//! once, and expires. A transaction's challenge is derived from what the user approves
//! (`fido::transaction`); `transactions.rs` validates it.

use serde_json::Value;

use super::{KeyView, UserView};
use crate::domain::{DisplayName, Username};
use crate::engine::assertion::{AssertionOptions, Purpose, SignedAssertion};
use crate::engine::ceremony::{CeremonyError, CeremonyResult, Channel, Refusal, RefusalKind};
use crate::engine::metrics::{self, Kind};
use crate::engine::registration::{Attachment, NewCredential, RegistrationOptions};
use crate::engine::tenant::Tenant;
use crate::engine::{aaguid_string, AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::fido::transaction::SignedContent;
use crate::flow::definitions::{Conveyance, ResidentKey, UserVerification};
use crate::store::{AuditKind, Ceremony, Outcome, SignedRequest};

/// What a request id may finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Registration,
    /// A login (`authentication:` id without signed content).
    Login,
    /// A transaction or payment approval (`authentication:` id with signed content).
    Transaction,
}

impl RequestKind {
    fn purpose(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Login => "login",
            Self::Transaction => "transaction",
        }
    }

    /// The prefix of its request ids.
    fn prefix(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Login | Self::Transaction => "authentication",
        }
    }
}

/// What a backend asks of a registration it will finish by request id.
#[derive(Debug, Clone, Default)]
pub struct RequestedRegistration {
    pub user_verification: Option<UserVerification>,
    pub resident_key: Option<ResidentKey>,
    pub attestation: Option<Conveyance>,
    pub attachment: Option<Attachment>,
    /// The name the new authenticator will carry.
    pub display_name: Option<String>,
    /// A Secure Payment Confirmation credential.
    pub payment: bool,
}

/// What a backend asks of an authentication it will finish by request id.
#[derive(Debug, Clone, Default)]
pub struct RequestedAuthentication {
    pub user_verification: Option<UserVerification>,
    /// What the user approves (checked by the caller with `fido::transaction`); empty: a login.
    pub content: SignedContent,
    /// Secure Payment Confirmation: the merchant page's origin (`content.payment` is set).
    pub merchant_origin: Option<String>,
}

/// A begun ceremony: its request id and the options for the browser.
#[derive(Debug, Clone)]
pub struct Requested {
    pub request_id: String,
    pub options: Value,
}

/// A finished login: who, with which credential, and what the authenticator said.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub user: UserView,
    pub key: KeyView,
    pub user_verified: bool,
}

/// A validated transaction and its signed evidence.
#[derive(Debug, Clone)]
pub struct Validated {
    pub transaction_id: String,
    pub user: UserView,
    pub key: KeyView,
    pub evidence: Value,
}

impl Engine {
    /// Makes a user of `tenant` (`UserExists` when the name is taken).
    pub fn backend_create_user(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        name: &str,
        display_name: Option<&str>,
    ) -> EngineResult<UserView> {
        let name = Username::parse(name).map_err(|e| EngineError::InvalidUsername(e.0))?;
        let display_name = display_name
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        let user = crate::store::UserRecord {
            username: name.clone(),
            handle: crate::domain::UserHandle::random(),
            display_name,
            password_hash: None,
            created_at: self.now(),
        };
        tenant.store().insert_user(&user).map_err(|e| match e {
            crate::store::StoreError::UserExists => EngineError::UserExists,
            e => e.into(),
        })?;
        self.audit(AuditDraft {
            kind: AuditKind::UserCreated,
            actor: cx.actor(),
            username: Some(&name),
            credential_id: None,
            outcome: Outcome::Success,
            detail: "user created by the relying party".into(),
            cx,
        })?;
        Ok(UserView::of(&user))
    }

    /// Begins a registration for the existing user `name`; finished by its request id.
    pub fn request_registration(
        &self,
        tenant: &Tenant,
        channel: Channel,
        name: &str,
        req: RequestedRegistration,
    ) -> EngineResult<Requested> {
        let user = self.find_user(tenant, super::Who::Name(name))?;
        let credential_name = req
            .display_name
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        self.count_challenge(tenant, &user.username)?;
        if req.payment {
            payment_selection(&req)?;
        }
        let mut options = RegistrationOptions {
            credential_name,
            payment: req.payment,
            ..self.backend_registration_options(
                tenant,
                req.user_verification,
                req.resident_key,
                req.attestation,
                req.attachment,
            )
        };
        if req.payment {
            // Browsers make payment credentials only on a platform authenticator with user
            // verification (SPC, "Register a payment credential"): ask for exactly that.
            options.user_verification = UserVerification::Required;
            options.authenticator_attachment = Some(Attachment::Platform);
        }
        let (request_id, uuid) = new_request_id(RequestKind::Registration);
        let key = |_: &[u8]| channel.ceremony_key(&tenant.id, "registration", uuid.as_bytes());
        let begun = self.begin_registration(channel, tenant, &user, &options, Some(&key))?;
        Ok(Requested {
            request_id,
            options: begun.options,
        })
    }

    /// Finishes the registration `request_id` of user `name` with the browser's response.
    pub fn finish_requested_registration(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        channel: Channel,
        name: &str,
        request_id: &str,
        credential: &Value,
    ) -> CeremonyResult<KeyView> {
        let user = self.find_user(tenant, super::Who::Name(name))?;
        let early = |e: CeremonyError| metrics::refused_early(channel, Kind::Registration, e);
        let ceremony = self
            .take_requested(tenant, channel, RequestKind::Registration, request_id)
            .map_err(early)?;
        let ceremony = bound_to(ceremony, &user.username).map_err(early)?;
        let record = self.finish_registration(
            channel,
            tenant,
            cx,
            Some(ceremony),
            &user,
            credential,
            NewCredential::ForUser,
        )?;
        Ok(KeyView::of(&record))
    }

    /// Begins a login of user `name`, or with signed content a transaction (or payment)
    /// approval: its challenge is `SHA-256(nonce ‖ SHA-256(JCS(content)))` with a fresh
    /// 32-byte nonce, and user verification is required.
    pub fn request_authentication(
        &self,
        tenant: &Tenant,
        channel: Channel,
        name: &str,
        req: RequestedAuthentication,
    ) -> EngineResult<Requested> {
        let user = self.find_user(tenant, super::Who::Name(name))?;
        self.count_challenge(tenant, &user.username)?;
        let (kind, signed) = if req.content.is_empty() {
            (RequestKind::Login, None)
        } else {
            let nonce = self.new_challenge();
            let challenge = req.content.challenge(&nonce).to_vec();
            let content = serde_json::to_value(&req.content)
                .map_err(|e| EngineError::Internal(e.to_string()))?;
            let request = SignedRequest {
                content,
                nonce,
                merchant_origin: req.merchant_origin.clone(),
            };
            (
                RequestKind::Transaction,
                Some(SignedAssertion { challenge, request }),
            )
        };
        let user_verification = match signed {
            Some(_) => UserVerification::Required,
            None => req
                .user_verification
                .or(tenant.defaults.user_verification)
                .unwrap_or(UserVerification::Preferred),
        };
        let options = AssertionOptions {
            user_verification,
            timeout: self.backend_timeout(tenant),
            purpose: Purpose::Login,
            signed,
        };
        let (request_id, uuid) = new_request_id(kind);
        let key = |_: &[u8]| channel.ceremony_key(&tenant.id, kind.purpose(), uuid.as_bytes());
        let begun =
            self.begin_assertion(channel, tenant, Some(&user.username), &options, Some(&key))?;
        Ok(Requested {
            request_id,
            options: begun.options,
        })
    }

    /// Finishes the login `request_id` of user `name`.
    pub fn finish_requested_login(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        channel: Channel,
        name: &str,
        request_id: &str,
        credential: &Value,
    ) -> CeremonyResult<LoggedIn> {
        let (ceremony, _) =
            self.requested_assertion(tenant, channel, RequestKind::Login, name, request_id)?;
        let verified = self.finish_assertion(
            channel,
            tenant,
            cx,
            Some(ceremony),
            credential,
            Purpose::Login,
        )?;
        Ok(LoggedIn {
            user: UserView::of(&verified.user),
            key: KeyView::of(&verified.credential),
            user_verified: verified.credential.user_verified,
        })
    }

    /// The ceremony of an authentication request, taken and checked to be `name`'s; and the
    /// request's uuid.
    pub(super) fn requested_assertion(
        &self,
        tenant: &Tenant,
        channel: Channel,
        kind: RequestKind,
        name: &str,
        request_id: &str,
    ) -> CeremonyResult<(Ceremony, String)> {
        let user = self.find_user(tenant, super::Who::Name(name))?;
        let early = |e: CeremonyError| metrics::refused_early(channel, Kind::Assertion, e);
        let uuid = request_uuid(kind, request_id).map_err(|r| early(r.into()))?;
        let ceremony = self
            .take_requested(tenant, channel, kind, request_id)
            .map_err(early)?;
        let ceremony = bound_to(ceremony, &user.username).map_err(early)?;
        Ok((ceremony, uuid.to_string()))
    }

    /// Takes the ceremony of `request_id` if it is of `kind`; `Spent` when there is none.
    fn take_requested(
        &self,
        tenant: &Tenant,
        channel: Channel,
        kind: RequestKind,
        request_id: &str,
    ) -> CeremonyResult<Ceremony> {
        let uuid = request_uuid(kind, request_id)?;
        let key = channel.ceremony_key(&tenant.id, kind.purpose(), uuid.as_bytes());
        tenant.store().take_ceremony(&key)?.ok_or_else(|| {
            Refusal::new(
                RefusalKind::Spent,
                "requestID",
                format!(
                    "no {} request with this requestID is waiting: it was already used, has expired, was issued for another purpose, or was never issued; generate a new request",
                    kind.purpose()
                ),
            )
            .into()
        })
    }

    /// Counts a challenge against the per-user rate limit.
    pub(in crate::engine) fn count_challenge(
        &self,
        tenant: &Tenant,
        user: &Username,
    ) -> EngineResult<()> {
        self.inner.limits.check(
            crate::engine::Limited::Challenge,
            None,
            Some(&format!("{}/{user}", tenant.id)),
            self.now(),
        )
    }
}

/// Refuses what a payment credential cannot be: made on another than a platform authenticator,
/// without user verification, or not discoverable.
fn payment_selection(req: &RequestedRegistration) -> EngineResult<()> {
    let refuse = |what: &str| {
        Err(EngineError::InvalidRequest(format!(
            "a payment credential (Secure Payment Confirmation) {what}"
        )))
    };
    if req.attachment == Some(Attachment::CrossPlatform) {
        return refuse("is made on a platform authenticator: leave authenticatorAttachment out or say \"platform\"");
    }
    if matches!(
        req.user_verification,
        Some(UserVerification::Discouraged | UserVerification::Preferred)
    ) {
        return refuse("needs user verification: leave userVerification out or say \"required\"");
    }
    if req.resident_key == Some(ResidentKey::Discouraged) {
        return refuse("is discoverable: residentKey may not be \"discouraged\"");
    }
    Ok(())
}

/// The ceremony if it was issued to `user`; a refusal when it names another.
fn bound_to(ceremony: Ceremony, user: &Username) -> CeremonyResult<Ceremony> {
    if ceremony.username.as_ref() != Some(user) {
        return Err(Refusal::new(
            RefusalKind::WrongUser,
            "requestID",
            "this requestID was issued for another user",
        )
        .into());
    }
    Ok(ceremony)
}

/// A new request id of `kind` and its uuid.
fn new_request_id(kind: RequestKind) -> (String, String) {
    let mut raw = [0u8; 16];
    crate::domain::random_bytes(&mut raw);
    raw[6] = (raw[6] & 0x0f) | 0x40;
    raw[8] = (raw[8] & 0x3f) | 0x80;
    let uuid = aaguid_string(&raw);
    (format!("{}:{uuid}", kind.prefix()), uuid)
}

/// The uuid of a request id of `kind`; a refusal naming what is wrong otherwise.
fn request_uuid(kind: RequestKind, request_id: &str) -> Result<&str, Refusal> {
    let malformed = |why: String| Refusal::new(RefusalKind::Malformed, "requestID", why);
    let Some((prefix, uuid)) = request_id.split_once(':') else {
        return Err(malformed(format!(
            "the requestID must look like \"{}:<uuid>\"",
            kind.prefix()
        )));
    };
    if prefix != kind.prefix() {
        return Err(Refusal::new(
            RefusalKind::Spent,
            "requestID",
            format!(
                "this is a {prefix} requestID; this call takes the requestID of a {} request",
                kind.prefix()
            ),
        ));
    }
    let well_formed = uuid.len() == 36
        && uuid.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    if !well_formed {
        return Err(malformed(
            "the requestID's uuid must be 36 characters of lowercase hex and hyphens".into(),
        ));
    }
    Ok(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_names_its_kind_and_a_uuid() {
        let (id, uuid) = new_request_id(RequestKind::Transaction);
        assert_eq!(id, format!("authentication:{uuid}"));
        assert_eq!(request_uuid(RequestKind::Login, &id).unwrap(), uuid);
        assert_eq!(&uuid[14..15], "4", "a version-4 uuid: {uuid}");
        let (registration, _) = new_request_id(RequestKind::Registration);
        let refused = request_uuid(RequestKind::Login, &registration).unwrap_err();
        assert_eq!(refused.kind, RefusalKind::Spent);
        assert!(
            refused.detail.contains("registration requestID"),
            "{}",
            refused.detail
        );
        for bad in [
            "authentication",
            "authentication:",
            "authentication:0000",
            "authentication:ABCDEF00-0000-4000-8000-000000000000",
            "authentication:abcdef00x0000-4000-8000-000000000000",
        ] {
            let refused = request_uuid(RequestKind::Login, bad).unwrap_err();
            assert_eq!(refused.kind, RefusalKind::Malformed, "{bad}");
        }
    }
}
