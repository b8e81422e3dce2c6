//! The AuthFi-shaped relying-party API under `/{access_path}/api/v1/`: a relying party's backend
//! creates registration and authentication requests, hands the browser's response back and
//! manages its users and keys, authenticated by `AT-X-Key` alone. Handlers parse AuthFi's request
//! shapes, call one engine use case, and render `{"code": 0, …}`; errors in `error.rs`. Imports
//! `engine` and `api::backend` only.

pub mod error;
mod render;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::backend::{caller, json_object, Caller};
use super::extract::read_limited;
use crate::engine::{
    Attachment, BackendAssertion, BackendRegistration, Channel, Conveyance, Engine, ResidentKey,
    UserVerification,
};
use error::{AuthFiError, Stage};
use render::{key_info, user_json, verified};

/// The header that carries the API key (HTTP header names are case-insensitive).
pub const KEY_HEADER: &str = "at-x-key";

type Reply = Result<HttpResponse, AuthFiError>;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(
        web::scope("/{access_path}/api/v1")
            .service(
                web::resource("/webauthn/registration")
                    .route(web::post().to(registration_begin))
                    .route(web::put().to(registration_finish)),
            )
            .service(
                web::resource("/webauthn/login")
                    .route(web::post().to(login_begin))
                    .route(web::put().to(login_finish)),
            )
            .service(
                web::resource("/webauthn/verification")
                    .route(web::post().to(verification_begin))
                    .route(web::put().to(verification_finish)),
            )
            .service(web::resource("/users").route(web::get().to(list_users)))
            .service(
                web::resource("/users/{uid}")
                    .route(web::get().to(get_user))
                    .route(web::put().to(update_user))
                    .route(web::delete().to(delete_user)),
            )
            .service(web::resource("/users/{uid}/keys").route(web::get().to(list_keys)))
            .service(
                web::resource("/users/{uid}/keys/{credential_id}")
                    .route(web::put().to(update_key))
                    .route(web::delete().to(delete_key)),
            )
            .default_service(web::to(unknown_call)),
    );
}

/// The tenant and caller of a call; refuses an unknown path or a wrong key.
fn authfi_caller(req: &HttpRequest, engine: &Engine) -> Result<Caller, AuthFiError> {
    let access_path = req.match_info().get("access_path").unwrap_or_default();
    caller(req, engine, access_path, Some(KEY_HEADER), |t| {
        !t.conformance
    })
    .map_err(AuthFiError::of_refused)
}

/// Reads the body as a JSON object (64 KiB at most).
async fn body(req: &HttpRequest, payload: web::Payload) -> Result<Value, AuthFiError> {
    let bytes = read_limited(req, payload)
        .await
        .map_err(|e| AuthFiError::parameters(e.to_string()))?;
    json_object(&bytes).map_err(AuthFiError::parameters)
}

/// Runs an engine call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AuthFiError> + Send + 'static,
) -> Result<T, AuthFiError> {
    web::block(f).await.map_err(|_| {
        AuthFiError::of_engine(
            crate::engine::EngineError::Internal("blocking task failed".into()),
            Stage::Other,
        )
    })?
}

fn ok(mut body: Value) -> HttpResponse {
    body["code"] = json!(0);
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

/// An optional string member of `params`, one of `allowed`.
fn choice<T>(
    params: &Value,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, AuthFiError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse(s)
            .map(Some)
            .ok_or_else(|| AuthFiError::parameters(format!("`{name}` may not be \"{s}\""))),
        Some(_) => Err(AuthFiError::parameters(format!(
            "`{name}` must be a string"
        ))),
    }
}

fn object<'a>(value: &'a Value, name: &str) -> Result<&'a Value, AuthFiError> {
    match value.get(name) {
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(AuthFiError::parameters(format!(
            "`{name}` must be an object"
        ))),
        None => Err(AuthFiError::parameters(format!("`{name}` is required"))),
    }
}

fn text<'a>(value: &'a Value, name: &str) -> Result<Option<&'a str>, AuthFiError> {
    match value.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AuthFiError::parameters(format!(
            "`{name}` must be a string"
        ))),
    }
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

async fn registration_begin(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let body = body(&req, p).await?;
    let params = object(&body, "params")?;
    let user = object(params, "user")?;
    let selection = params
        .get("authenticatorSelection")
        .cloned()
        .unwrap_or(Value::Null);
    let request = BackendRegistration {
        name: text(user, "name")?
            .ok_or_else(|| AuthFiError::parameters("`params.user.name` is required"))?
            .to_string(),
        display_name: text(user, "displayName")?.map(str::to_string),
        user_verification: choice(&selection, "userVerification", UserVerification::parse)?,
        resident_key: match choice(&selection, "residentKey", ResidentKey::parse)? {
            Some(rk) => Some(rk),
            None if selection.get("requireResidentKey") == Some(&Value::Bool(true)) => {
                Some(ResidentKey::Required)
            }
            None => None,
        },
        attestation: choice(params, "attestation", Conveyance::parse)?,
        attachment: choice(&selection, "authenticatorAttachment", Attachment::parse)?,
    };
    let engine = e.get_ref().clone();
    let (_, options) = blocking(move || {
        engine
            .backend_registration_begin(&tenant, &cx, Channel::AuthFi, request)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Registration))
    })
    .await?;
    Ok(ok(json!({ "fido_register_request": options })))
}

async fn registration_finish(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let body = body(&req, p).await?;
    let credential = credential(&body, "fido_register_response", Stage::Registration)?;
    let engine = e.get_ref().clone();
    let done = blocking(move || {
        engine
            .backend_registration_finish(&tenant, &cx, Channel::AuthFi, &credential)
            .map_err(|e| AuthFiError::of_ceremony(e, Stage::Registration))
    })
    .await?;
    Ok(ok(verified(&done)))
}

async fn login_begin(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    assertion_begin(req, e, p, BackendAssertion::Login).await
}

async fn verification_begin(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    assertion_begin(req, e, p, BackendAssertion::Verification).await
}

async fn assertion_begin(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
    kind: BackendAssertion,
) -> Reply {
    let Caller { tenant, .. } = authfi_caller(&req, &e)?;
    let body = body(&req, p).await?;
    let params = body.get("params").cloned().unwrap_or(Value::Null);
    let uv = choice(&params, "userVerification", UserVerification::parse)?;
    let user = match kind {
        BackendAssertion::Login => None,
        BackendAssertion::Verification => Some(
            text(&body, "uId")?
                .filter(|u| !u.is_empty())
                .ok_or_else(|| AuthFiError::parameters("`uId` is required: the user to verify"))?
                .to_string(),
        ),
    };
    let engine = e.get_ref().clone();
    let (_, mut options) = blocking(move || {
        engine
            .backend_assertion_begin(&tenant, Channel::AuthFi, kind, user.as_deref(), uv)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Assertion))
    })
    .await?;
    // AuthFi always names the allowed credentials, an empty list for a usernameless login.
    if options.get("allowCredentials").is_none() {
        options["allowCredentials"] = json!([]);
    }
    let member = match kind {
        BackendAssertion::Login => "fido_login_request",
        BackendAssertion::Verification => "fido_auth_request",
    };
    Ok(ok(json!({ member: options })))
}

async fn login_finish(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    assertion_finish(req, e, p, BackendAssertion::Login, "fido_login_response").await
}

async fn verification_finish(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    assertion_finish(
        req,
        e,
        p,
        BackendAssertion::Verification,
        "fido_auth_response",
    )
    .await
}

async fn assertion_finish(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
    kind: BackendAssertion,
    member: &'static str,
) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let body = body(&req, p).await?;
    let credential = credential(&body, member, Stage::Assertion)?;
    let engine = e.get_ref().clone();
    let done = blocking(move || {
        engine
            .backend_assertion_finish(&tenant, &cx, Channel::AuthFi, kind, &credential)
            .map_err(|e| AuthFiError::of_ceremony(e, Stage::Assertion))
    })
    .await?;
    Ok(ok(verified(&done)))
}

/// `?page=N&size=M`: page from 1, size 20–100 (default 1 and 20).
fn paging(req: &HttpRequest) -> Result<(usize, usize), AuthFiError> {
    let mut page = 1usize;
    let mut size = 20usize;
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        let n = || {
            v.parse::<usize>()
                .map_err(|_| AuthFiError::parameters(format!("`{k}` must be a whole number")))
        };
        match k.as_ref() {
            "page" => page = n()?,
            "size" => size = n()?,
            _ => {}
        }
    }
    if !(1..=100_000).contains(&page) {
        return Err(AuthFiError::parameters("`page` counts from 1"));
    }
    if !(20..=100).contains(&size) {
        return Err(AuthFiError::parameters("`size` must be from 20 to 100"));
    }
    Ok((page, size))
}

async fn list_users(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, .. } = authfi_caller(&req, &e)?;
    let (page, size) = paging(&req)?;
    let engine = e.get_ref().clone();
    let listed = blocking(move || {
        engine
            .backend_users(&tenant, page, size)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(json!({
        "users": listed.users.iter().map(user_json).collect::<Vec<_>>(),
        "page": listed.page,
        "size": listed.size,
        "has_more": listed.has_more,
    })))
}

fn uid(req: &HttpRequest) -> String {
    req.match_info().get("uid").unwrap_or_default().to_string()
}

async fn get_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, .. } = authfi_caller(&req, &e)?;
    let uid = uid(&req);
    let engine = e.get_ref().clone();
    let user = blocking(move || {
        engine
            .find_user(&tenant, &uid)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(
        json!({ "user": user_json(&crate::engine::UserView::of(&user)) }),
    ))
}

async fn update_user(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    let Caller { tenant, .. } = authfi_caller(&req, &e)?;
    let body = body(&req, p).await?;
    let display_name = text(&body, "displayName")?
        .ok_or_else(|| AuthFiError::parameters("`displayName` is required"))?
        .to_string();
    let uid = uid(&req);
    let engine = e.get_ref().clone();
    let user = blocking(move || {
        engine
            .backend_rename_user(&tenant, &uid, &display_name)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(json!({ "user": user_json(&user) })))
}

async fn delete_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let uid = uid(&req);
    let engine = e.get_ref().clone();
    blocking(move || {
        engine
            .backend_delete_user(&tenant, &cx, &uid)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(json!({})))
}

async fn list_keys(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, .. } = authfi_caller(&req, &e)?;
    let uid = uid(&req);
    let engine = e.get_ref().clone();
    let (_, keys) = blocking(move || {
        engine
            .backend_keys(&tenant, &uid)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(
        json!({ "keys": keys.iter().map(key_info).collect::<Vec<_>>() }),
    ))
}

async fn update_key(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let body = body(&req, p).await?;
    let name = text(&body, "name")?.map(str::to_string);
    let enabled = match body.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(AuthFiError::parameters("`enabled` must be true or false")),
    };
    if name.is_none() && enabled.is_none() {
        return Err(AuthFiError::parameters("send `name` or `enabled`"));
    }
    let uid = uid(&req);
    let id = req
        .match_info()
        .get("credential_id")
        .unwrap_or_default()
        .to_string();
    let engine = e.get_ref().clone();
    let key = blocking(move || {
        engine
            .backend_update_key(&tenant, &cx, &uid, &id, name.as_deref(), enabled)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(json!({ "key_info": key_info(&key) })))
}

async fn delete_key(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let uid = uid(&req);
    let id = req
        .match_info()
        .get("credential_id")
        .unwrap_or_default()
        .to_string();
    let engine = e.get_ref().clone();
    blocking(move || {
        engine
            .backend_delete_key(&tenant, &cx, &uid, &id)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(json!({})))
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
