//! The tenants through the admin API: list, show, make, replace and delete them, and import
//! users into one. The settings are the JSON object of a `[[tenants]]` entry; an import is JSON
//! lines, read (16 MiB at most) only after the token was checked.

use actix_web::web;
use actix_web::HttpRequest;

use super::{actor, render, run, run_as, segment, Reply};
use crate::api::document::respond;
use crate::api::extract::{ndjson_body, JsonBody};
use crate::api::schema::admin as s;
use crate::api::schema::{Document, ErrorDocument, ListDocument};
use crate::engine::Engine;

#[utoipa::path(
    get,
    path = "/rest/admin/tenants",
    summary = "List the tenants (helpdesk)",
    description = "Every tenant the token may act on, `default` first.",
    responses((status = 200, description = "`tenant`s", body = ListDocument<s::Tenant>))
)]
pub(super) async fn list_tenants(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    Ok(respond(render::tenants(
        run(&req, e, move |e, a, _| e.list_tenants(a)).await?,
    )))
}

#[utoipa::path(
    get,
    path = "/rest/admin/tenants/{tenant}",
    summary = "Get a tenant (helpdesk)",
    params(s::TenantPath),
    responses(
        (status = 200, description = "The `tenant`", body = Document<s::Tenant>),
        (status = 404, description = "`TENANT_NOT_FOUND`", body = ErrorDocument),
    )
)]
pub(super) async fn get_tenant(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let id = segment(&req, "tenant");
    Ok(respond(render::tenant(
        run(&req, e, move |e, a, _| e.get_tenant(a, &id)).await?,
    )))
}

#[utoipa::path(
    post,
    path = "/rest/admin/tenants",
    summary = "Make a tenant (admin)",
    description = "Checked as the configuration's `[[tenants]]` are, stored, and served at its \
        access path at once (audited `TENANT_CREATED`).",
    request_body = s::TenantSettings,
    responses(
        (status = 201, description = "The new `tenant`", body = Document<s::Tenant>),
        (status = 400, description = "`INVALID_TENANT`, `INVALID_REQUEST`", body = ErrorDocument),
        (status = 409, description = "`TENANT_EXISTS`", body = ErrorDocument),
    )
)]
pub(super) async fn create_tenant(req: HttpRequest, e: web::Data<Engine>, body: JsonBody) -> Reply {
    let actor = actor(&req, &e).await?; // a bad token is told before a bad body
    Ok(respond(
        render::tenant(
            run_as(&req, e, actor, move |e, a, cx| {
                e.create_tenant(a, cx, body.0)
            })
            .await?,
        )
        .created(),
    ))
}

#[utoipa::path(
    put,
    path = "/rest/admin/tenants/{tenant}",
    summary = "Replace a tenant's settings (admin)",
    description = "Only tenants made through this API; its users stay (audited \
        `TENANT_UPDATED`).",
    params(s::TenantPath),
    request_body = s::TenantSettings,
    responses(
        (status = 200, description = "The `tenant`", body = Document<s::Tenant>),
        (status = 400, description = "`INVALID_TENANT`, `INVALID_REQUEST`", body = ErrorDocument),
        (status = 404, description = "`TENANT_NOT_FOUND`", body = ErrorDocument),
        (status = 409, description = "`TENANT_READ_ONLY`, `TENANT_EXISTS`", body = ErrorDocument),
    )
)]
pub(super) async fn update_tenant(req: HttpRequest, e: web::Data<Engine>, body: JsonBody) -> Reply {
    let actor = actor(&req, &e).await?; // a bad token is told before a bad body
    let id = segment(&req, "tenant");
    Ok(respond(render::tenant(
        run_as(&req, e, actor, move |e, a, cx| {
            e.update_tenant(a, cx, &id, body.0)
        })
        .await?,
    )))
}

#[utoipa::path(
    delete,
    path = "/rest/admin/tenants/{tenant}",
    summary = "Delete a tenant (admin)",
    description = "Only tenants made through this API, with all their users and credentials \
        (audited `TENANT_DELETED`; the audit events stay).",
    params(s::TenantPath),
    responses(
        (status = 200, description = "The deleted `tenant`", body = Document<s::Tenant>),
        (status = 404, description = "`TENANT_NOT_FOUND`", body = ErrorDocument),
        (status = 409, description = "`TENANT_READ_ONLY`", body = ErrorDocument),
    )
)]
pub(super) async fn delete_tenant(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let id = segment(&req, "tenant");
    Ok(respond(render::tenant(
        run(&req, e, move |e, a, cx| e.delete_tenant(a, cx, &id)).await?,
    )))
}

#[utoipa::path(
    post,
    path = "/rest/admin/tenants/{tenant}/import",
    summary = "Import users with their credentials (admin)",
    description = "JSON lines, one user with their credentials per line, each all or nothing \
        (see the README for the members); at most 16 MiB and 10,000 users.",
    params(s::TenantPath),
    request_body(
        content = String,
        content_type = "application/x-ndjson",
        description = "One JSON object per line (`application/jsonl` is taken too)"
    ),
    responses(
        (status = 200, description = "The `tenant.import` report", body = Document<s::ImportReport>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorDocument),
        (status = 404, description = "`TENANT_NOT_FOUND`", body = ErrorDocument),
        (status = 413, description = "`REQUEST_TOO_LARGE`", body = ErrorDocument),
    )
)]
pub(super) async fn import_users(
    req: HttpRequest,
    e: web::Data<Engine>,
    payload: web::Payload,
) -> Reply {
    let actor = actor(&req, &e).await?; // the token before up to 16 MiB of body
    let id = segment(&req, "tenant");
    let body = ndjson_body(&req, payload).await?;
    Ok(respond(render::import(
        run_as(&req, e, actor, move |e, a, cx| {
            e.import_users(a, cx, &id, &body)
        })
        .await?,
    )))
}
