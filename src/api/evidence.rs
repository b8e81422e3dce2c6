//! `GET /.well-known/fidoflow/evidence-key.pem`: the public key that checks the signature of
//! transaction evidence (`fidoflow verify transaction EVIDENCE.json --key PEM`), for anyone.

use actix_web::{web, HttpResponse};

use super::error::ApiError;
use super::openapi;
use super::routes::{op, Table};
use crate::engine::Engine;

/// The path of the evidence key.
pub const EVIDENCE_KEY_PATH: &str = "/.well-known/fidoflow/evidence-key.pem";

pub fn table() -> Table {
    Table::root(|path| web::resource(path))
        .shared(openapi::page_operation)
        .at(EVIDENCE_KEY_PATH, [op!(get, evidence_key)])
}

#[utoipa::path(
    get,
    path = "/.well-known/fidoflow/evidence-key.pem",
    summary = "The public key of transaction evidence",
    description = "The SPKI PEM of the P-256 key whose ES256 `serverSignature` every evidence \
        document carries (see the README's \"Transaction signing\").",
    responses((status = 200, description = "The public key", content_type = "application/x-pem-file", body = String))
)]
pub async fn evidence_key(engine: web::Data<Engine>) -> Result<HttpResponse, ApiError> {
    let key = engine
        .evidence_key()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .insert_header(("access-control-allow-origin", "*"))
        .body(key.public_pem()))
}
