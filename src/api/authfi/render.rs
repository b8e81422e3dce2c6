//! AuthFi's answer shapes: `user`, `key_info`, and the `uid` / `user` / `key_info` of a verified
//! ceremony.

use serde_json::{json, Value};

use crate::engine::{BackendVerified, KeyView, UserView};

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn user_json(u: &UserView) -> Value {
    json!({
        "id": u.uid,
        "name": u.name,
        "displayName": u.display_name,
        "created": time(u.created),
    })
}

pub fn key_info(k: &KeyView) -> Value {
    json!({
        "credential_id": k.credential_id,
        "aaguid": k.aaguid,
        "model": k.model,
        "name": k.name,
        "format": k.format,
        "trusted": k.trusted,
        "transports": k.transports,
        "backup_eligible": k.backup_eligible,
        "backup_state": k.backup_state,
        "enabled": k.enabled,
        "sign_count": k.sign_count,
        "created": time(k.created),
        "last_used": k.last_used.map(time),
    })
}

pub fn verified(v: &BackendVerified) -> Value {
    json!({
        "uid": v.user.uid,
        "user": user_json(&v.user),
        "key_info": key_info(&v.key),
    })
}
