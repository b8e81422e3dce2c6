//! The serde model of `flows/*.toml`. A file holds `[[application]]` tables (authentication
//! flows) and `[[flow]]` tables (self-service and sign-up flows); each has an id, conditions and
//! an ordered list of steps from the catalogue below. Unknown keys are refused.

use serde::Deserialize;

use super::Age;
use crate::domain::{FlowId, Tag};
// The ceremony options live in `domain`, where the configuration can name them too.
pub use crate::domain::{Conveyance, ResidentKey, UserVerification, VERIFIABLE_ALGORITHMS};

/// One flow file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    #[serde(default)]
    pub application: Vec<Application>,
    #[serde(default)]
    pub flow: Vec<FlowDefinition>,
}

/// An authentication application: the flow that makes a session authenticated for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub id: FlowId,
    /// How long a completed login satisfies the application.
    pub max_age: Age,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowKind {
    /// Runs under `/rest/protected/self-service` for a signed-in user.
    SelfService,
    /// Runs under `/rest/public/user-self-registration` for an anonymous visitor.
    UserSelfRegistration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowDefinition {
    pub id: FlowId,
    pub kind: FlowKind,
    /// Whether the flow is offered to this user at all (`403 PRECONDITION_NOT_FULFILLED`).
    #[serde(default)]
    pub access: Vec<Condition>,
    /// Whether the session's login is recent and strong enough (`403 NOT_AUTHORIZED`).
    #[serde(default)]
    pub authorization: Vec<Condition>,
    pub steps: Vec<Step>,
}

/// The condition catalogue. A list of conditions holds when every one holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Condition {
    /// The session's login completed within `max_age`.
    AuthenticatedWithin { max_age: Age },
    /// The session holds `tag`, granted within `max_age` when given.
    Tag { tag: Tag, max_age: Option<Age> },
    /// At least one of the nested conditions holds.
    AnyOf { conditions: Vec<Condition> },
    /// The user has a password.
    UserHasPassword,
    /// The user has at least one enabled FIDO credential.
    UserHasCredential,
    /// The nested condition does not hold (e.g. a user without a password).
    Not { condition: Box<Condition> },
}

fn default_preferred() -> UserVerification {
    UserVerification::Preferred
}
fn default_resident_key() -> ResidentKey {
    ResidentKey::Preferred
}
fn default_conveyance() -> Conveyance {
    Conveyance::None
}

/// What an `apply` step does: to the selected credential (`rename` … `enable`) or to the
/// account itself (the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Rename,
    Delete,
    Disable,
    Enable,
    /// The account's display name, from a `user-display-name-change` step.
    SetUserDisplayName,
    /// The account's password, from a `new-password` step (a change or a new password).
    SetPassword,
    /// The account's password goes; refused while no enabled credential would be left.
    RemovePassword,
    /// The account goes with its credentials; every session of it ends.
    DeleteAccount,
    /// The session picked by a `session-selection` step ends (this one too, if picked).
    EndSession,
    /// Every other session signed in to the account ends; this one stays.
    EndOtherSessions,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Rename => "rename",
            Action::Delete => "delete",
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::SetUserDisplayName => "set-user-display-name",
            Action::SetPassword => "set-password",
            Action::RemovePassword => "remove-password",
            Action::DeleteAccount => "delete-account",
            Action::EndSession => "end-session",
            Action::EndOtherSessions => "end-other-sessions",
        }
    }

    /// Whether the action ends sessions of the account.
    pub fn on_sessions(&self) -> bool {
        matches!(self, Action::EndSession | Action::EndOtherSessions)
    }

    /// Whether the action changes a selected credential (else the account).
    pub fn on_credential(&self) -> bool {
        matches!(
            self,
            Action::Rename | Action::Delete | Action::Disable | Action::Enable
        )
    }
}

fn default_required() -> UserVerification {
    UserVerification::Required
}

/// The step catalogue. Each step's options default to the contract's ceremony defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Username and password (authentication applications, first step).
    Password {
        #[serde(default)]
        grants: Vec<Tag>,
        /// Also accept a conditional-mediation FIDO challenge (passkey autofill) in this step;
        /// a passkey assertion then completes the whole flow.
        #[serde(default)]
        conditional_mediation: bool,
    },
    /// A FIDO assertion by the user identified so far, or, as the first step, by the signed-in
    /// user (step-up). Skipped for users without credentials.
    FidoAuthentication {
        #[serde(default)]
        grants: Vec<Tag>,
        #[serde(default = "default_preferred")]
        user_verification: UserVerification,
        /// Defaults to `ceremony.timeout` of the configuration.
        timeout: Option<Age>,
    },
    /// A discoverable-credential assertion that identifies the user by its `userHandle`
    /// (authentication applications, first step).
    FidoPasswordless {
        #[serde(default)]
        grants: Vec<Tag>,
        #[serde(default = "default_required")]
        user_verification: UserVerification,
        timeout: Option<Age>,
    },
    /// Registration of a new FIDO credential (self-service and sign-up flows).
    FidoRegistration {
        #[serde(default = "default_preferred")]
        user_verification: UserVerification,
        #[serde(default = "default_resident_key")]
        resident_key: ResidentKey,
        #[serde(default = "default_conveyance")]
        attestation: Conveyance,
        /// Defaults to `ceremony.timeout` of the configuration.
        timeout: Option<Age>,
        /// COSE algorithms offered, in order of preference; default EdDSA, ES256, RS256,
        /// ES384, ES512.
        #[serde(default = "default_algorithms")]
        algorithms: Vec<i64>,
        /// Tags a sign-up grants when the new account's session becomes authenticated.
        #[serde(default)]
        grants: Vec<Tag>,
    },
    /// The new user's username and display name (sign-up flows, first step).
    UserData,
    /// The user picks one of their credentials (management flows, first step).
    CredentialSelection,
    /// The user gives the selected credential a new name.
    DisplayNameChange,
    /// The user picks one of the sessions signed in to their account (session flows, first
    /// step).
    SessionSelection,
    /// The account's new display name (self-service).
    UserDisplayNameChange,
    /// The user's current password; with `fido_approval` a FIDO approval (the approval
    /// calls) stands for it.
    CurrentPassword {
        #[serde(default)]
        fido_approval: bool,
        #[serde(default = "default_required")]
        user_verification: UserVerification,
        timeout: Option<Age>,
    },
    /// The new password, checked against the password rules (self-service).
    NewPassword,
    /// Re-authentication with one of the user's enabled credentials before a change.
    FidoApproval {
        #[serde(default = "default_required")]
        user_verification: UserVerification,
        timeout: Option<Age>,
    },
    /// Applies the change to the selected credential; runs without a client call.
    Apply {
        action: Action,
        /// Whether the last enabled credential of a user who has a password may be deleted or
        /// disabled (never for a user without a password).
        #[serde(default)]
        allow_last_credential: bool,
    },
}

/// The COSE algorithms a registration offers unless its step or tenant names others: EdDSA, ES256,
/// RS256, ES384, ES512.
pub fn default_algorithms() -> Vec<i64> {
    vec![-8, -7, -257, -35, -36]
}

impl Step {
    /// The name used in flow files and error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Step::Password { .. } => "password",
            Step::FidoAuthentication { .. } => "fido-authentication",
            Step::FidoPasswordless { .. } => "fido-passwordless",
            Step::FidoRegistration { .. } => "fido-registration",
            Step::UserData => "user-data",
            Step::CredentialSelection => "credential-selection",
            Step::DisplayNameChange => "display-name-change",
            Step::SessionSelection => "session-selection",
            Step::UserDisplayNameChange => "user-display-name-change",
            Step::CurrentPassword { .. } => "current-password",
            Step::NewPassword => "new-password",
            Step::FidoApproval { .. } => "fido-approval",
            Step::Apply { .. } => "apply",
        }
    }

    /// Tags this step grants when it succeeds.
    pub fn grants(&self) -> &[Tag] {
        match self {
            Step::Password { grants, .. }
            | Step::FidoAuthentication { grants, .. }
            | Step::FidoPasswordless { grants, .. }
            | Step::FidoRegistration { grants, .. } => grants,
            _ => &[],
        }
    }
}

/// What a condition is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct ConditionContext<'a> {
    pub now: chrono::DateTime<chrono::Utc>,
    /// When the session's login completed, if it is authenticated.
    pub authenticated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub tags: &'a [(Tag, chrono::DateTime<chrono::Utc>)],
    pub user_has_password: bool,
    pub user_has_enabled_credential: bool,
}

impl Condition {
    pub fn holds(&self, cx: &ConditionContext<'_>) -> bool {
        let fresh =
            |at: chrono::DateTime<chrono::Utc>, max_age: &Age| cx.now - at <= max_age.chrono();
        match self {
            Condition::AuthenticatedWithin { max_age } => {
                cx.authenticated_at.is_some_and(|at| fresh(at, max_age))
            }
            Condition::Tag { tag, max_age } => cx
                .tags
                .iter()
                .any(|(t, at)| t == tag && max_age.as_ref().is_none_or(|max| fresh(*at, max))),
            Condition::AnyOf { conditions } => conditions.iter().any(|c| c.holds(cx)),
            Condition::UserHasPassword => cx.user_has_password,
            Condition::UserHasCredential => cx.user_has_enabled_credential,
            Condition::Not { condition } => !condition.holds(cx),
        }
    }

    /// Every condition of a list holds (an empty list always holds).
    pub fn all_hold(conditions: &[Condition], cx: &ConditionContext<'_>) -> bool {
        conditions.iter().all(|c| c.holds(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};

    fn tag(t: &str) -> Tag {
        Tag::parse(t).unwrap()
    }

    fn minutes(m: u64) -> Age {
        Age(std::time::Duration::from_secs(m * 60))
    }

    /// A context at `now` with no login, no tags and no password or credential.
    fn context(now: DateTime<Utc>, tags: &[(Tag, DateTime<Utc>)]) -> ConditionContext<'_> {
        ConditionContext {
            now,
            authenticated_at: None,
            tags,
            user_has_password: false,
            user_has_enabled_credential: false,
        }
    }

    #[test]
    fn each_step_is_named_as_flow_files_write_it() {
        let fido = || Step::FidoAuthentication {
            grants: vec![],
            user_verification: UserVerification::Preferred,
            timeout: None,
        };
        assert_eq!(fido().type_name(), "fido-authentication");
        assert_eq!(Step::UserData.type_name(), "user-data");
        assert_eq!(
            Step::CredentialSelection.type_name(),
            "credential-selection"
        );
        assert_eq!(Step::DisplayNameChange.type_name(), "display-name-change");
    }

    #[test]
    fn a_login_is_recent_up_to_and_including_its_max_age() {
        let now = Utc::now();
        let within = Condition::AuthenticatedWithin {
            max_age: minutes(5),
        };
        let mut cx = context(now, &[]);
        assert!(!within.holds(&cx), "no login at all");
        cx.authenticated_at = Some(now - Duration::minutes(5));
        assert!(within.holds(&cx), "exactly max_age ago still holds");
        cx.authenticated_at = Some(now - Duration::minutes(5) - Duration::seconds(1));
        assert!(!within.holds(&cx), "a second past max_age does not");
    }

    #[test]
    fn a_tag_condition_needs_that_tag_and_a_fresh_grant_when_aged() {
        let now = Utc::now();
        let tags = [
            (tag("PASSWORD_VERIFIED"), now - Duration::minutes(1)),
            (tag("FIDO_VERIFIED"), now - Duration::minutes(30)),
        ];
        let cx = context(now, &tags);
        let has = |t: &str, max_age: Option<Age>| {
            Condition::Tag {
                tag: tag(t),
                max_age,
            }
            .holds(&cx)
        };
        assert!(has("PASSWORD_VERIFIED", None));
        assert!(has("PASSWORD_VERIFIED", Some(minutes(5))));
        assert!(has("FIDO_VERIFIED", None));
        assert!(
            !has("FIDO_VERIFIED", Some(minutes(5))),
            "granted too long ago"
        );
        assert!(!has("OTHER", None), "a tag never granted");
        // An old grant of one tag does not make a fresh grant of another count.
        assert!(!has("OTHER", Some(minutes(60))));
    }

    #[test]
    fn any_of_and_the_user_facts_hold_as_named() {
        let now = Utc::now();
        let mut cx = context(now, &[]);
        let any = Condition::AnyOf {
            conditions: vec![Condition::UserHasPassword, Condition::UserHasCredential],
        };
        assert!(!any.holds(&cx));
        assert!(!Condition::UserHasPassword.holds(&cx));
        assert!(!Condition::UserHasCredential.holds(&cx));
        cx.user_has_password = true;
        assert!(any.holds(&cx));
        assert!(Condition::UserHasPassword.holds(&cx));
        assert!(!Condition::UserHasCredential.holds(&cx));
        cx.user_has_password = false;
        cx.user_has_enabled_credential = true;
        assert!(any.holds(&cx));
        assert!(Condition::UserHasCredential.holds(&cx));
        let without_password = Condition::Not {
            condition: Box::new(Condition::UserHasPassword),
        };
        assert!(without_password.holds(&cx));
        cx.user_has_password = true;
        assert!(!without_password.holds(&cx));
    }

    #[test]
    fn all_hold_needs_every_condition_and_an_empty_list_holds() {
        let mut cx = context(Utc::now(), &[]);
        cx.user_has_password = true;
        assert!(Condition::all_hold(&[], &cx));
        assert!(Condition::all_hold(&[Condition::UserHasPassword], &cx));
        assert!(!Condition::all_hold(
            &[Condition::UserHasPassword, Condition::UserHasCredential],
            &cx
        ));
        assert!(!Condition::all_hold(&[Condition::UserHasCredential], &cx));
    }
}
