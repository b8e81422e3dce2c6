//! The OneSpan-shaped relying-party API under `/{access_path}/v1/`: a relying party's web server
//! makes users, asks for registration and authentication requests, hands the browser's response
//! back with the `requestID` it was given, validates signed transactions, and manages the
//! user's authenticators; authenticated by `Authorization: Bearer <API key>` alone. The user is
//! named `{userID@domain}` (split at the last `@`; the domain must be one of the tenant's
//! `domains`). Handlers parse OneSpan's request shapes (FIDO messages as stringified JSON), call
//! one engine use case and render the answer (`users.rs`, `ceremonies.rs`, each annotated with
//! its OpenAPI operation; answer shapes in `render.rs`); errors in `error.rs`. Imports `engine`
//! and `api::backend` only.

mod ceremonies;
pub mod error;
mod render;
mod uaf;
mod users;

use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde_json::Value;

use super::backend::{caller, json_object, Caller, KeyIn};
use super::extract::read_limited;
use super::openapi;
use super::routes::{op, Table};
use super::schema::onespan as s;
use crate::engine::{Engine, Tenant};
use ceremonies as c;
use error::OneSpanError;
use users as u;

type Reply = Result<HttpResponse, OneSpanError>;

/// Set on a request the OneSpan shape serves, so the request middleware adds the
/// `log-correlation-id` header to its answer.
#[derive(Clone, Copy, Debug)]
pub struct OneSpanCall;

pub fn routes(cfg: &mut ServiceConfig) {
    table().register(cfg);
}

/// The routes, each documented by its handler's `#[utoipa::path]`.
pub fn table() -> Table {
    Table::scope("/{access_path}/v1", |path| web::resource(path))
        .shared(openapi::onespan_operation)
        .at("/users", [op!(post, u::create_user)])
        .at(
            "/users/{user}",
            [op!(get, u::get_user), op!(delete, u::delete_user)],
        )
        .at(
            "/users/{user}/generate-fido-registration-request",
            [op!(post, c::registration_request)],
        )
        .at(
            "/users/{user}/register-fido-device",
            [op!(post, c::register_device)],
        )
        .at(
            "/users/{user}/generate-fido-authentication-request",
            [op!(post, c::authentication_request)],
        )
        .at("/users/{user}/login", [op!(post, c::login)])
        .at(
            "/users/{user}/transactions/validate",
            [op!(post, c::validate_transaction)],
        )
        .at(
            "/users/{user}/fido-authenticators",
            [op!(get, u::list_authenticators)],
        )
        .at(
            "/users/{user}/fido-authenticators/{authenticator}",
            [
                op!(put, u::rename_authenticator),
                op!(delete, u::delete_authenticator),
            ],
        )
        .default_service(web::to(unknown_call))
}

/// The tenant and caller of a call; refuses an unknown path or a wrong key.
fn onespan_caller(req: &HttpRequest, engine: &Engine) -> Result<Caller, OneSpanError> {
    req.extensions_mut().insert(OneSpanCall);
    let access_path = req.match_info().get("access_path").unwrap_or_default();
    caller(req, engine, access_path, Some(KeyIn::Bearer), |t| {
        !t.conformance
    })
    .map_err(OneSpanError::of_refused)
}

/// The `{user}` of the path: (userID, domain), the domain one of the tenant's.
fn user_path(req: &HttpRequest, tenant: &Tenant) -> Result<(String, String), OneSpanError> {
    let raw = req.match_info().get("user").unwrap_or_default();
    let Some((user, domain)) = raw.rsplit_once('@') else {
        return Err(OneSpanError::not_found(
            "name the user as {userID@domain}, e.g. alice@master",
        ));
    };
    check_domain(tenant, domain)?;
    Ok((user.to_string(), domain.to_string()))
}

/// Refuses a domain the tenant does not list (404).
fn check_domain(tenant: &Tenant, domain: &str) -> Result<(), OneSpanError> {
    if tenant.domains().iter().any(|d| d == domain) {
        return Ok(());
    }
    let shown: String = domain.chars().take(64).collect();
    Err(OneSpanError::not_found(format!(
        "the domain \"{shown}\" is not one of this relying party's ({})",
        tenant.domains().join(", ")
    )))
}

/// Reads the body as a JSON object (64 KiB at most).
async fn body(req: &HttpRequest, payload: web::Payload) -> Result<(Value, Vec<u8>), OneSpanError> {
    let bytes = read_limited(req, payload)
        .await
        .map_err(|e| OneSpanError::field("body", e.to_string()))?;
    let value = json_object(&bytes).map_err(|e| OneSpanError::field("body", e))?;
    Ok((value, bytes.to_vec()))
}

/// Runs an engine call ([`super::backend::durably`]).
async fn call<T>(f: impl FnOnce() -> Result<T, OneSpanError>) -> Result<T, OneSpanError> {
    super::backend::durably(f)
        .await
        .map_err(|e| OneSpanError::of_engine(crate::engine::EngineError::Internal(e)))?
}

fn answer(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

/// An optional string member.
fn text<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, OneSpanError> {
    crate::api::extract::optional_str(body, name).map_err(|e| OneSpanError::field(name, e))
}

/// A required string member.
fn required_text<'a>(body: &'a Value, name: &str) -> Result<&'a str, OneSpanError> {
    text(body, name)?.ok_or_else(|| OneSpanError::field(name, "is required"))
}

/// An optional member that must be one of a set of words.
fn choice<T>(
    body: &Value,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, OneSpanError> {
    crate::api::extract::optional_choice(body, name, parse)
        .map_err(|e| OneSpanError::field(name, e))
}

/// `objectType` must be `expected` when present.
fn object_type(body: &Value, expected: &str) -> Result<(), OneSpanError> {
    match text(body, "objectType")? {
        None => Ok(()),
        Some(t) if t == expected => Ok(()),
        Some(_) => Err(OneSpanError::field(
            "objectType",
            format!("must be \"{expected}\""),
        )),
    }
}

/// `fidoProtocol`: which FIDO protocol a call speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Fido2,
    Uaf11,
}

fn protocol(body: &Value) -> Result<Protocol, OneSpanError> {
    match required_text(body, "fidoProtocol")? {
        "FIDO2" => Ok(Protocol::Fido2),
        "UAF11" => Ok(Protocol::Uaf11),
        _ => Err(OneSpanError::field(
            "fidoProtocol",
            "must be \"FIDO2\" or \"UAF11\"",
        )),
    }
}

/// A FIDO message sent as stringified JSON: a FIDO2 credential (an object) or a UAF message (an
/// array); sent unstringified, it is taken as it is.
fn fido_message(value: Option<&Value>, field: &str) -> Result<Value, OneSpanError> {
    let parsed = match value {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .map_err(|e| OneSpanError::field(field, format!("is not JSON: {e}")))?,
        Some(v @ (Value::Object(_) | Value::Array(_))) => v.clone(),
        Some(_) => {
            return Err(OneSpanError::field(
                field,
                "must be the credential JSON as a string",
            ))
        }
        None => return Err(OneSpanError::field(field, "is required")),
    };
    if !parsed.is_object() && !parsed.is_array() {
        return Err(OneSpanError::field(
            field,
            "must be a JSON object (a FIDO2 credential) or array (a UAF message)",
        ));
    }
    Ok(parsed)
}

/// A path under the API that names no call (or a method the call does not take).
async fn unknown_call(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    onespan_caller(&req, &e)?;
    Err(OneSpanError::not_found(format!(
        "there is no call {} {}",
        req.method(),
        req.path()
    )))
}
