//! `fidoProtocol: "UAF11"` in the OneSpan shape: the registration and authentication requests
//! carry the stringified UAF request message (`authenticationMessage` becomes a `text/plain`
//! transaction the authenticator shows), `register-fido-device`, `login` and
//! `transactions/validate` take the stringified UAF response, and the `requestID` names the
//! request its `serverData` does.

use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::{json, Value};

use super::error::OneSpanError;
use super::render::authenticator;
use super::{answer, call, text, Reply};
use crate::engine::{
    Engine, RequestCtx, Tenant, UafDone, UafExpected, UafRefusal, UafRequest, UafStatus,
    UafTransaction,
};

/// A UAF refusal as a OneSpan error: 404 for what is not found, 403 for a lock or a limit,
/// 400 otherwise; the message names the check and the UAF status code.
fn refused(e: UafRefusal) -> OneSpanError {
    let status = match e.status {
        UafStatus::NotFound => StatusCode::NOT_FOUND,
        UafStatus::Forbidden => StatusCode::FORBIDDEN,
        UafStatus::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    OneSpanError::new(
        status,
        format!(
            "refused ({}, UAF status {}): {}",
            e.check,
            e.status.code(),
            e.detail
        ),
    )
}

fn requested(kind: &str, r: UafRequest, name: &str) -> Reply {
    Ok(answer(
        StatusCode::OK,
        json!({
            name: r.message.to_string(),
            "requestID": format!("{kind}:{}", r.id),
            "uafStatusCode": UafStatus::Ok.code(),
        }),
    ))
}

/// The id a `requestID` of `kind` names.
fn request_id<'a>(kind: &str, request_id: &'a str) -> Result<&'a str, OneSpanError> {
    request_id
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix(':'))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            OneSpanError::field(
                "requestID",
                format!("must be the \"{kind}:…\" requestID this user was given"),
            )
        })
}

pub(super) async fn registration_request(
    e: web::Data<Engine>,
    tenant: std::sync::Arc<Tenant>,
    cx: RequestCtx,
    name: String,
) -> Reply {
    let engine = e.get_ref().clone();
    let r = call(move || {
        engine
            .uaf_registration_request(&tenant, &cx, &name)
            .map_err(refused)
    })
    .await?;
    requested("registration", r, "registrationRequest")
}

pub(super) async fn register_device(
    e: web::Data<Engine>,
    tenant: std::sync::Arc<Tenant>,
    cx: RequestCtx,
    name: String,
    request: String,
    message: Value,
) -> Reply {
    let id = request_id("registration", &request)?.to_string();
    let engine = e.get_ref().clone();
    let done = call(move || {
        let expected = UafExpected {
            username: &name,
            id: &id,
            transaction: false,
        };
        engine
            .uaf_registration_response(&tenant, &cx, &message, Some(expected))
            .map_err(refused)
    })
    .await?;
    Ok(answer(StatusCode::OK, authenticator(&done.key)))
}

pub(super) async fn authentication_request(
    e: web::Data<Engine>,
    tenant: std::sync::Arc<Tenant>,
    name: String,
    body: &Value,
) -> Reply {
    for member in ["transaction", "payment"] {
        if body.get(member).is_some_and(|v| !v.is_null()) {
            return Err(OneSpanError::field(
                member,
                "a UAF authenticator confirms text/plain: send the text as authenticationMessage",
            ));
        }
    }
    let message = text(body, "authenticationMessage")?.map(str::to_owned);
    let engine = e.get_ref().clone();
    let r = call(move || {
        engine
            .uaf_authentication_request(
                &tenant,
                &name,
                &UafTransaction {
                    text: message,
                    png: None,
                },
            )
            .map_err(refused)
    })
    .await?;
    requested("authentication", r, "authenticationRequest")
}

pub(super) async fn login(
    e: web::Data<Engine>,
    tenant: std::sync::Arc<Tenant>,
    cx: RequestCtx,
    (name, domain): (String, String),
    request: String,
    message: Value,
) -> Reply {
    let done = authenticated(e, tenant, cx, name, request, message, false).await?;
    Ok(answer(
        StatusCode::OK,
        json!({"result": {
            "userID": done.username,
            "domain": domain,
            "authenticatorID": done.key.credential_id,
            "userVerified": true,
            "signCount": done.key.sign_count,
        }}),
    ))
}

pub(super) async fn validate(
    e: web::Data<Engine>,
    tenant: std::sync::Arc<Tenant>,
    cx: RequestCtx,
    name: String,
    request: String,
    message: Value,
) -> Reply {
    let done = authenticated(e, tenant, cx, name, request, message, true).await?;
    let (transaction_id, evidence) = done.evidence.unwrap_or_default();
    Ok(answer(
        StatusCode::OK,
        json!({"result": {"transactionID": transaction_id, "status": "APPROVED", "evidence": evidence}}),
    ))
}

/// Verifies the UAF authentication response of the request `request` of user `name`: a login
/// (`transaction` false) or a transaction to confirm.
async fn authenticated(
    e: web::Data<Engine>,
    tenant: std::sync::Arc<Tenant>,
    cx: RequestCtx,
    name: String,
    request: String,
    message: Value,
    transaction: bool,
) -> Result<UafDone, OneSpanError> {
    let id = request_id("authentication", &request)?.to_string();
    let engine = e.get_ref().clone();
    call(move || {
        let expected = UafExpected {
            username: &name,
            id: &id,
            transaction,
        };
        engine
            .uaf_authentication_response(&tenant, &cx, &message, Some(expected))
            .map_err(refused)
    })
    .await
}
