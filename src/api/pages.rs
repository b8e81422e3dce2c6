//! The browser pages: the self-service portal at `/`, the helpdesk page at `/helpdesk`, and their
//! assets under `/static`, all read from `server.static_dir`.

use actix_files::NamedFile;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use crate::engine::Engine;

async fn page(
    req: HttpRequest,
    engine: web::Data<Engine>,
    file: &str,
) -> Result<HttpResponse, ApiError> {
    let path = engine.settings().server.static_dir.join(file);
    let named = NamedFile::open_async(&path).await.map_err(|e| {
        ApiError::Internal(format!("the page {} cannot be read: {e}", path.display()))
    })?;
    Ok(named.use_etag(true).into_response(&req))
}

pub async fn portal(req: HttpRequest, engine: web::Data<Engine>) -> Result<HttpResponse, ApiError> {
    page(req, engine, "index.html").await
}

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
