//! The FIDO conformance-tool API's bodies and answers (`api::conformance`): the
//! `ServerPublicKeyCredential…` shapes of the FIDO Alliance's "FIDO2 Conformance Test Tools —
//! server API".

use serde_json::Value;
use utoipa::ToSchema;

use super::authfi::{Attestation, AuthenticatorSelection, UserVerification};

/// `POST /{access_path}/attestation/options`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ServerPublicKeyCredentialCreationOptionsRequest {
    pub username: String,
    #[schema(required = false)]
    pub display_name: Option<String>,
    #[schema(required = false)]
    pub authenticator_selection: Option<AuthenticatorSelection>,
    #[schema(required = false)]
    pub attestation: Option<Attestation>,
}

/// `POST /{access_path}/assertion/options`: with a username, a second factor for that user;
/// without, a usernameless login.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ServerPublicKeyCredentialGetOptionsRequest {
    #[schema(required = false)]
    pub username: Option<String>,
    #[schema(required = false)]
    pub user_verification: Option<UserVerification>,
}

/// `POST /{access_path}/attestation/result` and `…/assertion/result`: the credential as the
/// browser returned it (`response` holds the attestation or assertion members, base64url).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ServerPublicKeyCredential {
    pub id: String,
    #[schema(required = false)]
    pub raw_id: Option<String>,
    #[schema(rename = "type", example = "public-key")]
    pub credential_type: String,
    #[schema(value_type = Object)]
    pub response: Value,
    #[schema(required = false, value_type = Object)]
    pub client_extension_results: Option<Value>,
}

/// `{"status": "ok", "errorMessage": ""}`, or `failed` with the reason and a 4xx status (5xx
/// when the server failed).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ServerResponse {
    pub status: Status,
    pub error_message: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
}

/// The creation options at the top level, with `status` and `errorMessage`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ServerPublicKeyCredentialCreationOptionsResponse {
    pub status: Status,
    pub error_message: String,
    #[schema(value_type = Object)]
    pub rp: Value,
    #[schema(value_type = Object)]
    pub user: Value,
    pub challenge: String,
    #[schema(value_type = Vec<Object>)]
    pub pub_key_cred_params: Vec<Value>,
    #[schema(required = false)]
    pub timeout: Option<u64>,
    #[schema(required = false, value_type = Vec<Object>)]
    pub exclude_credentials: Option<Vec<Value>>,
    #[schema(required = false)]
    pub authenticator_selection: Option<AuthenticatorSelection>,
    #[schema(required = false)]
    pub attestation: Option<Attestation>,
    #[schema(required = false, value_type = Object)]
    pub extensions: Option<Value>,
}

/// The request options at the top level, with `status` and `errorMessage`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ServerPublicKeyCredentialGetOptionsResponse {
    pub status: Status,
    pub error_message: String,
    pub challenge: String,
    #[schema(required = false)]
    pub timeout: Option<u64>,
    #[schema(required = false)]
    pub rp_id: Option<String>,
    #[schema(required = false, value_type = Vec<Object>)]
    pub allow_credentials: Option<Vec<Value>>,
    #[schema(required = false)]
    pub user_verification: Option<UserVerification>,
    #[schema(required = false, value_type = Object)]
    pub extensions: Option<Value>,
}
