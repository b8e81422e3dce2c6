//! The server's checks of a registration or authentication response (protocol §3.4.6.5,
//! §3.5.7.5), given what the server expects: its AppID, the challenge it issued, its trusted
//! facets and its policy. Judging basic full attestation certificates against metadata roots
//! and anchors is left to the caller (it needs the metadata): the certificates are returned.
//!
//! Status codes, where the protocol names none for a check: a wrong appID or facetID is 1498
//! (Unacceptable Content), a challenge that is not the one issued 1491 (Request Invalid: "the
//! request message nonce was unknown"), a channel binding that is malformed or names another TLS
//! server certificate than the relying party's 1490 (`channel_binding.rs`), a final
//! challenge hash that does not match 1498, an AAID the policy does not allow 1492, a key
//! already registered (listed in the policy's disallowed KeyIDs) 1492, an unknown KeyID 1481,
//! a signature that does not verify 1498 (1496 for an attestation), a sign counter that did not
//! increase 1498 (the protocol says the authenticator may be cloned and leaves the reaction to
//! the server; this one refuses), and a transaction confirmation that does not match 1498.

use subtle::ConstantTimeEq;

use super::algorithms;
use super::assertion::{
    parse_authentication, parse_registration, verify_attestation_signature,
    verify_authentication_signature, Attestation,
};
use super::channel_binding::{check_channel_binding, ChannelBindingPolicy};
use super::messages::{Op, Response};
use super::policy::Policy;
use super::status::{StatusCode, UafRefusal};

/// What the server expects of a response.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The AppID the request named (or the facet the client used, for a request without one).
    pub app_id: &'a str,
    /// The challenge the request carried, as sent.
    pub challenge: &'a str,
    /// The facets the AppID's TrustedFacets list names; empty for a web AppID without one.
    pub trusted_facets: &'a [String],
    pub policy: &'a Policy,
    pub channel_binding: ChannelBindingPolicy<'a>,
}

/// A key that passed every registration check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    pub aaid: String,
    pub key_id: Vec<u8>,
    pub public_key: Vec<u8>,
    pub key_encoding: u16,
    pub sign_alg: u16,
    pub sign_counter: u32,
    pub reg_counter: u32,
    /// Basic full attestation certificates are returned unjudged.
    pub attestation: Attestation,
    pub authenticator_version: u16,
}

/// A registered key, as the caller stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub public_key: Vec<u8>,
    pub key_encoding: u16,
    pub sign_alg: u16,
    pub sign_counter: u32,
}

/// An authentication that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAuthentication {
    pub aaid: String,
    pub key_id: Vec<u8>,
    /// The new counter, to store.
    pub sign_counter: u32,
    pub authentication_mode: u8,
    /// Empty unless a transaction was confirmed.
    pub transaction_content_hash: Vec<u8>,
}

/// Checks a registration response: fcParams (appID, challenge, facetID, channel binding), then
/// each assertion: algorithm known (1495), final challenge hash == hash of fcParams as sent
/// (1498), AAID and KeyID allowed by the policy (1492), public key well formed for its
/// algorithm (1494), attestation signature (1496). Returns every key, in assertion order.
pub fn verify_registration(
    response: &Response,
    exp: &Expectations<'_>,
) -> Result<Vec<VerifiedKey>, UafRefusal> {
    if response.op != Op::Reg {
        return Err(UafRefusal::bad("op", "the response is not a registration"));
    }
    check_final_challenge(response, exp)?;
    let mut keys: Vec<VerifiedKey> = Vec::with_capacity(response.assertions.len());
    for bytes in &response.assertions {
        let reg = parse_registration(bytes)?;
        check_hash(reg.sign_alg, &response.fc_params, &reg.final_challenge_hash)?;
        check_policy(exp.policy, &reg.aaid)?;
        if !exp.policy.allows_key(&reg.aaid, &reg.key_id) {
            return Err(UafRefusal::new(
                StatusCode::UnacceptableAuthenticator,
                "policy",
                "this key is already registered (the request's policy disallowed it)",
            ));
        }
        algorithms::check_public_key(reg.sign_alg, reg.key_encoding, &reg.public_key)?;
        verify_attestation_signature(&reg)?;
        if keys
            .iter()
            .any(|k| k.aaid == reg.aaid && k.key_id == reg.key_id)
        {
            return Err(UafRefusal::bad(
                "keyId",
                "two assertions register the same AAID and KeyID",
            ));
        }
        keys.push(VerifiedKey {
            aaid: reg.aaid,
            key_id: reg.key_id,
            public_key: reg.public_key,
            key_encoding: reg.key_encoding,
            sign_alg: reg.sign_alg,
            sign_counter: reg.sign_counter,
            reg_counter: reg.reg_counter,
            attestation: reg.attestation,
            authenticator_version: reg.authenticator_version,
        });
    }
    Ok(keys)
}

/// Checks an authentication response with exactly one assertion (a policy this server builds
/// asks for one authenticator; see [`verify_authentications`] for several): fcParams, then
/// the final challenge hash (1498), the AAID against the policy (1492), the key looked up by
/// (AAID, KeyID) (1481 when unknown), the algorithm the key was registered with (1495), the
/// signature with the stored key (1498), the sign counter strictly increasing unless both are 0
/// (1498), and the transaction: with `transaction: Some(content)` the mode must be 0x02 and the
/// transaction content hash the hash of `content` (the decoded bytes); without, the mode must
/// be 0x01 and the hash empty (1498).
pub fn verify_authentication(
    response: &Response,
    exp: &Expectations<'_>,
    key: &dyn Fn(&str, &[u8]) -> Option<StoredKey>,
    transaction: Option<&[u8]>,
) -> Result<VerifiedAuthentication, UafRefusal> {
    if response.assertions.len() != 1 {
        return Err(UafRefusal::bad(
            "assertionCount",
            format!(
                "the response carries {} assertions; this server asked for one",
                response.assertions.len()
            ),
        ));
    }
    let mut all = verify_authentications(response, exp, key, transaction)?;
    all.pop()
        .ok_or_else(|| UafRefusal::bad("assertionCount", "the response carries no assertion"))
}

/// As [`verify_authentication`], for every assertion of the response (a policy that asks for
/// a combination of authenticators); every one must pass.
pub fn verify_authentications(
    response: &Response,
    exp: &Expectations<'_>,
    key: &dyn Fn(&str, &[u8]) -> Option<StoredKey>,
    transaction: Option<&[u8]>,
) -> Result<Vec<VerifiedAuthentication>, UafRefusal> {
    if response.op != Op::Auth {
        return Err(UafRefusal::bad(
            "op",
            "the response is not an authentication",
        ));
    }
    check_final_challenge(response, exp)?;
    let mut out = Vec::with_capacity(response.assertions.len());
    for bytes in &response.assertions {
        let a = parse_authentication(bytes)?;
        check_hash(a.sign_alg, &response.fc_params, &a.final_challenge_hash)?;
        check_policy(exp.policy, &a.aaid)?;
        let stored = key(&a.aaid, &a.key_id).ok_or_else(|| {
            UafRefusal::new(
                StatusCode::UnknownKeyId,
                "keyId",
                "no key is registered for this AAID and KeyID",
            )
        })?;
        // The registration's assertion info names the *attestation* signature's algorithm
        // (authenticator commands §5.2.2), which for basic full is the attestation key's, so the
        // key's own algorithm is first seen here: it must fit the stored key's type and encoding.
        algorithms::check_public_key(a.sign_alg, stored.key_encoding, &stored.public_key)?;
        verify_authentication_signature(&a, stored.key_encoding, &stored.public_key)?;
        let counter_ok = a.sign_counter > stored.sign_counter
            || (a.sign_counter == 0 && stored.sign_counter == 0);
        if !counter_ok {
            return Err(UafRefusal::content(
                "signCounter",
                format!(
                    "the sign counter {} is not above the stored {}: the authenticator may be cloned",
                    a.sign_counter, stored.sign_counter
                ),
            ));
        }
        check_transaction(
            a.sign_alg,
            a.authentication_mode,
            &a.transaction_content_hash,
            transaction,
        )?;
        out.push(VerifiedAuthentication {
            aaid: a.aaid,
            key_id: a.key_id,
            sign_counter: a.sign_counter,
            authentication_mode: a.authentication_mode,
            transaction_content_hash: a.transaction_content_hash,
        });
    }
    Ok(out)
}

fn check_transaction(
    sign_alg: u16,
    mode: u8,
    hash: &[u8],
    transaction: Option<&[u8]>,
) -> Result<(), UafRefusal> {
    match transaction {
        Some(content) => {
            if mode != 0x02 {
                return Err(UafRefusal::content(
                    "authenticationMode",
                    "a transaction was to be confirmed, but the authenticator did not confirm one (mode is not 0x02)",
                ));
            }
            let expected = algorithms::challenge_hash(sign_alg, content).unwrap_or_default();
            if !bool::from(expected.as_slice().ct_eq(hash)) {
                return Err(UafRefusal::content(
                    "transactionContentHash",
                    "the confirmed transaction is not the one the server sent",
                ));
            }
        }
        None => {
            if mode != 0x01 {
                return Err(UafRefusal::content(
                    "authenticationMode",
                    "the authenticator confirmed a transaction, but none was sent",
                ));
            }
            if !hash.is_empty() {
                return Err(UafRefusal::content(
                    "transactionContentHash",
                    "the assertion carries a transaction content hash, but no transaction was sent",
                ));
            }
        }
    }
    Ok(())
}

fn check_hash(sign_alg: u16, fc_params: &str, hash: &[u8]) -> Result<(), UafRefusal> {
    let expected = algorithms::challenge_hash(sign_alg, fc_params.as_bytes()).ok_or_else(|| {
        UafRefusal::new(
            StatusCode::UnacceptableAlgorithm,
            "signatureAlgorithm",
            format!(
                "the signature algorithm 0x{sign_alg:04X} ({}) is not one this server verifies",
                algorithms::sign_alg_name(sign_alg)
            ),
        )
    })?;
    if !bool::from(expected.as_slice().ct_eq(hash)) {
        return Err(UafRefusal::content(
            "finalChallengeHash",
            "the assertion's final challenge hash is not the hash of this response's fcParams",
        ));
    }
    Ok(())
}

fn check_policy(policy: &Policy, aaid: &str) -> Result<(), UafRefusal> {
    if policy.allows_aaid(aaid) {
        Ok(())
    } else {
        Err(UafRefusal::new(
            StatusCode::UnacceptableAuthenticator,
            "policy",
            format!("the authenticator {aaid} is not one the policy accepts"),
        ))
    }
}

/// fcParams against the expectations: the header's appID (when given) and fcParams' appID are
/// the expected AppID, the facet is trusted, the channel binding is acceptable and the
/// challenge is the one issued.
fn check_final_challenge(response: &Response, exp: &Expectations<'_>) -> Result<(), UafRefusal> {
    let fc = &response.final_challenge;
    if !response.app_id.is_empty() && response.app_id != exp.app_id {
        return Err(UafRefusal::content(
            "appId",
            format!(
                "the header's appID \"{}\" is not this server's AppID",
                response.app_id
            ),
        ));
    }
    if fc.app_id != exp.app_id {
        return Err(UafRefusal::content(
            "appId",
            format!(
                "fcParams' appID \"{}\" is not this server's AppID",
                fc.app_id
            ),
        ));
    }
    if !facet_trusted(&fc.facet_id, exp.app_id, exp.trusted_facets) {
        return Err(UafRefusal::content(
            "facetId",
            format!("the facet \"{}\" is not one the AppID trusts", fc.facet_id),
        ));
    }
    check_channel_binding(&fc.channel_binding, &exp.channel_binding)?;
    if !bool::from(fc.challenge.as_bytes().ct_eq(exp.challenge.as_bytes())) {
        return Err(UafRefusal::new(
            StatusCode::RequestInvalid,
            "challenge",
            "the challenge in fcParams is not the one the server issued",
        ));
    }
    Ok(())
}

/// Whether `facet` may use `app_id` (FIDO AppID and Facets §3.1.2): it is in the trusted facet
/// list, or, with no list, it is the AppID itself or the web origin of an https AppID.
fn facet_trusted(facet: &str, app_id: &str, trusted: &[String]) -> bool {
    if !trusted.is_empty() {
        return trusted.iter().any(|t| t == facet);
    }
    if facet == app_id {
        return true;
    }
    match url::Url::parse(app_id) {
        Ok(url) if url.scheme() == "https" => url.origin().ascii_serialization() == facet,
        _ => false,
    }
}
