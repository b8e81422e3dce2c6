//! The one place that maps every error to its HTTP status, its stable code from API.md and the
//! JSON:API error document. The cause chain goes to the log; the client gets our `detail`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

use super::document::{meta, random_error_id};
use crate::engine::{EngineError, NextStep};

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
    #[error("the Origin of this request is not one of this server's origins")]
    CsrfOriginMismatch,
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// Status and stable code, one arm per variant.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use EngineError as E;
        match self {
            ApiError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            ApiError::RequestTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_TOO_LARGE"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            ApiError::CsrfHeaderMissing => (StatusCode::FORBIDDEN, "CSRF_HEADER_MISSING"),
            ApiError::CsrfOriginMismatch => (StatusCode::FORBIDDEN, "CSRF_ORIGIN_MISMATCH"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
            ApiError::Engine(e) => match e {
                E::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
                E::InvalidDisplayName(_) => (StatusCode::BAD_REQUEST, "INVALID_DISPLAY_NAME"),
                E::InvalidUsername(_) => (StatusCode::BAD_REQUEST, "INVALID_USERNAME"),
                E::InvalidPassword(_) => (StatusCode::BAD_REQUEST, "INVALID_PASSWORD"),
                E::UsernamePasswordWrong { .. } => {
                    (StatusCode::BAD_REQUEST, "USERNAME_PASSWORD_WRONG")
                }
                E::UserLocked { .. } => (StatusCode::FORBIDDEN, "USER_LOCKED"),
                E::UnexpectedCall { .. } => (StatusCode::BAD_REQUEST, "UNEXPECTED_CALL"),
                E::NotAuthorized { .. } => (StatusCode::UNAUTHORIZED, "NOT_AUTHORIZED"),
                E::StepUpRequired(_) => (StatusCode::FORBIDDEN, "NOT_AUTHORIZED"),
                E::PreconditionNotFulfilled(_) => {
                    (StatusCode::FORBIDDEN, "PRECONDITION_NOT_FULFILLED")
                }
                E::FlowNotFound(_) => (StatusCode::NOT_FOUND, "FLOW_NOT_FOUND"),
                E::ApplicationNotFound(_) => (StatusCode::NOT_FOUND, "APPLICATION_NOT_FOUND"),
                E::FidoRegistrationFailed { .. } => {
                    (StatusCode::BAD_REQUEST, "FIDO_REGISTRATION_FAILED")
                }
                E::FidoRegistrationTimeout { .. } => {
                    (StatusCode::BAD_REQUEST, "FIDO_REGISTRATION_TIMEOUT")
                }
                E::FidoAuthenticationFailed { .. } => {
                    (StatusCode::BAD_REQUEST, "FIDO_AUTHENTICATION_FAILED")
                }
                E::FidoAuthenticationTimeout { .. } => {
                    (StatusCode::BAD_REQUEST, "FIDO_AUTHENTICATION_TIMEOUT")
                }
                E::FidoApprovalFailed { .. } => (StatusCode::BAD_REQUEST, "FIDO_APPROVAL_FAILED"),
                E::FidoApprovalTimeout { .. } => (StatusCode::BAD_REQUEST, "FIDO_APPROVAL_TIMEOUT"),
                E::UsernameNotAvailable { .. } => {
                    (StatusCode::BAD_REQUEST, "USERNAME_NOT_AVAILABLE")
                }
                E::FidoCredentialNotFound => (StatusCode::BAD_REQUEST, "FIDO_CREDENTIAL_NOT_FOUND"),
                E::FidoCredentialChangeNotAllowed(_) => (
                    StatusCode::BAD_REQUEST,
                    "FIDO_CREDENTIAL_CHANGE_NOT_ALLOWED",
                ),
                E::NoValidToken => (StatusCode::BAD_REQUEST, "NO_VALID_TOKEN"),
                E::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS"),
                E::ServerBusy => (StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY"),
                E::ConcurrentAccess => (StatusCode::BAD_REQUEST, "CONCURRENT_ACCESS"),
                E::AdminTokenInvalid => (StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED"),
                E::AdminRoleMissing | E::AdminTenantForbidden(_) => {
                    (StatusCode::FORBIDDEN, "FORBIDDEN")
                }
                E::TenantNotFound(_) => (StatusCode::NOT_FOUND, "TENANT_NOT_FOUND"),
                E::TenantExists(_) => (StatusCode::CONFLICT, "TENANT_EXISTS"),
                E::TenantReadOnly(_) => (StatusCode::CONFLICT, "TENANT_READ_ONLY"),
                E::InvalidTenant(_) => (StatusCode::BAD_REQUEST, "INVALID_TENANT"),
                E::UserExists => (StatusCode::CONFLICT, "USER_EXISTS"),
                E::MetadataRefused(_) => (StatusCode::BAD_REQUEST, "MDS_BLOB_REFUSED"),
                E::UserNotFound(_) => (StatusCode::NOT_FOUND, "USER_NOT_FOUND"),
                E::UserCredentialNotFound(_) => {
                    (StatusCode::NOT_FOUND, "FIDO_CREDENTIAL_NOT_FOUND")
                }
                E::Storage(_) | E::Internal(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
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
            | E::FidoApprovalTimeout { next } => Some(*next),
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
        if status.is_server_error() {
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
                "detail": self.to_string(),
            }],
        });
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let ApiError::Engine(EngineError::TooManyRequests { retry_after }) = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        response.json(body)
    }
}
