//! What the ceremony core (`registration.rs`, `assertion.rs`) hands back: typed refusals that
//! every API shape renders in its own way (Loginapp error documents with a next step, AuthFi
//! codes, conformance `status: "failed"`), and how a ceremony is found again when its response
//! comes back.

use chrono::{DateTime, Utc};

use super::EngineError;
use crate::store::StoreError;

/// Why the core refused a response. `detail` is the sentence the person sees (it names the failed
/// check in parentheses, e.g. `registration refused (challenge): …`).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// The failed check (`challenge`, `origin`, `signature`, `attestationTrust`, …).
    pub check: &'static str,
    pub detail: String,
}

/// The groups of refusals that API shapes tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// No such ceremony: already answered, never issued for this caller, or purged.
    Spent,
    /// The ceremony's challenge expired.
    Expired,
    /// The ceremony was issued to another user.
    WrongUser,
    /// The response is not a well-formed credential (JSON, base64url, CBOR, client data).
    Malformed,
    /// The attestation statement does not verify; `u2f` for the `fido-u2f` format.
    Attestation { u2f: bool },
    /// A verified attestation the relying party's policy or the FIDO metadata refuses.
    Policy,
    /// Any other failed WebAuthn check (challenge, origin, RP ID, flags, signature, algorithm).
    Check,
    /// The credential id is registered already.
    AlreadyRegistered,
    /// The user has as many credentials as the relying party allows.
    TooManyCredentials,
    /// The assertion's credential is unknown, not allowed, or not the user's.
    UnknownCredential,
    /// The credential is disabled.
    CredentialDisabled,
    /// The signature counter did not grow.
    CounterRegression,
    /// The user is locked after repeated failures.
    Locked { until: DateTime<Utc> },
}

impl Refusal {
    pub fn new(kind: RefusalKind, check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            check,
            detail: detail.into(),
        }
    }
}

/// The outcome of finishing a ceremony that did not verify: refused, or the server failed.
#[derive(Debug)]
pub enum CeremonyError {
    Refused(Refusal),
    Engine(EngineError),
}

impl From<EngineError> for CeremonyError {
    fn from(e: EngineError) -> Self {
        Self::Engine(e)
    }
}

impl From<StoreError> for CeremonyError {
    fn from(e: StoreError) -> Self {
        Self::Engine(e.into())
    }
}

impl From<Refusal> for CeremonyError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

pub type CeremonyResult<T> = Result<T, CeremonyError>;

/// Makes the store id of a ceremony from its challenge, for ceremonies a backend API finds by
/// the challenge of their response (see [`Channel::ceremony_key`]).
pub type CeremonyKey<'a> = &'a dyn Fn(&[u8]) -> String;

/// Which API began a ceremony. A ceremony is found again only by the channel (and tenant) that
/// began it: a challenge issued to a Loginapp flow cannot be answered through a backend API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A Loginapp flow: the session's flow state holds the ceremony id.
    Flow,
    /// The AuthFi-shaped backend API: found by (tenant, challenge).
    AuthFi,
    /// The FIDO conformance-tool API: found by (tenant, challenge).
    Conformance,
    /// The OneSpan-shaped backend API: found by (tenant, kind, `requestID`).
    OneSpan,
    /// The FIDO UAF transport: found by (tenant, operation, the id `serverData` names).
    Uaf,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Flow => "flow",
            Channel::AuthFi => "authfi",
            Channel::Conformance => "conformance",
            Channel::OneSpan => "onespan",
            Channel::Uaf => "uaf",
        }
    }

    /// The store key of a ceremony a backend API finds by its challenge: channel, tenant,
    /// purpose and the SHA-256 of the challenge (so the key reveals nothing usable).
    pub fn ceremony_key(self, tenant: &str, purpose: &str, challenge: &[u8]) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, challenge);
        let hex = crate::domain::hex(digest.as_ref());
        format!("{}:{tenant}:{purpose}:{hex}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ceremony_key_belongs_to_one_channel_tenant_and_purpose_and_hides_the_challenge() {
        let key = Channel::AuthFi.ceremony_key("demo", "registration", b"challenge");
        for other in [
            Channel::Conformance.ceremony_key("demo", "registration", b"challenge"),
            Channel::Flow.ceremony_key("demo", "registration", b"challenge"),
            Channel::AuthFi.ceremony_key("shop", "registration", b"challenge"),
            Channel::AuthFi.ceremony_key("demo", "login", b"challenge"),
            Channel::AuthFi.ceremony_key("demo", "registration", b"challengf"),
        ] {
            assert_ne!(key, other);
        }
        assert!(key.starts_with("authfi:demo:registration:"), "{key}");
        assert!(!key.contains("challenge"), "{key}");
    }
}
