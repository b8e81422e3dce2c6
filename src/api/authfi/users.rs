//! The tenant's users and their keys: list, read, rename, disable and delete.

use actix_web::{web, HttpRequest};
use serde_json::json;

use super::error::{AuthFiError, Stage};
use super::render::{key_info, user_json};
use super::{authfi_caller, body, call, ok, s, text, Reply};
use crate::api::backend::Caller;
use crate::api::extract::optional_bool;
use crate::engine::{Engine, Who};

/// `?page=N&size=M`: page from 1, size 20–100 (default 1 and 20).
fn paging(req: &HttpRequest) -> Result<(usize, usize), AuthFiError> {
    let mut page = 1usize;
    let mut size = 20usize;
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        let n = || {
            v.parse::<usize>()
                .map_err(|_| AuthFiError::parameters(format!("`{k}` must be a whole number")))
        };
        match k.as_ref() {
            "page" => page = n()?,
            "size" => size = n()?,
            _ => {}
        }
    }
    if !(1..=100_000).contains(&page) {
        return Err(AuthFiError::parameters("`page` counts from 1"));
    }
    if !(20..=100).contains(&size) {
        return Err(AuthFiError::parameters("`size` must be from 20 to 100"));
    }
    Ok((page, size))
}

#[utoipa::path(
    get,
    path = "/{access_path}/api/v1/users",
    operation_id = "authfi_list_users",
    summary = "List the tenant's users",
    params(s::Paging),
    responses(
        (status = 200, description = "A page of users", body = s::UserList),
        (status = 400, description = "`1002`: a page or size out of range", body = s::AuthFiError),
    )
)]
pub(super) async fn list_users(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, .. } = authfi_caller(&req, &e)?;
    let (page, size) = paging(&req)?;
    let engine = e.get_ref().clone();
    let listed = call(move || {
        engine
            .backend_users(&tenant, page, size)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(json!({
        "users": listed.users.iter().map(user_json).collect::<Vec<_>>(),
        "page": listed.page,
        "size": listed.size,
        "has_more": listed.has_more,
    })))
}

fn uid(req: &HttpRequest) -> String {
    req.match_info().get("uid").unwrap_or_default().to_string()
}

#[utoipa::path(
    get,
    path = "/{access_path}/api/v1/users/{uid}",
    operation_id = "authfi_get_user",
    summary = "Get a user",
    params(s::UserPath),
    responses(
        (status = 200, description = "The user", body = s::UserAnswer),
    )
)]
pub(super) async fn get_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, .. } = authfi_caller(&req, &e)?;
    let uid = uid(&req);
    let engine = e.get_ref().clone();
    let user = call(move || {
        engine
            .find_user(&tenant, Who::Uid(&uid))
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(
        json!({ "user": user_json(&crate::engine::UserView::of(&user)) }),
    ))
}

#[utoipa::path(
    put,
    path = "/{access_path}/api/v1/users/{uid}",
    operation_id = "authfi_update_user",
    summary = "Change a user's display name",
    params(s::UserPath),
    request_body = s::UserUpdate,
    responses(
        (status = 200, description = "The user", body = s::UserAnswer),
        (status = 400, description = "`1002`", body = s::AuthFiError),
    )
)]
pub(super) async fn update_user(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    let Caller { tenant, .. } = authfi_caller(&req, &e)?;
    let body = body(&req, p).await?;
    let display_name = text(&body, "displayName")?
        .ok_or_else(|| AuthFiError::parameters("`displayName` is required"))?
        .to_string();
    let uid = uid(&req);
    let engine = e.get_ref().clone();
    let user = call(move || {
        engine
            .backend_rename_user(&tenant, Who::Uid(&uid), &display_name)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(json!({ "user": user_json(&user) })))
}

#[utoipa::path(
    delete,
    path = "/{access_path}/api/v1/users/{uid}",
    operation_id = "authfi_delete_user",
    summary = "Delete a user and their keys",
    params(s::UserPath),
    responses(
        (status = 200, description = "Done", body = s::Done),
    )
)]
pub(super) async fn delete_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let uid = uid(&req);
    let engine = e.get_ref().clone();
    call(move || {
        engine
            .backend_delete_user(&tenant, &cx, Who::Uid(&uid))
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(json!({})))
}

#[utoipa::path(
    get,
    path = "/{access_path}/api/v1/users/{uid}/keys",
    operation_id = "authfi_list_keys",
    summary = "List a user's keys",
    params(s::UserPath),
    responses(
        (status = 200, description = "The keys", body = s::KeyList),
    )
)]
pub(super) async fn list_keys(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, .. } = authfi_caller(&req, &e)?;
    let uid = uid(&req);
    let engine = e.get_ref().clone();
    let (_, keys) = call(move || {
        engine
            .backend_keys(&tenant, Who::Uid(&uid))
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(
        json!({ "keys": keys.iter().map(key_info).collect::<Vec<_>>() }),
    ))
}

#[utoipa::path(
    put,
    path = "/{access_path}/api/v1/users/{uid}/keys/{credential_id}",
    operation_id = "authfi_update_key",
    summary = "Rename, disable or enable a key",
    params(s::KeyPath),
    request_body = s::KeyUpdate,
    responses(
        (status = 200, description = "The key", body = s::KeyAnswer),
        (status = 400, description = "`1002`: neither member, or one of the wrong type", body = s::AuthFiError),
    )
)]
pub(super) async fn update_key(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let body = body(&req, p).await?;
    let name = text(&body, "name")?.map(str::to_string);
    let enabled = optional_bool(&body, "enabled").map_err(AuthFiError::parameters)?;
    if name.is_none() && enabled.is_none() {
        return Err(AuthFiError::parameters("send `name` or `enabled`"));
    }
    let uid = uid(&req);
    let id = req
        .match_info()
        .get("credential_id")
        .unwrap_or_default()
        .to_string();
    let engine = e.get_ref().clone();
    let key = call(move || {
        engine
            .backend_update_key(&tenant, &cx, Who::Uid(&uid), &id, name.as_deref(), enabled)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))
    })
    .await?;
    Ok(ok(json!({ "key_info": key_info(&key) })))
}

#[utoipa::path(
    delete,
    path = "/{access_path}/api/v1/users/{uid}/keys/{credential_id}",
    operation_id = "authfi_delete_key",
    summary = "Delete a key",
    params(s::KeyPath),
    responses(
        (status = 200, description = "Done", body = s::Done),
    )
)]
pub(super) async fn delete_key(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, cx } = authfi_caller(&req, &e)?;
    let uid = uid(&req);
    let id = req
        .match_info()
        .get("credential_id")
        .unwrap_or_default()
        .to_string();
    let engine = e.get_ref().clone();
    let deregistration = call(move || {
        let key = engine
            .backend_delete_key(&tenant, &cx, Who::Uid(&uid), &id)
            .map_err(|e| AuthFiError::of_engine(e, Stage::Other))?;
        Ok(engine.uaf_deregistration_of(&tenant, &key))
    })
    .await?;
    // A UAF key: the app must be told to forget it too.
    Ok(ok(match deregistration {
        Some(request) => json!({ "uaf_deregistration_request": request.to_string() }),
        None => json!({}),
    }))
}
