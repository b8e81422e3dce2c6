//! A validated transaction: the assertion of a transaction request verified (user verification
//! required, the challenge derived again from the stored content), then audited, and its evidence
//! signed with the server's evidence key and stored with the user's transactions.

use serde_json::Value;

use super::requests::{RequestKind, Validated};
use super::{KeyView, UserView};
use crate::domain::{b64url_decode, hex};
use crate::engine::assertion::Purpose;
use crate::engine::ceremony::{CeremonyResult, Channel, Refusal, RefusalKind};
use crate::engine::tenant::Tenant;
use crate::engine::{AuditDraft, Engine, EngineError, EngineResult, RequestCtx};
use crate::fido::evidence::{EvidenceDraft, Mode};
use crate::fido::transaction::SignedContent;
use crate::store::{AuditKind, Outcome, TransactionRecord};

impl Engine {
    /// Validates the transaction `request_id` of user `name`: the challenge derived again from
    /// what was stored must be the issued one, the assertion verifies with user verification,
    /// and the evidence is audited, signed and stored.
    pub fn validate_transaction(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        channel: Channel,
        name: &str,
        request_id: &str,
        credential: &Value,
    ) -> CeremonyResult<Validated> {
        let (ceremony, uuid) =
            self.requested_assertion(tenant, channel, RequestKind::Transaction, name, request_id)?;
        let Some(signed) = ceremony.signed.clone() else {
            return Err(
                EngineError::Internal("a transaction ceremony without content".into()).into(),
            );
        };
        let content: SignedContent = serde_json::from_value(signed.content.clone())
            .map_err(|e| EngineError::Internal(format!("stored transaction content: {e}")))?;
        if content.challenge(&signed.nonce).as_slice() != ceremony.challenge.as_slice() {
            return Err(Refusal::new(
                RefusalKind::Check,
                "challenge",
                "transaction refused (challenge): the challenge is not the one derived from the stored transaction",
            )
            .into());
        }
        let verified = self.finish_assertion(
            channel,
            tenant,
            cx,
            Some(ceremony),
            credential,
            Purpose::Login,
        )?;
        let mode = if signed.merchant_origin.is_some() {
            Mode::Spc
        } else {
            Mode::Fido2DynamicLinking
        };
        let now = self.now();
        let canonical = content.canonical();
        let digest = ring::digest::digest(&ring::digest::SHA256, &canonical);
        let audit_hash = self.audit_sealed(AuditDraft {
            kind: AuditKind::TransactionValidated,
            actor: cx.actor(),
            username: Some(&verified.user.username),
            credential_id: Some(&verified.credential.id),
            outcome: Outcome::Success,
            detail: format!(
                "transaction {uuid} approved ({}); SHA-256 of its canonical form {}",
                mode.as_str(),
                hex(digest.as_ref())
            ),
            cx,
        })?;
        let assertion = AssertionParts::of(credential)?;
        let record = &verified.credential;
        let draft = EvidenceDraft {
            transaction_id: &uuid,
            mode,
            tenant: &tenant.id,
            user: verified.user.username.as_str(),
            validated_at: now,
            rp_id: &tenant.relying_party.id,
            content: &content,
            nonce: &signed.nonce,
            credential_id: record.id.as_bytes(),
            public_key: &record.public_key,
            attestation_object: &record.attestation_object,
            registration_client_data: &record.client_data_json,
            authenticator_data: &assertion.authenticator_data,
            client_data_json: &assertion.client_data_json,
            signature: &assertion.signature,
            user_handle: assertion.user_handle.as_deref(),
            audit_record_sha256: &audit_hash,
        };
        let key = self.evidence_key()?;
        let evidence = key.sign(draft.document());
        tenant.store().insert_transaction(&TransactionRecord {
            id: uuid.clone(),
            username: verified.user.username.clone(),
            validated_at: now,
            evidence: evidence.clone(),
        })?;
        Ok(Validated {
            transaction_id: uuid,
            user: UserView::of(&verified.user),
            key: KeyView::of(&verified.credential),
            evidence,
        })
    }
}

/// The parts of an assertion response the evidence keeps, as the browser sent them.
struct AssertionParts {
    authenticator_data: Vec<u8>,
    client_data_json: Vec<u8>,
    signature: Vec<u8>,
    user_handle: Option<Vec<u8>>,
}

impl AssertionParts {
    fn of(credential: &Value) -> EngineResult<Self> {
        let response = &credential["response"];
        let bytes = |name: &str| {
            response[name]
                .as_str()
                .and_then(|s| b64url_decode(s).ok())
                .ok_or_else(|| EngineError::Internal(format!("a verified assertion lacks {name}")))
        };
        Ok(Self {
            authenticator_data: bytes("authenticatorData")?,
            client_data_json: bytes("clientDataJSON")?,
            signature: bytes("signature")?,
            user_handle: response["userHandle"]
                .as_str()
                .filter(|s| !s.is_empty())
                .and_then(|s| b64url_decode(s).ok()),
        })
    }
}
