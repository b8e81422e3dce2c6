//! `GET /health/live` and `GET /health/ready`: for a load balancer or an orchestrator, without
//! a token, on the public listener and on the admin listener when there is one. `live` answers
//! `200` while the process serves requests; `ready` answers `200` when the store takes writes and
//! the flows and metadata are loaded, else `503` with the reason. Both are logged at debug, not
//! info (see `middleware::access_log`).

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, ServiceConfig};
use actix_web::HttpResponse;
use serde::Serialize;

use super::error::ApiError;
use super::middleware::method_not_allowed;
use super::openapi;
use super::routes::{op, Table};
use crate::engine::Engine;

/// The paths under which the health endpoints answer (and are logged at debug).
pub const HEALTH_PREFIX: &str = "/health/";

/// The answer of both endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `live`, `ready` or `not ready`.
    status: &'static str,
    /// Why the server is not ready: every failed check, `name: detail`, joined by `; `.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Each check of readiness (`store`, `flows`, `metadata`) with what it found.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    checks: BTreeMap<&'static str, String>,
}

pub fn routes(cfg: &mut ServiceConfig) {
    table().register(cfg);
}

pub fn table() -> Table {
    Table::root(|path| web::resource(path).default_service(web::to(method_not_allowed)))
        .shared(openapi::health_operation)
        .at("/health/live", [op!(get, live)])
        .at("/health/ready", [op!(get, ready)])
}

fn answer(status: StatusCode, body: &Health) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

#[utoipa::path(
    get,
    path = "/health/live",
    summary = "Liveness: the process serves requests",
    description = "Always `200 {\"status\":\"live\"}` while the server answers at all. No token.",
    responses((status = 200, description = "The server is up", body = inline(Health)))
)]
async fn live() -> HttpResponse {
    answer(
        StatusCode::OK,
        &Health {
            status: "live",
            reason: None,
            checks: BTreeMap::new(),
        },
    )
}

#[utoipa::path(
    get,
    path = "/health/ready",
    summary = "Readiness: the server can serve requests",
    description = "`200` when the store takes writes (a key written and read back, not \
        flushed) and the flows and FIDO metadata are loaded; `503` with `reason` otherwise. \
        `checks` names what each check found. No token.",
    responses(
        (status = 200, description = "Ready", body = inline(Health)),
        (status = 503, description = "Not ready, with the reason", body = inline(Health)),
    )
)]
async fn ready(engine: web::Data<Engine>) -> Result<HttpResponse, ApiError> {
    let engine = engine.into_inner();
    let readiness = web::block(move || engine.readiness())
        .await
        .map_err(|e| ApiError::Internal(format!("the readiness check did not run: {e}")))?;
    let checks = readiness
        .checks
        .iter()
        .map(|c| (c.name, c.detail.clone()))
        .collect();
    Ok(match readiness.reason() {
        None => answer(
            StatusCode::OK,
            &Health {
                status: "ready",
                reason: None,
                checks,
            },
        ),
        Some(reason) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &Health {
                status: "not ready",
                reason: Some(reason),
                checks,
            },
        ),
    })
}
