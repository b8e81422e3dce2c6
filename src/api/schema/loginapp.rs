//! The Loginapp's request bodies and resource attributes (`api::loginapp`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// `POST …/password/check`.
#[derive(ToSchema)]
pub struct PasswordCheck {
    pub username: String,
    pub password: String,
}

/// `POST …/fido/challenge/retrieve`.
#[derive(ToSchema)]
pub struct AuthenticationChallenge {
    /// `conditional` for passkey autofill (no `allowCredentials`).
    #[schema(required = false, example = "conditional")]
    pub mediation: Option<String>,
}

/// A ceremony's answer: the browser's `credential.toJSON()`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CredentialResponse {
    /// `RegistrationResponseJSON` or `AuthenticationResponseJSON`.
    #[schema(value_type = Object)]
    pub public_key_credential: Value,
}

/// `POST …/fido/abort`: why the browser's ceremony ended.
#[derive(ToSchema)]
pub struct Abort {
    pub reason: AbortReason,
}

/// The reasons a browser may report for a cancelled ceremony. `EXCLUDED_CREDENTIAL` (a
/// self-service registration only): the authenticator already holds one of the user's
/// credentials (WebAuthn's `InvalidStateError`); it is audited as a refused
/// `FIDO_REGISTRATION`.
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AbortReason {
    Aborted,
    NotAllowed,
    Timeout,
    WebAuthnNotAvailable,
    ExcludedCredential,
}

/// `POST …/fido/registration/challenge/retrieve`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RegistrationChallenge {
    /// The new credential's name; without one, the authenticator's model name or "Passkey N".
    #[schema(required = false)]
    pub display_name: Option<String>,
}

/// `POST /rest/public/user-self-registration/user-data/continue`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct UserData {
    pub username: String,
    #[schema(required = false)]
    pub display_name: Option<String>,
}

/// `POST …/fido/credential/select`: the first step of rename, delete, disable and enable.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CredentialSelect {
    /// base64url, as in the credential list.
    pub credential_id: String,
}

/// `POST …/fido/display-name/change`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct DisplayNameChange {
    pub display_name: String,
}

/// A session document after a step: `{}` when the flow is done, else the step it waits for.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Step {
    /// Self-service and sign-up: e.g. `FIDO_REGISTRATION_CHALLENGE_RETRIEVAL_REQUIRED`,
    /// `FIDO_CREDENTIAL_SELECTION_REQUIRED`, `FIDO_DISPLAY_NAME_CHANGE_REQUIRED`,
    /// `FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED`, `USER_DATA_REQUIRED`.
    #[schema(required = false)]
    pub next_step: Option<String>,
    /// Authentication: `PASSWORD_REQUIRED` or `FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED`.
    #[schema(required = false)]
    pub next_auth_step: Option<String>,
}

/// A challenge for `navigator.credentials.get()`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RequestOptions {
    /// `PublicKeyCredentialRequestOptionsJSON`.
    #[schema(value_type = Object)]
    pub public_key_credential_request_options: Value,
}

/// A challenge for `navigator.credentials.create()`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CreationOptions {
    /// `PublicKeyCredentialCreationOptionsJSON`.
    #[schema(value_type = Object)]
    pub public_key_credential_creation_options: Value,
}

/// `GET …/session`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Session {
    pub authenticated: bool,
    #[schema(required = false)]
    pub username: Option<String>,
    #[schema(required = false)]
    pub authenticated_at: Option<DateTime<Utc>>,
    /// The tags the completed flows granted.
    pub tags: Vec<Tag>,
    #[schema(required = false)]
    pub next_auth_step: Option<String>,
}

/// A tag of the session and when it was granted.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Tag {
    pub name: String,
    pub granted_at: DateTime<Utc>,
}

/// A self-service flow (`id`: the flow id) and whether this session may start it.
#[derive(ToSchema)]
pub struct Flow {
    pub available: bool,
}

/// A FIDO credential in the self-service and helpdesk lists (`id`: the credential id, base64url).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Credential {
    pub display_name: String,
    pub aaguid: String,
    /// From the FIDO metadata or the known-authenticator list.
    pub authenticator_name: Option<String>,
    pub attestation_format: String,
    pub attestation_trusted: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub sign_count: u32,
    pub transports: Vec<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub discoverable: Option<bool>,
    pub user_verified: bool,
    pub enabled: bool,
    /// `user`, `helpdesk` or `relying-party`; `null` while enabled.
    pub disabled_by: Option<String>,
    /// A `data:` URL of the authenticator's icon, when the metadata has one.
    pub authenticator_icon: Option<String>,
    /// Only in the answer of a helpdesk delete of a FIDO UAF key: the stringified
    /// `DeregistrationRequest` to pass on to the app.
    #[schema(required = false)]
    pub uaf_deregistration_request: Option<String>,
    /// Only in the self-service list: the changes of this credential its flows would refuse now
    /// (not offered by the portal), by action; `{}` when none.
    #[schema(required = false)]
    pub change_refusals: Option<ChangeRefusals>,
}

/// A refused change's code: `LAST_CREDENTIAL_WITHOUT_PASSWORD` (the only enabled credential of
/// an account without a password), `LAST_CREDENTIAL` (the last enabled credential, where the
/// flow does not allow it) or `DISABLED_BY_HELPDESK` (only the helpdesk can enable it).
#[derive(ToSchema)]
pub struct ChangeRefusals {
    #[schema(required = false)]
    pub delete: Option<String>,
    #[schema(required = false)]
    pub disable: Option<String>,
    #[schema(required = false)]
    pub enable: Option<String>,
}

/// The CSRF header every Loginapp call needs.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct CsrfHeader {
    /// Any non-empty value; a request without it answers `403 CSRF_HEADER_MISSING`.
    #[param(rename = "X-Same-Domain", example = "1")]
    pub x_same_domain: String,
}

/// A flow or application id in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    pub id: String,
}
