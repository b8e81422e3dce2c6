//! The UAF status codes (protocol §3.1.5) and the one error every UAF check returns: the code a
//! server answers with, the failed check's short name and a sentence for the person.

/// UAF protocol §3.1.5 status codes, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    /// 1200: OK. Operation completed.
    Ok,
    /// 1202: Accepted. Message accepted, but not completed at this time.
    Accepted,
    /// 1400: Bad Request. The server did not understand the message.
    BadRequest,
    /// 1401: Unauthorized. The user must be authenticated, or this KeyID is not theirs.
    Unauthorized,
    /// 1403: Forbidden. The user is not allowed to perform this operation.
    Forbidden,
    /// 1404: Not Found.
    NotFound,
    /// 1408: Request Timeout.
    RequestTimeout,
    /// 1480: Unknown AAID. No authoritative metadata for the AAID.
    UnknownAaid,
    /// 1481: Unknown KeyID. No registration for this UserID and KeyID.
    UnknownKeyId,
    /// 1490: Channel Binding Refused. Missing or mismatched channel binding.
    ChannelBindingRefused,
    /// 1491: Request Invalid. The challenge was unknown, expired or already used.
    RequestInvalid,
    /// 1492: Unacceptable Authenticator. Not acceptable under the server's policy.
    UnacceptableAuthenticator,
    /// 1493: Revoked Authenticator.
    RevokedAuthenticator,
    /// 1494: Unacceptable Key. The key is weak or its parameters are unacceptable.
    UnacceptableKey,
    /// 1495: Unacceptable Algorithm.
    UnacceptableAlgorithm,
    /// 1496: Unacceptable Attestation. The attestation was not accepted.
    UnacceptableAttestation,
    /// 1497: Unacceptable Client Capabilities.
    UnacceptableClientCapabilities,
    /// 1498: Unacceptable Content. The message's content could not or would not be processed.
    UnacceptableContent,
    /// 1500: Internal Server Error.
    InternalServerError,
}

/// Every code with its number and the specification's short description.
const TABLE: [(StatusCode, u16, &str); 19] = [
    (StatusCode::Ok, 1200, "OK"),
    (StatusCode::Accepted, 1202, "Accepted"),
    (StatusCode::BadRequest, 1400, "Bad Request"),
    (StatusCode::Unauthorized, 1401, "Unauthorized"),
    (StatusCode::Forbidden, 1403, "Forbidden"),
    (StatusCode::NotFound, 1404, "Not Found"),
    (StatusCode::RequestTimeout, 1408, "Request Timeout"),
    (StatusCode::UnknownAaid, 1480, "Unknown AAID"),
    (StatusCode::UnknownKeyId, 1481, "Unknown KeyID"),
    (
        StatusCode::ChannelBindingRefused,
        1490,
        "Channel Binding Refused",
    ),
    (StatusCode::RequestInvalid, 1491, "Request Invalid"),
    (
        StatusCode::UnacceptableAuthenticator,
        1492,
        "Unacceptable Authenticator",
    ),
    (
        StatusCode::RevokedAuthenticator,
        1493,
        "Revoked Authenticator",
    ),
    (StatusCode::UnacceptableKey, 1494, "Unacceptable Key"),
    (
        StatusCode::UnacceptableAlgorithm,
        1495,
        "Unacceptable Algorithm",
    ),
    (
        StatusCode::UnacceptableAttestation,
        1496,
        "Unacceptable Attestation",
    ),
    (
        StatusCode::UnacceptableClientCapabilities,
        1497,
        "Unacceptable Client Capabilities",
    ),
    (
        StatusCode::UnacceptableContent,
        1498,
        "Unacceptable Content",
    ),
    (
        StatusCode::InternalServerError,
        1500,
        "Internal Server Error",
    ),
];

impl StatusCode {
    /// The number sent in a UAF status message.
    pub fn code(self) -> u16 {
        TABLE
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or(1500, |(_, n, _)| *n)
    }

    /// The specification's short description ("Unknown KeyID").
    pub fn description(self) -> &'static str {
        TABLE
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("Internal Server Error", |(_, _, d)| d)
    }

    /// The code with this number, if the specification defines one.
    pub fn from_code(code: u16) -> Option<Self> {
        TABLE
            .iter()
            .find(|(_, n, _)| *n == code)
            .map(|(c, _, _)| *c)
    }
}

/// Why a UAF response was refused: the status code to answer, the failed check's short name,
/// and a sentence.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct UafRefusal {
    pub status: StatusCode,
    pub check: &'static str,
    pub detail: String,
}

impl UafRefusal {
    pub(crate) fn new(status: StatusCode, check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            check,
            detail: detail.into(),
        }
    }

    /// 1400: the message or assertion could not be understood (malformed JSON, base64 or TLV).
    pub(crate) fn bad(check: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BadRequest, check, detail)
    }

    /// 1498: understood, but its content is unacceptable (a hash, a signature, a mode).
    pub(crate) fn content(check: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UnacceptableContent, check, detail)
    }
}
