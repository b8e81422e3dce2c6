//! The AuthFi-shaped relying-party API under `/{access_path}/api/v1/`: a relying party's backend
//! creates registration and authentication requests, hands the browser's response back and
//! manages its users and keys, authenticated by `AT-X-Key` alone. Handlers parse AuthFi's request
//! shapes, call one engine use case, and render `{"code": 0, …}` (`ceremonies.rs`, `users.rs`,
//! each annotated with its OpenAPI operation; answer shapes in `render.rs`); errors in
//! `error.rs`. Imports `engine` and `api::backend` only.

mod ceremonies;
pub mod error;
mod render;
mod users;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::backend::{caller, json_object, Caller, KeyIn};
use super::extract::{optional_choice, optional_str, read_limited, required_object};
use super::openapi;
use super::routes::{op, Table};
use super::schema::authfi as s;
use crate::engine::{Engine, EngineError};
use ceremonies as c;
use error::{AuthFiError, Stage};
use users as u;

/// The header that carries the API key (HTTP header names are case-insensitive).
pub const KEY_HEADER: &str = "at-x-key";

type Reply = Result<HttpResponse, AuthFiError>;

pub fn routes(cfg: &mut ServiceConfig) {
    table().register(cfg);
}

/// The routes, each documented by its handler's `#[utoipa::path]`.
pub fn table() -> Table {
    Table::scope("/{access_path}/api/v1", |path| web::resource(path))
        .shared(openapi::authfi_operation)
        .at(
            "/webauthn/registration",
            [
                op!(post, c::registration_begin),
                op!(put, c::registration_finish),
            ],
        )
        .at(
            "/webauthn/login",
            [op!(post, c::login_begin), op!(put, c::login_finish)],
        )
        .at(
            "/webauthn/verification",
            [
                op!(post, c::verification_begin),
                op!(put, c::verification_finish),
            ],
        )
        .at("/users", [op!(get, u::list_users)])
        .at(
            "/users/{uid}",
            [
                op!(get, u::get_user),
                op!(put, u::update_user),
                op!(delete, u::delete_user),
            ],
        )
        .at("/users/{uid}/keys", [op!(get, u::list_keys)])
        .at(
            "/users/{uid}/keys/{credential_id}",
            [op!(put, u::update_key), op!(delete, u::delete_key)],
        )
        .default_service(web::to(unknown_call))
}

/// The tenant and caller of a call; refuses an unknown path or a wrong key.
fn authfi_caller(req: &HttpRequest, engine: &Engine) -> Result<Caller, AuthFiError> {
    let access_path = req.match_info().get("access_path").unwrap_or_default();
    caller(
        req,
        engine,
        access_path,
        Some(KeyIn::Header(KEY_HEADER)),
        |t| !t.conformance,
    )
    .map_err(AuthFiError::of_refused)
}

/// Reads the body as a JSON object (64 KiB at most).
async fn body(req: &HttpRequest, payload: web::Payload) -> Result<Value, AuthFiError> {
    let bytes = read_limited(req, payload)
        .await
        .map_err(|e| AuthFiError::parameters(e.to_string()))?;
    json_object(&bytes).map_err(AuthFiError::parameters)
}

/// Runs an engine call ([`super::backend::durably`]).
async fn call<T>(f: impl FnOnce() -> Result<T, AuthFiError>) -> Result<T, AuthFiError> {
    super::backend::durably(f)
        .await
        .map_err(|e| AuthFiError::of_engine(EngineError::Internal(e), Stage::Other))?
}

fn ok(mut body: Value) -> HttpResponse {
    body["code"] = json!(0);
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

fn choice<T>(
    params: &Value,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, AuthFiError> {
    optional_choice(params, name, parse).map_err(AuthFiError::parameters)
}

fn object<'a>(value: &'a Value, name: &str) -> Result<&'a Value, AuthFiError> {
    required_object(value, name).map_err(AuthFiError::parameters)
}

fn text<'a>(value: &'a Value, name: &str) -> Result<Option<&'a str>, AuthFiError> {
    optional_str(value, name).map_err(AuthFiError::parameters)
}

/// The credential of a PUT: the member `name`, an object.
fn credential(body: &Value, name: &str, stage: Stage) -> Result<Value, AuthFiError> {
    let code = if stage == Stage::Registration {
        3100
    } else {
        4100
    };
    match body.get(name) {
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        _ => Err(AuthFiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            code,
            format!("`{name}` is required: the credential as the browser returned it"),
        )),
    }
}

/// A path under the API that names no call (or a method the call does not take).
async fn unknown_call(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    authfi_caller(&req, &e)?;
    Err(AuthFiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        1002,
        format!("there is no call {} {}", req.method(), req.path()),
    ))
}
