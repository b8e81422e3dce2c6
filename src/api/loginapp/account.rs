//! `/rest/protected/self-service`: the account's own calls: its view, its display name and its
//! password (the steps of `account-display-name`, `password-change`, `password-add`,
//! `password-removal`).

use actix_session::Session;
use actix_web::{web, HttpRequest};
use serde_json::json;

use super::handlers::{run, run_blocking, Reply};
use super::render::{step, SELF_SERVICE_SESSION};
use crate::api::document::{time, Answer, Resource};
use crate::api::extract::JsonBody;
use crate::api::schema::account as a;
use crate::api::schema::loginapp as s;
use crate::api::schema::{Document, ErrorDocument, ListDocument};
use crate::engine::{AccountView, Engine, SecurityEvent};

fn account(v: AccountView) -> Answer {
    Answer::one(
        "my.user",
        v.username.clone(),
        json!({
            "username": v.username,
            "displayName": v.display_name,
            "hasPassword": v.has_password,
            "hasEnabledCredential": v.has_enabled_credential,
            "createdAt": time(v.created_at),
        }),
    )
}

#[utoipa::path(
    get,
    path = "/rest/protected/self-service/user",
    summary = "The signed-in user's account",
    responses(
        (status = 200, description = "`my.user`", body = Document<a::Account>),
    )
)]
pub async fn my_account(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(req, e, s, |e, s, _| e.my_account(s), account).await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/user/display-name/change",
    summary = "Give the account a new display name",
    description = "The `user-display-name-change` step (flow `account-display-name`).",
    request_body = a::UserDisplayNameChange,
    responses(
        (status = 200, description = "`self-service.session`: the next step, or `{}`", body = Document<s::Step>),
        (status = 400, description = "`INVALID_DISPLAY_NAME`, `UNEXPECTED_CALL`", body = ErrorDocument),
    )
)]
pub async fn user_display_name_change(
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
        move |e, s, cx| e.user_display_name_change(s, cx, &name),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/password/current/check",
    summary = "Confirm the current password",
    description = "The `current-password` step (flow `password-change`). Counted against the \
        account's lockout like a sign-in. Where the step has `fido_approval`, the approval calls \
        stand for it.",
    request_body = a::Password,
    responses(
        (status = 200, description = "`self-service.session`: the next step", body = Document<s::Step>),
        (status = 400, description = "`PASSWORD_WRONG` (`meta.nextStep`), `UNEXPECTED_CALL`", body = ErrorDocument),
        (status = 403, description = "`USER_LOCKED`: too many wrong passwords; the flow ends", body = ErrorDocument),
    )
)]
pub async fn current_password_check(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let password = body.required_str("password")?;
    run_blocking(
        req,
        e,
        s,
        move |e, s, cx| e.current_password_check(s, cx, &password),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/password/new/set",
    summary = "Choose the new password",
    description = "The `new-password` step (flows `password-change`, `password-add`): 8 to 1024 \
        characters. The `apply` step after it sets it, signs out the account's other sessions \
        and renews this session's key.",
    request_body = a::Password,
    responses(
        (status = 200, description = "`self-service.session`: `{}` when the flow is done", body = Document<s::Step>),
        (status = 400, description = "`INVALID_PASSWORD`, `UNEXPECTED_CALL`", body = ErrorDocument),
    )
)]
pub async fn new_password(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let password = body.required_str("password")?;
    run_blocking(
        req,
        e,
        s,
        move |e, s, cx| e.new_password(s, cx, &password),
        step(SELF_SERVICE_SESSION),
    )
    .await
}

fn security_events((events, next): (Vec<SecurityEvent>, Option<String>)) -> Answer {
    Answer::page(
        events
            .into_iter()
            .map(|e| Resource {
                doc_type: "my.security.event",
                id: e.seq.to_string(),
                attributes: json!({
                    "time": time(e.time),
                    "event": e.event,
                    "success": e.success,
                    "by": e.by,
                    "credentialId": e.credential_id,
                    "detail": e.detail,
                    "remoteAddress": e.remote_address,
                    "userAgent": e.user_agent,
                }),
            })
            .collect(),
        next,
    )
}

#[utoipa::path(
    get,
    path = "/rest/protected/self-service/security-events",
    summary = "The signed-in user's own recent security events",
    description = "From the audit log, newest first: sign-ins, passkeys added, renamed, disabled, \
        enabled or removed, password and display-name changes, locks. A page reads at most \
        2 000 of the user's records: it may hold fewer events than asked for and still have a \
        `meta.page.next`.",
    params(a::SecurityEventsPage),
    responses(
        (status = 200, description = "`my.security.event`s; `meta.page.next` when there are older ones", body = ListDocument<a::SecurityEvent>),
        (status = 400, description = "`INVALID_REQUEST`: a page size outside 1–50, a cursor that is not one", body = ErrorDocument),
    )
)]
pub async fn my_security_events(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    let mut size = None;
    let mut after = None;
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match k.as_ref() {
            "page[size]" => size = Some(v.into_owned()),
            "page[after]" => after = Some(v.into_owned()),
            _ => {}
        }
    }
    run(
        req,
        e,
        s,
        move |e, s, _| e.my_security_events(s, size.as_deref(), after.as_deref()),
        security_events,
    )
    .await
}
