//! What a metadata statement says its authenticator is: key protection, matcher protection,
//! attachment hints, transaction confirmation display and the user verification methods it
//! offers. MDS3 statements write each as a list of names (`"keyProtection": ["hardware",
//! "tee"]`), older UAF statements as one number of registry bits; both are read into bits of
//! `domain::registry`. Names this build does not know are left out (a newer registry), so an
//! authenticator is never described as more than its statement says.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::registry::{
    Flags, ATTACHMENT_HINT, KEY_PROTECTION, MATCHER_PROTECTION, TC_DISPLAY, USER_VERIFICATION,
};

/// An authenticator's characteristics as registry bits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Characteristics {
    pub key_protection: u32,
    pub matcher_protection: u32,
    pub attachment_hint: u32,
    pub tc_display: u32,
    /// `userVerificationDetails`: the alternatives the authenticator offers, each the methods
    /// it requires together.
    pub user_verification: Vec<u32>,
}

impl Characteristics {
    /// Reads the characteristics of a metadata statement; a member of the wrong shape is an
    /// error naming it, an absent member no bits.
    pub fn from_statement(statement: &Value) -> Result<Self, String> {
        let mut user_verification = Vec::new();
        if let Some(details) = statement.get("userVerificationDetails") {
            let alternatives = details
                .as_array()
                .ok_or("userVerificationDetails is not an array")?;
            for (i, alternative) in alternatives.iter().enumerate() {
                let methods = alternative
                    .as_array()
                    .ok_or_else(|| format!("userVerificationDetails[{i}] is not an array"))?;
                let mut bits = 0;
                for (j, method) in methods.iter().enumerate() {
                    let at = format!("userVerificationDetails[{i}][{j}]");
                    let value = method
                        .get("userVerificationMethod")
                        .or_else(|| method.get("userVerification"))
                        .ok_or_else(|| format!("{at} names no userVerificationMethod"))?;
                    bits |= flags(USER_VERIFICATION, value, &at)?;
                }
                user_verification.push(bits);
            }
        }
        let member = |name: &str, kind: Flags| {
            statement
                .get(name)
                .map_or(Ok(0), |value| flags(kind, value, name))
        };
        Ok(Self {
            key_protection: member("keyProtection", KEY_PROTECTION)?,
            matcher_protection: member("matcherProtection", MATCHER_PROTECTION)?,
            attachment_hint: member("attachmentHint", ATTACHMENT_HINT)?,
            tc_display: member("tcDisplay", TC_DISPLAY)?,
            user_verification,
        })
    }

    /// Every user verification method the authenticator offers, in any alternative.
    pub fn user_verification_methods(&self) -> u32 {
        self.user_verification
            .iter()
            .fold(0, |all, bits| all | bits)
    }
}

/// A member written as names (MDS3), one name, or a number of bits (UAF metadata 1.x).
fn flags(kind: Flags, value: &Value, at: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "{at} is neither a {} name, a list of them nor a number",
            kind.kind
        )
    };
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(bad),
        Value::String(name) => Ok(kind.bit(name).unwrap_or(0)),
        Value::Array(names) => names.iter().try_fold(0, |bits, name| {
            let name = name.as_str().ok_or_else(bad)?;
            Ok(bits | kind.bit(name).unwrap_or(0))
        }),
        _ => Err(bad()),
    }
}
