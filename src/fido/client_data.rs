//! `clientDataJSON`: parsing and the type, challenge, origin and cross-origin checks (§7.1 steps
//! 5–11, §7.2 steps 9–15).

use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::Common;
use super::json;
use super::report::Observer;

/// The members of the client data we check; others are ignored, as the spec requires.
#[derive(Debug, Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
    #[serde(rename = "topOrigin", default)]
    top_origin: Option<String>,
    #[serde(rename = "tokenBinding", default)]
    token_binding: Option<serde_json::Value>,
}

/// The `type` of a registration's client data (§7.1 step 7).
pub const WEBAUTHN_CREATE: &str = "webauthn.create";
/// The `type` of an assertion's client data (§7.2 step 11).
pub const WEBAUTHN_GET: &str = "webauthn.get";
/// The `type` of a Secure Payment Confirmation assertion's client data.
pub const PAYMENT_GET: &str = "payment.get";

/// What the client data must say.
pub(crate) struct Expected<'a> {
    /// The accepted `type` values.
    pub kinds: &'a [&'a str],
    pub challenge: &'a [u8],
    pub origins: &'a [String],
    pub allow_cross_origin: bool,
    pub top_origins: &'a [String],
}

/// Parses `bytes` as client data JSON and runs every client data check.
pub(crate) fn verify(bytes: &[u8], exp: &Expected, obs: &mut Observer) -> Result<(), Common> {
    let data: ClientData = serde_json::from_slice(bytes)
        .map_err(|e| Common::Malformed(format!("clientDataJSON is not the expected JSON: {e}")))?;
    obs.pass("clientData", || {
        "clientDataJSON parses as JSON with type, challenge and origin".into()
    });
    if !exp.kinds.contains(&data.kind.as_str()) {
        return Err(Common::WrongType {
            seen: shorten(&data.kind),
            accepted: listed(exp.kinds),
        });
    }
    obs.pass("type", || {
        format!("\"{}\" (accepted: {})", data.kind, listed(exp.kinds))
    });
    let challenge = json::decode(&data.challenge).ok_or(Common::ChallengeMismatch)?;
    if !bool::from(challenge.as_slice().ct_eq(exp.challenge)) {
        return Err(Common::ChallengeMismatch);
    }
    obs.pass("challenge", || "equals the issued challenge".into());
    if !exp.origins.iter().any(|o| o == &data.origin) {
        return Err(Common::OriginNotAllowed(shorten(&data.origin)));
    }
    obs.pass("origin", || {
        format!("\"{}\" is an accepted origin", shorten(&data.origin))
    });
    let cross = data.cross_origin == Some(true);
    if !exp.allow_cross_origin && (cross || data.top_origin.is_some()) {
        return Err(Common::CrossOriginNotAllowed);
    }
    obs.pass("crossOrigin", || match (cross, exp.allow_cross_origin) {
        (true, _) => "crossOrigin is true, which is allowed".into(),
        (false, true) => "not a cross-origin ceremony (cross-origin is allowed)".into(),
        (false, false) => "not a cross-origin ceremony".into(),
    });
    match &data.top_origin {
        Some(top) => {
            if !exp.top_origins.is_empty() && !exp.top_origins.iter().any(|o| o == top) {
                return Err(Common::TopOriginNotAllowed(shorten(top)));
            }
            obs.pass("topOrigin", || {
                if exp.top_origins.is_empty() {
                    format!("\"{}\" (any top origin is accepted)", shorten(top))
                } else {
                    format!("\"{}\" is an accepted top origin", shorten(top))
                }
            });
        }
        None => obs.skip("topOrigin", || "the client data has no topOrigin".into()),
    }
    if let Some(tb) = &data.token_binding {
        check_token_binding(tb).map_err(Common::Malformed)?;
    }
    obs.skip("tokenBinding", || match &data.token_binding {
        None => "the client data has no tokenBinding".into(),
        Some(tb) => format!("token binding is not supported; ignored {tb}"),
    });
    Ok(())
}

/// A `tokenBinding` member as WebAuthn L2 §5.8.1 defines it: an object whose `status` is
/// `present` (then with the binding's `id`) or `supported`. fidoflow binds no tokens, so a
/// well-formed member is only noted; any other shape is malformed client data.
fn check_token_binding(tb: &serde_json::Value) -> Result<(), String> {
    let Some(member) = tb.as_object() else {
        return Err("clientDataJSON.tokenBinding is not an object".into());
    };
    let id = member.get("id").and_then(serde_json::Value::as_str);
    match member.get("status").and_then(serde_json::Value::as_str) {
        Some("supported") => Ok(()),
        Some("present") if id.is_some_and(|id| !id.is_empty()) => Ok(()),
        Some("present") => {
            Err("clientDataJSON.tokenBinding has status \"present\" but no id".into())
        }
        Some(other) => Err(format!(
            "clientDataJSON.tokenBinding.status is \"{}\", not \"present\" or \"supported\"",
            shorten(other)
        )),
        None => Err("clientDataJSON.tokenBinding has no status".into()),
    }
}

/// The types, quoted and comma-separated, for a refusal or a report.
fn listed(kinds: &[&str]) -> String {
    let quoted: Vec<String> = kinds.iter().map(|k| format!("\"{k}\"")).collect();
    quoted.join(", ")
}

/// Client-supplied text shown back in an error, bounded.
fn shorten(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The challenge a response answers, read from its `clientDataJSON` before anything is verified,
/// so that a backend API can find the ceremony it belongs to. Every check still runs later.
pub fn response_challenge(credential: &serde_json::Value) -> Result<Vec<u8>, String> {
    let text = |e: Common| super::RegistrationError::from(e).to_string();
    let response = json::response(credential).map_err(text)?;
    let bytes = json::bytes(response, "clientDataJSON").map_err(text)?;
    let data: ClientData = serde_json::from_slice(&bytes)
        .map_err(|e| format!("clientDataJSON is not the expected JSON: {e}"))?;
    json::decode(&data.challenge)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| "the challenge in clientDataJSON is not base64url".to_string())
}
