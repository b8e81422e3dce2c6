//! Passkey sign-up (`/rest/public/user-self-registration`): a visitor picks a username, registers
//! a passkey, and the account is created with it in one transaction; the session is then
//! authenticated.

use serde_json::Value;

use crate::engine::Channel;

use super::self_service::registration_error;
use super::{ChallengeIssued, StepDone};
use crate::domain::{DisplayName, UserHandle, Username};
use crate::engine::ceremony::CeremonyError;
use crate::engine::registration::NewCredential;
use crate::engine::{
    random_id, Engine, EngineError, EngineResult, Limited, NextStep, RequestCtx, SessionData,
};
use crate::flow::definitions::Step;
use crate::flow::machine::{self, Call, Signup};
use crate::flow::FlowKind;
use crate::store::UserRecord;

const USER_DATA_NEXT: NextStep = NextStep::Step("USER_DATA_REQUIRED");

/// A sign-up never runs beside a signed-in user: it would replace them with the new account.
fn signed_in_error() -> EngineError {
    EngineError::UnexpectedCall {
        detail: "a user is signed in; sign out before creating a new account".into(),
        next: None,
    }
}

impl Engine {
    /// `POST /rest/public/user-self-registration/{flowId}/select`.
    pub fn signup_select(&self, s: &mut SessionData, flow_id: &str) -> EngineResult<StepDone> {
        let def = self
            .inner
            .registry
            .flow(flow_id)
            .filter(|f| f.kind == FlowKind::UserSelfRegistration)
            .ok_or_else(|| EngineError::FlowNotFound(flow_id.to_string()))?;
        if s.login.is_some() {
            return Err(signed_in_error());
        }
        if let Some(previous) = s.self_service.take() {
            self.spend_ceremony_of(&previous)?;
        }
        let flow = machine::start(def.id.clone(), &def.steps, random_id(), None);
        let next = machine::next_step_name(&def.steps, &flow);
        let instance = flow.instance.clone();
        s.self_service = Some(flow);
        Ok(StepDone {
            instance,
            next: next.map(NextStep::Step),
        })
    }

    /// The running sign-up's step for `call`. A user who signed in since the sign-up began ends
    /// it (its challenge spent): finishing it would switch the session to the new account.
    fn signup_step(
        &self,
        s: &mut SessionData,
        call: Call,
    ) -> EngineResult<(machine::RunningFlow, &crate::flow::FlowDefinition, Step)> {
        let (flow, def, step) = self.running_step(s, call, FlowKind::UserSelfRegistration)?;
        if s.login.is_some() {
            self.spend_ceremony_of(&flow)?;
            s.self_service = None;
            return Err(signed_in_error());
        }
        Ok((flow, def, step))
    }

    /// `POST /rest/public/user-self-registration/user-data/continue`.
    pub fn signup_user_data(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        username: &str,
        display_name: Option<&str>,
    ) -> EngineResult<StepDone> {
        let (mut flow, def, _) = self.signup_step(s, Call::UserData)?;
        self.inner.limits.check(
            Limited::SignUp,
            cx.remote_address.as_deref(),
            None,
            self.now(),
        )?;
        let name = Username::parse(username).map_err(|e| EngineError::InvalidUsername(e.0))?;
        let display_name = display_name
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        if self.store().user(&name)?.is_some() {
            return Err(EngineError::UsernameNotAvailable {
                detail: "this username is taken; choose another".into(),
                next: Some(USER_DATA_NEXT),
            });
        }
        flow.user = Some(name);
        flow.signup = Some(Signup {
            handle: UserHandle::random(),
            display_name,
        });
        let done = self.advance_flow(s, cx, def, flow)?;
        // The session now belongs to the account being made: a new session key.
        s.renew = true;
        Ok(done)
    }

    /// The account a sign-up will create, as far as the flow knows it.
    fn signup_user(&self, flow: &machine::RunningFlow) -> EngineResult<UserRecord> {
        match (&flow.user, &flow.signup) {
            (Some(username), Some(signup)) => Ok(UserRecord {
                username: username.clone(),
                handle: signup.handle.clone(),
                display_name: signup.display_name.clone(),
                password_hash: None,
                created_at: self.now(),
            }),
            _ => Err(EngineError::Internal("a sign-up without user data".into())),
        }
    }

    /// `POST /rest/public/user-self-registration/fido/registration/challenge/retrieve`.
    pub fn signup_registration_challenge(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        display_name: Option<&str>,
    ) -> EngineResult<ChallengeIssued> {
        let (flow, _, step) = self.signup_step(s, Call::RegistrationChallenge)?;
        let user = self.signup_user(&flow)?;
        let instance = flow.instance.clone();
        let options = self.issue_registration(s, cx, flow, &step, &user, display_name)?;
        Ok(ChallengeIssued { instance, options })
    }

    /// `POST /rest/public/user-self-registration/fido/registration/attestation-response/check`.
    pub fn signup_attestation_response(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        credential: &Value,
    ) -> EngineResult<StepDone> {
        let now = self.now();
        let (flow, def, step) = self.signup_step(s, Call::AttestationResponse)?;
        let user = self.signup_user(&flow)?;
        let ceremony = self.take_flow_ceremony(s, &flow)?;
        let tenant = self.default_tenant();
        let stored = self.finish_registration(
            Channel::Flow,
            &tenant,
            cx,
            ceremony,
            &user,
            credential,
            NewCredential::WithNewUser(&user),
        );
        match stored {
            Ok(_) => {}
            Err(CeremonyError::Engine(EngineError::UserExists)) => {
                // Someone took the name meanwhile: back to the user data.
                let mut back =
                    machine::start(def.id.clone(), &def.steps, flow.instance.clone(), None);
                back.signup = None;
                s.self_service = Some(back);
                return Err(EngineError::UsernameNotAvailable {
                    detail: "this username was taken meanwhile; choose another".into(),
                    next: Some(USER_DATA_NEXT),
                });
            }
            Err(e) => return Err(registration_error(e)),
        }
        let mut done = flow;
        done.progress = machine::Progress::ChallengeRequired;
        for tag in step.grants() {
            done.granted.push((tag.clone(), now));
        }
        let instance = done.instance.clone();
        self.complete_login(s, cx, done, now)?;
        s.self_service = None;
        Ok(StepDone {
            instance,
            next: None,
        })
    }
}
