//! The administration API (`/rest/admin`): its routes and handlers. Each handler checks the
//! bearer token, extracts, runs one engine call off the async threads and wraps the answer.

use std::collections::HashMap;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use super::document::{respond, respond_paged};
use super::error::ApiError;
use super::extract::{bearer, blob_body, request_ctx, JsonBody};
use super::middleware::method_not_allowed;
use crate::engine::{
    Actor, Answer, CredentialChange, Engine, EngineError, EngineResult, NewUser, Page, RequestCtx,
};

type Reply = Result<HttpResponse, ApiError>;

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(
        web::scope("/rest/admin")
            .service(
                resource("/users")
                    .route(web::get().to(list_users))
                    .route(web::post().to(create_user)),
            )
            .service(
                resource("/users/{username}")
                    .route(web::get().to(get_user))
                    .route(web::delete().to(delete_user)),
            )
            .service(resource("/users/{username}/unlock").route(web::post().to(unlock_user)))
            .service(
                resource("/users/{username}/fido/credentials")
                    .route(web::get().to(user_credentials)),
            )
            .service(
                resource("/users/{username}/fido/credentials/{credential_id}")
                    .route(web::patch().to(change_credential))
                    .route(web::delete().to(delete_credential)),
            )
            .service(resource("/audit").route(web::get().to(audit_events)))
            .service(
                resource("/mds")
                    .route(web::get().to(metadata_status))
                    .route(web::put().to(import_metadata)),
            )
            .service(resource("/mds/reevaluate").route(web::post().to(reevaluate_metadata))),
    );
}

/// The caller's token; a call without a valid one is logged (never the token) and refused.
fn actor(req: &HttpRequest, e: &Engine) -> Result<Actor, ApiError> {
    Ok(e.admin_actor(bearer(req).as_deref()).inspect_err(|_| {
        tracing::warn!(
            remote = request_ctx(req, e).remote_address.as_deref().unwrap_or("?"),
            path = req.path(),
            "administration call without a valid token"
        );
    })?)
}

/// Checks the token, then runs `call` on the blocking pool.
async fn run<F>(req: &HttpRequest, e: web::Data<Engine>, call: F) -> Result<Answer, ApiError>
where
    F: FnOnce(&Engine, &Actor, &RequestCtx) -> EngineResult + Send + 'static,
{
    let actor = actor(req, &e)?;
    run_as(req, e, actor, call).await
}

/// Runs `call` for a checked token on the blocking pool (handlers with a body check the token
/// before they look at the body); a call the token's role may not make is audited.
async fn run_as<F>(
    req: &HttpRequest,
    e: web::Data<Engine>,
    actor: Actor,
    call: F,
) -> Result<Answer, ApiError>
where
    F: FnOnce(&Engine, &Actor, &RequestCtx) -> EngineResult + Send + 'static,
{
    let cx = request_ctx(req, &e);
    let engine = e.get_ref().clone();
    let call_name = format!("{} {}", req.method(), req.path());
    let username = req.match_info().get("username").map(str::to_owned);
    let answer = web::block(move || {
        let result = call(&engine, &actor, &cx);
        if matches!(result, Err(EngineError::AdminRoleMissing)) {
            engine.audit_role_refusal(&actor, &cx, &call_name, username.as_deref());
        }
        result
    })
    .await
    .map_err(|err| ApiError::Internal(err.to_string()))??;
    Ok(answer)
}

/// The query string's parameters (the last of a repeated one counts).
fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn page(q: &mut HashMap<String, String>) -> Page {
    Page {
        size: q.remove("page[size]"),
        after: q.remove("page[after]"),
    }
}

async fn list_users(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let mut q = query(&req);
    let page = page(&mut q);
    let prefix = q.remove("filter[username]");
    let answer = run(&req, e, move |e, a, _| {
        e.list_users(a, prefix.as_deref(), &page)
    })
    .await?;
    Ok(respond_paged(answer, &req))
}

async fn get_user(req: HttpRequest, e: web::Data<Engine>, path: web::Path<String>) -> Reply {
    let username = path.into_inner();
    Ok(respond(
        run(&req, e, move |e, a, _| e.get_user(a, &username)).await?,
    ))
}

async fn delete_user(req: HttpRequest, e: web::Data<Engine>, path: web::Path<String>) -> Reply {
    let username = path.into_inner();
    Ok(respond(
        run(&req, e, move |e, a, cx| e.delete_user(a, cx, &username)).await?,
    ))
}

async fn unlock_user(req: HttpRequest, e: web::Data<Engine>, path: web::Path<String>) -> Reply {
    let username = path.into_inner();
    Ok(respond(
        run(&req, e, move |e, a, cx| e.unlock_user(a, cx, &username)).await?,
    ))
}

async fn user_credentials(
    req: HttpRequest,
    e: web::Data<Engine>,
    path: web::Path<String>,
) -> Reply {
    let username = path.into_inner();
    Ok(respond(
        run(&req, e, move |e, a, _| e.user_credentials(a, &username)).await?,
    ))
}

async fn create_user(req: HttpRequest, e: web::Data<Engine>, body: JsonBody) -> Reply {
    let actor = actor(&req, &e)?; // a bad token is told before a bad body
    let new = NewUser {
        username: body.required_str("username")?,
        display_name: body.optional_str("displayName")?,
        password: body.optional_str("password")?,
    };
    Ok(respond(
        run_as(&req, e, actor, move |e, a, cx| e.create_user(a, cx, new)).await?,
    ))
}

async fn change_credential(
    req: HttpRequest,
    e: web::Data<Engine>,
    path: web::Path<(String, String)>,
    body: JsonBody,
) -> Reply {
    let actor = actor(&req, &e)?; // a bad token is told before a bad body
    let (username, id) = path.into_inner();
    let change = CredentialChange {
        display_name: body.optional_str("displayName")?,
        enabled: body.optional_bool("enabled")?,
    };
    Ok(respond(
        run_as(&req, e, actor, move |e, a, cx| {
            e.change_credential(a, cx, &username, &id, change)
        })
        .await?,
    ))
}

async fn delete_credential(
    req: HttpRequest,
    e: web::Data<Engine>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (username, id) = path.into_inner();
    Ok(respond(
        run(&req, e, move |e, a, cx| {
            e.delete_credential(a, cx, &username, &id)
        })
        .await?,
    ))
}

async fn audit_events(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let mut q = query(&req);
    let page = page(&mut q);
    let username = q.remove("username");
    let answer = run(&req, e, move |e, a, _| {
        e.audit_events(a, username.as_deref(), &page)
    })
    .await?;
    Ok(respond_paged(answer, &req))
}

async fn import_metadata(req: HttpRequest, e: web::Data<Engine>, payload: web::Payload) -> Reply {
    let actor = actor(&req, &e)?; // the token before up to 32 MiB of body
    let jwt = blob_body(&req, payload).await?;
    Ok(respond(
        run_as(&req, e, actor, move |e, a, cx| {
            e.import_metadata(a, cx, &jwt)
        })
        .await?,
    ))
}

async fn reevaluate_metadata(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    Ok(respond(
        run(&req, e, move |e, a, cx| e.reevaluate_metadata(a, cx)).await?,
    ))
}

async fn metadata_status(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    Ok(respond(
        run(&req, e, move |e, a, _| e.metadata_status(a)).await?,
    ))
}
