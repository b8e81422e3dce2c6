//! `/rest/public/user-self-registration`: passkey sign-up.

use actix_session::Session;
use actix_web::{web, HttpRequest};

use super::handlers::{run, Reply};
use super::render::{creation_options, step, SIGNUP_SESSION};
use crate::api::extract::JsonBody;
use crate::api::schema::loginapp as s;
use crate::api::schema::{Document, ErrorDocument};
use crate::engine::Engine;

#[utoipa::path(
    post,
    path = "/rest/public/user-self-registration/{id}/select",
    summary = "Start sign-up",
    description = "`passkey-signup` or another sign-up flow.",
    params(s::IdPath),
    responses(
        (status = 200, description = "`user-self-registration.session` `{nextStep: USER_DATA_REQUIRED}`", body = Document<s::Step>),
        (status = 404, description = "`FLOW_NOT_FOUND`", body = ErrorDocument),
    )
)]
pub async fn signup_select(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    id: web::Path<String>,
) -> Reply {
    run(
        req,
        e,
        s,
        move |e, s, _| e.signup_select(s, &id),
        step(SIGNUP_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/public/user-self-registration/user-data/continue",
    summary = "Choose the username",
    request_body = s::UserData,
    responses(
        (status = 200, description = "`user-self-registration.session`: the next step", body = Document<s::Step>),
        (status = 400, description = "`USERNAME_NOT_AVAILABLE`, `INVALID_USERNAME`, `INVALID_DISPLAY_NAME`", body = ErrorDocument),
    )
)]
pub async fn signup_user_data(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let username = body.required_str("username")?;
    let display_name = body.optional_str("displayName")?;
    run(
        req,
        e,
        s,
        move |e, s, cx| e.signup_user_data(s, cx, &username, display_name.as_deref()),
        step(SIGNUP_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/public/user-self-registration/fido/registration/challenge/retrieve",
    summary = "Get a challenge to register the new account's passkey",
    request_body = s::RegistrationChallenge,
    responses(
        (status = 200, description = "`user-self-registration.fido.registration.challenge`", body = Document<s::CreationOptions>),
    )
)]
pub async fn signup_registration_challenge(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let display_name = body.optional_str("displayName")?;
    run(
        req,
        e,
        s,
        move |e, s, cx| e.signup_registration_challenge(s, cx, display_name.as_deref()),
        creation_options("user-self-registration.fido.registration.challenge"),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/public/user-self-registration/fido/registration/attestation-response/check",
    summary = "Create the account with its passkey",
    description = "The user is created and the session signed in.",
    request_body = s::CredentialResponse,
    responses(
        (status = 200, description = "`user-self-registration.session` `{}`", body = Document<s::Step>),
        (status = 400, description = "`FIDO_REGISTRATION_FAILED`, `FIDO_REGISTRATION_TIMEOUT`, `USERNAME_NOT_AVAILABLE` (`meta.nextStep`)", body = ErrorDocument),
    )
)]
pub async fn signup_attestation_response(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let credential = body.required_object("publicKeyCredential")?;
    run(
        req,
        e,
        s,
        move |e, s, cx| e.signup_attestation_response(s, cx, &credential),
        step(SIGNUP_SESSION),
    )
    .await
}
