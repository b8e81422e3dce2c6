//! The admin API's JSON:API rendering of the engine's typed outcomes: document types and the
//! attribute names of the contract.

use serde_json::json;

use crate::api::document::{time, Answer, Resource};
use crate::api::loginapp::credential_attributes;
use crate::config::AdminRole;
use crate::engine::{
    Actor, AdminUser, AuditEntry, CredentialView, ImportReport, Listed, MetadataStatus, TenantView,
    TransactionEntry,
};

fn user_resource(u: &AdminUser) -> Resource {
    Resource {
        doc_type: "user",
        id: u.username.clone(),
        attributes: json!({
            "username": u.username,
            "displayName": u.display_name,
            "hasPassword": u.has_password,
            "createdAt": time(u.created_at),
            "credentialCount": u.credential_count,
            "locked": u.lock_expiry.is_some(),
            "lockExpiry": u.lock_expiry.map(time),
        }),
    }
}

pub fn user(u: AdminUser) -> Answer {
    user_resource(&u).into()
}

pub fn users(list: Listed<AdminUser>) -> Answer {
    Answer::page(list.items.iter().map(user_resource).collect(), list.next)
}

fn credential_resource(c: &CredentialView) -> Resource {
    Resource {
        doc_type: "user.token.fido.credential",
        id: c.id.clone(),
        attributes: credential_attributes(c),
    }
}

pub fn credential(c: CredentialView) -> Answer {
    credential_resource(&c).into()
}

pub fn credentials(list: Vec<CredentialView>) -> Answer {
    Answer::many(list.iter().map(credential_resource).collect())
}

pub fn transactions(list: Vec<TransactionEntry>) -> Answer {
    Answer::many(
        list.into_iter()
            .map(|t| Resource {
                doc_type: "user.transaction",
                id: t.id,
                attributes: json!({
                    "validatedAt": time(t.validated_at),
                    "mode": t.evidence["mode"],
                    "evidence": t.evidence,
                }),
            })
            .collect(),
    )
}

pub fn audit(list: Listed<AuditEntry>) -> Answer {
    let resources = list
        .items
        .iter()
        .map(|e| {
            let mut attributes = json!({
                "time": time(e.time),
                "event": e.event,
                "actor": e.actor,
                "username": e.username,
                "outcome": e.outcome,
                "detail": e.detail,
                "remoteAddress": e.remote_address,
                "userAgent": e.user_agent,
                "requestId": e.request_id,
                "tenant": e.tenant,
                "apiKey": e.api_key,
                "hash": e.hash,
                "prevHash": e.prev_hash,
            });
            if let Some(id) = &e.credential_id {
                attributes["credentialId"] = json!(id);
                attributes["credentialName"] = json!(e.credential_name);
            }
            Resource {
                doc_type: "audit.event",
                id: e.seq.to_string(),
                attributes,
            }
        })
        .collect();
    Answer::page(resources, list.next)
}

pub fn token(a: Actor) -> Answer {
    Answer::one(
        "admin.token",
        a.name.clone(),
        json!({
            "name": a.name,
            "role": match a.role {
                AdminRole::Admin => "admin",
                AdminRole::Helpdesk => "helpdesk",
                AdminRole::Metrics => "metrics",
            },
            "tenants": a.tenants,
        }),
    )
}

fn tenant_resource(t: &TenantView) -> Resource {
    Resource {
        doc_type: "tenant",
        id: t.id.clone(),
        attributes: json!({
            "id": t.id,
            "accessPath": t.access_path,
            "rpId": t.rp_id,
            "rpName": t.rp_name,
            "origins": t.origins,
            "conformance": t.conformance,
            "maxKeysPerUser": t.max_keys_per_user,
            "source": t.source,
            "apiKeyNames": t.api_key_names,
        }),
    }
}

pub fn tenant(t: TenantView) -> Answer {
    tenant_resource(&t).into()
}

pub fn tenants(list: Vec<TenantView>) -> Answer {
    Answer::many(list.iter().map(tenant_resource).collect())
}

pub fn import(report: ImportReport) -> Answer {
    let refused: Vec<_> = report
        .refused
        .iter()
        .map(|r| {
            let mut entry = json!({ "line": r.line, "reason": r.reason });
            if let Some(name) = &r.name {
                entry["name"] = json!(name);
            }
            entry
        })
        .collect();
    Answer::one(
        "tenant.import",
        report.tenant,
        json!({ "imported": report.imported, "refused": refused }),
    )
}

pub fn metadata(status: MetadataStatus) -> Answer {
    let attributes = match status.current {
        Some(m) => json!({
            "imported": true,
            "number": m.number,
            "nextUpdate": m.next_update,
            "stale": m.stale,
            "importedAt": time(m.imported_at),
            "entries": m.entries,
            "legalHeader": m.legal_header,
        }),
        None => json!({ "imported": false }),
    };
    Answer::one("mds.blob", "current", attributes)
}

pub fn reevaluation(changes: Vec<String>) -> Answer {
    Answer::one("mds.reevaluation", "latest", json!({ "changes": changes }))
}
