//! The registration half of the ceremony core: begin a registration for (tenant, user, options)
//! — a stored ceremony and its creation options — and finish it with the browser's response: the
//! ceremony checked, WebAuthn §7.1 verified with the tenant's RP ID, origins and attestation
//! policy, trust judged, and the credential stored. Knows no flow, cookie or wire shape; the flow
//! steps and every backend API call these functions.

use serde_json::Value;

use super::ceremony::{CeremonyKey, CeremonyResult, Channel, Refusal, RefusalKind};
use super::metrics::{self, Kind};
use super::tenant::Tenant;
use super::{aaguid_string, AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::domain::{CredentialId, DisplayName, Username};
use crate::fido::options::{self, CredentialDescriptor};
use crate::fido::{
    self as webauthn, AttestationPolicy, RegistrationError, RegistrationExpectations,
};
use crate::flow::definitions::{Conveyance, ResidentKey, UserVerification};
use crate::store::{
    AuditKind, Ceremony, CeremonyPurpose, CredentialRecord, Outcome, StoreError, UserRecord,
};

/// What the relying party asks of a new credential.
#[derive(Debug, Clone)]
pub struct RegistrationOptions {
    pub user_verification: UserVerification,
    pub resident_key: ResidentKey,
    pub attestation: Conveyance,
    /// COSE algorithms offered, in order of preference.
    pub algorithms: Vec<i64>,
    pub timeout: chrono::Duration,
    /// The name the new credential will carry; `None`: its model, else "Passkey N".
    pub credential_name: Option<DisplayName>,
    pub authenticator_attachment: Option<Attachment>,
    /// Ask for a Secure Payment Confirmation credential (`payment: {isPayment: true}`).
    pub payment: bool,
}

/// `authenticatorSelection.authenticatorAttachment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    Platform,
    CrossPlatform,
}

impl Attachment {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "platform" => Some(Self::Platform),
            "cross-platform" => Some(Self::CrossPlatform),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::CrossPlatform => "cross-platform",
        }
    }
}

/// A begun registration: `PublicKeyCredentialCreationOptionsJSON` and the stored ceremony.
#[derive(Debug, Clone)]
pub struct RegistrationChallenge {
    pub options: Value,
    pub ceremony_id: String,
}

/// How a new credential is stored.
pub enum NewCredential<'a> {
    /// For a user who exists.
    ForUser,
    /// Together with the user it belongs to, in one transaction (passkey sign-up).
    WithNewUser(&'a UserRecord),
}

impl Engine {
    /// Stores a registration ceremony for `user` of `tenant` and builds its creation options
    /// (`excludeCredentials`: every credential the user has). `key`: the ceremony's store id
    /// when the caller finds it by challenge (see `Channel::ceremony_key`), else a random one.
    /// Counted in the metrics as begun through `channel`.
    pub(super) fn begin_registration(
        &self,
        channel: Channel,
        tenant: &Tenant,
        user: &UserRecord,
        o: &RegistrationOptions,
        key: Option<CeremonyKey<'_>>,
    ) -> EngineResult<RegistrationChallenge> {
        let existing = tenant.store().credentials_of(&user.username)?;
        let challenge = self.new_challenge();
        let ceremony = Ceremony {
            challenge: challenge.clone(),
            purpose: CeremonyPurpose::Registration,
            tenant: Some(tenant.id.clone()),
            username: Some(user.username.clone()),
            user_handle: Some(user.handle.clone()),
            credential_name: o.credential_name.clone(),
            require_user_verification: o.user_verification == UserVerification::Required,
            algorithms: o.algorithms.clone(),
            allowed_credentials: Vec::new(),
            expires_at: self.now() + o.timeout,
            signed: None,
            payment: o.payment,
        };
        let ceremony_id = store_ceremony(tenant, &ceremony, key)?;
        let exclude: Vec<CredentialDescriptor<'_>> = existing
            .iter()
            .filter(|c| c.uaf.is_none())
            .map(|c| CredentialDescriptor {
                id: c.id.as_bytes(),
                transports: &c.transports,
            })
            .collect();
        let rp = &tenant.relying_party;
        let person = user
            .display_name
            .as_ref()
            .map_or(user.username.as_str(), |d| d.as_str());
        let options = options::creation_options(&options::CreationOptions {
            rp_id: &rp.id,
            rp_name: &rp.name,
            user_handle: user.handle.as_bytes(),
            user_name: user.username.as_str(),
            user_display_name: person,
            challenge: &challenge,
            algorithms: &o.algorithms,
            timeout_ms: o.timeout.num_milliseconds().max(0) as u64,
            exclude: &exclude,
            resident_key: o.resident_key.as_str(),
            user_verification: o.user_verification.as_str(),
            attestation: o.attestation.as_str(),
            authenticator_attachment: o.authenticator_attachment.map(Attachment::as_str),
            payment: o.payment,
        });
        metrics::begun(channel, Kind::Registration);
        Ok(RegistrationChallenge {
            options,
            ceremony_id,
        })
    }

    /// Finishes a registration: `ceremony` is what the caller took out of the store (spent
    /// whatever happens here; `None` when there was none), `user` the account the credential
    /// is for. Verifies, judges trust, applies the tenant's policy and stores the credential;
    /// every refusal after the ceremony is found is audited. The outcome is counted in the
    /// metrics under `channel`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish_registration(
        &self,
        channel: Channel,
        tenant: &Tenant,
        cx: &RequestCtx,
        ceremony: Option<Ceremony>,
        user: &UserRecord,
        credential: &Value,
        new: NewCredential<'_>,
    ) -> CeremonyResult<CredentialRecord> {
        let result = self.registration_outcome(tenant, cx, ceremony, user, credential, new);
        metrics::finished(channel, Kind::Registration, &result);
        result
    }

    fn registration_outcome(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        ceremony: Option<Ceremony>,
        user: &UserRecord,
        credential: &Value,
        new: NewCredential<'_>,
    ) -> CeremonyResult<CredentialRecord> {
        let Some(ceremony) = ceremony.filter(|c| c.belongs_to(&tenant.id)) else {
            return Err(Refusal::new(
                RefusalKind::Spent,
                "challenge",
                "the challenge was already used; retrieve a new one",
            )
            .into());
        };
        if ceremony.expires_at <= self.now() {
            self.audit_registration(
                cx,
                &user.username,
                None,
                Outcome::Failure,
                "the challenge expired",
            )?;
            return Err(Refusal::new(
                RefusalKind::Expired,
                "challenge",
                "the registration took too long and its challenge expired; retrieve a new challenge",
            )
            .into());
        }
        if ceremony.username.as_ref() != Some(&user.username) {
            return Err(Refusal::new(
                RefusalKind::WrongUser,
                "user",
                "the challenge was issued to another user",
            )
            .into());
        }
        let record = self.verified_credential(tenant, cx, &ceremony, user, credential)?;
        self.store_credential(tenant, cx, &record, new)?;
        Ok(record)
    }

    /// Verifies a registration response against its ceremony and builds the credential record
    /// (not yet stored).
    fn verified_credential(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        ceremony: &Ceremony,
        user: &UserRecord,
        credential: &Value,
    ) -> CeremonyResult<CredentialRecord> {
        let now = self.now();
        let username = &user.username;
        let rp = &tenant.relying_party;
        let attestation = &tenant.attestation;
        let types: Vec<&str> = rp
            .expected_registration_types
            .iter()
            .map(String::as_str)
            .collect();
        // Trust is judged below, with the FIDO metadata roots of the authenticator added to the
        // configured anchors, and the attestation policies applied there.
        let verified = webauthn::verify_registration(
            credential,
            &RegistrationExpectations {
                challenge: &ceremony.challenge,
                rp_id: &rp.id,
                origins: &rp.origins,
                allow_cross_origin: rp.allow_cross_origin,
                top_origins: &rp.top_origins,
                client_data_types: &types,
                require_user_verification: ceremony.require_user_verification,
                algorithms: &ceremony.algorithms,
                policy: AttestationPolicy::AcceptAny,
                trust_anchors: &tenant.trust,
                now,
                accept_unknown_formats: attestation.accept_unknown_formats
                    && !attestation.demands_trust(),
                formats: tenant.format_policy(),
            },
        );
        let verified = match verified {
            Ok(v) => v,
            Err(e) => {
                tracing::info!(check = e.check(), "registration refused");
                let detail = format!("registration refused ({}): {e}", e.check());
                self.audit_registration(cx, username, None, Outcome::Failure, &detail)?;
                return Err(Refusal::new(kind_of(&e, credential), e.check(), detail).into());
            }
        };
        let id = CredentialId::from_bytes(verified.credential_id.clone()).map_err(|e| {
            Refusal::new(
                RefusalKind::Malformed,
                "credentialId",
                format!("registration refused (credentialId): {}", e.0),
            )
        })?;
        let aaguid = aaguid_string(&verified.aaguid);
        let judged = self.judge_attestation(&tenant.trust, &verified, now);
        if let Err((check, reason)) = self.attestation_policy_refusal(attestation, &aaguid, &judged)
        {
            tracing::info!(check, "registration refused");
            let detail = format!("registration refused ({check}): {reason}");
            self.audit_registration(cx, username, None, Outcome::Failure, &detail)?;
            return Err(Refusal::new(RefusalKind::Policy, check, detail).into());
        }
        let model = self.model_name_from(judged.entry.as_ref(), &aaguid);
        let existing = tenant.store().credentials_of(username)?;
        if let Some(max) = tenant.max_keys_per_user {
            if existing.len() >= max as usize {
                let setting = if tenant.is_default() {
                    "ceremony.max_credentials_per_user"
                } else {
                    "max_keys_per_user"
                };
                let detail = format!(
                    "registration refused (credentialCount): this user has {} credentials, and this relying party allows at most {max} ({setting}); delete one first",
                    existing.len()
                );
                self.audit_registration(cx, username, None, Outcome::Failure, &detail)?;
                return Err(Refusal::new(
                    RefusalKind::TooManyCredentials,
                    "credentialCount",
                    detail,
                )
                .into());
            }
        }
        let model_as_name = model.as_deref().and_then(|m| {
            DisplayName::parse(m)
                .or_else(|_| DisplayName::parse(&m.chars().take(64).collect::<String>()))
                .ok()
        });
        let display_name = match (&ceremony.credential_name, model_as_name) {
            (Some(name), _) => name.clone(),
            (None, Some(model)) => model,
            (None, None) => DisplayName::parse(&format!("Passkey {}", existing.len() + 1))
                .map_err(|e| EngineError::Internal(e.0))?,
        };
        Ok(CredentialRecord {
            id,
            username: username.clone(),
            user_handle: user.handle.clone(),
            public_key: verified.public_key,
            algorithm: verified.algorithm,
            sign_count: verified.sign_count,
            aaguid,
            authenticator_name: model,
            attestation_format: verified.format,
            attestation_trusted: judged.trusted(),
            attestation_object: verified.attestation_object,
            client_data_json: verified.client_data_json,
            transports: verified.transports,
            backup_eligible: verified.backup_eligible,
            backup_state: verified.backup_state,
            user_verified: verified.user_verified,
            discoverable: verified.discoverable,
            display_name,
            created_at: now,
            last_used_at: None,
            enabled: true,
            disabled_by: None,
            payment: ceremony.payment,
            uaf: None,
        })
    }

    /// Stores a verified credential (with its new user, for a sign-up) and audits it. A
    /// credential id registered already is refused (audited); a user taken meanwhile (sign-up)
    /// is `EngineError::UserExists`; a user deleted meanwhile is `NotAuthorized`.
    fn store_credential(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        record: &CredentialRecord,
        new: NewCredential<'_>,
    ) -> CeremonyResult<()> {
        let stored = match new {
            NewCredential::ForUser => tenant.store().insert_credential(record),
            NewCredential::WithNewUser(user) => {
                tenant.store().insert_user_with_credential(user, record)
            }
        };
        match stored {
            Ok(()) => {}
            Err(StoreError::CredentialExists) => {
                let detail = "registration refused (credentialId): this authenticator's credential is already registered";
                self.audit_registration(
                    cx,
                    &record.username,
                    Some(&record.id),
                    Outcome::Failure,
                    detail,
                )?;
                return Err(
                    Refusal::new(RefusalKind::AlreadyRegistered, "credentialId", detail).into(),
                );
            }
            Err(StoreError::UserExists) => return Err(EngineError::UserExists.into()),
            Err(StoreError::NotFound) => {
                return Err(EngineError::NotAuthorized {
                    detail: "the account no longer exists".into(),
                    next_auth_step: None,
                }
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        if let NewCredential::WithNewUser(user) = new {
            self.audit(AuditDraft {
                kind: AuditKind::SignUp,
                actor: format!("user:{}", user.username),
                username: Some(&user.username),
                credential_id: Some(&record.id),
                outcome: Outcome::Success,
                detail: "account created with a passkey".into(),
                cx,
            })?;
        }
        self.audit_registration(
            cx,
            &record.username,
            Some(&record.id),
            Outcome::Success,
            &format!(
                "registered \"{}\" ({} attestation, {})",
                record.display_name,
                record.attestation_format,
                if record.attestation_trusted {
                    "trusted"
                } else {
                    "untrusted"
                }
            ),
        )?;
        Ok(())
    }

    pub(super) fn audit_registration(
        &self,
        cx: &RequestCtx,
        username: &Username,
        credential: Option<&CredentialId>,
        outcome: Outcome,
        detail: &str,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind: AuditKind::FidoRegistration,
            actor: format!("user:{username}"),
            username: Some(username),
            credential_id: credential,
            outcome,
            detail: detail.into(),
            cx,
        })
    }
}

/// Stores a ceremony under the id `key` makes from its challenge, or a random one; returns it.
pub(super) fn store_ceremony(
    tenant: &Tenant,
    ceremony: &Ceremony,
    key: Option<CeremonyKey<'_>>,
) -> EngineResult<String> {
    Ok(match key {
        Some(key) => {
            let id = key(&ceremony.challenge);
            tenant.store().put_ceremony_at(&id, ceremony)?;
            id
        }
        None => tenant.store().put_ceremony(ceremony)?,
    })
}

/// The group of a failed registration check: malformed input, an attestation statement that does
/// not verify (told apart for `fido-u2f`), or another WebAuthn check.
fn kind_of(e: &RegistrationError, credential: &Value) -> RefusalKind {
    use RegistrationError as E;
    match e {
        E::Malformed(_) | E::NotPublicKey(_) | E::TrailingBytes | E::AttestedDataMissing => {
            RefusalKind::Malformed
        }
        E::UnsupportedFormat(_)
        | E::InvalidAttestationStatement(_)
        | E::AttestationSignatureInvalid
        | E::CertificateInvalid(_)
        | E::UntrustedAttestation(_) => {
            let described = webauthn::inspect::describe_response(credential);
            let format = &described["attestation"]["fmt"];
            RefusalKind::Attestation {
                u2f: format.as_str() == Some("fido-u2f"),
            }
        }
        _ => RefusalKind::Check,
    }
}
