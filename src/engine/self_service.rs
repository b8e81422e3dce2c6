//! Protected self-service: the flow list, selecting and ending a flow, FIDO registration, and
//! the user's credential list.

use serde_json::{json, Value};

use super::{
    aaguid_string, model_name, new_challenge, random_id, rfc3339, Answer, AuditDraft, Engine,
    EngineError, EngineResult, Limited, NextStep, RequestCtx, SessionData,
};
use crate::domain::{CredentialId, DisplayName, Username};
use crate::fido::options::{self, CredentialDescriptor};
use crate::fido::{self as webauthn, AttestationPolicy, RegistrationExpectations};
use crate::flow::definitions::Step;
use crate::flow::machine::{self, Advance, Call, Facts, Progress, RunningFlow};
use crate::flow::{Condition, ConditionContext, FlowDefinition, FlowKind};
use crate::store::{
    AuditKind, Ceremony, CeremonyPurpose, CredentialRecord, Outcome, StoreError, UserRecord,
};

const SESSION_DOC: &str = "self-service.session";
const REGISTRATION_NEXT: NextStep =
    NextStep::Step("FIDO_REGISTRATION_CHALLENGE_RETRIEVAL_REQUIRED");

impl Engine {
    /// The signed-in user, or `401 NOT_AUTHORIZED`.
    fn signed_in(&self, s: &SessionData) -> EngineResult<UserRecord> {
        let not_authorized = || EngineError::NotAuthorized {
            detail: "sign in first: this needs an authenticated session".into(),
            next_auth_step: None,
        };
        let login = s.login.as_ref().ok_or_else(not_authorized)?;
        self.store()
            .user(&login.username)?
            .ok_or_else(not_authorized)
    }

    fn condition_context<'a>(
        &self,
        s: &'a SessionData,
        user: &UserRecord,
        credentials: &[CredentialRecord],
    ) -> ConditionContext<'a> {
        ConditionContext {
            now: self.now(),
            authenticated_at: s.login.as_ref().map(|l| l.authenticated_at),
            tags: s.login.as_ref().map_or(&[], |l| l.tags.as_slice()),
            user_has_password: user.password_hash.is_some(),
            user_has_enabled_credential: credentials.iter().any(|c| c.enabled),
        }
    }

    fn self_service_flows(&self) -> impl Iterator<Item = &FlowDefinition> {
        self.inner
            .registry
            .flows()
            .filter(|f| f.kind == FlowKind::SelfService)
    }

    /// `GET /flows`.
    pub fn list_flows(&self, s: &SessionData) -> EngineResult {
        let user = self.signed_in(s)?;
        let credentials = self.store().credentials_of(&user.username)?;
        let cx = self.condition_context(s, &user, &credentials);
        Ok(Answer::many(
            self.self_service_flows()
                .map(|f| super::Resource {
                    doc_type: "self-service.flow",
                    id: f.id.to_string(),
                    attributes: json!({ "available": Condition::all_hold(&f.access, &cx) }),
                })
                .collect(),
        ))
    }

    /// `POST /flows/{flowId}/select`.
    pub fn select_flow(&self, s: &mut SessionData, flow_id: &str) -> EngineResult {
        let user = self.signed_in(s)?;
        let def = self
            .self_service_flows()
            .find(|f| f.id.as_str() == flow_id)
            .ok_or_else(|| EngineError::FlowNotFound(flow_id.to_string()))?;
        if let Some(running) = &s.self_service {
            if running.id != def.id {
                return Err(EngineError::UnexpectedCall {
                    detail: format!(
                        "the flow `{}` is running; finish it or end it with DELETE /flow first",
                        running.id
                    ),
                    next: self.next_self_service_step(running).map(NextStep::Step),
                });
            }
        }
        let credentials = self.store().credentials_of(&user.username)?;
        let cx = self.condition_context(s, &user, &credentials);
        if !Condition::all_hold(&def.access, &cx) {
            return Err(EngineError::PreconditionNotFulfilled(format!(
                "the flow `{flow_id}` is not available for this account"
            )));
        }
        if !Condition::all_hold(&def.authorization, &cx) {
            return Err(EngineError::StepUpRequired(format!(
                "the flow `{flow_id}` needs a more recent sign-in; authenticate again"
            )));
        }
        if let Some(previous) = s.self_service.take() {
            self.spend_ceremony_of(&previous)?;
        }
        let flow = machine::start(def.id.clone(), &def.steps, random_id(), Some(user.username));
        let next = machine::next_step_name(&def.steps, &flow);
        let id = flow.instance.clone();
        s.self_service = Some(flow);
        Ok(Answer::one(SESSION_DOC, id, json!({ "nextStep": next })))
    }

    /// `DELETE /rest/protected/self-service/flow`.
    pub fn end_self_service_flow(&self, s: &mut SessionData) -> EngineResult {
        self.signed_in(s)?;
        if let Some(flow) = s.self_service.take() {
            self.spend_ceremony_of(&flow)?;
        }
        Ok(Answer::one(SESSION_DOC, random_id(), json!({})))
    }

    fn next_self_service_step(&self, flow: &RunningFlow) -> Option<&'static str> {
        let def = self.inner.registry.flow(flow.id.as_str())?;
        machine::next_step_name(&def.steps, flow)
    }

    /// The running self-service flow and its current step, if `call` fits it.
    fn running_step(
        &self,
        s: &SessionData,
        call: Call,
    ) -> EngineResult<(RunningFlow, &FlowDefinition, Step)> {
        let unexpected = |next: Option<&'static str>| EngineError::UnexpectedCall {
            detail: match next {
                Some(step) => format!("this call does not fit the current step ({step})"),
                None => "no self-service flow is running; select one first".into(),
            },
            next: next.map(NextStep::Step),
        };
        let flow = s.self_service.clone().ok_or_else(|| unexpected(None))?;
        let def = self
            .inner
            .registry
            .flow(flow.id.as_str())
            .ok_or_else(|| unexpected(None))?;
        let step = machine::accept(&def.steps, &flow, call)
            .map_err(|_| unexpected(machine::next_step_name(&def.steps, &flow)))?
            .clone();
        Ok((flow, def, step))
    }

    /// `POST /fido/registration/challenge/retrieve`.
    pub fn registration_challenge(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        display_name: Option<&str>,
    ) -> EngineResult {
        let user = self.signed_in(s)?;
        let (mut flow, _, step) = self.running_step(s, Call::RegistrationChallenge)?;
        let name = display_name
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        self.inner.limits.check(
            Limited::Challenge,
            cx.remote_address.as_deref(),
            Some(user.username.as_str()),
            self.now(),
        )?;
        // A new challenge spends the previous one.
        self.spend_ceremony_of(&flow)?;
        let options = self.creation_options(&user, &step, name)?;
        flow.progress = Progress::ResponseRequired {
            ceremony: options.1,
        };
        let id = flow.instance.clone();
        s.self_service = Some(flow);
        Ok(Answer::one(
            "self-service.fido.registration.challenge",
            id,
            json!({ "publicKeyCredentialCreationOptions": options.0 }),
        ))
    }

    /// Builds creation options for `user` and stores the ceremony; returns the options and the
    /// ceremony id.
    fn creation_options(
        &self,
        user: &UserRecord,
        step: &Step,
        name: Option<DisplayName>,
    ) -> EngineResult<(Value, String)> {
        let Step::FidoRegistration {
            user_verification,
            resident_key,
            attestation,
            timeout,
            algorithms,
            ..
        } = step
        else {
            return Err(EngineError::Internal("not a registration step".into()));
        };
        let timeout = self.ceremony_timeout(*timeout);
        let existing = self.store().credentials_of(&user.username)?;
        let challenge = new_challenge();
        let ceremony = Ceremony {
            challenge: challenge.clone(),
            purpose: CeremonyPurpose::Registration,
            username: Some(user.username.clone()),
            user_handle: Some(user.handle.clone()),
            credential_name: name,
            require_user_verification: *user_verification
                == crate::flow::definitions::UserVerification::Required,
            algorithms: algorithms.clone(),
            allowed_credentials: Vec::new(),
            expires_at: self.now() + timeout,
        };
        let ceremony_id = self.store().put_ceremony(&ceremony)?;
        let exclude: Vec<CredentialDescriptor<'_>> = existing
            .iter()
            .map(|c| CredentialDescriptor {
                id: c.id.as_bytes(),
                transports: &c.transports,
            })
            .collect();
        let rp = &self.inner.settings.relying_party;
        let person = user
            .display_name
            .as_ref()
            .map_or(user.username.as_str(), |d| d.as_str());
        let value = options::creation_options(&options::CreationOptions {
            rp_id: &rp.id,
            rp_name: &rp.name,
            user_handle: user.handle.as_bytes(),
            user_name: user.username.as_str(),
            user_display_name: person,
            challenge: &challenge,
            algorithms,
            timeout_ms: timeout.num_milliseconds() as u64,
            exclude: &exclude,
            resident_key: resident_key.as_str(),
            user_verification: user_verification.as_str(),
            attestation: attestation.as_str(),
        });
        Ok((value, ceremony_id))
    }

    /// `POST /fido/registration/attestation-response/check`.
    pub fn attestation_response(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        credential: &Value,
    ) -> EngineResult {
        let user = self.signed_in(s)?;
        let (flow, def, _) = self.running_step(s, Call::AttestationResponse)?;
        let record = self.verify_and_store_registration(s, cx, &user, flow.clone(), credential)?;
        let flow = machine::back_to_challenge(flow);
        match machine::advance(&def.steps, flow, Facts::default(), self.now()) {
            Advance::Next(next) => {
                let step = machine::next_step_name(&def.steps, &next);
                let id = next.instance.clone();
                s.self_service = Some(next);
                Ok(Answer::one(SESSION_DOC, id, json!({ "nextStep": step })))
            }
            Advance::Completed(_) | Advance::NoValidToken => {
                s.self_service = None;
                Ok(Answer::one(SESSION_DOC, record.id.to_b64url(), json!({})))
            }
        }
    }

    /// Takes the flow's ceremony (spent whatever happens next), verifies the response and
    /// stores the credential. On failure the step waits for a new challenge.
    fn verify_and_store_registration(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        user: &UserRecord,
        flow: RunningFlow,
        credential: &Value,
    ) -> EngineResult<CredentialRecord> {
        let now = self.now();
        let Progress::ResponseRequired {
            ceremony: ceremony_id,
        } = &flow.progress
        else {
            return Err(EngineError::Internal("no ceremony".into()));
        };
        let ceremony = self.store().take_ceremony(ceremony_id)?;
        s.self_service = Some(machine::back_to_challenge(flow.clone()));
        let fail = |detail: String| EngineError::FidoRegistrationFailed {
            detail,
            next: REGISTRATION_NEXT,
        };
        let Some(ceremony) = ceremony else {
            return Err(fail(
                "the challenge was already used; retrieve a new one".into(),
            ));
        };
        if ceremony.expires_at <= now {
            self.audit_registration(
                cx,
                &user.username,
                None,
                Outcome::Failure,
                "the challenge expired",
            )?;
            return Err(EngineError::FidoRegistrationTimeout {
                next: REGISTRATION_NEXT,
            });
        }
        if ceremony.username.as_ref() != Some(&user.username) {
            return Err(fail("the challenge was issued to another user".into()));
        }
        let settings = &self.inner.settings;
        let policy = match settings.attestation.policy {
            crate::config::AttestationPolicyKind::AcceptAny => AttestationPolicy::AcceptAny,
            crate::config::AttestationPolicyKind::RequireTrusted => {
                AttestationPolicy::RequireTrusted
            }
        };
        let verified = webauthn::verify_registration(
            credential,
            &RegistrationExpectations {
                challenge: &ceremony.challenge,
                rp_id: &settings.relying_party.id,
                origins: &settings.relying_party.origins,
                allow_cross_origin: settings.relying_party.allow_cross_origin,
                top_origins: &settings.relying_party.top_origins,
                require_user_verification: ceremony.require_user_verification,
                algorithms: &ceremony.algorithms,
                policy,
                trust_anchors: &self.inner.trust,
                now,
            },
        );
        let verified = match verified {
            Ok(v) => v,
            Err(e) => {
                tracing::info!(check = e.check(), "registration refused");
                let detail = format!("registration refused ({}): {e}", e.check());
                self.audit_registration(cx, &user.username, None, Outcome::Failure, &detail)?;
                return Err(fail(detail));
            }
        };
        let id = CredentialId::from_bytes(verified.credential_id.clone())
            .map_err(|e| fail(format!("registration refused (credentialId): {}", e.0)))?;
        let aaguid = aaguid_string(&verified.aaguid);
        let model = model_name(&aaguid).map(str::to_string);
        let existing = self.store().credentials_of(&user.username)?;
        let display_name = match (&ceremony.credential_name, &model) {
            (Some(name), _) => name.clone(),
            (None, Some(model)) => {
                DisplayName::parse(model).map_err(|e| EngineError::Internal(e.0))?
            }
            (None, None) => DisplayName::parse(&format!("Passkey {}", existing.len() + 1))
                .map_err(|e| EngineError::Internal(e.0))?,
        };
        let record = CredentialRecord {
            id: id.clone(),
            username: user.username.clone(),
            user_handle: user.handle.clone(),
            public_key: verified.public_key,
            algorithm: verified.algorithm,
            sign_count: verified.sign_count,
            aaguid,
            authenticator_name: model,
            attestation_format: verified.format,
            attestation_trusted: verified.attestation_trusted,
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
        };
        match self.store().insert_credential(&record) {
            Ok(()) => {}
            Err(StoreError::CredentialExists) => {
                let detail = "registration refused (credentialId): this authenticator's credential is already registered";
                self.audit_registration(cx, &user.username, Some(&id), Outcome::Failure, detail)?;
                return Err(fail(detail.into()));
            }
            Err(StoreError::NotFound) => {
                return Err(EngineError::NotAuthorized {
                    detail: "the account no longer exists".into(),
                    next_auth_step: None,
                })
            }
            Err(e) => return Err(e.into()),
        }
        self.audit_registration(
            cx,
            &user.username,
            Some(&id),
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
        Ok(record)
    }

    fn audit_registration(
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

    /// `GET /fido/credentials`.
    pub fn my_credentials(&self, s: &SessionData) -> EngineResult {
        let user = self.signed_in(s)?;
        let credentials = self.store().credentials_of(&user.username)?;
        Ok(Answer::many(
            credentials
                .iter()
                .map(|c| super::Resource {
                    doc_type: "my.token.fido.credential",
                    id: c.id.to_b64url(),
                    attributes: credential_attributes(c),
                })
                .collect(),
        ))
    }
}

/// The attributes of a credential in every list (self-service and helpdesk).
pub fn credential_attributes(c: &CredentialRecord) -> Value {
    json!({
        "displayName": c.display_name,
        "aaguid": c.aaguid,
        "authenticatorName": c.authenticator_name,
        "attestationFormat": c.attestation_format,
        "attestationTrusted": c.attestation_trusted,
        "createdAt": rfc3339(c.created_at),
        "lastUsedAt": c.last_used_at.map(rfc3339),
        "signCount": c.sign_count,
        "transports": c.transports,
        "backupEligible": c.backup_eligible,
        "backupState": c.backup_state,
        "discoverable": c.discoverable,
        "userVerified": c.user_verified,
        "enabled": c.enabled,
        "disabledBy": c.disabled_by,
    })
}
