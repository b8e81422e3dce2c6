//! The pages and their assets as shipped in this repository's `static/`, built into the binary
//! (rust-embed), so that a server started in any directory serves them; `server.static_dir`
//! replaces them. Served with a strong ETag (the file's SHA-256, computed at build time).

use std::borrow::Cow;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use super::error::ApiError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct ShippedPages;

/// The built-in file `name` (`index.html`, `js/api.js`) as an answer to `req`: `304` when its
/// `If-None-Match` names the file's ETag; `NOT_FOUND` when there is no such file.
pub fn shipped(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    let file = ShippedPages::get(name).ok_or(ApiError::NotFound)?;
    let hash: String = file
        .metadata
        .sha256_hash()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let etag = format!("\"{hash}\"");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/")
        || mime == "application/javascript"
        || mime == "application/json"
    {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    let body = match file.data {
        Cow::Borrowed(bytes) => Bytes::from_static(bytes),
        Cow::Owned(bytes) => Bytes::from(bytes),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .body(body))
}

/// `/static/…` from the built-in files.
pub fn routes() -> actix_web::Resource {
    web::resource("/static/{file:.*}")
        .route(web::get().to(asset))
        .route(web::head().to(asset))
}

async fn asset(req: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    shipped(&req, &file)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_shipped_page_and_script_is_built_in() {
        for name in [
            "index.html",
            "helpdesk.html",
            "js/portal.js",
            "js/api.js",
            "favicon.svg",
        ] {
            let file = super::ShippedPages::get(name).unwrap_or_else(|| panic!("{name}"));
            let on_disk = std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("static")
                    .join(name),
            )
            .unwrap();
            assert_eq!(file.data.as_ref(), on_disk.as_slice(), "{name}");
        }
    }
}
