//! Evidence of a validated transaction: a JSON document holding what the user approved, the
//! registration and the assertion that approved it, signed by the server (a JWS with detached
//! payload over the document's JCS), and its offline verification. Anyone holding the document
//! and the server's public key can redo every check without the server: the server signature,
//! the challenge derived from the content, the client data, the flags, the binding of the
//! assertion key to its registration and the assertion signature. Pure: no HTTP, no storage.

mod key;
mod verify;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::transaction::{jcs, SignedContent};
use crate::domain::b64url;

pub use key::{EvidenceKey, EvidencePublicKey};
pub use verify::{open_signed, verify, verify_with, EvidenceError, VerifiedEvidence};

/// The `format` member of evidence this code writes and reads.
pub const FORMAT: &str = "fidoflow-transaction-evidence/1";
/// The `typ` of the server signature's JWS header.
pub const JWS_TYPE: &str = "fidoflow-evidence+jws";
/// The largest evidence document `verify` reads.
pub const MAX_EVIDENCE_BYTES: usize = 1 << 20;
/// The checks of `verify`, in the order it runs them; `EvidenceError::check` is one of these
/// (or `key` when the verifier's own key is unusable).
pub const EVIDENCE_CHECKS: [&str; 9] = [
    "json",
    "members",
    "serverSignature",
    "challenge",
    "clientData",
    "rpIdHash",
    "userVerified",
    "credentialBinding",
    "signature",
];

/// How the transaction was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A WebAuthn assertion whose challenge binds the content (PSD2 dynamic linking).
    Fido2DynamicLinking,
    /// Secure Payment Confirmation: a `payment.get` assertion whose client data carries what
    /// the browser showed.
    Spc,
    /// FIDO UAF transaction confirmation: the authenticator showed the text on its own display
    /// and signed its hash (verified by `uaf::evidence`, not here).
    UafTransactionConfirmation,
}

impl Mode {
    /// The name in the evidence `mode` member.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fido2DynamicLinking => "fido2-dynamic-linking",
            Self::Spc => "spc",
            Self::UafTransactionConfirmation => "uaf-transaction-confirmation",
        }
    }

    /// The mode named `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Fido2DynamicLinking, Self::Spc]
            .into_iter()
            .find(|m| m.as_str() == text)
    }

    /// The client data `type` of the assertion in this mode.
    pub fn client_data_type(self) -> &'static str {
        match self {
            Self::Fido2DynamicLinking => "webauthn.get",
            Self::Spc => "payment.get",
            Self::UafTransactionConfirmation => "",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the server knows when it validates a transaction.
pub struct EvidenceDraft<'a> {
    pub transaction_id: &'a str,
    pub mode: Mode,
    pub tenant: &'a str,
    pub user: &'a str,
    pub validated_at: DateTime<Utc>,
    pub rp_id: &'a str,
    pub content: &'a SignedContent,
    pub nonce: &'a [u8],
    pub credential_id: &'a [u8],
    /// The stored COSE_Key.
    pub public_key: &'a [u8],
    /// The attestation object of the registration.
    pub attestation_object: &'a [u8],
    pub registration_client_data: &'a [u8],
    /// The authenticator data of the assertion.
    pub authenticator_data: &'a [u8],
    pub client_data_json: &'a [u8],
    pub signature: &'a [u8],
    pub user_handle: Option<&'a [u8]>,
    /// Lowercase hex.
    pub audit_record_sha256: &'a str,
}

impl EvidenceDraft<'_> {
    /// The unsigned document (see [`EvidenceKey::sign`]).
    pub fn document(&self) -> Map<String, Value> {
        let mut doc = Map::new();
        let mut put = |name: &str, value: Value| {
            doc.insert(name.to_string(), value);
        };
        put("format", json!(FORMAT));
        put("transactionID", json!(self.transaction_id));
        put("mode", json!(self.mode.as_str()));
        put("tenant", json!(self.tenant));
        put("user", json!(self.user));
        put(
            "validatedAt",
            json!(self.validated_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        put("rpId", json!(self.rp_id));
        if let Some(message) = &self.content.authentication_message {
            put("authenticationMessage", json!(message));
        }
        if let Some(transaction) = &self.content.transaction {
            put("transaction", transaction.clone());
        }
        if let Some(payment) = &self.content.payment {
            put("payment", payment.clone());
        }
        put("nonce", json!(b64url(self.nonce)));
        put(
            "challenge",
            json!(b64url(&self.content.challenge(self.nonce))),
        );
        put(
            "credential",
            json!({
                "id": b64url(self.credential_id),
                "publicKey": b64url(self.public_key),
                "attestationObject": b64url(self.attestation_object),
                "clientDataJSON": b64url(self.registration_client_data),
            }),
        );
        let mut assertion = json!({
            "authenticatorData": b64url(self.authenticator_data),
            "clientDataJSON": b64url(self.client_data_json),
            "signature": b64url(self.signature),
        });
        if let (Some(handle), Value::Object(members)) = (self.user_handle, &mut assertion) {
            members.insert("userHandle".into(), json!(b64url(handle)));
        }
        put("assertion", assertion);
        put("auditRecordSha256", json!(self.audit_record_sha256));
        doc
    }
}

impl EvidenceKey {
    /// Signs `document` (a JSON object without `serverSignature`; one already there is replaced)
    /// and returns it with `serverSignature` added: a JWS compact serialisation with detached
    /// payload, `BASE64URL(header) + ".." + BASE64URL(signature)`, the ES256 signature (r ‖ s)
    /// being over `BASE64URL(header) + "." + BASE64URL(JCS(document))`.
    ///
    /// # Panics
    /// When the system's random generator fails.
    pub fn sign(&self, mut document: Map<String, Value>) -> Value {
        document.remove("serverSignature");
        let header = b64url(&jws_header(&self.public_key().kid()));
        let signature = self.sign_bytes(&signing_input(&header, &document));
        document.insert(
            "serverSignature".into(),
            json!(format!("{header}..{}", b64url(&signature))),
        );
        Value::Object(document)
    }
}

/// The JWS protected header naming the key `kid`, in JCS form.
fn jws_header(kid: &str) -> Vec<u8> {
    jcs(&json!({"alg": "ES256", "kid": kid, "typ": JWS_TYPE}))
}

/// What the server signature signs: `header.BASE64URL(JCS(document))`, the header already
/// base64url.
fn signing_input(header_b64: &str, document: &Map<String, Value>) -> Vec<u8> {
    format!("{header_b64}.{}", b64url(&jcs(document))).into_bytes()
}
