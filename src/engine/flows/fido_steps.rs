//! The FIDO steps of authentication flows: challenge retrieval, the assertion check and a
//! cancelled ceremony (`fido/abort`), for the running authentication or self-service flow.

use serde_json::Value;

use crate::engine::Channel;

use super::{ChallengeIssued, StepDone};

use crate::domain::Username;
use crate::engine::assertion::{AssertionOptions, Purpose};
use crate::engine::ceremony::{CeremonyError, Refusal, RefusalKind};
use crate::engine::{
    AuditDraft, Engine, EngineError, EngineResult, Limited, NextStep, RequestCtx, SessionData,
};
use crate::flow::definitions::{Step, UserVerification};
use crate::flow::machine::{self, Call, Facts, Progress};
use crate::store::{AuditKind, Outcome};

const CHALLENGE_NEXT: NextStep =
    NextStep::AuthStep("FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED");
const APPROVAL_NEXT: NextStep = NextStep::Step("FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED");

/// The reasons a browser may report for a cancelled ceremony.
pub const ABORT_REASONS: [&str; 4] = [
    "ABORTED",
    "NOT_ALLOWED",
    "TIMEOUT",
    "WEB_AUTHN_NOT_AVAILABLE",
];

/// The reason a browser reports when a registration is refused because the authenticator
/// already holds one of the user's credentials (one of `excludeCredentials`: the WebAuthn
/// `InvalidStateError`). Audited as a refused `FIDO_REGISTRATION`, not as an abort.
pub const EXCLUDED_CREDENTIAL: &str = "EXCLUDED_CREDENTIAL";

/// The Loginapp error of a refused assertion: the refusal's sentence, with the step that
/// retrieves a new challenge; an expired challenge and a lock keep their own codes.
pub(in crate::engine) fn flow_error(purpose: Purpose, e: CeremonyError) -> EngineError {
    let refusal = match e {
        CeremonyError::Engine(e) => return e,
        CeremonyError::Refused(r) => r,
    };
    match (refusal.kind, purpose) {
        (RefusalKind::Locked { until }, _) => EngineError::UserLocked { until },
        (RefusalKind::Expired, Purpose::Login) => EngineError::FidoAuthenticationTimeout {
            next: CHALLENGE_NEXT,
        },
        (RefusalKind::Expired, Purpose::Approval) => EngineError::FidoApprovalTimeout {
            next: APPROVAL_NEXT,
        },
        (_, Purpose::Login) => EngineError::FidoAuthenticationFailed {
            detail: refusal.detail,
            next: CHALLENGE_NEXT,
        },
        (_, Purpose::Approval) => EngineError::FidoApprovalFailed {
            detail: refusal.detail,
            next: APPROVAL_NEXT,
        },
    }
}

impl Engine {
    /// `POST /rest/public/authentication/fido/challenge/retrieve`. A conditional-mediation
    /// challenge starts the password application in a session without a flow; refused (e.g.
    /// rate-limited), it leaves none behind, so the refusal stores no session.
    pub fn authentication_challenge(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        mediation: Option<&str>,
    ) -> EngineResult<ChallengeIssued> {
        self.unless_refused(s, |s| self.issue_authentication_challenge(s, cx, mediation))
    }

    fn issue_authentication_challenge(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        mediation: Option<&str>,
    ) -> EngineResult<ChallengeIssued> {
        let conditional = match mediation {
            None => false,
            Some("conditional") => true,
            Some(other) => {
                return Err(EngineError::InvalidRequest(format!(
                    "`mediation` may only be \"conditional\", not \"{other}\""
                )))
            }
        };
        if conditional && s.auth_flow.is_none() {
            // A sign-in page offering passkey autofill starts the password application.
            self.start_default(s)?;
        }
        let (mut flow, step) = self.running_auth_step(s, Call::AuthenticationChallenge)?;
        let settings_conditional = self.inner.settings.ceremony.conditional_timeout;
        let conditional_lifetime = chrono::Duration::from_std(settings_conditional)
            .unwrap_or(chrono::Duration::minutes(10));
        // Who must answer: nobody yet (discoverable), the user identified so far, or the
        // signed-in user (a FIDO step that starts the flow: step-up).
        let (username, uv, lifetime) = match &step {
            Step::Password { .. } => {
                if !conditional {
                    return Err(EngineError::InvalidRequest(
                        "the password step offers only a conditional-mediation challenge: send {\"mediation\": \"conditional\"}".into(),
                    ));
                }
                (None, UserVerification::Required, conditional_lifetime)
            }
            Step::FidoPasswordless {
                user_verification,
                timeout,
                ..
            } => (
                None,
                *user_verification,
                if conditional {
                    conditional_lifetime
                } else {
                    self.ceremony_timeout(*timeout)
                },
            ),
            Step::FidoAuthentication {
                user_verification,
                timeout,
                ..
            } => {
                let user = flow
                    .user
                    .clone()
                    .or_else(|| s.username().cloned())
                    .ok_or_else(|| EngineError::NotAuthorized {
                        detail: "sign in first: this step confirms the signed-in user".into(),
                        next_auth_step: None,
                    })?;
                flow.user = Some(user.clone());
                (
                    Some(user),
                    *user_verification,
                    self.ceremony_timeout(*timeout),
                )
            }
            _ => return Err(self.unexpected_auth(s)),
        };
        self.inner.limits.check(
            Limited::Challenge,
            cx.remote_address.as_deref(),
            username.as_ref().map(Username::as_str),
            self.now(),
        )?;
        self.spend_ceremony_of(&flow)?;
        let tenant = self.default_tenant();
        let issued = self.begin_assertion(
            Channel::Flow,
            &tenant,
            username.as_ref(),
            &AssertionOptions {
                user_verification: uv,
                timeout: lifetime,
                purpose: Purpose::Login,
                signed: None,
            },
            None,
        );
        let (options, ceremony_id) = match issued {
            Ok(c) => (c.options, c.ceremony_id),
            Err(EngineError::NoValidToken) => {
                s.auth_flow = None;
                return Err(EngineError::NoValidToken);
            }
            Err(e) => return Err(e),
        };
        flow.progress = Progress::ResponseRequired {
            ceremony: ceremony_id,
        };
        let instance = flow.instance.clone();
        s.auth_flow = Some(flow);
        Ok(ChallengeIssued { instance, options })
    }

    fn running_auth_step(
        &self,
        s: &SessionData,
        call: Call,
    ) -> EngineResult<(machine::RunningFlow, Step)> {
        let flow = s.auth_flow.clone().ok_or_else(|| self.unexpected_auth(s))?;
        let app = self
            .inner
            .registry
            .application(flow.id.as_str())
            .ok_or_else(|| self.unexpected_auth(s))?;
        let step = machine::accept(&app.steps, &flow, call)
            .map_err(|_| self.unexpected_auth(s))?
            .clone();
        Ok((flow, step))
    }

    /// `POST /rest/public/authentication/fido/assertion-response/check`.
    pub fn assertion_response(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        credential: &Value,
    ) -> EngineResult<StepDone> {
        let now = self.now();
        let (flow, step) = self.running_auth_step(s, Call::AssertionResponse)?;
        let Progress::ResponseRequired {
            ceremony: ceremony_id,
        } = &flow.progress
        else {
            return Err(self.unexpected_auth(s));
        };
        // The challenge is spent whatever happens next.
        let ceremony = self.store().take_ceremony(ceremony_id)?;
        let mut flow = machine::back_to_challenge(flow);
        s.auth_flow = Some(flow.clone());
        let tenant = self.default_tenant();
        let verified = self.finish_assertion(
            Channel::Flow,
            &tenant,
            cx,
            ceremony,
            credential,
            Purpose::Login,
        );
        let username = match verified.map_err(|e| flow_error(Purpose::Login, e)) {
            Ok(v) => v.user.username,
            Err(e @ EngineError::UserLocked { .. }) => {
                s.auth_flow = None;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if s.username().is_some_and(|u| *u != username) {
            let detail = "sign-in refused: a different user is signed in; sign out first";
            self.audit_assertion(
                cx,
                Purpose::Login,
                &username,
                true,
                None,
                Outcome::Failure,
                detail,
            )?;
            return Err(flow_error(
                Purpose::Login,
                Refusal::new(RefusalKind::WrongUser, "user", detail).into(),
            ));
        }
        flow.user = Some(username.clone());
        let app = self
            .inner
            .registry
            .application(flow.id.as_str())
            .ok_or_else(|| self.unexpected_auth(s))?;
        if matches!(step, Step::Password { .. }) {
            let instance = flow.instance.clone();
            let done = machine::complete_with_passkey(&app.steps, flow, now);
            self.complete_login(s, cx, done, now)?;
            return Ok(StepDone {
                instance,
                next: None,
            });
        }
        // The user signed in with one of their credentials just now, and a disabled one is
        // refused: they have an enabled credential, with no need to read them all.
        let facts = Facts {
            has_credentials: true,
            has_enabled_credentials: true,
        };
        self.after_step(s, cx, app, flow, facts, now)
    }

    /// `POST /rest/public/authentication/fido/abort`: the browser reports a cancelled
    /// ceremony; the challenge is spent and the step waits for a new one. Without a challenge
    /// waiting for its response there is nothing to cancel: out of turn, and nothing audited.
    pub fn abort_authentication(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        reason: &str,
    ) -> EngineResult<StepDone> {
        check_reason(reason)?;
        let (flow, _) = self.running_auth_step(s, Call::Abort)?;
        if !awaits_response(&flow) {
            return Err(self.unexpected_auth(s));
        }
        self.count_abort(cx)?;
        self.spend_ceremony_of(&flow)?;
        let flow = machine::back_to_challenge(flow);
        // The flow names a user only once a password, a session or an assertion proved them.
        let actor = flow
            .user
            .as_ref()
            .map_or_else(|| s.actor(), |u| format!("user:{u}"));
        self.audit_abort(cx, actor, flow.user.as_ref(), reason)?;
        let instance = flow.instance.clone();
        let next = self
            .inner
            .registry
            .application(flow.id.as_str())
            .and_then(|app| machine::next_step_name(&app.steps, &flow));
        s.auth_flow = Some(flow);
        Ok(StepDone {
            instance,
            next: next.map(NextStep::AuthStep),
        })
    }

    /// Counts an abort against the challenge limit of its address: each one is audited.
    fn count_abort(&self, cx: &RequestCtx) -> EngineResult<()> {
        self.inner.limits.check(
            Limited::Challenge,
            cx.remote_address.as_deref(),
            None,
            self.now(),
        )
    }

    pub(in crate::engine) fn audit_abort(
        &self,
        cx: &RequestCtx,
        actor: String,
        username: Option<&Username>,
        reason: &str,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind: AuditKind::FidoAbort,
            actor,
            username,
            credential_id: None,
            outcome: Outcome::Failure,
            detail: format!("the browser reported {reason}"),
            cx,
        })
    }
}

/// Whether the flow's FIDO step has issued a challenge and waits for its response.
fn awaits_response(flow: &machine::RunningFlow) -> bool {
    matches!(flow.progress, Progress::ResponseRequired { .. })
}

pub(in crate::engine) fn check_reason(reason: &str) -> EngineResult<()> {
    if ABORT_REASONS.contains(&reason) {
        Ok(())
    } else {
        Err(EngineError::InvalidRequest(format!(
            "`reason` must be one of {}",
            ABORT_REASONS.join(", ")
        )))
    }
}

impl Engine {
    /// `POST /rest/protected/self-service/fido/abort`: a cancelled registration ceremony.
    pub fn abort_self_service(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        reason: &str,
    ) -> EngineResult<StepDone> {
        let excluded = reason == EXCLUDED_CREDENTIAL;
        if !excluded {
            check_reason(reason)?;
        }
        let unexpected = || EngineError::UnexpectedCall {
            detail: "no FIDO ceremony of a self-service flow is waiting".into(),
            next: None,
        };
        let flow = s.self_service.clone().ok_or_else(unexpected)?;
        let def = self
            .inner
            .registry
            .flow(flow.id.as_str())
            .ok_or_else(unexpected)?;
        let step = machine::accept(&def.steps, &flow, Call::Abort).map_err(|_| unexpected())?;
        if excluded && !matches!(step, Step::FidoRegistration { .. }) {
            return Err(EngineError::InvalidRequest(format!(
                "`reason` {EXCLUDED_CREDENTIAL} ends a registration only; this ceremony is \
                 not one"
            )));
        }
        if !awaits_response(&flow) {
            return Err(unexpected());
        }
        self.count_abort(cx)?;
        self.spend_ceremony_of(&flow)?;
        let flow = machine::back_to_challenge(flow);
        if excluded {
            self.audit(AuditDraft {
                kind: AuditKind::FidoRegistration,
                actor: s.actor(),
                username: flow.user.as_ref(),
                credential_id: None,
                outcome: Outcome::Failure,
                detail: "registration refused: this authenticator already holds a credential \
                         of this user (it is in excludeCredentials); nothing was registered"
                    .into(),
                cx,
            })?;
        } else {
            self.audit_abort(cx, s.actor(), flow.user.as_ref(), reason)?;
        }
        let next = machine::next_step_name(&def.steps, &flow);
        let instance = flow.instance.clone();
        s.self_service = Some(flow);
        Ok(StepDone {
            instance,
            next: next.map(NextStep::Step),
        })
    }
}
