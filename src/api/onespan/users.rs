//! The tenant's users and their authenticators: make, read and delete a user; list, rename and
//! deregister authenticators.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::OneSpanError;
use super::render::{authenticator, user};
use super::{
    answer, body, call, check_domain, onespan_caller, required_text, s, text, user_path, Reply,
};
use crate::api::backend::Caller;
use crate::engine::{Engine, UserView, Who};

#[utoipa::path(
    post,
    path = "/{access_path}/v1/users",
    operation_id = "onespan_create_user",
    summary = "Make a user",
    request_body = s::OneSpanNewUser,
    responses(
        (status = 201, description = "The user", body = s::OneSpanUser),
        (status = 409, description = "A user with this userID exists", body = s::OneSpanError),
    )
)]
pub(super) async fn create_user(req: HttpRequest, e: web::Data<Engine>, p: web::Payload) -> Reply {
    let Caller { tenant, cx } = onespan_caller(&req, &e)?;
    let (body, _) = body(&req, p).await?;
    let name = required_text(&body, "userID")?.to_string();
    let domain = required_text(&body, "domain")?.to_string();
    check_domain(&tenant, &domain)?;
    let display_name = text(&body, "displayName")?.map(str::to_string);
    let engine = e.get_ref().clone();
    let made = call(move || {
        engine
            .backend_create_user(&tenant, &cx, &name, display_name.as_deref())
            .map_err(OneSpanError::of_engine)
    })
    .await?;
    Ok(answer(StatusCode::CREATED, user(&made, &domain)))
}

#[utoipa::path(
    get,
    path = "/{access_path}/v1/users/{user}",
    operation_id = "onespan_get_user",
    summary = "Get a user",
    params(s::OneSpanUserPath),
    responses((status = 200, description = "The user", body = s::OneSpanUser))
)]
pub(super) async fn get_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, .. } = onespan_caller(&req, &e)?;
    let (name, domain) = user_path(&req, &tenant)?;
    let engine = e.get_ref().clone();
    let found = call(move || {
        engine
            .find_user(&tenant, Who::Name(&name))
            .map_err(OneSpanError::of_engine)
    })
    .await?;
    Ok(answer(StatusCode::OK, user(&UserView::of(&found), &domain)))
}

#[utoipa::path(
    delete,
    path = "/{access_path}/v1/users/{user}",
    operation_id = "onespan_delete_user",
    summary = "Delete a user and every authenticator of theirs",
    params(s::OneSpanUserPath),
    responses((status = 204, description = "Deleted"))
)]
pub(super) async fn delete_user(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, cx } = onespan_caller(&req, &e)?;
    let (name, _) = user_path(&req, &tenant)?;
    let engine = e.get_ref().clone();
    call(move || {
        engine
            .backend_delete_user(&tenant, &cx, Who::Name(&name))
            .map_err(OneSpanError::of_engine)
    })
    .await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("cache-control", "no-store"))
        .finish())
}

#[utoipa::path(
    get,
    path = "/{access_path}/v1/users/{user}/fido-authenticators",
    operation_id = "onespan_list_authenticators",
    summary = "List the user's FIDO authenticators",
    params(s::OneSpanUserPath),
    responses((status = 200, description = "The authenticators, oldest first", body = s::AuthenticatorList))
)]
pub(super) async fn list_authenticators(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, .. } = onespan_caller(&req, &e)?;
    let (name, _) = user_path(&req, &tenant)?;
    let engine = e.get_ref().clone();
    let (_, keys) = call(move || {
        engine
            .backend_keys(&tenant, Who::Name(&name))
            .map_err(OneSpanError::of_engine)
    })
    .await?;
    Ok(answer(
        StatusCode::OK,
        json!({ "authenticators": keys.iter().map(authenticator).collect::<Vec<_>>() }),
    ))
}

fn authenticator_id(req: &HttpRequest) -> String {
    req.match_info()
        .get("authenticator")
        .unwrap_or_default()
        .to_string()
}

#[utoipa::path(
    put,
    path = "/{access_path}/v1/users/{user}/fido-authenticators/{authenticator}",
    operation_id = "onespan_rename_authenticator",
    summary = "Rename an authenticator",
    params(s::OneSpanUserPath, s::AuthenticatorPath),
    request_body = s::AuthenticatorUpdate,
    responses((status = 200, description = "The authenticator", body = s::Authenticator))
)]
pub(super) async fn rename_authenticator(
    req: HttpRequest,
    e: web::Data<Engine>,
    p: web::Payload,
) -> Reply {
    let Caller { tenant, cx } = onespan_caller(&req, &e)?;
    let (name, _) = user_path(&req, &tenant)?;
    let (body, _) = body(&req, p).await?;
    let display_name = required_text(&body, "displayName")?.to_string();
    let id = authenticator_id(&req);
    let engine = e.get_ref().clone();
    let key = call(move || {
        engine
            .backend_update_key(
                &tenant,
                &cx,
                Who::Name(&name),
                &id,
                Some(&display_name),
                None,
            )
            .map_err(OneSpanError::of_engine)
    })
    .await?;
    Ok(answer(StatusCode::OK, authenticator(&key)))
}

#[utoipa::path(
    delete,
    path = "/{access_path}/v1/users/{user}/fido-authenticators/{authenticator}",
    operation_id = "onespan_delete_authenticator",
    summary = "Deregister an authenticator",
    description = "A FIDO2 authenticator: 204. A UAF one: 200 with the stringified \
        `DeregistrationRequest` to pass on to the app.",
    params(s::OneSpanUserPath, s::AuthenticatorPath),
    responses(
        (status = 204, description = "Deregistered"),
        (status = 200, description = "A UAF key deregistered: `{deregistrationRequest, uafStatusCode}`"),
    )
)]
pub(super) async fn delete_authenticator(req: HttpRequest, e: web::Data<Engine>) -> Reply {
    let Caller { tenant, cx } = onespan_caller(&req, &e)?;
    let (name, _) = user_path(&req, &tenant)?;
    let id = authenticator_id(&req);
    let engine = e.get_ref().clone();
    let deregistration = call(move || {
        let key = engine
            .backend_delete_key(&tenant, &cx, Who::Name(&name), &id)
            .map_err(OneSpanError::of_engine)?;
        Ok(engine.uaf_deregistration_of(&tenant, &key))
    })
    .await?;
    // A UAF key: the app must be told to forget it too.
    Ok(match deregistration {
        Some(request) => answer(
            StatusCode::OK,
            json!({"deregistrationRequest": request.to_string(), "uafStatusCode": 1200}),
        ),
        None => HttpResponse::NoContent()
            .insert_header(("cache-control", "no-store"))
            .finish(),
    })
}
