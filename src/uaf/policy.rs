//! UAF policies (protocol §3.2): the `MatchCriteria` a request names and the server's judgement
//! of an authenticator against them. What a criterion can be judged by: the AAID, vendor and
//! KeyID, the signature algorithm, attestation type and authenticator version the assertion
//! itself carries, and — for key protection, matcher protection, user verification, attachment
//! and transaction confirmation display — the metadata statement of the AAID. An authenticator
//! whose metadata is unknown meets no criterion on those; it is not excluded by one either.
//!
//! The registry's bit flags are compared as "any of": an authenticator meets `keyProtection:
//! 0x0a` if its statement names hardware or a secure element. User verification likewise,
//! unless `USER_VERIFY_ALL` is set: then one of the authenticator's alternatives must combine
//! every named method. `authenticatorVersion` is a minimum.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::messages::ASSERTION_SCHEME;
use super::tlv::{TAG_ATTESTATION_BASIC_FULL, TAG_ATTESTATION_BASIC_SURROGATE};
use super::Attestation;
use crate::domain::registry::USER_VERIFY_ALL;
use crate::fido::mds::Characteristics;

/// One set of authenticator characteristics (protocol §3.2 MatchCriteria), named as the
/// specification names them. Absent members are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchCriteria {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aaid: Option<Vec<String>>,
    /// The first four characters of AAIDs.
    #[serde(rename = "vendorID", default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Vec<String>>,
    /// base64url KeyIDs.
    #[serde(rename = "keyIDs", default, skip_serializing_if = "Option::is_none")]
    pub key_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_protection: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher_protection: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_hint: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tc_display: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_algorithms: Option<Vec<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_schemes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_types: Option<Vec<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_version: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exts: Option<Vec<Value>>,
}

impl MatchCriteria {
    /// What these criteria say about an AAID alone: `Some(true)` if they name it (by AAID or
    /// vendor), `Some(false)` if they name others, `None` if they name no AAID or vendor (the
    /// rest, such as key protection, needs the authenticator's metadata to judge).
    fn names_aaid(&self, aaid: &str) -> Option<bool> {
        let by_aaid = self
            .aaid
            .as_ref()
            .map(|list| list.iter().any(|a| a.eq_ignore_ascii_case(aaid)));
        let vendor = aaid.get(..4).unwrap_or(aaid);
        let by_vendor = self
            .vendor_id
            .as_ref()
            .map(|list| list.iter().any(|v| v.eq_ignore_ascii_case(vendor)));
        match (by_aaid, by_vendor) {
            (None, None) => None,
            (a, v) => Some(a.unwrap_or(true) && v.unwrap_or(true)),
        }
    }
}

/// A UAF policy (protocol §3.2): sets of criteria of which one must be met in full, and
/// criteria that must not be met.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub accepted: Vec<Vec<MatchCriteria>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disallowed: Vec<MatchCriteria>,
}

impl Policy {
    /// Accepts any authenticator that speaks UAFV1TLV.
    pub fn any() -> Self {
        Self {
            accepted: vec![vec![MatchCriteria {
                assertion_schemes: Some(vec![ASSERTION_SCHEME.to_string()]),
                ..MatchCriteria::default()
            }]],
            disallowed: Vec::new(),
        }
    }

    /// Whether an authenticator with this AAID may answer, judged by AAID and vendor only:
    /// some accepted criteria do not name other AAIDs or vendors, and no disallowed criteria
    /// without KeyIDs name it. Criteria on other characteristics (user verification, key
    /// protection, …) need the metadata statement and are left to the caller.
    pub fn allows_aaid(&self, aaid: &str) -> bool {
        let accepted = self
            .accepted
            .iter()
            .flatten()
            .any(|c| c.names_aaid(aaid) != Some(false));
        let disallowed = self
            .disallowed
            .iter()
            .any(|c| c.key_ids.is_none() && c.names_aaid(aaid) == Some(true));
        accepted && !disallowed
    }

    /// Whether this key is not one the disallowed criteria list (by KeyID, with its AAID or
    /// vendor when they name one): a registration request lists the user's registered keys so
    /// that they are not registered twice.
    pub fn allows_key(&self, aaid: &str, key_id: &[u8]) -> bool {
        let id = URL_SAFE_NO_PAD.encode(key_id);
        !self.disallowed.iter().any(|c| {
            c.key_ids.as_ref().is_some_and(|ids| ids.contains(&id))
                && c.names_aaid(aaid) != Some(false)
        })
    }
}

/// What the server knows of an authenticator that answered.
#[derive(Debug, Clone, Copy)]
pub struct Authenticator<'a> {
    pub aaid: &'a str,
    pub key_id: &'a [u8],
    pub sign_alg: u16,
    /// `TAG_ATTESTATION_BASIC_FULL` or `TAG_ATTESTATION_BASIC_SURROGATE`; 0 when authenticating.
    pub attestation_type: u16,
    pub authenticator_version: u16,
    /// From the metadata statement of the AAID, when the metadata has one.
    pub characteristics: Option<&'a Characteristics>,
}

/// The attestation type tag of an attestation.
pub fn attestation_type(attestation: &Attestation) -> u16 {
    match attestation {
        Attestation::BasicFull { .. } => TAG_ATTESTATION_BASIC_FULL,
        Attestation::Surrogate { .. } => TAG_ATTESTATION_BASIC_SURROGATE,
    }
}

impl MatchCriteria {
    /// Whether the authenticator meets every member these criteria set.
    pub fn matches(&self, a: &Authenticator<'_>) -> bool {
        let listed = |list: &Option<Vec<String>>, value: &str| {
            list.as_ref()
                .is_none_or(|l| l.iter().any(|v| v.eq_ignore_ascii_case(value)))
        };
        let key_id = URL_SAFE_NO_PAD.encode(a.key_id);
        let numbers =
            |list: &Option<Vec<u16>>, value: u16| list.as_ref().is_none_or(|l| l.contains(&value));
        listed(&self.aaid, a.aaid)
            && listed(&self.vendor_id, a.aaid.get(..4).unwrap_or(a.aaid))
            && self
                .key_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&key_id))
            && numbers(&self.authentication_algorithms, a.sign_alg)
            && numbers(&self.attestation_types, a.attestation_type)
            && listed(&self.assertion_schemes, ASSERTION_SCHEME)
            && self
                .authenticator_version
                .is_none_or(|v| a.authenticator_version >= v)
            && self.matches_characteristics(a.characteristics)
    }

    /// The members that need the metadata statement.
    fn matches_characteristics(&self, c: Option<&Characteristics>) -> bool {
        let flags = [
            self.key_protection
                .map(|m| (u32::from(m), c.map(|c| c.key_protection))),
            self.matcher_protection
                .map(|m| (u32::from(m), c.map(|c| c.matcher_protection))),
            self.attachment_hint
                .map(|m| (m, c.map(|c| c.attachment_hint))),
            self.tc_display
                .map(|m| (u32::from(m), c.map(|c| c.tc_display))),
        ];
        let flags_met = flags
            .into_iter()
            .flatten()
            .all(|(wanted, has)| has.is_some_and(|has| any_of(wanted, has)));
        let user_verification_met = self.user_verification.is_none_or(|wanted| {
            c.is_some_and(|c| {
                let methods = wanted & !USER_VERIFY_ALL;
                if wanted & USER_VERIFY_ALL == 0 {
                    any_of(methods, c.user_verification_methods())
                } else {
                    c.user_verification
                        .iter()
                        .any(|alt| alt & methods == methods)
                }
            })
        });
        flags_met && user_verification_met
    }
}

/// Bit flags met "any of": a shared bit, or nothing wanted and nothing had.
fn any_of(wanted: u32, has: u32) -> bool {
    wanted & has != 0 || (wanted == 0 && has == 0)
}

/// Why a policy refused authenticators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRefusal {
    /// No accepted set is met in full.
    NotAccepted,
    /// One of them meets disallowed criteria (their index in `disallowed`).
    Disallowed(usize),
}

impl Policy {
    /// Judges the authenticators that answered together: some accepted set has each of its
    /// criteria met by one of them, and none of them meets any disallowed criteria.
    pub fn judge(&self, answered: &[Authenticator<'_>]) -> Result<(), PolicyRefusal> {
        if let Some(i) = self
            .disallowed
            .iter()
            .position(|c| answered.iter().any(|a| c.matches(a)))
        {
            return Err(PolicyRefusal::Disallowed(i));
        }
        let accepted = self
            .accepted
            .iter()
            .any(|set| set.iter().all(|c| answered.iter().any(|a| c.matches(a))));
        if accepted {
            Ok(())
        } else {
            Err(PolicyRefusal::NotAccepted)
        }
    }
}
