//! The ceremony calls: `webauthn/registration`, `webauthn/login` and `webauthn/verification`,
//! each begun with a POST and finished with a PUT.

use actix_web::{web, HttpRequest};
use serde_json::{json, Value};

use super::error::{AuthFiError, Stage};
use super::render::verified;
use super::{authfi_caller, body, call, choice, credential, object, ok, s, text, Reply};
use crate::api::backend::Caller;
use crate::engine::{
    Attachment, BackendAssertion, BackendRegistration, Channel, Conveyance, Engine, ResidentKey,
    UserVerification,
};

#[utoipa::path(
    post,
    path = "/{access_path}/api/v1/webauthn/registration",
    operation_id = "authfi_registration_begin",
    summary = "Begin a registration",
    description = "Makes the user on first use.",
    request_body = s::RegistrationRequest,
    responses(
        (status = 200, description = "Creation options", body = s::RegistrationOptions),
        (status = 400, description = "`1002`", body = s::AuthFiError),
        (status = 409, description = "`3001`: the user has as many keys as allowed", body = s::AuthFiError),
    )
)]
pub(super) async fn registration_begin(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> Reply {
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
    let (_, options) = call(move || {
        engine
            .backend_registration_begin(&tenant, &cx, Channel::AuthFi, request)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Registration))
    })
    .await?;
    Ok(ok(json!({ "fido_register_request": options })))
}

#[utoipa::path(
    put,
    path = "/{access_path}/api/v1/webauthn/registration",
    operation_id = "authfi_registration_finish",
    summary = "Finish a registration",
    request_body = s::RegistrationResponse,
    responses(
        (status = 200, description = "The user and the new key", body = s::Verified),
        (status = 400, description = "`3100`, `3200`, `3300`, `3400`, `3403`, `3404`", body = s::AuthFiError),
        (status = 403, description = "`2000`, `3401`", body = s::AuthFiError),
        (status = 409, description = "`3001`, `3402`", body = s::AuthFiError),
    )
)]
pub(super) async fn registration_finish(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let body = body(&req, p).await?;
    let credential = credential(&body, "fido_register_response", Stage::Registration)?;
    let engine = e.get_ref().clone();
    let done = call(move || {
        engine
            .backend_registration_finish(&tenant, &cx, Channel::AuthFi, &credential)
            .map_err(|e| AuthFiError::of_ceremony(e, Stage::Registration))
    })
    .await?;
    Ok(ok(verified(&done)))
}

#[utoipa::path(
    post,
    path = "/{access_path}/api/v1/webauthn/login",
    operation_id = "authfi_login_begin",
    summary = "Begin a usernameless login",
    request_body = s::LoginRequest,
    responses(
        (status = 200, description = "Request options with `allowCredentials: []`", body = s::LoginOptions),
        (status = 400, description = "`1002`", body = s::AuthFiError),
    )
)]
pub(super) async fn login_begin(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    assertion_begin(req, e, p, BackendAssertion::Login).await
}

#[utoipa::path(
    post,
    path = "/{access_path}/api/v1/webauthn/verification",
    operation_id = "authfi_verification_begin",
    summary = "Begin a verification (second factor) of one user",
    request_body = s::VerificationRequest,
    responses(
        (status = 200, description = "Request options with the user's enabled keys", body = s::VerificationOptions),
        (status = 400, description = "`1002`", body = s::AuthFiError),
        (status = 403, description = "`4206`: the user has no enabled key", body = s::AuthFiError),
    )
)]
pub(super) async fn verification_begin(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> Reply {
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
    let (_, mut options) = call(move || {
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

#[utoipa::path(
    put,
    path = "/{access_path}/api/v1/webauthn/login",
    operation_id = "authfi_login_finish",
    summary = "Finish a login",
    request_body = s::LoginResponse,
    responses(
        (status = 200, description = "The user and the key", body = s::Verified),
        (status = 400, description = "`4100`, `4200`, `4201`, `4204`, `4205`", body = s::AuthFiError),
        (status = 403, description = "`2000`, `4202`, `4203`", body = s::AuthFiError),
    )
)]
pub(super) async fn login_finish(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    assertion_finish(req, e, p, BackendAssertion::Login, "fido_login_response").await
}

#[utoipa::path(
    put,
    path = "/{access_path}/api/v1/webauthn/verification",
    operation_id = "authfi_verification_finish",
    summary = "Finish a verification",
    request_body = s::VerificationResponse,
    responses(
        (status = 200, description = "The user and the key", body = s::Verified),
        (status = 400, description = "`4100`, `4200`, `4201`, `4204`, `4205`", body = s::AuthFiError),
        (status = 403, description = "`2000`, `4202`, `4203`", body = s::AuthFiError),
    )
)]
pub(super) async fn verification_finish(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> Reply {
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
    let done = call(move || {
        engine
            .backend_assertion_finish(&tenant, &cx, Channel::AuthFi, kind, &credential)
            .map_err(|e| AuthFiError::of_ceremony(e, Stage::Assertion))
    })
    .await?;
    Ok(ok(verified(&done)))
}
