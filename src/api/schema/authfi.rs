//! The AuthFi shape's bodies, answers and code table (`api::authfi`), and the WebAuthn choices
//! it shares with the conformance API.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::api::authfi::error::CODES;

/// `userVerification`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum UserVerification {
    Required,
    Preferred,
    Discouraged,
}

/// `residentKey`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ResidentKey {
    Required,
    Preferred,
    Discouraged,
}

/// `attestation`: the attestation conveyance the relying party asks for.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Attestation {
    None,
    Indirect,
    Direct,
    Enterprise,
}

/// `authenticatorAttachment`.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum Attachment {
    Platform,
    CrossPlatform,
}

/// `authenticatorSelection` of a registration request; each member falls back to the tenant's
/// default.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    #[schema(required = false)]
    pub authenticator_attachment: Option<Attachment>,
    #[schema(required = false)]
    pub resident_key: Option<ResidentKey>,
    /// `true` counts as `residentKey: "required"` when `residentKey` is absent.
    #[schema(required = false)]
    pub require_resident_key: Option<bool>,
    #[schema(required = false)]
    pub user_verification: Option<UserVerification>,
}

/// `POST webauthn/registration`.
#[derive(ToSchema)]
pub struct RegistrationRequest {
    pub params: RegistrationParams,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RegistrationParams {
    pub user: RegistrationUser,
    #[schema(required = false)]
    pub authenticator_selection: Option<AuthenticatorSelection>,
    #[schema(required = false)]
    pub attestation: Option<Attestation>,
}

/// The user to register a key for: made on first use.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RegistrationUser {
    pub name: String,
    #[schema(required = false)]
    pub display_name: Option<String>,
}

/// `POST webauthn/login`: a usernameless login.
#[derive(ToSchema)]
pub struct LoginRequest {
    #[schema(required = false)]
    pub params: Option<AssertionParams>,
}

/// `POST webauthn/verification`: a second factor for one user.
#[derive(ToSchema)]
pub struct VerificationRequest {
    /// The user: a `uid` or a user name.
    #[schema(rename = "uId")]
    pub u_id: String,
    #[schema(required = false)]
    pub params: Option<AssertionParams>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AssertionParams {
    #[schema(required = false)]
    pub user_verification: Option<UserVerification>,
}

/// `PUT webauthn/registration`: the browser's `credential.toJSON()`.
#[derive(ToSchema)]
pub struct RegistrationResponse {
    #[schema(value_type = Object)]
    pub fido_register_response: Value,
}

/// `PUT webauthn/login`.
#[derive(ToSchema)]
pub struct LoginResponse {
    #[schema(value_type = Object)]
    pub fido_login_response: Value,
}

/// `PUT webauthn/verification`.
#[derive(ToSchema)]
pub struct VerificationResponse {
    #[schema(value_type = Object)]
    pub fido_auth_response: Value,
}

/// `PUT users/{uid}`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct UserUpdate {
    pub display_name: String,
}

/// `PUT users/{uid}/keys/{credential_id}`: at least one member.
#[derive(ToSchema)]
pub struct KeyUpdate {
    #[schema(required = false)]
    pub name: Option<String>,
    #[schema(required = false)]
    pub enabled: Option<bool>,
}

/// `{"code": 0, "fido_register_request": …}`: creation options (`excludeCredentials` always).
#[derive(ToSchema)]
pub struct RegistrationOptions {
    pub code: u32,
    #[schema(value_type = Object)]
    pub fido_register_request: Value,
}

/// `{"code": 0, "fido_login_request": …}`: request options with `allowCredentials: []`.
#[derive(ToSchema)]
pub struct LoginOptions {
    pub code: u32,
    #[schema(value_type = Object)]
    pub fido_login_request: Value,
}

/// `{"code": 0, "fido_auth_request": …}`: request options with the user's enabled keys.
#[derive(ToSchema)]
pub struct VerificationOptions {
    pub code: u32,
    #[schema(value_type = Object)]
    pub fido_auth_request: Value,
}

/// A verified ceremony: the user and the key.
#[derive(ToSchema)]
pub struct Verified {
    pub code: u32,
    /// base64url of the user handle.
    pub uid: String,
    pub user: AuthFiUser,
    pub key_info: KeyInfo,
}

/// An AuthFi user.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuthFiUser {
    /// The `uid`: base64url of the user handle.
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub created: DateTime<Utc>,
}

/// A user's key.
#[derive(ToSchema)]
pub struct KeyInfo {
    pub credential_id: String,
    pub aaguid: String,
    pub model: Option<String>,
    pub name: String,
    pub format: String,
    pub trusted: bool,
    pub transports: Vec<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub enabled: bool,
    pub sign_count: u32,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// `GET users`.
#[derive(ToSchema)]
pub struct UserList {
    pub code: u32,
    pub users: Vec<AuthFiUser>,
    pub page: u32,
    pub size: u32,
    pub has_more: bool,
}

/// `{"code": 0, "user": …}`.
#[derive(ToSchema)]
pub struct UserAnswer {
    pub code: u32,
    pub user: AuthFiUser,
}

/// `GET users/{uid}/keys`.
#[derive(ToSchema)]
pub struct KeyList {
    pub code: u32,
    pub keys: Vec<KeyInfo>,
}

/// `{"code": 0, "key_info": …}`.
#[derive(ToSchema)]
pub struct KeyAnswer {
    pub code: u32,
    pub key_info: KeyInfo,
}

/// `{"code": 0}`: done.
#[derive(ToSchema)]
pub struct Done {
    pub code: u32,
}

/// A refusal: a 4xx/5xx status with `{"code": N, "message": "…"}`.
#[derive(ToSchema)]
pub struct AuthFiError {
    pub code: AuthFiCode,
    pub message: String,
}

/// The code of an AuthFi answer: one of the table in `authfi::error::CODES` (`0` on success).
pub struct AuthFiCode;

impl PartialSchema for AuthFiCode {
    fn schema() -> RefOr<Schema> {
        let codes = CODES.iter().map(|(code, status, meaning)| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([*code]))
                .description(Some(format!("HTTP {status}: {meaning}")))
        });
        codes
            .fold(OneOfBuilder::new(), |one_of, code| one_of.item(code))
            .description(Some(
                "AuthFi's own codes where one fits, fidoflow's for the rest",
            ))
            .into()
    }
}

impl ToSchema for AuthFiCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AuthFiCode")
    }
}

/// The tenant's first path segment.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccessPath {
    /// `tenants.access_path` of the tenant.
    pub access_path: String,
}

/// What a relying party's backend may pass about its end user, for the audit trail.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct EndUser {
    /// The end user's IP address.
    #[param(rename = "X-End-User-IP", required = false)]
    pub ip: String,
    /// The end user's user agent (the first 256 characters are kept).
    #[param(rename = "X-End-User-Agent", required = false)]
    pub agent: String,
}

/// The user: a `uid` (base64url of a user handle of the tenant) or a user name.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    pub uid: String,
}

/// The user and one of their keys.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    pub uid: String,
    /// base64url.
    pub credential_id: String,
}

/// `GET users?page=1&size=20`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// From 1 (default 1).
    #[param(required = false)]
    pub page: u32,
    /// 20–100 (default 20).
    #[param(required = false)]
    pub size: u32,
}
