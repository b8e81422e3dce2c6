//! The HTTP edge: one folder (or file) per wire shape, each a thin layer that parses its
//! requests, calls one engine use case and renders the typed outcome in its own format —
//! `loginapp/` (the browser-facing JSON:API of Airlock IAM's Loginapp), `admin.rs` (helpdesk and
//! administration), `authfi/` (the AuthFi-shaped relying-party API), `conformance.rs` (the FIDO
//! conformance-tool API) — and what they share: the route table below, JSON:API documents and the
//! error mapping of the Loginapp and admin shapes (`document.rs`, `error.rs`), extractors,
//! middleware, the backend callers' tenant and key check (`backend.rs`) and the pages. No
//! business decisions here. Imports only `engine` (and the types it hands out); never `store`,
//! `fido`, `flow`, `config` or `startup`.

pub mod admin;
pub mod authfi;
pub mod backend;
pub mod conformance;
pub mod document;
pub mod error;
pub mod extract;
pub mod loginapp;
pub mod middleware;
pub mod pages;

use actix_web::web::{self, ServiceConfig};

/// The name of the session cookie (set by the session middleware `startup` builds, read by the
/// one-request-per-session guard).
pub const SESSION_COOKIE: &str = "FIDOFLOW_SESSION";

/// The browser pages and their assets.
pub fn page_routes(cfg: &mut ServiceConfig, static_dir: &std::path::Path) {
    cfg.service(web::resource("/").route(web::get().to(pages::portal)))
        .service(web::resource("/helpdesk").route(web::get().to(pages::helpdesk)))
        .service(pages::assets(static_dir));
}

/// Routes of the public listener: the browser-facing Loginapp REST API (and, unless
/// `admin.bind` puts it elsewhere, the admin API).
pub fn public_routes(cfg: &mut ServiceConfig) {
    loginapp::routes(cfg);
}

/// Routes of the relying-party backend APIs, under each tenant's access path: the AuthFi shape
/// and the FIDO conformance API. Registered after every fixed route, so a first path segment the
/// server uses itself is never taken for an access path.
pub fn tenant_routes(cfg: &mut ServiceConfig) {
    authfi::routes(cfg);
    conformance::routes(cfg);
}

/// Routes of the administration API (see `admin/`).
pub fn admin_routes(cfg: &mut ServiceConfig) {
    admin::routes(cfg);
}
