//! The one place that maps every error to its HTTP status, its stable code from API.md and the
//! JSON:API error document. The cause chain goes to the log; the client gets our `detail`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

use super::document::{meta, random_error_id};
use crate::engine::metrics::{self, Busy};
use crate::engine::{EngineError, NextStep};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    InvalidRequest(String),
    /// The body is over the call's limit, in bytes.
    #[error("the request body is larger than {}", size_text(*.0))]
    RequestTooLarge(usize),
    #[error("no such resource")]
    NotFound,
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    #[error("the X-Same-Domain header is missing: send it with any non-empty value")]
    CsrfHeaderMissing,
    /// The Origin of a browser-facing call is not one of the server's; the detail says which
    /// origin came and which the server accepts.
    #[error("{0}")]
    CsrfOriginMismatch(String),
    #[error("internal error")]
    Internal(String),
}

/// The stable code of an error (`errors[0].code`), as API.md lists them; the README says which
/// call answers which. (This enum is what the server sends and what the OpenAPI document lists,
/// so the two cannot differ.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidRequest,
    RequestTooLarge,
    NotFound,
    MethodNotAllowed,
    CsrfHeaderMissing,
    CsrfOriginMismatch,
    /// The admin API was called on a server with no admin token configured.
    NoAdminTokenConfigured,
    InternalError,
    InvalidDisplayName,
    InvalidUsername,
    InvalidPassword,
    UsernamePasswordWrong,
    /// Self-service: the current password is wrong.
    PasswordWrong,
    UserLocked,
    UnexpectedCall,
    NotAuthorized,
    PreconditionNotFulfilled,
    FlowNotFound,
    ApplicationNotFound,
    FidoRegistrationFailed,
    FidoRegistrationTimeout,
    FidoAuthenticationFailed,
    FidoAuthenticationTimeout,
    FidoApprovalFailed,
    FidoApprovalTimeout,
    UsernameNotAvailable,
    FidoCredentialNotFound,
    FidoCredentialChangeNotAllowed,
    /// Self-service: the selected session is not one of the account's (any more).
    SessionNotFound,
    /// Self-service: removing the password would leave no way to sign in.
    PasswordRemovalNotAllowed,
    NoValidToken,
    TooManyRequests,
    ServerBusy,
    /// The database could not be reached (PostgreSQL backend): the call may be sent again.
    StoreUnavailable,
    ConcurrentAccess,
    NotAuthenticated,
    Forbidden,
    UserExists,
    MdsBlobRefused,
    UserNotFound,
    TenantNotFound,
    TenantExists,
    TenantReadOnly,
    InvalidTenant,
}

impl ApiError {
    /// Status and stable code, one arm per variant.
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use EngineError as E;
        use ErrorCode as C;
        match self {
            ApiError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, C::InvalidRequest),
            ApiError::RequestTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, C::RequestTooLarge),
            ApiError::NotFound => (StatusCode::NOT_FOUND, C::NotFound),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, C::MethodNotAllowed),
            ApiError::CsrfHeaderMissing => (StatusCode::FORBIDDEN, C::CsrfHeaderMissing),
            ApiError::CsrfOriginMismatch(_) => (StatusCode::FORBIDDEN, C::CsrfOriginMismatch),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, C::InternalError),
            ApiError::Engine(e) => match e {
                E::InvalidRequest(_) => (StatusCode::BAD_REQUEST, C::InvalidRequest),
                E::InvalidDisplayName(_) => (StatusCode::BAD_REQUEST, C::InvalidDisplayName),
                E::InvalidUsername(_) => (StatusCode::BAD_REQUEST, C::InvalidUsername),
                E::InvalidPassword(_) => (StatusCode::BAD_REQUEST, C::InvalidPassword),
                E::UsernamePasswordWrong { .. } => {
                    (StatusCode::BAD_REQUEST, C::UsernamePasswordWrong)
                }
                E::CurrentPasswordWrong { .. } => (StatusCode::BAD_REQUEST, C::PasswordWrong),
                E::UserLocked { .. } => (StatusCode::FORBIDDEN, C::UserLocked),
                E::UnexpectedCall { .. } => (StatusCode::BAD_REQUEST, C::UnexpectedCall),
                E::NotAuthorized { .. } => (StatusCode::UNAUTHORIZED, C::NotAuthorized),
                E::StepUpRequired(_) => (StatusCode::FORBIDDEN, C::NotAuthorized),
                E::PreconditionNotFulfilled(_) => {
                    (StatusCode::FORBIDDEN, C::PreconditionNotFulfilled)
                }
                E::FlowNotFound(_) => (StatusCode::NOT_FOUND, C::FlowNotFound),
                E::ApplicationNotFound(_) => (StatusCode::NOT_FOUND, C::ApplicationNotFound),
                E::FidoRegistrationFailed { .. } => {
                    (StatusCode::BAD_REQUEST, C::FidoRegistrationFailed)
                }
                E::FidoRegistrationTimeout { .. } => {
                    (StatusCode::BAD_REQUEST, C::FidoRegistrationTimeout)
                }
                E::FidoAuthenticationFailed { .. } => {
                    (StatusCode::BAD_REQUEST, C::FidoAuthenticationFailed)
                }
                E::FidoAuthenticationTimeout { .. } => {
                    (StatusCode::BAD_REQUEST, C::FidoAuthenticationTimeout)
                }
                E::FidoApprovalFailed { .. } => (StatusCode::BAD_REQUEST, C::FidoApprovalFailed),
                E::FidoApprovalTimeout { .. } => (StatusCode::BAD_REQUEST, C::FidoApprovalTimeout),
                E::UsernameNotAvailable { .. } => {
                    (StatusCode::BAD_REQUEST, C::UsernameNotAvailable)
                }
                E::FidoCredentialNotFound => (StatusCode::BAD_REQUEST, C::FidoCredentialNotFound),
                E::SessionNotFound => (StatusCode::BAD_REQUEST, C::SessionNotFound),
                E::FidoCredentialChangeNotAllowed(_) => {
                    (StatusCode::BAD_REQUEST, C::FidoCredentialChangeNotAllowed)
                }
                E::PasswordRemovalNotAllowed(_) => {
                    (StatusCode::BAD_REQUEST, C::PasswordRemovalNotAllowed)
                }
                E::NoValidToken => (StatusCode::BAD_REQUEST, C::NoValidToken),
                E::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, C::TooManyRequests),
                E::ServerBusy(_) => (StatusCode::SERVICE_UNAVAILABLE, C::ServerBusy),
                E::ConcurrentAccess => (StatusCode::BAD_REQUEST, C::ConcurrentAccess),
                E::AdminTokenInvalid => (StatusCode::UNAUTHORIZED, C::NotAuthenticated),
                E::NoAdminTokenConfigured => (StatusCode::FORBIDDEN, C::NoAdminTokenConfigured),
                E::AdminRoleMissing | E::AdminTenantForbidden(_) => {
                    (StatusCode::FORBIDDEN, C::Forbidden)
                }
                E::TenantNotFound(_) => (StatusCode::NOT_FOUND, C::TenantNotFound),
                E::TenantExists(_) => (StatusCode::CONFLICT, C::TenantExists),
                E::TenantReadOnly(_) => (StatusCode::CONFLICT, C::TenantReadOnly),
                E::InvalidTenant(_) => (StatusCode::BAD_REQUEST, C::InvalidTenant),
                E::UserExists => (StatusCode::CONFLICT, C::UserExists),
                E::MetadataRefused(_) => (StatusCode::BAD_REQUEST, C::MdsBlobRefused),
                E::UserNotFound(_) => (StatusCode::NOT_FOUND, C::UserNotFound),
                E::UserCredentialNotFound(_) => (StatusCode::NOT_FOUND, C::FidoCredentialNotFound),
                E::Storage(StoreError::Unavailable(_)) => {
                    (StatusCode::SERVICE_UNAVAILABLE, C::StoreUnavailable)
                }
                E::Storage(_) | E::Internal(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, C::InternalError)
                }
            },
        }
    }

    /// Members of the error document's `meta` beyond type and timestamp.
    fn meta_members(&self) -> Map<String, Value> {
        use EngineError as E;
        let mut m = Map::new();
        let ApiError::Engine(e) = self else { return m };
        let next = match e {
            E::UsernamePasswordWrong { next_auth_step, .. }
            | E::NotAuthorized { next_auth_step, .. } => next_auth_step.map(NextStep::AuthStep),
            E::UnexpectedCall { next, .. } | E::UsernameNotAvailable { next, .. } => *next,
            E::FidoRegistrationFailed { next, .. }
            | E::FidoRegistrationTimeout { next }
            | E::FidoAuthenticationFailed { next, .. }
            | E::FidoAuthenticationTimeout { next }
            | E::FidoApprovalFailed { next, .. }
            | E::FidoApprovalTimeout { next }
            | E::CurrentPasswordWrong { next } => Some(*next),
            _ => None,
        };
        match next {
            Some(NextStep::Step(s)) => {
                m.insert("nextStep".into(), json!(s));
            }
            Some(NextStep::AuthStep(s)) => {
                m.insert("nextAuthStep".into(), json!(s));
            }
            None => {}
        }
        if let E::UserLocked { until } = e {
            m.insert(
                "temporaryLockExpiry".into(),
                json!(until.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)),
            );
        }
        m
    }
}

/// A body limit as people write it: `64 KiB`, `16 MiB`.
fn size_text(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        if let ApiError::Engine(EngineError::ServerBusy(reason)) = self {
            server_busy(*reason);
        } else if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        let mut m = meta();
        m.extend(self.meta_members());
        let body = json!({
            "meta": m,
            "errors": [{
                "id": random_error_id(),
                "status": status.as_u16(),
                "code": code,
                "detail": match code {
                    ErrorCode::StoreUnavailable => {
                        "the server cannot reach its database; send the request again in a moment"
                            .to_string()
                    }
                    _ => self.to_string(),
                },
            }],
        });
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let ApiError::Engine(EngineError::TooManyRequests { retry_after }) = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if code == ErrorCode::StoreUnavailable {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.json(body)
    }
}

/// Counts a `503 SERVER_BUSY` refusal in the metrics and logs it: at WARN (the server works as
/// configured, it is only full), and sampled, since a flood refuses thousands a second: at most
/// one line a second per process, carrying the number of refusals since the previous line.
pub(super) fn server_busy(reason: Busy) {
    metrics::server_busy(reason);
    static SAMPLER: LogSampler = LogSampler::new(Duration::from_secs(1));
    if let Some(refusals) = SAMPLER.note(Instant::now()) {
        tracing::warn!(
            refusals,
            "refused with 503 SERVER_BUSY (count since the previous such line)"
        );
    }
}

/// Counts events and says when to write a line: the first event writes one, and later events
/// write one only when `interval` has passed since the previous line.
pub(super) struct LogSampler {
    interval: Duration,
    state: Mutex<SamplerState>,
}

struct SamplerState {
    last_line: Option<Instant>,
    unlogged: u64,
}

impl LogSampler {
    pub(super) const fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(SamplerState {
                last_line: None,
                unlogged: 0,
            }),
        }
    }

    /// Counts one event at `now`; `Some(n)` when a line is due, `n` the events it reports (this
    /// one and those not reported since the previous line).
    pub(super) fn note(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.unlogged += 1;
        let due = state
            .last_line
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        state.last_line = Some(now);
        Some(std::mem::take(&mut state.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_refusals_within_a_second_make_one_line_with_their_count() {
        let sampler = LogSampler::new(Duration::from_secs(1));
        let start = Instant::now();
        assert_eq!(sampler.note(start), Some(1), "the first refusal is logged");
        let lines: Vec<u64> = (1..=10_000u32)
            .filter_map(|i| sampler.note(start + Duration::from_micros(u64::from(i) * 99)))
            .collect();
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(
            sampler.note(start + Duration::from_secs(1)),
            Some(10_001),
            "the next line, a second later, counts every refusal since the first"
        );
        assert_eq!(sampler.note(start + Duration::from_millis(1500)), None);
        assert_eq!(sampler.note(start + Duration::from_secs(2)), Some(2));
    }
}
