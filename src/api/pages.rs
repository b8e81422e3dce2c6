//! The browser pages: the self-service portal at `/`, the helpdesk page at `/helpdesk`, and their
//! assets under `/static`, all read from `server.static_dir`, else built in (`assets`). A page
//! asked for at an IP address is sent to the configured origin (`origin_help`).

use actix_files::NamedFile;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::openapi;
use super::routes::{op, Table};
use crate::engine::Engine;

/// `/` and `/helpdesk` (the assets are a file service of their own).
pub fn table() -> Table {
    Table::root(|path| web::resource(path))
        .shared(openapi::page_operation)
        .at("/", [op!(get, portal)])
        .at("/helpdesk", [op!(get, helpdesk)])
}

async fn page(
    req: HttpRequest,
    engine: web::Data<Engine>,
    file: &str,
) -> Result<HttpResponse, ApiError> {
    let settings = engine.settings();
    if let Some(redirect) = super::origin_help::page_redirect(&req, &settings.relying_party.origins)
    {
        return Ok(redirect);
    }
    let Some(dir) = &settings.server.static_dir else {
        return super::assets::shipped(&req, file);
    };
    let path = dir.join(file);
    let named = NamedFile::open_async(&path).await.map_err(|e| {
        ApiError::Internal(format!("the page {} cannot be read: {e}", path.display()))
    })?;
    Ok(named.use_etag(true).into_response(&req))
}

#[utoipa::path(
    get,
    path = "/",
    summary = "The self-service portal",
    responses((status = 200, description = "The portal page", content_type = "text/html", body = String))
)]
pub async fn portal(req: HttpRequest, engine: web::Data<Engine>) -> Result<HttpResponse, ApiError> {
    page(req, engine, "index.html").await
}

#[utoipa::path(
    get,
    path = "/helpdesk",
    summary = "The helpdesk page",
    description = "The page asks for an admin token and calls `/rest/admin`.",
    responses((status = 200, description = "The helpdesk page", content_type = "text/html", body = String))
)]
pub async fn helpdesk(
    req: HttpRequest,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ApiError> {
    page(req, engine, "helpdesk.html").await
}

/// `/static/…`: the pages' scripts, styles and images.
pub fn assets(static_dir: &std::path::Path) -> actix_files::Files {
    actix_files::Files::new("/static", static_dir).prefer_utf8(true)
}
