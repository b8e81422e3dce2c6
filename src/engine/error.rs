//! The engine's one error enum. `api/error.rs` maps each variant to its HTTP status and its
//! stable code; the `Display` text is the `detail` the client sees.

use chrono::{DateTime, Utc};

use super::metrics::Busy;
use crate::store::{Refusal, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidDisplayName(String),
    #[error("{0}")]
    InvalidUsername(String),
    #[error("{0}")]
    InvalidPassword(String),
    #[error("{detail}")]
    UsernamePasswordWrong {
        detail: String,
        next_auth_step: Option<&'static str>,
    },
    /// Self-service: the current password given is not the account's.
    #[error("the current password is wrong; type it again, or approve with a passkey instead where offered")]
    CurrentPasswordWrong { next: NextStep },
    #[error("too many failed attempts: this account is temporarily locked")]
    UserLocked { until: DateTime<Utc> },
    #[error("{detail}")]
    UnexpectedCall {
        detail: String,
        next: Option<NextStep>,
    },
    /// No authenticated session (401), or an application that is not satisfied yet.
    #[error("{detail}")]
    NotAuthorized {
        detail: String,
        next_auth_step: Option<&'static str>,
    },
    /// Authenticated, but the login is too old or too weak for the flow (403).
    #[error("{0}")]
    StepUpRequired(String),
    #[error("{0}")]
    PreconditionNotFulfilled(String),
    #[error("there is no flow `{0}`")]
    FlowNotFound(String),
    #[error("there is no application `{0}`")]
    ApplicationNotFound(String),
    #[error("{detail}")]
    FidoRegistrationFailed { detail: String, next: NextStep },
    #[error("the registration took too long and its challenge expired; retrieve a new challenge")]
    FidoRegistrationTimeout { next: NextStep },
    #[error("{detail}")]
    FidoAuthenticationFailed { detail: String, next: NextStep },
    #[error("the sign-in took too long and its challenge expired; retrieve a new challenge")]
    FidoAuthenticationTimeout { next: NextStep },
    #[error("{detail}")]
    FidoApprovalFailed { detail: String, next: NextStep },
    #[error("the approval took too long and its challenge expired; retrieve a new challenge")]
    FidoApprovalTimeout { next: NextStep },
    #[error("{detail}")]
    UsernameNotAvailable {
        detail: String,
        next: Option<NextStep>,
    },
    #[error("this account has no such credential")]
    FidoCredentialNotFound,
    #[error(
        "this account has no such session; it may have ended already, so list the sessions again"
    )]
    SessionNotFound,
    /// A last-credential rule (or the credential's state) refuses the change.
    #[error("{0}")]
    FidoCredentialChangeNotAllowed(Refusal),
    /// The password cannot go: the account would be left without a way to sign in.
    #[error("{0}")]
    PasswordRemovalNotAllowed(Refusal),
    #[error("all of this account's authenticators are disabled; ask the helpdesk for help")]
    NoValidToken,
    #[error("too many requests; try again in {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    #[error("the server is busy; try again in a moment")]
    ServerBusy(Busy),
    #[error("a request of this session is still in progress; wait for it to finish")]
    ConcurrentAccess,
    #[error("a valid administration token is required (Authorization: Bearer …)")]
    AdminTokenInvalid,
    /// The server has no admin token at all, so no bearer token can be accepted.
    #[error(
        "no admin token is configured on this server; start it with FIDOFLOW_ADMIN_TOKEN set \
         (or [[admin.tokens]] in its configuration)"
    )]
    NoAdminTokenConfigured,
    #[error("this token's role may not do that")]
    AdminRoleMissing,
    /// The token is limited to other tenants (403, like a role refusal).
    #[error("{0}")]
    AdminTenantForbidden(String),
    #[error("there is no tenant `{0}`")]
    TenantNotFound(String),
    /// The id or access path of a new or changed tenant is taken (409).
    #[error("{0}")]
    TenantExists(String),
    /// A tenant of the configuration file, or `default`: not changed through the API (409).
    #[error("{0}")]
    TenantReadOnly(String),
    /// Tenant settings the configuration's rules refuse (400).
    #[error("{0}")]
    InvalidTenant(String),
    #[error("a user with this username already exists")]
    UserExists,
    /// A metadata BLOB that does not verify, or is older than the one in use (400).
    #[error("the metadata BLOB is refused: {0}")]
    MetadataRefused(String),
    #[error("there is no user `{0}`")]
    UserNotFound(String),
    /// Administration: the credential is not one of this user's (404).
    #[error("user `{0}` has no credential with this id; list their credentials for the ids")]
    UserCredentialNotFound(String),
    #[error("internal error")]
    Storage(#[from] StoreError),
    #[error("internal error")]
    Internal(String),
}

/// Where the client goes next after an error: `nextStep` (self-service, sign-up) or
/// `nextAuthStep` (authentication), carried in the error document's `meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Step(&'static str),
    AuthStep(&'static str),
}
