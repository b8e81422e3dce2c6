//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated with utoipa from the
//! route tables (`routes.rs`: each route's operation is its handler's `#[utoipa::path]`) and the
//! wire types in `schema/`. Here: the document's head (info, tags, security schemes, the error
//! schemas), what the operations of each API share (tag, credentials, headers, error answers),
//! and the handler, which serves the document to anyone. The asset tree under `/static` is not
//! described (files, not an API).

use std::sync::OnceLock;

use actix_web::web;
use actix_web::HttpResponse;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, OpenApi};

use super::error::ErrorCode;
use super::routes::{merge, op, Table};
use super::schema::authfi::{AccessPath, AuthFiCode, AuthFiError, EndUser};
use super::schema::conformance::ServerResponse;
use super::schema::loginapp::CsrfHeader;
use super::schema::onespan::{OneSpanError, ValidationError};
use super::schema::ErrorDocument;

pub const ADMIN_TOKEN: &str = "adminToken";
pub const API_KEY: &str = "apiKey";
pub const BEARER_API_KEY: &str = "bearerApiKey";
pub const SESSION: &str = "sessionCookie";

pub const TAG_AUTHENTICATION: &str = "Loginapp: authentication";
pub const TAG_SIGNUP: &str = "Loginapp: sign-up";
pub const TAG_SELF_SERVICE: &str = "Loginapp: self-service";
pub const TAG_ADMIN: &str = "Administration";
pub const TAG_AUTHFI: &str = "AuthFi";
pub const TAG_ONESPAN: &str = "OneSpan";
pub const TAG_UAF: &str = "FIDO UAF";
pub const TAG_CONFORMANCE: &str = "Conformance";
pub const TAG_PAGES: &str = "Pages";
pub const TAG_OPERATIONS: &str = "Operations";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fidoflow",
        description = "Every route of the fidoflow server: the browser-facing Loginapp REST API \
            (`/rest/public`, `/rest/protected`), the helpdesk and administration API \
            (`/rest/admin`; on the admin listener alone when `admin.bind` is set, like \
            `/metrics`), each tenant's \
            relying-party APIs under its access path (the AuthFi shape under \
            `/{access_path}/api/v1`, the OneSpan shape under `/{access_path}/v1`, the FIDO \
            conformance-tool API), the evidence key, the health endpoints (`/health/live`, \
            `/health/ready`; on the admin listener too), and the pages. The \
            page assets under `/static/…` are not described. Every path also answers with a \
            trailing `/`."
    ),
    components(schemas(ErrorDocument, ErrorCode, AuthFiError, AuthFiCode, ServerResponse, OneSpanError, ValidationError)),
    tags(
        (name = TAG_AUTHENTICATION, description = "`/rest/public/authentication`: password and FIDO login flows and the session"),
        (name = TAG_SIGNUP, description = "`/rest/public/user-self-registration`: passkey sign-up"),
        (name = TAG_SELF_SERVICE, description = "`/rest/protected/self-service`: a signed-in user's flows and credentials"),
        (name = TAG_ADMIN, description = "`/rest/admin`: helpdesk and administration, with a bearer token"),
        (name = TAG_AUTHFI, description = "`/{access_path}/api/v1`: the AuthFi-shaped API of a relying party's backend, with `AT-X-Key`; errors are `{code, message}` with a code of `AuthFiCode`"),
        (name = TAG_ONESPAN, description = "`/{access_path}/v1`: the OneSpan-shaped API of a relying party's backend, with `Authorization: Bearer <API key>`; errors are `{message, validationErrors}` with a `log-correlation-id` header"),
        (name = TAG_UAF, description = "`/{access_path}/uaf`: the FIDO UAF 1.1 HTTP transport of a relying party's backend, with `Authorization: Bearer <API key>`; every answer with a UAF `statusCode` is HTTP 200"),
        (name = TAG_CONFORMANCE, description = "`/{access_path}/…`: the FIDO conformance-tool server API of a `conformance = true` tenant, without a key"),
        (name = TAG_PAGES, description = "The browser pages and this document"),
        (name = TAG_OPERATIONS, description = "`/health/live` and `/health/ready`: for load balancers and orchestrators, without a token"),
    )
)]
struct Head;

/// The whole document: the head, then each route table's operations.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Head::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        ADMIN_TOKEN,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "`Authorization: Bearer <token>`: an `[[admin.tokens]]` token",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        API_KEY,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "AT-X-Key",
            "One of the tenant's `api_keys` (the header name in any case)",
        ))),
    );
    components.add_security_scheme(
        BEARER_API_KEY,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "`Authorization: Bearer <key>`: one of the tenant's `api_keys`",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        SESSION,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            super::SESSION_COOKIE,
            "The session cookie the Loginapp calls set (HttpOnly, SameSite=Strict)",
        ))),
    );
    for table in super::tables() {
        merge(&mut doc, table.openapi());
    }
    doc
}

/// The document as served: built once (it depends on the code alone).
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document()
            .to_json()
            .expect("the OpenAPI document serialises")
    })
}

/// The route of this document.
pub fn table() -> Table {
    Table::root(|path| web::resource(path))
        .shared(page_operation)
        .at("/openapi.json", [op!(get, serve)])
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    summary = "This OpenAPI document",
    description = "Readable without credentials. View it with any OpenAPI viewer (Swagger UI, \
        Redoc, …) pointed at this URL.",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub async fn serve() -> HttpResponse {
    // Any origin may read it (it carries nothing secret), so a viewer hosted elsewhere can.
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("access-control-allow-origin", "*"))
        .body(document_json())
}

fn error(description: &str, schema: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        )
        .build()
        .into()
}

/// Adds the answers `(status, description)` an operation does not describe itself, each with
/// the error schema `schema`.
fn errors(op: &mut Operation, schema: &str, answers: &[(&str, &str)]) {
    for (status, description) in answers {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error(description, schema));
    }
}

fn tag(op: &mut Operation, name: &str) {
    op.tags = Some(vec![name.to_string()]);
}

fn security(op: &mut Operation, requirements: Vec<SecurityRequirement>) {
    op.security = Some(requirements);
}

fn parameters(op: &mut Operation, params: Vec<Parameter>) {
    let list = op.parameters.get_or_insert_with(Vec::new);
    for (i, p) in params.into_iter().enumerate() {
        list.insert(i, p.into());
    }
}

/// The answers every Loginapp call may give besides its own.
const LOGINAPP_ERRORS: &[(&str, &str)] = &[
    ("400", "`INVALID_REQUEST` (a body that is not a JSON object, a member missing or of the wrong type), `UNEXPECTED_CALL`, `CONCURRENT_ACCESS` (another request of this session is running), or the step's own code"),
    ("403", "`CSRF_HEADER_MISSING`, `CSRF_ORIGIN_MISMATCH`, `USER_LOCKED`, `NOT_AUTHORIZED`, `PRECONDITION_NOT_FULFILLED`"),
    ("413", "`REQUEST_TOO_LARGE`: a body over 64 KiB"),
    ("429", "`TOO_MANY_REQUESTS` (with `Retry-After`)"),
    ("503", "`SERVER_BUSY`, `STORE_UNAVAILABLE` (the database could not be reached; send the call again)"),
    ("default", "`INTERNAL_ERROR` or another code of `ErrorCode`"),
];

fn loginapp(op: &mut Operation, name: &str, session: Vec<SecurityRequirement>) {
    tag(op, name);
    security(op, session);
    parameters(op, CsrfHeader::into_params(|| Some(ParameterIn::Header)));
    errors(op, "ErrorDocument", LOGINAPP_ERRORS);
}

/// `/rest/public/authentication`: with or without a session.
pub fn authentication_operation(op: &mut Operation) {
    let optional = vec![
        SecurityRequirement::default(),
        SecurityRequirement::new(SESSION, Vec::<String>::new()),
    ];
    loginapp(op, TAG_AUTHENTICATION, optional);
}

/// `/rest/public/user-self-registration`: with or without a session.
pub fn signup_operation(op: &mut Operation) {
    let optional = vec![
        SecurityRequirement::default(),
        SecurityRequirement::new(SESSION, Vec::<String>::new()),
    ];
    loginapp(op, TAG_SIGNUP, optional);
}

/// `/rest/protected/self-service`: an authenticated session.
pub fn self_service_operation(op: &mut Operation) {
    let session = vec![SecurityRequirement::new(SESSION, Vec::<String>::new())];
    loginapp(op, TAG_SELF_SERVICE, session);
    errors(
        op,
        "ErrorDocument",
        &[("401", "`NOT_AUTHORIZED`: no authenticated session")],
    );
}

/// `/rest/admin`: a bearer token.
pub fn admin_operation(op: &mut Operation) {
    tag(op, TAG_ADMIN);
    security(
        op,
        vec![SecurityRequirement::new(ADMIN_TOKEN, Vec::<String>::new())],
    );
    errors(
        op,
        "ErrorDocument",
        &[
            ("401", "`NOT_AUTHENTICATED`: no token, or not a configured one"),
            ("403", "`FORBIDDEN`: the token's role may not make this call (audited `ADMIN_ACCESS_DENIED`); `NO_ADMIN_TOKEN_CONFIGURED`: the server has no admin token at all"),
            ("default", "`INTERNAL_ERROR` or another code of `ErrorCode`"),
        ],
    );
}

/// `/metrics`: a bearer token of any role on the public listener, none on the admin listener.
pub fn metrics_operation(op: &mut Operation) {
    tag(op, TAG_ADMIN);
    security(
        op,
        vec![
            SecurityRequirement::new(ADMIN_TOKEN, Vec::<String>::new()),
            SecurityRequirement::default(),
        ],
    );
    errors(
        op,
        "ErrorDocument",
        &[
            (
                "401",
                "`NOT_AUTHENTICATED`: on the public listener, no token or not a configured one",
            ),
            (
                "403",
                "`NO_ADMIN_TOKEN_CONFIGURED`: on the public listener, the server has no admin \
                 token at all",
            ),
        ],
    );
}

/// `/{access_path}/api/v1`: the tenant's API key, and the end user's address and agent.
pub fn authfi_operation(op: &mut Operation) {
    tag(op, TAG_AUTHFI);
    security(
        op,
        vec![SecurityRequirement::new(API_KEY, Vec::<String>::new())],
    );
    let mut params = AccessPath::into_params(|| Some(ParameterIn::Path));
    params.extend(EndUser::into_params(|| Some(ParameterIn::Header)));
    parameters(op, params);
    errors(
        op,
        "AuthFiError",
        &[
            (
                "401",
                "`1000`: the API key is missing or not one of the tenant's",
            ),
            (
                "404",
                "`1000`: no tenant under this path, or no such user; `1002`: no such key",
            ),
            ("429", "`1003`: too many calls with this API key"),
            ("default", "a `code` of `AuthFiCode`"),
        ],
    );
}

/// `/{access_path}/v1`: the tenant's API key as a bearer token, and the end user's address and
/// agent.
pub fn onespan_operation(op: &mut Operation) {
    tag(op, TAG_ONESPAN);
    security(
        op,
        vec![SecurityRequirement::new(
            BEARER_API_KEY,
            Vec::<String>::new(),
        )],
    );
    let mut params = AccessPath::into_params(|| Some(ParameterIn::Path));
    params.extend(EndUser::into_params(|| Some(ParameterIn::Header)));
    parameters(op, params);
    errors(
        op,
        "OneSpanError",
        &[
            ("400", "a malformed body (`validationErrors` name the fields) or a refused ceremony (`message` names the check)"),
            ("401", "the API key is missing or not one of the tenant's"),
            ("404", "no tenant under this path, no such user or authenticator, or an unknown domain"),
            ("429", "too many calls with this API key"),
            ("default", "`message` says what failed"),
        ],
    );
}

/// `/{access_path}/uaf`: the tenant's API key as a bearer token (the facets list: none).
pub fn uaf_operation(op: &mut Operation) {
    tag(op, TAG_UAF);
    let facets = op.operation_id.as_deref() == Some("uaf_facets");
    security(
        op,
        vec![if facets {
            SecurityRequirement::default()
        } else {
            SecurityRequirement::new(BEARER_API_KEY, Vec::<String>::new())
        }],
    );
    let mut params = AccessPath::into_params(|| Some(ParameterIn::Path));
    if !facets {
        params.extend(EndUser::into_params(|| Some(ParameterIn::Header)));
    }
    parameters(op, params);
}

/// `/{access_path}/…` of a conformance tenant: no key.
pub fn conformance_operation(op: &mut Operation) {
    tag(op, TAG_CONFORMANCE);
    security(op, vec![SecurityRequirement::default()]);
    let mut params = AccessPath::into_params(|| Some(ParameterIn::Path));
    params.extend(EndUser::into_params(|| Some(ParameterIn::Header)));
    parameters(op, params);
    errors(
        op,
        "ServerResponse",
        &[
            ("400", "`failed`, with the reason in `errorMessage`"),
            (
                "404",
                "`failed`: no conformance tenant under this path, or no such user",
            ),
            (
                "default",
                "`failed`: the server could not complete the call",
            ),
        ],
    );
}

/// The pages and this document: no credentials.
pub fn page_operation(op: &mut Operation) {
    tag(op, TAG_PAGES);
    security(op, vec![SecurityRequirement::default()]);
}

/// `/health/*`: no credentials, on every listener.
pub fn health_operation(op: &mut Operation) {
    tag(op, TAG_OPERATIONS);
    security(op, vec![SecurityRequirement::default()]);
}

#[cfg(test)]
mod tests;
