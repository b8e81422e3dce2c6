//! A UAF authentication response: verified by `uaf` against the user's stored key (and the
//! transaction text sent), the metadata status checked, and the counter compared-and-set.

use serde_json::Value;

use super::{from_engine, refusal, Expected, UafDone, UafResult};
use crate::domain::{b64url, CredentialId, Username};
use crate::engine::metrics::Busy;
use crate::engine::tenant::Tenant;
use crate::engine::EngineError;
use crate::engine::{AuditDraft, Engine, KeyView, RequestCtx};
use crate::fido::mds::Lookup;
use crate::store::{
    AuditKind, Ceremony, CredentialRecord, Outcome, Refusal as StoreRefusal, Reservation,
    StoreError, TransactionRecord,
};
use crate::uaf::{self, Expectations, Op, Policy, StatusCode, StoredKey};

impl Engine {
    /// Verifies an `AuthenticationResponse` against the ceremony and the user's stored key,
    /// and updates the key's counter in one compare-and-set.
    pub fn uaf_authentication_response(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        message: &Value,
        expected: Option<Expected<'_>>,
    ) -> UafResult<UafDone> {
        self.uaf_response(
            tenant,
            cx,
            message,
            Op::Auth,
            expected,
            AuditKind::FidoAuthentication,
            |ceremony, username, response| {
                self.uaf_attempt(tenant, cx, username, || {
                    self.uaf_authenticated(tenant, cx, ceremony, username, response)
                })
            },
        )
    }

    /// Counts an authentication against the user's lock, as a WebAuthn sign-in is: refused
    /// while locked, a failure counted (the lock engaged and audited at the limit), a success
    /// clearing the count.
    fn uaf_attempt(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        username: &Username,
        attempt: impl FnOnce() -> UafResult<UafDone>,
    ) -> UafResult<UafDone> {
        let now = self.now();
        let policy = self.lock_policy();
        let store = tenant.store();
        let locked = || {
            refusal(
                StatusCode::Forbidden,
                "lock",
                "too many failed attempts: this account is temporarily locked",
            )
        };
        match store.reserve_attempt(username, now, &policy)? {
            Reservation::Granted => {}
            Reservation::Locked(_) => return Err(locked()),
            Reservation::TableFull => {
                return Err(from_engine(EngineError::ServerBusy(Busy::LockTableFull)))
            }
        }
        let result = attempt();
        match &result {
            Ok(_) => store.attempt_succeeded(username)?,
            Err(e) if e.status != StatusCode::InternalServerError => {
                if let Some(until) = store.attempt_failed(username, now, &policy)? {
                    self.lock_engaged(tenant, cx, username, until)
                        .map_err(from_engine)?;
                    return Err(locked());
                }
            }
            Err(_) => {}
        }
        result
    }

    fn uaf_authenticated(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        ceremony: &Ceremony,
        username: &Username,
        response: &uaf::Response,
    ) -> UafResult<UafDone> {
        let app_id = self.uaf_app_id(tenant);
        let facets = self.uaf_trusted_facets(tenant);
        let challenge = b64url(&ceremony.challenge);
        let store = tenant.store();
        let lookup = |aaid: &str, key_id: &[u8]| -> Option<StoredKey> {
            let id = CredentialId::from_bytes(key_id.to_vec()).ok()?;
            let record = store.credential(&id).ok()??;
            let key = record.uaf.as_ref()?;
            (record.username == *username
                && record.enabled
                && key.aaid.eq_ignore_ascii_case(aaid)
                && ceremony.allowed_credentials.contains(&id))
            .then(|| StoredKey {
                public_key: record.public_key.clone(),
                key_encoding: key.key_encoding,
                sign_alg: key.sign_alg,
                sign_counter: record.sign_count,
            })
        };
        // What the authenticator may have shown: the text, the image, or either (it shows the
        // one its display can, and signs the hash of that one).
        let shown_candidates = candidates(ceremony);
        let expectations = Expectations {
            app_id: &app_id,
            challenge: &challenge,
            trusted_facets: &facets,
            policy: &Policy::any(),
            channel_binding: Self::uaf_channel_binding(tenant),
        };
        let (verified, transaction) = if shown_candidates.is_empty() {
            let v = uaf::verify_authentication(response, &expectations, &lookup, None)?;
            (v, None)
        } else {
            let mut first_refusal = None;
            let mut found = None;
            for shown in shown_candidates {
                match uaf::verify_authentication(
                    response,
                    &expectations,
                    &lookup,
                    Some(shown.bytes()),
                ) {
                    Ok(v) => {
                        found = Some((v, Some(shown)));
                        break;
                    }
                    Err(e) => {
                        first_refusal.get_or_insert(e);
                    }
                }
            }
            match (found, first_refusal) {
                (Some(found), _) => found,
                (None, Some(e)) => return Err(e),
                (None, None) => unreachable!("a non-empty list was tried"),
            }
        };
        let id = CredentialId::from_bytes(verified.key_id.clone())
            .map_err(|e| refusal(StatusCode::UnknownKeyId, "keyID", e.0))?;
        if let Some(why) = self.metadata().and_then(|m| {
            m.blob
                .find(Lookup::Aaid(&verified.aaid))
                .and_then(|e| e.refusal(None, None))
        }) {
            return Err(refusal(
                StatusCode::RevokedAuthenticator,
                "metadataStatus",
                why,
            ));
        }
        let now = self.now();
        let received = verified.sign_counter;
        let update = store.update_credential(&id, &mut |current| {
            let stored = current.sign_count;
            if (stored != 0 || received != 0) && received <= stored {
                return Err(StoreError::Refused(StoreRefusal::CounterNotIncreased {
                    stored,
                    received,
                }));
            }
            if !current.enabled {
                return Err(StoreError::Refused(StoreRefusal::CredentialDisabled));
            }
            current.sign_count = received;
            current.last_used_at = Some(now);
            Ok(())
        });
        let updated = match update {
            Ok(updated) => updated,
            Err(StoreError::Refused(why)) => {
                return Err(refusal(
                    StatusCode::UnacceptableContent,
                    "signCount",
                    why.to_string(),
                ))
            }
            Err(StoreError::NotFound) => {
                return Err(refusal(
                    StatusCode::UnknownKeyId,
                    "keyID",
                    "this key was deleted meanwhile",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let evidence = match &transaction {
            None => {
                self.audit(AuditDraft {
                    kind: AuditKind::FidoAuthentication,
                    actor: cx.actor(),
                    username: Some(username),
                    credential_id: Some(&id),
                    outcome: Outcome::Success,
                    detail: "signed in with a UAF key".into(),
                    cx,
                })
                .map_err(from_engine)?;
                None
            }
            Some(shown) => {
                Some(self.uaf_evidence(tenant, cx, username, &updated, shown, response)?)
            }
        };
        Ok(UafDone {
            username: username.to_string(),
            aaid: verified.aaid,
            key_id: b64url(&verified.key_id),
            key: KeyView::of(&updated),
            evidence,
        })
    }

    /// A confirmed UAF transaction: audited (`TRANSACTION_VALIDATED`), its evidence signed with
    /// the server's evidence key and stored with the user's transactions.
    fn uaf_evidence(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        username: &Username,
        key: &CredentialRecord,
        shown: &Shown,
        response: &uaf::Response,
    ) -> UafResult<(String, Value)> {
        let Some(uaf_key) = &key.uaf else {
            return Err(from_engine(EngineError::Internal("not a UAF key".into())));
        };
        let transaction_id = crate::engine::random_id();
        let audit_hash = self
            .audit_sealed(AuditDraft {
                kind: AuditKind::TransactionValidated,
                actor: cx.actor(),
                username: Some(username),
                credential_id: Some(&key.id),
                outcome: Outcome::Success,
                detail: format!(
                    "transaction {transaction_id} confirmed on the authenticator ({})",
                    uaf::evidence::MODE
                ),
                cx,
            })
            .map_err(from_engine)?;
        let now = self.now();
        let app_id = self.uaf_app_id(tenant);
        let assertion = response.assertions.first().cloned().unwrap_or_default();
        let draft = uaf::evidence::UafEvidenceDraft {
            transaction_id: &transaction_id,
            tenant: &tenant.id,
            user: username.as_str(),
            validated_at: now,
            app_id: &app_id,
            transaction_text: match shown {
                Shown::Text(text) => Some(text.as_str()),
                Shown::Png(_) => None,
            },
            transaction_image: match shown {
                Shown::Png(image) => Some(image.as_slice()),
                Shown::Text(_) => None,
            },
            aaid: &uaf_key.aaid,
            key_id: key.id.as_bytes(),
            public_key: &key.public_key,
            key_encoding: uaf_key.key_encoding,
            registration: &key.attestation_object,
            fc_params: &response.fc_params,
            assertion: &assertion,
            audit_record_sha256: &audit_hash,
        };
        let evidence = self
            .evidence_key()
            .map_err(from_engine)?
            .sign(draft.document());
        tenant.store().insert_transaction(&TransactionRecord {
            id: transaction_id.clone(),
            username: username.clone(),
            validated_at: now,
            evidence: evidence.clone(),
        })?;
        Ok((transaction_id, evidence))
    }
}

/// What an authenticator showed and signed the hash of.
#[derive(Debug, Clone)]
enum Shown {
    Text(String),
    Png(Vec<u8>),
}

impl Shown {
    fn bytes(&self) -> &[u8] {
        match self {
            Shown::Text(text) => text.as_bytes(),
            Shown::Png(image) => image,
        }
    }
}

/// The contents a transaction ceremony sent: its text, then its image.
fn candidates(ceremony: &Ceremony) -> Vec<Shown> {
    let Some(signed) = &ceremony.signed else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(text) = signed.content["authenticationMessage"].as_str() {
        out.push(Shown::Text(text.to_owned()));
    }
    if let Some(image) = signed.content["transactionImage"]
        .as_str()
        .and_then(|b| crate::domain::b64url_decode(b).ok())
    {
        out.push(Shown::Png(image));
    }
    out
}
