//! The administration API (`/rest/admin`): its routes and what every handler shares. Each
//! handler checks the bearer token, extracts, runs one engine call off the async threads and
//! wraps the answer; a call the token's role or tenants do not allow is audited. The users of
//! `default` live under `/users`, every tenant's (`default` too) under `/tenants/{tenant}/users`
//! (`users.rs`); the tenants themselves and imports in `tenants.rs`; the audit log and the FIDO
//! metadata here.

mod render;
mod tenants;
mod users;

use std::collections::HashMap;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use super::document::{respond, respond_paged};
use super::error::ApiError;
use super::extract::{bearer, blob_body, request_ctx};
use super::middleware::method_not_allowed;
use super::openapi;
use super::routes::{op, Table};
use super::schema::admin as s;
use super::schema::{Document, ErrorDocument, ListDocument};
use crate::engine::{Actor, AuditQuery, Engine, EngineError, EngineResult, Page, RequestCtx};

type Reply = Result<HttpResponse, ApiError>;

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

pub fn routes(cfg: &mut ServiceConfig) {
    table().register(cfg);
}

/// The routes, each documented by its handler's `#[utoipa::path]`; the helpdesk's user calls
/// of `default` are served again under `/tenants/{tenant}` for every tenant.
pub fn table() -> Table {
    let users = || {
        [
            (
                "/users",
                vec![op!(get, users::list_users), op!(post, users::create_user)],
            ),
            (
                "/users/{username}",
                vec![op!(get, users::get_user), op!(delete, users::delete_user)],
            ),
            (
                "/users/{username}/unlock",
                vec![op!(post, users::unlock_user)],
            ),
            (
                "/users/{username}/sessions/end",
                vec![op!(post, users::end_user_sessions)],
            ),
            (
                "/users/{username}/transactions",
                vec![op!(get, users::user_transactions)],
            ),
            (
                "/users/{username}/fido/credentials",
                vec![op!(get, users::user_credentials)],
            ),
            (
                "/users/{username}/fido/credentials/{credential_id}",
                vec![
                    op!(patch, users::change_credential),
                    op!(delete, users::delete_credential),
                ],
            ),
        ]
    };
    let mut table = Table::scope("/rest/admin", resource).shared(openapi::admin_operation);
    for (path, ops) in users() {
        table = table.at(path, ops);
    }
    for (path, ops) in users() {
        table = table.at_under("/tenants/{tenant}", "InTenant", path, ops);
    }
    table
        .at(
            "/tenants",
            [
                op!(get, tenants::list_tenants),
                op!(post, tenants::create_tenant),
            ],
        )
        .at(
            "/tenants/{tenant}",
            [
                op!(get, tenants::get_tenant),
                op!(put, tenants::update_tenant),
                op!(delete, tenants::delete_tenant),
            ],
        )
        .at(
            "/tenants/{tenant}/import",
            [op!(post, tenants::import_users)],
        )
        .at("/audit", [op!(get, audit_events)])
        .at("/token", [op!(get, token_info)])
        .at(
            "/mds",
            [op!(get, metadata_status), op!(put, import_metadata)],
        )
        .at("/mds/reevaluate", [op!(post, reevaluate_metadata)])
}

/// The caller's token, of any role (`/metrics` takes a `metrics` token too); a call without a
/// valid one is logged (never the token) and refused.
pub(super) fn token_holder(req: &HttpRequest, e: &Engine) -> Result<Actor, ApiError> {
    Ok(e.admin_actor(bearer(req).as_deref()).inspect_err(|_| {
        tracing::warn!(
            remote = request_ctx(req, e).remote_address.as_deref().unwrap_or("?"),
            path = req.path(),
            "administration call without a valid token"
        );
    })?)
}

/// The caller's token, for the administration API: a token whose role may not use it at all
/// (`metrics`) is refused and audited like any call its role does not allow.
async fn actor(req: &HttpRequest, e: &web::Data<Engine>) -> Result<Actor, ApiError> {
    let actor = token_holder(req, e)?;
    if actor.require_helpdesk().is_err() {
        run_as(req, e.clone(), actor.clone(), |_, a, _| {
            a.require_helpdesk()
        })
        .await?;
    }
    Ok(actor)
}

/// Checks the token, then runs `call` on the blocking pool.
async fn run<T, F>(req: &HttpRequest, e: web::Data<Engine>, call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Engine, &Actor, &RequestCtx) -> EngineResult<T> + Send + 'static,
{
    let actor = actor(req, &e).await?;
    run_as(req, e, actor, call).await
}

/// Runs `call` for a checked token on the blocking pool (handlers with a body check the token
/// before they look at the body); a call the token's role or tenants do not allow is audited.
async fn run_as<T, F>(
    req: &HttpRequest,
    e: web::Data<Engine>,
    actor: Actor,
    call: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Engine, &Actor, &RequestCtx) -> EngineResult<T> + Send + 'static,
{
    let cx = request_ctx(req, &e);
    let engine = e.get_ref().clone();
    let call_name = format!("{} {}", req.method(), req.path());
    let tenant = req.match_info().get("tenant").map(str::to_owned);
    let username = req.match_info().get("username").map(str::to_owned);
    let answer = web::block(move || {
        let result = call(&engine, &actor, &cx);
        if let Err(
            refusal @ (EngineError::AdminRoleMissing | EngineError::AdminTenantForbidden(_)),
        ) = &result
        {
            engine.audit_refusal(
                &actor,
                &cx,
                &call_name,
                tenant.as_deref(),
                username.as_deref(),
                refusal,
            );
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

/// A path segment by name (`""` when the route has none).
fn segment(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_owned()
}

#[utoipa::path(
    get,
    path = "/rest/admin/audit",
    summary = "Read the audit trail (helpdesk)",
    description = "`audit.event`s, newest first, a page at a time. With a `filter[…]`, a call \
        reads at most 10 000 records: a page may then hold fewer events than asked for (even \
        none) and still have a `meta.page.next` to read on from.",
    params(s::AuditQuery),
    responses(
        (status = 200, description = "A page of `audit.event`s", body = ListDocument<s::AuditEvent>),
        (status = 400, description = "`INVALID_REQUEST`: a page size outside 1–100, a cursor \
            that is not one, an unknown event name or outcome, a time that is not RFC 3339, \
            `filter[from]` not before `filter[to]`", body = ErrorDocument),
    )
)]
async fn audit_events(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let mut q = query(&req);
    let page = page(&mut q);
    let filter = AuditQuery {
        tenant: q.remove("tenant"),
        username: q.remove("username"),
        event: q.remove("filter[event]"),
        outcome: q.remove("filter[outcome]"),
        from: q.remove("filter[from]"),
        to: q.remove("filter[to]"),
    };
    let answer = run(&req, e, move |e, a, _| e.audit_events(a, &filter, &page)).await?;
    Ok(respond_paged(render::audit(answer), &req))
}

#[utoipa::path(
    get,
    path = "/rest/admin/token",
    summary = "The calling token (helpdesk)",
    description = "Its name, role and the tenants it may act on, so that a console can offer \
        only what the role may do; the calls themselves decide.",
    responses(
        (status = 200, description = "The `admin.token`", body = Document<s::Token>),
    )
)]
async fn token_info(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    Ok(respond(render::token(
        run(&req, e, move |_, a, _| Ok(a.clone())).await?,
    )))
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
    let actor = actor(&req, &e).await?; // the token before up to 32 MiB of body
    let jwt = blob_body(&req, payload).await?;
    Ok(respond(render::metadata(
        run_as(&req, e, actor, move |e, a, cx| {
            e.import_metadata(a, cx, &jwt)
        })
        .await?,
    )))
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
    Ok(respond(render::reevaluation(
        run(&req, e, move |e, a, cx| e.reevaluate_metadata(a, cx)).await?,
    )))
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
    Ok(respond(render::metadata(
        run(&req, e, move |e, a, _| e.metadata_status(a)).await?,
    )))
}
