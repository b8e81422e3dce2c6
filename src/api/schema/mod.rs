//! The wire shapes of every API as types, for the OpenAPI document (`api::openapi`): request
//! bodies, parameters, answers and errors, each deriving `utoipa::ToSchema` or `IntoParams`
//! (the AuthFi code's schema is built from the code table `authfi::error::CODES`). The handlers
//! read bodies member by member and render answers with `json!`, so these types describe the
//! wire rather than being parsed or serialised — except the Loginapp error codes, which are the
//! very enum `api::error` sends. Here: the JSON:API documents the Loginapp and admin APIs share;
//! one file per API holds the rest. Imports only `api` (the error codes, the AuthFi code table),
//! never `engine`.

pub mod account;
pub mod admin;
pub mod authfi;
pub mod conformance;
pub mod loginapp;
pub mod onespan;
pub mod uaf;

use chrono::{DateTime, Utc};
use utoipa::ToSchema;

use super::error::ErrorCode;

/// `meta` of every JSON:API document.
#[derive(ToSchema)]
pub struct Meta {
    /// Always `jsonapi.metadata.document`.
    #[schema(rename = "type", example = "jsonapi.metadata.document")]
    pub doc_type: String,
    pub timestamp: DateTime<Utc>,
    /// Only on a page of a list that has a next page.
    #[schema(required = false)]
    pub page: Option<PageMeta>,
}

/// The cursor of a list's next page.
#[derive(ToSchema)]
pub struct PageMeta {
    /// Send it as `page[after]` for the next page.
    pub next: String,
}

/// `links` of a page of a list that has a next page.
#[derive(ToSchema)]
pub struct PageLinks {
    /// This request's path and query with `page[after]` set to the next cursor.
    pub next: String,
}

/// A JSON:API resource object: its `type`, `id` and attributes.
#[derive(ToSchema)]
pub struct ResourceObject<A> {
    /// The document type, e.g. `authentication.session` or `user`.
    #[schema(rename = "type")]
    pub doc_type: String,
    pub id: String,
    pub attributes: A,
}

/// A JSON:API document with one resource.
#[derive(ToSchema)]
pub struct Document<A> {
    pub meta: Meta,
    pub data: ResourceObject<A>,
}

/// A JSON:API document with a list of resources (a page of it where the list is paged).
#[derive(ToSchema)]
pub struct ListDocument<A> {
    pub meta: Meta,
    /// Only on a page of a list that has a next page.
    #[schema(required = false)]
    pub links: Option<PageLinks>,
    pub data: Vec<ResourceObject<A>>,
}

/// The JSON:API error document of the Loginapp and administration APIs.
#[derive(ToSchema)]
pub struct ErrorDocument {
    pub meta: ErrorMeta,
    /// Exactly one error.
    pub errors: Vec<ErrorObject>,
}

/// `meta` of an error document: the step that may follow, or when a lock ends.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ErrorMeta {
    /// Always `jsonapi.metadata.document`.
    #[schema(rename = "type")]
    pub doc_type: String,
    pub timestamp: DateTime<Utc>,
    /// The self-service or sign-up step the flow waits for now.
    #[schema(required = false)]
    pub next_step: Option<String>,
    /// The authentication step the flow waits for now (e.g. `PASSWORD_REQUIRED`).
    #[schema(required = false)]
    pub next_auth_step: Option<String>,
    /// `USER_LOCKED`: when the temporary lock ends.
    #[schema(required = false)]
    pub temporary_lock_expiry: Option<DateTime<Utc>>,
}

/// One error: its id (for the log), HTTP status, stable code and a readable detail.
#[derive(ToSchema)]
pub struct ErrorObject {
    pub id: String,
    pub status: u16,
    pub code: ErrorCode,
    pub detail: String,
}

/// An empty attributes object: `{}` (a flow that is done, a call that only acknowledges).
#[derive(ToSchema)]
pub struct Empty {}
