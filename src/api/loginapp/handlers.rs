//! Handlers: extract, call one engine function off the async threads, wrap the answer.

use actix_session::Session;
use actix_web::{web, HttpRequest, HttpResponse};

use super::render::{
    creation_options, credentials, flows, request_options, session, step, AUTHENTICATION_SESSION,
    SELF_SERVICE_SESSION, SIGNUP_SESSION,
};
use crate::api::document::respond;
use crate::api::document::Answer;
use crate::api::error::ApiError;
use crate::api::extract::{load_session, request_ctx, store_session, JsonBody};
use crate::engine::{Engine, EngineResult, RequestCtx, SessionData};

type Reply = Result<HttpResponse, ApiError>;

/// Runs one session-bound engine call on the blocking pool (the `session_guard` middleware has
/// already made sure no other request of this session runs) and renders its outcome.
async fn run<T, F, R>(
    req: HttpRequest,
    engine: web::Data<Engine>,
    session: Session,
    call: F,
    render: R,
) -> Reply
where
    T: Send + 'static,
    F: FnOnce(&Engine, &mut SessionData, &RequestCtx) -> EngineResult<T> + Send + 'static,
    R: FnOnce(T) -> Answer,
{
    let mut data = load_session(&session);
    engine.begin(&mut data);
    let cx = request_ctx(&req, &engine);
    let engine = engine.get_ref().clone();
    let (data, result) = web::block(move || {
        let mut data = data;
        let result = call(&engine, &mut data, &cx);
        (data, result)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    store_session(&session, &data)?;
    Ok(respond(render(result?)))
}

// ---- /rest/public/authentication ----

pub async fn password_check(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let username = body.required_str("username")?;
    let password = body.required_str("password")?;
    run(
        req,
        e,
        s,
        move |e, s, cx| e.password_check(s, cx, &username, &password),
        step(AUTHENTICATION_SESSION),
    )
    .await
}

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

pub async fn session_info(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(req, e, s, |e, s, _| e.session_info(s), session).await
}

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

// ---- /rest/protected/self-service ----

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

pub async fn list_flows(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(req, e, s, |e, s, _| e.list_flows(s), flows).await
}

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
        move |e, s, _| e.select_flow(s, &id),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

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

pub async fn my_credentials(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(req, e, s, |e, s, _| e.my_credentials(s), credentials).await
}

// ---- credential management steps ----

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

// ---- /rest/public/user-self-registration ----

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
