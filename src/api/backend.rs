//! What every relying-party backend API (AuthFi and OneSpan shapes, conformance API) does before its handler:
//! find the tenant by the first path segment, check the API key the shape carries — or, without
//! one, the client certificate the caller presented (on the TLS connection, or in
//! `proxy.client_cert_header` from a trusted proxy) against the tenant's `client_certificates` —,
//! count the call against the key's rate limit, and build the request context from the end user's address
//! and agent the relying party passes (`X-End-User-IP`, `X-End-User-Agent`). Each shape renders
//! the refusal in its own format.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::web::BytesMut;
use actix_web::HttpRequest;

use super::extract::request_ctx;
use crate::engine::{Engine, EngineError, RequestCtx, Tenant};

/// Why a backend call was refused before its handler ran.
#[derive(Debug)]
pub enum Refused {
    /// No tenant has this access path (or it does not serve this shape).
    UnknownTenant,
    /// Neither an API key nor a client certificate was presented.
    KeyMissing,
    /// The API key is not one of the tenant's.
    KeyWrong,
    /// No API key, and the client certificate is not one of the tenant's.
    CertificateWrong,
    /// Over the key's rate limit.
    Limited(EngineError),
}

/// The message of [`Refused::CertificateWrong`], in every shape.
pub const CERTIFICATE_WRONG: &str = "no API key was sent, and the client certificate presented is \
    not one of this relying party's client_certificates";

/// The tenant of a backend call and who made it.
pub struct Caller {
    pub tenant: Arc<Tenant>,
    pub cx: RequestCtx,
}

/// Where a shape carries its API key.
#[derive(Debug, Clone, Copy)]
pub enum KeyIn {
    /// The whole value of this header (AuthFi's `AT-X-Key`).
    Header(&'static str),
    /// `Authorization: Bearer <key>` (the OneSpan shape).
    Bearer,
}

/// Resolves the tenant of `access_path` and checks the key sent as `key` says (`None`: the
/// shape takes no key, e.g. the conformance API).
pub fn caller(
    req: &HttpRequest,
    engine: &Engine,
    access_path: &str,
    key: Option<KeyIn>,
    want: impl Fn(&Tenant) -> bool,
) -> Result<Caller, Refused> {
    let tenant = engine
        .tenant_by_access_path(access_path)
        .filter(|t| want(t))
        .ok_or(Refused::UnknownTenant)?;
    let mut cx = request_ctx(req, engine);
    cx.tenant = Some(tenant.id.clone());
    if let Some(key) = key {
        let (header, scheme) = match key {
            KeyIn::Header(name) => (name, None),
            KeyIn::Bearer => ("authorization", Some("bearer ")),
        };
        let presented = req
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| match scheme {
                None => Some(v),
                Some(scheme) => v
                    .get(..scheme.len())
                    .filter(|s| s.eq_ignore_ascii_case(scheme))
                    .map(|_| &v[scheme.len()..]),
            })
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let name = match (presented, client_certificate(req, engine)) {
            (Some(presented), _) => tenant.key_named(presented).ok_or(Refused::KeyWrong)?,
            (None, Some(der)) => tenant
                .client_certificate_named(&der)
                .ok_or(Refused::CertificateWrong)?,
            (None, None) => return Err(Refused::KeyMissing),
        };
        engine
            .count_api_call(&tenant, &name)
            .map_err(Refused::Limited)?;
        cx.api_key = Some(name);
    }
    if let Some(ip) = header_text(req, "x-end-user-ip").and_then(|v| v.parse::<IpAddr>().ok()) {
        cx.remote_address = Some(ip.to_string());
    }
    if let Some(agent) = header_text(req, "x-end-user-agent") {
        cx.user_agent = Some(agent.chars().take(256).collect());
    }
    Ok(Caller { tenant, cx })
}

fn header_text<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Parses a JSON object body (at most 64 KiB; an empty body is `{}`); `Err` says what is wrong.
/// Runs an engine call of a backend shape right here on the async worker (in-memory work and the
/// signature checks); its durable writes are on disk before this returns, after one wait. `Err`:
/// that wait failed (the message), for the shape to answer as an internal error.
pub async fn durably<R>(call: impl FnOnce() -> R) -> Result<R, String> {
    let (result, pending) = crate::engine::deferred(call);
    pending.wait_async().await.map_err(|e| e.to_string())?;
    Ok(result)
}

pub fn json_object(body: &BytesMut) -> Result<serde_json::Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err("the body must be a JSON object".into());
    }
    Ok(value)
}

/// The client certificate (DER) of the caller: the one it presented on this TLS connection, or
/// the one a trusted proxy passes in `proxy.client_cert_header` (URL-encoded PEM) — from any
/// other peer that header is ignored.
fn client_certificate(req: &HttpRequest, engine: &Engine) -> Option<Vec<u8>> {
    if let Some(cert) = req.conn_data::<super::ClientCertificate>() {
        return Some(cert.0.clone());
    }
    let proxy = &engine.settings().proxy;
    let header = proxy.client_cert_header.as_deref()?;
    let peer = req.peer_addr()?.ip();
    if !proxy.is_trusted(peer) {
        return None;
    }
    let escaped = header_text(req, header)?;
    let pem = percent_encoding::percent_decode_str(escaped)
        .decode_utf8()
        .ok()?;
    use rustls_pki_types::pem::PemObject as _;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .ok()
        .map(|der| der.to_vec())
}
