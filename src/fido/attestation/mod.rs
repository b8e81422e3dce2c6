//! Attestation statements (§8): the formats we verify, and how the attestation policy turns a
//! verified statement and its certificate chain into acceptance and `attestation_trusted`.
//!
//! Under `AcceptAny`, an x5c chain that does not validate to an anchor (unknown root, no anchors,
//! or a chain that reaches an anchor but has an expired or otherwise invalid certificate) is
//! accepted as untrusted; under `RequireTrusted` all of these, and `none` and self attestation,
//! are refused with the reason. The §8.2.1 requirements on a packed attestation certificate
//! belong to the statement itself and are enforced under both policies.

mod fido_u2f;
mod none;
mod packed;

use chrono::{DateTime, Utc};
use ciborium::value::Value;
use x509_cert::Certificate;

use super::auth_data::AttestedCredential;
use super::cose::CoseKey;
use super::trust::{self, TrustAnchors};
use super::{AttestationPolicy, RegistrationError};

/// The kind of attestation a verified statement gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttestationType {
    /// No attestation (`none`).
    None,
    /// Self attestation: signed by the credential key itself.
    #[serde(rename = "self")]
    Self_,
    /// Basic (or AttCA: the two cannot be told apart) attestation with a certificate chain.
    Basic,
}

/// What a format verifier needs.
pub(crate) struct Statement<'a> {
    pub att_stmt: &'a [(Value, Value)],
    pub auth_data: &'a [u8],
    pub client_data_hash: &'a [u8],
    pub rp_id_hash: &'a [u8; 32],
    pub credential: &'a AttestedCredential,
    pub key: &'a CoseKey,
}

/// What a format verifier found: the type and, for x5c attestation, the certificates.
pub(crate) struct Verified {
    pub kind: AttestationType,
    pub chain: Vec<Certificate>,
}

/// The outcome after the policy: the type and whether it chained to an anchor.
pub(crate) struct Outcome {
    pub kind: AttestationType,
    pub trusted: bool,
}

/// Verifies the statement of format `fmt` and applies the policy.
pub(crate) fn verify(
    fmt: &str,
    statement: &Statement,
    policy: AttestationPolicy,
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<Outcome, RegistrationError> {
    let verified = match fmt {
        "none" => none::verify(statement)?,
        "packed" => packed::verify(statement)?,
        "fido-u2f" => fido_u2f::verify(statement)?,
        other => {
            return Err(RegistrationError::UnsupportedFormat(
                other.chars().take(40).collect(),
            ))
        }
    };
    let verdict = match verified.kind {
        AttestationType::None => Err("the authenticator gave no attestation".to_string()),
        AttestationType::Self_ => {
            Err("a self attestation cannot be traced to a trust anchor".to_string())
        }
        AttestationType::Basic => trust::validate_chain(&verified.chain, anchors, now),
    };
    match (verdict, policy) {
        (Ok(()), _) => Ok(Outcome {
            kind: verified.kind,
            trusted: true,
        }),
        (Err(reason), AttestationPolicy::RequireTrusted) => {
            Err(RegistrationError::UntrustedAttestation(reason))
        }
        (Err(_), AttestationPolicy::AcceptAny) => Ok(Outcome {
            kind: verified.kind,
            trusted: false,
        }),
    }
}

/// The `sig` byte string of a statement.
fn signature(att_stmt: &[(Value, Value)]) -> Result<&[u8], RegistrationError> {
    super::cbor::text_key(att_stmt, "sig")
        .and_then(super::cbor::byte_string)
        .ok_or_else(|| invalid("it has no \"sig\" byte string"))
}

/// The `x5c` certificates of a statement, when present.
fn x5c(att_stmt: &[(Value, Value)]) -> Result<Option<Vec<Certificate>>, RegistrationError> {
    let Some(value) = super::cbor::text_key(att_stmt, "x5c") else {
        return Ok(None);
    };
    let Value::Array(items) = value else {
        return Err(invalid("\"x5c\" is not an array"));
    };
    let ders = items
        .iter()
        .map(super::cbor::byte_string)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid("\"x5c\" holds something other than byte strings"))?;
    trust::parse_x5c(&ders)
        .map(Some)
        .map_err(RegistrationError::CertificateInvalid)
}

fn invalid(reason: &str) -> RegistrationError {
    RegistrationError::InvalidAttestationStatement(reason.to_string())
}
