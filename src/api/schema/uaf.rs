//! The FIDO UAF transport's bodies and answers (`api::uaf`), as the UAF HTTP transport
//! specification names them.

use utoipa::{IntoParams, ToSchema};

/// `registration`, `authentication` or `deregistration` (responses: the first two).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UafOperation {
    pub operation: String,
}

/// `GetUAFRequest`.
#[derive(ToSchema)]
#[schema(as = GetUAFRequest)]
pub struct GetUafRequest {
    /// `Reg`, `Auth` or `Dereg`; when present, it must match the path.
    #[schema(required = false)]
    pub op: Option<String>,
    /// A stringified `{"username", "transactionText"?, "aaid"?, "keyID"?}`.
    pub context: String,
}

/// `ReturnUAFRequest`.
#[derive(ToSchema)]
#[schema(as = ReturnUAFRequest, rename_all = "camelCase")]
pub struct ReturnUafRequest {
    /// 1200, or the UAF status code that refuses the call.
    pub status_code: u16,
    /// The UAF request message (a JSON array), stringified.
    #[schema(required = false)]
    pub uaf_request: Option<String>,
    #[schema(required = false)]
    pub op: Option<String>,
    #[schema(required = false)]
    pub lifetime_millis: Option<u64>,
    /// With a refusal: what failed.
    #[schema(required = false)]
    pub description: Option<String>,
}

/// `SendUAFResponse`.
#[derive(ToSchema)]
#[schema(as = SendUAFResponse, rename_all = "camelCase")]
pub struct SendUafResponse {
    /// The client's response message (a JSON array), stringified.
    pub uaf_response: String,
}

/// `ServerResponse` of the UAF transport.
#[derive(ToSchema)]
#[schema(as = UAFServerResponse, rename_all = "camelCase")]
pub struct ServerResponse {
    pub status_code: u16,
    pub description: String,
    #[schema(required = false)]
    pub result: Option<UafResult>,
}

/// Who was registered or authenticated, with which key.
#[derive(ToSchema)]
#[schema(as = UAFResult)]
pub struct UafResult {
    pub username: String,
    pub aaid: String,
    /// base64url.
    #[schema(rename = "keyID")]
    pub key_id: String,
}

/// `TrustedFacets` list.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TrustedFacetList {
    #[schema(value_type = Vec<Object>)]
    pub trusted_facets: Vec<serde_json::Value>,
}
