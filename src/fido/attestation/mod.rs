//! Attestation statements (§8): the formats we verify, and how the attestation policy turns a
//! verified statement and its certificate chain into acceptance and `attestation_trusted`.
//!
//! Under `AcceptAny`, an x5c chain that does not validate to an anchor (unknown root, no anchors,
//! or a chain that reaches an anchor but has an expired or otherwise invalid certificate) is
//! accepted as untrusted; under `RequireTrusted` all of these, and `none` and self attestation,
//! are refused with the reason. The requirements a format places on its own certificates
//! (§8.2.1 packed, §8.3.1 TPM AIK, the Android and Apple extensions) belong to the statement
//! itself and are enforced under both policies.

pub(crate) mod android_key;
pub(crate) mod android_safetynet;
mod apple;
mod fido_u2f;
mod none;
mod packed;
mod tpm;

use chrono::{DateTime, Utc};
use ciborium::value::Value;
use x509_cert::Certificate;

use super::auth_data::AttestedCredential;
use super::cose::CoseKey;
use super::report::Observer;
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
    /// Attestation CA (`tpm`): an AIK certificate from a privacy CA.
    #[serde(rename = "attca")]
    AttCa,
    /// Anonymization CA (`apple`): a per-credential certificate.
    #[serde(rename = "anonca")]
    AnonCa,
    /// Several statements (`compound`), each verified.
    Compound,
    /// A format this module does not know, accepted unverified (`accept_unknown_formats`).
    Unverified,
}

/// Choices the formats leave to the relying party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatPolicy {
    /// android-key: also accept origin and purpose from the softwareEnforced list (most
    /// libraries do); false: only from teeEnforced.
    pub android_key_allow_software_enforced: bool,
    /// android-safetynet: the JWS `timestampMs` must be within 60 s of the verification time.
    pub safetynet_check_timestamp: bool,
    /// android-safetynet: the JWS must say `ctsProfileMatch: true`.
    pub safetynet_require_cts_profile_match: bool,
}

impl Default for FormatPolicy {
    fn default() -> Self {
        Self {
            android_key_allow_software_enforced: true,
            safetynet_check_timestamp: true,
            safetynet_require_cts_profile_match: true,
        }
    }
}

/// What a format verifier needs.
#[derive(Clone, Copy)]
pub(crate) struct Statement<'a> {
    /// The statement map (empty for `compound`, whose statement is an array).
    pub att_stmt: &'a [(Value, Value)],
    /// The statement as it came, for `compound`.
    pub att_stmt_value: Option<&'a Value>,
    pub auth_data: &'a [u8],
    pub client_data_hash: &'a [u8],
    pub rp_id_hash: &'a [u8; 32],
    pub credential: &'a AttestedCredential,
    pub key: &'a CoseKey,
    pub now: DateTime<Utc>,
    pub formats: &'a FormatPolicy,
}

impl Statement<'_> {
    /// authenticatorData || clientDataHash, what most formats sign.
    fn signed_data(&self) -> Vec<u8> {
        let mut signed = self.auth_data.to_vec();
        signed.extend_from_slice(self.client_data_hash);
        signed
    }
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
    accept_unknown: bool,
    anchors: &TrustAnchors,
    obs: &mut Observer,
) -> Result<Outcome, RegistrationError> {
    if fmt == "compound" {
        return compound(statement, policy, anchors, obs);
    }
    if !is_known(fmt) {
        if accept_unknown && policy == AttestationPolicy::AcceptAny {
            obs.skip("attestationFormat", || {
                format!("\"{}\" is unknown; accepted unverified", shorten(fmt))
            });
            obs.skip("attestationStatement", || {
                "not verified: unknown format".into()
            });
            obs.skip("attestationTrust", || "untrusted: unknown format".into());
            return Ok(Outcome {
                kind: AttestationType::Unverified,
                trusted: false,
            });
        }
        return Err(RegistrationError::UnsupportedFormat(shorten(fmt)));
    }
    obs.pass("attestationFormat", || format!("\"{fmt}\" is supported"));
    let verified = verify_one(fmt, statement, obs)?;
    obs.pass("attestationStatement", || {
        format!(
            "the \"{fmt}\" statement verifies ({:?} attestation)",
            verified.kind
        )
    });
    let verdict = verdict(&verified, anchors, statement.now);
    decide(verified.kind, verdict, policy, obs)
}

fn is_known(fmt: &str) -> bool {
    matches!(
        fmt,
        "none" | "packed" | "fido-u2f" | "tpm" | "android-key" | "android-safetynet" | "apple"
    )
}

fn verify_one(
    fmt: &str,
    statement: &Statement,
    obs: &mut Observer,
) -> Result<Verified, RegistrationError> {
    match fmt {
        "none" => none::verify(statement, obs),
        "packed" => packed::verify(statement, obs),
        "fido-u2f" => fido_u2f::verify(statement, obs),
        "tpm" => tpm::verify(statement, obs),
        "android-key" => android_key::verify(statement, obs),
        "android-safetynet" => android_safetynet::verify(statement, obs),
        "apple" => apple::verify(statement, obs),
        other => Err(RegistrationError::UnsupportedFormat(shorten(other))),
    }
}

/// Whether the verified statement leads to a trust anchor, and if not why.
fn verdict(
    verified: &Verified,
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<String, String> {
    match verified.kind {
        AttestationType::None => Err("the authenticator gave no attestation".to_string()),
        AttestationType::Self_ => {
            Err("a self attestation cannot be traced to a trust anchor".to_string())
        }
        AttestationType::Unverified | AttestationType::Compound => {
            Err("the attestation was not verified".to_string())
        }
        AttestationType::Basic | AttestationType::AttCa | AttestationType::AnonCa => {
            trust::validate_chain(&verified.chain, anchors, now)
                .map(|()| "the certificate chain validates to a configured anchor".to_string())
        }
    }
}

fn decide(
    kind: AttestationType,
    verdict: Result<String, String>,
    policy: AttestationPolicy,
    obs: &mut Observer,
) -> Result<Outcome, RegistrationError> {
    match (verdict, policy) {
        (Ok(why), _) => {
            obs.pass("attestationTrust", || format!("trusted: {why}"));
            Ok(Outcome {
                kind,
                trusted: true,
            })
        }
        (Err(reason), AttestationPolicy::RequireTrusted) => {
            Err(RegistrationError::UntrustedAttestation(reason))
        }
        (Err(reason), AttestationPolicy::AcceptAny) => {
            obs.skip("attestationTrust", || {
                format!("untrusted, which the policy accepts: {reason}")
            });
            Ok(Outcome {
                kind,
                trusted: false,
            })
        }
    }
}

/// §8.9: a non-empty array of `{fmt, attStmt}` maps, none of them compound; every statement
/// must verify, and the attestation is trusted when one of them leads to an anchor.
fn compound(
    statement: &Statement,
    policy: AttestationPolicy,
    anchors: &TrustAnchors,
    obs: &mut Observer,
) -> Result<Outcome, RegistrationError> {
    obs.pass("attestationFormat", || "\"compound\" is supported".into());
    let items = match statement.att_stmt_value {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => return Err(invalid("a compound statement must be a non-empty array")),
    };
    let mut reasons = Vec::new();
    let mut trusted = None;
    for (i, item) in items.iter().enumerate() {
        let entries = super::cbor::map(item)
            .ok_or_else(|| invalid(&format!("compound statement {} is not a map", i + 1)))?;
        let fmt = match super::cbor::text_key(entries, "fmt") {
            Some(Value::Text(fmt)) => fmt.as_str(),
            _ => return Err(invalid(&format!("compound statement {} has no fmt", i + 1))),
        };
        if fmt == "compound" || !is_known(fmt) {
            return Err(invalid(&format!(
                "compound statement {} has the format \"{}\", which cannot be verified here",
                i + 1,
                shorten(fmt)
            )));
        }
        let att_stmt = super::cbor::text_key(entries, "attStmt")
            .and_then(super::cbor::map)
            .ok_or_else(|| invalid(&format!("compound statement {} has no attStmt map", i + 1)))?;
        let inner = Statement {
            att_stmt,
            att_stmt_value: None,
            ..*statement
        };
        let verified = verify_one(fmt, &inner, obs)?;
        match verdict(&verified, anchors, statement.now) {
            Ok(why) => trusted = trusted.or(Some(format!("statement {} ({fmt}): {why}", i + 1))),
            Err(reason) => reasons.push(format!("statement {} ({fmt}): {reason}", i + 1)),
        }
    }
    obs.pass("attestationStatement", || {
        format!(
            "all {} statements of the compound attestation verify",
            items.len()
        )
    });
    let verdict = trusted.ok_or_else(|| reasons.join("; "));
    decide(AttestationType::Compound, verdict, policy, obs)
}

/// The `sig` byte string of a statement.
fn signature(att_stmt: &[(Value, Value)]) -> Result<&[u8], RegistrationError> {
    super::cbor::text_key(att_stmt, "sig")
        .and_then(super::cbor::byte_string)
        .ok_or_else(|| invalid("it has no \"sig\" byte string"))
}

/// The integer `alg` of a statement.
fn algorithm(att_stmt: &[(Value, Value)]) -> Result<i64, RegistrationError> {
    super::cbor::text_key(att_stmt, "alg")
        .and_then(super::cbor::integer)
        .ok_or_else(|| invalid("it has no integer \"alg\""))
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

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}
