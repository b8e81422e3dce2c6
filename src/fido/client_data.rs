//! `clientDataJSON`: parsing and the type, challenge, origin and cross-origin checks (§7.1 steps
//! 5–11, §7.2 steps 9–15).

use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::Common;
use super::json;

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
}

/// What the client data must say.
pub(crate) struct Expected<'a> {
    pub kind: &'static str,
    pub challenge: &'a [u8],
    pub origins: &'a [String],
    pub allow_cross_origin: bool,
    pub top_origins: &'a [String],
}

/// Parses `bytes` as client data JSON and runs every client data check.
pub(crate) fn verify(bytes: &[u8], exp: &Expected) -> Result<(), Common> {
    let data: ClientData = serde_json::from_slice(bytes)
        .map_err(|e| Common::Malformed(format!("clientDataJSON is not the expected JSON: {e}")))?;
    if data.kind != exp.kind {
        return Err(Common::WrongType(shorten(&data.kind)));
    }
    let challenge = json::decode(&data.challenge).ok_or(Common::ChallengeMismatch)?;
    if !bool::from(challenge.as_slice().ct_eq(exp.challenge)) {
        return Err(Common::ChallengeMismatch);
    }
    if !exp.origins.iter().any(|o| o == &data.origin) {
        return Err(Common::OriginNotAllowed(shorten(&data.origin)));
    }
    let cross = data.cross_origin == Some(true);
    if !exp.allow_cross_origin && (cross || data.top_origin.is_some()) {
        return Err(Common::CrossOriginNotAllowed);
    }
    if let Some(top) = &data.top_origin {
        if !exp.top_origins.is_empty() && !exp.top_origins.iter().any(|o| o == top) {
            return Err(Common::TopOriginNotAllowed(shorten(top)));
        }
    }
    Ok(())
}

/// Client-supplied text shown back in an error, bounded.
fn shorten(text: &str) -> String {
    text.chars().take(200).collect()
}
