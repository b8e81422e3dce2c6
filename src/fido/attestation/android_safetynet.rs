//! The `android-safetynet` attestation format (§8.5): a SafetyNet attestation JWS whose nonce
//! binds it to this ceremony, signed by a certificate issued to `attest.android.com`.

use base64::Engine as _;
use ciborium::value::Value;
use serde_json::Value as Json;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::Certificate;

use super::{invalid, AttestationType, Statement, Verified};
use crate::fido::report::Observer;
use crate::fido::trust::{self, Hash, Scheme};
use crate::fido::{cbor, RegistrationError};

const HOSTNAME: &str = "attest.android.com";

pub(super) fn verify(
    statement: &Statement,
    obs: &mut Observer,
) -> Result<Verified, RegistrationError> {
    let stmt = statement.att_stmt;
    match cbor::text_key(stmt, "ver") {
        Some(Value::Text(v)) if !v.is_empty() => {}
        _ => return Err(invalid("it has no non-empty \"ver\"")),
    }
    let response = cbor::text_key(stmt, "response")
        .and_then(cbor::byte_string)
        .ok_or_else(|| invalid("it has no \"response\" byte string"))?;
    let jws = Jws::parse(response).map_err(|e| invalid(&e))?;
    let leaf = jws
        .chain
        .first()
        .ok_or_else(|| invalid("the JWS x5c holds no certificate"))?;
    if !trust::verify_with_cert(leaf, jws.scheme, jws.signed, &jws.signature) {
        return Err(RegistrationError::AttestationSignatureInvalid);
    }
    obs.pass("attestationSignature", || {
        "the JWS signature verifies with its leaf certificate's key".into()
    });
    if !issued_to(leaf, HOSTNAME) {
        return Err(RegistrationError::CertificateInvalid(format!(
            "the JWS certificate is not issued to {HOSTNAME}"
        )));
    }
    obs.pass("android-safetynet.hostname", || {
        format!("the JWS certificate is issued to {HOSTNAME}")
    });
    let expected = base64::engine::general_purpose::STANDARD
        .encode(Hash::Sha256.digest(&statement.signed_data()));
    if jws.payload.get("nonce").and_then(Json::as_str) != Some(expected.as_str()) {
        return Err(invalid(
            "the JWS nonce is not base64(SHA-256(authenticatorData || clientDataHash))",
        ));
    }
    obs.pass("android-safetynet.nonce", || {
        "equals base64(SHA-256(authenticatorData || clientDataHash))".into()
    });
    if jws.payload.get("basicIntegrity").and_then(Json::as_bool) != Some(true) {
        return Err(invalid("the JWS does not say basicIntegrity: true"));
    }
    obs.pass("android-safetynet.basicIntegrity", || "true".into());
    let cts = jws.payload.get("ctsProfileMatch").and_then(Json::as_bool);
    if statement.formats.safetynet_require_cts_profile_match {
        if cts != Some(true) {
            return Err(invalid("the JWS does not say ctsProfileMatch: true"));
        }
        obs.pass("android-safetynet.ctsProfileMatch", || "true".into());
    } else {
        obs.skip("android-safetynet.ctsProfileMatch", || {
            format!("not required by the policy (it is {cts:?})")
        });
    }
    if statement.formats.safetynet_check_timestamp {
        check_timestamp(&jws.payload, statement, obs)?;
    } else {
        obs.skip("android-safetynet.timestamp", || {
            "not checked by the policy".into()
        });
    }
    Ok(Verified {
        kind: AttestationType::Basic,
        chain: jws.chain,
    })
}

/// The JWS `timestampMs` is at most the policy's `safetynet_max_age` from the verification time,
/// either way.
fn check_timestamp(
    payload: &Json,
    statement: &Statement,
    obs: &mut Observer,
) -> Result<(), RegistrationError> {
    let Some(ts) = payload.get("timestampMs").and_then(Json::as_i64) else {
        return Err(invalid("the JWS has no integer timestampMs"));
    };
    let max = statement.formats.safetynet_max_age;
    let off_ms = statement.now.timestamp_millis().abs_diff(ts);
    if u128::from(off_ms) > max.as_millis() {
        return Err(invalid(&format!(
            "the JWS timestampMs is {} s from the verification time (at most {} s allowed)",
            off_ms / 1000,
            max.as_secs()
        )));
    }
    obs.pass("android-safetynet.timestamp", || {
        format!(
            "within {} s of the verification time ({off_ms} ms off)",
            max.as_secs()
        )
    });
    Ok(())
}

/// A parsed compact JWS.
pub(crate) struct Jws<'a> {
    pub scheme: Scheme,
    pub chain: Vec<Certificate>,
    pub payload: Json,
    /// `header.payload`, the signed bytes.
    pub signed: &'a [u8],
    pub signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "the JWS is not text")?;
        let mut parts = text.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the response is not a compact JWS (three parts)".into());
        };
        let signed = bytes
            .get(..h.len() + 1 + p.len())
            .ok_or("the JWS is truncated")?;
        let decode = |part: &str, what: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .map_err(|_| format!("the JWS {what} is not base64url"))
        };
        let header: Json = serde_json::from_slice(&decode(h, "header")?)
            .map_err(|_| "the JWS header is not JSON")?;
        let payload: Json = serde_json::from_slice(&decode(p, "payload")?)
            .map_err(|_| "the JWS payload is not JSON")?;
        let signature = decode(s, "signature")?;
        let scheme = match header.get("alg").and_then(Json::as_str) {
            Some("RS256") => Scheme::RsaPkcs1(Hash::Sha256),
            Some("RS384") => Scheme::RsaPkcs1(Hash::Sha384),
            Some("RS512") => Scheme::RsaPkcs1(Hash::Sha512),
            Some("ES256") => Scheme::EcdsaFixed(Hash::Sha256),
            Some("ES384") => Scheme::EcdsaFixed(Hash::Sha384),
            Some(other) => {
                return Err(format!(
                    "the JWS algorithm {} is not supported",
                    other.chars().take(20).collect::<String>()
                ))
            }
            None => return Err("the JWS header has no alg".into()),
        };
        let ders = header
            .get("x5c")
            .and_then(Json::as_array)
            .ok_or("the JWS header has no x5c")?
            .iter()
            .map(|c| {
                c.as_str()
                    .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
                    .ok_or_else(|| "the JWS x5c holds something other than base64".to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
        let chain = trust::parse_x5c(&refs)?;
        Ok(Self {
            scheme,
            chain,
            payload,
            signed,
            signature,
        })
    }
}

/// Whether the certificate names `host` as a subjectAltName dNSName or, without any, as its
/// subject CN.
fn issued_to(cert: &Certificate, host: &str) -> bool {
    let dns: Vec<String> = match trust::subject_alt_names(cert) {
        Ok(Some(names)) => names
            .0
            .iter()
            .filter_map(|n| match n {
                GeneralName::DnsName(d) => Some(d.as_str().to_string()),
                _ => None,
            })
            .collect(),
        Ok(None) => Vec::new(),
        Err(_) => return false,
    };
    if dns.is_empty() {
        trust::subject_values(cert, &der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3"))
            .iter()
            .any(|cn| cn.eq_ignore_ascii_case(host))
    } else {
        dns.iter().any(|d| d.eq_ignore_ascii_case(host))
    }
}
