//! The AuthFi shape's errors: a 4xx/5xx status with `{"code": N, "message": "…"}`, using
//! AuthFi's own documented codes where one fits (so relying-party code that branches on them
//! keeps working) and fidoflow's codes (documented in the README) for what AuthFi has no code
//! for. One exhaustive mapping from engine errors and ceremony refusals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::api::backend::Refused;
use crate::engine::{CeremonyError, EngineError, Refusal, RefusalKind};

/// Which ceremony a refusal came from: registration and assertion refusals have codes of their
/// own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Registration,
    Assertion,
    Other,
}

#[derive(Debug)]
pub struct AuthFiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
}

impl AuthFiError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// Unacceptable parameters (1002).
    pub fn parameters(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 1002, message)
    }

    pub fn of_engine(e: EngineError, stage: Stage) -> Self {
        use EngineError as E;
        let message = e.to_string();
        let (status, code) = match &e {
            E::InvalidRequest(_) | E::InvalidDisplayName(_) | E::InvalidUsername(_) => {
                (StatusCode::BAD_REQUEST, 1002)
            }
            E::UserNotFound(_) => (StatusCode::NOT_FOUND, 1000),
            E::UserCredentialNotFound(_) | E::FidoCredentialNotFound | E::SessionNotFound => {
                (StatusCode::NOT_FOUND, 1002)
            }
            E::UserLocked { .. } => (StatusCode::FORBIDDEN, 2000),
            E::NoValidToken => (StatusCode::FORBIDDEN, 4206),
            E::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, 1003),
            E::ServerBusy(reason) => {
                crate::api::error::server_busy(*reason);
                (StatusCode::SERVICE_UNAVAILABLE, 9000)
            }
            E::UserExists => (StatusCode::CONFLICT, 1002),
            E::Storage(crate::store::StoreError::Unavailable(_)) => {
                tracing::warn!(error = ?e, "AuthFi call: the database is unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, 9000)
            }
            E::Storage(_) | E::Internal(_) => {
                tracing::error!(error = ?e, "AuthFi call failed");
                (StatusCode::INTERNAL_SERVER_ERROR, 9000)
            }
            // The flow and administration errors do not arise from the backend use cases.
            E::InvalidPassword(_)
            | E::UsernamePasswordWrong { .. }
            | E::UnexpectedCall { .. }
            | E::NotAuthorized { .. }
            | E::StepUpRequired(_)
            | E::PreconditionNotFulfilled(_)
            | E::FlowNotFound(_)
            | E::ApplicationNotFound(_)
            | E::FidoRegistrationFailed { .. }
            | E::FidoRegistrationTimeout { .. }
            | E::FidoAuthenticationFailed { .. }
            | E::FidoAuthenticationTimeout { .. }
            | E::FidoApprovalFailed { .. }
            | E::FidoApprovalTimeout { .. }
            | E::UsernameNotAvailable { .. }
            | E::FidoCredentialChangeNotAllowed(_)
            | E::CurrentPasswordWrong { .. }
            | E::PasswordRemovalNotAllowed(_)
            | E::ConcurrentAccess
            | E::AdminTokenInvalid
            | E::NoAdminTokenConfigured
            | E::AdminRoleMissing
            | E::AdminTenantForbidden(_)
            | E::TenantNotFound(_)
            | E::TenantExists(_)
            | E::TenantReadOnly(_)
            | E::InvalidTenant(_)
            | E::MetadataRefused(_) => match stage {
                Stage::Registration => (StatusCode::BAD_REQUEST, 3400),
                Stage::Assertion => (StatusCode::BAD_REQUEST, 4200),
                Stage::Other => (StatusCode::BAD_REQUEST, 1002),
            },
        };
        let message = if status.is_server_error() {
            "the server could not complete the call; try again".to_string()
        } else {
            message
        };
        Self::new(status, code, message)
    }

    pub fn of_ceremony(e: CeremonyError, stage: Stage) -> Self {
        match e {
            CeremonyError::Engine(e) => Self::of_engine(e, stage),
            CeremonyError::Refused(r) => Self::of_refusal(r, stage),
        }
    }

    fn of_refusal(r: Refusal, stage: Stage) -> Self {
        use RefusalKind as K;
        let registration = stage == Stage::Registration;
        let (status, code) = match r.kind {
            K::Locked { .. } => (StatusCode::FORBIDDEN, 2000),
            K::TooManyCredentials => (StatusCode::CONFLICT, 3001),
            K::Malformed if registration => (StatusCode::BAD_REQUEST, 3100),
            K::Malformed => (StatusCode::BAD_REQUEST, 4100),
            K::Attestation { u2f: false } => (StatusCode::BAD_REQUEST, 3200),
            K::Attestation { u2f: true } => (StatusCode::BAD_REQUEST, 3300),
            K::Policy if registration => (StatusCode::FORBIDDEN, 3401),
            K::AlreadyRegistered => (StatusCode::CONFLICT, 3402),
            K::Spent | K::WrongUser if registration => (StatusCode::BAD_REQUEST, 3403),
            K::Expired if registration => (StatusCode::BAD_REQUEST, 3404),
            K::Check if registration => (StatusCode::BAD_REQUEST, 3400),
            K::Spent | K::WrongUser => (StatusCode::BAD_REQUEST, 4204),
            K::Expired => (StatusCode::BAD_REQUEST, 4205),
            K::UnknownCredential => (StatusCode::BAD_REQUEST, 4201),
            K::CredentialDisabled => (StatusCode::FORBIDDEN, 4202),
            K::CounterRegression => (StatusCode::FORBIDDEN, 4203),
            K::Policy | K::Check => (StatusCode::BAD_REQUEST, 4200),
        };
        Self::new(status, code, r.detail)
    }

    pub fn of_refused(r: Refused) -> Self {
        match r {
            Refused::UnknownTenant => Self::new(
                StatusCode::NOT_FOUND,
                1000,
                "no relying party is served under this path",
            ),
            Refused::KeyMissing => Self::new(
                StatusCode::UNAUTHORIZED,
                1000,
                "the API key is missing: send it in the AT-X-Key header",
            ),
            Refused::KeyWrong => Self::new(
                StatusCode::UNAUTHORIZED,
                1000,
                "the API key is not one of this relying party's keys",
            ),
            Refused::CertificateWrong => Self::new(
                StatusCode::UNAUTHORIZED,
                1000,
                crate::api::backend::CERTIFICATE_WRONG,
            ),
            Refused::Limited(e) => Self::of_engine(e, Stage::Other),
        }
    }
}

impl std::fmt::Display for AuthFiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl ResponseError for AuthFiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .insert_header(("cache-control", "no-store"))
            .json(json!({ "code": self.code, "message": self.message }))
    }
}

/// The code table, in the order the README shows it: (code, status, meaning).
pub const CODES: &[(u32, u16, &str)] = &[
    (0, 200, "success"),
    (1000, 401, "the API key is missing or not one of the tenant's (404: no tenant under this path, or no such user)"),
    (1002, 400, "unacceptable parameters: a user name, display name, page or page size out of range, an unknown credential id (404), no user id for a verification"),
    (1003, 429, "too many calls with this API key in the window (`rate_limits.per_api_key`)"),
    (2000, 403, "the user is suspended: temporarily locked after repeated failed assertions"),
    (3001, 409, "the user has as many keys as the tenant allows (`max_keys_per_user`, default 10)"),
    (3100, 400, "`fido_register_response` is missing or malformed"),
    (3200, 400, "the attestation does not verify"),
    (3300, 400, "the `fido-u2f` attestation does not verify"),
    (3400, 400, "the registration fails a WebAuthn check (challenge, origin, RP ID, flags, algorithm); `message` names it"),
    (3401, 403, "the attestation verifies but the tenant's attestation policy or the FIDO metadata refuses it"),
    (3402, 409, "this credential is registered already"),
    (3403, 400, "no registration of this tenant waits for this challenge (used, never issued here, or by another API)"),
    (3404, 400, "the registration's challenge expired"),
    (4100, 400, "the login or verification response is missing or malformed"),
    (4200, 400, "the assertion fails a WebAuthn check (signature, challenge, origin, RP ID, flags, metadata status); `message` names it"),
    (4201, 400, "the credential is not registered, not the user's, or not one the request allowed"),
    (4202, 403, "the credential is disabled"),
    (4203, 403, "the signature counter did not grow: the authenticator may be cloned"),
    (4204, 400, "no login or verification of this tenant waits for this challenge"),
    (4205, 400, "the login or verification challenge expired"),
    (4206, 403, "the user has no enabled key to verify with"),
    (9000, 500, "the server failed (503: busy); try again"),
];
