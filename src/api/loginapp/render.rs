//! The Loginapp's JSON:API rendering of the engine's typed outcomes: which document type each
//! call answers, and the attribute names of the contract.

use serde_json::{json, Value};

use crate::api::document::{time, Answer, Resource};
use crate::engine::{ChallengeIssued, CredentialView, FlowOffer, NextStep, SessionView, StepDone};

pub const AUTHENTICATION_SESSION: &str = "authentication.session";
pub const SELF_SERVICE_SESSION: &str = "self-service.session";
pub const SIGNUP_SESSION: &str = "user-self-registration.session";

/// A session document: `{}` when the flow is done, else `nextStep` / `nextAuthStep`.
pub fn step(doc_type: &'static str) -> impl Fn(StepDone) -> Answer {
    move |done| {
        let attributes = match done.next {
            None => json!({}),
            Some(NextStep::Step(s)) => json!({ "nextStep": s }),
            Some(NextStep::AuthStep(s)) => json!({ "nextAuthStep": s }),
        };
        Answer::one(doc_type, done.instance, attributes)
    }
}

/// A challenge document: the options under `member`
/// (`publicKeyCredentialRequestOptions` or `publicKeyCredentialCreationOptions`).
pub fn challenge(
    doc_type: &'static str,
    member: &'static str,
) -> impl Fn(ChallengeIssued) -> Answer {
    move |issued| Answer::one(doc_type, issued.instance, json!({ member: issued.options }))
}

pub fn request_options(doc_type: &'static str) -> impl Fn(ChallengeIssued) -> Answer {
    challenge(doc_type, "publicKeyCredentialRequestOptions")
}

pub fn creation_options(doc_type: &'static str) -> impl Fn(ChallengeIssued) -> Answer {
    challenge(doc_type, "publicKeyCredentialCreationOptions")
}

/// `GET /session`.
pub fn session(v: SessionView) -> Answer {
    let mut attributes = json!({ "authenticated": v.username.is_some(), "tags": [] });
    if let Some(username) = &v.username {
        attributes["username"] = json!(username);
        attributes["authenticatedAt"] = json!(v.authenticated_at.map(time));
        attributes["tags"] = json!(v
            .tags
            .iter()
            .map(|(t, at)| json!({ "name": t, "grantedAt": time(*at) }))
            .collect::<Vec<_>>());
    }
    if let Some(next) = v.next_auth_step {
        attributes["nextAuthStep"] = json!(next);
    }
    Answer::one(AUTHENTICATION_SESSION, v.instance, attributes)
}

/// `GET /flows`.
pub fn flows(offers: Vec<FlowOffer>) -> Answer {
    Answer::many(
        offers
            .into_iter()
            .map(|f| Resource {
                doc_type: "self-service.flow",
                id: f.id,
                attributes: json!({ "available": f.available }),
            })
            .collect(),
    )
}

/// The attributes of a credential in every list (self-service and helpdesk).
pub fn credential_attributes(c: &CredentialView) -> Value {
    let mut attributes = json!({
        "displayName": c.display_name,
        "aaguid": c.aaguid,
        "authenticatorName": c.authenticator_name,
        "attestationFormat": c.attestation_format,
        "attestationTrusted": c.attestation_trusted,
        "algorithm": c.algorithm,
        "algorithmName": c.algorithm_name,
        "createdAt": time(c.created_at),
        "lastUsedAt": c.last_used_at.map(time),
        "signCount": c.sign_count,
        "transports": c.transports,
        "backupEligible": c.backup_eligible,
        "backupState": c.backup_state,
        "discoverable": c.discoverable,
        "userVerified": c.user_verified,
        "enabled": c.enabled,
        "disabledBy": c.disabled_by,
        "authenticatorIcon": c.authenticator_icon,
    });
    if let Some(request) = &c.uaf_deregistration_request {
        attributes["uafDeregistrationRequest"] = json!(request);
    }
    if let Some(refusals) = &c.change_refusals {
        attributes["changeRefusals"] = refusals
            .iter()
            .map(|(action, code)| ((*action).to_string(), json!(code)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    attributes
}

/// `GET /fido/credentials`.
pub fn credentials(list: Vec<CredentialView>) -> Answer {
    Answer::many(
        list.iter()
            .map(|c| Resource {
                doc_type: "my.token.fido.credential",
                id: c.id.clone(),
                attributes: credential_attributes(c),
            })
            .collect(),
    )
}
