//! The UAF protocol messages (protocol §3): the registration, authentication and
//! deregistration requests the server sends, their policy, and the parsing of the response a
//! UAF client sends back. Everything is JSON (`serde_json::Value`); byte strings are base64url.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::policy::Policy;
use super::status::UafRefusal;

/// The largest response message accepted, serialized.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// The most assertions one response may carry.
pub const MAX_ASSERTIONS: usize = 16;
/// The only assertion scheme this server reads.
pub const ASSERTION_SCHEME: &str = "UAFV1TLV";

/// A UAF operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Reg,
    Auth,
    Dereg,
}

impl Op {
    /// The name in a message header (`"Reg"`, `"Auth"`, `"Dereg"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reg => "Reg",
            Self::Auth => "Auth",
            Self::Dereg => "Dereg",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "Reg" => Self::Reg,
            "Auth" => Self::Auth,
            "Dereg" => Self::Dereg,
            _ => return None,
        })
    }
}

fn header(op: Op, app_id: &str, server_data: &str) -> Value {
    let mut header = Map::new();
    header.insert("upv".into(), json!({ "major": 1, "minor": 1 }));
    header.insert("op".into(), json!(op.as_str()));
    if !app_id.is_empty() {
        header.insert("appID".into(), json!(app_id));
    }
    if !server_data.is_empty() {
        header.insert("serverData".into(), json!(server_data));
    }
    Value::Object(header)
}

/// A registration request: `[{header: {upv 1.1, op "Reg", appID, serverData}, challenge,
/// username, policy}]`. An empty `app_id` or `server_data` is left out (the client then uses
/// the facet as the AppID).
pub fn registration_request(
    app_id: &str,
    server_data: &str,
    challenge: &str,
    username: &str,
    policy: &Policy,
) -> Value {
    json!([{
        "header": header(Op::Reg, app_id, server_data),
        "challenge": challenge,
        "username": username,
        "policy": policy,
    }])
}

/// An authentication request: `[{header: {upv 1.1, op "Auth", appID, serverData}, challenge,
/// policy, transaction?}]`; a transaction is `text/plain` with the text base64url-encoded.
pub fn authentication_request(
    app_id: &str,
    server_data: &str,
    challenge: &str,
    policy: &Policy,
    transaction: Option<&str>,
) -> Value {
    let contents: Vec<TransactionContent<'_>> = transaction
        .map(TransactionContent::Text)
        .into_iter()
        .collect();
    authentication_request_with(app_id, server_data, challenge, policy, &contents)
}

/// A transaction for the authenticator to show (protocol §3.5.1, `Transaction`): text, or a PNG
/// image with its `tcDisplayPNGCharacteristics`. An authenticator picks the one its display
/// shows and signs the hash of its content.
#[derive(Debug, Clone, Copy)]
pub enum TransactionContent<'a> {
    Text(&'a str),
    Png {
        image: &'a [u8],
        characteristics: &'a Value,
    },
}

impl TransactionContent<'_> {
    /// The content whose hash the authenticator signs.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Png { image, .. } => image,
        }
    }
}

/// An authentication request with `transactions` (none: a login).
pub fn authentication_request_with(
    app_id: &str,
    server_data: &str,
    challenge: &str,
    policy: &Policy,
    transactions: &[TransactionContent<'_>],
) -> Value {
    let mut request = json!({
        "header": header(Op::Auth, app_id, server_data),
        "challenge": challenge,
        "policy": policy,
    });
    if let (false, Some(object)) = (transactions.is_empty(), request.as_object_mut()) {
        let list: Vec<Value> = transactions
            .iter()
            .map(|t| match t {
                TransactionContent::Text(text) => json!({
                    "contentType": "text/plain",
                    "content": URL_SAFE_NO_PAD.encode(text.as_bytes()),
                }),
                TransactionContent::Png {
                    image,
                    characteristics,
                } => json!({
                    "contentType": "image/png",
                    "content": URL_SAFE_NO_PAD.encode(image),
                    "tcDisplayPNGCharacteristics": characteristics,
                }),
            })
            .collect();
        object.insert("transaction".into(), Value::Array(list));
    }
    Value::Array(vec![request])
}

/// A deregistration request: `[{header: {upv 1.1, op "Dereg", appID}, authenticators: [{aaid,
/// keyID}]}]`; an empty AAID deregisters every key of the app, an empty KeyID every key of the
/// AAID.
pub fn deregistration_request(app_id: &str, keys: &[(String, Vec<u8>)]) -> Value {
    let authenticators: Vec<Value> = keys
        .iter()
        .map(|(aaid, key_id)| json!({ "aaid": aaid, "keyID": URL_SAFE_NO_PAD.encode(key_id) }))
        .collect();
    json!([{
        "header": header(Op::Dereg, app_id, ""),
        "authenticators": authenticators,
    }])
}

/// The decoded FinalChallengeParams (protocol §3.4.3 / §3.5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalChallengeParams {
    pub app_id: String,
    pub challenge: String,
    pub facet_id: String,
    /// As sent; `Null` when absent.
    pub channel_binding: Value,
}

/// A parsed registration or authentication response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub op: Op,
    pub upv: (u8, u8),
    /// The header's appID; empty when absent.
    pub app_id: String,
    /// The header's serverData; empty when absent.
    pub server_data: String,
    /// The fcParams string exactly as sent: its hash is the final challenge hash.
    pub fc_params: String,
    pub final_challenge: FinalChallengeParams,
    /// The decoded UAFV1TLV assertions, in order.
    pub assertions: Vec<Vec<u8>>,
}

/// Parses a UAF response message: the JSON array with one response object (refuses more than
/// one or none), header upv 1.1, op `expected`, every member the specification requires,
/// fcParams base64url (padded base64url is accepted too, as DAB8#8011 sends it) of
/// FinalChallengeParams JSON. Bounded: refuses more than [`MAX_MESSAGE_BYTES`] and more than
/// [`MAX_ASSERTIONS`] assertions. Assertions of another scheme than UAFV1TLV are skipped, as
/// the protocol says; a response with none left is refused. Every refusal is 1400.
pub fn parse_response(message: &Value, expected: Op) -> Result<Response, UafRefusal> {
    parse(message, expected, false)
}

/// As [`parse_response`], also accepting upv 1.0 (UAF 1.0 clients; the message format is the
/// same).
pub fn parse_response_accepting_v1_0(
    message: &Value,
    expected: Op,
) -> Result<Response, UafRefusal> {
    parse(message, expected, true)
}

fn bad(check: &'static str, detail: impl Into<String>) -> UafRefusal {
    UafRefusal::bad(check, detail)
}

/// Base64url, with or without padding, as UAF clients write it.
pub(super) fn b64(text: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text).ok()
}

fn string<'a>(
    object: &'a Map<String, Value>,
    member: &str,
    check: &'static str,
) -> Result<Option<&'a str>, UafRefusal> {
    match object.get(member) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(check, format!("\"{member}\" is not a string"))),
    }
}

fn parse(message: &Value, expected: Op, accept_v1_0: bool) -> Result<Response, UafRefusal> {
    let size = serde_json::to_vec(message).map_or(usize::MAX, |v| v.len());
    if size > MAX_MESSAGE_BYTES {
        return Err(bad(
            "messageSize",
            format!("the message is {size} bytes; at most {MAX_MESSAGE_BYTES} are accepted"),
        ));
    }
    let response = match message.as_array().map(Vec::as_slice) {
        Some([one]) => one,
        Some([]) => return Err(bad("message", "the message holds no response")),
        Some(_) => {
            return Err(bad(
                "message",
                "the message holds more than one response; this server sends one request",
            ))
        }
        None => return Err(bad("message", "the message is not a JSON array")),
    };
    let response = response
        .as_object()
        .ok_or_else(|| bad("message", "the response is not a JSON object"))?;
    let header = response
        .get("header")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("header", "the response has no header object"))?;
    let upv = header
        .get("upv")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("upv", "the header has no upv object"))?;
    let version = |member: &str| upv.get(member).and_then(Value::as_u64);
    let upv = match (version("major"), version("minor")) {
        (Some(1), Some(1)) => (1, 1),
        (Some(1), Some(0)) if accept_v1_0 => (1, 0),
        (Some(major), Some(minor)) => {
            return Err(bad(
                "upv",
                format!("protocol version {major}.{minor} is not supported (1.1 is)"),
            ))
        }
        _ => return Err(bad("upv", "upv needs integer major and minor")),
    };
    let op = string(header, "op", "op")?.ok_or_else(|| bad("op", "the header has no op"))?;
    let op = Op::parse(op).ok_or_else(|| bad("op", format!("\"{op}\" is not a UAF operation")))?;
    if op != expected {
        return Err(bad(
            "op",
            format!(
                "the response is for \"{}\", not \"{}\"",
                op.as_str(),
                expected.as_str()
            ),
        ));
    }
    if op == Op::Dereg {
        return Err(bad("op", "a deregistration has no response to verify"));
    }
    let app_id = string(header, "appID", "appId")?.unwrap_or_default();
    let server_data = string(header, "serverData", "serverData")?.unwrap_or_default();
    let fc_params = string(response, "fcParams", "fcParams")?
        .ok_or_else(|| bad("fcParams", "the response has no fcParams"))?;
    let final_challenge = final_challenge_params(fc_params)?;
    let assertions = response
        .get("assertions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("assertions", "the response has no assertions array"))?;
    if assertions.len() > MAX_ASSERTIONS {
        return Err(bad(
            "assertions",
            format!(
                "the response carries {} assertions; at most {MAX_ASSERTIONS} are accepted",
                assertions.len()
            ),
        ));
    }
    let mut decoded = Vec::with_capacity(assertions.len());
    for assertion in assertions {
        let assertion = assertion
            .as_object()
            .ok_or_else(|| bad("assertions", "an assertion is not a JSON object"))?;
        let scheme = string(assertion, "assertionScheme", "assertionScheme")?
            .ok_or_else(|| bad("assertionScheme", "an assertion has no assertionScheme"))?;
        let data = string(assertion, "assertion", "assertions")?
            .ok_or_else(|| bad("assertions", "an assertion has no assertion data"))?;
        if scheme != ASSERTION_SCHEME {
            continue;
        }
        decoded.push(b64(data).ok_or_else(|| bad("assertions", "an assertion is not base64url"))?);
    }
    if decoded.is_empty() {
        return Err(bad(
            "assertions",
            "the response carries no UAFV1TLV assertion",
        ));
    }
    Ok(Response {
        op,
        upv,
        app_id: app_id.to_string(),
        server_data: server_data.to_string(),
        fc_params: fc_params.to_string(),
        final_challenge,
        assertions: decoded,
    })
}

/// Decodes fcParams: base64url (padding optional) of a FinalChallengeParams JSON object with
/// string appID, challenge and facetID, and channelBinding an object when present.
fn final_challenge_params(fc_params: &str) -> Result<FinalChallengeParams, UafRefusal> {
    let bytes = b64(fc_params).ok_or_else(|| bad("fcParams", "fcParams is not base64url"))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|_| bad("fcParams", "fcParams does not decode to JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("fcParams", "fcParams does not decode to a JSON object"))?;
    let required = |member: &str| {
        string(object, member, "fcParams")?
            .map(str::to_string)
            .ok_or_else(|| bad("fcParams", format!("fcParams has no \"{member}\"")))
    };
    let channel_binding = match object.get("channelBinding") {
        None => Value::Null,
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return Err(bad(
                "channelBinding",
                "fcParams' channelBinding is not an object",
            ))
        }
    };
    Ok(FinalChallengeParams {
        app_id: required("appID")?,
        challenge: required("challenge")?,
        facet_id: required("facetID")?,
        channel_binding,
    })
}
