//! `/rest/public/authentication`: password and FIDO login steps, applications, the session.

use actix_session::Session;
use actix_web::{web, HttpRequest};

use super::handlers::{run, run_blocking, Reply};
use super::render::{request_options, session, step, AUTHENTICATION_SESSION};
use crate::api::extract::JsonBody;
use crate::api::schema::loginapp as s;
use crate::api::schema::{Document, ErrorDocument};
use crate::engine::Engine;

#[utoipa::path(
    post,
    path = "/rest/public/authentication/password/check",
    summary = "Check a username and password",
    description = "Starts the `default` flow unless a flow waits for a password.",
    request_body = s::PasswordCheck,
    responses(
        (status = 200, description = "`authentication.session`: the next step, or `{}` when the login is complete", body = Document<s::Step>),
        (status = 400, description = "`USERNAME_PASSWORD_WRONG` (`meta.nextAuthStep`)", body = ErrorDocument),
        (status = 403, description = "`USER_LOCKED` (`meta.temporaryLockExpiry`)", body = ErrorDocument),
    )
)]
pub async fn password_check(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let username = body.required_str("username")?;
    let password = body.required_str("password")?;
    run_blocking(
        req,
        e,
        s,
        move |e, s, cx| e.password_check(s, cx, &username, &password),
        step(AUTHENTICATION_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/public/authentication/applications/{id}/access",
    summary = "Ask for access to an application",
    params(s::IdPath),
    responses(
        (status = 200, description = "`authentication.session` `{}`: the session satisfies the application", body = Document<s::Step>),
        (status = 401, description = "`NOT_AUTHORIZED` (`meta.nextAuthStep`): the application's flow starts", body = ErrorDocument),
        (status = 404, description = "`APPLICATION_NOT_FOUND`", body = ErrorDocument),
    )
)]
pub async fn application_access(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    id: web::Path<String>,
) -> Reply {
    run(
        req,
        e,
        s,
        move |e, s, _| e.application_access(s, &id),
        step(AUTHENTICATION_SESSION),
    )
    .await
}

#[utoipa::path(
    get,
    path = "/rest/public/authentication/session",
    summary = "The session",
    responses(
        (status = 200, description = "`authentication.session`", body = Document<s::Session>),
    )
)]
pub async fn session_info(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(req, e, s, |e, s, _| e.session_info(s), session).await
}

#[utoipa::path(
    delete,
    path = "/rest/public/authentication/flow",
    summary = "End the authentication flow",
    description = "Idempotent.",
    responses(
        (status = 200, description = "`authentication.session` `{}`", body = Document<s::Step>),
    )
)]
pub async fn end_authentication_flow(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(
        req,
        e,
        s,
        |e, s, _| e.end_authentication_flow(s),
        step(AUTHENTICATION_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/public/authentication/logout",
    summary = "End the session",
    responses(
        (status = 200, description = "`authentication.session` `{}`; the session is gone", body = Document<s::Step>),
    )
)]
pub async fn logout(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(
        req,
        e,
        s,
        |e, s, cx| e.logout(s, cx),
        step(AUTHENTICATION_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/public/authentication/fido/challenge/retrieve",
    summary = "Get a challenge for the FIDO step",
    request_body = s::AuthenticationChallenge,
    responses(
        (status = 200, description = "`authentication.fido.challenge`", body = Document<s::RequestOptions>),
    )
)]
pub async fn authentication_challenge(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let mediation = body.optional_str("mediation")?;
    run(
        req,
        e,
        s,
        move |e, s, cx| e.authentication_challenge(s, cx, mediation.as_deref()),
        request_options("authentication.fido.challenge"),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/public/authentication/fido/assertion-response/check",
    summary = "Check the FIDO assertion",
    request_body = s::CredentialResponse,
    responses(
        (status = 200, description = "`authentication.session`: the next step, or `{}` when the login is complete", body = Document<s::Step>),
        (status = 400, description = "`FIDO_AUTHENTICATION_FAILED`, `FIDO_AUTHENTICATION_TIMEOUT`, `NO_VALID_TOKEN` (`meta.nextAuthStep`)", body = ErrorDocument),
    )
)]
pub async fn assertion_response(
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
        move |e, s, cx| e.assertion_response(s, cx, &credential),
        step(AUTHENTICATION_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/public/authentication/fido/abort",
    summary = "Report a cancelled FIDO ceremony",
    description = "Only while a challenge waits for its response: the challenge is spent, the abort audited, and the step waits for a new challenge.",
    request_body = s::Abort,
    responses(
        (status = 200, description = "`authentication.session`", body = Document<s::Step>),
        (status = 400, description = "`UNEXPECTED_CALL`: no challenge waits for a response; `INVALID_REQUEST`: an unknown `reason`", body = ErrorDocument),
    )
)]
pub async fn abort_authentication(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let reason = body.required_str("reason")?;
    run(
        req,
        e,
        s,
        move |e, s, cx| e.abort_authentication(s, cx, &reason),
        step(AUTHENTICATION_SESSION),
    )
    .await
}
