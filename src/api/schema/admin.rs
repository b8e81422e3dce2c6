//! The administration API's request bodies, parameters and resource attributes (`api::admin`).

use chrono::{DateTime, Utc};
use utoipa::{IntoParams, ToSchema};

/// `POST /rest/admin/users`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CreateUser {
    pub username: String,
    #[schema(required = false)]
    pub display_name: Option<String>,
    /// At least 8 characters; without one the user signs in with passkeys only.
    #[schema(required = false)]
    pub password: Option<String>,
}

/// `PATCH …/fido/credentials/{credential_id}`: at least one member.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CredentialChange {
    #[schema(required = false)]
    pub display_name: Option<String>,
    /// `false` disables the credential as the helpdesk (self-service cannot undo it) and ends
    /// the user's sessions; `true` enables it.
    #[schema(required = false)]
    pub enabled: Option<bool>,
}

/// A user (`id`: the username).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct User {
    pub username: String,
    pub display_name: Option<String>,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub credential_count: u32,
    pub locked: bool,
    pub lock_expiry: Option<DateTime<Utc>>,
}

/// A validated transaction (`id`: its transactionID).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Transaction {
    pub validated_at: DateTime<Utc>,
    /// `fido2-dynamic-linking` or `spc`.
    pub mode: String,
    /// The signed evidence document (see the README's "Transaction signing").
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

/// An audit event (`id`: its sequence number).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuditEvent {
    /// The tenant the event belongs to (`default` for the portal and Loginapp API).
    pub tenant: String,
    /// The name of the API key a relying party's backend called with.
    pub api_key: Option<String>,
    pub time: DateTime<Utc>,
    /// E.g. `LOGIN_SUCCEEDED`, `CREDENTIAL_DISABLED`, `ADMIN_ACCESS_DENIED`.
    pub event: String,
    /// `user`, `token:NAME`, …
    pub actor: String,
    pub username: Option<String>,
    #[schema(required = false)]
    pub credential_id: Option<String>,
    /// With `credentialId`: the credential's current name (`null` once it is deleted).
    #[schema(required = false)]
    pub credential_name: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub detail: String,
    pub remote_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The record's hash in the tamper-evident audit chain: lowercase hex SHA-256 of the stored
    /// record without its `hash` member (`fidoflow audit verify` checks the whole chain).
    pub hash: Option<String>,
    /// The `hash` of the record before it (by `seq`); for the first record, the genesis value
    /// (SHA-256 of `fidoflow audit log genesis`).
    pub prev_hash: Option<String>,
}

/// The administration token a call was made with (`id`: its name).
#[derive(ToSchema)]
pub struct Token {
    pub name: String,
    /// `admin` or `helpdesk` (a `metrics` token may not call the administration API).
    pub role: String,
    /// The tenants it may act on; `null`: every tenant.
    pub tenants: Option<Vec<String>>,
}

/// The imported FIDO metadata BLOB (`id`: `current`); only `imported` when there is none.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct MetadataStatus {
    pub imported: bool,
    #[schema(required = false)]
    pub number: Option<u64>,
    #[schema(required = false)]
    pub next_update: Option<String>,
    #[schema(required = false)]
    pub stale: Option<bool>,
    #[schema(required = false)]
    pub imported_at: Option<DateTime<Utc>>,
    #[schema(required = false)]
    pub entries: Option<u64>,
    #[schema(required = false)]
    pub legal_header: Option<String>,
}

/// `POST /rest/admin/mds/reevaluate` (`id`: `latest`).
#[derive(ToSchema)]
pub struct Reevaluation {
    /// One line per credential whose trust or model name changed or that the metadata now
    /// refuses.
    pub changes: Vec<String>,
}

/// `GET /rest/admin/users`: a prefix filter and the page.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Users whose (normalised) username starts with this.
    #[param(rename = "filter[username]", required = false)]
    pub filter_username: String,
    /// 1–100 per page (default 20).
    #[param(rename = "page[size]", required = false)]
    pub page_size: u32,
    /// The cursor of `meta.page.next`.
    #[param(rename = "page[after]", required = false)]
    pub page_after: String,
}

/// `GET /rest/admin/audit`: whose trail and the page.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this tenant's events (`default` for the portal's).
    #[param(required = false)]
    pub tenant: String,
    /// Only this user's events (of `tenant`, else of `default`).
    #[param(required = false)]
    pub username: String,
    /// Only these events: names such as `USER_LOCKED`, comma-separated (at most 32).
    #[param(rename = "filter[event]", required = false)]
    pub filter_event: String,
    /// Only events with this outcome: `success` or `failure`.
    #[param(rename = "filter[outcome]", required = false)]
    pub filter_outcome: String,
    /// Only events at or after this time (RFC 3339).
    #[param(rename = "filter[from]", required = false)]
    pub filter_from: DateTime<Utc>,
    /// Only events before this time (RFC 3339).
    #[param(rename = "filter[to]", required = false)]
    pub filter_to: DateTime<Utc>,
    /// 1–100 per page (default 20).
    #[param(rename = "page[size]", required = false)]
    pub page_size: u32,
    /// The cursor of `meta.page.next`.
    #[param(rename = "page[after]", required = false)]
    pub page_after: String,
}

/// The user named in the path (normalised: `Alice` is `alice`).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    pub username: String,
}

/// The user and one of their credentials.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CredentialPath {
    pub username: String,
    /// base64url, as in the lists.
    pub credential_id: String,
}

/// A tenant (`id`: its id). Its API keys are named, never shown.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    /// The first path segment of its backend APIs (`null` for `default`).
    pub access_path: Option<String>,
    pub rp_id: String,
    pub rp_name: String,
    pub origins: Vec<String>,
    pub conformance: bool,
    pub max_keys_per_user: Option<u32>,
    /// `builtin`, `config` (read-only here) or `store`.
    pub source: String,
    pub api_key_names: Vec<String>,
}

/// `POST /rest/admin/tenants`, `PUT …/tenants/{tenant}`: the keys of one `[[tenants]]` entry of
/// the configuration (see the README), e.g. `{"id", "access_path", "rp_id", "rp_name",
/// "origins", "api_keys": [{"name", "sha256"}]}`.
#[derive(ToSchema)]
pub struct TenantSettings {
    pub id: String,
    pub access_path: String,
    pub rp_id: String,
    pub rp_name: String,
    pub origins: Vec<String>,
    #[schema(required = false)]
    pub api_keys: Vec<ApiKeySetting>,
    #[schema(required = false)]
    pub conformance: Option<bool>,
    #[schema(required = false)]
    pub max_keys_per_user: Option<u32>,
}

/// An API key of a tenant: its name and the hex SHA-256 of the key.
#[derive(ToSchema)]
pub struct ApiKeySetting {
    pub name: String,
    pub sha256: String,
}

/// What an import did.
#[derive(ToSchema)]
pub struct ImportReport {
    pub imported: u32,
    pub refused: Vec<ImportRefusal>,
}

/// A line of an import that was refused, and why (nothing of it was written).
#[derive(ToSchema)]
pub struct ImportRefusal {
    pub line: u32,
    #[schema(required = false)]
    pub name: Option<String>,
    pub reason: String,
}

/// The tenant named in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    pub tenant: String,
}
