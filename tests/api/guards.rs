//! Security checks that no other test saw fail (issue 10's surviving mutants): a refused
//! approval changes nothing, every step called out of turn is refused, and an assertion with a
//! credential the challenge did not allow is refused.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{code, detail, spawn_app, Browser, TestApp, ORIGIN, PASSWORD};
use crate::common::softauthn::{b64url_decode, Tamper};

const SS: &str = "/rest/protected/self-service";
const SIGNUP: &str = "/rest/public/user-self-registration";

/// A password user signed in (fresh) in a new browser.
async fn signed_in(app: &TestApp, name: &str) -> Browser {
    app.create_user(name, Some(PASSWORD)).await;
    let b = app.browser();
    b.login(name, PASSWORD).await;
    b
}

async fn select(b: &Browser, flow: &str) {
    let (status, doc) = b
        .post(&format!("{SS}/flows/{flow}/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{flow}: {doc}");
}

async fn select_credential(b: &Browser, flow: &str, id: &str) {
    select(b, flow).await;
    let (status, doc) = b
        .post(
            &format!("{SS}/fido/credential/select"),
            json!({ "credentialId": id }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{flow}: {doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextStep"], "FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED",
        "{doc}"
    );
}

/// The approval's request options (a challenge must be issued).
async fn approval_options(b: &Browser) -> Value {
    let (status, doc) = b
        .post(&format!("{SS}/fido/approval/challenge/retrieve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert_eq!(options["userVerification"], "required");
    options
}

async fn send_approval(b: &Browser, assertion: Value) -> (StatusCode, Value) {
    b.post(
        &format!("{SS}/fido/approval/assertion-response/check"),
        json!({ "publicKeyCredential": assertion }),
    )
    .await
}

/// `{id: enabled}` of the signed-in user's credentials.
async fn states(b: &Browser) -> Vec<(String, bool)> {
    let mut list: Vec<(String, bool)> = b
        .credentials()
        .await
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["attributes"]["enabled"] == true,
            )
        })
        .collect();
    list.sort();
    list
}

// ---- 1. a refused approval changes nothing ----

/// Runs `flow` on the first of two credentials, answers the approval with `tamper`, and checks
/// the refusal and that both credentials are still there and enabled; then an honest approval
/// of the same flow goes through (the positive control).
async fn refused_approval_changes_nothing(flow: &str, tamper: Tamper, reason: &str) {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "alice").await;
    let first = b.register(Some("First")).await;
    b.register(Some("Second")).await;
    let before = states(&b).await;
    assert!(before.iter().all(|(_, enabled)| *enabled));

    select_credential(&b, flow, &first).await;
    let options = approval_options(&b).await;
    let assertion = b.authenticator.authenticate_with(&options, ORIGIN, &tamper);
    let (status, doc) = send_approval(&b, assertion).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_APPROVAL_FAILED", "{doc}");
    assert!(detail(&doc).contains(reason), "{reason:?}: {doc}");
    assert_eq!(
        doc["meta"]["nextStep"], "FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED",
        "{doc}"
    );
    assert_eq!(
        states(&b).await,
        before,
        "a refused approval changed a credential"
    );

    // The same flow with an honest approval does change the credential.
    let options = approval_options(&b).await;
    let assertion = b.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = send_approval(&b, assertion).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_ne!(states(&b).await, before);
}

fn forged() -> Tamper {
    Tamper {
        flip_signature_byte: true,
        ..Tamper::default()
    }
}

fn without_uv() -> Tamper {
    Tamper {
        uv: Some(false),
        ..Tamper::default()
    }
}

#[tokio::test]
async fn a_forged_approval_is_refused_and_the_credential_is_not_deleted() {
    refused_approval_changes_nothing("fido-credential-deletion", forged(), "signature").await;
}

#[tokio::test]
async fn a_forged_approval_is_refused_and_the_credential_is_not_disabled() {
    refused_approval_changes_nothing("fido-credential-disable", forged(), "signature").await;
}

#[tokio::test]
async fn an_approval_without_user_verification_is_refused_and_the_credential_is_not_deleted() {
    refused_approval_changes_nothing("fido-credential-deletion", without_uv(), "verif").await;
}

#[tokio::test]
async fn an_approval_without_user_verification_is_refused_and_the_credential_is_not_disabled() {
    refused_approval_changes_nothing("fido-credential-disable", without_uv(), "verif").await;
}

// ---- 2. every step out of turn ----

/// The self-service step calls, by a short name.
const STEPS: [(&str, &str); 7] = [
    (
        "registration-challenge",
        "/fido/registration/challenge/retrieve",
    ),
    (
        "attestation-response",
        "/fido/registration/attestation-response/check",
    ),
    ("abort", "/fido/abort"),
    ("credential-select", "/fido/credential/select"),
    ("display-name-change", "/fido/display-name/change"),
    ("approval-challenge", "/fido/approval/challenge/retrieve"),
    (
        "approval-response",
        "/fido/approval/assertion-response/check",
    ),
];

/// A well-formed body for every step call, so that only the turn can refuse it.
fn body(step: &str, credential: &str) -> Value {
    let dummy = json!({
        "id": credential,
        "rawId": credential,
        "type": "public-key",
        "response": {
            "clientDataJSON": "e30",
            "authenticatorData": "AAAA",
            "signature": "AAAA",
            "attestationObject": "oA",
        },
        "clientExtensionResults": {},
    });
    match step {
        "registration-challenge" | "approval-challenge" => json!({}),
        "attestation-response" | "approval-response" => json!({ "publicKeyCredential": dummy }),
        "abort" => json!({ "reason": "ABORTED" }),
        "credential-select" => json!({ "credentialId": credential }),
        "display-name-change" => json!({ "displayName": "Renamed out of turn" }),
        other => panic!("no step {other}"),
    }
}

/// Calls every step but `expected` and checks each is refused as `UNEXPECTED_CALL`, and that
/// the credentials did not change.
async fn all_others_out_of_turn(b: &Browser, at: &str, expected: &[&str], credential: &str) {
    let before = b.credentials().await;
    for (step, path) in STEPS {
        if expected.contains(&step) {
            continue;
        }
        let (status, doc) = b.post(&format!("{SS}{path}"), body(step, credential)).await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::BAD_REQUEST, "UNEXPECTED_CALL"),
            "{step} at {at}: {doc}"
        );
    }
    assert_eq!(b.credentials().await, before, "a call out of turn at {at}");
}

async fn end_flow(b: &Browser) {
    let (status, doc) = b.delete(&format!("{SS}/flow")).await;
    assert!(status.is_success(), "{doc}");
}

#[tokio::test]
async fn every_self_service_step_called_out_of_turn_is_refused_at_every_point_of_every_flow() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "alice").await;
    let first = b.register(Some("First")).await;
    b.register(Some("Second")).await;

    // No flow at all.
    all_others_out_of_turn(&b, "no flow", &[], &first).await;

    select(&b, "fido-registration").await;
    all_others_out_of_turn(
        &b,
        "registration, selected",
        &["registration-challenge"],
        &first,
    )
    .await;
    b.registration_challenge(None).await;
    all_others_out_of_turn(
        &b,
        "registration, challenge issued",
        &["registration-challenge", "attestation-response", "abort"],
        &first,
    )
    .await;
    end_flow(&b).await;

    select(&b, "fido-credential-rename").await;
    all_others_out_of_turn(&b, "rename, selected", &["credential-select"], &first).await;
    let (status, doc) = b
        .post(
            &format!("{SS}/fido/credential/select"),
            json!({ "credentialId": first }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    all_others_out_of_turn(
        &b,
        "rename, credential selected",
        &["display-name-change"],
        &first,
    )
    .await;
    end_flow(&b).await;

    for flow in ["fido-credential-deletion", "fido-credential-disable"] {
        select(&b, flow).await;
        all_others_out_of_turn(
            &b,
            &format!("{flow}, selected"),
            &["credential-select"],
            &first,
        )
        .await;
        let (status, doc) = b
            .post(
                &format!("{SS}/fido/credential/select"),
                json!({ "credentialId": first }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        all_others_out_of_turn(
            &b,
            &format!("{flow}, credential selected"),
            &["approval-challenge"],
            &first,
        )
        .await;
        approval_options(&b).await;
        all_others_out_of_turn(
            &b,
            &format!("{flow}, approval challenge issued"),
            &["approval-challenge", "approval-response", "abort"],
            &first,
        )
        .await;
        end_flow(&b).await;
    }

    select(&b, "fido-credential-enable").await;
    all_others_out_of_turn(&b, "enable, selected", &["credential-select"], &first).await;
    end_flow(&b).await;

    // The sign-up steps belong to no self-service flow.
    select(&b, "fido-credential-deletion").await;
    for (step, path, body) in [
        (
            "user-data",
            "/user-data/continue",
            json!({"username": "mallory", "displayName": "M"}),
        ),
        (
            "sign-up registration challenge",
            "/fido/registration/challenge/retrieve",
            json!({}),
        ),
        (
            "sign-up attestation response",
            "/fido/registration/attestation-response/check",
            body("attestation-response", &first),
        ),
    ] {
        let (status, doc) = b.post(&format!("{SIGNUP}{path}"), body).await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::BAD_REQUEST, "UNEXPECTED_CALL"),
            "{step} during a self-service flow: {doc}"
        );
    }
    let (status, doc) = b
        .post(
            &format!("{SS}/fido/credential/select"),
            json!({ "credentialId": first }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the flow still runs: {doc}");
    assert_eq!(states(&b).await.len(), 2);
}

/// Calls every sign-up step but `expected`, each refused as `UNEXPECTED_CALL`.
async fn signup_out_of_turn(
    b: &Browser,
    calls: &[(&str, &str, Value)],
    expected: &[&str],
    at: &str,
) {
    for (step, path, body) in calls {
        if expected.contains(step) {
            continue;
        }
        let (status, doc) = b.post(&format!("{SIGNUP}{path}"), body.clone()).await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::BAD_REQUEST, "UNEXPECTED_CALL"),
            "{step} at {at}: {doc}"
        );
    }
}

#[tokio::test]
async fn every_sign_up_step_called_out_of_turn_is_refused() {
    let app = spawn_app().await;
    let b = app.browser();
    let calls = [
        (
            "user-data",
            "/user-data/continue",
            json!({"username": "newcomer", "displayName": "New"}),
        ),
        (
            "registration-challenge",
            "/fido/registration/challenge/retrieve",
            json!({}),
        ),
        (
            "attestation-response",
            "/fido/registration/attestation-response/check",
            body("attestation-response", "AAAA"),
        ),
    ];
    signup_out_of_turn(&b, &calls, &[], "no sign-up").await;
    let (status, doc) = b
        .post(&format!("{SIGNUP}/passkey-signup/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    signup_out_of_turn(&b, &calls, &["user-data"], "selected").await;
    let (status, doc) = b
        .post(&format!("{SIGNUP}{}", calls[0].1), calls[0].2.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    signup_out_of_turn(&b, &calls, &["registration-challenge"], "user data given").await;
    let (status, doc) = b.post(&format!("{SIGNUP}{}", calls[1].1), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    signup_out_of_turn(
        &b,
        &calls,
        &["registration-challenge", "attestation-response"],
        "challenge issued",
    )
    .await;
}

// ---- 3. a credential the challenge did not allow ----

#[tokio::test]
async fn an_approval_with_a_credential_of_the_user_registered_after_the_challenge_is_refused() {
    // The approval challenge allows the user's enabled credentials at the time it is issued.
    // A credential registered afterwards (in another session of the same user) is enabled and
    // registered to this user, so only the allowCredentials check can refuse it.
    let app = spawn_app().await;
    let mut b = signed_in(&app, "alice").await;
    let mut other_session = app.browser();
    other_session.login("alice", PASSWORD).await;
    let first = b.register(Some("First")).await;

    select_credential(&b, "fido-credential-disable", &first).await;
    let options = approval_options(&b).await;
    let allowed: Vec<&str> = options["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(allowed, [first.as_str()]);

    let later = other_session.register(Some("Later")).await;
    let stored = other_session
        .authenticator
        .credential(&later)
        .expect("the new credential")
        .clone();
    b.authenticator.import(stored);
    let assertion = b.authenticator.authenticate_with(
        &options,
        ORIGIN,
        &Tamper {
            credential_id: Some(b64url_decode(&later).unwrap()),
            ..Tamper::default()
        },
    );
    let (status, doc) = send_approval(&b, assertion).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_APPROVAL_FAILED", "{doc}");
    assert!(
        detail(&doc).contains("not one the challenge allowed"),
        "{doc}"
    );
    assert!(
        states(&b).await.iter().all(|(_, enabled)| *enabled),
        "nothing was disabled"
    );

    // A new challenge allows the later credential, and it approves.
    let options = approval_options(&b).await;
    let assertion = b.authenticator.authenticate_with(
        &options,
        ORIGIN,
        &Tamper {
            credential_id: Some(b64url_decode(&later).unwrap()),
            ..Tamper::default()
        },
    );
    let (status, doc) = send_approval(&b, assertion).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let now = states(&b).await;
    assert!(now.contains(&(first.clone(), false)), "{now:?}");
    assert!(now.contains(&(later, true)), "{now:?}");
}
