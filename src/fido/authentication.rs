//! Authentication ceremony verification (§7.2). The sign-counter policy and the check that
//! backup eligibility did not change belong to the caller; the values are reported.

use serde_json::Value as Json;

use super::auth_data::AuthData;
use super::client_data::{self, Expected, PAYMENT_GET};
use super::cose::CoseKey;
use super::error::Common;
use super::json;
use super::payment::{self, PaymentExpectations};
use super::report::{Check, Observer, AUTHENTICATION_CHECKS};
use super::AuthenticationError;

/// What the server expects of an authentication response.
pub struct AuthenticationExpectations<'a> {
    /// The challenge the server issued (compared in constant time).
    pub challenge: &'a [u8],
    pub rp_id: &'a str,
    /// Allowed origins, exact string match.
    pub origins: &'a [String],
    /// If false, `crossOrigin: true` or a `topOrigin` in the client data is refused.
    pub allow_cross_origin: bool,
    /// With `allow_cross_origin`, a present `topOrigin` must be one of these (empty: any).
    pub top_origins: &'a [String],
    /// The accepted `clientDataJSON.type` values: `[WEBAUTHN_GET]` as WebAuthn says, or the
    /// relying party's own list. A Secure Payment Confirmation (`payment`) accepts
    /// `payment.get` alone, whatever this lists.
    pub client_data_types: &'a [&'a str],
    pub require_user_verification: bool,
    /// The stored COSE_Key of the credential.
    pub public_key: &'a [u8],
    /// The stored credential id the caller looked up; the response's `id` and `rawId` must
    /// equal it.
    pub credential_id: &'a [u8],
    /// A Secure Payment Confirmation: the client data must be `payment.get` from the merchant
    /// origin (instead of `origins`) and carry the payment the user confirmed.
    pub payment: Option<PaymentExpectations<'a>>,
}

/// A verified assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAuthentication {
    pub credential_id: Vec<u8>,
    pub sign_count: u32,
    pub user_present: bool,
    pub user_verified: bool,
    pub backup_eligible: bool,
    pub backup_state: bool,
    /// `response.userHandle`; `null` or `""` is `None`.
    pub user_handle: Option<Vec<u8>>,
}

/// Reads the credential id and the user handle of an assertion before verifying it, so the
/// caller can look up the key. Checks `type` and that `id` equals `rawId`.
pub fn assertion_ids(credential: &Json) -> Result<(Vec<u8>, Option<Vec<u8>>), AuthenticationError> {
    let id = json::credential_id(credential)?;
    let handle = user_handle(json::response(credential)?)?;
    Ok((id, handle))
}

/// Verifies an `AuthenticationResponseJSON` (the `PublicKeyCredential.toJSON()` shape) against
/// the stored credential and what the server expects.
pub fn verify_authentication(
    credential: &Json,
    exp: &AuthenticationExpectations,
) -> Result<VerifiedAuthentication, AuthenticationError> {
    verify(credential, exp, &mut Observer::none())
}

/// `verify_authentication`, reporting every check to `observe` as it runs (and, on refusal,
/// the failed check and those not reached). The counter, user handle and backup eligibility
/// checks belong to the caller and are not reported here.
pub fn verify_authentication_observed(
    credential: &Json,
    exp: &AuthenticationExpectations,
    observe: &mut dyn FnMut(Check),
) -> Result<VerifiedAuthentication, AuthenticationError> {
    let mut obs = Observer::new(observe);
    let result = verify(credential, exp, &mut obs);
    if let Err(e) = &result {
        obs.refused(e.check(), e.to_string(), &AUTHENTICATION_CHECKS);
    }
    result
}

fn verify(
    credential: &Json,
    exp: &AuthenticationExpectations,
    obs: &mut Observer,
) -> Result<VerifiedAuthentication, AuthenticationError> {
    let raw_id = json::credential_id(credential)?;
    obs.pass("credentialType", || "\"public-key\"".into());
    obs.pass("id", || "id and rawId are the same bytes".into());
    if raw_id != exp.credential_id {
        return Err(AuthenticationError::CredentialMismatch);
    }
    obs.pass("credentialId", || {
        "the credential is the one expected".into()
    });
    let response = json::response(credential)?;
    let client_data_json = json::bytes(response, "clientDataJSON")?;
    let auth_data_bytes = json::bytes(response, "authenticatorData")?;
    let signature = json::bytes(response, "signature")?;
    let user_handle = user_handle(response)?;

    let merchant = exp
        .payment
        .as_ref()
        .map(|p| [p.merchant_origin.to_string()]);
    let kinds: &[&str] = match &merchant {
        Some(_) => &[PAYMENT_GET],
        None => exp.client_data_types,
    };
    client_data::verify(
        &client_data_json,
        &Expected {
            kinds,
            challenge: exp.challenge,
            origins: merchant.as_ref().map_or(exp.origins, |m| m.as_slice()),
            allow_cross_origin: exp.allow_cross_origin,
            top_origins: exp.top_origins,
        },
        obs,
    )
    .map_err(|e| match (e, &merchant) {
        (Common::WrongType { seen, .. }, Some(_)) => AuthenticationError::NotPaymentType(seen),
        (e, _) => e.into(),
    })?;
    match &exp.payment {
        Some(p) => {
            payment::check_client_data(&client_data_json, exp.rp_id, p)?;
            obs.pass("payment", || {
                "the payment the browser showed is the one requested".into()
            });
        }
        None => obs.skip("payment", || "not a Secure Payment Confirmation".into()),
    }
    let auth_data = AuthData::parse(&auth_data_bytes)?;
    obs.pass("authenticatorDataLength", || {
        format!(
            "{} bytes, every one in an announced part",
            auth_data_bytes.len()
        )
    });
    auth_data.check(exp.rp_id, exp.require_user_verification, obs)?;
    if auth_data.has_extensions() {
        obs.pass("extensions", || {
            "the ED flag is set and extension data is a CBOR map (outputs not checked: none requested)".into()
        });
    } else {
        obs.skip("extensions", || "no extension data (ED flag clear)".into());
    }

    let key = CoseKey::from_bytes(exp.public_key).map_err(AuthenticationError::StoredKeyInvalid)?;
    let mut signed = auth_data_bytes;
    signed
        .extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &client_data_json).as_ref());
    if !key.verify(&signed, &signature) {
        return Err(AuthenticationError::SignatureInvalid);
    }
    obs.pass("signature", || {
        format!(
            "verifies over authenticatorData || SHA-256(clientDataJSON) with the {}",
            key.describe()
        )
    });
    Ok(VerifiedAuthentication {
        credential_id: raw_id,
        sign_count: auth_data.sign_count,
        user_present: auth_data.user_present(),
        user_verified: auth_data.user_verified(),
        backup_eligible: auth_data.backup_eligible(),
        backup_state: auth_data.backup_state(),
        user_handle,
    })
}

/// `response.userHandle`: absent, `null` or `""` is `None`.
fn user_handle(response: &Json) -> Result<Option<Vec<u8>>, Common> {
    match response.get("userHandle") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(_)) => json::bytes(response, "userHandle").map(Some),
        Some(_) => Err(Common::Malformed(
            "the member \"userHandle\" is not a string".into(),
        )),
    }
}
