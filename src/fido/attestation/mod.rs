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

use std::time::Duration;

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
    /// android-safetynet: the JWS `timestampMs` must be within `safetynet_max_age` of the
    /// verification time; false: it is not checked (a response verified long after it was made).
    pub safetynet_check_timestamp: bool,
    /// android-safetynet: how far `timestampMs` may be from the verification time, either way
    /// (60 s by default).
    pub safetynet_max_age: Duration,
    /// android-safetynet: the JWS must say `ctsProfileMatch: true`; false: it need not
    /// (`basicIntegrity: true` is required either way).
    pub safetynet_require_cts_profile_match: bool,
}

/// How far a SafetyNet `timestampMs` may be from the verification time unless the relying party
/// says otherwise.
pub const SAFETYNET_MAX_AGE: Duration = Duration::from_secs(60);

impl Default for FormatPolicy {
    fn default() -> Self {
        Self {
            android_key_allow_software_enforced: true,
            safetynet_check_timestamp: true,
            safetynet_max_age: SAFETYNET_MAX_AGE,
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

/// One attestation statement as registration verified it: what a later judgement of its trust
/// (`judge.rs`) looks at.
#[derive(Debug, Clone)]
pub struct VerifiedStatement {
    /// "none", "packed", "fido-u2f", "tpm", "android-key", "android-safetynet" or "apple".
    pub format: String,
    pub kind: AttestationType,
    /// The attestation certificates, leaf first: the statement's `x5c` (for android-safetynet,
    /// that of its JWS); empty for none and self attestation.
    pub chain: Vec<Certificate>,
}

impl VerifiedStatement {
    fn of(format: &str, verified: Verified) -> Self {
        Self {
            format: format.to_string(),
            kind: verified.kind,
            chain: verified.chain,
        }
    }
}

/// The outcome after the policy: the type, whether it chained to an anchor, and the statements
/// verified (one; several for `compound`; none for an unknown format accepted unverified).
pub(crate) struct Outcome {
    pub kind: AttestationType,
    pub trusted: bool,
    pub statements: Vec<VerifiedStatement>,
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
                statements: Vec::new(),
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
    let kind = verified.kind;
    let statements = vec![VerifiedStatement::of(fmt, verified)];
    let verdict = trust_verdict(kind, &statements, anchors, statement.now);
    decide(kind, statements, verdict, policy, obs)
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

/// Whether an attestation of type `kind` with these verified statements leads to one of
/// `anchors` at `now`: `Ok` says how, `Err` why not. A compound attestation is trusted when one
/// of its statements is. Registration and the later judgement (`judge.rs`) both decide here.
pub(crate) fn trust_verdict(
    kind: AttestationType,
    statements: &[VerifiedStatement],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<String, String> {
    if kind != AttestationType::Compound {
        return match statements.first() {
            Some(statement) => verdict(statement, anchors, now),
            None => Err("the attestation was not verified".to_string()),
        };
    }
    let mut reasons = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let fmt = &statement.format;
        match verdict(statement, anchors, now) {
            Ok(why) => return Ok(format!("statement {} ({fmt}): {why}", i + 1)),
            Err(reason) => reasons.push(format!("statement {} ({fmt}): {reason}", i + 1)),
        }
    }
    Err(reasons.join("; "))
}

/// Whether one verified statement leads to a trust anchor, and if not why.
fn verdict(
    statement: &VerifiedStatement,
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<String, String> {
    match statement.kind {
        AttestationType::None => Err("the authenticator gave no attestation".to_string()),
        AttestationType::Self_ => {
            Err("a self attestation cannot be traced to a trust anchor".to_string())
        }
        AttestationType::Unverified | AttestationType::Compound => {
            Err("the attestation was not verified".to_string())
        }
        AttestationType::Basic | AttestationType::AttCa | AttestationType::AnonCa => {
            trust::validate_chain(&statement.chain, anchors, now)
                .map(|()| "the certificate chain validates to a configured anchor".to_string())
        }
    }
}

fn decide(
    kind: AttestationType,
    statements: Vec<VerifiedStatement>,
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
                statements,
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
                statements,
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
    let mut statements = Vec::with_capacity(items.len());
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
        statements.push(VerifiedStatement::of(fmt, verify_one(fmt, &inner, obs)?));
    }
    obs.pass("attestationStatement", || {
        format!(
            "all {} statements of the compound attestation verify",
            items.len()
        )
    });
    let kind = AttestationType::Compound;
    let verdict = trust_verdict(kind, &statements, anchors, statement.now);
    decide(kind, statements, verdict, policy, obs)
}

/// The statements of an attestation this server verified and stored, read again without
/// verifying them (`fmt` and `attStmt` of the stored attestation object): the type and the
/// statements as registration found them, but the type of an x5c statement is given as basic
/// (the same to its trust). `None` when the statement cannot be read as one that verified.
pub(crate) fn stored_statements(
    fmt: &str,
    att_stmt: &Value,
) -> Option<(AttestationType, Vec<VerifiedStatement>)> {
    if fmt == "compound" {
        let Value::Array(items) = att_stmt else {
            return None;
        };
        let statements = items
            .iter()
            .map(|item| {
                let entries = super::cbor::map(item)?;
                let Some(Value::Text(fmt)) = super::cbor::text_key(entries, "fmt") else {
                    return None;
                };
                stored_statement(fmt, super::cbor::text_key(entries, "attStmt")?)
            })
            .collect::<Option<Vec<_>>>()?;
        return Some((AttestationType::Compound, statements));
    }
    if !is_known(fmt) {
        return Some((AttestationType::Unverified, Vec::new()));
    }
    let statement = stored_statement(fmt, att_stmt)?;
    Some((statement.kind, vec![statement]))
}

fn stored_statement(fmt: &str, att_stmt: &Value) -> Option<VerifiedStatement> {
    let stmt = super::cbor::map(att_stmt)?;
    let (kind, chain) = match (fmt, x5c(stmt).ok()?) {
        ("none", _) => (AttestationType::None, Vec::new()),
        ("android-safetynet", _) => {
            let response =
                super::cbor::text_key(stmt, "response").and_then(super::cbor::byte_string)?;
            let jws = android_safetynet::Jws::parse(response).ok()?;
            (AttestationType::Basic, jws.chain)
        }
        ("packed", None) => (AttestationType::Self_, Vec::new()),
        (_, Some(chain)) if is_known(fmt) => (AttestationType::Basic, chain),
        _ => return None,
    };
    Some(VerifiedStatement {
        format: fmt.to_string(),
        kind,
        chain,
    })
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
