//! FIDO UAF 1.1 use cases for a tenant's apps: registration, authentication (with `text/plain`
//! and `image/png` transaction confirmation and its evidence) and deregistration requests, and the responses verified by `uaf`.
//! A request's `serverData` names its stored ceremony and is MAC'd (HMAC-SHA256 over tenant,
//! operation and ceremony id) with the server-data key (`uaf-server-data.key`, shared by every
//! node), so a forged or altered one is refused before any lookup; the ceremony is bound to
//! tenant, operation and username, taken exactly once and expires. UAF keys live with the
//! tenant's WebAuthn credentials (`CredentialRecord::uaf`), so listing, renaming, disabling,
//! deleting, the lock and the audit log treat them alike.
//!
//! - `requests.rs`: the three requests, and the stored ceremony behind `serverData`.
//! - `registration.rs`: a registration response verified, judged and stored.
//! - `authentication.rs`: an authentication response verified, the counter updated, the lock
//!   counted, and a confirmed transaction's evidence signed and stored.

mod authentication;
mod registration;
mod requests;

use ring::hmac;
use serde_json::Value;

use super::tenant::Tenant;
use super::{AuditDraft, Engine, EngineError, KeyView, RequestCtx};
use crate::config::UafCriteria;
use crate::domain::{CredentialId, Username};
use crate::store::{AuditKind, Ceremony, Outcome, StoreError};
use crate::uaf::{self, MatchCriteria, Op, Policy, StatusCode, UafRefusal};

/// What a UAF request call answers: the request message for the client (a JSON array) and how
/// long it lives.
#[derive(Debug, Clone)]
pub struct UafRequest {
    pub op: Op,
    pub message: Value,
    pub lifetime_millis: u64,
    /// The id `serverData` names (empty for a deregistration): what the OneSpan shape's
    /// `requestID` carries.
    pub id: String,
}

/// A verified UAF response: who, and which key.
#[derive(Debug, Clone)]
pub struct UafDone {
    pub username: String,
    pub aaid: String,
    pub key_id: String,
    /// The key as stored (after the counter update).
    pub key: KeyView,
    /// A confirmed transaction: its id and its signed evidence.
    pub evidence: Option<(String, Value)>,
}

/// What a caller that names the request itself (the OneSpan shape) expects of a response: its
/// user and the id its `serverData` must name.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub username: &'a str,
    pub id: &'a str,
    /// Whether the request must be a transaction to confirm (`transactions/validate`) or must
    /// not be one (`login`).
    pub transaction: bool,
}

/// What a UAF authentication asks the authenticator to show and confirm: text, a PNG image with
/// its display characteristics, or both (the authenticator shows the one its display can).
#[derive(Debug, Clone, Default)]
pub struct UafTransaction {
    pub text: Option<String>,
    pub png: Option<(Vec<u8>, Value)>,
}

impl UafTransaction {
    pub fn is_empty(&self) -> bool {
        self.text.is_none() && self.png.is_none()
    }
}

/// The status a UAF call answers when it fails (HTTP 200 with this `statusCode`).
pub type UafResult<T> = Result<T, UafRefusal>;

/// The file of the key that MACs `serverData`, in the data directory.
pub const SERVER_DATA_KEY_FILE: &str = "uaf-server-data.key";

fn refusal(status: StatusCode, check: &'static str, detail: impl Into<String>) -> UafRefusal {
    UafRefusal {
        status,
        check,
        detail: detail.into(),
    }
}

/// An engine failure as a UAF status: client mistakes keep their meaning, the rest is 1500.
fn from_engine(e: EngineError) -> UafRefusal {
    match e {
        EngineError::UserNotFound(_) => refusal(StatusCode::NotFound, "username", "no such user"),
        EngineError::InvalidUsername(why) => refusal(StatusCode::BadRequest, "username", why),
        EngineError::TooManyRequests { .. } => refusal(
            StatusCode::Forbidden,
            "rateLimit",
            "too many requests for this user; try again later",
        ),
        EngineError::UserLocked { .. } => refusal(
            StatusCode::Forbidden,
            "lock",
            "too many failed attempts: this account is temporarily locked",
        ),
        other => {
            tracing::error!(error = ?other, "UAF call failed");
            refusal(
                StatusCode::InternalServerError,
                "server",
                "the server could not complete the call; try again",
            )
        }
    }
}

impl From<StoreError> for UafRefusal {
    fn from(e: StoreError) -> Self {
        from_engine(e.into())
    }
}

impl Engine {
    /// Sets the key that MACs `serverData` (once, at start).
    pub fn set_uaf_server_data_key(&self, key: [u8; 32]) {
        let _ = self
            .inner
            .uaf_key
            .set(hmac::Key::new(hmac::HMAC_SHA256, &key));
    }

    /// The tenant's AppID: `[tenants.uaf] app_id`, else `https://<rp_id>/<access_path>/uaf/facets`.
    pub fn uaf_app_id(&self, tenant: &Tenant) -> String {
        let uaf = tenant.settings.as_ref().map(|s| &s.uaf);
        match uaf.and_then(|u| u.app_id.clone()) {
            Some(app_id) => app_id,
            None => format!(
                "https://{}/{}/uaf/facets",
                tenant.relying_party.id,
                tenant.access_path.as_deref().unwrap_or_default()
            ),
        }
    }

    /// The `DeregistrationRequest` that tells the app to forget `key`, when it is a UAF key a
    /// relying party deleted through another API than the UAF transport (which answers one
    /// itself): the relying party passes it on to the app.
    pub fn uaf_deregistration_of(&self, tenant: &Tenant, key: &KeyView) -> Option<Value> {
        let aaid = key.uaf_aaid.as_ref()?;
        let key_id = crate::domain::b64url_decode(&key.credential_id).ok()?;
        Some(uaf::deregistration_request(
            &self.uaf_app_id(tenant),
            &[(aaid.clone(), key_id)],
        ))
    }

    /// The tenant's trusted facets: `[tenants.uaf] trusted_facets`, else its `https://` origins.
    pub fn uaf_trusted_facets(&self, tenant: &Tenant) -> Vec<String> {
        let configured = tenant
            .settings
            .as_ref()
            .and_then(|s| s.uaf.trusted_facets.clone());
        configured.unwrap_or_else(|| {
            tenant
                .relying_party
                .origins
                .iter()
                .filter(|o| o.starts_with("https://"))
                .cloned()
                .collect()
        })
    }

    /// How the tenant judges channel bindings: its `tls_server_certificates` and
    /// `require_channel_binding` (none: the binding's shape only).
    fn uaf_channel_binding(tenant: &Tenant) -> uaf::ChannelBindingPolicy<'_> {
        tenant
            .settings
            .as_ref()
            .map_or_else(Default::default, |s| uaf::ChannelBindingPolicy {
                server_certificates: &s.uaf.tls_server_certificates,
                required: s.uaf.require_channel_binding,
            })
    }

    /// The policy of the tenant's registration requests: one accepted set per AAID of
    /// `accepted_aaids` and per `[[tenants.uaf.accepted]]` table (neither: any UAFV1TLV
    /// authenticator), and its `[[tenants.uaf.disallowed]]` criteria.
    fn uaf_policy(&self, tenant: &Tenant) -> Policy {
        let Some(settings) = tenant.settings.as_ref().map(|s| &s.uaf) else {
            return Policy::any();
        };
        let scheme = || Some(vec![uaf::messages::ASSERTION_SCHEME.to_string()]);
        let mut accepted: Vec<Vec<MatchCriteria>> = settings
            .accepted_aaids
            .iter()
            .map(|aaid| {
                vec![MatchCriteria {
                    aaid: Some(vec![aaid.clone()]),
                    assertion_schemes: scheme(),
                    ..MatchCriteria::default()
                }]
            })
            .collect();
        accepted.extend(settings.accepted.iter().map(|c| {
            vec![MatchCriteria {
                assertion_schemes: scheme(),
                ..match_criteria(c)
            }]
        }));
        Policy {
            accepted: if accepted.is_empty() {
                Policy::any().accepted
            } else {
                accepted
            },
            disallowed: settings.disallowed.iter().map(match_criteria).collect(),
        }
    }

    /// Parses a response message of `op`, takes the ceremony its `serverData` names and runs
    /// `verified` for the ceremony's user; a refusal after the ceremony is found is audited as
    /// `kind`.
    #[allow(clippy::too_many_arguments)]
    fn uaf_response(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        message: &Value,
        op: Op,
        expected: Option<Expected<'_>>,
        kind: AuditKind,
        verified: impl FnOnce(&Ceremony, &Username, &uaf::Response) -> UafResult<UafDone>,
    ) -> UafResult<UafDone> {
        let response = uaf::parse_response(message, op)?;
        let ceremony = self.uaf_take(tenant, op, &response.server_data, expected)?;
        let username = ceremony_user(&ceremony)?;
        let result = verified(&ceremony, &username, &response);
        if let Err(e) = &result {
            self.audit_uaf(cx, kind, &username, None, e)?;
        }
        result
    }

    fn audit_uaf(
        &self,
        cx: &RequestCtx,
        kind: AuditKind,
        username: &Username,
        credential: Option<&CredentialId>,
        e: &UafRefusal,
    ) -> UafResult<()> {
        self.audit(AuditDraft {
            kind,
            actor: format!("user:{username}"),
            username: Some(username),
            credential_id: credential,
            outcome: Outcome::Failure,
            detail: format!(
                "UAF {} refused ({}, {}): {}",
                match kind {
                    AuditKind::FidoRegistration => "registration",
                    _ => "authentication",
                },
                e.status.code(),
                e.check,
                e.detail
            ),
            cx,
        })
        .map_err(from_engine)
    }
}

fn ceremony_user(ceremony: &Ceremony) -> UafResult<Username> {
    ceremony.username.clone().ok_or_else(|| {
        refusal(
            StatusCode::RequestInvalid,
            "serverData",
            "the request names no user",
        )
    })
}

/// A configured criterion as the UAF MatchCriteria it stands for (bits of 0 and empty lists
/// left out).
fn match_criteria(c: &UafCriteria) -> MatchCriteria {
    let list = |l: &[String]| (!l.is_empty()).then(|| l.to_vec());
    let bits32 = |b: u32| (b != 0).then_some(b);
    // The registry's key protection, matcher protection and display flags fit 16 bits.
    let bits16 = |b: u32| u16::try_from(b).ok().filter(|b| *b != 0);
    MatchCriteria {
        aaid: list(&c.aaid),
        vendor_id: list(&c.vendor_id),
        user_verification: bits32(c.user_verification),
        key_protection: bits16(c.key_protection),
        matcher_protection: bits16(c.matcher_protection),
        attachment_hint: bits32(c.attachment_hint),
        tc_display: bits16(c.tc_display),
        ..MatchCriteria::default()
    }
}
