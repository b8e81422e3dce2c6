//! Builders of the WebAuthn Level 3 JSON options the browser passes to
//! `PublicKeyCredential.parseCreationOptionsFromJSON()` / `parseRequestOptionsFromJSON()`.
//! All byte strings are base64url without padding.

use serde_json::{json, Value};

use crate::domain::b64url;

/// A credential the client may use or must not re-register.
pub struct CredentialDescriptor<'a> {
    pub id: &'a [u8],
    pub transports: &'a [String],
}

fn descriptors(list: &[CredentialDescriptor<'_>]) -> Value {
    Value::Array(
        list.iter()
            .map(|d| {
                let mut v = json!({"type": "public-key", "id": b64url(d.id)});
                if !d.transports.is_empty() {
                    v["transports"] = json!(d.transports);
                }
                v
            })
            .collect(),
    )
}

pub struct CreationOptions<'a> {
    pub rp_id: &'a str,
    pub rp_name: &'a str,
    pub user_handle: &'a [u8],
    pub user_name: &'a str,
    pub user_display_name: &'a str,
    pub challenge: &'a [u8],
    pub algorithms: &'a [i64],
    pub timeout_ms: u64,
    pub exclude: &'a [CredentialDescriptor<'a>],
    /// "required", "preferred" or "discouraged".
    pub resident_key: &'a str,
    pub user_verification: &'a str,
    /// "none", "indirect", "direct" or "enterprise".
    pub attestation: &'a str,
    /// "platform" or "cross-platform"; `None` leaves the choice to the client.
    pub authenticator_attachment: Option<&'a str>,
    /// A Secure Payment Confirmation credential: `extensions.payment.isPayment`.
    pub payment: bool,
}

/// `PublicKeyCredentialCreationOptionsJSON`.
pub fn creation_options(o: &CreationOptions<'_>) -> Value {
    let mut options = json!({
        "rp": {"id": o.rp_id, "name": o.rp_name},
        "user": {"id": b64url(o.user_handle), "name": o.user_name, "displayName": o.user_display_name},
        "challenge": b64url(o.challenge),
        "pubKeyCredParams": o.algorithms.iter().map(|alg| json!({"type": "public-key", "alg": alg})).collect::<Vec<_>>(),
        "timeout": o.timeout_ms,
        "excludeCredentials": descriptors(o.exclude),
        "authenticatorSelection": {
            "residentKey": o.resident_key,
            "requireResidentKey": o.resident_key == "required",
            "userVerification": o.user_verification,
        },
        "attestation": o.attestation,
        "extensions": {"credProps": true},
    });
    if let Some(attachment) = o.authenticator_attachment {
        options["authenticatorSelection"]["authenticatorAttachment"] = json!(attachment);
    }
    if o.payment {
        options["extensions"]["payment"] = json!({"isPayment": true});
    }
    options
}

pub struct RequestOptions<'a> {
    pub rp_id: &'a str,
    pub challenge: &'a [u8],
    pub timeout_ms: u64,
    pub allow: &'a [CredentialDescriptor<'a>],
    pub user_verification: &'a str,
}

/// `PublicKeyCredentialRequestOptionsJSON`; `allowCredentials` is left out when empty
/// (discoverable credentials and conditional mediation).
pub fn request_options(o: &RequestOptions<'_>) -> Value {
    let mut v = json!({
        "challenge": b64url(o.challenge),
        "timeout": o.timeout_ms,
        "rpId": o.rp_id,
        "userVerification": o.user_verification,
    });
    if !o.allow.is_empty() {
        v["allowCredentials"] = descriptors(o.allow);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_options_follow_the_contract_defaults() {
        let t = vec!["usb".to_string()];
        let exclude = [CredentialDescriptor {
            id: b"abc",
            transports: &t,
        }];
        let options = |payment| {
            creation_options(&CreationOptions {
                rp_id: "example.org",
                rp_name: "Example",
                user_handle: &[1; 64],
                user_name: "alice",
                user_display_name: "Alice",
                challenge: &[2; 32],
                algorithms: &[-8, -7, -257, -35, -36],
                timeout_ms: 300_000,
                exclude: &exclude,
                resident_key: "preferred",
                user_verification: "preferred",
                attestation: "none",
                authenticator_attachment: None,
                payment,
            })
        };
        let v = options(false);
        assert!(v["extensions"].get("payment").is_none());
        let payment = options(true);
        assert_eq!(payment["extensions"]["payment"]["isPayment"], true);
        assert_eq!(payment["extensions"]["credProps"], true);
        let algs: Vec<i64> = v["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["alg"].as_i64().unwrap())
            .collect();
        assert_eq!(algs, [-8, -7, -257, -35, -36]);
        assert_eq!(v["excludeCredentials"][0]["id"], "YWJj");
        assert_eq!(v["excludeCredentials"][0]["transports"][0], "usb");
        assert_eq!(v["authenticatorSelection"]["requireResidentKey"], false);
        assert_eq!(v["extensions"]["credProps"], true);
        assert_eq!(v["timeout"], 300_000);
    }

    #[test]
    fn request_options_list_allowed_credentials_only_when_there_are_some() {
        let t = vec!["internal".to_string()];
        let allow = [CredentialDescriptor {
            id: b"abc",
            transports: &t,
        }];
        let options = |allow| {
            request_options(&RequestOptions {
                rp_id: "example.org",
                challenge: &[2; 3],
                timeout_ms: 60_000,
                allow,
                user_verification: "required",
            })
        };
        let v = options(&allow);
        assert_eq!(v["challenge"], "AgIC");
        assert_eq!(v["rpId"], "example.org");
        assert_eq!(v["timeout"], 60_000);
        assert_eq!(v["userVerification"], "required");
        assert_eq!(v["allowCredentials"][0]["id"], "YWJj");
        assert_eq!(v["allowCredentials"][0]["transports"][0], "internal");
        assert!(options(&[]).get("allowCredentials").is_none());
    }
}
