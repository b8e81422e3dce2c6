//! The tenants through the admin API: list, show, make, replace and delete them, and import
//! users into one. The settings are the JSON object of a `[[tenants]]` entry; an import is JSON
//! lines, read (16 MiB at most) only after the token was checked.

use actix_web::web::{self, ServiceConfig};
use actix_web::HttpRequest;

use super::{actor, render, resource, run, run_as, segment, Reply};
use crate::api::document::respond;
use crate::api::extract::{ndjson_body, JsonBody};
use crate::engine::Engine;

pub(super) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(
        resource("/tenants")
            .route(web::get().to(list_tenants))
            .route(web::post().to(create_tenant)),
    )
    .service(
        resource("/tenants/{tenant}")
            .route(web::get().to(get_tenant))
            .route(web::put().to(update_tenant))
            .route(web::delete().to(delete_tenant)),
    )
    .service(resource("/tenants/{tenant}/import").route(web::post().to(import_users)));
}

async fn list_tenants(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    Ok(respond(render::tenants(
        run(&req, e, move |e, a, _| e.list_tenants(a)).await?,
    )))
}

async fn get_tenant(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let id = segment(&req, "tenant");
    Ok(respond(render::tenant(
        run(&req, e, move |e, a, _| e.get_tenant(a, &id)).await?,
    )))
}

async fn create_tenant(req: HttpRequest, e: web::Data<Engine>, body: JsonBody) -> Reply {
    let actor = actor(&req, &e)?; // a bad token is told before a bad body
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

async fn update_tenant(req: HttpRequest, e: web::Data<Engine>, body: JsonBody) -> Reply {
    let actor = actor(&req, &e)?; // a bad token is told before a bad body
    let id = segment(&req, "tenant");
    Ok(respond(render::tenant(
        run_as(&req, e, actor, move |e, a, cx| {
            e.update_tenant(a, cx, &id, body.0)
        })
        .await?,
    )))
}

async fn delete_tenant(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let id = segment(&req, "tenant");
    Ok(respond(render::tenant(
        run(&req, e, move |e, a, cx| e.delete_tenant(a, cx, &id)).await?,
    )))
}

async fn import_users(req: HttpRequest, e: web::Data<Engine>, payload: web::Payload) -> Reply {
    let actor = actor(&req, &e)?; // the token before up to 16 MiB of body
    let id = segment(&req, "tenant");
    let body = ndjson_body(&req, payload).await?;
    Ok(respond(render::import(
        run_as(&req, e, actor, move |e, a, cx| {
            e.import_users(a, cx, &id, &body)
        })
        .await?,
    )))
}
