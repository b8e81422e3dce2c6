//! The assertion half of the ceremony core: begin an authentication for (tenant, user or none,
//! options) — a stored ceremony and its request options — and finish it with the response: the
//! user found (named by the ceremony, or by the passkey's user handle), the attempt counted
//! against the lock, WebAuthn §7.2 verified with the tenant's RP ID and origins, and counter,
//! backup state and last use updated in one compare-and-set. Knows no flow, cookie or wire shape.

use serde_json::Value;

use super::ceremony::{CeremonyKey, CeremonyResult, Channel, Refusal, RefusalKind};
use super::metrics::{self, Busy, Kind};
use super::registration::store_ceremony;
use super::tenant::Tenant;
use super::{AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::config::SignCounterPolicy;
use crate::domain::{CredentialId, UserHandle, Username};
use crate::fido::options::{self, CredentialDescriptor};
use crate::fido::payment::PaymentExpectations;
use crate::fido::{self as webauthn, AuthenticationError, AuthenticationExpectations};
use crate::flow::definitions::UserVerification;
use crate::store::{
    AuditKind, Ceremony, CeremonyPurpose, CredentialRecord, Outcome, Refusal as StoreRefusal,
    Reservation, SignedRequest, StoreError, UserRecord,
};

/// Why an assertion is asked for: it decides the audit event and the words of the refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing in (passwordless, or a second factor).
    Login,
    /// Approving a change to one's own credentials.
    Approval,
}

impl Purpose {
    fn audit_kind(self) -> AuditKind {
        match self {
            Purpose::Login => AuditKind::FidoAuthentication,
            Purpose::Approval => AuditKind::FidoApproval,
        }
    }

    fn ceremony(self) -> CeremonyPurpose {
        match self {
            Purpose::Login => CeremonyPurpose::Authentication,
            Purpose::Approval => CeremonyPurpose::Approval,
        }
    }
}

/// What the relying party asks of an assertion.
#[derive(Debug, Clone)]
pub struct AssertionOptions {
    pub user_verification: UserVerification,
    pub timeout: chrono::Duration,
    pub purpose: Purpose,
    /// A transaction-signing or payment assertion; `None`: a random challenge.
    pub signed: Option<SignedAssertion>,
}

/// What a transaction-signing or payment assertion binds: the challenge the caller derived
/// from `request`, stored with it so it can be derived again when the response comes back.
/// A payment (`request.merchant_origin` set) is offered only the user's payment credentials.
#[derive(Debug, Clone)]
pub struct SignedAssertion {
    pub challenge: Vec<u8>,
    pub request: SignedRequest,
}

/// A begun authentication: `PublicKeyCredentialRequestOptionsJSON` and the stored ceremony.
#[derive(Debug, Clone)]
pub struct AssertionChallenge {
    pub options: Value,
    pub ceremony_id: String,
}

/// A verified assertion: who signed, with which credential (as updated).
#[derive(Debug, Clone)]
pub struct Verified {
    pub user: UserRecord,
    pub credential: CredentialRecord,
}

impl Engine {
    /// Stores an assertion ceremony and builds its request options: `allowCredentials` are the
    /// enabled credentials of `username` (`NoValidToken` when there are none), or none for a
    /// discoverable credential. `key` as for `begin_registration`. Counted in the metrics as
    /// begun through `channel`.
    pub(super) fn begin_assertion(
        &self,
        channel: Channel,
        tenant: &Tenant,
        username: Option<&Username>,
        o: &AssertionOptions,
        key: Option<CeremonyKey<'_>>,
    ) -> EngineResult<AssertionChallenge> {
        let payment = o
            .signed
            .as_ref()
            .is_some_and(|s| s.request.merchant_origin.is_some());
        let credentials: Vec<CredentialRecord> = match username {
            Some(name) => {
                let enabled: Vec<CredentialRecord> = tenant
                    .store()
                    .credentials_of(name)?
                    .into_iter()
                    .filter(|c| c.enabled && c.uaf.is_none() && (c.payment || !payment))
                    .collect();
                if enabled.is_empty() {
                    return Err(EngineError::NoValidToken);
                }
                enabled
            }
            None => Vec::new(),
        };
        let challenge = match &o.signed {
            Some(signed) => signed.challenge.clone(),
            None => self.new_challenge(),
        };
        let ceremony = Ceremony {
            challenge: challenge.clone(),
            purpose: o.purpose.ceremony(),
            tenant: Some(tenant.id.clone()),
            username: username.cloned(),
            user_handle: None,
            credential_name: None,
            require_user_verification: o.user_verification == UserVerification::Required,
            algorithms: Vec::new(),
            allowed_credentials: credentials.iter().map(|c| c.id.clone()).collect(),
            expires_at: self.now() + o.timeout,
            signed: o.signed.as_ref().map(|s| s.request.clone()),
            payment: false,
        };
        let ceremony_id = store_ceremony(tenant, &ceremony, key)?;
        let allow: Vec<CredentialDescriptor<'_>> = credentials
            .iter()
            .map(|c| CredentialDescriptor {
                id: c.id.as_bytes(),
                transports: &c.transports,
            })
            .collect();
        let options = options::request_options(&options::RequestOptions {
            rp_id: &tenant.relying_party.id,
            challenge: &challenge,
            timeout_ms: o.timeout.num_milliseconds().max(0) as u64,
            allow: &allow,
            user_verification: o.user_verification.as_str(),
        });
        metrics::begun(channel, Kind::Assertion);
        Ok(AssertionChallenge {
            options,
            ceremony_id,
        })
    }

    /// Finishes an assertion against the ceremony it answers (taken out by the caller, `None`
    /// when there was none): identifies the user (the one the ceremony names, or the owner of
    /// the `userHandle`), counts the attempt against the lock, verifies, and updates the
    /// credential. The outcome is counted in the metrics under `channel`.
    pub(super) fn finish_assertion(
        &self,
        channel: Channel,
        tenant: &Tenant,
        cx: &RequestCtx,
        ceremony: Option<Ceremony>,
        credential: &Value,
        purpose: Purpose,
    ) -> CeremonyResult<Verified> {
        let result = self.assertion_outcome(tenant, cx, ceremony, credential, purpose);
        metrics::finished(channel, Kind::Assertion, &result);
        result
    }

    fn assertion_outcome(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        ceremony: Option<Ceremony>,
        credential: &Value,
        purpose: Purpose,
    ) -> CeremonyResult<Verified> {
        let now = self.now();
        let Some(ceremony) = ceremony.filter(|c| c.belongs_to(&tenant.id)) else {
            return Err(Refusal::new(
                RefusalKind::Spent,
                "challenge",
                "the challenge was already used; retrieve a new one",
            )
            .into());
        };
        let ids = webauthn::assertion_ids(credential);
        let username = match &ceremony.username {
            Some(u) => u.clone(),
            None => self.user_of_passkey(tenant, &ids)?,
        };
        if ceremony.expires_at <= now {
            self.audit_assertion(
                cx,
                purpose,
                &username,
                ceremony.username.is_some(),
                None,
                Outcome::Failure,
                "the challenge expired",
            )?;
            return Err(Refusal::new(
                RefusalKind::Expired,
                "challenge",
                "the challenge expired; retrieve a new one",
            )
            .into());
        }
        let policy = self.lock_policy();
        let store = tenant.store();
        let reservation = store.reserve_attempt(&username, now, &policy)?;
        if reservation == Reservation::TableFull {
            return Err(EngineError::ServerBusy(Busy::LockTableFull).into());
        }
        if let Reservation::Locked(until) = reservation {
            self.audit_assertion(
                cx,
                purpose,
                &username,
                ceremony.username.is_some(),
                None,
                Outcome::Failure,
                "refused: the username is locked",
            )?;
            return Err(locked(until).into());
        }
        let verified =
            self.verify_assertion(tenant, cx, &ceremony, &username, ids, credential, purpose);
        let record = match verified {
            Ok(record) => record,
            Err(e) => {
                if let Some(until) = store.attempt_failed(&username, now, &policy)? {
                    self.lock_engaged(tenant, cx, &username, until)?;
                    return Err(locked(until).into());
                }
                return Err(e);
            }
        };
        store.attempt_succeeded(&username)?;
        let user = store.user(&username)?.ok_or_else(|| {
            Refusal::new(
                RefusalKind::UnknownCredential,
                "user",
                "sign-in refused (user): the account was deleted meanwhile",
            )
        })?;
        Ok(Verified {
            user,
            credential: record,
        })
    }

    /// The owner of a discoverable credential, found by the assertion's `userHandle`.
    fn user_of_passkey(
        &self,
        tenant: &Tenant,
        ids: &Result<(Vec<u8>, Option<Vec<u8>>), AuthenticationError>,
    ) -> CeremonyResult<Username> {
        let (_, handle) = ids.as_ref().map_err(|e| {
            Refusal::new(
                RefusalKind::Malformed,
                e.check(),
                format!("sign-in refused ({}): {e}", e.check()),
            )
        })?;
        let handle = handle.as_ref().ok_or_else(|| {
            Refusal::new(RefusalKind::UnknownCredential, "userHandle", "sign-in refused (userHandle): a passkey sign-in needs the userHandle; use a discoverable credential")
        })?;
        let unknown = || {
            Refusal::new(
                RefusalKind::UnknownCredential,
                "userHandle",
                "sign-in refused (userHandle): this passkey is not registered here",
            )
        };
        let handle = UserHandle::from_bytes(handle).map_err(|_| unknown())?;
        Ok(tenant
            .store()
            .user_by_handle(&handle)?
            .ok_or_else(unknown)?
            .username)
    }

    /// Checks the assertion against the stored credential and updates counter, backup state,
    /// UV and last use in one compare-and-swap. Every refusal is audited.
    #[allow(clippy::too_many_arguments)]
    fn verify_assertion(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        ceremony: &Ceremony,
        username: &Username,
        ids: Result<(Vec<u8>, Option<Vec<u8>>), AuthenticationError>,
        credential: &Value,
        purpose: Purpose,
    ) -> CeremonyResult<CredentialRecord> {
        let what = refused_what(purpose, ceremony);
        let refuse = |credential_id: Option<&CredentialId>,
                      kind: RefusalKind,
                      check: &'static str,
                      detail: String|
         -> crate::engine::ceremony::CeremonyError {
            if let Err(e) = self.audit_assertion(
                cx,
                purpose,
                username,
                ceremony.username.is_some(),
                credential_id,
                Outcome::Failure,
                &detail,
            ) {
                return e.into();
            }
            Refusal::new(kind, check, detail).into()
        };
        let (raw_id, user_handle) = match ids {
            Ok(ids) => ids,
            Err(e) => {
                return Err(refuse(
                    None,
                    RefusalKind::Malformed,
                    e.check(),
                    format!("{what} refused ({}): {e}", e.check()),
                ))
            }
        };
        let id = CredentialId::from_bytes(raw_id).map_err(|e| {
            refuse(
                None,
                RefusalKind::Malformed,
                "credentialId",
                format!("{what} refused (credentialId): {}", e.0),
            )
        })?;
        if !ceremony.allowed_credentials.is_empty() && !ceremony.allowed_credentials.contains(&id) {
            return Err(refuse(
                None,
                RefusalKind::UnknownCredential,
                "credentialId",
                format!("{what} refused (credentialId): this credential was not one the challenge allowed"),
            ));
        }
        let store = tenant.store();
        let record = store
            .credential(&id)?
            .filter(|c| c.username == *username && c.uaf.is_none())
            .ok_or_else(|| {
                refuse(
                    None,
                    RefusalKind::UnknownCredential,
                    "credentialId",
                    format!("{what} refused (credentialId): the credential is not registered to this user"),
                )
            })?;
        if !record.enabled {
            return Err(refuse(
                Some(&id),
                RefusalKind::CredentialDisabled,
                "credential",
                format!("{what} refused (credential): this credential is disabled"),
            ));
        }
        if user_handle
            .as_deref()
            .is_some_and(|h| h != record.user_handle.as_bytes())
        {
            return Err(refuse(
                Some(&id),
                RefusalKind::UnknownCredential,
                "userHandle",
                format!("{what} refused (userHandle): the user handle does not belong to this credential"),
            ));
        }
        let rp = &tenant.relying_party;
        let payment_details = ceremony
            .signed
            .as_ref()
            .filter(|s| s.merchant_origin.is_some())
            .map(|s| &s.content["payment"]);
        let payment = ceremony
            .signed
            .as_ref()
            .and_then(|s| s.merchant_origin.as_deref())
            .zip(payment_details)
            .map(|(merchant_origin, details)| PaymentExpectations {
                details,
                merchant_origin,
            });
        // A transaction's approval keeps WebAuthn's type (fido demands payment.get of a payment):
        // its evidence names the type, and an offline check of the evidence demands it.
        let types: Vec<&str> = match &ceremony.signed {
            Some(_) => vec![webauthn::WEBAUTHN_GET],
            None => rp
                .expected_authentication_types
                .iter()
                .map(String::as_str)
                .collect(),
        };
        let verified = webauthn::verify_authentication(
            credential,
            &AuthenticationExpectations {
                challenge: &ceremony.challenge,
                rp_id: &rp.id,
                origins: &rp.origins,
                allow_cross_origin: rp.allow_cross_origin,
                top_origins: &rp.top_origins,
                client_data_types: &types,
                require_user_verification: ceremony.require_user_verification,
                public_key: &record.public_key,
                credential_id: id.as_bytes(),
                payment,
            },
        )
        .map_err(|e| {
            let kind = match e {
                AuthenticationError::Malformed(_) | AuthenticationError::NotPublicKey(_) => {
                    RefusalKind::Malformed
                }
                _ => RefusalKind::Check,
            };
            refuse(
                Some(&id),
                kind,
                e.check(),
                format!("{what} refused ({}): {e}", e.check()),
            )
        })?;
        if verified.backup_eligible != record.backup_eligible {
            return Err(refuse(Some(&id), RefusalKind::Check, "backupEligible", format!("{what} refused (backupEligible): the backup eligibility changed since registration")));
        }
        if let Some(why) = self.sign_in_refusal(&record) {
            return Err(refuse(
                Some(&id),
                RefusalKind::Policy,
                "metadataStatus",
                format!("{what} refused (metadataStatus): {why}"),
            ));
        }
        let now = self.now();
        let counter_policy = self.inner.settings.ceremony.sign_counter_policy;
        let mut regression = None;
        let update = store.update_credential(&id, &mut |current| {
            let (stored, received) = (current.sign_count, verified.sign_count);
            regression = None;
            if (stored != 0 || received != 0) && received <= stored {
                let tolerated = match counter_policy {
                    SignCounterPolicy::Refuse => false,
                    SignCounterPolicy::Audit => true,
                    SignCounterPolicy::IgnoreWhenBackupEligible => current.backup_eligible,
                };
                let why = StoreRefusal::CounterNotIncreased { stored, received };
                if !tolerated {
                    return Err(StoreError::Refused(why));
                }
                regression = Some(why);
            }
            if !current.enabled {
                return Err(StoreError::Refused(StoreRefusal::CredentialDisabled));
            }
            current.sign_count = current.sign_count.max(received);
            current.backup_state = verified.backup_state;
            current.user_verified = verified.user_verified;
            current.last_used_at = Some(now);
            Ok(())
        });
        if let Some(why) = regression.filter(|_| update.is_ok()) {
            self.audit_counter(
                cx,
                username,
                &id,
                Outcome::Success,
                format!("tolerated by policy: {why}"),
            )?;
        }
        let updated = match update {
            Ok(updated) => updated,
            Err(StoreError::Refused(why)) => {
                if matches!(why, StoreRefusal::CounterNotIncreased { .. }) {
                    self.audit_counter(cx, username, &id, Outcome::Failure, why.to_string())?;
                }
                let (kind, check) = update_refusal(&why);
                return Err(refuse(
                    Some(&id),
                    kind,
                    check,
                    format!("{what} refused: {why}"),
                ));
            }
            // Deleted by a request that finished while this assertion was being verified.
            Err(StoreError::NotFound) => {
                return Err(refuse(
                    Some(&id),
                    RefusalKind::UnknownCredential,
                    "credentialId",
                    format!("{what} refused (credentialId): this credential was deleted meanwhile"),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let detail = match purpose {
            Purpose::Login => "signed in with a FIDO credential",
            Purpose::Approval => "approved with a FIDO credential",
        };
        self.audit_assertion(
            cx,
            purpose,
            username,
            true,
            Some(&id),
            Outcome::Success,
            detail,
        )?;
        Ok(updated)
    }

    fn audit_counter(
        &self,
        cx: &RequestCtx,
        username: &Username,
        id: &CredentialId,
        outcome: Outcome,
        detail: String,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind: AuditKind::SignCounterRegression,
            actor: format!("user:{username}"),
            username: Some(username),
            credential_id: Some(id),
            outcome,
            detail,
            cx,
        })
    }

    /// Audits an assertion of `username`'s. `identified`: a password step or the session had
    /// proved who the user is before this assertion (a second factor, a step-up, an approval),
    /// or the assertion itself did.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn audit_assertion(
        &self,
        cx: &RequestCtx,
        purpose: Purpose,
        username: &Username,
        identified: bool,
        credential: Option<&CredentialId>,
        outcome: Outcome,
        detail: &str,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind: purpose.audit_kind(),
            // A sign-in's actor is the user once known: after the password (a second factor),
            // in a signed-in session, or when the assertion proved it; a failed passkey
            // sign-in named the user only by a claim.
            actor: match (purpose, outcome) {
                (Purpose::Login, Outcome::Failure) if !identified => "anonymous".into(),
                _ => format!("user:{username}"),
            },
            username: Some(username),
            credential_id: credential,
            outcome,
            detail: detail.into(),
            cx,
        })
    }

    /// The temporary lock engaged for `username`: audited, and all their sessions end.
    pub(super) fn lock_engaged(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        username: &Username,
        until: chrono::DateTime<chrono::Utc>,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind: AuditKind::UserLocked,
            actor: "anonymous".into(),
            username: Some(username),
            credential_id: None,
            outcome: Outcome::Success,
            detail: format!(
                "locked until {} after repeated failures",
                super::rfc3339(until)
            ),
            cx,
        })?;
        super::metrics::lock_engaged(tenant.is_default());
        if tenant.is_default() {
            tenant.store().end_sessions_of(username, None)?;
        }
        Ok(())
    }
}

fn locked(until: chrono::DateTime<chrono::Utc>) -> Refusal {
    Refusal::new(
        RefusalKind::Locked { until },
        "lock",
        "too many failed attempts: this account is temporarily locked",
    )
}

/// The refusal of a counter update the store refused: a counter that did not grow, or a
/// credential disabled by a request that finished while this assertion was being verified.
fn update_refusal(why: &StoreRefusal) -> (RefusalKind, &'static str) {
    match why {
        StoreRefusal::CounterNotIncreased { .. } => (RefusalKind::CounterRegression, "signCount"),
        StoreRefusal::CredentialDisabled => (RefusalKind::CredentialDisabled, "credential"),
        _ => (RefusalKind::Check, "credential"),
    }
}

/// What a refused assertion names as refused: a "sign-in", an "approval" (of a change to one's
/// own credentials), a "transaction" or a "payment".
fn refused_what(purpose: Purpose, ceremony: &Ceremony) -> &'static str {
    match (&ceremony.signed, purpose) {
        (Some(signed), _) if signed.merchant_origin.is_some() => "payment",
        (Some(_), _) => "transaction",
        (None, Purpose::Approval) => "approval",
        (None, Purpose::Login) => "sign-in",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_disabled_during_the_assertion_is_refused_as_disabled() {
        // The HTTP tests reach the earlier check of a disabled credential; this one is the race
        // where the store's atomic update sees the credential disabled.
        assert_eq!(
            update_refusal(&StoreRefusal::CredentialDisabled),
            (RefusalKind::CredentialDisabled, "credential")
        );
        assert_eq!(
            update_refusal(&StoreRefusal::CounterNotIncreased {
                stored: 5,
                received: 5
            }),
            (RefusalKind::CounterRegression, "signCount")
        );
        assert_eq!(
            update_refusal(&StoreRefusal::AlreadyEnabled),
            (RefusalKind::Check, "credential")
        );
    }

    #[test]
    fn a_refusal_names_what_was_refused() {
        let mut ceremony = crate::store::suite::fixtures::ceremony();
        assert_eq!(refused_what(Purpose::Login, &ceremony), "sign-in");
        assert_eq!(refused_what(Purpose::Approval, &ceremony), "approval");
        ceremony.signed = Some(crate::store::SignedRequest {
            content: serde_json::json!({"transaction": {}}),
            nonce: vec![1; 16],
            merchant_origin: None,
        });
        assert_eq!(refused_what(Purpose::Login, &ceremony), "transaction");
        ceremony.signed.as_mut().unwrap().merchant_origin = Some("https://shop.example".into());
        assert_eq!(refused_what(Purpose::Login, &ceremony), "payment");
    }
}
