//! The helpdesk's calls on a tenant's users and their credentials, served twice: under
//! `/rest/admin/users…` for `default` and under `/rest/admin/tenants/{tenant}/users…` for any
//! tenant. The handlers read the tenant, username and credential id from the path by name.

use actix_web::web;
use actix_web::HttpRequest;

use super::{actor, page, query, render, run, run_as, segment, Reply};
use crate::api::document::{respond, respond_paged};
use crate::api::extract::JsonBody;
use crate::api::schema::admin as s;
use crate::api::schema::loginapp::Credential;
use crate::api::schema::{Document, ErrorDocument, ListDocument};
use crate::engine::{CredentialChange, Engine, NewUser, DEFAULT_TENANT};

/// The tenant of the path: `default` under `/rest/admin/users`.
fn tenant(req: &HttpRequest) -> String {
    req.match_info()
        .get("tenant")
        .unwrap_or(DEFAULT_TENANT)
        .to_owned()
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
pub(super) async fn list_users(req: HttpRequest, e: web::Data<Engine>) -> Reply {
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
pub(super) async fn get_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::user(
        run(&req, e, move |e, a, _| e.get_user(a, &tenant, &username)).await?,
    )))
}

#[utoipa::path(
    get,
    path = "/rest/admin/users/{username}/transactions",
    summary = "A user's validated transactions (helpdesk)",
    description = "Newest first (at most 1000), each with its signed evidence, which \
        `fidoflow verify transaction` checks offline.",
    params(s::UserPath),
    responses(
        (status = 200, description = "The `user.transaction`s", body = ListDocument<s::Transaction>),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorDocument),
    )
)]
pub(super) async fn user_transactions(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::transactions(
        run(&req, e, move |e, a, _| {
            e.user_transactions(a, &tenant, &username)
        })
        .await?,
    )))
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
pub(super) async fn delete_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::user(
        run(&req, e, move |e, a, cx| {
            e.delete_user(a, cx, &tenant, &username)
        })
        .await?,
    )))
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
pub(super) async fn unlock_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::user(
        run(&req, e, move |e, a, cx| {
            e.unlock_user(a, cx, &tenant, &username)
        })
        .await?,
    )))
}

#[utoipa::path(
    post,
    path = "/rest/admin/users/{username}/sessions/end",
    summary = "Sign a user out everywhere (helpdesk)",
    description = "Ends every session of the user, as after a lost device (audited \
        `SESSIONS_ENDED` with how many ended). Users of other tenants than `default` have no \
        sessions here.",
    params(s::UserPath),
    responses(
        (status = 200, description = "The `user`", body = Document<s::User>),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorDocument),
    )
)]
pub(super) async fn end_user_sessions(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::user(
        run(&req, e, move |e, a, cx| {
            e.end_user_sessions(a, cx, &tenant, &username)
        })
        .await?,
    )))
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
pub(super) async fn user_credentials(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    Ok(respond(render::credentials(
        run(&req, e, move |e, a, _| {
            e.user_credentials(a, &tenant, &username)
        })
        .await?,
    )))
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
pub(super) async fn create_user(req: HttpRequest, e: web::Data<Engine>, body: JsonBody) -> Reply {
    let actor = actor(&req, &e).await?; // a bad token is told before a bad body
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
pub(super) async fn change_credential(
    req: HttpRequest,
    e: web::Data<Engine>,
    body: JsonBody,
) -> Reply {
    let actor = actor(&req, &e).await?; // a bad token is told before a bad body
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
pub(super) async fn delete_credential(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let (tenant, username) = (tenant(&req), segment(&req, "username"));
    let id = segment(&req, "credential_id");
    Ok(respond(render::credential(
        run(&req, e, move |e, a, cx| {
            e.delete_credential(a, cx, &tenant, &username, &id)
        })
        .await?,
    )))
}
