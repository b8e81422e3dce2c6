//! The administration API (`/rest/admin`): its routes and handlers. Each handler checks the
//! bearer token, extracts, runs one engine call off the async threads and wraps the answer.

use std::collections::HashMap;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use super::document::{respond, respond_paged};
use super::error::ApiError;
use super::extract::{bearer, blob_body, request_ctx, JsonBody};
use super::middleware::method_not_allowed;
use super::openapi;
use super::routes::{op, Table};
use super::schema::admin as s;
use super::schema::loginapp::Credential;
use super::schema::{Document, ErrorDocument, ListDocument};
use crate::engine::{
    Actor, Answer, CredentialChange, Engine, EngineError, EngineResult, NewUser, Page, RequestCtx,
};

type Reply = Result<HttpResponse, ApiError>;

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

pub fn routes(cfg: &mut ServiceConfig) {
    table().register(cfg);
}

/// The routes, each documented by its handler's `#[utoipa::path]`.
pub fn table() -> Table {
    Table::scope("/rest/admin", resource)
        .shared(openapi::admin_operation)
        .at("/users", [op!(get, list_users), op!(post, create_user)])
        .at(
            "/users/{username}",
            [op!(get, get_user), op!(delete, delete_user)],
        )
        .at("/users/{username}/unlock", [op!(post, unlock_user)])
        .at(
            "/users/{username}/fido/credentials",
            [op!(get, user_credentials)],
        )
        .at(
            "/users/{username}/fido/credentials/{credential_id}",
            [
                op!(patch, change_credential),
                op!(delete, delete_credential),
            ],
        )
        .at("/audit", [op!(get, audit_events)])
        .at(
            "/mds",
            [op!(get, metadata_status), op!(put, import_metadata)],
        )
        .at("/mds/reevaluate", [op!(post, reevaluate_metadata)])
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

#[utoipa::path(
    get,
    path = "/rest/admin/users",
    summary = "List users (helpdesk)",
    description = "Users in username order, a page at a time.",
    params(s::UserQuery),
    responses(
        (status = 200, description = "A page of `user`s", body = ListDocument<s::User>),
        (status = 400, description = "`INVALID_REQUEST`: a page size outside 1–100, a cursor \
            that is not one, a filter outside the username alphabet", body = ErrorDocument),
    )
)]
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

#[utoipa::path(
    get,
    path = "/rest/admin/users/{username}",
    summary = "Get a user (helpdesk)",
    params(s::UserPath),
    responses(
        (status = 200, description = "The `user`", body = Document<s::User>),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorDocument),
    )
)]
async fn get_user(req: HttpRequest, e: web::Data<Engine>, path: web::Path<String>) -> Reply {
    let username = path.into_inner();
    Ok(respond(
        run(&req, e, move |e, a, _| e.get_user(a, &username)).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/rest/admin/users/{username}",
    summary = "Delete a user (admin)",
    description = "Deletes the user and their credentials in one transaction and ends all \
        their sessions (audited `USER_DELETED`).",
    params(s::UserPath),
    responses(
        (status = 200, description = "The deleted `user`", body = Document<s::User>),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorDocument),
    )
)]
async fn delete_user(req: HttpRequest, e: web::Data<Engine>, path: web::Path<String>) -> Reply {
    let username = path.into_inner();
    Ok(respond(
        run(&req, e, move |e, a, cx| e.delete_user(a, cx, &username)).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/rest/admin/users/{username}/unlock",
    summary = "Unlock a user (helpdesk)",
    description = "Lifts the temporary lock and resets the failure count (audited \
        `USER_UNLOCKED`).",
    params(s::UserPath),
    responses(
        (status = 200, description = "The `user`", body = Document<s::User>),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorDocument),
    )
)]
async fn unlock_user(req: HttpRequest, e: web::Data<Engine>, path: web::Path<String>) -> Reply {
    let username = path.into_inner();
    Ok(respond(
        run(&req, e, move |e, a, cx| e.unlock_user(a, cx, &username)).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/rest/admin/users/{username}/fido/credentials",
    summary = "List a user's FIDO credentials (helpdesk)",
    params(s::UserPath),
    responses(
        (status = 200, description = "`user.token.fido.credential`s", body = ListDocument<Credential>),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorDocument),
    )
)]
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

#[utoipa::path(
    post,
    path = "/rest/admin/users",
    summary = "Create a user (admin)",
    request_body = s::CreateUser,
    responses(
        (status = 201, description = "The new `user`", body = Document<s::User>),
        (status = 400, description = "`INVALID_REQUEST`, `INVALID_USERNAME`, \
            `INVALID_DISPLAY_NAME`, `INVALID_PASSWORD`", body = ErrorDocument),
        (status = 409, description = "`USER_EXISTS`", body = ErrorDocument),
    )
)]
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

#[utoipa::path(
    patch,
    path = "/rest/admin/users/{username}/fido/credentials/{credential_id}",
    summary = "Rename, disable or enable a credential (helpdesk)",
    description = "A new name is audited `CREDENTIAL_RENAMED`; `enabled: false` disables the \
        credential with `disabledBy: \"helpdesk\"` and ends the user's sessions \
        (`CREDENTIAL_DISABLED`); `enabled: true` enables it (`CREDENTIAL_ENABLED`).",
    params(s::CredentialPath),
    request_body = s::CredentialChange,
    responses(
        (status = 200, description = "The credential", body = Document<Credential>),
        (status = 400, description = "`INVALID_REQUEST` (neither member, or one of the wrong \
            type), `INVALID_DISPLAY_NAME`", body = ErrorDocument),
        (status = 404, description = "`USER_NOT_FOUND`, `FIDO_CREDENTIAL_NOT_FOUND`", body = ErrorDocument),
    )
)]
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

#[utoipa::path(
    delete,
    path = "/rest/admin/users/{username}/fido/credentials/{credential_id}",
    summary = "Delete a credential (helpdesk)",
    description = "Ends all the user's sessions (audited `CREDENTIAL_DELETED`).",
    params(s::CredentialPath),
    responses(
        (status = 200, description = "The deleted credential", body = Document<Credential>),
        (status = 404, description = "`USER_NOT_FOUND`, `FIDO_CREDENTIAL_NOT_FOUND`", body = ErrorDocument),
    )
)]
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

#[utoipa::path(
    get,
    path = "/rest/admin/audit",
    summary = "Read the audit trail (helpdesk)",
    description = "`audit.event`s, newest first, a page at a time.",
    params(s::AuditQuery),
    responses(
        (status = 200, description = "A page of `audit.event`s", body = ListDocument<s::AuditEvent>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorDocument),
    )
)]
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

#[utoipa::path(
    put,
    path = "/rest/admin/mds",
    summary = "Import a FIDO metadata BLOB (admin)",
    description = "Verified and imported like `fidoflow mds import` and used at once (audited \
        `METADATA_IMPORTED`). At most 32 MiB.",
    request_body(
        content = String,
        content_type = "application/jwt",
        description = "The BLOB (a JWS) as downloaded; `application/octet-stream` and \
            `text/plain` are taken too"
    ),
    responses(
        (status = 200, description = "The `mds.blob` now in use", body = Document<s::MetadataStatus>),
        (status = 400, description = "`MDS_BLOB_REFUSED` (does not verify, or older than the \
            one in use), `INVALID_REQUEST`", body = ErrorDocument),
        (status = 413, description = "`REQUEST_TOO_LARGE`", body = ErrorDocument),
    )
)]
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

#[utoipa::path(
    post,
    path = "/rest/admin/mds/reevaluate",
    summary = "Re-run attestation trust for every credential (admin)",
    description = "`fidoflow mds reevaluate` on the running server (audited \
        `METADATA_REEVALUATED`).",
    responses(
        (status = 200, description = "The `mds.reevaluation`", body = Document<s::Reevaluation>),
    )
)]
async fn reevaluate_metadata(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    Ok(respond(
        run(&req, e, move |e, a, cx| e.reevaluate_metadata(a, cx)).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/rest/admin/mds",
    summary = "The imported FIDO metadata (helpdesk)",
    responses(
        (status = 200, description = "The `mds.blob`", body = Document<s::MetadataStatus>),
    )
)]
async fn metadata_status(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    Ok(respond(
        run(&req, e, move |e, a, _| e.metadata_status(a)).await?,
    ))
}
