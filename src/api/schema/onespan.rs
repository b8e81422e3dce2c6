//! The OneSpan shape's bodies and answers (`api::onespan`). FIDO messages travel as stringified
//! JSON, as OneSpan's own do.

use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::authfi::{Attachment, Attestation, ResidentKey, UserVerification};

/// `{userID@domain}`: the user's name and one of the tenant's `domains`, split at the last `@`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OneSpanUserPath {
    /// e.g. `alice@master`.
    #[param(rename = "user")]
    pub user: String,
}

/// `{authenticatorID}`: the base64url credential id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AuthenticatorPath {
    #[param(rename = "authenticator")]
    pub authenticator: String,
}

/// `POST users`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct OneSpanNewUser {
    #[schema(rename = "userID")]
    pub user_id: String,
    pub domain: String,
    #[schema(required = false)]
    pub display_name: Option<String>,
}

/// A user.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct OneSpanUser {
    #[schema(rename = "userID")]
    pub user_id: String,
    pub domain: String,
    pub display_name: String,
    pub created_at: String,
}

/// `fidoProtocol`: `FIDO2`; `UAF11` is answered "not supported yet".
#[derive(ToSchema)]
pub enum FidoProtocol {
    #[schema(rename = "FIDO2")]
    Fido2,
    #[schema(rename = "UAF11")]
    Uaf11,
}

/// `POST generate-fido-registration-request`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct GenerateRegistration {
    pub fido_protocol: FidoProtocol,
    #[schema(required = false)]
    pub authenticator_attachment: Option<Attachment>,
    #[schema(required = false)]
    pub user_verification: Option<UserVerification>,
    #[schema(required = false)]
    pub resident_key: Option<ResidentKey>,
    #[schema(required = false)]
    pub attestation: Option<Attestation>,
    /// The name the new authenticator will carry.
    #[schema(required = false)]
    pub display_name: Option<String>,
    /// `true`: a Secure Payment Confirmation credential (`extensions.payment.isPayment`).
    #[schema(required = false)]
    pub payment: Option<bool>,
}

/// The answer of `generate-fido-registration-request`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RegistrationRequestAnswer {
    /// `PublicKeyCredentialCreationOptionsJSON`, stringified.
    pub registration_request: String,
    /// `registration:<uuid>`.
    #[schema(rename = "requestID")]
    pub request_id: String,
    #[schema(value_type = Option<i64>)]
    pub uaf_status_code: Value,
}

/// `POST register-fido-device`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RegisterDevice {
    /// `FIDORegistrationInput`.
    pub object_type: String,
    /// The browser's `credential.toJSON()`, stringified.
    pub registration_response: String,
    #[schema(rename = "requestID")]
    pub request_id: String,
}

/// An authenticator.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Authenticator {
    #[schema(rename = "authenticatorID")]
    pub authenticator_id: String,
    pub fido_protocol: String,
    pub aaguid: String,
    pub model: Option<String>,
    pub display_name: String,
    pub attestation: AuthenticatorAttestation,
    pub enabled: bool,
    pub payment: bool,
    pub sign_count: u32,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(ToSchema)]
pub struct AuthenticatorAttestation {
    pub format: String,
    pub trusted: bool,
}

/// `GET fido-authenticators`.
#[derive(ToSchema)]
pub struct AuthenticatorList {
    pub authenticators: Vec<Authenticator>,
}

/// `PUT fido-authenticators/{authenticator}`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuthenticatorUpdate {
    pub display_name: String,
}

/// What a payment asks the user to confirm (Secure Payment Confirmation).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct PaymentDetails {
    #[schema(required = false)]
    pub payee_name: Option<String>,
    /// An `https` origin.
    #[schema(required = false)]
    pub payee_origin: Option<String>,
    /// `{"currency": "EUR", "value": "12.50"}`.
    #[schema(value_type = Object)]
    pub total: Value,
    /// `{"displayName": "…", "icon": "https://…"}`.
    #[schema(value_type = Object)]
    pub instrument: Value,
    /// The origin of the merchant page that runs the payment (the client data's `origin`).
    pub merchant_origin: String,
}

/// `POST generate-fido-authentication-request`. With `transaction`, `authenticationMessage`
/// or `payment`, the challenge is derived from them and user verification is required.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct GenerateAuthentication {
    pub fido_protocol: FidoProtocol,
    #[schema(required = false)]
    pub user_verification: Option<UserVerification>,
    /// Up to 200 characters.
    #[schema(required = false)]
    pub authentication_message: Option<String>,
    /// A JSON object of at most 4 KiB; amounts as strings, integers only, no duplicate members.
    #[schema(required = false, value_type = Option<Object>)]
    pub transaction: Option<Value>,
    #[schema(required = false)]
    pub payment: Option<PaymentDetails>,
}

/// The answer of `generate-fido-authentication-request`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuthenticationRequestAnswer {
    /// `PublicKeyCredentialRequestOptionsJSON`, stringified.
    pub authentication_request: String,
    /// `authentication:<uuid>`.
    #[schema(rename = "requestID")]
    pub request_id: String,
    #[schema(value_type = Option<i64>)]
    pub uaf_status_code: Value,
    /// With `payment`: the `secure-payment-confirmation` method data for the merchant page's
    /// `PaymentRequest` (stringified JSON).
    #[schema(required = false)]
    pub payment_request: Option<String>,
}

/// `POST login`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct LoginInput {
    /// `LoginInput`.
    pub object_type: String,
    /// `{"fidoAuthenticator": {"authenticationResponse": "<credential JSON>"}}`.
    #[schema(value_type = Object)]
    pub credentials: Value,
    #[schema(rename = "requestID")]
    pub request_id: String,
}

/// The answer of `login`.
#[derive(ToSchema)]
pub struct LoginAnswer {
    pub result: LoginResult,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct LoginResult {
    #[schema(rename = "userID")]
    pub user_id: String,
    pub domain: String,
    #[schema(rename = "authenticatorID")]
    pub authenticator_id: String,
    pub user_verified: bool,
    pub sign_count: u32,
}

/// `POST transactions/validate`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TransactionValidationInput {
    /// `TransactionValidationInput`.
    pub object_type: String,
    /// `{"fido": {"authenticationResponse": "<credential JSON>", "requestID": "authentication:<uuid>"}}`.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// The answer of `transactions/validate`.
#[derive(ToSchema)]
pub struct TransactionAnswer {
    pub result: TransactionResult,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TransactionResult {
    #[schema(rename = "transactionID")]
    pub transaction_id: String,
    /// `APPROVED`.
    pub status: String,
    /// The signed evidence (see the README's "Transaction signing").
    #[schema(value_type = Object)]
    pub evidence: Value,
}

/// The errors of the OneSpan shape.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct OneSpanError {
    pub message: String,
    pub validation_errors: Vec<ValidationError>,
}

#[derive(ToSchema)]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}
