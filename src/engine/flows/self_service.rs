//! Protected self-service: the flow list, selecting and ending a flow, FIDO registration, and
//! the user's credential list.

use serde_json::Value;

use crate::engine::Channel;

use super::{ChallengeIssued, CredentialView, FlowOffer, StepDone};
use crate::domain::DisplayName;
use crate::engine::ceremony::{CeremonyError, RefusalKind};
use crate::engine::registration::{NewCredential, RegistrationOptions};
use crate::engine::{
    random_id, Engine, EngineError, EngineResult, Limited, NextStep, RequestCtx, SessionData,
};
use crate::flow::definitions::Step;
use crate::flow::machine::{self, Advance, Call, Facts, Progress, RunningFlow};
use crate::flow::{Condition, ConditionContext, FlowDefinition, FlowKind};
use crate::store::{Ceremony, CredentialRecord, DisabledBy, UserRecord};

const REGISTRATION_NEXT: NextStep =
    NextStep::Step("FIDO_REGISTRATION_CHALLENGE_RETRIEVAL_REQUIRED");

/// The Loginapp error of a refused registration: the refusal's sentence, with the step that
/// retrieves a new challenge; an expired challenge keeps its own code.
pub(in crate::engine) fn registration_error(e: CeremonyError) -> EngineError {
    match e {
        CeremonyError::Engine(e) => e,
        CeremonyError::Refused(r) if r.kind == RefusalKind::Expired => {
            EngineError::FidoRegistrationTimeout {
                next: REGISTRATION_NEXT,
            }
        }
        CeremonyError::Refused(r) => EngineError::FidoRegistrationFailed {
            detail: r.detail,
            next: REGISTRATION_NEXT,
        },
    }
}

impl Engine {
    /// The signed-in user, or `401 NOT_AUTHORIZED`.
    pub(in crate::engine) fn signed_in(&self, s: &SessionData) -> EngineResult<UserRecord> {
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
    pub fn list_flows(&self, s: &SessionData) -> EngineResult<Vec<FlowOffer>> {
        let user = self.signed_in(s)?;
        let credentials = self.store().credentials_of(&user.username)?;
        let cx = self.condition_context(s, &user, &credentials);
        Ok(self
            .self_service_flows()
            .map(|f| FlowOffer {
                id: f.id.to_string(),
                available: Condition::all_hold(&f.access, &cx),
            })
            .collect())
    }

    /// `POST /flows/{flowId}/select`. A flow that begins with its `apply` step (such as
    /// `end-other-sessions`) is applied at once.
    pub fn select_flow(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        flow_id: &str,
    ) -> EngineResult<StepDone> {
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
        let conditions = self.condition_context(s, &user, &credentials);
        if !Condition::all_hold(&def.access, &conditions) {
            return Err(EngineError::PreconditionNotFulfilled(format!(
                "the flow `{flow_id}` is not available for this account"
            )));
        }
        if !Condition::all_hold(&def.authorization, &conditions) {
            return Err(EngineError::StepUpRequired(format!(
                "the flow `{flow_id}` needs a more recent sign-in; authenticate again"
            )));
        }
        if let Some(previous) = s.self_service.take() {
            self.spend_ceremony_of(&previous)?;
        }
        let flow = machine::start(def.id.clone(), &def.steps, random_id(), Some(user.username));
        self.run_flow_from(s, cx, def, flow)
    }

    /// `DELETE /rest/protected/self-service/flow`.
    pub fn end_self_service_flow(&self, s: &mut SessionData) -> EngineResult<StepDone> {
        self.signed_in(s)?;
        if let Some(flow) = s.self_service.take() {
            self.spend_ceremony_of(&flow)?;
        }
        Ok(StepDone {
            instance: random_id(),
            next: None,
        })
    }

    fn next_self_service_step(&self, flow: &RunningFlow) -> Option<&'static str> {
        let def = self.inner.registry.flow(flow.id.as_str())?;
        machine::next_step_name(&def.steps, flow)
    }

    /// The running flow of `kind` and its current step, if `call` fits it.
    pub(in crate::engine) fn running_step(
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
    ) -> EngineResult<ChallengeIssued> {
        let user = self.signed_in(s)?;
        let (flow, _, step) =
            self.running_step(s, Call::RegistrationChallenge, FlowKind::SelfService)?;
        let options = self.issue_registration(s, cx, flow, &step, &user, display_name)?;
        Ok(ChallengeIssued {
            instance: s
                .self_service
                .as_ref()
                .map_or_else(String::new, |f| f.instance.clone()),
            options,
        })
    }

    /// Spends the flow's previous challenge, stores a new registration ceremony for `user` and
    /// returns its creation options; the flow then waits for the response.
    pub(in crate::engine) fn issue_registration(
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
        let options = RegistrationOptions {
            user_verification: *user_verification,
            resident_key: *resident_key,
            attestation: *attestation,
            algorithms: algorithms.clone(),
            timeout: self.ceremony_timeout(*timeout),
            credential_name: name,
            authenticator_attachment: None,
            payment: false,
        };
        let begun =
            self.begin_registration(Channel::Flow, &self.default_tenant(), user, &options, None)?;
        flow.progress = Progress::ResponseRequired {
            ceremony: begun.ceremony_id,
        };
        s.self_service = Some(flow);
        Ok(begun.options)
    }

    /// `POST /rest/protected/self-service/fido/registration/attestation-response/check`.
    pub fn attestation_response(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        credential: &Value,
    ) -> EngineResult<StepDone> {
        let user = self.signed_in(s)?;
        let (flow, def, _) =
            self.running_step(s, Call::AttestationResponse, FlowKind::SelfService)?;
        let ceremony = self.take_flow_ceremony(s, &flow)?;
        let tenant = self.default_tenant();
        self.finish_registration(
            Channel::Flow,
            &tenant,
            cx,
            ceremony,
            &user,
            credential,
            NewCredential::ForUser,
        )
        .map_err(registration_error)?;
        let flow = machine::back_to_challenge(flow);
        self.advance_flow(s, cx, def, flow)
    }

    /// Takes the self-service or sign-up flow's ceremony out of the store (spent whatever
    /// happens next); the step then waits for a new challenge.
    pub(in crate::engine) fn take_flow_ceremony(
        &self,
        s: &mut SessionData,
        flow: &RunningFlow,
    ) -> EngineResult<Option<Ceremony>> {
        let Progress::ResponseRequired {
            ceremony: ceremony_id,
        } = &flow.progress
        else {
            return Err(EngineError::Internal("no ceremony".into()));
        };
        let ceremony = self.store().take_ceremony(ceremony_id)?;
        s.self_service = Some(machine::back_to_challenge(flow.clone()));
        Ok(ceremony)
    }

    /// Moves a self-service or sign-up flow on after a successful step, running `apply` steps
    /// as they come; answers the next step, or `{}` when the flow is done.
    pub(in crate::engine) fn advance_flow(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        def: &FlowDefinition,
        flow: RunningFlow,
    ) -> EngineResult<StepDone> {
        let instance = flow.instance.clone();
        match machine::advance(&def.steps, flow, Facts::default(), self.now()) {
            Advance::Next(next) => self.run_flow_from(s, cx, def, next),
            Advance::Completed(_) | Advance::NoValidToken => {
                s.self_service = None;
                Ok(StepDone {
                    instance,
                    next: None,
                })
            }
        }
    }

    /// Runs the flow's `apply` steps from its current step on, then keeps it waiting for its
    /// next step's call (or ends it when none is left).
    fn run_flow_from(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        def: &FlowDefinition,
        mut next: RunningFlow,
    ) -> EngineResult<StepDone> {
        let instance = next.instance.clone();
        let done = |instance| StepDone {
            instance,
            next: None,
        };
        while let Some(Step::Apply {
            action,
            allow_last_credential,
        }) = def.steps.get(next.step)
        {
            s.self_service = None;
            if action.on_credential() {
                self.apply_change(s, cx, &next, *action, *allow_last_credential)?;
            } else if action.on_sessions() {
                self.apply_session_change(s, cx, &next, *action)?;
            } else {
                self.apply_account_change(s, cx, &next, *action)?;
            }
            next = match machine::advance(&def.steps, next, Facts::default(), self.now()) {
                Advance::Next(n) => n,
                Advance::Completed(_) | Advance::NoValidToken => {
                    return Ok(done(instance));
                }
            };
        }
        let step = machine::next_step_name(&def.steps, &next);
        s.self_service = Some(next);
        Ok(StepDone {
            instance,
            next: step.map(NextStep::Step),
        })
    }

    /// `GET /fido/credentials`.
    pub fn my_credentials(&self, s: &SessionData) -> EngineResult<Vec<CredentialView>> {
        let user = self.signed_in(s)?;
        let credentials = self.store().credentials_of(&user.username)?;
        let has_password = user.password_hash.is_some();
        Ok(credentials
            .iter()
            .map(|c| CredentialView {
                change_refusals: Some(self.change_refusals(c, &credentials, has_password)),
                ..self.credential_view(c)
            })
            .collect())
    }

    /// A credential as every list shows it (self-service and helpdesk).
    pub(in crate::engine) fn credential_view(&self, c: &CredentialRecord) -> CredentialView {
        CredentialView {
            id: c.id.to_b64url(),
            display_name: c.display_name.to_string(),
            aaguid: c.aaguid.clone(),
            authenticator_name: c.authenticator_name.clone(),
            authenticator_icon: self.authenticator_icon(c),
            attestation_format: c.attestation_format.clone(),
            attestation_trusted: c.attestation_trusted,
            algorithm: c.algorithm,
            algorithm_name: match &c.uaf {
                Some(uaf) => crate::uaf::sign_alg_name(uaf.sign_alg).to_string(),
                None => crate::domain::cose_algorithm_name(c.algorithm)
                    .map_or_else(|| c.algorithm.to_string(), str::to_string),
            },
            created_at: c.created_at,
            last_used_at: c.last_used_at,
            sign_count: c.sign_count,
            transports: c.transports.clone(),
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            discoverable: c.discoverable,
            user_verified: c.user_verified,
            enabled: c.enabled,
            disabled_by: c.disabled_by.map(|d| match d {
                DisabledBy::User => "user",
                DisabledBy::Helpdesk => "helpdesk",
                DisabledBy::RelyingParty => "relying-party",
            }),
            uaf_deregistration_request: None,
            change_refusals: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::{cx, TestEngine, PASSWORD};

    #[test]
    fn selecting_another_flow_while_one_runs_names_the_running_flows_next_step() {
        let t = TestEngine::new();
        t.add_user("alice", Some(PASSWORD));
        let mut s = SessionData::default();
        t.password_check(&mut s, &cx(), "alice", PASSWORD).unwrap();
        let started = t.select_flow(&mut s, &cx(), "fido-registration").unwrap();
        assert_eq!(started.next, Some(REGISTRATION_NEXT));

        let refused = t
            .select_flow(&mut s, &cx(), "fido-credential-enable")
            .unwrap_err();
        match refused {
            EngineError::UnexpectedCall { detail, next } => {
                assert_eq!(next, Some(REGISTRATION_NEXT), "{detail}");
                assert!(
                    detail.contains("`fido-registration` is running"),
                    "{detail}"
                );
            }
            other => panic!("{other:?}"),
        }
        // The running flow is untouched.
        let running = s
            .self_service
            .as_ref()
            .expect("the registration still runs");
        assert_eq!(running.id.as_str(), "fido-registration");
        assert_eq!(running.instance, started.instance);
    }
}
