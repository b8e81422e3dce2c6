//! JSON:API success documents.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use serde_json::{json, Map, Value};

use crate::engine::{Answer, Data, Resource};

/// `meta` of every document.
pub fn meta() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("jsonapi.metadata.document"));
    m.insert(
        "timestamp".into(),
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)),
    );
    m
}

pub fn random_error_id() -> String {
    crate::engine::random_id()
}

fn resource(r: &Resource) -> Value {
    json!({ "type": r.doc_type, "id": r.id, "attributes": r.attributes })
}

pub fn respond(answer: Answer) -> HttpResponse {
    let data = match &answer.data {
        Data::One(r) => resource(r),
        Data::Many(list) => Value::Array(list.iter().map(resource).collect()),
    };
    HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "meta": meta(), "data": data }))
}
