//! `/rest/protected/self-service`: the account's active sessions and the step that picks one
//! (flows `session-sign-out`, `sessions-sign-out-others`).

use actix_session::Session;
use actix_web::{web, HttpRequest};
use serde_json::json;

use super::handlers::{run, Reply};
use super::render::{step, SELF_SERVICE_SESSION};
use crate::api::document::{time, Answer, Resource};
use crate::api::extract::JsonBody;
use crate::api::schema::account as a;
use crate::api::schema::loginapp as s;
use crate::api::schema::{Document, ErrorDocument, ListDocument};
use crate::engine::{AccountSession, Engine};

fn sessions(list: Vec<AccountSession>) -> Answer {
    Answer::many(
        list.into_iter()
            .map(|v| Resource {
                doc_type: "my.session",
                id: v.id,
                attributes: json!({
                    "current": v.current,
                    "device": v.device,
                    "userAgent": v.user_agent,
                    "remoteAddress": v.remote_address,
                    "signedInAt": time(v.signed_in_at),
                    "lastSeenAt": time(v.last_seen_at),
                }),
            })
            .collect(),
    )
}

#[utoipa::path(
    get,
    path = "/rest/protected/self-service/sessions",
    summary = "The sessions signed in to the account",
    description = "This session first (`current`), then the others, most recently seen first. \
        At most 500 others are listed; `sessions-sign-out-others` ends them all.",
    responses(
        (status = 200, description = "`my.session`s", body = ListDocument<a::AccountSession>),
    )
)]
pub async fn my_sessions(req: HttpRequest, e: web::Data<Engine>, s: Session) -> Reply {
    run(req, e, s, |e, s, _| e.my_sessions(s), sessions).await
}

#[utoipa::path(
    post,
    path = "/rest/protected/self-service/session/select",
    summary = "Pick the session to sign out",
    description = "The `session-selection` step (flow `session-sign-out`), with an `id` from \
        the session list. Picking this session signs it out like a logout.",
    request_body = a::SessionSelect,
    responses(
        (status = 200, description = "`self-service.session`: the next step, or `{}`", body = Document<s::Step>),
        (status = 400, description = "`SESSION_NOT_FOUND`, `UNEXPECTED_CALL`", body = ErrorDocument),
    )
)]
pub async fn session_select(
    req: HttpRequest,
    e: web::Data<Engine>,
    s: Session,
    body: JsonBody,
) -> Reply {
    let id = body.required_str("sessionId")?;
    run(
        req,
        e,
        s,
        move |e, s, cx| e.session_select(s, cx, &id),
        step(SELF_SERVICE_SESSION),
    )
    .await
}
