//! Registration ceremony verification (§7.1).

use chrono::{DateTime, Utc};
use ciborium::value::Value;
use serde_json::Value as Json;

use super::attestation::{self, AttestationType, Statement, VerifiedStatement};
use super::auth_data::AuthData;
use super::cbor;
use super::client_data::{self, Expected};
use super::cose::CoseKey;
use super::error::Common;
use super::json;
use super::report::{Check, Observer, REGISTRATION_CHECKS};
use super::{AttestationPolicy, FormatPolicy, RegistrationError, TrustAnchors};

/// What the server expects of a registration response.
pub struct RegistrationExpectations<'a> {
    /// The challenge the server issued (compared in constant time).
    pub challenge: &'a [u8],
    pub rp_id: &'a str,
    /// Allowed origins, exact string match.
    pub origins: &'a [String],
    /// If false, `crossOrigin: true` or a `topOrigin` in the client data is refused.
    pub allow_cross_origin: bool,
    /// With `allow_cross_origin`, a present `topOrigin` must be one of these (empty: any).
    pub top_origins: &'a [String],
    /// The accepted `clientDataJSON.type` values: `[WEBAUTHN_CREATE]` as WebAuthn says, or
    /// the relying party's own list.
    pub client_data_types: &'a [&'a str],
    pub require_user_verification: bool,
    /// The offered COSE algorithms; the credential's must be one of them.
    pub algorithms: &'a [i64],
    pub policy: AttestationPolicy,
    pub trust_anchors: &'a TrustAnchors,
    /// Certificate validity (and the SafetyNet timestamp) is evaluated at this instant.
    pub now: DateTime<Utc>,
    /// Accept an attestation format this module does not know, unverified and untrusted
    /// (only under `AttestationPolicy::AcceptAny`). Default false: refused as
    /// `UnsupportedFormat`.
    pub accept_unknown_formats: bool,
    /// Format-specific choices (android-key, android-safetynet).
    pub formats: FormatPolicy,
}

/// A verified registration: what the server stores about the new credential.
#[derive(Debug, Clone)]
pub struct VerifiedRegistration {
    pub credential_id: Vec<u8>,
    /// The COSE_Key bytes exactly as in the attested credential data.
    pub public_key: Vec<u8>,
    pub algorithm: i64,
    pub sign_count: u32,
    pub aaguid: [u8; 16],
    /// The attestation format: "none", "packed", "fido-u2f", "tpm", "android-key",
    /// "android-safetynet", "apple", "compound", or an unknown one when accepted unverified.
    pub format: String,
    pub attestation_type: AttestationType,
    /// True only when an x5c chain validated to a configured anchor.
    pub attestation_trusted: bool,
    /// The attestation statements as verified, with their certificate chains: one; several
    /// for `compound`; none for an unknown format accepted unverified. What [`super::judge`]
    /// looks at, so that nobody decodes the attestation object again.
    pub attestation_statements: Vec<VerifiedStatement>,
    /// `response.transports`, only known values, deduplicated.
    pub transports: Vec<String>,
    pub user_present: bool,
    pub user_verified: bool,
    pub backup_eligible: bool,
    pub backup_state: bool,
    /// `clientExtensionResults.credProps.rk` when given.
    pub discoverable: Option<bool>,
    pub authenticator_attachment: Option<String>,
    pub attestation_object: Vec<u8>,
    pub client_data_json: Vec<u8>,
}

/// The most bytes of an attestation object, and of a clientDataJSON, a registration may bring:
/// both are stored with the credential. 16 KiB holds a TPM attestation with its certificate
/// chain and an ML-DSA public key.
pub const MAX_STORED_BYTES: usize = 16 * 1024;

/// The members an attestation object has (§6.5.4); any other is refused.
const ATTESTATION_OBJECT_MEMBERS: [&str; 3] = ["fmt", "attStmt", "authData"];

/// The `transports` values WebAuthn defines; others are left out of a registration.
pub const KNOWN_TRANSPORTS: [&str; 6] = ["usb", "nfc", "ble", "smart-card", "hybrid", "internal"];

/// Verifies a `RegistrationResponseJSON` (the `PublicKeyCredential.toJSON()` shape) against
/// what the server expects. Key, algorithm and authenticator data are read only from the
/// attestation object; the convenience members `publicKey`, `publicKeyAlgorithm` and
/// `authenticatorData` are ignored.
pub fn verify_registration(
    credential: &Json,
    exp: &RegistrationExpectations,
) -> Result<VerifiedRegistration, RegistrationError> {
    verify(credential, exp, &mut Observer::none())
}

/// `verify_registration`, reporting every check to `observe` as it runs (and, on refusal, the
/// failed check and those not reached).
pub fn verify_registration_observed(
    credential: &Json,
    exp: &RegistrationExpectations,
    observe: &mut dyn FnMut(Check),
) -> Result<VerifiedRegistration, RegistrationError> {
    let mut obs = Observer::new(observe);
    let result = verify(credential, exp, &mut obs);
    if let Err(e) = &result {
        obs.refused(e.check(), e.to_string(), &REGISTRATION_CHECKS);
    }
    result
}

fn verify(
    credential: &Json,
    exp: &RegistrationExpectations,
    obs: &mut Observer,
) -> Result<VerifiedRegistration, RegistrationError> {
    let raw_id = json::credential_id(credential)?;
    obs.pass("credentialType", || "\"public-key\"".into());
    obs.pass("id", || "id and rawId are the same bytes".into());
    let response = json::response(credential)?;
    let client_data_json = json::bytes(response, "clientDataJSON")?;
    let attestation_object = json::bytes(response, "attestationObject")?;
    for (member, bytes) in [
        ("clientDataJSON", &client_data_json),
        ("attestation object", &attestation_object),
    ] {
        if bytes.len() > MAX_STORED_BYTES {
            return Err(RegistrationError::TooLarge {
                member,
                size: bytes.len(),
            });
        }
    }
    obs.pass("responseSize", || {
        format!(
            "clientDataJSON ({} bytes) and the attestation object ({} bytes) are at most {MAX_STORED_BYTES} bytes each",
            client_data_json.len(),
            attestation_object.len()
        )
    });

    client_data::verify(
        &client_data_json,
        &Expected {
            kinds: exp.client_data_types,
            challenge: exp.challenge,
            origins: exp.origins,
            allow_cross_origin: exp.allow_cross_origin,
            top_origins: exp.top_origins,
        },
        obs,
    )?;

    let object = cbor::read_exact(&attestation_object)
        .map_err(|e| malformed(&format!("the attestation object is {e}")))?;
    let entries =
        cbor::map(&object).ok_or_else(|| malformed("the attestation object is not a map"))?;
    let known = |key: &Value| matches!(key, Value::Text(t) if ATTESTATION_OBJECT_MEMBERS.contains(&t.as_str()));
    if entries.iter().any(|(key, _)| !known(key)) {
        return Err(malformed(
            "the attestation object has a member other than fmt, attStmt and authData",
        ));
    }
    let fmt = match cbor::text_key(entries, "fmt") {
        Some(Value::Text(fmt)) => fmt.as_str(),
        _ => return Err(malformed("the attestation object has no text \"fmt\"")),
    };
    let att_stmt_value = cbor::text_key(entries, "attStmt");
    let att_stmt = match att_stmt_value.map(|v| (cbor::map(v), v)) {
        Some((Some(map), _)) => map,
        Some((None, Value::Array(_))) if fmt == "compound" => &[],
        _ => return Err(malformed("the attestation object has no \"attStmt\" map")),
    };
    let auth_data_bytes = cbor::text_key(entries, "authData")
        .and_then(cbor::byte_string)
        .ok_or_else(|| malformed("the attestation object has no \"authData\" byte string"))?;
    obs.pass("attestationObject", || {
        "a CBOR map of fmt, attStmt and authData only, nothing after it".into()
    });

    let auth_data = AuthData::parse(auth_data_bytes)?;
    obs.pass("authenticatorDataLength", || {
        format!(
            "{} bytes, every one in an announced part",
            auth_data_bytes.len()
        )
    });
    auth_data.check(exp.rp_id, exp.require_user_verification, obs)?;
    if auth_data.has_extensions() {
        obs.pass("extensions", || {
            "the ED flag is set and extension data is a CBOR map (outputs not checked: none requested)".into()
        });
    } else {
        obs.skip("extensions", || "no extension data (ED flag clear)".into());
    }
    let attested = auth_data
        .attested
        .as_ref()
        .ok_or(RegistrationError::AttestedDataMissing)?;
    obs.pass("attestedCredentialData", || "the AT flag is set".into());
    if attested.credential_id != raw_id {
        return Err(RegistrationError::IdMismatch);
    }
    obs.pass("credentialId", || {
        format!(
            "the authenticator data's credential id ({} bytes) equals rawId",
            raw_id.len()
        )
    });
    let key = CoseKey::from_value(&attested.public_key_value)
        .map_err(RegistrationError::InvalidPublicKey)?;
    obs.pass("publicKey", || key.describe());
    if !exp.algorithms.contains(&key.alg) {
        return Err(RegistrationError::AlgorithmNotAllowed(key.alg));
    }
    obs.pass("algorithm", || {
        format!("{} is an offered algorithm", key.alg)
    });

    let client_data_hash = ring::digest::digest(&ring::digest::SHA256, &client_data_json);
    let outcome = attestation::verify(
        fmt,
        &Statement {
            att_stmt,
            att_stmt_value,
            auth_data: auth_data_bytes,
            client_data_hash: client_data_hash.as_ref(),
            rp_id_hash: &auth_data.rp_id_hash,
            credential: attested,
            key: &key,
            now: exp.now,
            formats: &exp.formats,
        },
        exp.policy,
        exp.accept_unknown_formats,
        exp.trust_anchors,
        obs,
    )?;

    Ok(VerifiedRegistration {
        credential_id: raw_id,
        public_key: attested.public_key.clone(),
        algorithm: key.alg,
        sign_count: auth_data.sign_count,
        aaguid: attested.aaguid,
        format: fmt.to_string(),
        attestation_type: outcome.kind,
        attestation_trusted: outcome.trusted,
        attestation_statements: outcome.statements,
        transports: transports(response),
        user_present: auth_data.user_present(),
        user_verified: auth_data.user_verified(),
        backup_eligible: auth_data.backup_eligible(),
        backup_state: auth_data.backup_state(),
        discoverable: credential
            .pointer("/clientExtensionResults/credProps/rk")
            .and_then(Json::as_bool),
        authenticator_attachment: json::attachment(credential),
        attestation_object,
        client_data_json,
    })
}

fn malformed(reason: &str) -> RegistrationError {
    Common::Malformed(reason.to_string()).into()
}

/// The known transports of `response.transports`, in order, without duplicates.
fn transports(response: &Json) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let listed = response.get("transports").and_then(Json::as_array);
    for t in listed.into_iter().flatten().filter_map(Json::as_str) {
        if KNOWN_TRANSPORTS.contains(&t) && !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}
