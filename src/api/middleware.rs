//! Cross-cutting rules of the contract: a request id on every request, `Cache-Control: no-store`
//! on every `/rest` answer, the CSRF header and Origin checks, and CORS only for configured
//! origins; and the access log with the request-duration metric.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{CookieJar, Key};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::uri::{PathAndQuery, Uri};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};

use super::error::ApiError;
use crate::engine::{Engine, Pending};

/// The id of a request, for the audit log and the trace.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Headers of every page and asset: a strict Content-Security-Policy (no inline script, no
/// framing), no MIME sniffing, no referrer.
const PAGE_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// The key the session cookie is encrypted with (the one the session middleware uses), so the
/// one-request-per-session guard can tell which session a cookie names.
#[derive(Clone)]
pub struct SessionCookieKey(pub Key);

/// The path every rule decides on and the router matches: `%XX` escapes of unreserved
/// characters (letters, digits, `-._~`) decoded, as the router decodes them; doubled slashes
/// merged; `.` and `..` segments resolved (never above the root); no trailing slash. Other
/// escapes stay as they are (the router keeps `%2F`, `%25` and `%2B` encoded and decodes the rest
/// only within a segment, so they cannot change which segments a path has). A path that does
/// not start with `/` (`*`) is left alone.
pub fn canonical_path(raw: &str) -> String {
    if !raw.starts_with('/') {
        return raw.to_string();
    }
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let c = high * 16 + low;
                if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                    decoded.push(c);
                    i += 3;
                    continue;
                }
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let decoded = String::from_utf8_lossy(&decoded);
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/"))
}

/// Outermost: rewrites the request's path to [`canonical_path`], so the rules after it and the
/// router see one and the same path (relying parties' `//{access_path}//api/v1/...` included).
pub async fn normalize_path(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let original = req.path().to_string();
    let path = canonical_path(&original);
    if path != original {
        let mut parts = req.head().uri.clone().into_parts();
        let path_and_query = match parts.path_and_query.as_ref().and_then(|p| p.query()) {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        let uri = PathAndQuery::try_from(path_and_query)
            .ok()
            .and_then(|p| {
                parts.path_and_query = Some(p);
                Uri::from_parts(parts).ok()
            })
            .ok_or_else(|| ApiError::InvalidRequest("the request path is invalid".into()))?;
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The paths of the browser-facing API, which the CSRF rules and the session guard cover
/// (`path` is a [`canonical_path`]).
fn is_browser_facing(path: &str) -> bool {
    path.starts_with("/rest/public/") || path.starts_with("/rest/protected/")
}

/// Request id, CSRF checks, CORS and `no-store`.
pub async fn rest_rules(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = crate::engine::random_id();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    // Normally `normalize_path` has rewritten the path already; deciding on the canonical form
    // here too keeps the rules right wherever this middleware runs.
    let path = canonical_path(req.path());
    let engine = req.app_data::<web::Data<Engine>>().cloned();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (origins, cors) = engine.as_ref().map_or((vec![], vec![]), |e| {
        (
            e.settings().relying_party.origins.clone(),
            e.settings().cors.allowed_origins.clone(),
        )
    });
    let cors_origin = origin.clone().filter(|o| cors.contains(o));

    if path.starts_with("/rest/") {
        if req.method() == Method::OPTIONS {
            let mut response = HttpResponse::NoContent();
            if let Some(o) = &cors_origin {
                response
                    .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, o.as_str()))
                    .insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
                    .insert_header((
                        header::ACCESS_CONTROL_ALLOW_METHODS,
                        "GET, POST, PATCH, DELETE",
                    ))
                    .insert_header((
                        header::ACCESS_CONTROL_ALLOW_HEADERS,
                        "Content-Type, X-Same-Domain, Authorization",
                    ))
                    .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                    .insert_header((header::VARY, "Origin"));
            }
            response.insert_header((header::CACHE_CONTROL, "no-store"));
            return Ok(req.into_response(response.finish()));
        }
        if is_browser_facing(&path) {
            let has_header = req
                .headers()
                .get("x-same-domain")
                .is_some_and(|v| !v.as_bytes().is_empty());
            let refused_origin = origin
                .as_ref()
                .filter(|o| !origins.contains(o) && !cors.contains(o));
            let refusal = if !has_header {
                Some(ApiError::CsrfHeaderMissing)
            } else {
                refused_origin.map(|o| super::origin_help::origin_refused(o, &origins))
            };
            if let Some(e) = refusal {
                return Ok(req.into_response(e.error_response()));
            }
        }
    }
    // Every log line of the request carries its id (the OneSpan shape's log-correlation-id).
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = tracing::Instrument::instrument(next.call(req), span)
        .await?
        .map_into_boxed_body();
    if response
        .request()
        .extensions()
        .get::<crate::api::onespan::OneSpanCall>()
        .is_some()
    {
        if let Ok(id) = header::HeaderValue::from_str(&request_id) {
            response
                .headers_mut()
                .insert(header::HeaderName::from_static("log-correlation-id"), id);
        }
    }
    if !path.starts_with("/rest/") {
        let headers = response.headers_mut();
        for (name, value) in PAGE_HEADERS {
            headers.insert(
                header::HeaderName::from_static(name),
                header::HeaderValue::from_static(value),
            );
        }
    }
    if path.starts_with("/rest/") {
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        if let Some(o) = cors_origin.and_then(|o| header::HeaderValue::from_str(&o).ok()) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                header::HeaderValue::from_static("true"),
            );
            headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
        }
    }
    Ok(response)
}

/// Outermost: one access-log line per request, after its answer, with the request id
/// ([`rest_rules`] makes it), the client's address, method, path (no query string, no headers:
/// no secrets), status and duration; at info, but at debug for `/health/*` (probed every few
/// seconds). Also times the request into the route-latency histogram.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let client = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let raw_path = req.path().to_string();
    let result = next.call(req).await;
    let elapsed = started.elapsed();
    let duration_ms = elapsed.as_micros() as f64 / 1000.0;
    let response = match result {
        Ok(response) => response.map_into_boxed_body(),
        Err(e) => {
            // A refusal before any handler (the middleware's own): no route, no request id.
            let status = e.as_response_error().status_code().as_u16();
            crate::engine::metrics::http_request(method.as_str(), None, status, elapsed);
            tracing::info!(
                %client, %method, path = %raw_path, status, duration_ms, "request refused"
            );
            return Err(e);
        }
    };
    let request = response.request();
    let route = request.match_pattern();
    let status = response.status().as_u16();
    crate::engine::metrics::http_request(method.as_str(), route.as_deref(), status, elapsed);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let path = request.path();
    if path.starts_with(super::health::HEALTH_PREFIX) {
        tracing::debug!(%request_id, %client, %method, %path, status, duration_ms, "request");
    } else {
        tracing::info!(%request_id, %client, %method, %path, status, duration_ms, "request");
    }
    Ok(response)
}

/// Unknown paths under `/rest` (and elsewhere): `404 NOT_FOUND` as a JSON:API document.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// A known path with a method it does not serve.
pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// The session key a request's session cookie names (what the session middleware will load),
/// if the cookie decrypts: every encryption of one session key names the same session.
fn session_key(req: &ServiceRequest) -> Option<String> {
    let cookie = req.cookie(super::SESSION_COOKIE)?;
    let key = req.app_data::<web::Data<SessionCookieKey>>()?;
    let mut jar = CookieJar::new();
    jar.add_original(cookie);
    jar.private(&key.0)
        .get(super::SESSION_COOKIE)
        .map(|c| c.value().to_string())
}

/// One request per session at a time: a request of a session (named by the session key its
/// cookie decrypts to, however the cookie was encrypted) while another request of it runs
/// answers `400 CONCURRENT_ACCESS`. Wraps the session middleware, so the guard covers loading the
/// session state, the handler and saving the state.
pub async fn session_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = if is_browser_facing(&canonical_path(req.path())) {
        session_key(&req)
    } else {
        None
    };
    let engine = req.app_data::<web::Data<Engine>>().cloned();
    let guard = match (key, engine) {
        (Some(key), Some(engine)) => match engine.guard_session(&key) {
            Ok(guard) => Some(guard),
            Err(e) => return Ok(req.into_response(ApiError::from(e).error_response())),
        },
        _ => None,
    };
    // Servers sharing a store also claim the session there, for all of them.
    let guard = match guard {
        Some(guard) if guard.needs_claim() => match web::block(move || guard.claim()).await {
            Ok(Ok(guard)) => Some(guard),
            Ok(Err(e)) => return Ok(req.into_response(ApiError::from(e).error_response())),
            Err(e) => {
                let e = ApiError::Internal(e.to_string());
                return Ok(req.into_response(e.error_response()));
            }
        },
        other => other,
    };
    let response = next.call(req).await?.map_into_boxed_body();
    if let Some(guard) = guard.filter(|g| g.needs_claim()) {
        if let Ok(Err(e)) = web::block(move || guard.end()).await {
            tracing::warn!(error = %e, "a session claim was not ended; it expires");
        }
    }
    Ok(response)
}

/// Consumes every small body before routing (see [`super::extract::read_small_body`]), so an
/// answer never closes a keep-alive connection over body bytes its handler did not read.
pub async fn read_small_bodies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Err(e) = super::extract::read_small_body(&mut req).await {
        return Ok(req.into_response(e.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Hands the durable writes of a deferred engine call to [`durable_answers`], which waits for
/// them (after the session's own write) before the answer leaves.
pub fn durable_before_answer(req: &actix_web::HttpRequest, pending: Pending) {
    let mut extensions = req.extensions_mut();
    let earlier = extensions.remove::<Pending>().unwrap_or_default();
    extensions.insert(earlier.and(pending));
}

/// Waits, once per request, until the writes its handler made are on disk: wraps the session
/// middleware, so a signed-in session written after the handler shares that wait. A flush that
/// fails turns the answer into `500 INTERNAL_ERROR`: nothing is acknowledged that is not durable.
pub async fn durable_answers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let pending = res.request().extensions_mut().remove::<Pending>();
    match pending {
        Some(pending) => match pending.wait_async().await {
            Ok(()) => Ok(res),
            Err(e) => {
                tracing::error!(error = %e, "the answer's writes could not be flushed");
                let error = ApiError::Internal("the store could not save the change".into());
                Ok(res.into_response(error.error_response()))
            }
        },
        None => Ok(res),
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn the_canonical_path_is_the_one_the_router_matches() {
        for (raw, canonical) in [
            ("/", "/"),
            ("//", "/"),
            (
                "/rest/%70ublic/authentication/logout",
                "/rest/public/authentication/logout",
            ),
            (
                "/%72EST/public",
                "/%72EST/public".replace("%72", "r").as_str(),
            ),
            ("//tenant//api/v1//users/", "/tenant/api/v1/users"),
            ("/rest/./public/x/../y", "/rest/public/y"),
            ("/../../rest/%2E%2E/rest/public", "/rest/public"),
            ("/a/%2Fb/%25/%2B/%20", "/a/%2Fb/%25/%2B/%20"),
            ("/a/%7e%5F%2d", "/a/~_-"),
            ("/a/%zz/%4", "/a/%zz/%4"),
            ("*", "*"),
        ] {
            assert_eq!(canonical_path(raw), canonical, "{raw}");
        }
    }
}
