//! The pure state machine of a running flow: which call the current step accepts, what the
//! client is told to do next, and where a successful step leads. State + event + now in, new
//! state out; no I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::definitions::Step;
use crate::domain::{CredentialId, DisplayName, FlowId, Tag, UserHandle, Username};

/// A flow running in a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningFlow {
    /// The application or flow id.
    pub id: FlowId,
    /// A random id shown as `data.id`; never the session id.
    pub instance: String,
    pub step: usize,
    pub progress: Progress,
    /// The user identified so far (authentication) or for whom the flow runs.
    pub user: Option<Username>,
    /// Tags granted by completed steps; they count only once the flow completes.
    pub granted: Vec<(Tag, DateTime<Utc>)>,
    /// The credential a management flow works on.
    #[serde(default)]
    pub selected: Option<CredentialId>,
    /// The new name chosen in a display-name step.
    #[serde(default)]
    pub new_display_name: Option<DisplayName>,
    /// A sign-up's new account, before it exists.
    #[serde(default)]
    pub signup: Option<Signup>,
    /// The hash of the password a `new-password` step accepted, for the `apply` step.
    #[serde(default)]
    pub new_password: Option<NewPasswordHash>,
    /// The engine session id (`sid`) of the session a `session-selection` step picked.
    #[serde(default)]
    pub selected_session: Option<String>,
}

/// An argon2id PHC string of a new password; never shown by `Debug`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NewPasswordHash(pub String);

impl std::fmt::Debug for NewPasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPasswordHash(…)")
    }
}

/// The account a sign-up flow will create when its passkey is registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signup {
    pub handle: UserHandle,
    pub display_name: Option<DisplayName>,
}

/// Where the current step stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Progress {
    /// A password step waits for the username and password.
    PasswordRequired,
    /// A FIDO step waits for the client to fetch a challenge.
    ChallengeRequired,
    /// A FIDO step issued a challenge and waits for the response (or a new challenge).
    ResponseRequired { ceremony: String },
}

/// The step calls of the REST contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    PasswordCheck,
    AuthenticationChallenge,
    AssertionResponse,
    RegistrationChallenge,
    AttestationResponse,
    Abort,
    UserData,
    CredentialSelect,
    DisplayNameChange,
    ApprovalChallenge,
    ApprovalResponse,
    UserDisplayNameChange,
    CurrentPassword,
    NewPassword,
    SessionSelect,
}

/// The call does not fit the running flow's current step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unexpected;

/// What the engine knows about the user when a step completes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    pub has_credentials: bool,
    pub has_enabled_credentials: bool,
}

/// Where a successful step leads.
#[derive(Debug, Clone, PartialEq)]
pub enum Advance {
    Next(RunningFlow),
    Completed(RunningFlow),
    /// The next step needs a credential and all of the user's are disabled.
    NoValidToken,
}

fn initial_progress(step: &Step) -> Progress {
    match step {
        Step::Password { .. } | Step::CurrentPassword { .. } => Progress::PasswordRequired,
        _ => Progress::ChallengeRequired,
    }
}

/// Starts a flow at its first step.
pub fn start(id: FlowId, steps: &[Step], instance: String, user: Option<Username>) -> RunningFlow {
    RunningFlow {
        id,
        instance,
        step: 0,
        progress: steps
            .first()
            .map(initial_progress)
            .unwrap_or(Progress::ChallengeRequired),
        user,
        granted: Vec::new(),
        selected: None,
        new_display_name: None,
        signup: None,
        new_password: None,
        selected_session: None,
    }
}

/// The current step, if `call` fits it.
pub fn accept<'a>(
    steps: &'a [Step],
    flow: &RunningFlow,
    call: Call,
) -> Result<&'a Step, Unexpected> {
    let step = steps.get(flow.step).ok_or(Unexpected)?;
    let waiting_for_response = matches!(flow.progress, Progress::ResponseRequired { .. });
    let fits = match (step, call) {
        (Step::Password { .. }, Call::PasswordCheck) => true,
        (
            Step::Password {
                conditional_mediation,
                ..
            },
            Call::AuthenticationChallenge,
        ) => *conditional_mediation,
        (
            Step::Password {
                conditional_mediation,
                ..
            },
            Call::AssertionResponse | Call::Abort,
        ) => *conditional_mediation && waiting_for_response,
        (
            Step::FidoAuthentication { .. } | Step::FidoPasswordless { .. },
            Call::AuthenticationChallenge | Call::Abort,
        )
        | (Step::FidoRegistration { .. }, Call::RegistrationChallenge | Call::Abort)
        | (Step::FidoApproval { .. }, Call::ApprovalChallenge | Call::Abort)
        | (Step::UserData, Call::UserData)
        | (Step::CredentialSelection, Call::CredentialSelect)
        | (Step::SessionSelection, Call::SessionSelect)
        | (Step::DisplayNameChange, Call::DisplayNameChange)
        | (Step::UserDisplayNameChange, Call::UserDisplayNameChange)
        | (Step::CurrentPassword { .. }, Call::CurrentPassword)
        | (Step::NewPassword, Call::NewPassword) => true,
        (Step::CurrentPassword { fido_approval, .. }, Call::ApprovalChallenge) => *fido_approval,
        (Step::CurrentPassword { fido_approval, .. }, Call::ApprovalResponse | Call::Abort) => {
            *fido_approval && waiting_for_response
        }
        (
            Step::FidoAuthentication { .. } | Step::FidoPasswordless { .. },
            Call::AssertionResponse,
        )
        | (Step::FidoRegistration { .. }, Call::AttestationResponse)
        | (Step::FidoApproval { .. }, Call::ApprovalResponse) => waiting_for_response,
        _ => false,
    };
    if fits {
        Ok(step)
    } else {
        Err(Unexpected)
    }
}

/// The `nextStep` / `nextAuthStep` value the client is told.
pub fn next_step_name(steps: &[Step], flow: &RunningFlow) -> Option<&'static str> {
    Some(match steps.get(flow.step)? {
        Step::Password { .. } => "PASSWORD_REQUIRED",
        Step::FidoAuthentication { .. } | Step::FidoPasswordless { .. } => {
            "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED"
        }
        Step::FidoRegistration { .. } => "FIDO_REGISTRATION_CHALLENGE_RETRIEVAL_REQUIRED",
        Step::UserData => "USER_DATA_REQUIRED",
        Step::CredentialSelection => "FIDO_CREDENTIAL_SELECTION_REQUIRED",
        Step::SessionSelection => "SESSION_SELECTION_REQUIRED",
        Step::DisplayNameChange => "FIDO_DISPLAY_NAME_CHANGE_REQUIRED",
        Step::FidoApproval { .. } => "FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED",
        Step::UserDisplayNameChange => "USER_DISPLAY_NAME_CHANGE_REQUIRED",
        Step::CurrentPassword { .. } => "CURRENT_PASSWORD_REQUIRED",
        Step::NewPassword => "NEW_PASSWORD_REQUIRED",
        Step::Apply { .. } => return None,
    })
}

/// The current step succeeded at `now`: grant its tags and move on, skipping FIDO
/// authentication for users who have no credential.
pub fn advance(steps: &[Step], mut flow: RunningFlow, facts: Facts, now: DateTime<Utc>) -> Advance {
    if let Some(step) = steps.get(flow.step) {
        for tag in step.grants() {
            flow.granted.retain(|(t, _)| t != tag);
            flow.granted.push((tag.clone(), now));
        }
    }
    let mut next = flow.step + 1;
    while let Some(step) = steps.get(next) {
        match step {
            Step::FidoAuthentication { .. } if !facts.has_credentials => next += 1,
            Step::FidoAuthentication { .. } if !facts.has_enabled_credentials => {
                return Advance::NoValidToken
            }
            _ => break,
        }
    }
    flow.step = next;
    match steps.get(next) {
        Some(step) => {
            flow.progress = initial_progress(step);
            Advance::Next(flow)
        }
        None => Advance::Completed(flow),
    }
}

/// A passkey assertion answered the password step's conditional-mediation challenge: it
/// stands for every step of the flow, which completes with the tags of its FIDO steps.
pub fn complete_with_passkey(
    steps: &[Step],
    mut flow: RunningFlow,
    now: DateTime<Utc>,
) -> RunningFlow {
    for step in steps {
        if matches!(
            step,
            Step::FidoAuthentication { .. } | Step::FidoPasswordless { .. }
        ) {
            for tag in step.grants() {
                flow.granted.retain(|(t, _)| t != tag);
                flow.granted.push((tag.clone(), now));
            }
        }
    }
    flow.step = steps.len();
    flow
}

/// A FIDO step's response failed or its ceremony was cancelled: the step waits for a new
/// challenge.
pub fn back_to_challenge(mut flow: RunningFlow) -> RunningFlow {
    if matches!(flow.progress, Progress::ResponseRequired { .. }) {
        flow.progress = Progress::ChallengeRequired;
    }
    flow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::definitions::{Conveyance, ResidentKey, UserVerification};

    fn tag(t: &str) -> Tag {
        Tag::parse(t).unwrap()
    }

    fn login_steps() -> Vec<Step> {
        vec![
            Step::Password {
                grants: vec![tag("PASSWORD_VERIFIED")],
                conditional_mediation: false,
            },
            Step::FidoAuthentication {
                grants: vec![tag("FIDO_VERIFIED")],
                user_verification: UserVerification::Preferred,
                timeout: None,
            },
        ]
    }

    fn registration_steps() -> Vec<Step> {
        vec![Step::FidoRegistration {
            user_verification: UserVerification::Preferred,
            resident_key: ResidentKey::Preferred,
            attestation: Conveyance::None,
            timeout: None,
            algorithms: vec![-7],
            grants: vec![],
        }]
    }

    fn started(steps: &[Step]) -> RunningFlow {
        start(FlowId::parse("f").unwrap(), steps, "i".into(), None)
    }

    #[test]
    fn a_login_starts_with_the_password() {
        let steps = login_steps();
        let flow = started(&steps);
        assert_eq!(next_step_name(&steps, &flow), Some("PASSWORD_REQUIRED"));
        assert!(accept(&steps, &flow, Call::PasswordCheck).is_ok());
        assert!(accept(&steps, &flow, Call::AssertionResponse).is_err());
        assert!(accept(&steps, &flow, Call::RegistrationChallenge).is_err());
    }

    #[test]
    fn a_user_without_credentials_completes_after_the_password() {
        let steps = login_steps();
        let now = Utc::now();
        let Advance::Completed(done) = advance(&steps, started(&steps), Facts::default(), now)
        else {
            panic!("expected completion")
        };
        assert_eq!(done.granted, vec![(tag("PASSWORD_VERIFIED"), now)]);
    }

    #[test]
    fn a_user_with_a_credential_is_asked_for_fido_next() {
        let steps = login_steps();
        let facts = Facts {
            has_credentials: true,
            has_enabled_credentials: true,
        };
        let Advance::Next(next) = advance(&steps, started(&steps), facts, Utc::now()) else {
            panic!("expected a next step")
        };
        assert_eq!(
            next_step_name(&steps, &next),
            Some("FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED")
        );
        assert_eq!(next.progress, Progress::ChallengeRequired);
    }

    #[test]
    fn a_user_whose_credentials_are_all_disabled_has_no_valid_token() {
        let steps = login_steps();
        let facts = Facts {
            has_credentials: true,
            has_enabled_credentials: false,
        };
        assert_eq!(
            advance(&steps, started(&steps), facts, Utc::now()),
            Advance::NoValidToken
        );
    }

    #[test]
    fn a_response_is_accepted_only_after_a_challenge() {
        let steps = registration_steps();
        let mut flow = started(&steps);
        assert!(accept(&steps, &flow, Call::AttestationResponse).is_err());
        assert!(accept(&steps, &flow, Call::RegistrationChallenge).is_ok());
        flow.progress = Progress::ResponseRequired {
            ceremony: "c".into(),
        };
        assert!(accept(&steps, &flow, Call::AttestationResponse).is_ok());
        assert!(accept(&steps, &flow, Call::RegistrationChallenge).is_ok());
        assert_eq!(
            back_to_challenge(flow).progress,
            Progress::ChallengeRequired
        );
    }

    fn passkey_or_password_steps(conditional_mediation: bool) -> Vec<Step> {
        let mut steps = login_steps();
        steps[0] = Step::Password {
            grants: vec![tag("PASSWORD_VERIFIED")],
            conditional_mediation,
        };
        steps
    }

    #[test]
    fn a_password_step_waits_for_the_password_wherever_it_stands() {
        let steps = login_steps();
        assert_eq!(started(&steps).progress, Progress::PasswordRequired);
        // Reached by advancing, too: a FIDO step followed by a password step.
        let reversed: Vec<Step> = steps.into_iter().rev().collect();
        let Advance::Next(next) =
            advance(&reversed, started(&reversed), Facts::default(), Utc::now())
        else {
            panic!("expected the password step next")
        };
        assert_eq!(next.progress, Progress::PasswordRequired);
    }

    #[test]
    fn a_password_step_takes_a_passkey_only_with_conditional_mediation() {
        let plain = passkey_or_password_steps(false);
        let mut flow = started(&plain);
        assert!(accept(&plain, &flow, Call::AuthenticationChallenge).is_err());
        flow.progress = Progress::ResponseRequired {
            ceremony: "c".into(),
        };
        assert!(accept(&plain, &flow, Call::AssertionResponse).is_err());
        assert!(accept(&plain, &flow, Call::Abort).is_err());

        let conditional = passkey_or_password_steps(true);
        let mut flow = started(&conditional);
        assert!(accept(&conditional, &flow, Call::PasswordCheck).is_ok());
        assert!(accept(&conditional, &flow, Call::AuthenticationChallenge).is_ok());
        // No challenge issued yet: neither a response nor an abort fits.
        assert!(accept(&conditional, &flow, Call::AssertionResponse).is_err());
        assert!(accept(&conditional, &flow, Call::Abort).is_err());
        flow.progress = Progress::ResponseRequired {
            ceremony: "c".into(),
        };
        assert!(accept(&conditional, &flow, Call::AssertionResponse).is_ok());
        assert!(accept(&conditional, &flow, Call::Abort).is_ok());
        assert!(accept(&conditional, &flow, Call::RegistrationChallenge).is_err());
    }

    #[test]
    fn a_tag_granted_again_keeps_only_its_newest_time() {
        let steps = login_steps();
        let earlier = Utc::now() - chrono::Duration::minutes(10);
        let now = Utc::now();
        let mut flow = started(&steps);
        flow.granted = vec![(tag("PASSWORD_VERIFIED"), earlier), (tag("OTHER"), earlier)];
        let Advance::Completed(done) = advance(&steps, flow, Facts::default(), now) else {
            panic!("expected completion")
        };
        assert_eq!(
            done.granted,
            vec![(tag("OTHER"), earlier), (tag("PASSWORD_VERIFIED"), now)]
        );
    }

    #[test]
    fn a_flow_past_its_last_step_accepts_nothing() {
        let steps = registration_steps();
        let mut flow = started(&steps);
        flow.step = 1;
        assert!(accept(&steps, &flow, Call::RegistrationChallenge).is_err());
        assert_eq!(next_step_name(&steps, &flow), None);
    }

    /// Tags the flow already holds stay; a tag granted again keeps only the passkey's time.
    #[test]
    fn a_passkey_completes_the_flow_with_the_fido_tags_and_keeps_the_others() {
        let steps = passkey_or_password_steps(true);
        let earlier = Utc::now() - chrono::Duration::minutes(10);
        let now = Utc::now();
        let mut flow = started(&steps);
        flow.granted = vec![(tag("FIDO_VERIFIED"), earlier), (tag("OTHER"), earlier)];
        let done = complete_with_passkey(&steps, flow, now);
        assert_eq!(done.step, steps.len());
        assert_eq!(next_step_name(&steps, &done), None);
        assert_eq!(
            done.granted,
            vec![(tag("OTHER"), earlier), (tag("FIDO_VERIFIED"), now)]
        );
    }
}
