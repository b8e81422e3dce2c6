//! The wire shapes of the account self-service calls (display name, password, account view).

use chrono::{DateTime, Utc};
use utoipa::ToSchema;

/// `GET …/user`: the signed-in user's account (`id`: the username).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Account {
    pub username: String,
    /// `null` when the account has none.
    pub display_name: Option<String>,
    /// Whether the account has a password (`password-change`, `password-removal`) or is
    /// passkey-only (`password-add`).
    pub has_password: bool,
    pub has_enabled_credential: bool,
    pub created_at: DateTime<Utc>,
}

/// `POST …/user/display-name/change`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct UserDisplayNameChange {
    /// 1 to 64 characters, no control, format or bidi characters.
    pub display_name: String,
}

/// `POST …/password/current/check` and `…/password/new/set`.
#[derive(ToSchema)]
pub struct Password {
    /// The current password, or the new one (8 to 1024 characters).
    pub password: String,
}
