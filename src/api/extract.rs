//! Extractors: the JSON body (64 KiB, an object), a metadata BLOB body (32 MiB of text), an
//! import's JSON lines (16 MiB), who sent the request, the session's state and the admin bearer
//! token.

use std::net::IpAddr;

use actix_session::Session;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use crate::engine::{Engine, RequestCtx, SessionData};

/// The largest JSON body any endpoint reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The largest metadata BLOB `PUT /rest/admin/mds` reads (the FIDO Alliance's is a few MiB).
pub const BLOB_LIMIT: usize = 32 * 1024 * 1024;

/// The largest import `POST /rest/admin/tenants/{id}/import` reads.
pub const IMPORT_LIMIT: usize = 16 * 1024 * 1024;

/// Reads the whole body, refusing one over `limit` (by its declared length before reading).
async fn read_body(
    declared: Option<usize>,
    mut payload: Payload,
    limit: usize,
) -> Result<BytesMut, ApiError> {
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::RequestTooLarge(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::InvalidRequest("the request body could not be read".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::RequestTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads a body of a declared length of at most [`BODY_LIMIT`] before the handler runs and hands
/// it on in memory, so it is consumed whether or not the handler reads it: actix closes the
/// connection after an answer that left body bytes unread (`POST …/access` with `{}`, say),
/// and every browser request then paid for a new connection. Larger or chunked bodies are left
/// to the handler's own limit.
pub async fn read_small_body(req: &mut actix_web::dev::ServiceRequest) -> Result<(), ApiError> {
    let declared = declared_length(req.request());
    let Some(length) = declared.filter(|n| (1..=BODY_LIMIT).contains(n)) else {
        return Ok(());
    };
    let body = read_body(Some(length), req.take_payload(), BODY_LIMIT).await?;
    let body = body.freeze();
    type Chunk = Result<web::Bytes, actix_web::error::PayloadError>;
    let stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = Chunk>>> =
        Box::pin(futures_util::stream::once(async move { Ok(body) }));
    req.set_payload(Payload::from(stream));
    Ok(())
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The whole body of a backend API call, at most [`BODY_LIMIT`] bytes.
pub async fn read_limited(req: &HttpRequest, payload: web::Payload) -> Result<BytesMut, ApiError> {
    read_body(declared_length(req), payload.into_inner(), BODY_LIMIT).await
}

/// A metadata BLOB sent as the body: the JWS text as downloaded (`application/jwt`,
/// `application/octet-stream` or `text/plain`). Read only after the token was checked.
pub async fn blob_body(req: &HttpRequest, payload: web::Payload) -> Result<String, ApiError> {
    let content_type = req.content_type().to_ascii_lowercase();
    if !matches!(
        content_type.as_str(),
        "application/jwt" | "application/octet-stream" | "text/plain"
    ) {
        return Err(ApiError::InvalidRequest(
            "send the metadata BLOB as it was downloaded, with Content-Type: application/jwt"
                .into(),
        ));
    }
    let body = read_body(declared_length(req), payload.into_inner(), BLOB_LIMIT).await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::InvalidRequest("the metadata BLOB is not text (a JWS)".into()))?;
    if text.trim().is_empty() {
        return Err(ApiError::InvalidRequest(
            "the body is empty: send the metadata BLOB".into(),
        ));
    }
    Ok(text)
}

/// The JSON lines of an import (`application/x-ndjson` or `application/jsonl`), as text. Read
/// only after the token was checked.
pub async fn ndjson_body(req: &HttpRequest, payload: web::Payload) -> Result<String, ApiError> {
    let content_type = req.content_type().to_ascii_lowercase();
    if !matches!(
        content_type.as_str(),
        "application/x-ndjson" | "application/jsonl" | "application/json-lines"
    ) {
        return Err(ApiError::InvalidRequest(
            "send the users as JSON lines, one user per line, with Content-Type: \
             application/x-ndjson (or application/jsonl)"
                .into(),
        ));
    }
    let body = read_body(declared_length(req), payload.into_inner(), IMPORT_LIMIT).await?;
    String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::InvalidRequest("the body is not UTF-8 text".into()))
}

/// A request body that is a JSON object (an empty body counts as `{}`).
pub struct JsonBody(pub Value);

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = declared_length(req);
        let content_type = req.content_type().to_ascii_lowercase();
        let payload = payload.take();
        Box::pin(async move {
            let body = read_body(declared, payload, BODY_LIMIT).await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(JsonBody(Value::Object(Default::default())));
            }
            if !content_type.is_empty()
                && content_type != "application/json"
                && content_type != "application/vnd.api+json"
            {
                return Err(ApiError::InvalidRequest(
                    "send the body as Content-Type: application/json".into(),
                ));
            }
            let value: Value = serde_json::from_slice(&body).map_err(|e| {
                ApiError::InvalidRequest(format!("the body is not valid JSON: {e}"))
            })?;
            if !value.is_object() {
                return Err(ApiError::InvalidRequest(
                    "the body must be a JSON object".into(),
                ));
            }
            Ok(JsonBody(value))
        })
    }
}

impl JsonBody {
    pub fn required_str(&self, name: &str) -> Result<String, ApiError> {
        match self.0.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApiError::InvalidRequest(format!(
                "`{name}` must be a string"
            ))),
            None => Err(ApiError::InvalidRequest(format!("`{name}` is required"))),
        }
    }

    /// A string member that may be absent or `null`.
    pub fn optional_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        optional_str(&self.0, name)
            .map(|s| s.map(str::to_owned))
            .map_err(ApiError::InvalidRequest)
    }

    /// A boolean member that may be absent or `null`.
    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        optional_bool(&self.0, name).map_err(ApiError::InvalidRequest)
    }

    pub fn required_object(&self, name: &str) -> Result<Value, ApiError> {
        required_object(&self.0, name)
            .cloned()
            .map_err(ApiError::InvalidRequest)
    }
}

// Readers of a JSON object's members, shared by every wire shape (each wraps the sentence of
// `Err` in its own error).

/// A string member that may be absent or `null`.
pub fn optional_str<'a>(object: &'a Value, name: &str) -> Result<Option<&'a str>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{name}` must be a string")),
    }
}

/// A boolean member that may be absent or `null`.
pub fn optional_bool(object: &Value, name: &str) -> Result<Option<bool>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("`{name}` must be true or false")),
    }
}

/// An object member that must be present.
pub fn required_object<'a>(object: &'a Value, name: &str) -> Result<&'a Value, String> {
    match object.get(name) {
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(format!("`{name}` must be an object")),
        None => Err(format!("`{name}` is required")),
    }
}

/// A string member that may be absent or `null`, and otherwise one of the values `parse` takes.
pub fn optional_choice<T>(
    object: &Value,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, String> {
    optional_str(object, name)?
        .map(|s| parse(s).ok_or_else(|| format!("`{name}` may not be \"{s}\"")))
        .transpose()
}

/// The request's client address (trusting `X-Forwarded-For` only from configured proxies), user
/// agent and request id.
pub fn request_ctx(req: &HttpRequest, engine: &Engine) -> RequestCtx {
    let proxy = &engine.settings().proxy;
    let peer: Option<IpAddr> = req.peer_addr().map(|a| a.ip());
    let mut address = peer;
    if peer.is_some_and(|p| proxy.is_trusted(p)) {
        if let Some(forwarded) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            // The rightmost address that is not one of our proxies is the client.
            address = forwarded
                .split(',')
                .rev()
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .find(|a| !proxy.is_trusted(*a))
                .or(address);
        }
    }
    RequestCtx {
        remote_address: address.map(|a| a.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
        request_id: req
            .extensions()
            .get::<super::middleware::RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        tenant: None,
        api_key: None,
    }
}

fn get<T: DeserializeOwned>(session: &Session, key: &str) -> Option<T> {
    session.get::<T>(key).ok().flatten()
}

/// Reads the session's state, each field as the type `SessionData` declares for it; a field that
/// does not decode counts as absent.
pub fn load_session(session: &Session) -> SessionData {
    SessionData {
        sid: get(session, SessionData::KEY_SID),
        created_at: get(session, SessionData::KEY_CREATED),
        login: get(session, SessionData::KEY_LOGIN),
        auth_flow: get(session, SessionData::KEY_AUTH_FLOW),
        self_service: get(session, SessionData::KEY_SELF_SERVICE),
        renew: false,
        purge: false,
    }
}

/// Sets (or removes) one state entry, only when it differs from what the session holds: an
/// unchanged session stays unchanged, so it is neither written back nor sent re-encrypted (its
/// idle time is still extended).
fn put<T: serde::Serialize>(
    session: &Session,
    key: &str,
    value: &Option<T>,
) -> Result<(), ApiError> {
    let failed = |e: &dyn std::fmt::Display| ApiError::Internal(format!("session state: {e}"));
    match value {
        Some(v) => {
            let json = serde_json::to_string(v).map_err(|e| failed(&e))?;
            let unchanged = session.entries().get(key) == Some(&json);
            if !unchanged {
                // Inserted as the JSON made above, not serialised a second time.
                let raw = serde_json::value::RawValue::from_string(json).map_err(|e| failed(&e))?;
                session.insert(key, raw).map_err(|e| failed(&e))?;
            }
            Ok(())
        }
        None => {
            let present = session.entries().contains_key(key);
            if present {
                session.remove(key);
            }
            Ok(())
        }
    }
}

/// Writes the state back, renewing the session key when the engine asked for it and
/// destroying the session on logout. A session that holds nothing worth keeping is not stored
/// (no cookie is set), and a stored one that no longer holds anything is destroyed.
pub fn store_session(session: &Session, data: &SessionData) -> Result<(), ApiError> {
    if !data.holds_state() {
        let stored = !session.entries().is_empty();
        if stored {
            session.purge();
        }
        return Ok(());
    }
    if data.purge {
        // Ended by its lifetime: a fresh session under a new key.
        session.clear();
        session.renew();
    }
    if data.renew {
        session.renew();
    }
    put(session, SessionData::KEY_SID, &data.sid)?;
    put(session, SessionData::KEY_CREATED, &data.created_at)?;
    put(session, SessionData::KEY_LOGIN, &data.login)?;
    put(session, SessionData::KEY_AUTH_FLOW, &data.auth_flow)?;
    put(session, SessionData::KEY_SELF_SERVICE, &data.self_service)?;
    Ok(())
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}
