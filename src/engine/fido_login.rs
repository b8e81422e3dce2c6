//! The FIDO steps of authentication flows: challenge retrieval, the assertion check and a
//! cancelled ceremony (`fido/abort`), for the running authentication or self-service flow.

use serde_json::{json, Value};

use super::{
    new_challenge, Answer, AuditDraft, Engine, EngineError, EngineResult, Limited, NextStep,
    RequestCtx, SessionData,
};
use crate::config::SignCounterPolicy;
use crate::domain::{CredentialId, Username};
use crate::fido::options::{self, CredentialDescriptor};
use crate::fido::{self as webauthn, AuthenticationExpectations};
use crate::flow::definitions::{Step, UserVerification};
use crate::flow::machine::{self, Call, Progress};
use crate::store::{
    AuditKind, Ceremony, CeremonyPurpose, CredentialRecord, Outcome, Refusal, Reservation,
    StoreError,
};

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

/// Why an assertion is asked for: it decides the error codes and the audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Login,
    Approval,
}

impl Purpose {
    fn fail(self, detail: String) -> EngineError {
        match self {
            Purpose::Login => EngineError::FidoAuthenticationFailed {
                detail,
                next: CHALLENGE_NEXT,
            },
            Purpose::Approval => EngineError::FidoApprovalFailed {
                detail,
                next: APPROVAL_NEXT,
            },
        }
    }

    fn timeout(self) -> EngineError {
        match self {
            Purpose::Login => EngineError::FidoAuthenticationTimeout {
                next: CHALLENGE_NEXT,
            },
            Purpose::Approval => EngineError::FidoApprovalTimeout {
                next: APPROVAL_NEXT,
            },
        }
    }

    fn audit_kind(self) -> AuditKind {
        match self {
            Purpose::Login => AuditKind::FidoAuthentication,
            Purpose::Approval => AuditKind::FidoApproval,
        }
    }

    fn ceremony(self) -> CeremonyPurpose {
        match self {
            Purpose::Login => CeremonyPurpose::Authentication,
            Purpose::Approval => CeremonyPurpose::Approval,
        }
    }
}

impl Engine {
    /// `POST /rest/public/authentication/fido/challenge/retrieve`.
    pub fn authentication_challenge(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        mediation: Option<&str>,
    ) -> EngineResult {
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
        let issued = self.issue_request(username.as_ref(), uv, lifetime, Purpose::Login);
        let (options, ceremony_id) = match issued {
            Ok(v) => v,
            Err(EngineError::NoValidToken) => {
                s.auth_flow = None;
                return Err(EngineError::NoValidToken);
            }
            Err(e) => return Err(e),
        };
        flow.progress = Progress::ResponseRequired {
            ceremony: ceremony_id,
        };
        let id = flow.instance.clone();
        s.auth_flow = Some(flow);
        Ok(Answer::one(
            "authentication.fido.challenge",
            id,
            json!({ "publicKeyCredentialRequestOptions": options }),
        ))
    }

    /// Stores an assertion ceremony and builds its request options: `allowCredentials` are the
    /// enabled credentials of `username`, or none for a discoverable credential.
    pub(super) fn issue_request(
        &self,
        username: Option<&Username>,
        uv: UserVerification,
        lifetime: chrono::Duration,
        purpose: Purpose,
    ) -> EngineResult<(Value, String)> {
        let credentials: Vec<CredentialRecord> = match username {
            Some(name) => {
                let enabled: Vec<CredentialRecord> = self
                    .store()
                    .credentials_of(name)?
                    .into_iter()
                    .filter(|c| c.enabled)
                    .collect();
                if enabled.is_empty() {
                    return Err(EngineError::NoValidToken);
                }
                enabled
            }
            None => Vec::new(),
        };
        let challenge = new_challenge();
        let ceremony = Ceremony {
            challenge: challenge.clone(),
            purpose: purpose.ceremony(),
            username: username.cloned(),
            user_handle: None,
            credential_name: None,
            require_user_verification: uv == UserVerification::Required,
            algorithms: Vec::new(),
            allowed_credentials: credentials.iter().map(|c| c.id.clone()).collect(),
            expires_at: self.now() + lifetime,
        };
        let ceremony_id = self.store().put_ceremony(&ceremony)?;
        let allow: Vec<CredentialDescriptor<'_>> = credentials
            .iter()
            .map(|c| CredentialDescriptor {
                id: c.id.as_bytes(),
                transports: &c.transports,
            })
            .collect();
        let options = options::request_options(&options::RequestOptions {
            rp_id: &self.inner.settings.relying_party.id,
            challenge: &challenge,
            timeout_ms: lifetime.num_milliseconds().max(0) as u64,
            allow: &allow,
            user_verification: uv.as_str(),
        });
        Ok((options, ceremony_id))
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
    ) -> EngineResult {
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
        let username = match self.check_assertion(cx, ceremony, credential, Purpose::Login) {
            Ok(u) => u,
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
                None,
                Outcome::Failure,
                detail,
            )?;
            return Err(Purpose::Login.fail(detail.into()));
        }
        flow.user = Some(username.clone());
        let app = self
            .inner
            .registry
            .application(flow.id.as_str())
            .ok_or_else(|| self.unexpected_auth(s))?;
        if matches!(step, Step::Password { .. }) {
            let id = flow.instance.clone();
            let done = machine::complete_with_passkey(&app.steps, flow, now);
            self.complete_login(s, done, now)?;
            return Ok(Answer::one("authentication.session", id, json!({})));
        }
        let facts = self.facts(&username)?;
        self.after_step(s, app, flow, facts, now)
    }

    /// Checks an assertion against the ceremony it answers: identifies the user (the one the
    /// ceremony names, or the owner of the `userHandle`), counts the attempt against the lock,
    /// verifies, and updates the credential. Returns the user.
    pub(super) fn check_assertion(
        &self,
        cx: &RequestCtx,
        ceremony: Option<Ceremony>,
        credential: &Value,
        purpose: Purpose,
    ) -> EngineResult<Username> {
        let now = self.now();
        let Some(ceremony) = ceremony else {
            return Err(purpose.fail("the challenge was already used; retrieve a new one".into()));
        };
        let username = match &ceremony.username {
            Some(u) => u.clone(),
            None => self.user_of_passkey(credential, purpose)?,
        };
        if ceremony.expires_at <= now {
            self.audit_assertion(
                cx,
                purpose,
                &username,
                None,
                Outcome::Failure,
                "the challenge expired",
            )?;
            return Err(purpose.timeout());
        }
        let policy = self.lock_policy();
        if let Reservation::Locked(until) = self.store().reserve_attempt(&username, now, &policy)? {
            self.audit_assertion(
                cx,
                purpose,
                &username,
                None,
                Outcome::Failure,
                "refused: the username is locked",
            )?;
            return Err(EngineError::UserLocked { until });
        }
        if let Err(e) = self.verify_assertion(cx, &ceremony, &username, credential, purpose) {
            if let Some(until) = self.store().attempt_failed(&username, now, &policy)? {
                self.lock_engaged(cx, &username, until)?;
                return Err(EngineError::UserLocked { until });
            }
            return Err(e);
        }
        self.store().attempt_succeeded(&username)?;
        Ok(username)
    }

    /// The owner of a discoverable credential, found by the assertion's `userHandle`.
    fn user_of_passkey(&self, credential: &Value, purpose: Purpose) -> EngineResult<Username> {
        let (_, handle) = webauthn::assertion_ids(credential)
            .map_err(|e| purpose.fail(format!("sign-in refused ({}): {e}", e.check())))?;
        let handle = handle.ok_or_else(|| {
            purpose.fail("sign-in refused (userHandle): a passkey sign-in needs the userHandle; use a discoverable credential".into())
        })?;
        let unknown = || {
            purpose.fail("sign-in refused (userHandle): this passkey is not registered here".into())
        };
        let handle = crate::domain::UserHandle::from_bytes(&handle).map_err(|_| unknown())?;
        Ok(self
            .store()
            .user_by_handle(&handle)?
            .ok_or_else(unknown)?
            .username)
    }

    /// Checks the assertion against the stored credential and updates counter, backup state,
    /// UV and last use in one compare-and-swap.
    fn verify_assertion(
        &self,
        cx: &RequestCtx,
        ceremony: &Ceremony,
        username: &Username,
        credential: &Value,
        purpose: Purpose,
    ) -> EngineResult<()> {
        let refuse = |credential_id: Option<&CredentialId>, detail: String| -> EngineError {
            if let Err(e) = self.audit_assertion(
                cx,
                purpose,
                username,
                credential_id,
                Outcome::Failure,
                &detail,
            ) {
                return e;
            }
            purpose.fail(detail)
        };
        let (raw_id, user_handle) = match webauthn::assertion_ids(credential) {
            Ok(ids) => ids,
            Err(e) => {
                return Err(refuse(
                    None,
                    format!("sign-in refused ({}): {e}", e.check()),
                ))
            }
        };
        let id = CredentialId::from_bytes(raw_id)
            .map_err(|e| refuse(None, format!("sign-in refused (credentialId): {}", e.0)))?;
        if !ceremony.allowed_credentials.is_empty() && !ceremony.allowed_credentials.contains(&id) {
            return Err(refuse(
                None,
                "sign-in refused (credentialId): this credential was not one the challenge allowed"
                    .into(),
            ));
        }
        let record = self
            .store()
            .credential(&id)?
            .filter(|c| c.username == *username)
            .ok_or_else(|| {
                refuse(
                    None,
                    "sign-in refused (credentialId): the credential is not registered to this user"
                        .into(),
                )
            })?;
        if !record.enabled {
            return Err(refuse(
                Some(&id),
                "sign-in refused (credential): this credential is disabled".into(),
            ));
        }
        if user_handle
            .as_deref()
            .is_some_and(|h| h != record.user_handle.as_bytes())
        {
            return Err(refuse(
                Some(&id),
                "sign-in refused (userHandle): the user handle does not belong to this credential"
                    .into(),
            ));
        }
        let settings = &self.inner.settings;
        let verified = webauthn::verify_authentication(
            credential,
            &AuthenticationExpectations {
                challenge: &ceremony.challenge,
                rp_id: &settings.relying_party.id,
                origins: &settings.relying_party.origins,
                allow_cross_origin: settings.relying_party.allow_cross_origin,
                top_origins: &settings.relying_party.top_origins,
                require_user_verification: ceremony.require_user_verification,
                public_key: &record.public_key,
                credential_id: id.as_bytes(),
            },
        )
        .map_err(|e| refuse(Some(&id), format!("sign-in refused ({}): {e}", e.check())))?;
        if verified.backup_eligible != record.backup_eligible {
            return Err(refuse(Some(&id), "sign-in refused (backupEligible): the backup eligibility changed since registration".into()));
        }
        if let Some(why) = self.sign_in_refusal(&record) {
            return Err(refuse(
                Some(&id),
                format!("sign-in refused (metadataStatus): {why}"),
            ));
        }
        let now = self.now();
        let counter_policy = settings.ceremony.sign_counter_policy;
        let mut regression = None;
        let update = self.store().update_credential(&id, &mut |current| {
            let (stored, new) = (current.sign_count, verified.sign_count);
            regression = None;
            if (stored != 0 || new != 0) && new <= stored {
                let why = Refusal::CounterNotIncreased {
                    stored,
                    received: new,
                };
                let tolerated = match counter_policy {
                    SignCounterPolicy::Refuse => false,
                    SignCounterPolicy::Audit => true,
                    SignCounterPolicy::IgnoreWhenBackupEligible => current.backup_eligible,
                };
                if !tolerated {
                    return Err(StoreError::Refused(why));
                }
                regression = Some(why);
            }
            if !current.enabled {
                return Err(StoreError::Refused(Refusal::CredentialDisabled));
            }
            current.sign_count = current.sign_count.max(new);
            current.backup_state = verified.backup_state;
            current.user_verified = verified.user_verified;
            current.last_used_at = Some(now);
            Ok(())
        });
        if let Some(why) = regression.filter(|_| update.is_ok()) {
            self.audit(AuditDraft {
                kind: AuditKind::SignCounterRegression,
                actor: format!("user:{username}"),
                username: Some(username),
                credential_id: Some(&id),
                outcome: Outcome::Success,
                detail: format!("tolerated by policy: {why}"),
                cx,
            })?;
        }
        match update {
            Ok(_) => {}
            Err(StoreError::Refused(why)) => {
                if matches!(why, Refusal::CounterNotIncreased { .. }) {
                    self.audit(AuditDraft {
                        kind: AuditKind::SignCounterRegression,
                        actor: format!("user:{username}"),
                        username: Some(username),
                        credential_id: Some(&id),
                        outcome: Outcome::Failure,
                        detail: why.to_string(),
                        cx,
                    })?;
                }
                return Err(refuse(Some(&id), format!("sign-in refused: {why}")));
            }
            // Deleted by a request that finished while this assertion was being verified.
            Err(StoreError::NotFound) => {
                return Err(refuse(
                    Some(&id),
                    "sign-in refused (credentialId): this credential was deleted meanwhile".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let detail = match purpose {
            Purpose::Login => "signed in with a FIDO credential",
            Purpose::Approval => "approved with a FIDO credential",
        };
        self.audit_assertion(cx, purpose, username, Some(&id), Outcome::Success, detail)
    }

    fn audit_assertion(
        &self,
        cx: &RequestCtx,
        purpose: Purpose,
        username: &Username,
        credential: Option<&CredentialId>,
        outcome: Outcome,
        detail: &str,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind: purpose.audit_kind(),
            actor: match purpose {
                Purpose::Login => "anonymous".into(),
                Purpose::Approval => format!("user:{username}"),
            },
            username: Some(username),
            credential_id: credential,
            outcome,
            detail: detail.into(),
            cx,
        })
    }

    /// The temporary lock engaged for `username`: audited, and all their sessions end.
    pub(super) fn lock_engaged(
        &self,
        cx: &RequestCtx,
        username: &Username,
        until: chrono::DateTime<chrono::Utc>,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind: AuditKind::UserLocked,
            actor: "anonymous".into(),
            username: Some(username),
            credential_id: None,
            outcome: Outcome::Success,
            detail: format!(
                "locked until {} after repeated failures",
                super::rfc3339(until)
            ),
            cx,
        })?;
        self.store().end_sessions_of(username, None)?;
        Ok(())
    }

    /// `POST /rest/public/authentication/fido/abort`: the browser reports a cancelled
    /// ceremony; the challenge is spent and the step waits for a new one.
    pub fn abort_authentication(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        reason: &str,
    ) -> EngineResult {
        check_reason(reason)?;
        let (flow, _) = self.running_auth_step(s, Call::Abort)?;
        self.spend_ceremony_of(&flow)?;
        let flow = machine::back_to_challenge(flow);
        self.audit_abort(cx, s.actor(), flow.user.as_ref(), reason)?;
        let id = flow.instance.clone();
        let next = self
            .inner
            .registry
            .application(flow.id.as_str())
            .and_then(|app| machine::next_step_name(&app.steps, &flow));
        s.auth_flow = Some(flow);
        Ok(Answer::one(
            "authentication.session",
            id,
            json!({ "nextAuthStep": next }),
        ))
    }

    pub(super) fn audit_abort(
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

pub(super) fn check_reason(reason: &str) -> EngineResult<()> {
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
    ) -> EngineResult {
        check_reason(reason)?;
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
        machine::accept(&def.steps, &flow, Call::Abort).map_err(|_| unexpected())?;
        self.spend_ceremony_of(&flow)?;
        let flow = machine::back_to_challenge(flow);
        self.audit_abort(cx, s.actor(), flow.user.as_ref(), reason)?;
        let next = machine::next_step_name(&def.steps, &flow);
        let id = flow.instance.clone();
        s.self_service = Some(flow);
        Ok(Answer::one(
            "self-service.session",
            id,
            json!({ "nextStep": next }),
        ))
    }
}
