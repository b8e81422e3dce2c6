//! A minimal software authenticator (and browser) for the load: ES256 passkeys with `ring`,
//! `none` attestation. It builds clientDataJSON, authenticatorData, the attestation object and
//! the signature itself; nothing of the server's verification code is used.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ciborium::Value as Cbor;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;
/// COSE ES256.
const ES256: i64 = -7;

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Random bytes from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The system RNG only fails when the OS has no entropy source at all.
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system random number generator");
    b
}

/// The inner options object: `options.publicKey` if present, else `options`.
fn inner(options: &Value) -> &Value {
    match options.get("publicKey") {
        Some(v) if v.is_object() => v,
        _ => options,
    }
}

fn challenge_of(o: &Value) -> Result<&str, String> {
    o.get("challenge")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("the options carry no challenge: {}", brief(o)))
}

/// A JSON value cut to a readable length for error messages.
pub fn brief(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

fn client_data(ty: &str, challenge: &str, origin: &str) -> Vec<u8> {
    // Challenge and origin are embedded as JSON strings (escaped by serde_json).
    format!(
        "{{\"type\":\"{ty}\",\"challenge\":{},\"origin\":{},\"crossOrigin\":false}}",
        Value::from(challenge),
        Value::from(origin)
    )
    .into_bytes()
}

/// A discoverable ES256 credential.
pub struct Passkey {
    pub id: Vec<u8>,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    key: EcdsaKeyPair,
}

impl Passkey {
    /// Answers creation options as `credential.toJSON()` would: a new key, `none` attestation,
    /// UP and UV set, counter 0. Returns the credential JSON and the passkey.
    pub fn register(options: &Value, origin: &str) -> Result<(Value, Passkey), String> {
        let o = inner(options);
        let challenge = challenge_of(o)?;
        let rp_id = o
            .get("rp")
            .and_then(|rp| rp.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| origin_host(origin))
            .ok_or_else(|| format!("no rp.id in the options and no host in {origin:?}"))?;
        let user_handle = o
            .get("user")
            .and_then(|u| u.get("id"))
            .and_then(Value::as_str)
            .and_then(b64url_decode)
            .ok_or_else(|| format!("the options carry no user.id: {}", brief(o)))?;
        if let Some(params) = o.get("pubKeyCredParams").and_then(Value::as_array) {
            if !params
                .iter()
                .any(|p| p.get("alg").and_then(Value::as_i64) == Some(ES256))
            {
                return Err(format!(
                    "the server does not offer ES256 (-7): {}",
                    brief(&Value::Array(params.clone()))
                ));
            }
        }

        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| "could not generate a P-256 key".to_string())?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| "could not read the generated P-256 key".to_string())?;
        let id = random_bytes::<32>().to_vec();
        let public = key.public_key().as_ref(); // 0x04 ‖ x ‖ y

        let cose_key = cbor(&Cbor::Map(vec![
            (Cbor::from(1), Cbor::from(2)),
            (Cbor::from(3), Cbor::from(ES256)),
            (Cbor::from(-1), Cbor::from(1)),
            (Cbor::from(-2), Cbor::Bytes(public[1..33].to_vec())),
            (Cbor::from(-3), Cbor::Bytes(public[33..65].to_vec())),
        ]))?;
        let mut auth_data = Vec::with_capacity(55 + id.len() + cose_key.len());
        auth_data.extend_from_slice(&sha256(rp_id.as_bytes()));
        auth_data.push(FLAG_UP | FLAG_UV | FLAG_AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_key);
        let attestation_object = cbor(&Cbor::Map(vec![
            (Cbor::from("fmt"), Cbor::from("none")),
            (Cbor::from("attStmt"), Cbor::Map(Vec::new())),
            (Cbor::from("authData"), Cbor::Bytes(auth_data.clone())),
        ]))?;
        let client_data = client_data("webauthn.create", challenge, origin);
        let spki = [P256_SPKI_PREFIX, public].concat();
        let credential = json!({
            "id": b64url(&id),
            "rawId": b64url(&id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(&client_data),
                "attestationObject": b64url(&attestation_object),
                "transports": ["internal"],
                "publicKeyAlgorithm": ES256,
                "publicKey": b64url(&spki),
                "authenticatorData": b64url(&auth_data),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {"credProps": {"rk": true}},
        });
        Ok((
            credential,
            Passkey {
                id,
                rp_id,
                user_handle,
                key,
            },
        ))
    }

    /// Answers request options with this passkey. The counter stays 0 (as synced passkeys do),
    /// so ceremonies of one passkey may overlap without looking like a cloned authenticator.
    pub fn assert(&self, options: &Value, origin: &str) -> Result<Value, String> {
        let o = inner(options);
        let challenge = challenge_of(o)?;
        if let Some(rp_id) = o.get("rpId").and_then(Value::as_str) {
            if rp_id != self.rp_id {
                return Err(format!(
                    "the options ask for RP ID {rp_id:?}; the passkey is for {:?}",
                    self.rp_id
                ));
            }
        }
        let client_data = client_data("webauthn.get", challenge, origin);
        let mut auth_data = Vec::with_capacity(37);
        auth_data.extend_from_slice(&sha256(self.rp_id.as_bytes()));
        auth_data.push(FLAG_UP | FLAG_UV);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        let signed = [auth_data.as_slice(), &sha256(&client_data)].concat();
        let signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .map_err(|_| "ECDSA signing failed".to_string())?;
        Ok(json!({
            "id": b64url(&self.id),
            "rawId": b64url(&self.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(&client_data),
                "authenticatorData": b64url(&auth_data),
                "signature": b64url(signature.as_ref()),
                "userHandle": b64url(&self.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }))
    }
}

const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn cbor(v: &Cbor) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).map_err(|e| format!("CBOR encoding: {e}"))?;
    Ok(out)
}

fn origin_host(origin: &str) -> Option<String> {
    url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};

    #[test]
    fn an_assertion_verifies_with_the_registered_public_key() {
        let options = json!({"publicKey": {"challenge": "AAEC", "rp": {"id": "localhost"},
            "user": {"id": "dXNlcg"}, "pubKeyCredParams": [{"type": "public-key", "alg": -7}]}});
        let (credential, passkey) = Passkey::register(&options, "http://localhost:8080").unwrap();
        assert_eq!(passkey.user_handle, b"user");
        let spki = b64url_decode(credential["response"]["publicKey"].as_str().unwrap()).unwrap();
        let assertion = passkey
            .assert(
                &json!({"challenge": "BBBB", "rpId": "localhost"}),
                "http://localhost:8080",
            )
            .unwrap();
        let r = &assertion["response"];
        let field = |k: &str| b64url_decode(r[k].as_str().unwrap()).unwrap();
        let cdj = field("clientDataJSON");
        let cd: Value = serde_json::from_slice(&cdj).unwrap();
        assert_eq!(cd["challenge"], "BBBB");
        assert_eq!(cd["type"], "webauthn.get");
        let signed = [field("authenticatorData"), sha256(&cdj).to_vec()].concat();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &spki[P256_SPKI_PREFIX.len()..])
            .verify(&signed, &field("signature"))
            .unwrap();
        assert_eq!(r["userHandle"], "dXNlcg");
    }

    #[test]
    fn options_without_a_challenge_or_es256_are_errors_not_panics() {
        assert!(Passkey::register(&json!({}), "http://localhost").is_err());
        let no_es256 = json!({"challenge": "AA", "user": {"id": "AA"},
            "pubKeyCredParams": [{"alg": -8}]});
        let refused = Passkey::register(&no_es256, "http://localhost").err();
        assert!(refused.unwrap().contains("ES256"));
    }
}
