//! The typed outcomes of the Loginapp use cases; `api::loginapp` renders them as JSON:API.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{Tag, Username};
use crate::engine::NextStep;

/// A flow step done: the flow instance (the document id), and the step the client takes next —
/// `None` when the flow is done (or has no next step to name).
#[derive(Debug, Clone)]
pub struct StepDone {
    pub instance: String,
    pub next: Option<NextStep>,
}

/// A WebAuthn challenge issued for a flow step: creation or request options as
/// `PublicKeyCredential…OptionsJSON`.
#[derive(Debug, Clone)]
pub struct ChallengeIssued {
    pub instance: String,
    pub options: Value,
}

/// `GET /session`: whether the session is authenticated, as whom, with which tags, and where its
/// authentication flow stands.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub instance: String,
    pub username: Option<Username>,
    pub authenticated_at: Option<DateTime<Utc>>,
    pub tags: Vec<(Tag, DateTime<Utc>)>,
    /// `Some` while an authentication flow runs: its next step (`None` if it names none).
    pub next_auth_step: Option<Option<&'static str>>,
}

/// One self-service flow and whether the signed-in user may start it now.
#[derive(Debug, Clone)]
pub struct FlowOffer {
    pub id: String,
    pub available: bool,
}

/// A credential as the user's own list and the helpdesk show it.
#[derive(Debug, Clone)]
pub struct CredentialView {
    pub id: String,
    pub display_name: String,
    pub aaguid: String,
    pub authenticator_name: Option<String>,
    pub authenticator_icon: Option<String>,
    pub attestation_format: String,
    pub attestation_trusted: bool,
    /// The COSE algorithm of a WebAuthn key (0 for a FIDO UAF key).
    pub algorithm: i64,
    /// Its name: `ES256`, `ML-DSA-65`, … or, for a UAF key, the registry's `ALG_SIGN_*`.
    pub algorithm_name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub sign_count: u32,
    pub transports: Vec<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub discoverable: Option<bool>,
    pub user_verified: bool,
    pub enabled: bool,
    /// `user`, `helpdesk` or `relying-party`.
    pub disabled_by: Option<&'static str>,
    /// A FIDO UAF key just deleted: the stringified `DeregistrationRequest` the relying party
    /// passes on to the app.
    pub uaf_deregistration_request: Option<String>,
    /// Only in the signed-in user's own list: the changes its self-service flows would refuse,
    /// as (action, refusal code) pairs.
    pub change_refusals: Option<Vec<(&'static str, &'static str)>>,
}

/// `GET /user`: the signed-in user's account.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub username: String,
    pub display_name: Option<String>,
    pub has_password: bool,
    pub has_enabled_credential: bool,
    pub created_at: DateTime<Utc>,
}

/// `GET /sessions`: one of the sessions signed in to the user's account.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSession {
    /// The id a `session-selection` step takes (a digest of the engine's session id).
    pub id: String,
    /// Whether it is the session asking.
    pub current: bool,
    /// "Chrome on Linux", from the user agent, when it names a known browser or system.
    pub device: Option<String>,
    pub user_agent: Option<String>,
    /// The address the last sign-in or step-up came from.
    pub remote_address: Option<String>,
    pub signed_in_at: DateTime<Utc>,
    /// Its last request (for the current session: now).
    pub last_seen_at: DateTime<Utc>,
}

/// `GET /security-events`: one of the user's own security events.
#[derive(Debug, Clone)]
pub struct SecurityEvent {
    pub seq: u64,
    pub time: DateTime<Utc>,
    /// The audit event name (`FIDO_AUTHENTICATION`).
    pub event: String,
    pub success: bool,
    /// `you`, `helpdesk`, `someone` (a sign-in before it knew who) or `system`.
    pub by: &'static str,
    pub credential_id: Option<String>,
    pub detail: String,
    pub remote_address: Option<String>,
    pub user_agent: Option<String>,
}
