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

/// One of the sessions signed in to the account (`id`: what `…/session/select` takes).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AccountSession {
    /// Whether it is the session asking.
    pub current: bool,
    /// "Chrome on Linux", from the user agent; `null` when it names no known browser or system.
    pub device: Option<String>,
    /// The browser's `User-Agent` (its first 256 characters).
    pub user_agent: Option<String>,
    /// The address its last sign-in or step-up came from.
    pub remote_address: Option<String>,
    pub signed_in_at: DateTime<Utc>,
    /// Its last request; for the current session, now.
    pub last_seen_at: DateTime<Utc>,
}

/// `POST …/session/select`: the first step of `session-sign-out`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SessionSelect {
    /// The `id` of a `my.session` of the session list.
    pub session_id: String,
}

/// One of the signed-in user's own security events (`id`: its audit sequence number).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SecurityEvent {
    pub time: DateTime<Utc>,
    /// The audit event: `PASSWORD_CHECK`, `FIDO_AUTHENTICATION`, `FIDO_REGISTRATION`,
    /// `SIGN_UP`, `CREDENTIAL_RENAMED`, `CREDENTIAL_DISABLED`, `CREDENTIAL_ENABLED`,
    /// `CREDENTIAL_DELETED`, `SIGN_COUNTER_REGRESSION`, `USER_LOCKED`, `USER_UNLOCKED`,
    /// `USER_DISPLAY_NAME_CHANGED`, `PASSWORD_CHANGED`, `PASSWORD_REMOVED`, `SESSIONS_ENDED`.
    pub event: String,
    pub success: bool,
    /// `you`, `helpdesk`, `someone` (a sign-in attempt before it knew who) or `system`.
    pub by: String,
    pub credential_id: Option<String>,
    pub detail: String,
    pub remote_address: Option<String>,
    pub user_agent: Option<String>,
}

/// The page of `GET …/security-events`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SecurityEventsPage {
    /// 1 to 50; default 20.
    #[param(rename = "page[size]")]
    pub page_size: Option<usize>,
    /// The `meta.page.next` of the previous page.
    #[param(rename = "page[after]")]
    pub page_after: Option<String>,
}
