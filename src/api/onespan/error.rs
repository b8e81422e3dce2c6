//! The OneSpan shape's errors: `{"message", "validationErrors": [{"field", "message"}]}` with a
//! status (400 malformed body or refused ceremony, 401 key, 403 locked user, 404 unknown user,
//! domain or authenticator, 409 existing user, 429, 500/503). Every answer of the shape carries
//! a `log-correlation-id` header (added by the request middleware), the id the audit record and
//! the log line of the call carry too.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::api::backend::Refused;
use crate::engine::{CeremonyError, EngineError, Refusal, RefusalKind};

#[derive(Debug)]
pub struct OneSpanError {
    pub status: StatusCode,
    pub message: String,
    /// (field, message) pairs naming what is wrong with the body.
    pub fields: Vec<(String, String)>,
}

impl OneSpanError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// A malformed body: `field` is what is wrong.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        Self {
            status: StatusCode::BAD_REQUEST,
            message: format!("the request is invalid: {field}: {message}"),
            fields: vec![(field, message)],
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn of_engine(e: EngineError) -> Self {
        use EngineError as E;
        let message = e.to_string();
        let status = match &e {
            E::InvalidDisplayName(_) => return Self::field("displayName", message),
            E::InvalidUsername(_) => return Self::field("userID", message),
            E::InvalidRequest(_) | E::NoValidToken => StatusCode::BAD_REQUEST,
            E::UserNotFound(_) | E::UserCredentialNotFound(_) | E::FidoCredentialNotFound => {
                StatusCode::NOT_FOUND
            }
            E::UserLocked { .. } => StatusCode::FORBIDDEN,
            E::UserExists => StatusCode::CONFLICT,
            E::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::ServerBusy(reason) => {
                crate::api::error::server_busy(*reason);
                StatusCode::SERVICE_UNAVAILABLE
            }
            E::Storage(crate::store::StoreError::Unavailable(_)) => {
                tracing::warn!(error = ?e, "OneSpan call: the database is unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
            E::Storage(_) | E::Internal(_) => {
                tracing::error!(error = ?e, "OneSpan call failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            // The flow and administration errors do not arise from the backend use cases.
            _ => StatusCode::BAD_REQUEST,
        };
        let message = match &e {
            E::UserExists => "a user with this userID exists already".to_string(),
            E::NoValidToken => {
                "the user has no enabled FIDO authenticator that fits this request".to_string()
            }
            _ if status.is_server_error() => {
                "the server could not complete the call; try again".to_string()
            }
            _ => message,
        };
        Self::new(status, message)
    }

    pub fn of_ceremony(e: CeremonyError) -> Self {
        match e {
            CeremonyError::Engine(e) => Self::of_engine(e),
            CeremonyError::Refused(r) => Self::of_refusal(r),
        }
    }

    /// A refused ceremony: 400 naming the failed check (403 for a locked user).
    fn of_refusal(r: Refusal) -> Self {
        let status = match r.kind {
            RefusalKind::Locked { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        let message = if r.detail.contains(&format!("({})", r.check)) {
            r.detail
        } else {
            format!("refused ({}): {}", r.check, r.detail)
        };
        Self::new(status, message)
    }

    pub fn of_refused(r: Refused) -> Self {
        match r {
            Refused::UnknownTenant => Self::not_found("no relying party is served under this path"),
            Refused::KeyMissing => Self::new(
                StatusCode::UNAUTHORIZED,
                "the API key is missing: send it as Authorization: Bearer <key>",
            ),
            Refused::KeyWrong => Self::new(
                StatusCode::UNAUTHORIZED,
                "the API key is not one of this relying party's keys",
            ),
            Refused::CertificateWrong => Self::new(
                StatusCode::UNAUTHORIZED,
                crate::api::backend::CERTIFICATE_WRONG,
            ),
            Refused::Limited(e) => Self::of_engine(e),
        }
    }
}

impl std::fmt::Display for OneSpanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status.as_u16())
    }
}

impl ResponseError for OneSpanError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // Logged inside the request's span, which carries its log-correlation-id.
        tracing::info!(status = self.status.as_u16(), message = %self.message, "OneSpan call refused");
        HttpResponse::build(self.status)
            .insert_header(("cache-control", "no-store"))
            .json(json!({
                "message": self.message,
                "validationErrors": self
                    .fields
                    .iter()
                    .map(|(field, message)| json!({"field": field, "message": message}))
                    .collect::<Vec<_>>(),
            }))
    }
}

/// The status table, in the order the README shows it: (status, meaning).
pub const STATUSES: &[(u16, &str)] = &[
    (200, "success (201: a user made; 204: a user or authenticator deleted)"),
    (400, "a malformed body (`validationErrors` name the fields), a UAF transaction through this API (not supported yet), or a refused ceremony: `message` names the failed check (signature, challenge, origin, userVerified, an unknown, spent, expired or other-kind `requestID`, …)"),
    (401, "the `Authorization: Bearer` API key is missing or not one of the tenant's"),
    (403, "the user is temporarily locked after repeated failed assertions"),
    (404, "no tenant under this path, no such user, a domain the tenant does not list, or no such authenticator of the user"),
    (409, "a user with this `userID` exists already"),
    (429, "too many calls with this API key (`rate_limits.per_api_key`) or challenges for this user"),
    (500, "the server failed (503: busy); try again"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_shows_the_status_table() {
        let readme = include_str!("../../../README.md");
        for (status, meaning) in STATUSES {
            let row = format!("| `{status}` | {meaning} |");
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }

    #[test]
    fn a_refusal_names_its_check_once() {
        let named = OneSpanError::of_refusal(Refusal::new(
            RefusalKind::Check,
            "signature",
            "sign-in refused (signature): the assertion signature does not verify",
        ));
        assert_eq!(named.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            named.message,
            "sign-in refused (signature): the assertion signature does not verify"
        );
        let unnamed = OneSpanError::of_refusal(Refusal::new(
            RefusalKind::Spent,
            "requestID",
            "no login request with this requestID is waiting",
        ));
        assert_eq!(
            unnamed.message,
            "refused (requestID): no login request with this requestID is waiting"
        );
        let locked = OneSpanError::of_refusal(Refusal::new(
            RefusalKind::Locked {
                until: chrono::Utc::now(),
            },
            "lock",
            "locked",
        ));
        assert_eq!(locked.status, StatusCode::FORBIDDEN);
    }
}
