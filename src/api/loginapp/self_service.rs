//! `/rest/protected/self-service`: the signed-in user's flows, registration, credential
//! management steps and re-authentication.

use actix_session::Session;
use actix_web::{web, HttpRequest};

use super::handlers::{run, Reply};
use super::render::{
    creation_options, credentials, flows, request_options, step, SELF_SERVICE_SESSION,
};
use crate::api::extract::JsonBody;
use crate::api::schema::loginapp as s;
use crate::api::schema::{Document, ErrorDocument, ListDocument};
use crate::engine::Engine;

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/fido/abort",
    summary = "Report a cancelled FIDO ceremony",
    description = "Only while a challenge waits for its response: the challenge is spent, the abort audited, and the step waits for a new challenge.",
    request_body = s::Abort,
    responses(
        (status = 200, description = "`self-service.session`", body = Document<s::Step>),
        (status = 400, description = "`UNEXPECTED_CALL`: no challenge waits for a response; `INVALID_REQUEST`: an unknown `reason`, or `EXCLUDED_CREDENTIAL` for a ceremony that is not a registration", body = ErrorDocument),
    )
)]
pub async fn abort_self_service(
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
        move |e, s, cx| e.abort_self_service(s, cx, &reason),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

#[utoipa::path(
    get,
    path = "/rest/protected/self-service/flows",
    summary = "The self-service flows",
    responses(
        (status = 200, description = "`self-service.flow`s (`id`: the flow id) and whether each is available", body = ListDocument<s::Flow>),
    )
)]
pub async fn list_flows(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(req, e, s, |e, s, _| e.list_flows(s), flows).await
}

#[utoipa::path(
    delete,
    path = "/rest/protected/self-service/flow",
    summary = "End the self-service flow",
    description = "Idempotent.",
    responses(
        (status = 200, description = "`self-service.session` `{}`", body = Document<s::Step>),
    )
)]
pub async fn end_self_service_flow(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(
        req,
        e,
        s,
        |e, s, _| e.end_self_service_flow(s),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/flows/{id}/select",
    summary = "Start a self-service flow",
    params(s::IdPath),
    responses(
        (status = 200, description = "`self-service.session`: the first step", body = Document<s::Step>),
        (status = 404, description = "`FLOW_NOT_FOUND`", body = ErrorDocument),
    )
)]
pub async fn select_flow(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    id: web::Path<String>,
) -> Reply {
    run(
        req,
        e,
        s,
        move |e, s, cx| e.select_flow(s, cx, &id),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/fido/registration/challenge/retrieve",
    summary = "Get a challenge to register a credential",
    request_body = s::RegistrationChallenge,
    responses(
        (status = 200, description = "`self-service.fido.registration.challenge`", body = Document<s::CreationOptions>),
    )
)]
pub async fn registration_challenge(
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
        move |e, s, cx| e.registration_challenge(s, cx, display_name.as_deref()),
        creation_options("self-service.fido.registration.challenge"),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/fido/registration/attestation-response/check",
    summary = "Register the credential",
    request_body = s::CredentialResponse,
    responses(
        (status = 200, description = "`self-service.session`: `{}` when the flow is done", body = Document<s::Step>),
        (status = 400, description = "`FIDO_REGISTRATION_FAILED`, `FIDO_REGISTRATION_TIMEOUT` (`meta.nextStep`)", body = ErrorDocument),
    )
)]
pub async fn attestation_response(
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
        move |e, s, cx| e.attestation_response(s, cx, &credential),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

#[utoipa::path(
    get,
    path = "/rest/protected/self-service/fido/credentials",
    summary = "The signed-in user's credentials",
    responses(
        (status = 200, description = "`my.token.fido.credential`s", body = ListDocument<s::Credential>),
    )
)]
pub async fn my_credentials(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(req, e, s, |e, s, _| e.my_credentials(s), credentials).await
}

/// The same list by `POST`, as the Loginapp contract also allows.
#[utoipa::path(
    post,
    path = "/rest/protected/self-service/fido/credentials",
    summary = "The signed-in user's credentials (by POST)",
    responses(
        (status = 200, description = "`my.token.fido.credential`s", body = ListDocument<s::Credential>),
    )
)]
pub async fn my_credentials_by_post(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    my_credentials(req, e, s).await
}

// Credential management steps.

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/fido/credential/select",
    summary = "Select the credential to change",
    description = "The first step of the rename, delete, disable and enable flows.",
    request_body = s::CredentialSelect,
    responses(
        (status = 200, description = "`self-service.session`: the next step", body = Document<s::Step>),
        (status = 400, description = "`FIDO_CREDENTIAL_NOT_FOUND` (not the user's), `FIDO_CREDENTIAL_CHANGE_NOT_ALLOWED`", body = ErrorDocument),
    )
)]
pub async fn credential_select(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let id = body.required_str("credentialId")?;
    run(
        req,
        e,
        s,
        move |e, s, cx| e.credential_select(s, cx, &id),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/fido/display-name/change",
    summary = "Rename the selected credential",
    request_body = s::DisplayNameChange,
    responses(
        (status = 200, description = "`self-service.session`: the next step, or `{}`", body = Document<s::Step>),
        (status = 400, description = "`INVALID_DISPLAY_NAME`", body = ErrorDocument),
    )
)]
pub async fn display_name_change(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let name = body.required_str("displayName")?;
    run(
        req,
        e,
        s,
        move |e, s, cx| e.display_name_change(s, cx, &name),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/fido/approval/challenge/retrieve",
    summary = "Get a challenge to re-authenticate inside a flow",
    responses(
        (status = 200, description = "`self-service.fido.approval.challenge`", body = Document<s::RequestOptions>),
    )
)]
pub async fn approval_challenge(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(
        req,
        e,
        s,
        |e, s, cx| e.approval_challenge(s, cx),
        request_options("self-service.fido.approval.challenge"),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/fido/approval/assertion-response/check",
    summary = "Check the re-authentication",
    request_body = s::CredentialResponse,
    responses(
        (status = 200, description = "`self-service.session`: the next step, or `{}`", body = Document<s::Step>),
        (status = 400, description = "`FIDO_APPROVAL_FAILED`, `FIDO_APPROVAL_TIMEOUT` (`meta.nextStep`)", body = ErrorDocument),
    )
)]
pub async fn approval_response(
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
        move |e, s, cx| e.approval_response(s, cx, &credential),
        step(SELF_SERVICE_SESSION),
    )
    .await
}
