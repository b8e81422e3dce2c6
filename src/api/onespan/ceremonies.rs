//! The ceremony calls: a registration request and its device, an authentication request (a
//! login, or a transaction or payment to approve), the login, and the transaction's validation.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use serde_json::{json, Map, Value};

use super::error::OneSpanError;
use super::render::authenticator;
use super::{
    answer, body, call, choice, fido_message, object_type, onespan_caller, protocol, required_text,
    s, text, user_path, Protocol, Reply,
};
use crate::api::backend::Caller;
use crate::engine::{
    self as transaction, Attachment, Channel, Conveyance, Engine, RequestedAuthentication,
    RequestedRegistration, ResidentKey, SignedContent, UserVerification,
};

#[utoipa::path(
    post,
    path = "/{access_path}/v1/users/{user}/generate-fido-registration-request",
    operation_id = "onespan_registration_request",
    summary = "Ask for a registration request",
    params(s::OneSpanUserPath),
    request_body = s::GenerateRegistration,
    responses((status = 200, description = "The creation options and the requestID", body = s::RegistrationRequestAnswer))
)]
pub(super) async fn registration_request(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> Reply {
    let Caller { tenant, cx } = onespan_caller(&req, &e)?;
    let (name, _) = user_path(&req, &tenant)?;
    let (body, _) = body(&req, p).await?;
    if protocol(&body)? == Protocol::Uaf11 {
        return super::uaf::registration_request(e, tenant, cx, name).await;
    }
    let request = RequestedRegistration {
        user_verification: choice(&body, "userVerification", UserVerification::parse)?,
        resident_key: choice(&body, "residentKey", ResidentKey::parse)?,
        attestation: choice(&body, "attestation", Conveyance::parse)?,
        attachment: choice(&body, "authenticatorAttachment", Attachment::parse)?,
        display_name: text(&body, "displayName")?.map(str::to_string),
        payment: crate::api::extract::optional_bool(&body, "payment")
            .map_err(|e| OneSpanError::field("payment", e))?
            .unwrap_or(false),
    };
    let engine = e.get_ref().clone();
    let requested = call(move || {
        engine
            .request_registration(&tenant, Channel::OneSpan, &name, request)
            .map_err(OneSpanError::of_engine)
    })
    .await?;
    Ok(answer(
        StatusCode::OK,
        json!({
            "registrationRequest": requested.options.to_string(),
            "requestID": requested.request_id,
            "uafStatusCode": null,
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/{access_path}/v1/users/{user}/register-fido-device",
    operation_id = "onespan_register_device",
    summary = "Register the authenticator of a registration request",
    params(s::OneSpanUserPath),
    request_body = s::RegisterDevice,
    responses((status = 200, description = "The registered authenticator", body = s::Authenticator))
)]
pub(super) async fn register_device(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> Reply {
    let Caller { tenant, cx } = onespan_caller(&req, &e)?;
    let (name, _) = user_path(&req, &tenant)?;
    let (body, _) = body(&req, p).await?;
    object_type(&body, "FIDORegistrationInput")?;
    let credential = fido_message(body.get("registrationResponse"), "registrationResponse")?;
    let request_id = required_text(&body, "requestID")?.to_string();
    if credential.is_array() {
        return super::uaf::register_device(e, tenant, cx, name, request_id, credential).await;
    }
    let engine = e.get_ref().clone();
    let key = call(move || {
        engine
            .finish_requested_registration(
                &tenant,
                &cx,
                Channel::OneSpan,
                &name,
                &request_id,
                &credential,
            )
            .map_err(OneSpanError::of_ceremony)
    })
    .await?;
    Ok(answer(StatusCode::OK, authenticator(&key)))
}

#[utoipa::path(
    post,
    path = "/{access_path}/v1/users/{user}/generate-fido-authentication-request",
    operation_id = "onespan_authentication_request",
    summary = "Ask for an authentication request: a login, or a transaction or payment to approve",
    description = "With `transaction`, `authenticationMessage` or `payment` the challenge is \
        SHA-256(nonce ‖ SHA-256(JCS of what the user approves)) and user verification is \
        required; `transactions/validate` finishes it. Without them, `login` does.",
    params(s::OneSpanUserPath),
    request_body = s::GenerateAuthentication,
    responses((status = 200, description = "The request options and the requestID", body = s::AuthenticationRequestAnswer))
)]
pub(super) async fn authentication_request(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> Reply {
    let Caller { tenant, .. } = onespan_caller(&req, &e)?;
    let (name, _) = user_path(&req, &tenant)?;
    let (body, raw) = body(&req, p).await?;
    if protocol(&body)? == Protocol::Uaf11 {
        return super::uaf::authentication_request(e, tenant, name, &body).await;
    }
    // serde_json keeps the last of two members of one name: a doubled "amount" must not pass.
    transaction::refuse_duplicate_members(&raw)
        .map_err(|e| OneSpanError::field(e.field, e.message))?;
    let (content, merchant_origin) = signed_content(&body)?;
    let request = RequestedAuthentication {
        user_verification: choice(&body, "userVerification", UserVerification::parse)?,
        content,
        merchant_origin,
    };
    let payment = request.content.payment.clone();
    let engine = e.get_ref().clone();
    let requested = call(move || {
        engine
            .request_authentication(&tenant, Channel::OneSpan, &name, request)
            .map_err(OneSpanError::of_engine)
    })
    .await?;
    let mut out = json!({
        "authenticationRequest": requested.options.to_string(),
        "requestID": requested.request_id,
        "uafStatusCode": null,
    });
    if let Some(details) = payment {
        out["paymentRequest"] = json!(payment_request(&requested.options, &details).to_string());
    }
    Ok(answer(StatusCode::OK, out))
}

/// What the user approves: `authenticationMessage`, `transaction` and `payment` (with its
/// `merchantOrigin` taken apart), each checked.
fn signed_content(body: &Value) -> Result<(SignedContent, Option<String>), OneSpanError> {
    let field = |e: transaction::ContentError| OneSpanError::field(e.field, e.message);
    let message = text(body, "authenticationMessage")?.map(str::to_string);
    if let Some(m) = &message {
        transaction::check_message(m).map_err(field)?;
    }
    let transaction = match body.get("transaction") {
        None | Some(Value::Null) => None,
        Some(t) => {
            transaction::check_transaction(t).map_err(field)?;
            Some(t.clone())
        }
    };
    let (payment, merchant_origin) = match body.get("payment") {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(p)) => {
            let mut details: Map<String, Value> = p.clone();
            let origin = match details.remove("merchantOrigin") {
                Some(Value::String(o)) if is_web_origin(&o) => o,
                _ => {
                    return Err(OneSpanError::field(
                        "payment.merchantOrigin",
                        "is required: the origin of the merchant page that runs the payment (https://shop.example)",
                    ))
                }
            };
            let checked = transaction::check_payment_details(&Value::Object(details))
                .map_err(|(f, m)| OneSpanError::field(f, m))?;
            (Some(checked), Some(origin))
        }
        Some(_) => return Err(OneSpanError::field("payment", "must be an object")),
    };
    Ok((
        SignedContent {
            authentication_message: message,
            transaction,
            payment,
        },
        merchant_origin,
    ))
}

/// An `https` origin, or `http://localhost[:port]` for development.
fn is_web_origin(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    let secure =
        url.scheme() == "https" || (url.scheme() == "http" && url.host_str() == Some("localhost"));
    secure && url.origin().ascii_serialization() == text
}

/// The `PaymentRequest` method data and total a merchant page passes to the browser for a
/// Secure Payment Confirmation of these request options.
fn payment_request(options: &Value, details: &Value) -> Value {
    let ids: Vec<Value> = options["allowCredentials"]
        .as_array()
        .map(|list| list.iter().map(|d| d["id"].clone()).collect())
        .unwrap_or_default();
    let mut data = json!({
        "rpId": options["rpId"],
        "credentialIds": ids,
        "challenge": options["challenge"],
        "instrument": details["instrument"],
        "timeout": options["timeout"],
    });
    for member in ["payeeName", "payeeOrigin"] {
        if let Some(v) = details.get(member) {
            data[member] = v.clone();
        }
    }
    json!({
        "methodData": [{"supportedMethods": "secure-payment-confirmation", "data": data}],
        "details": {"total": {"label": "Total", "amount": details["total"]}},
    })
}

#[utoipa::path(
    post,
    path = "/{access_path}/v1/users/{user}/login",
    operation_id = "onespan_login",
    summary = "Finish a login",
    params(s::OneSpanUserPath),
    request_body = s::LoginInput,
    responses((status = 200, description = "Who signed in, with which authenticator", body = s::LoginAnswer))
)]
pub(super) async fn login(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    let Caller { tenant, cx } = onespan_caller(&req, &e)?;
    let (name, domain) = user_path(&req, &tenant)?;
    let (body, _) = body(&req, p).await?;
    object_type(&body, "LoginInput")?;
    let response = body
        .get("credentials")
        .and_then(|c| c.get("fidoAuthenticator"))
        .and_then(|f| f.get("authenticationResponse"));
    let credential = fido_message(
        response,
        "credentials.fidoAuthenticator.authenticationResponse",
    )?;
    let request_id = required_text(&body, "requestID")?.to_string();
    if credential.is_array() {
        return super::uaf::login(e, tenant, cx, (name, domain), request_id, credential).await;
    }
    let engine = e.get_ref().clone();
    let done = call(move || {
        engine
            .finish_requested_login(
                &tenant,
                &cx,
                Channel::OneSpan,
                &name,
                &request_id,
                &credential,
            )
            .map_err(OneSpanError::of_ceremony)
    })
    .await?;
    Ok(answer(
        StatusCode::OK,
        json!({"result": {
            "userID": done.user.name,
            "domain": domain,
            "authenticatorID": done.key.credential_id,
            "userVerified": done.user_verified,
            "signCount": done.key.sign_count,
        }}),
    ))
}

#[utoipa::path(
    post,
    path = "/{access_path}/v1/users/{user}/transactions/validate",
    operation_id = "onespan_validate_transaction",
    summary = "Validate a signed transaction",
    description = "Verifies the assertion (user verification required), derives the challenge \
        again from the stored transaction, and answers the signed evidence, which is stored too.",
    params(s::OneSpanUserPath),
    request_body = s::TransactionValidationInput,
    responses((status = 200, description = "Approved, with its evidence", body = s::TransactionAnswer))
)]
pub(super) async fn validate_transaction(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> Reply {
    let Caller { tenant, cx } = onespan_caller(&req, &e)?;
    let (name, _) = user_path(&req, &tenant)?;
    let (body, _) = body(&req, p).await?;
    object_type(&body, "TransactionValidationInput")?;
    let fido = body
        .get("data")
        .and_then(|d| d.get("fido"))
        .filter(|f| f.is_object())
        .ok_or_else(|| OneSpanError::field("data.fido", "is required"))?;
    let credential = fido_message(
        fido.get("authenticationResponse"),
        "data.fido.authenticationResponse",
    )?;
    let request_id = fido
        .get("requestID")
        .and_then(Value::as_str)
        .ok_or_else(|| OneSpanError::field("data.fido.requestID", "is required"))?
        .to_string();
    if credential.is_array() {
        return super::uaf::validate(e, tenant, cx, name, request_id, credential).await;
    }
    let engine = e.get_ref().clone();
    let validated = call(move || {
        engine
            .validate_transaction(
                &tenant,
                &cx,
                Channel::OneSpan,
                &name,
                &request_id,
                &credential,
            )
            .map_err(OneSpanError::of_ceremony)
    })
    .await?;
    Ok(answer(
        StatusCode::OK,
        json!({"result": {
            "transactionID": validated.transaction_id,
            "status": "APPROVED",
            "evidence": validated.evidence,
        }}),
    ))
}
