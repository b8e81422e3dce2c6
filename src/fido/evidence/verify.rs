//! Offline verification of an evidence document, check by check; each refusal names its check.

use serde_json::{Map, Value};

use super::super::auth_data::AuthData;
use super::super::cbor;
use super::super::cose::CoseKey;
use super::super::transaction::{
    check_message, check_transaction, refuse_duplicate_members, sha256, ContentError, SignedContent,
};
use super::super::AuthenticationError;
use super::{signing_input, EvidencePublicKey, Mode, FORMAT, JWS_TYPE, MAX_EVIDENCE_BYTES};
use crate::domain::b64url_decode;

/// The members of a document; the three content members are optional.
const MEMBERS: [&str; 16] = [
    "format",
    "transactionID",
    "mode",
    "tenant",
    "user",
    "validatedAt",
    "rpId",
    "authenticationMessage",
    "transaction",
    "payment",
    "nonce",
    "challenge",
    "credential",
    "assertion",
    "auditRecordSha256",
    "serverSignature",
];
const CREDENTIAL_MEMBERS: [&str; 4] = ["id", "publicKey", "attestationObject", "clientDataJSON"];
/// `userHandle` is optional.
const ASSERTION_MEMBERS: [&str; 4] = [
    "authenticatorData",
    "clientDataJSON",
    "signature",
    "userHandle",
];
/// The members of the client data's `payment` (SPC) that must show the signed `payment`'s.
const PAYMENT_MEMBERS: [&str; 4] = ["payeeName", "payeeOrigin", "total", "instrument"];

/// What a verified evidence document says.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEvidence {
    pub transaction_id: String,
    pub mode: Mode,
    pub user: String,
    pub tenant: String,
    pub content: SignedContent,
    /// RFC 3339, to the second, UTC (`Z`).
    pub validated_at: String,
    pub rp_id: String,
    pub credential_id: Vec<u8>,
    pub audit_record_sha256: String,
}

/// Why evidence was refused: the failed check (one of [`super::EVIDENCE_CHECKS`], or `key`
/// when the verifier's key is unusable) and what was seen.
#[derive(Debug, thiserror::Error)]
#[error("evidence refused ({check}): {detail}")]
pub struct EvidenceError {
    pub check: &'static str,
    pub detail: String,
}

fn refuse(check: &'static str, detail: impl Into<String>) -> EvidenceError {
    EvidenceError {
        check,
        detail: detail.into(),
    }
}

/// Verifies an evidence document offline against the server's public key (SPKI PEM).
pub fn verify(evidence: &[u8], public_key_pem: &str) -> Result<VerifiedEvidence, EvidenceError> {
    let key = EvidencePublicKey::from_pem(public_key_pem)
        .map_err(|e| refuse("key", format!("the public key is unusable: {e}")))?;
    verify_with(evidence, &key)
}

/// [`verify`] with a key already read.
pub fn verify_with(
    evidence: &[u8],
    key: &EvidencePublicKey,
) -> Result<VerifiedEvidence, EvidenceError> {
    let (document, jws) = read_document(evidence)?;
    let parsed = Parsed::read(&document)?;
    check_server_signature(&jws, &document, key)?;

    let expected = parsed.content.challenge(&parsed.nonce);
    if parsed.challenge != expected {
        return Err(refuse(
            "challenge",
            "the challenge member is not SHA-256(nonce ‖ SHA-256(JCS(content))) of the signed \
             content",
        ));
    }
    let client_data = client_data(&parsed.client_data_json, "the assertion's")?;
    let said = client_data
        .get("challenge")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("clientData", "the assertion's client data has no challenge"))?;
    if b64url_decode(said).ok().as_deref() != Some(expected.as_slice()) {
        return Err(refuse(
            "challenge",
            "the assertion's client data challenge is not the one derived from the signed content",
        ));
    }
    check_client_data(&client_data, &parsed)?;

    if parsed.auth_data.rp_id_hash != sha256(parsed.rp_id.as_bytes()) {
        return Err(refuse(
            "rpIdHash",
            format!(
                "the assertion's rpIdHash is not SHA-256(\"{}\"): it was made for another \
                 relying party",
                parsed.rp_id
            ),
        ));
    }
    if !parsed.auth_data.user_present() || !parsed.auth_data.user_verified() {
        return Err(refuse(
            "userVerified",
            format!(
                "the assertion's flags must have UP and UV set (UP={}, UV={})",
                u8::from(parsed.auth_data.user_present()),
                u8::from(parsed.auth_data.user_verified())
            ),
        ));
    }
    check_credential_binding(&parsed)?;

    let public_key = CoseKey::from_bytes(&parsed.public_key).map_err(|e| {
        refuse(
            "signature",
            format!("credential.publicKey is not a usable COSE key: {e}"),
        )
    })?;
    let mut signed = parsed.authenticator_data.clone();
    signed.extend_from_slice(&sha256(&parsed.client_data_json));
    if !public_key.verify(&signed, &parsed.signature) {
        return Err(refuse(
            "signature",
            format!(
                "the assertion signature does not verify over authenticatorData ‖ \
                 SHA-256(clientDataJSON) with credential.publicKey ({})",
                public_key.describe()
            ),
        ));
    }
    Ok(VerifiedEvidence {
        transaction_id: parsed.transaction_id,
        mode: parsed.mode,
        user: parsed.user,
        tenant: parsed.tenant,
        content: parsed.content,
        validated_at: parsed.validated_at,
        rp_id: parsed.rp_id,
        credential_id: parsed.credential_id,
        audit_record_sha256: parsed.audit_record_sha256,
    })
}

/// The first checks of any evidence document, whatever its mode: at most 1 MiB, a JSON object
/// that names no member twice, and a `serverSignature` that verifies with `key` over the JCS of
/// every other member. Returns those members. (Modes verified elsewhere, such as UAF
/// transaction confirmation in `uaf::evidence`, continue from here.)
pub fn open_signed(
    evidence: &[u8],
    key: &EvidencePublicKey,
) -> Result<Map<String, Value>, EvidenceError> {
    let (document, jws) = read_document(evidence)?;
    check_server_signature(&jws, &document, key)?;
    Ok(document)
}

/// The document's members without `serverSignature`, and that signature.
fn read_document(evidence: &[u8]) -> Result<(Map<String, Value>, String), EvidenceError> {
    if evidence.len() > MAX_EVIDENCE_BYTES {
        return Err(refuse(
            "json",
            format!(
                "the evidence is {} bytes; at most {MAX_EVIDENCE_BYTES} are read",
                evidence.len()
            ),
        ));
    }
    let mut document = match serde_json::from_slice(evidence) {
        Ok(Value::Object(members)) => members,
        Ok(_) => return Err(refuse("json", "the evidence is not a JSON object")),
        Err(e) => return Err(refuse("json", format!("the evidence is not JSON: {e}"))),
    };
    refuse_duplicate_members(evidence).map_err(|e| refuse("members", e.to_string()))?;
    let jws = match document.remove("serverSignature") {
        Some(Value::String(jws)) => jws,
        Some(_) => return Err(members("serverSignature", "is not a string")),
        None => return Err(members("serverSignature", "is missing")),
    };
    Ok((document, jws))
}

fn members(name: &str, what: &str) -> EvidenceError {
    refuse("members", format!("the member \"{name}\" {what}"))
}

/// A document's members, read and decoded (the `members` check).
struct Parsed {
    transaction_id: String,
    mode: Mode,
    tenant: String,
    user: String,
    validated_at: String,
    rp_id: String,
    content: SignedContent,
    nonce: Vec<u8>,
    challenge: Vec<u8>,
    credential_id: Vec<u8>,
    public_key: Vec<u8>,
    attestation_object: Vec<u8>,
    registration_client_data: Vec<u8>,
    authenticator_data: Vec<u8>,
    auth_data: AuthData,
    client_data_json: Vec<u8>,
    signature: Vec<u8>,
    audit_record_sha256: String,
}

impl Parsed {
    fn read(document: &Map<String, Value>) -> Result<Self, EvidenceError> {
        let top = Object::new(document, "", &MEMBERS)?;
        let format = top.text("format")?;
        if format != FORMAT {
            return Err(members(
                "format",
                &format!("is \"{}\", not \"{FORMAT}\"", shorten(format)),
            ));
        }
        let mode_name = top.text("mode")?;
        let mode = Mode::parse(mode_name).ok_or_else(|| {
            members(
                "mode",
                &format!(
                    "is \"{}\", neither \"fido2-dynamic-linking\" nor \"spc\"",
                    shorten(mode_name)
                ),
            )
        })?;
        let validated_at = top.text("validatedAt")?;
        let canonical = chrono::DateTime::parse_from_rfc3339(validated_at)
            .ok()
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            });
        if canonical.as_deref() != Some(validated_at) {
            return Err(members(
                "validatedAt",
                "is not an RFC 3339 UTC time to the second, like 2025-06-01T12:00:00Z",
            ));
        }
        let audit = top.text("auditRecordSha256")?;
        if audit.len() != 64
            || !audit
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(members(
                "auditRecordSha256",
                "is not 64 lowercase hexadecimal digits",
            ));
        }
        let content = content(&top, mode)?;
        let nonce = top.bytes("nonce")?;
        if nonce.is_empty() {
            return Err(members("nonce", "is empty"));
        }
        let credential = top.object("credential", &CREDENTIAL_MEMBERS)?;
        let assertion = top.object("assertion", &ASSERTION_MEMBERS)?;
        if assertion.optional("userHandle")?.is_some() {
            assertion.bytes("userHandle")?;
        }
        let authenticator_data = assertion.bytes("authenticatorData")?;
        let auth_data = AuthData::parse(&authenticator_data).map_err(|e| {
            members(
                "assertion.authenticatorData",
                &format!(
                    "is not authenticator data: {}",
                    AuthenticationError::from(e)
                ),
            )
        })?;
        Ok(Self {
            transaction_id: top.nonempty_text("transactionID")?,
            mode,
            tenant: top.nonempty_text("tenant")?,
            user: top.nonempty_text("user")?,
            validated_at: validated_at.to_string(),
            rp_id: top.nonempty_text("rpId")?,
            content,
            nonce,
            challenge: top.bytes("challenge")?,
            credential_id: credential.bytes("id")?,
            public_key: credential.bytes("publicKey")?,
            attestation_object: credential.bytes("attestationObject")?,
            registration_client_data: credential.bytes("clientDataJSON")?,
            authenticator_data,
            auth_data,
            client_data_json: assertion.bytes("clientDataJSON")?,
            signature: assertion.bytes("signature")?,
            audit_record_sha256: audit.to_string(),
        })
    }
}

/// The signed content: each member checked as at intake; fido2-dynamic-linking needs some
/// content, spc needs `payment`.
fn content(top: &Object, mode: Mode) -> Result<SignedContent, EvidenceError> {
    let as_members = |e: ContentError| refuse("members", e.to_string());
    let authentication_message = match top.optional("authenticationMessage")? {
        Some(Value::String(text)) => {
            check_message(text).map_err(as_members)?;
            Some(text.clone())
        }
        Some(_) => return Err(members("authenticationMessage", "is not a string")),
        None => None,
    };
    let transaction = top.optional("transaction")?.cloned();
    if let Some(t) = &transaction {
        check_transaction(t).map_err(as_members)?;
    }
    let payment = top.optional("payment")?.cloned();
    if payment.as_ref().is_some_and(|p| !p.is_object()) {
        return Err(members("payment", "is not an object"));
    }
    let content = SignedContent {
        authentication_message,
        transaction,
        payment,
    };
    match mode {
        Mode::Fido2DynamicLinking if content.is_empty() => Err(refuse(
            "members",
            "fido2-dynamic-linking evidence has no authenticationMessage, transaction or payment",
        )),
        Mode::Spc if content.payment.is_none() => {
            Err(refuse("members", "spc evidence has no payment member"))
        }
        _ => Ok(content),
    }
}

/// The members of one object of the document, none unknown.
struct Object<'a> {
    members: &'a Map<String, Value>,
    /// "" for the document, "credential." or "assertion." inside.
    prefix: &'static str,
}

impl<'a> Object<'a> {
    fn new(
        members: &'a Map<String, Value>,
        prefix: &'static str,
        known: &[&str],
    ) -> Result<Self, EvidenceError> {
        if let Some(unknown) = members.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(refuse(
                "members",
                format!("the member \"{prefix}{}\" is unknown", shorten(unknown)),
            ));
        }
        Ok(Self { members, prefix })
    }

    fn error(&self, name: &str, what: &str) -> EvidenceError {
        members(&format!("{}{name}", self.prefix), what)
    }

    fn required(&self, name: &str) -> Result<&'a Value, EvidenceError> {
        match self.members.get(name) {
            None => Err(self.error(name, "is missing")),
            Some(Value::Null) => Err(self.error(name, "is null")),
            Some(value) => Ok(value),
        }
    }

    /// An optional member: absent is `None`; `null` is refused (an absent member is left out).
    fn optional(&self, name: &str) -> Result<Option<&'a Value>, EvidenceError> {
        match self.members.get(name) {
            Some(Value::Null) => Err(self.error(name, "is null; an absent member is left out")),
            other => Ok(other),
        }
    }

    fn text(&self, name: &str) -> Result<&'a str, EvidenceError> {
        self.required(name)?
            .as_str()
            .ok_or_else(|| self.error(name, "is not a string"))
    }

    fn nonempty_text(&self, name: &str) -> Result<String, EvidenceError> {
        match self.text(name)? {
            "" => Err(self.error(name, "is empty")),
            text => Ok(text.to_string()),
        }
    }

    /// A base64url member, decoded strictly (no padding, no non-zero trailing bits), so that
    /// each byte string has exactly one spelling under the signature.
    fn bytes(&self, name: &str) -> Result<Vec<u8>, EvidenceError> {
        b64url_decode(self.text(name)?)
            .map_err(|_| self.error(name, "is not canonical base64url without padding"))
    }

    fn object(&self, name: &str, known: &[&str]) -> Result<Object<'a>, EvidenceError> {
        let prefix = match name {
            "credential" => "credential.",
            _ => "assertion.",
        };
        match self.required(name)? {
            Value::Object(members) => Object::new(members, prefix, known),
            _ => Err(self.error(name, "is not an object")),
        }
    }
}

/// The `serverSignature` check: a detached-payload JWS by `key` over the document without it.
fn check_server_signature(
    jws: &str,
    document: &Map<String, Value>,
    key: &EvidencePublicKey,
) -> Result<(), EvidenceError> {
    let bad = |detail: &str| refuse("serverSignature", detail);
    let (header_b64, signature_b64) = match jws.split('.').collect::<Vec<_>>().as_slice() {
        [header, "", signature] => (*header, *signature),
        _ => {
            return Err(bad(
                "is not a JWS compact serialisation with detached payload (header..signature)",
            ))
        }
    };
    let header = b64url_decode(header_b64)
        .map_err(|_| bad("the JWS header is not canonical base64url without padding"))?;
    refuse_duplicate_members(&header).map_err(|e| {
        bad(&format!(
            "the JWS header is not JSON without duplicates: {e}"
        ))
    })?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header).map_err(|_| bad("the JWS header is not a JSON object"))?;
    if let Some(other) = header
        .keys()
        .find(|k| !["alg", "kid", "typ"].contains(&k.as_str()))
    {
        return Err(bad(&format!(
            "the JWS header has the member \"{}\"; only alg, kid and typ are understood",
            shorten(other)
        )));
    }
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(bad("the JWS header's alg is not ES256"));
    }
    if header.get("typ").and_then(Value::as_str) != Some(JWS_TYPE) {
        return Err(bad(&format!("the JWS header's typ is not \"{JWS_TYPE}\"")));
    }
    if header.get("kid").and_then(Value::as_str) != Some(key.kid().as_str()) {
        return Err(bad(
            "the JWS header's kid names another key than the one given",
        ));
    }
    let signature = b64url_decode(signature_b64)
        .map_err(|_| bad("the JWS signature is not canonical base64url without padding"))?;
    if !key.verifies(&signing_input(header_b64, document), &signature) {
        return Err(bad(
            "the ES256 signature does not verify with the given key over the document",
        ));
    }
    Ok(())
}

/// Client data JSON: an object without duplicate members (the `clientData` check).
fn client_data(bytes: &[u8], whose: &str) -> Result<Map<String, Value>, EvidenceError> {
    let bad = |what: String| refuse("clientData", format!("{whose} client data {what}"));
    refuse_duplicate_members(bytes).map_err(|e| bad(format!("is refused: {e}")))?;
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(members)) => Ok(members),
        _ => Err(bad("is not a JSON object".into())),
    }
}

/// The `clientData` check: the type of the mode; for spc, the payment details the browser
/// showed equal the signed ones.
fn check_client_data(data: &Map<String, Value>, parsed: &Parsed) -> Result<(), EvidenceError> {
    let want = parsed.mode.client_data_type();
    let kind = data.get("type").and_then(Value::as_str);
    if kind != Some(want) {
        return Err(refuse(
            "clientData",
            format!(
                "the assertion's client data type is {}, not \"{want}\" as {} requires",
                kind.map_or("missing".to_string(), |k| format!("\"{}\"", shorten(k))),
                parsed.mode
            ),
        ));
    }
    if parsed.mode != Mode::Spc {
        return Ok(());
    }
    let shown = data
        .get("payment")
        .and_then(Value::as_object)
        .ok_or_else(|| refuse("clientData", "the spc client data has no payment object"))?;
    let signed = parsed.content.payment.as_ref().and_then(Value::as_object);
    for name in PAYMENT_MEMBERS {
        if let Some(want) = signed.and_then(|p| p.get(name)) {
            if !shown.get(name).is_some_and(|got| shows(got, want)) {
                return Err(refuse(
                    "clientData",
                    format!(
                        "the client data's payment.{name} differs from the signed payment's: \
                         the browser showed other details than those signed"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether the browser's `shown` value shows the signed `signed` one: equal, except that a shown
/// object may have members the signed one lacks (a browser may spell out a default, such as an
/// instrument's `iconMustBeShown`); every signed member must be shown, recursively.
fn shows(shown: &Value, signed: &Value) -> bool {
    match (shown, signed) {
        (Value::Object(shown), Value::Object(signed)) => signed
            .iter()
            .all(|(name, want)| shown.get(name).is_some_and(|got| shows(got, want))),
        _ => shown == signed,
    }
}

/// The `credentialBinding` check: the registration attested this credential id and key, for
/// this relying party, in a `webauthn.create` ceremony.
fn check_credential_binding(parsed: &Parsed) -> Result<(), EvidenceError> {
    let bad = |detail: &str| refuse("credentialBinding", detail);
    let object = cbor::read_exact(&parsed.attestation_object)
        .map_err(|e| bad(&format!("credential.attestationObject is {e}")))?;
    let auth_data = cbor::map(&object)
        .and_then(|entries| cbor::text_key(entries, "authData"))
        .and_then(cbor::byte_string)
        .ok_or_else(|| {
            bad("credential.attestationObject is not a map with an authData byte string")
        })?;
    let auth_data = AuthData::parse(auth_data).map_err(|e| {
        bad(&format!(
            "the registration's authenticator data is malformed: {}",
            AuthenticationError::from(e)
        ))
    })?;
    if auth_data.rp_id_hash != sha256(parsed.rp_id.as_bytes()) {
        return Err(bad(
            "the credential was registered for another relying party (its rpIdHash differs)",
        ));
    }
    let attested = auth_data
        .attested
        .ok_or_else(|| bad("the registration's authenticator data has no attested credential"))?;
    if attested.credential_id != parsed.credential_id {
        return Err(bad(
            "the registration attested another credential id than credential.id",
        ));
    }
    if attested.public_key != parsed.public_key {
        return Err(bad(
            "the registration attested another public key than credential.publicKey",
        ));
    }
    let registration = client_data(&parsed.registration_client_data, "the registration's")
        .map_err(|e| bad(&e.detail))?;
    if registration.get("type").and_then(Value::as_str) != Some("webauthn.create") {
        return Err(bad(
            "the registration's client data type is not \"webauthn.create\"",
        ));
    }
    Ok(())
}

/// Text from the document shown back in an error, bounded.
fn shorten(text: &str) -> String {
    text.chars().take(80).collect()
}
