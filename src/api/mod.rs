//! The HTTP edge: one folder (or file) per wire shape, each a thin layer that parses its
//! requests, calls one engine use case and renders the typed outcome in its own format —
//! `loginapp/` (the browser-facing JSON:API of Airlock IAM's Loginapp), `admin.rs` (helpdesk and
//! administration), `authfi/` (the AuthFi-shaped relying-party API), `onespan/` (the
//! OneSpan-shaped one, with transaction signing), `uaf.rs` (the FIDO UAF 1.1 transport),
//! `conformance.rs` (the FIDO conformance-tool
//! API), `evidence.rs` (the evidence key's public half) — and what they share: the route tables (`routes.rs`: every route is
//! registered with its OpenAPI operation, and [`route_list`] lists them), the OpenAPI document
//! of them all (`openapi.rs`, from the wire types in `schema/`), JSON:API documents and the
//! error mapping of the Loginapp and admin shapes (`document.rs`, `error.rs`), extractors,
//! middleware (with the access log), the backend callers' tenant and key check (`backend.rs`),
//! `/metrics` (`metrics.rs`), `/health/live` and `/health/ready` (`health.rs`) and the pages. No
//! business decisions here. Imports only `engine` (and the types it hands out); never `store`,
//! `fido`, `flow`, `config` or `startup`.

pub mod admin;
mod assets;
pub mod authfi;
pub mod backend;
pub mod conformance;
pub mod document;
pub mod error;
pub mod evidence;
pub mod extract;
pub mod health;
pub mod loginapp;
pub mod metrics;
pub mod middleware;
pub mod onespan;
pub mod openapi;
mod origin_help;
pub mod pages;
pub mod routes;
pub mod schema;
pub mod uaf;

use actix_web::http::Method;
use actix_web::web::ServiceConfig;

use routes::Table;

/// The name of the session cookie (set by the session middleware `startup` builds, read by the
/// one-request-per-session guard).
pub const SESSION_COOKIE: &str = "FIDOFLOW_SESSION";

/// The client certificate (DER, the leaf) a caller presented on the TLS connection of its
/// request; a connection's data, put there by the HTTPS listener (`crate::tls`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate(pub Vec<u8>);

/// The browser pages and their assets.
pub fn page_routes(cfg: &mut ServiceConfig, static_dir: Option<&std::path::Path>) {
    pages::table().register(cfg);
    match static_dir {
        Some(dir) => cfg.service(pages::assets(dir)),
        None => cfg.service(assets::routes()),
    };
}

/// Routes of the public listener: the browser-facing Loginapp REST API and `/openapi.json` (and,
/// unless `admin.bind` puts it elsewhere, the admin API).
pub fn public_routes(cfg: &mut ServiceConfig) {
    health::routes(cfg);
    loginapp::routes(cfg);
    openapi::table().register(cfg);
    evidence::table().register(cfg);
}

/// Routes of the relying-party backend APIs, under each tenant's access path: the AuthFi and
/// OneSpan shapes and the FIDO conformance API. Registered after every fixed route, so a first path segment the
/// server uses itself is never taken for an access path.
pub fn tenant_routes(cfg: &mut ServiceConfig) {
    authfi::routes(cfg);
    onespan::routes(cfg);
    uaf::routes(cfg);
    conformance::routes(cfg);
}

/// Routes of the administration API (see `admin/`) and `GET /metrics` (see `metrics.rs`);
/// `admin_listener`: on the admin listener of `admin.bind` rather than the public one, which
/// answers the health endpoints too (the public listener has them from `public_routes`).
pub fn admin_routes(cfg: &mut ServiceConfig, admin_listener: bool) {
    if admin_listener {
        health::routes(cfg);
    }
    admin::routes(cfg);
    metrics::routes(cfg, admin_listener);
}

/// Every route table of the server (the admin API's too, wherever it listens).
pub fn tables() -> Vec<Table> {
    let mut tables = loginapp::tables();
    tables.extend([
        health::table(),
        openapi::table(),
        evidence::table(),
        pages::table(),
        admin::table(),
        metrics::table(),
        authfi::table(),
        onespan::table(),
        uaf::table(),
        conformance::table(),
    ]);
    tables
}

/// `(method, path pattern)` of every route the tables register (not the asset tree under
/// `/static`, nor the default services that answer `404`/`405`).
pub fn route_list() -> Vec<(Method, String)> {
    tables().iter().flat_map(Table::list).collect()
}
