//! The OneSpan shape's answers: a user, an authenticator.

use serde_json::{json, Value};

use crate::engine::{KeyView, UserView};

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn user(u: &UserView, domain: &str) -> Value {
    json!({
        "userID": u.name,
        "domain": domain,
        "displayName": u.display_name,
        "createdAt": time(u.created),
    })
}

pub fn authenticator(k: &KeyView) -> Value {
    json!({
        "authenticatorID": k.credential_id,
        "fidoProtocol": if k.uaf_aaid.is_some() { "UAF11" } else { "FIDO2" },
        "aaguid": k.aaguid,
        "model": k.model,
        "displayName": k.name,
        "attestation": {"format": k.format, "trusted": k.trusted},
        "enabled": k.enabled,
        "payment": k.payment,
        "signCount": k.sign_count,
        "createdAt": time(k.created),
        "lastUsedAt": k.last_used.map(time),
    })
}
