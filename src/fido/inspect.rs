//! Describing a response without judging it, for the `fidoflow verify` tool: the decoded client
//! data, the authenticator data (flags, counter, AAGUID, credential), and the attestation
//! (format, statement members, certificate chains with subject, issuer and validity). Whatever
//! cannot be decoded is described as `{"error": ...}`; nothing here refuses anything.

use ciborium::value::Value as Cbor;
use serde_json::{json, Value as Json};
use x509_cert::Certificate;

use super::attestation::android_safetynet::Jws;
use super::auth_data::AuthData;
use super::cbor;
use super::cose::CoseKey;
use super::json as members;
use crate::domain::{b64url, hex};

/// `{"clientData", "authenticatorData", "attestation"}` of a registration or authentication
/// response (`attestation` is null for an authentication).
pub fn describe_response(credential: &Json) -> Json {
    let Ok(response) = members::response(credential) else {
        return json!({
            "clientData": error("the response member is missing"),
            "authenticatorData": error("the response member is missing"),
            "attestation": Json::Null,
        });
    };
    let client_data = match members::bytes(response, "clientDataJSON") {
        Ok(bytes) => describe_client_data(&bytes),
        Err(_) => error("clientDataJSON is missing or not base64url"),
    };
    let (auth_data, attestation) = if response.get("attestationObject").is_some() {
        match members::bytes(response, "attestationObject") {
            Ok(bytes) => {
                let auth_data = cbor::read_exact(&bytes)
                    .ok()
                    .and_then(|v| {
                        cbor::map(&v)
                            .and_then(|m| cbor::text_key(m, "authData"))
                            .and_then(cbor::byte_string)
                            .map(describe_authenticator_data)
                    })
                    .unwrap_or_else(|| error("the attestation object has no authData"));
                (auth_data, describe_attestation(&bytes))
            }
            Err(_) => (
                error("attestationObject is not base64url"),
                error("attestationObject is not base64url"),
            ),
        }
    } else {
        let auth_data = match members::bytes(response, "authenticatorData") {
            Ok(bytes) => describe_authenticator_data(&bytes),
            Err(_) => error("authenticatorData is missing or not base64url"),
        };
        (auth_data, Json::Null)
    };
    json!({
        "clientData": client_data,
        "authenticatorData": auth_data,
        "attestation": attestation,
    })
}

/// The client data as JSON, or an error.
pub fn describe_client_data(bytes: &[u8]) -> Json {
    serde_json::from_slice(bytes).unwrap_or_else(|e| error(&format!("not JSON: {e}")))
}

/// rpIdHash, flags, signCount and the attested credential data.
pub fn describe_authenticator_data(bytes: &[u8]) -> Json {
    let data = match AuthData::parse(bytes) {
        Ok(d) => d,
        Err(e) => return error(&super::RegistrationError::from(e).to_string()),
    };
    let f = data.flags;
    let mut out = json!({
        "length": bytes.len(),
        "rpIdHash": hex(&data.rp_id_hash),
        "flags": {
            "value": format!("0x{f:02x}"),
            "up": f & 0x01 != 0,
            "uv": f & 0x04 != 0,
            "be": f & 0x08 != 0,
            "bs": f & 0x10 != 0,
            "at": f & 0x40 != 0,
            "ed": f & 0x80 != 0,
        },
        "signCount": data.sign_count,
    });
    if let Some(att) = &data.attested {
        out["aaguid"] = json!(aaguid(&att.aaguid));
        out["credentialId"] = json!(b64url(&att.credential_id));
        out["credentialPublicKey"] = match CoseKey::from_value(&att.public_key_value) {
            Ok(key) => {
                json!({"alg": key.alg, "description": key.describe(), "cose": b64url(&att.public_key)})
            }
            Err(e) => error(&e),
        };
    }
    out
}

/// The AAGUID in its usual text form.
pub fn aaguid(a: &[u8; 16]) -> String {
    let h = hex(a);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// fmt, the statement's members, and its certificate chain(s).
pub fn describe_attestation(attestation_object: &[u8]) -> Json {
    let Ok(object) = cbor::read_exact(attestation_object) else {
        return error("the attestation object is not one CBOR item");
    };
    let Some(entries) = cbor::map(&object) else {
        return error("the attestation object is not a map");
    };
    let fmt = match cbor::text_key(entries, "fmt") {
        Some(Cbor::Text(t)) => t.clone(),
        _ => return error("the attestation object has no fmt"),
    };
    match cbor::text_key(entries, "attStmt") {
        Some(stmt) => statement(&fmt, stmt),
        None => json!({"fmt": fmt, "error": "no attStmt"}),
    }
}

fn statement(fmt: &str, stmt: &Cbor) -> Json {
    if let (Cbor::Array(items), "compound") = (stmt, fmt) {
        let inner: Vec<Json> = items
            .iter()
            .map(|item| {
                let entries = cbor::map(item).unwrap_or_default();
                let fmt = match cbor::text_key(entries, "fmt") {
                    Some(Cbor::Text(t)) => t.as_str(),
                    _ => "?",
                };
                match cbor::text_key(entries, "attStmt") {
                    Some(s) => statement(fmt, s),
                    None => json!({"fmt": fmt, "error": "no attStmt"}),
                }
            })
            .collect();
        return json!({"fmt": fmt, "statements": inner});
    }
    let entries = cbor::map(stmt).unwrap_or_default();
    let keys: Vec<String> = entries
        .iter()
        .filter_map(|(k, _)| match k {
            Cbor::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    let mut out = json!({"fmt": fmt, "statementMembers": keys});
    if let Some(alg) = cbor::text_key(entries, "alg").and_then(cbor::integer) {
        out["alg"] = json!(alg);
    }
    if let Some(Cbor::Text(ver)) = cbor::text_key(entries, "ver") {
        out["ver"] = json!(ver);
    }
    let chain = if fmt == "android-safetynet" {
        cbor::text_key(entries, "response")
            .and_then(cbor::byte_string)
            .map(|jws| match Jws::parse(jws) {
                Ok(jws) => {
                    out["jwsPayload"] = jws.payload.clone();
                    Ok(jws.chain)
                }
                Err(e) => Err(e),
            })
    } else {
        cbor::text_key(entries, "x5c").map(|v| match v {
            Cbor::Array(items) => items
                .iter()
                .map(|c| {
                    cbor::byte_string(c)
                        .and_then(|der| der::Decode::from_der(der).ok())
                        .ok_or_else(|| "an x5c entry is not an X.509 certificate".to_string())
                })
                .collect::<Result<Vec<Certificate>, String>>(),
            _ => Err("x5c is not an array".into()),
        })
    };
    match chain {
        Some(Ok(certs)) => {
            out["certificates"] = Json::Array(certs.iter().map(describe_certificate).collect())
        }
        Some(Err(e)) => out["certificates"] = error(&e),
        None => {}
    }
    out
}

/// Subject, issuer, serial and validity of a certificate.
pub(crate) fn describe_certificate(cert: &Certificate) -> Json {
    let tbs = &cert.tbs_certificate;
    let time = |t: &x509_cert::time::Time| {
        let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    json!({
        "subject": tbs.subject.to_string(),
        "issuer": tbs.issuer.to_string(),
        "serial": hex(tbs.serial_number.as_bytes()),
        "notBefore": time(&tbs.validity.not_before),
        "notAfter": time(&tbs.validity.not_after),
    })
}

fn error(what: &str) -> Json {
    json!({ "error": what })
}
