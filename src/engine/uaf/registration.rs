//! A UAF registration response: verified by `uaf`, the basic full chain judged with the tenant's
//! anchors and the metadata of the AAID, the tenant's rules applied, and each key stored.

use serde_json::Value;

use super::{from_engine, refusal, Expected, UafDone, UafResult};
use crate::domain::{b64url, CredentialId, DisplayName, Username};
use crate::engine::tenant::Tenant;
use crate::engine::{AuditDraft, Engine, EngineError, KeyView, RequestCtx};
use crate::fido::mds::Lookup;
use crate::store::{AuditKind, Ceremony, CredentialRecord, Outcome, StoreError, UafKey};
use crate::uaf::{self, Attestation, Expectations, Op, PolicyRefusal, StatusCode};

impl Engine {
    /// Verifies a `RegistrationResponse` and stores each new key for the ceremony's user.
    pub fn uaf_registration_response(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        message: &Value,
        expected: Option<Expected<'_>>,
    ) -> UafResult<UafDone> {
        self.uaf_response(
            tenant,
            cx,
            message,
            Op::Reg,
            expected,
            AuditKind::FidoRegistration,
            |ceremony, username, response| {
                self.uaf_register_verified(tenant, cx, ceremony, username, response)
            },
        )
    }

    fn uaf_register_verified(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        ceremony: &Ceremony,
        username: &Username,
        response: &uaf::Response,
    ) -> UafResult<UafDone> {
        let app_id = self.uaf_app_id(tenant);
        let facets = self.uaf_trusted_facets(tenant);
        let policy = self.uaf_policy(tenant);
        let challenge = b64url(&ceremony.challenge);
        let keys = uaf::verify_registration(
            response,
            &Expectations {
                app_id: &app_id,
                challenge: &challenge,
                trusted_facets: &facets,
                policy: &policy,
                channel_binding: Self::uaf_channel_binding(tenant),
            },
        )?;
        let user = tenant.store().user(username)?.ok_or_else(|| {
            refusal(
                StatusCode::NotFound,
                "username",
                "the account was deleted meanwhile",
            )
        })?;
        let now = self.now();
        let mut done = None;
        for key in keys {
            let (trusted, model) = self.uaf_judge(tenant, &policy, &key)?;
            let id = CredentialId::from_bytes(key.key_id.clone())
                .map_err(|e| refusal(StatusCode::UnacceptableKey, "keyID", e.0))?;
            let count = tenant.store().credentials_of(username)?.len();
            if tenant
                .max_keys_per_user
                .is_some_and(|max| count >= max as usize)
            {
                return Err(refusal(
                    StatusCode::Forbidden,
                    "credentialCount",
                    "this user has as many keys as the relying party allows; delete one first",
                ));
            }
            let format = match &key.attestation {
                Attestation::BasicFull { .. } => "uaf-basic-full",
                Attestation::Surrogate { .. } => "uaf-basic-surrogate",
            };
            // This key's own registration assertion, kept as a WebAuthn credential keeps its
            // attestation object: its trust can be judged again later.
            let raw = response
                .assertions
                .iter()
                .find(|a| uaf::parse_registration(a).is_ok_and(|r| r.key_id == key.key_id))
                .cloned()
                .unwrap_or_default();
            let display_name = DisplayName::parse(&format!(
                "{} {}",
                model.as_deref().unwrap_or("UAF key"),
                count + 1
            ))
            .or_else(|_| DisplayName::parse(&format!("UAF key {}", count + 1)))
            .map_err(|e| from_engine(EngineError::Internal(e.0)))?;
            let record = CredentialRecord {
                id: id.clone(),
                username: username.clone(),
                user_handle: user.handle.clone(),
                public_key: key.public_key.clone(),
                algorithm: 0,
                sign_count: key.sign_counter,
                aaguid: key.aaid.to_ascii_lowercase(),
                authenticator_name: model,
                attestation_format: format.into(),
                attestation_trusted: trusted,
                attestation_object: raw,
                client_data_json: response.fc_params.as_bytes().to_vec(),
                transports: Vec::new(),
                backup_eligible: false,
                backup_state: false,
                user_verified: true,
                discoverable: None,
                display_name,
                created_at: now,
                last_used_at: None,
                enabled: true,
                disabled_by: None,
                payment: false,
                uaf: Some(UafKey {
                    aaid: key.aaid.clone(),
                    key_encoding: key.key_encoding,
                    sign_alg: key.sign_alg,
                    authenticator_version: key.authenticator_version,
                }),
            };
            match tenant.store().insert_credential(&record) {
                Ok(()) => {}
                Err(StoreError::CredentialExists) => {
                    return Err(refusal(
                        StatusCode::UnacceptableKey,
                        "keyID",
                        "this KeyID is registered already",
                    ))
                }
                Err(e) => return Err(e.into()),
            }
            self.audit(AuditDraft {
                kind: AuditKind::FidoRegistration,
                actor: format!("user:{username}"),
                username: Some(username),
                credential_id: Some(&id),
                outcome: Outcome::Success,
                detail: format!(
                    "registered UAF key of {} ({format}, {})",
                    key.aaid,
                    if trusted { "trusted" } else { "untrusted" }
                ),
                cx,
            })
            .map_err(from_engine)?;
            done = Some(UafDone {
                username: username.to_string(),
                aaid: key.aaid.clone(),
                key_id: b64url(&key.key_id),
                key: KeyView::of(&record),
                evidence: None,
            });
        }
        done.ok_or_else(|| refusal(StatusCode::BadRequest, "assertions", "no assertion"))
    }

    /// Trust of a verified key: a basic full chain to the tenant's anchors and the metadata
    /// roots of its AAID; the metadata status and the tenant's rules applied. Returns whether
    /// it is trusted and the model name.
    fn uaf_judge(
        &self,
        tenant: &Tenant,
        policy: &uaf::Policy,
        key: &uaf::VerifiedKey,
    ) -> UafResult<(bool, Option<String>)> {
        let now = self.now();
        let settings = tenant.settings.as_ref().map(|s| &s.uaf);
        let metadata = self.metadata();
        let entry = metadata
            .as_ref()
            .and_then(|m| m.blob.find(Lookup::Aaid(&key.aaid)).cloned());
        let answered = uaf::Authenticator {
            aaid: &key.aaid,
            key_id: &key.key_id,
            sign_alg: key.sign_alg,
            attestation_type: uaf::attestation_type(&key.attestation),
            authenticator_version: key.authenticator_version,
            characteristics: entry.as_ref().and_then(|e| e.characteristics.as_ref()),
        };
        if let Err(why) = policy.judge(&[answered]) {
            let aaid = &key.aaid;
            let known = if answered.characteristics.is_some() {
                ""
            } else {
                " (the metadata has no statement for it, so it meets no criterion on key \
                 protection, user verification, attachment or display)"
            };
            return Err(refusal(
                StatusCode::UnacceptableAuthenticator,
                "policy",
                match why {
                    PolicyRefusal::NotAccepted => format!(
                        "the authenticator {aaid} meets none of the criteria this relying party \
                         accepts{known}"
                    ),
                    PolicyRefusal::Disallowed(i) => format!(
                        "the authenticator {aaid} meets criteria this relying party refuses \
                         (disallowed[{i}])"
                    ),
                },
            ));
        }
        let leaf = match &key.attestation {
            Attestation::BasicFull { certificates, .. } => certificates.first().map(Vec::as_slice),
            Attestation::Surrogate { .. } => None,
        };
        if let Some(why) = entry
            .as_ref()
            .and_then(|e| e.refusal(Some(u32::from(key.authenticator_version)), leaf))
        {
            return Err(refusal(
                StatusCode::RevokedAuthenticator,
                "metadataStatus",
                why,
            ));
        }
        let trust = match &key.attestation {
            Attestation::BasicFull { certificates, .. } => {
                let roots = entry
                    .as_ref()
                    .map(|e| crate::fido::TrustAnchors::from_der_list(&e.attestation_roots))
                    .transpose()
                    .ok()
                    .flatten()
                    .unwrap_or_else(crate::fido::TrustAnchors::empty);
                crate::fido::chain_to_anchors(certificates, &tenant.trust.merged(&roots), now)
            }
            Attestation::Surrogate { .. } => Err("surrogate attestation has no chain".into()),
        };
        let require_full = settings.is_some_and(|s| s.require_basic_full);
        let require_trusted =
            tenant.attestation.policy == crate::config::AttestationPolicyKind::RequireTrusted;
        if let Err(why) = &trust {
            if require_full || require_trusted {
                return Err(refusal(
                    StatusCode::UnacceptableAttestation,
                    "attestationTrust",
                    format!("the attestation is not trusted: {why}"),
                ));
            }
        }
        let model = entry.and_then(|e| e.description.clone());
        Ok((trust.is_ok(), model))
    }
}
