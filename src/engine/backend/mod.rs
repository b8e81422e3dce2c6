//! Use cases of the relying-party backend APIs (the AuthFi shape and the FIDO conformance API):
//! a relying party's server begins a registration or an authentication for one of its users, and
//! hands the browser's response back; it manages its users and their credentials. Ceremonies are
//! found by (channel, tenant, challenge) — no cookie — and run through the same ceremony core as
//! the Loginapp flows. Returns typed views; the api layer renders them.
//!
//! - `ceremonies.rs`: begin and finish registrations and assertions, found by challenge.
//! - `requests.rs`: ceremonies found by the `requestID` they were given (the OneSpan shape).
//! - `transactions.rs`: a transaction validated, audited and its signed evidence stored.
//! - `users.rs`: finding users by `uId` or name, listing, renaming and deleting users and their
//!   keys.

mod ceremonies;
mod requests;
mod transactions;
mod users;

pub use requests::{
    LoggedIn, RequestKind, Requested, RequestedAuthentication, RequestedRegistration, Validated,
};

use chrono::{DateTime, Utc};

use super::registration::Attachment;
use crate::domain::b64url;
use crate::flow::definitions::{Conveyance, ResidentKey, UserVerification};
use crate::store::{CredentialRecord, UserRecord};

/// How a backend API names a user.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    /// AuthFi's `uId`: the base64url of a user handle, else a user name.
    Uid(&'a str),
    /// A user name only (the OneSpan shape's `userID`).
    Name(&'a str),
}

/// A user as the backend APIs show it.
#[derive(Debug, Clone)]
pub struct UserView {
    /// The base64url of the user handle (`user.id` of the creation options).
    pub uid: String,
    pub name: String,
    pub display_name: String,
    pub created: DateTime<Utc>,
}

/// A credential as the backend APIs show it.
#[derive(Debug, Clone)]
pub struct KeyView {
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
    /// Registered for Secure Payment Confirmation.
    pub payment: bool,
    /// A FIDO UAF key: its AAID (`credential_id` is then its KeyID).
    pub uaf_aaid: Option<String>,
}

/// A verified registration or assertion: the user and the credential.
#[derive(Debug, Clone)]
pub struct BackendVerified {
    pub user: UserView,
    pub key: KeyView,
}

/// What a backend asks of a new registration; unset members come from the tenant's defaults,
/// then the server's.
#[derive(Debug, Clone, Default)]
pub struct BackendRegistration {
    pub name: String,
    pub display_name: Option<String>,
    pub user_verification: Option<UserVerification>,
    pub resident_key: Option<ResidentKey>,
    pub attestation: Option<Conveyance>,
    pub attachment: Option<Attachment>,
}

/// What an assertion is for: a usernameless login, or a second factor for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendAssertion {
    Login,
    Verification,
}

impl BackendAssertion {
    fn purpose_key(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Verification => "verification",
        }
    }
}

/// One page of users.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub page: usize,
    pub size: usize,
    pub has_more: bool,
}

impl UserView {
    pub fn of(user: &UserRecord) -> Self {
        Self {
            uid: b64url(user.handle.as_bytes()),
            name: user.username.to_string(),
            display_name: user
                .display_name
                .as_ref()
                .map_or_else(|| user.username.to_string(), |d| d.to_string()),
            created: user.created_at,
        }
    }
}

impl KeyView {
    pub fn of(c: &CredentialRecord) -> Self {
        Self {
            credential_id: c.id.to_b64url(),
            aaguid: c.aaguid.clone(),
            model: c.authenticator_name.clone(),
            name: c.display_name.to_string(),
            format: c.attestation_format.clone(),
            trusted: c.attestation_trusted,
            transports: c.transports.clone(),
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            enabled: c.enabled,
            sign_count: c.sign_count,
            created: c.created_at,
            last_used: c.last_used_at,
            payment: c.payment,
            uaf_aaid: c.uaf.as_ref().map(|u| u.aaid.clone()),
        }
    }
}
