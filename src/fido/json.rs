//! Reading the members of a `PublicKeyCredential.toJSON()` value without trusting its shape.

use serde_json::Value;

use super::error::Common;

/// The string member `name` of `object`, or an error naming the member.
pub(crate) fn string<'a>(object: &'a Value, name: &str) -> Result<&'a str, Common> {
    match object.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Common::Malformed(format!(
            "the member \"{name}\" is not a string"
        ))),
        None => Err(Common::Malformed(format!(
            "the member \"{name}\" is missing"
        ))),
    }
}

/// The base64url member `name` of `object`, decoded.
pub(crate) fn bytes(object: &Value, name: &str) -> Result<Vec<u8>, Common> {
    decode(string(object, name)?)
        .ok_or_else(|| Common::Malformed(format!("the member \"{name}\" is not base64url")))
}

/// Decodes base64url; trailing `=` padding is tolerated because some clients add it.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    crate::domain::b64url_decode(text.trim_end_matches('=')).ok()
}

/// The `response` object of a credential.
pub(crate) fn response(credential: &Value) -> Result<&Value, Common> {
    match credential.get("response") {
        Some(r @ Value::Object(_)) => Ok(r),
        Some(_) => Err(Common::Malformed(
            "the member \"response\" is not an object".into(),
        )),
        None => Err(Common::Malformed(
            "the member \"response\" is missing".into(),
        )),
    }
}

/// Checks `type` is "public-key" and that `id` and `rawId` are the same bytes; returns them.
pub(crate) fn credential_id(credential: &Value) -> Result<Vec<u8>, Common> {
    if !credential.is_object() {
        return Err(Common::Malformed(
            "the credential is not a JSON object".into(),
        ));
    }
    let kind = string(credential, "type")?;
    if kind != "public-key" {
        return Err(Common::NotPublicKey(kind.chars().take(40).collect()));
    }
    let id = bytes(credential, "id")?;
    let raw_id = bytes(credential, "rawId")?;
    if id != raw_id {
        return Err(Common::IdMismatch);
    }
    Ok(raw_id)
}

/// `authenticatorAttachment` when it is one of the known values.
pub(crate) fn attachment(credential: &Value) -> Option<String> {
    match credential.get("authenticatorAttachment") {
        Some(Value::String(s)) if s == "platform" || s == "cross-platform" => Some(s.clone()),
        _ => None,
    }
}
