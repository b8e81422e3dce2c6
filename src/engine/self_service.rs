//! Protected self-service: the flow list, selecting and ending a flow, FIDO registration, and
//! the user's credential list.

use serde_json::{json, Value};

use super::{
    aaguid_string, new_challenge, random_id, rfc3339, Answer, AuditDraft, Engine, EngineError,
    EngineResult, Limited, NextStep, RequestCtx, SessionData,
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

pub(super) fn registration_failed(detail: String) -> EngineError {
    EngineError::FidoRegistrationFailed {
        detail,
        next: REGISTRATION_NEXT,
    }
}

impl Engine {
    /// The signed-in user, or `401 NOT_AUTHORIZED`.
    pub(super) fn signed_in(&self, s: &SessionData) -> EngineResult<UserRecord> {
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

    /// The running flow of `kind` and its current step, if `call` fits it.
    pub(super) fn running_step(
        &self,
        s: &SessionData,
        call: Call,
        kind: FlowKind,
    ) -> EngineResult<(RunningFlow, &FlowDefinition, Step)> {
        let unexpected = |next: Option<&'static str>| EngineError::UnexpectedCall {
            detail: match next {
                Some(step) => format!("this call does not fit the current step ({step})"),
                None => "no flow of this kind is running; select one first".into(),
            },
            next: next.map(NextStep::Step),
        };
        let flow = s.self_service.clone().ok_or_else(|| unexpected(None))?;
        let def = self
            .inner
            .registry
            .flow(flow.id.as_str())
            .filter(|d| d.kind == kind)
            .ok_or_else(|| unexpected(None))?;
        let step = machine::accept(&def.steps, &flow, call)
            .map_err(|_| unexpected(machine::next_step_name(&def.steps, &flow)))?
            .clone();
        Ok((flow, def, step))
    }

    /// `POST /rest/protected/self-service/fido/registration/challenge/retrieve`.
    pub fn registration_challenge(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        display_name: Option<&str>,
    ) -> EngineResult {
        let user = self.signed_in(s)?;
        let (flow, _, step) =
            self.running_step(s, Call::RegistrationChallenge, FlowKind::SelfService)?;
        let options = self.issue_registration(s, cx, flow, &step, &user, display_name)?;
        Ok(Answer::one(
            "self-service.fido.registration.challenge",
            s.self_service
                .as_ref()
                .map_or_else(String::new, |f| f.instance.clone()),
            json!({ "publicKeyCredentialCreationOptions": options }),
        ))
    }

    /// Spends the flow's previous challenge, stores a new registration ceremony for `user` and
    /// returns its creation options; the flow then waits for the response.
    pub(super) fn issue_registration(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        mut flow: RunningFlow,
        step: &Step,
        user: &UserRecord,
        display_name: Option<&str>,
    ) -> EngineResult<Value> {
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
        self.spend_ceremony_of(&flow)?;
        let (options, ceremony) = self.creation_options(user, step, name)?;
        flow.progress = Progress::ResponseRequired { ceremony };
        s.self_service = Some(flow);
        Ok(options)
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

    /// `POST /rest/protected/self-service/fido/registration/attestation-response/check`.
    pub fn attestation_response(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        credential: &Value,
    ) -> EngineResult {
        let user = self.signed_in(s)?;
        let (flow, def, _) =
            self.running_step(s, Call::AttestationResponse, FlowKind::SelfService)?;
        let ceremony = self.take_registration_ceremony(s, cx, &flow, &user.username)?;
        let record =
            self.verified_credential(cx, &ceremony, &user.username, &user.handle, credential)?;
        match self.store().insert_credential(&record) {
            Ok(()) => {}
            Err(StoreError::CredentialExists) => return Err(self.already_registered(cx, &record)?),
            Err(StoreError::NotFound) => {
                return Err(EngineError::NotAuthorized {
                    detail: "the account no longer exists".into(),
                    next_auth_step: None,
                })
            }
            Err(e) => return Err(e.into()),
        }
        self.audit_registered(cx, &record)?;
        let flow = machine::back_to_challenge(flow);
        self.advance_flow(s, cx, def, flow, SESSION_DOC)
    }

    /// Takes the flow's registration ceremony out (spent whatever happens next); the step then
    /// waits for a new challenge. Refuses an expired or foreign one.
    pub(super) fn take_registration_ceremony(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        flow: &RunningFlow,
        username: &Username,
    ) -> EngineResult<Ceremony> {
        let Progress::ResponseRequired {
            ceremony: ceremony_id,
        } = &flow.progress
        else {
            return Err(EngineError::Internal("no ceremony".into()));
        };
        let ceremony = self.store().take_ceremony(ceremony_id)?;
        s.self_service = Some(machine::back_to_challenge(flow.clone()));
        let Some(ceremony) = ceremony else {
            return Err(registration_failed(
                "the challenge was already used; retrieve a new one".into(),
            ));
        };
        if ceremony.expires_at <= self.now() {
            self.audit_registration(
                cx,
                username,
                None,
                Outcome::Failure,
                "the challenge expired",
            )?;
            return Err(EngineError::FidoRegistrationTimeout {
                next: REGISTRATION_NEXT,
            });
        }
        if ceremony.username.as_ref() != Some(username) {
            return Err(registration_failed(
                "the challenge was issued to another user".into(),
            ));
        }
        Ok(ceremony)
    }

    /// Verifies a registration response against its ceremony and builds the credential record
    /// (not yet stored).
    pub(super) fn verified_credential(
        &self,
        cx: &RequestCtx,
        ceremony: &Ceremony,
        username: &Username,
        handle: &crate::domain::UserHandle,
        credential: &Value,
    ) -> EngineResult<CredentialRecord> {
        let now = self.now();
        let settings = &self.inner.settings;
        // Trust is judged below, with the FIDO metadata roots of the authenticator added to the
        // configured anchors, and the attestation policies applied there.
        let policy = AttestationPolicy::AcceptAny;
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
                accept_unknown_formats: settings.attestation.accept_unknown_formats
                    && !settings.attestation.demands_trust(),
                formats: webauthn::FormatPolicy::default(),
            },
        );
        let verified = match verified {
            Ok(v) => v,
            Err(e) => {
                tracing::info!(check = e.check(), "registration refused");
                let detail = format!("registration refused ({}): {e}", e.check());
                self.audit_registration(cx, username, None, Outcome::Failure, &detail)?;
                return Err(registration_failed(detail));
            }
        };
        let id = CredentialId::from_bytes(verified.credential_id.clone()).map_err(|e| {
            registration_failed(format!("registration refused (credentialId): {}", e.0))
        })?;
        let aaguid = aaguid_string(&verified.aaguid);
        let judged = self.judge_attestation(&verified, now);
        if let Err((check, reason)) = self.attestation_policy_refusal(&aaguid, &judged) {
            tracing::info!(check, "registration refused");
            let detail = format!("registration refused ({check}): {reason}");
            self.audit_registration(cx, username, None, Outcome::Failure, &detail)?;
            return Err(registration_failed(detail));
        }
        let model = self.model_name_from(judged.entry.as_ref(), &aaguid);
        let existing = self.store().credentials_of(username)?;
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
            user_handle: handle.clone(),
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
        })
    }

    /// The refusal of a credential id that is registered already (to anyone), audited.
    pub(super) fn already_registered(
        &self,
        cx: &RequestCtx,
        record: &CredentialRecord,
    ) -> EngineResult<EngineError> {
        let detail = "registration refused (credentialId): this authenticator's credential is already registered";
        self.audit_registration(
            cx,
            &record.username,
            Some(&record.id),
            Outcome::Failure,
            detail,
        )?;
        Ok(registration_failed(detail.into()))
    }

    pub(super) fn audit_registered(
        &self,
        cx: &RequestCtx,
        record: &CredentialRecord,
    ) -> EngineResult<()> {
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
        )
    }

    /// Moves a self-service or sign-up flow on after a successful step, running `apply` steps
    /// as they come; answers the next step, or `{}` when the flow is done.
    pub(super) fn advance_flow(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        def: &FlowDefinition,
        flow: RunningFlow,
        doc_type: &'static str,
    ) -> EngineResult {
        let instance = flow.instance.clone();
        let mut next = match machine::advance(&def.steps, flow, Facts::default(), self.now()) {
            Advance::Next(next) => next,
            Advance::Completed(_) | Advance::NoValidToken => {
                s.self_service = None;
                return Ok(Answer::one(doc_type, instance, json!({})));
            }
        };
        while let Some(Step::Apply {
            action,
            allow_last_credential,
        }) = def.steps.get(next.step)
        {
            s.self_service = None;
            self.apply_change(s, cx, &next, *action, *allow_last_credential)?;
            next = match machine::advance(&def.steps, next, Facts::default(), self.now()) {
                Advance::Next(n) => n,
                Advance::Completed(_) | Advance::NoValidToken => {
                    return Ok(Answer::one(doc_type, instance, json!({})));
                }
            };
        }
        let step = machine::next_step_name(&def.steps, &next);
        s.self_service = Some(next);
        Ok(Answer::one(doc_type, instance, json!({ "nextStep": step })))
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
                    attributes: self.credential_attributes(c),
                })
                .collect(),
        ))
    }
}

impl Engine {
    /// The attributes of a credential in every list (self-service and helpdesk).
    pub(super) fn credential_attributes(&self, c: &CredentialRecord) -> Value {
        let mut attributes = stored_attributes(c);
        attributes["authenticatorIcon"] = json!(self.authenticator_icon(c));
        attributes
    }
}

fn stored_attributes(c: &CredentialRecord) -> Value {
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
