//! `GET /metrics`: the server's metrics in the Prometheus text format, rendered by the engine.
//! On the admin listener (`admin.bind`) it needs no token; on the public listener (when there is
//! no admin listener) it needs an admin token of any role, `metrics` included, and answers the
//! admin API's `401 NOT_AUTHENTICATED` without one. The rule follows the listener the router
//! matched the route on, so every spelling of the path the router takes for `/metrics` gets it.

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use super::admin::token_holder;
use super::error::ApiError;
use super::middleware::method_not_allowed;
use super::openapi;
use super::routes::{op, Table};
use crate::engine::metrics::CONTENT_TYPE;
use crate::engine::Engine;

/// Application data of the admin listener's app: `/metrics` is open there.
#[derive(Debug, Clone, Copy)]
pub struct OnAdminListener;

/// Registers the route; `admin_listener`: on the admin listener's app, which it marks as such.
pub fn routes(cfg: &mut ServiceConfig, admin_listener: bool) {
    if admin_listener {
        cfg.app_data(web::Data::new(OnAdminListener));
    }
    table().register(cfg);
}

pub fn table() -> Table {
    Table::root(|path| web::resource(path).default_service(web::to(method_not_allowed)))
        .shared(openapi::metrics_operation)
        .at("/metrics", [op!(get, serve_metrics)])
}

#[utoipa::path(
    get,
    path = "/metrics",
    summary = "The server's metrics, for Prometheus",
    description = "The Prometheus text exposition format (0.0.4): `fidoflow_server_busy_total`, \
        `fidoflow_ceremonies_total`, `fidoflow_metadata_age_seconds`, the store's flushes, \
        `fidoflow_http_request_duration_seconds` (by route pattern), \
        `fidoflow_active_sessions`, `fidoflow_locks_engaged_total`. With `admin.bind` set, \
        served on the admin listener alone, without a token; otherwise on the public listener \
        with an admin token of any role (`metrics`, `helpdesk` or `admin`).",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4", body = String),
    )
)]
async fn serve_metrics(req: HttpRequest, e: web::Data<Engine>) -> Result<HttpResponse, ApiError> {
    if req.app_data::<web::Data<OnAdminListener>>().is_none() {
        token_holder(&req, &e)?;
    }
    Ok(HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(e.render_metrics()))
}
