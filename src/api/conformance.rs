//! The FIDO2 conformance-tool transport API under `/{access_path}/`: `attestation/options`,
//! `attestation/result`, `assertion/options`, `assertion/result`, with the
//! `ServerPublicKeyCredential…` shapes and `{"status": "ok"|"failed", "errorMessage"}` of the FIDO
//! Alliance's "FIDO2 Conformance Test Tools — server API". Only tenants with `conformance = true`
//! answer here, and they take no key (the tool sends none). Imports `engine` and `api::backend`.

use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::backend::{caller, json_object, Caller};
use super::extract::{optional_choice, optional_str, read_limited};
use super::openapi;
use super::routes::{op, Table};
use super::schema::conformance as s;
use crate::engine::{
    Attachment, BackendAssertion, BackendRegistration, CeremonyError, Channel, Conveyance, Engine,
    EngineError, ResidentKey, UserVerification,
};

pub fn routes(cfg: &mut ServiceConfig) {
    table().register(cfg);
}

/// The routes, each documented by its handler's `#[utoipa::path]`. Resources, not a scope: a
/// scope on `/{access_path}` would take every path's first segment and answer 404 for the pages
/// and assets registered after it.
pub fn table() -> Table {
    Table::root(|path| web::resource(path))
        .shared(openapi::conformance_operation)
        .at(
            "/{access_path}/attestation/options",
            [op!(post, attestation_options)],
        )
        .at(
            "/{access_path}/attestation/result",
            [op!(post, attestation_result)],
        )
        .at(
            "/{access_path}/assertion/options",
            [op!(post, assertion_options)],
        )
        .at(
            "/{access_path}/assertion/result",
            [op!(post, assertion_result)],
        )
}

/// `{"status": "failed", "errorMessage": …}` with a 4xx status (5xx when the server failed).
struct Failed(StatusCode, String);

impl From<EngineError> for Failed {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Storage(_) | EngineError::Internal(_) => {
                tracing::error!(error = ?e, "conformance call failed");
                Failed(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the server could not complete the call".into(),
                )
            }
            EngineError::UserNotFound(_) => Failed(StatusCode::NOT_FOUND, e.to_string()),
            e => Failed(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
}

impl From<CeremonyError> for Failed {
    fn from(e: CeremonyError) -> Self {
        match e {
            CeremonyError::Engine(e) => e.into(),
            CeremonyError::Refused(r) => Failed(StatusCode::BAD_REQUEST, r.detail),
        }
    }
}

fn answer(result: Result<Value, Failed>) -> HttpResponse {
    match result {
        Ok(mut body) => {
            body["status"] = json!("ok");
            body["errorMessage"] = json!("");
            HttpResponse::Ok()
                .insert_header(("cache-control", "no-store"))
                .json(body)
        }
        Err(Failed(status, message)) => HttpResponse::build(status)
            .insert_header(("cache-control", "no-store"))
            .json(json!({ "status": "failed", "errorMessage": message })),
    }
}

async fn call(
    req: HttpRequest,
    engine: web::Data<Engine>,
    payload: web::Payload,
    run: impl FnOnce(&Engine, Caller, Value) -> Result<Value, Failed> + Send + 'static,
) -> HttpResponse {
    let access_path = req
        .match_info()
        .get("access_path")
        .unwrap_or_default()
        .to_string();
    let caller = match caller(&req, &engine, &access_path, None, |t| t.conformance) {
        Ok(c) => c,
        Err(_) => {
            return answer(Err(Failed(
                StatusCode::NOT_FOUND,
                "no conformance tenant is served under this path".into(),
            )))
        }
    };
    let body = match read_limited(&req, payload).await {
        Ok(bytes) => json_object(&bytes),
        Err(e) => Err(e.to_string()),
    };
    let body = match body {
        Ok(b) => b,
        Err(message) => return answer(Err(Failed(StatusCode::BAD_REQUEST, message))),
    };
    let engine = engine.get_ref().clone();
    let result = web::block(move || run(&engine, caller, body)).await;
    answer(result.unwrap_or_else(|_| {
        Err(Failed(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not complete the call".into(),
        ))
    }))
}

fn string<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, Failed> {
    optional_str(body, name).map_err(|e| Failed(StatusCode::BAD_REQUEST, e))
}

/// As `optional_choice`, with an empty string taken as absent (the tool sends `""`).
fn choice<T>(
    body: &Value,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, Failed> {
    if string(body, name)? == Some("") {
        return Ok(None);
    }
    optional_choice(body, name, parse).map_err(|e| Failed(StatusCode::BAD_REQUEST, e))
}

/// The request's `extensions`: the tool sends e.g. `{"example.extension": true}` and looks for
/// it in the answer's `AuthenticationExtensionsClientInputs`.
fn extensions(body: &Value) -> Result<serde_json::Map<String, Value>, Failed> {
    match body.get("extensions") {
        None | Some(Value::Null) => Ok(Default::default()),
        Some(Value::Object(asked)) => Ok(asked.clone()),
        Some(_) => Err(Failed(
            StatusCode::BAD_REQUEST,
            "`extensions` must be an object".into(),
        )),
    }
}

/// The options as the tool expects them: `PublicKeyCredential…OptionsJSON` members at the top,
/// with the extensions the request asked for added to the server's own.
fn flatten(options: Value, asked: serde_json::Map<String, Value>) -> Value {
    let mut options = match options {
        Value::Object(_) => options,
        _ => json!({}),
    };
    if !asked.is_empty() {
        if !options["extensions"].is_object() {
            options["extensions"] = json!({});
        }
        if let Some(own) = options["extensions"].as_object_mut() {
            for (name, input) in asked {
                own.entry(name).or_insert(input);
            }
        }
    }
    options
}

#[utoipa::path(
    post,
    path = "/{access_path}/attestation/options",
    summary = "Begin a registration",
    request_body = s::ServerPublicKeyCredentialCreationOptionsRequest,
    responses(
        (status = 200, description = "`ok` with the creation options", body = s::ServerPublicKeyCredentialCreationOptionsResponse),
    )
)]
async fn attestation_options(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> HttpResponse {
    call(req, e, p, |engine, Caller { tenant, cx }, body| {
        let selection = body
            .get("authenticatorSelection")
            .cloned()
            .unwrap_or(Value::Null);
        let resident_key = match choice(&selection, "residentKey", ResidentKey::parse)? {
            Some(rk) => Some(rk),
            None if selection.get("requireResidentKey") == Some(&Value::Bool(true)) => {
                Some(ResidentKey::Required)
            }
            None => None,
        };
        let asked = extensions(&body)?;
        let request = BackendRegistration {
            name: string(&body, "username")?
                .ok_or_else(|| Failed(StatusCode::BAD_REQUEST, "`username` is required".into()))?
                .to_string(),
            display_name: string(&body, "displayName")?.map(str::to_string),
            user_verification: choice(&selection, "userVerification", UserVerification::parse)?,
            resident_key,
            attestation: choice(&body, "attestation", Conveyance::parse)?,
            attachment: choice(&selection, "authenticatorAttachment", Attachment::parse)?,
        };
        let (_, options) =
            engine.backend_registration_begin(&tenant, &cx, Channel::Conformance, request)?;
        Ok(flatten(options, asked))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/{access_path}/attestation/result",
    summary = "Finish a registration",
    request_body = s::ServerPublicKeyCredential,
    responses((status = 200, description = "`ok`: registered", body = s::ServerResponse))
)]
async fn attestation_result(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> HttpResponse {
    call(req, e, p, |engine, Caller { tenant, cx }, body| {
        engine.backend_registration_finish(&tenant, &cx, Channel::Conformance, &body)?;
        Ok(json!({}))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/{access_path}/assertion/options",
    summary = "Begin an assertion",
    request_body = s::ServerPublicKeyCredentialGetOptionsRequest,
    responses(
        (status = 200, description = "`ok` with the request options", body = s::ServerPublicKeyCredentialGetOptionsResponse),
    )
)]
async fn assertion_options(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> HttpResponse {
    call(req, e, p, |engine, Caller { tenant, .. }, body| {
        let username = string(&body, "username")?
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        let uv = choice(&body, "userVerification", UserVerification::parse)?;
        let asked = extensions(&body)?;
        let kind = match username {
            Some(_) => BackendAssertion::Verification,
            None => BackendAssertion::Login,
        };
        let (_, options) = engine.backend_assertion_begin(
            &tenant,
            Channel::Conformance,
            kind,
            username.as_deref(),
            uv,
        )?;
        Ok(flatten(options, asked))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/{access_path}/assertion/result",
    summary = "Finish an assertion",
    request_body = s::ServerPublicKeyCredential,
    responses((status = 200, description = "`ok`: verified", body = s::ServerResponse))
)]
async fn assertion_result(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> HttpResponse {
    call(req, e, p, |engine, Caller { tenant, cx }, body| {
        // Usernameless and named assertions are both in flight; the challenge says which.
        let result = engine.backend_assertion_finish(
            &tenant,
            &cx,
            Channel::Conformance,
            BackendAssertion::Verification,
            &body,
        );
        match result {
            Err(CeremonyError::Refused(r)) if r.kind == crate::engine::RefusalKind::Spent => {
                engine.backend_assertion_finish(
                    &tenant,
                    &cx,
                    Channel::Conformance,
                    BackendAssertion::Login,
                    &body,
                )?;
            }
            other => {
                other?;
            }
        }
        Ok(json!({}))
    })
    .await
}
