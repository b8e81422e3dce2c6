//! The helpdesk's calls on a tenant's users and their credentials, served twice: under
//! `/rest/admin/users…` for `default` and under `/rest/admin/tenants/{tenant}/users…` for any
//! tenant. The handlers read the tenant, username and credential id from the path by name.

use actix_web::web::{self, ServiceConfig};
use actix_web::HttpRequest;

use super::{actor, page, query, render, resource, run, run_as, segment, Reply};
use crate::api::document::{respond, respond_paged};
use crate::api::extract::JsonBody;
use crate::engine::{CredentialChange, Engine, NewUser, DEFAULT_TENANT};

/// The user routes under `prefix` (`""` or `/tenants/{tenant}`).
pub(super) fn routes(cfg: &mut ServiceConfig, prefix: &str) {
    let at = |path: &str| resource(&format!("{prefix}{path}"));
    cfg.service(
        at("/users")
            .route(web::get().to(list_users))
            .route(web::post().to(create_user)),
    )
    .service(
        at("/users/{username}")
            .route(web::get().to(get_user))
            .route(web::delete().to(delete_user)),
    )
    .service(at("/users/{username}/unlock").route(web::post().to(unlock_user)))
    .service(at("/users/{username}/fido/credentials").route(web::get().to(user_credentials)))
    .service(
        at("/users/{username}/fido/credentials/{credential_id}")
            .route(web::patch().to(change_credential))
            .route(web::delete().to(delete_credential)),
    );
}

/// The tenant of the path: `default` under `/rest/admin/users`.
fn tenant(req: &HttpRequest) -> String {
    req.match_info()
        .get("tenant")
        .unwrap_or(DEFAULT_TENANT)
        .to_owned()
}

async fn list_users(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let mut q = query(&req);
    let page = page(&mut q);
    let prefix = q.remove("filter[username]");
    let tenant = tenant(&req);
    let answer = run(&req, e, move |e, a, _| {
        e.list_users(a, &tenant, prefix.as_deref(), &page)
    })
    .await?;
    Ok(respond_paged(render::users(answer), &req))
}

async fn get_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::user(
        run(&req, e, move |e, a, _| e.get_user(a, &tenant, &username)).await?,
    )))
}

async fn delete_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::user(
        run(&req, e, move |e, a, cx| {
            e.delete_user(a, cx, &tenant, &username)
        })
        .await?,
    )))
}

async fn unlock_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::user(
        run(&req, e, move |e, a, cx| {
            e.unlock_user(a, cx, &tenant, &username)
        })
        .await?,
    )))
}

async fn user_credentials(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::credentials(
        run(&req, e, move |e, a, _| {
            e.user_credentials(a, &tenant, &username)
        })
        .await?,
    )))
}

async fn create_user(req: HttpRequest, e: web::Data<Engine>, body: JsonBody) -> Reply {
    let actor = actor(&req, &e)?; // a bad token is told before a bad body
    let new = NewUser {
        username: body.required_str("username")?,
        display_name: body.optional_str("displayName")?,
        password: body.optional_str("password")?,
    };
    let tenant = tenant(&req);
    Ok(respond(
        render::user(
            run_as(&req, e, actor, move |e, a, cx| {
                e.create_user(a, cx, &tenant, new)
            })
            .await?,
        )
        .created(),
    ))
}

async fn change_credential(req: HttpRequest, e: web::Data<Engine>, body: JsonBody) -> Reply {
    let actor = actor(&req, &e)?; // a bad token is told before a bad body
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    let id = segment(&req, "credential_id");
    let change = CredentialChange {
        display_name: body.optional_str("displayName")?,
        enabled: body.optional_bool("enabled")?,
    };
    Ok(respond(render::credential(
        run_as(&req, e, actor, move |e, a, cx| {
            e.change_credential(a, cx, &tenant, &username, &id, change)
        })
        .await?,
    )))
}

async fn delete_credential(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    let id = segment(&req, "credential_id");
    Ok(respond(render::credential(
        run(&req, e, move |e, a, cx| {
            e.delete_credential(a, cx, &tenant, &username, &id)
        })
        .await?,
    )))
}
