//! Cross-cutting rules of the contract: a request id on every request, `Cache-Control: no-store`
//! on every `/rest` answer, the CSRF header and Origin checks, and CORS only for configured
//! origins.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};

use super::error::ApiError;
use crate::engine::Engine;

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
    let path = req.path().to_string();
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
            let refusal = if !has_header {
                Some(ApiError::CsrfHeaderMissing)
            } else if origin
                .as_ref()
                .is_some_and(|o| !origins.contains(o) && !cors.contains(o))
            {
                Some(ApiError::CsrfOriginMismatch)
            } else {
                None
            };
            if let Some(e) = refusal {
                return Ok(req.into_response(e.error_response()));
            }
        }
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
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

/// Unknown paths under `/rest` (and elsewhere): `404 NOT_FOUND` as a JSON:API document.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// A known path with a method it does not serve.
pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// One request per session at a time: a request carrying the session cookie of a request still
/// running answers `400 CONCURRENT_ACCESS`. Wraps the session middleware, so the guard covers
/// loading the session state, the handler and saving the state.
pub async fn session_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .cookie(super::SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|_| is_browser_facing(req.path()));
    let engine = req.app_data::<web::Data<Engine>>().cloned();
    let _guard = match (key, engine) {
        (Some(key), Some(engine)) => match engine.guard_session(&key) {
            Ok(guard) => Some(guard),
            Err(e) => return Ok(req.into_response(ApiError::from(e).error_response())),
        },
        _ => None,
    };
    Ok(next.call(req).await?.map_into_boxed_body())
}
