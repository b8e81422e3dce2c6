//! JSON:API success documents.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

/// A successful answer: one JSON:API resource (or a list of them).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub data: Data,
    /// A paged list's cursor for the next page, when there is one.
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Data {
    One(Resource),
    Many(Vec<Resource>),
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub doc_type: &'static str,
    pub id: String,
    pub attributes: Value,
}

impl From<Resource> for Answer {
    fn from(resource: Resource) -> Self {
        Self {
            status: 200,
            data: Data::One(resource),
            next: None,
        }
    }
}

impl Answer {
    pub fn one(doc_type: &'static str, id: impl Into<String>, attributes: Value) -> Self {
        Self {
            status: 200,
            data: Data::One(Resource {
                doc_type,
                id: id.into(),
                attributes,
            }),
            next: None,
        }
    }

    pub fn many(resources: Vec<Resource>) -> Self {
        Self {
            status: 200,
            data: Data::Many(resources),
            next: None,
        }
    }

    /// One page of a list, with the cursor of the next page if more exist.
    pub fn page(resources: Vec<Resource>, next: Option<String>) -> Self {
        Self {
            next,
            ..Self::many(resources)
        }
    }

    pub fn created(mut self) -> Self {
        self.status = 201;
        self
    }
}

/// A time as every JSON:API document writes it (RFC 3339, milliseconds, `+00:00`).
pub fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// `meta` of every document.
pub fn meta() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("jsonapi.metadata.document"));
    m.insert("timestamp".into(), json!(time(chrono::Utc::now())));
    m
}

pub fn random_error_id() -> String {
    crate::engine::random_id()
}

fn resource(r: &Resource) -> Value {
    json!({ "type": r.doc_type, "id": r.id, "attributes": r.attributes })
}

pub fn respond(answer: Answer) -> HttpResponse {
    document(answer, None)
}

/// A paged list: the next page's cursor goes to `meta.page.next`, and `links.next` is this
/// request's path and query with `page[after]` set to it.
pub fn respond_paged(answer: Answer, req: &HttpRequest) -> HttpResponse {
    let link = answer.next.as_deref().map(|cursor| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
            if k != "page[after]" {
                query.append_pair(&k, &v);
            }
        }
        query.append_pair("page[after]", cursor);
        format!("{}?{}", req.path(), query.finish())
    });
    document(answer, link)
}

fn document(answer: Answer, next_link: Option<String>) -> HttpResponse {
    let data = match &answer.data {
        Data::One(r) => resource(r),
        Data::Many(list) => Value::Array(list.iter().map(resource).collect()),
    };
    let mut m = meta();
    let mut body = Map::new();
    if let Some(cursor) = &answer.next {
        m.insert("page".into(), json!({ "next": cursor }));
    }
    body.insert("meta".into(), Value::Object(m));
    if let Some(link) = next_link {
        body.insert("links".into(), json!({ "next": link }));
    }
    body.insert("data".into(), data);
    HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Value::Object(body))
}
