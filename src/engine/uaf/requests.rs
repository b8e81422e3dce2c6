//! The registration, authentication and deregistration requests, and the stored ceremony a
//! request's `serverData` names: made, MAC'd, and taken back exactly once.

use ring::hmac;

use super::{from_engine, refusal, Expected, UafRequest, UafResult, UafTransaction};
use crate::domain::{b64url, b64url_decode, Username};
use crate::engine::ceremony::Channel;
use crate::engine::tenant::Tenant;
use crate::engine::{AuditDraft, Engine, EngineError, RequestCtx, Who};
use crate::store::{
    AuditKind, Ceremony, CeremonyPurpose, CredentialRecord, Outcome, SignedRequest, StoreError,
};
use crate::uaf::{self, MatchCriteria, Op, Policy, StatusCode, TransactionContent};

impl Engine {
    /// A registration request for `username` (made on first use, as in the AuthFi shape).
    pub fn uaf_registration_request(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        username: &str,
    ) -> UafResult<UafRequest> {
        let name = Username::parse(username)
            .map_err(|e| refusal(StatusCode::BadRequest, "username", e.0))?;
        self.count_challenge(tenant, &name).map_err(from_engine)?;
        let user = self
            .user_or_created(tenant, cx, &name, None)
            .map_err(from_engine)?;
        let (id, server_data, challenge, lifetime) =
            self.uaf_ceremony(tenant, Op::Reg, &user.username, None)?;
        let message = uaf::registration_request(
            &self.uaf_app_id(tenant),
            &server_data,
            &challenge,
            user.username.as_str(),
            &self.uaf_policy(tenant),
        );
        Ok(UafRequest {
            op: Op::Reg,
            message,
            lifetime_millis: lifetime,
            id,
        })
    }

    /// An authentication request for `username`, limited to their enabled UAF keys; with
    /// `transaction`, a `text/plain` transaction the authenticator shows and signs the hash of.
    pub fn uaf_authentication_request(
        &self,
        tenant: &Tenant,
        username: &str,
        transaction: &UafTransaction,
    ) -> UafResult<UafRequest> {
        let user = self
            .find_user(tenant, Who::Name(username))
            .map_err(from_engine)?;
        self.count_challenge(tenant, &user.username)
            .map_err(from_engine)?;
        if let Some(text) = &transaction.text {
            crate::fido::transaction::check_message(text)
                .map_err(|e| refusal(StatusCode::BadRequest, "transaction", e.to_string()))?;
        }
        if let Some((image, characteristics)) = &transaction.png {
            check_png(image, characteristics)?;
        }
        let keys: Vec<(String, Vec<u8>)> = tenant
            .store()
            .credentials_of(&user.username)?
            .into_iter()
            .filter(|c| c.enabled)
            .filter_map(|c| c.uaf.map(|u| (u.aaid, c.id.as_bytes().to_vec())))
            .collect();
        if keys.is_empty() {
            return Err(refusal(
                StatusCode::NotFound,
                "keyID",
                "the user has no enabled UAF key; register one first",
            ));
        }
        let (id, server_data, challenge, lifetime) =
            self.uaf_ceremony(tenant, Op::Auth, &user.username, Some(transaction))?;
        let mut contents = Vec::new();
        if let Some(text) = &transaction.text {
            contents.push(TransactionContent::Text(text));
        }
        if let Some((image, characteristics)) = &transaction.png {
            contents.push(TransactionContent::Png {
                image,
                characteristics,
            });
        }
        let message = uaf::authentication_request_with(
            &self.uaf_app_id(tenant),
            &server_data,
            &challenge,
            &Policy {
                accepted: keys
                    .iter()
                    .map(|(aaid, id)| {
                        vec![MatchCriteria {
                            aaid: Some(vec![aaid.clone()]),
                            key_ids: Some(vec![b64url(id)]),
                            ..MatchCriteria::default()
                        }]
                    })
                    .collect(),
                disallowed: Vec::new(),
            },
            &contents,
        );
        Ok(UafRequest {
            op: Op::Auth,
            message,
            lifetime_millis: lifetime,
            id,
        })
    }

    /// Deregisters at once the user's keys that `aaid` / `key_id` pick (neither: all of them;
    /// `aaid` alone: all of that AAID) and returns the `DeregistrationRequest` that tells the
    /// authenticators to forget them.
    pub fn uaf_deregistration_request(
        &self,
        tenant: &Tenant,
        cx: &RequestCtx,
        username: &str,
        aaid: Option<&str>,
        key_id: Option<&str>,
    ) -> UafResult<UafRequest> {
        let user = self
            .find_user(tenant, Who::Name(username))
            .map_err(from_engine)?;
        let key_id = key_id
            .map(|k| {
                b64url_decode(k).map_err(|_| {
                    refusal(
                        StatusCode::BadRequest,
                        "keyID",
                        "the keyID is not base64url",
                    )
                })
            })
            .transpose()?;
        let picked: Vec<CredentialRecord> = tenant
            .store()
            .credentials_of(&user.username)?
            .into_iter()
            .filter(|c| {
                c.uaf.as_ref().is_some_and(|u| {
                    aaid.is_none_or(|a| u.aaid.eq_ignore_ascii_case(a))
                        && key_id.as_deref().is_none_or(|k| k == c.id.as_bytes())
                })
            })
            .collect();
        if picked.is_empty() {
            return Err(refusal(
                StatusCode::NotFound,
                "keyID",
                "no UAF key of this user matches",
            ));
        }
        for record in &picked {
            match tenant.store().delete_credential(&user.username, &record.id) {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            self.audit(AuditDraft {
                kind: AuditKind::CredentialDeleted,
                actor: cx.actor(),
                username: Some(&user.username),
                credential_id: Some(&record.id),
                outcome: Outcome::Success,
                detail: "UAF key deregistered by the relying party".into(),
                cx,
            })
            .map_err(from_engine)?;
        }
        let whole_user = aaid.is_none() && key_id.is_none();
        let keys: Vec<(String, Vec<u8>)> = if whole_user {
            vec![(String::new(), Vec::new())]
        } else {
            picked
                .iter()
                .filter_map(|c| {
                    c.uaf
                        .as_ref()
                        .map(|u| (u.aaid.clone(), c.id.as_bytes().to_vec()))
                })
                .collect()
        };
        Ok(UafRequest {
            op: Op::Dereg,
            message: uaf::deregistration_request(&self.uaf_app_id(tenant), &keys),
            lifetime_millis: 0,
            id: String::new(),
        })
    }

    /// Stores a UAF ceremony; returns its id, `serverData`, challenge (base64url) and lifetime.
    fn uaf_ceremony(
        &self,
        tenant: &Tenant,
        op: Op,
        username: &Username,
        transaction: Option<&UafTransaction>,
    ) -> UafResult<(String, String, String, u64)> {
        let timeout = self.backend_timeout(tenant);
        let challenge = self.new_challenge();
        let allowed = match op {
            Op::Auth => tenant
                .store()
                .credentials_of(username)?
                .into_iter()
                .filter(|c| c.uaf.is_some() && c.enabled)
                .map(|c| c.id)
                .collect(),
            _ => Vec::new(),
        };
        let ceremony = Ceremony {
            challenge: challenge.clone(),
            purpose: match op {
                Op::Reg => CeremonyPurpose::Registration,
                _ => CeremonyPurpose::Authentication,
            },
            tenant: Some(tenant.id.clone()),
            username: Some(username.clone()),
            user_handle: None,
            credential_name: None,
            require_user_verification: true,
            algorithms: Vec::new(),
            allowed_credentials: allowed,
            expires_at: self.now() + timeout,
            signed: transaction.filter(|t| !t.is_empty()).map(|t| {
                let mut content = serde_json::Map::new();
                if let Some(text) = &t.text {
                    content.insert("authenticationMessage".into(), text.clone().into());
                }
                if let Some((image, characteristics)) = &t.png {
                    content.insert("transactionImage".into(), b64url(image).into());
                    content.insert(
                        "tcDisplayPNGCharacteristics".into(),
                        characteristics.clone(),
                    );
                }
                SignedRequest {
                    content: content.into(),
                    nonce: Vec::new(),
                    merchant_origin: None,
                }
            }),
            payment: false,
        };
        let id = crate::engine::random_id();
        let key = Channel::Uaf.ceremony_key(&tenant.id, op.as_str(), id.as_bytes());
        tenant.store().put_ceremony_at(&key, &ceremony)?;
        let mac = hmac::sign(
            &self.uaf_key()?,
            server_data_message(&tenant.id, op, &id).as_bytes(),
        );
        Ok((
            id.clone(),
            format!("{id}.{}", b64url(mac.as_ref())),
            b64url(&challenge),
            timeout.num_milliseconds().max(0) as u64,
        ))
    }

    /// Checks `serverData`'s MAC, then takes its ceremony (once); a ceremony of another user,
    /// operation or tenant cannot be named, a lapsed one is a timeout.
    pub(super) fn uaf_take(
        &self,
        tenant: &Tenant,
        op: Op,
        server_data: &str,
        expected: Option<Expected<'_>>,
    ) -> UafResult<Ceremony> {
        let invalid = || {
            refusal(
                StatusCode::RequestInvalid,
                "serverData",
                "serverData is not one this server issued for this operation, or was used already",
            )
        };
        let (id, mac) = server_data.split_once('.').ok_or_else(invalid)?;
        if expected.is_some_and(|e| e.id != id) {
            return Err(refusal(
                StatusCode::RequestInvalid,
                "requestID",
                "the response answers another request than this requestID",
            ));
        }
        let mac = b64url_decode(mac).map_err(|_| invalid())?;
        let message = server_data_message(&tenant.id, op, id);
        hmac::verify(&self.uaf_key()?, message.as_bytes(), &mac).map_err(|_| invalid())?;
        let key = Channel::Uaf.ceremony_key(&tenant.id, op.as_str(), id.as_bytes());
        let ceremony = tenant.store().take_ceremony(&key)?.ok_or_else(invalid)?;
        if let Some(e) = expected {
            if ceremony.signed.is_some() != e.transaction {
                return Err(refusal(
                    StatusCode::RequestInvalid,
                    "requestID",
                    if e.transaction {
                        "this requestID is of a login, not of a transaction to confirm"
                    } else {
                        "this requestID is of a transaction to confirm, not of a login"
                    },
                ));
            }
            if ceremony.username.as_ref().map(Username::as_str) != Some(e.username) {
                return Err(refusal(
                    StatusCode::RequestInvalid,
                    "username",
                    "this request was issued for another user",
                ));
            }
        }
        if ceremony.expires_at <= self.now() {
            return Err(refusal(
                StatusCode::RequestTimeout,
                "serverData",
                "the request expired; ask for a new one",
            ));
        }
        Ok(ceremony)
    }

    fn uaf_key(&self) -> UafResult<hmac::Key> {
        self.inner.uaf_key.get().cloned().ok_or_else(|| {
            from_engine(EngineError::Internal(
                "no UAF server-data key was set at start".into(),
            ))
        })
    }
}

/// What the MAC of `serverData` covers: tenant, operation and ceremony id (the stored
/// ceremony names the user).
fn server_data_message(tenant: &str, op: Op, id: &str) -> String {
    format!("fidoflow-uaf-1|{tenant}|{}|{id}", op.as_str())
}

/// A PNG transaction: a PNG file of at most 48 KiB, and its display characteristics (protocol
/// §3.5.1: `width`, `height`, `bitDepth`, `colorType`, `compression`, `filter`, `interlace`).
fn check_png(image: &[u8], characteristics: &serde_json::Value) -> UafResult<()> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !image.starts_with(PNG) || image.len() > 48 * 1024 {
        return Err(refusal(
            StatusCode::BadRequest,
            "transactionImage",
            "the transaction image must be a PNG file of at most 48 KiB",
        ));
    }
    let members = [
        "width",
        "height",
        "bitDepth",
        "colorType",
        "compression",
        "filter",
        "interlace",
    ];
    if let Some(missing) = members.iter().find(|m| {
        characteristics
            .get(**m)
            .and_then(serde_json::Value::as_u64)
            .is_none()
    }) {
        return Err(refusal(
            StatusCode::BadRequest,
            "tcDisplayPNGCharacteristics",
            format!("tcDisplayPNGCharacteristics.{missing} must be a whole number"),
        ));
    }
    Ok(())
}
