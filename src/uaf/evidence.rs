//! Evidence of a FIDO UAF transaction confirmation (mode `uaf-transaction-confirmation`): the
//! text the authenticator showed on its own display, the signed assertion that carries its hash,
//! the key and the registration that bound the key to the authenticator — signed by the server
//! like WebAuthn transaction evidence (`fido::evidence`, whose `serverSignature` check this
//! reuses), and checked offline here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::algorithms;
use super::assertion::{parse_authentication, parse_registration, verify_authentication_signature};
use crate::fido::evidence::{open_signed, EvidenceError, EvidencePublicKey, FORMAT};

/// The `mode` of UAF transaction evidence.
pub const MODE: &str = "uaf-transaction-confirmation";

/// The members of a UAF evidence document besides `serverSignature`.
const MEMBERS: [&str; 12] = [
    "format",
    "transactionID",
    "mode",
    "tenant",
    "user",
    "validatedAt",
    "appID",
    "transactionText",
    "transactionImage",
    "credential",
    "assertion",
    "auditRecordSha256",
];

/// What the server knows when a UAF transaction is confirmed.
pub struct UafEvidenceDraft<'a> {
    pub transaction_id: &'a str,
    pub tenant: &'a str,
    pub user: &'a str,
    pub validated_at: DateTime<Utc>,
    pub app_id: &'a str,
    /// What the authenticator showed: the `text/plain` content, or the `image/png` one.
    pub transaction_text: Option<&'a str>,
    pub transaction_image: Option<&'a [u8]>,
    pub aaid: &'a str,
    pub key_id: &'a [u8],
    pub public_key: &'a [u8],
    pub key_encoding: u16,
    /// The key's registration assertion (`TAG_UAFV1_REG_ASSERTION`), as received.
    pub registration: &'a [u8],
    /// The authentication's `fcParams`, exactly as sent.
    pub fc_params: &'a str,
    /// The authentication assertion (`TAG_UAFV1_AUTH_ASSERTION`), as received.
    pub assertion: &'a [u8],
    pub audit_record_sha256: &'a str,
}

impl UafEvidenceDraft<'_> {
    /// The unsigned document (sign it with `fido::evidence::EvidenceKey::sign`).
    pub fn document(&self) -> Map<String, Value> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let value = json!({
            "format": FORMAT,
            "transactionID": self.transaction_id,
            "mode": MODE,
            "tenant": self.tenant,
            "user": self.user,
            "validatedAt": self.validated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "appID": self.app_id,
            "credential": {
                "aaid": self.aaid,
                "keyID": b64(self.key_id),
                "publicKey": b64(self.public_key),
                "keyEncoding": self.key_encoding,
                "registration": b64(self.registration),
            },
            "assertion": {"fcParams": self.fc_params, "assertion": b64(self.assertion)},
            "auditRecordSha256": self.audit_record_sha256,
        });
        let mut members = match value {
            Value::Object(members) => members,
            _ => Map::new(),
        };
        if let Some(text) = self.transaction_text {
            members.insert("transactionText".into(), json!(text));
        }
        if let Some(image) = self.transaction_image {
            members.insert("transactionImage".into(), json!(b64(image)));
        }
        members
    }
}

/// A UAF evidence document that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUafEvidence {
    pub transaction_id: String,
    pub tenant: String,
    pub user: String,
    pub validated_at: String,
    /// The text the authenticator showed, or `None` when it showed an image.
    pub transaction_text: Option<String>,
    pub aaid: String,
}

fn refuse(check: &'static str, detail: impl Into<String>) -> EvidenceError {
    EvidenceError {
        check,
        detail: detail.into(),
    }
}

/// Verifies UAF transaction evidence offline with the server's public key (SPKI PEM): the
/// server's signature, then that the assertion confirms a transaction (mode 0x02) whose content
/// hash is SHA-256 of `transactionText`, that its final challenge hash is that of `fcParams`,
/// that the registration holds this KeyID, AAID and key, and the assertion's signature with it.
pub fn verify(evidence: &[u8], public_key_pem: &str) -> Result<VerifiedUafEvidence, EvidenceError> {
    let key = EvidencePublicKey::from_pem(public_key_pem)
        .map_err(|e| refuse("key", format!("the public key is unusable: {e}")))?;
    verify_with(evidence, &key)
}

/// [`verify`] with a key already read.
pub fn verify_with(
    evidence: &[u8],
    key: &EvidencePublicKey,
) -> Result<VerifiedUafEvidence, EvidenceError> {
    let document = open_signed(evidence, key)?;
    if let Some(other) = document.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(refuse(
            "members",
            format!("the member \"{other}\" is not one of UAF evidence"),
        ));
    }
    let text = |value: &Value, name: &str| -> Result<String, EvidenceError> {
        value
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                refuse(
                    "members",
                    format!("the member \"{name}\" is missing or not a string"),
                )
            })
    };
    let bytes = |value: &Value, name: &str| -> Result<Vec<u8>, EvidenceError> {
        URL_SAFE_NO_PAD
            .decode(text(value, name)?)
            .map_err(|_| refuse("members", format!("the member \"{name}\" is not base64url")))
    };
    let doc = Value::Object(document);
    if text(&doc, "format")? != FORMAT || text(&doc, "mode")? != MODE {
        return Err(refuse(
            "members",
            format!("this is not {MODE} evidence of {FORMAT}"),
        ));
    }
    let credential = doc
        .get("credential")
        .filter(|c| c.is_object())
        .ok_or_else(|| refuse("members", "the member \"credential\" is missing"))?;
    let assertion = doc
        .get("assertion")
        .filter(|c| c.is_object())
        .ok_or_else(|| refuse("members", "the member \"assertion\" is missing"))?;
    let transaction_text = doc
        .get("transactionText")
        .map(|_| text(&doc, "transactionText"))
        .transpose()?;
    let transaction_image = doc
        .get("transactionImage")
        .map(|_| bytes(&doc, "transactionImage"))
        .transpose()?;
    let shown: Vec<u8> = match (&transaction_text, &transaction_image) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(image)) => image.clone(),
        _ => {
            return Err(refuse(
                "members",
                "exactly one of transactionText and transactionImage names what was shown",
            ))
        }
    };
    let aaid = text(credential, "aaid")?;
    let key_id = bytes(credential, "keyID")?;
    let public_key = bytes(credential, "publicKey")?;
    let key_encoding = credential
        .get("keyEncoding")
        .and_then(Value::as_u64)
        .and_then(|e| u16::try_from(e).ok())
        .ok_or_else(|| {
            refuse(
                "members",
                "the member \"keyEncoding\" is not a registry value",
            )
        })?;
    let fc_params = text(assertion, "fcParams")?;
    let signed = parse_authentication(&bytes(assertion, "assertion")?)
        .map_err(|e| refuse("assertion", e.detail))?;
    let registration = parse_registration(&bytes(credential, "registration")?)
        .map_err(|e| refuse("credentialBinding", e.detail))?;

    if signed.authentication_mode != 0x02 {
        return Err(refuse(
            "transaction",
            "the assertion did not confirm a transaction (its authentication mode is not 0x02)",
        ));
    }
    let content_hash = algorithms::challenge_hash(signed.sign_alg, &shown);
    if content_hash.as_deref() != Some(signed.transaction_content_hash.as_slice()) {
        return Err(refuse(
            "transaction",
            "the assertion's TRANSACTION_CONTENT_HASH is not the hash of what it says was shown",
        ));
    }
    let fc_hash = algorithms::challenge_hash(signed.sign_alg, fc_params.as_bytes());
    if fc_hash.as_deref() != Some(signed.final_challenge_hash.as_slice()) {
        return Err(refuse(
            "challenge",
            "the assertion's FINAL_CHALLENGE_HASH is not the hash of fcParams",
        ));
    }
    let bound = registration.key_id == key_id
        && registration.public_key == public_key
        && registration.aaid.eq_ignore_ascii_case(&aaid)
        && signed.key_id == key_id
        && signed.aaid.eq_ignore_ascii_case(&aaid);
    if !bound {
        return Err(refuse(
            "credentialBinding",
            "the registration and the assertion do not name this AAID, KeyID and public key",
        ));
    }
    verify_authentication_signature(&signed, key_encoding, &public_key)
        .map_err(|e| refuse("signature", e.detail))?;
    Ok(VerifiedUafEvidence {
        transaction_id: text(&doc, "transactionID")?,
        tenant: text(&doc, "tenant")?,
        user: text(&doc, "user")?,
        validated_at: text(&doc, "validatedAt")?,
        transaction_text,
        aaid,
    })
}

/// Whether a document is UAF evidence (by its `mode`), so a verifier can pick the module.
pub fn is_uaf_evidence(evidence: &[u8]) -> bool {
    serde_json::from_slice::<Value>(evidence)
        .ok()
        .and_then(|v| v.get("mode").and_then(Value::as_str).map(|m| m == MODE))
        .unwrap_or(false)
}
