//! FIDO UAF 1.1 use cases for a tenant's apps: registration, authentication (with `text/plain`
//! transaction confirmation) and deregistration requests, and the responses verified by `uaf`.
//! A request's `serverData` names its stored ceremony and is MAC'd (HMAC-SHA256 over tenant,
//! operation and ceremony id) with the server-data key (`uaf-server-data.key`, shared by every
//! node), so a forged or altered one is refused before any lookup; the ceremony is bound to
//! tenant, operation and username, taken exactly once and expires. UAF keys live with the tenant's WebAuthn credentials (`CredentialRecord::uaf`), so
//! listing, renaming, disabling, deleting, the lock and the audit log treat them alike.

use ring::hmac;
use serde_json::Value;

use super::ceremony::Channel;
use super::tenant::Tenant;
use super::{AuditDraft, Engine, EngineError, KeyView, RequestCtx, Who};
use crate::domain::{b64url, b64url_decode, CredentialId, DisplayName, Username};
use crate::fido::mds::Lookup;
use crate::store::{
    AuditKind, Ceremony, CeremonyPurpose, CredentialRecord, Outcome, Refusal as StoreRefusal,
    SignedRequest, StoreError, UafKey,
};
use crate::uaf::{
    self, Attestation, Expectations, MatchCriteria, Op, Policy, StatusCode, StoredKey, UafRefusal,
};

/// What a UAF request call answers: the request message for the client (a JSON array) and how
/// long it lives.
#[derive(Debug, Clone)]
pub struct UafRequest {
    pub op: Op,
    pub message: Value,
    pub lifetime_millis: u64,
    /// The id `serverData` names (empty for a deregistration): what the OneSpan shape's
    /// `requestID` carries.
    pub id: String,
}

/// A verified UAF response: who, and which key.
#[derive(Debug, Clone)]
pub struct UafDone {
    pub username: String,
    pub aaid: String,
    pub key_id: String,
    /// The key as stored (after the counter update).
    pub key: KeyView,
}

/// What a caller that names the request itself (the OneSpan shape) expects of a response: its
/// user and the id its `serverData` must name.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub username: &'a str,
    pub id: &'a str,
}

/// The status a UAF call answers when it fails (HTTP 200 with this `statusCode`).
pub type UafResult<T> = Result<T, UafRefusal>;

/// The file of the key that MACs `serverData`, in the data directory.
pub const SERVER_DATA_KEY_FILE: &str = "uaf-server-data.key";

fn refusal(status: StatusCode, check: &'static str, detail: impl Into<String>) -> UafRefusal {
    UafRefusal {
        status,
        check,
        detail: detail.into(),
    }
}

/// An engine failure as a UAF status: client mistakes keep their meaning, the rest is 1500.
fn from_engine(e: EngineError) -> UafRefusal {
    match e {
        EngineError::UserNotFound(_) => refusal(StatusCode::NotFound, "username", "no such user"),
        EngineError::InvalidUsername(why) => refusal(StatusCode::BadRequest, "username", why),
        EngineError::TooManyRequests { .. } => refusal(
            StatusCode::Forbidden,
            "rateLimit",
            "too many requests for this user; try again later",
        ),
        EngineError::UserLocked { .. } => refusal(
            StatusCode::Forbidden,
            "lock",
            "too many failed attempts: this account is temporarily locked",
        ),
        other => {
            tracing::error!(error = ?other, "UAF call failed");
            refusal(
                StatusCode::InternalServerError,
                "server",
                "the server could not complete the call; try again",
            )
        }
    }
}

impl From<StoreError> for UafRefusal {
    fn from(e: StoreError) -> Self {
        from_engine(e.into())
    }
}

impl Engine {
    /// Sets the key that MACs `serverData` (once, at start).
    pub fn set_uaf_server_data_key(&self, key: [u8; 32]) {
        let _ = self
            .inner
            .uaf_key
            .set(hmac::Key::new(hmac::HMAC_SHA256, &key));
    }

    /// The tenant's AppID: `[tenants.uaf] app_id`, else `https://<rp_id>/<access_path>/uaf/facets`.
    pub fn uaf_app_id(&self, tenant: &Tenant) -> String {
        let uaf = tenant.settings.as_ref().map(|s| &s.uaf);
        match uaf.and_then(|u| u.app_id.clone()) {
            Some(app_id) => app_id,
            None => format!(
                "https://{}/{}/uaf/facets",
                tenant.relying_party.id,
                tenant.access_path.as_deref().unwrap_or_default()
            ),
        }
    }

    /// The tenant's trusted facets: `[tenants.uaf] trusted_facets`, else its `https://` origins.
    pub fn uaf_trusted_facets(&self, tenant: &Tenant) -> Vec<String> {
        let configured = tenant
            .settings
            .as_ref()
            .and_then(|s| s.uaf.trusted_facets.clone());
        configured.unwrap_or_else(|| {
            tenant
                .relying_party
                .origins
                .iter()
                .filter(|o| o.starts_with("https://"))
                .cloned()
                .collect()
        })
    }

    /// The policy of the tenant's requests: its `accepted_aaids`, else any UAFV1TLV authenticator.
    fn uaf_policy(&self, tenant: &Tenant) -> Policy {
        let accepted = tenant
            .settings
            .as_ref()
            .map(|s| s.uaf.accepted_aaids.clone())
            .unwrap_or_default();
        if accepted.is_empty() {
            Policy::any()
        } else {
            Policy {
                accepted: accepted
                    .iter()
                    .map(|aaid| {
                        vec![MatchCriteria {
                            aaid: Some(vec![aaid.clone()]),
                            assertion_schemes: Some(vec![uaf::messages::ASSERTION_SCHEME.into()]),
                            ..MatchCriteria::default()
                        }]
                    })
                    .collect(),
                disallowed: Vec::new(),
            }
        }
    }

    /// A registration request for `username` (made on first use, as in the AuthFi shape).
    pub fn uaf_registration_request(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        username: &str,
    ) -> UafResult<UafRequest> {
        let name = Username::parse(username)
            .map_err(|e| refusal(StatusCode::BadRequest, "username", e.0))?;
        self.count_challenge(tenant, &name).map_err(from_engine)?;
        let user = self
            .user_or_created(tenant, cx, &name, None)
            .map_err(from_engine)?;
        let (id, server_data, challenge, lifetime) =
            self.uaf_ceremony(tenant, Op::Reg, &user.username, None)?;
        let message = uaf::registration_request(
            &self.uaf_app_id(tenant),
            &server_data,
            &challenge,
            user.username.as_str(),
            &self.uaf_policy(tenant),
        );
        Ok(UafRequest {
            op: Op::Reg,
            message,
            lifetime_millis: lifetime,
            id,
        })
    }

    /// An authentication request for `username`, limited to their enabled UAF keys; with
    /// `transaction`, a `text/plain` transaction the authenticator shows and signs the hash of.
    pub fn uaf_authentication_request(
        &self,
        tenant: &Tenant,
        username: &str,
        transaction: Option<&str>,
    ) -> UafResult<UafRequest> {
        let user = self
            .find_user(tenant, Who::Name(username))
            .map_err(from_engine)?;
        self.count_challenge(tenant, &user.username)
            .map_err(from_engine)?;
        if let Some(text) = transaction {
            crate::fido::transaction::check_message(text)
                .map_err(|e| refusal(StatusCode::BadRequest, "transaction", e.to_string()))?;
        }
        let keys: Vec<(String, Vec<u8>)> = tenant
            .store()
            .credentials_of(&user.username)?
            .into_iter()
            .filter(|c| c.enabled)
            .filter_map(|c| c.uaf.map(|u| (u.aaid, c.id.as_bytes().to_vec())))
            .collect();
        if keys.is_empty() {
            return Err(refusal(
                StatusCode::NotFound,
                "keyID",
                "the user has no enabled UAF key; register one first",
            ));
        }
        let (id, server_data, challenge, lifetime) =
            self.uaf_ceremony(tenant, Op::Auth, &user.username, transaction)?;
        let message = uaf::authentication_request(
            &self.uaf_app_id(tenant),
            &server_data,
            &challenge,
            &Policy {
                accepted: keys
                    .iter()
                    .map(|(aaid, id)| {
                        vec![MatchCriteria {
                            aaid: Some(vec![aaid.clone()]),
                            key_ids: Some(vec![b64url(id)]),
                            ..MatchCriteria::default()
                        }]
                    })
                    .collect(),
                disallowed: Vec::new(),
            },
            transaction,
        );
        Ok(UafRequest {
            op: Op::Auth,
            message,
            lifetime_millis: lifetime,
            id,
        })
    }

    /// Deregisters at once the user's keys that `aaid` / `key_id` pick (neither: all of them;
    /// `aaid` alone: all of that AAID) and returns the `DeregistrationRequest` that tells the
    /// authenticators to forget them.
    pub fn uaf_deregistration_request(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        username: &str,
        aaid: Option<&str>,
        key_id: Option<&str>,
    ) -> UafResult<UafRequest> {
        let user = self
            .find_user(tenant, Who::Name(username))
            .map_err(from_engine)?;
        let key_id = key_id
            .map(|k| {
                b64url_decode(k).map_err(|_| {
                    refusal(
                        StatusCode::BadRequest,
                        "keyID",
                        "the keyID is not base64url",
                    )
                })
            })
            .transpose()?;
        let picked: Vec<CredentialRecord> = tenant
            .store()
            .credentials_of(&user.username)?
            .into_iter()
            .filter(|c| {
                c.uaf.as_ref().is_some_and(|u| {
                    aaid.is_none_or(|a| u.aaid.eq_ignore_ascii_case(a))
                        && key_id.as_deref().is_none_or(|k| k == c.id.as_bytes())
                })
            })
            .collect();
        if picked.is_empty() {
            return Err(refusal(
                StatusCode::NotFound,
                "keyID",
                "no UAF key of this user matches",
            ));
        }
        for record in &picked {
            match tenant.store().delete_credential(&user.username, &record.id) {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            self.audit(AuditDraft {
                kind: AuditKind::CredentialDeleted,
                actor: cx.actor(),
                username: Some(&user.username),
                credential_id: Some(&record.id),
                outcome: Outcome::Success,
                detail: "UAF key deregistered by the relying party".into(),
                cx,
            })
            .map_err(from_engine)?;
        }
        let whole_user = aaid.is_none() && key_id.is_none();
        let keys: Vec<(String, Vec<u8>)> = if whole_user {
            vec![(String::new(), Vec::new())]
        } else {
            picked
                .iter()
                .filter_map(|c| {
                    c.uaf
                        .as_ref()
                        .map(|u| (u.aaid.clone(), c.id.as_bytes().to_vec()))
                })
                .collect()
        };
        Ok(UafRequest {
            op: Op::Dereg,
            message: uaf::deregistration_request(&self.uaf_app_id(tenant), &keys),
            lifetime_millis: 0,
            id: String::new(),
        })
    }

    /// Verifies a `RegistrationResponse` and stores each new key for the ceremony's user.
    pub fn uaf_registration_response(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        message: &Value,
        expected: Option<Expected<'_>>,
    ) -> UafResult<UafDone> {
        let response = uaf::parse_response(message, Op::Reg)?;
        let ceremony = self.uaf_take(tenant, Op::Reg, &response.server_data, expected)?;
        let username = ceremony_user(&ceremony)?;
        let result = self.uaf_register_verified(tenant, cx, &ceremony, &username, &response);
        if let Err(e) = &result {
            self.audit_uaf(cx, AuditKind::FidoRegistration, &username, None, e)?;
        }
        result
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
            let (trusted, model) = self.uaf_judge(tenant, &key)?;
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
            let (format, raw) = match &key.attestation {
                Attestation::BasicFull { .. } => ("uaf-basic-full", response.assertions.clone()),
                Attestation::Surrogate { .. } => {
                    ("uaf-basic-surrogate", response.assertions.clone())
                }
            };
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
                attestation_object: raw.concat(),
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
        key: &uaf::VerifiedKey,
    ) -> UafResult<(bool, Option<String>)> {
        let now = self.now();
        let settings = tenant.settings.as_ref().map(|s| &s.uaf);
        let accepted = settings
            .map(|s| s.accepted_aaids.as_slice())
            .unwrap_or_default();
        if !accepted.is_empty() && !accepted.iter().any(|a| a.eq_ignore_ascii_case(&key.aaid)) {
            return Err(refusal(
                StatusCode::UnacceptableAuthenticator,
                "aaid",
                format!(
                    "the authenticator {} is not one this relying party accepts",
                    key.aaid
                ),
            ));
        }
        let metadata = self.metadata();
        let entry = metadata
            .as_ref()
            .and_then(|m| m.blob.find(Lookup::Aaid(&key.aaid)).cloned());
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

    /// Verifies an `AuthenticationResponse` against the ceremony and the user's stored key,
    /// and updates the key's counter in one compare-and-set.
    pub fn uaf_authentication_response(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        message: &Value,
        expected: Option<Expected<'_>>,
    ) -> UafResult<UafDone> {
        let response = uaf::parse_response(message, Op::Auth)?;
        let ceremony = self.uaf_take(tenant, Op::Auth, &response.server_data, expected)?;
        let username = ceremony_user(&ceremony)?;
        let result = self.uaf_authenticated(tenant, cx, &ceremony, &username, &response);
        if let Err(e) = &result {
            self.audit_uaf(cx, AuditKind::FidoAuthentication, &username, None, e)?;
        }
        result
    }

    fn uaf_authenticated(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        ceremony: &Ceremony,
        username: &Username,
        response: &uaf::Response,
    ) -> UafResult<UafDone> {
        let app_id = self.uaf_app_id(tenant);
        let facets = self.uaf_trusted_facets(tenant);
        let challenge = b64url(&ceremony.challenge);
        let store = tenant.store();
        let lookup = |aaid: &str, key_id: &[u8]| -> Option<StoredKey> {
            let id = CredentialId::from_bytes(key_id.to_vec()).ok()?;
            let record = store.credential(&id).ok()??;
            let key = record.uaf.as_ref()?;
            (record.username == *username
                && record.enabled
                && key.aaid.eq_ignore_ascii_case(aaid)
                && ceremony.allowed_credentials.contains(&id))
            .then(|| StoredKey {
                public_key: record.public_key.clone(),
                key_encoding: key.key_encoding,
                sign_alg: key.sign_alg,
                sign_counter: record.sign_count,
            })
        };
        let transaction = ceremony.signed.as_ref().and_then(|s| {
            s.content["authenticationMessage"]
                .as_str()
                .map(str::to_owned)
        });
        let verified = uaf::verify_authentication(
            response,
            &Expectations {
                app_id: &app_id,
                challenge: &challenge,
                trusted_facets: &facets,
                policy: &Policy::any(),
            },
            &lookup,
            transaction.as_deref().map(str::as_bytes),
        )?;
        let id = CredentialId::from_bytes(verified.key_id.clone())
            .map_err(|e| refusal(StatusCode::UnknownKeyId, "keyID", e.0))?;
        if let Some(why) = self.metadata().and_then(|m| {
            m.blob
                .find(Lookup::Aaid(&verified.aaid))
                .and_then(|e| e.refusal(None, None))
        }) {
            return Err(refusal(
                StatusCode::RevokedAuthenticator,
                "metadataStatus",
                why,
            ));
        }
        let now = self.now();
        let received = verified.sign_counter;
        let update = store.update_credential(&id, &mut |current| {
            let stored = current.sign_count;
            if (stored != 0 || received != 0) && received <= stored {
                return Err(StoreError::Refused(StoreRefusal::CounterNotIncreased {
                    stored,
                    received,
                }));
            }
            if !current.enabled {
                return Err(StoreError::Refused(StoreRefusal::CredentialDisabled));
            }
            current.sign_count = received;
            current.last_used_at = Some(now);
            Ok(())
        });
        let updated = match update {
            Ok(updated) => updated,
            Err(StoreError::Refused(why)) => {
                return Err(refusal(
                    StatusCode::UnacceptableContent,
                    "signCount",
                    why.to_string(),
                ))
            }
            Err(StoreError::NotFound) => {
                return Err(refusal(
                    StatusCode::UnknownKeyId,
                    "keyID",
                    "this key was deleted meanwhile",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        self.audit(AuditDraft {
            kind: if transaction.is_some() {
                AuditKind::TransactionValidated
            } else {
                AuditKind::FidoAuthentication
            },
            actor: cx.actor(),
            username: Some(username),
            credential_id: Some(&id),
            outcome: Outcome::Success,
            detail: match &transaction {
                Some(_) => "UAF transaction confirmed on the authenticator".into(),
                None => "signed in with a UAF key".into(),
            },
            cx,
        })
        .map_err(from_engine)?;
        Ok(UafDone {
            username: username.to_string(),
            aaid: verified.aaid,
            key_id: b64url(&verified.key_id),
            key: KeyView::of(&updated),
        })
    }

    /// Stores a UAF ceremony; returns its id, `serverData`, challenge (base64url) and lifetime.
    fn uaf_ceremony(
        &self,
        tenant: &Tenant,
        op: Op,
        username: &Username,
        transaction: Option<&str>,
    ) -> UafResult<(String, String, String, u64)> {
        let timeout = self.backend_timeout(tenant);
        let challenge = self.new_challenge();
        let allowed = match op {
            Op::Auth => tenant
                .store()
                .credentials_of(username)?
                .into_iter()
                .filter(|c| c.uaf.is_some() && c.enabled)
                .map(|c| c.id)
                .collect(),
            _ => Vec::new(),
        };
        let ceremony = Ceremony {
            challenge: challenge.clone(),
            purpose: match op {
                Op::Reg => CeremonyPurpose::Registration,
                _ => CeremonyPurpose::Authentication,
            },
            tenant: Some(tenant.id.clone()),
            username: Some(username.clone()),
            user_handle: None,
            credential_name: None,
            require_user_verification: true,
            algorithms: Vec::new(),
            allowed_credentials: allowed,
            expires_at: self.now() + timeout,
            signed: transaction.map(|text| SignedRequest {
                content: serde_json::json!({ "authenticationMessage": text }),
                nonce: Vec::new(),
                merchant_origin: None,
            }),
            payment: false,
        };
        let id = crate::engine::random_id();
        let key = Channel::Uaf.ceremony_key(&tenant.id, op_name(op), id.as_bytes());
        tenant.store().put_ceremony_at(&key, &ceremony)?;
        let mac = hmac::sign(
            &self.uaf_key()?,
            server_data_message(&tenant.id, op, &id).as_bytes(),
        );
        Ok((
            id.clone(),
            format!("{id}.{}", b64url(mac.as_ref())),
            b64url(&challenge),
            timeout.num_milliseconds().max(0) as u64,
        ))
    }

    /// Checks `serverData`'s MAC, then takes its ceremony (once); a ceremony of another user,
    /// operation or tenant cannot be named, a lapsed one is a timeout.
    fn uaf_take(
        &self,
        tenant: &Tenant,
        op: Op,
        server_data: &str,
        expected: Option<Expected<'_>>,
    ) -> UafResult<Ceremony> {
        let invalid = || {
            refusal(
                StatusCode::RequestInvalid,
                "serverData",
                "serverData is not one this server issued for this operation, or was used already",
            )
        };
        let (id, mac) = server_data.split_once('.').ok_or_else(invalid)?;
        if expected.is_some_and(|e| e.id != id) {
            return Err(refusal(
                StatusCode::RequestInvalid,
                "requestID",
                "the response answers another request than this requestID",
            ));
        }
        let mac = b64url_decode(mac).map_err(|_| invalid())?;
        let message = server_data_message(&tenant.id, op, id);
        hmac::verify(&self.uaf_key()?, message.as_bytes(), &mac).map_err(|_| invalid())?;
        let key = Channel::Uaf.ceremony_key(&tenant.id, op_name(op), id.as_bytes());
        let ceremony = tenant.store().take_ceremony(&key)?.ok_or_else(invalid)?;
        if let Some(e) = expected {
            if ceremony.signed.is_some() {
                return Err(refusal(
                    StatusCode::RequestInvalid,
                    "requestID",
                    "this requestID is of a transaction to confirm, not of a login",
                ));
            }
            if ceremony.username.as_ref().map(Username::as_str) != Some(e.username) {
                return Err(refusal(
                    StatusCode::RequestInvalid,
                    "username",
                    "this request was issued for another user",
                ));
            }
        }
        if ceremony.expires_at <= self.now() {
            return Err(refusal(
                StatusCode::RequestTimeout,
                "serverData",
                "the request expired; ask for a new one",
            ));
        }
        Ok(ceremony)
    }

    fn uaf_key(&self) -> UafResult<hmac::Key> {
        self.inner.uaf_key.get().cloned().ok_or_else(|| {
            from_engine(EngineError::Internal(
                "no UAF server-data key was set at start".into(),
            ))
        })
    }

    fn audit_uaf(
        &self,
        cx: &RequestCtx,
        kind: AuditKind,
        username: &Username,
        credential: Option<&CredentialId>,
        e: &UafRefusal,
    ) -> UafResult<()> {
        self.audit(AuditDraft {
            kind,
            actor: format!("user:{username}"),
            username: Some(username),
            credential_id: credential,
            outcome: Outcome::Failure,
            detail: format!(
                "UAF {} refused ({}, {}): {}",
                match kind {
                    AuditKind::FidoRegistration => "registration",
                    _ => "authentication",
                },
                e.status.code(),
                e.check,
                e.detail
            ),
            cx,
        })
        .map_err(from_engine)
    }
}

/// What the MAC of `serverData` covers: tenant, operation and ceremony id (the stored
/// ceremony names the user).
fn server_data_message(tenant: &str, op: Op, id: &str) -> String {
    format!("fidoflow-uaf-1|{tenant}|{}|{id}", op_name(op))
}

fn ceremony_user(ceremony: &Ceremony) -> UafResult<Username> {
    ceremony.username.clone().ok_or_else(|| {
        refusal(
            StatusCode::RequestInvalid,
            "serverData",
            "the request names no user",
        )
    })
}

/// The name of an operation in store keys and MACs.
fn op_name(op: Op) -> &'static str {
    match op {
        Op::Reg => "Reg",
        Op::Auth => "Auth",
        Op::Dereg => "Dereg",
    }
}
