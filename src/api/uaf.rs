//! The FIDO UAF 1.1 HTTP transport under a tenant, called by the relying party's backend with the
//! tenant's API key (`Authorization: Bearer <key>`): `…/uaf/1.1/{registration|authentication|
//! deregistration}/request` (`GetUAFRequest` → `ReturnUAFRequest`) and `…/uaf/1.1/{registration|
//! authentication}/response` (`SendUAFResponse` → `ServerResponse`), and, for anyone, the
//! tenant's trusted facets at `…/uaf/facets`. Every answer that carries a UAF `statusCode` is
//! HTTP 200; 401/404 only for a missing or wrong key or an unknown tenant. Imports `engine` and
//! `api::backend` only.

use actix_web::http::StatusCode as Http;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::backend::{caller, json_object, Caller, KeyIn};
use super::extract::read_limited;
use super::openapi;
use super::routes::{op, Table};
use super::schema::uaf as s;
use crate::engine::{
    Engine, UafOp as Op, UafRefusal, UafRequest, UafResult, UafStatus as StatusCode, UafTransaction,
};

pub fn routes(cfg: &mut ServiceConfig) {
    table().register(cfg);
}

/// The routes, each documented by its handler's `#[utoipa::path]`.
pub fn table() -> Table {
    Table::scope("/{access_path}/uaf", |path| web::resource(path))
        .shared(openapi::uaf_operation)
        .at("/facets", [op!(get, facets)])
        .at("/1.1/{operation}/request", [op!(post, request)])
        .at("/1.1/{operation}/response", [op!(post, response)])
}

/// A refusal before the UAF call (unknown tenant, key): the only non-200 answers.
fn refused(status: Http, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store"))
        .json(json!({ "statusCode": if status == Http::UNAUTHORIZED { 1401 } else { 1404 }, "description": message }))
}

fn uaf_caller(req: &HttpRequest, engine: &Engine) -> Result<Caller, Box<HttpResponse>> {
    let access_path = req.match_info().get("access_path").unwrap_or_default();
    caller(req, engine, access_path, Some(KeyIn::Bearer), |t| {
        !t.conformance
    })
    .map_err(|r| {
        use crate::api::backend::Refused;
        Box::new(match r {
            Refused::UnknownTenant => refused(
                Http::NOT_FOUND,
                "no relying party is served under this path",
            ),
            Refused::KeyMissing => refused(
                Http::UNAUTHORIZED,
                "the API key is missing: send it as Authorization: Bearer <key>",
            ),
            Refused::KeyWrong => refused(
                Http::UNAUTHORIZED,
                "the API key is not one of this relying party's keys",
            ),
            Refused::CertificateWrong => {
                refused(Http::UNAUTHORIZED, super::backend::CERTIFICATE_WRONG)
            }
            Refused::Limited(_) => status_answer(&UafRefusal {
                status: StatusCode::Forbidden,
                check: "rateLimit",
                detail: "too many calls with this API key; try again later".into(),
            }),
        })
    })
}

/// An answer that carries a UAF status code (HTTP 200).
fn status_answer(e: &UafRefusal) -> HttpResponse {
    tracing::info!(
        status = e.status.code(),
        check = e.check,
        "UAF call refused"
    );
    answer(json!({
        "statusCode": e.status.code(),
        "description": format!("{} ({}): {}", e.status.description(), e.check, e.detail),
    }))
}

fn answer(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

fn bad(check: &'static str, detail: impl Into<String>) -> UafRefusal {
    UafRefusal {
        status: StatusCode::BadRequest,
        check,
        detail: detail.into(),
    }
}

/// The operation named by the path.
fn operation(req: &HttpRequest) -> Option<Op> {
    match req.match_info().get("operation")? {
        "registration" => Some(Op::Reg),
        "authentication" => Some(Op::Auth),
        "deregistration" => Some(Op::Dereg),
        _ => None,
    }
}

/// Reads the body as a JSON object (`application/fido+uaf` or `application/json`, 64 KiB).
async fn body(req: &HttpRequest, payload: web::Payload) -> UafResult<Value> {
    let bytes = read_limited(req, payload)
        .await
        .map_err(|e| bad("body", e.to_string()))?;
    json_object(&bytes).map_err(|e| bad("body", e))
}

/// Runs an engine call ([`super::backend::durably`]).
async fn call<T>(f: impl FnOnce() -> UafResult<T>) -> UafResult<T> {
    super::backend::durably(f)
        .await
        .map_err(|detail| UafRefusal {
            status: StatusCode::InternalServerError,
            check: "server",
            detail,
        })?
}

#[utoipa::path(
    get,
    path = "/{access_path}/uaf/facets",
    operation_id = "uaf_facets",
    summary = "The tenant's trusted facets",
    description = "The `TrustedFacets` list (`application/fido.trusted-apps+json`) that the \
        tenant's AppID names; read by UAF clients, so it takes no key.",
    responses((status = 200, description = "The trusted facets", body = s::TrustedFacetList))
)]
pub async fn facets(req: HttpRequest, e: web::Data<Engine>) -> HttpResponse {
    let access_path = req.match_info().get("access_path").unwrap_or_default();
    let Some(tenant) = e
        .tenant_by_access_path(access_path)
        .filter(|t| !t.conformance)
    else {
        return refused(
            Http::NOT_FOUND,
            "no relying party is served under this path",
        );
    };
    HttpResponse::Ok()
        .content_type("application/fido.trusted-apps+json")
        .json(json!({"trustedFacets": [{
            "version": {"major": 1, "minor": 1},
            "ids": e.uaf_trusted_facets(&tenant),
        }]}))
}

#[utoipa::path(
    post,
    path = "/{access_path}/uaf/1.1/{operation}/request",
    operation_id = "uaf_request",
    summary = "Get a UAF request (GetUAFRequest)",
    description = "`operation`: `registration`, `authentication` or `deregistration`. `context` \
        is a stringified `{\"username\", \"transactionText\"?, \"transactionImage\"? (base64 \
        PNG) with \"tcDisplayPNGCharacteristics\", \"aaid\"?, \"keyID\"?}`. A \
        deregistration removes the picked keys at once and returns the request that tells \
        the authenticators to forget them.",
    params(s::UafOperation),
    request_body(content = s::GetUafRequest, content_type = "application/fido+uaf"),
    responses((status = 200, description = "`ReturnUAFRequest`, or a `statusCode` refusing it", body = s::ReturnUafRequest))
)]
pub async fn request(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> HttpResponse {
    let Caller { tenant, cx } = match uaf_caller(&req, &e) {
        Ok(c) => c,
        Err(answer) => return *answer,
    };
    let result = async {
        let op =
            operation(&req).ok_or_else(|| bad("operation", "the path names no UAF operation"))?;
        let body = body(&req, p).await?;
        if let Some(named) = body.get("op").and_then(Value::as_str) {
            if named != op.as_str() {
                return Err(bad(
                    "op",
                    format!("`op` says {named}, the path {}", op.as_str()),
                ));
            }
        }
        let context: Value = match body.get("context") {
            Some(Value::String(text)) => serde_json::from_str(text)
                .map_err(|e| bad("context", format!("is not JSON: {e}")))?,
            Some(v @ Value::Object(_)) => v.clone(),
            _ => {
                return Err(bad(
                    "context",
                    "is required: a stringified {\"username\": …}",
                ))
            }
        };
        let text = |name: &'static str| -> UafResult<Option<String>> {
            match context.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(name, format!("`{name}` must be a string"))),
            }
        };
        let username =
            text("username")?.ok_or_else(|| bad("username", "the context names no username"))?;
        let png = match text("transactionImage")? {
            None => None,
            Some(image) => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&image)
                    .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&image))
                    .map_err(|_| bad("transactionImage", "is not base64 of a PNG file"))?;
                let characteristics = context
                    .get("tcDisplayPNGCharacteristics")
                    .filter(|c| c.is_object())
                    .cloned()
                    .ok_or_else(|| {
                        bad(
                            "tcDisplayPNGCharacteristics",
                            "is required with a transactionImage",
                        )
                    })?;
                Some((bytes, characteristics))
            }
        };
        let transaction = UafTransaction {
            text: text("transactionText")?,
            png,
        };
        let aaid = text("aaid")?;
        let key_id = text("keyID")?;
        let engine = e.get_ref().clone();
        call(move || match op {
            Op::Reg => engine.uaf_registration_request(&tenant, &cx, &username),
            Op::Auth => engine.uaf_authentication_request(&tenant, &username, &transaction),
            Op::Dereg => engine.uaf_deregistration_request(
                &tenant,
                &cx,
                &username,
                aaid.as_deref(),
                key_id.as_deref(),
            ),
        })
        .await
    }
    .await;
    match result {
        Ok(UafRequest {
            op,
            message,
            lifetime_millis,
            ..
        }) => answer(json!({
            "statusCode": StatusCode::Ok.code(),
            "uafRequest": message.to_string(),
            "op": op.as_str(),
            "lifetimeMillis": lifetime_millis,
        })),
        Err(e) => status_answer(&e),
    }
}

#[utoipa::path(
    post,
    path = "/{access_path}/uaf/1.1/{operation}/response",
    operation_id = "uaf_response",
    summary = "Send a UAF response (SendUAFResponse)",
    description = "`operation`: `registration` or `authentication`. `uafResponse` is the \
        client's response message (a JSON array) as a string.",
    params(s::UafOperation),
    request_body(content = s::SendUafResponse, content_type = "application/fido+uaf"),
    responses((status = 200, description = "`ServerResponse`: `statusCode` 1200 with the user and key, or the refusal's", body = s::ServerResponse))
)]
pub async fn response(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> HttpResponse {
    let Caller { tenant, cx } = match uaf_caller(&req, &e) {
        Ok(c) => c,
        Err(answer) => return *answer,
    };
    let result = async {
        let op = match operation(&req) {
            Some(op @ (Op::Reg | Op::Auth)) => op,
            _ => {
                return Err(bad(
                    "operation",
                    "responses are sent for registration or authentication",
                ))
            }
        };
        let body = body(&req, p).await?;
        let message: Value = match body.get("uafResponse") {
            Some(Value::String(text)) => serde_json::from_str(text)
                .map_err(|e| bad("uafResponse", format!("is not JSON: {e}")))?,
            Some(v @ Value::Array(_)) => v.clone(),
            _ => {
                return Err(bad(
                    "uafResponse",
                    "is required: the client's response message as a string",
                ))
            }
        };
        let engine = e.get_ref().clone();
        call(move || match op {
            Op::Reg => engine.uaf_registration_response(&tenant, &cx, &message, None),
            _ => engine.uaf_authentication_response(&tenant, &cx, &message, None),
        })
        .await
    }
    .await;
    match result {
        Ok(done) => {
            let mut result =
                json!({"username": done.username, "aaid": done.aaid, "keyID": done.key_id});
            if let Some((id, evidence)) = done.evidence {
                result["transactionID"] = json!(id);
                result["evidence"] = evidence;
            }
            answer(json!({
                "statusCode": StatusCode::Ok.code(),
                "description": StatusCode::Ok.description(),
                "result": result,
            }))
        }
        Err(e) => status_answer(&e),
    }
}
