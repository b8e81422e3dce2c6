//! The life of an authenticator: passwordless and autofill sign-in, sign-up, step-up, and the
//! management flows with their approval and last-credential rules.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{code, detail, spawn_app, Browser, TestApp, ORIGIN, PASSWORD};

const AUTH: &str = "/rest/public/authentication";
const SS: &str = "/rest/protected/self-service";
const SIGNUP: &str = "/rest/public/user-self-registration";

/// Signs up `name` with a passkey in a new browser; the browser stays signed in.
async fn sign_up(app: &TestApp, name: &str) -> Browser {
    sign_up_in(app.browser(), name).await
}

/// Signs up `name` with the passkey of browser `b`.
async fn sign_up_in(mut b: Browser, name: &str) -> Browser {
    let (status, doc) = b
        .post(&format!("{SIGNUP}/passkey-signup/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "user-self-registration.session");
    assert_eq!(doc["data"]["attributes"]["nextStep"], "USER_DATA_REQUIRED");
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/user-data/continue"),
            json!({"username": name, "displayName": "New Person"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextStep"],
        "FIDO_REGISTRATION_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/fido/registration/challenge/retrieve"),
            json!({"displayName": "Phone"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialCreationOptions"].clone();
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["requireResidentKey"],
        true
    );
    assert_eq!(options["user"]["name"], name);
    assert_eq!(options["user"]["displayName"], "New Person");
    let credential = b.authenticator.register(&options, ORIGIN);
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/fido/registration/attestation-response/check"),
            json!({ "publicKeyCredential": credential }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none());
    b
}

async fn passwordless(b: &mut Browser) -> (StatusCode, Value) {
    let (status, doc) = b
        .post(
            &format!("{AUTH}/applications/fido-passwordless/access"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(
        doc["meta"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = b
        .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert!(options.get("allowCredentials").is_none(), "{options}");
    assert_eq!(options["userVerification"], "required");
    let assertion = b.authenticator.authenticate(&options, ORIGIN);
    b.post(
        &format!("{AUTH}/fido/assertion-response/check"),
        json!({ "publicKeyCredential": assertion }),
    )
    .await
}

async fn logout(b: &Browser) {
    let (status, _) = b.post(&format!("{AUTH}/logout"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

async fn session_user(b: &Browser) -> Option<String> {
    let (_, doc) = b.get(&format!("{AUTH}/session")).await;
    doc["data"]["attributes"]["username"]
        .as_str()
        .map(str::to_string)
}

/// Runs a management flow up to (not including) approval; returns the select answer.
async fn select_credential(b: &Browser, flow: &str, id: &str) -> (StatusCode, Value) {
    let (status, doc) = b
        .post(&format!("{SS}/flows/{flow}/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextStep"],
        "FIDO_CREDENTIAL_SELECTION_REQUIRED"
    );
    b.post(
        &format!("{SS}/fido/credential/select"),
        json!({ "credentialId": id }),
    )
    .await
}

/// The FIDO approval step of a running self-service flow, with the browser's authenticator;
/// returns the check's answer.
pub(crate) async fn approve(b: &mut Browser) -> (StatusCode, Value) {
    let (status, doc) = b
        .post(&format!("{SS}/fido/approval/challenge/retrieve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "self-service.fido.approval.challenge");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert_eq!(options["userVerification"], "required");
    let assertion = b.authenticator.authenticate(&options, ORIGIN);
    b.post(
        &format!("{SS}/fido/approval/assertion-response/check"),
        json!({ "publicKeyCredential": assertion }),
    )
    .await
}

/// Approves with the given credential. Run beside a concurrent deletion, the challenge itself may
/// be refused (the other deletion ended this session): that answer is returned for the caller to
/// judge.
async fn approve_with(b: &mut Browser, credential_id: &str) -> (StatusCode, Value) {
    let (status, doc) = b
        .post(&format!("{SS}/fido/approval/challenge/retrieve"), json!({}))
        .await;
    if status != StatusCode::OK {
        return (status, doc);
    }
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    let assertion = b.authenticator.authenticate_with(
        &options,
        ORIGIN,
        &crate::common::softauthn::Tamper {
            credential_id: Some(crate::common::softauthn::b64url_decode(credential_id).unwrap()),
            ..Default::default()
        },
    );
    b.post(
        &format!("{SS}/fido/approval/assertion-response/check"),
        json!({ "publicKeyCredential": assertion }),
    )
    .await
}

#[tokio::test]
async fn a_visitor_signs_up_with_a_passkey_and_signs_in_with_it_passwordless() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "newbie").await;
    assert_eq!(session_user(&b).await.as_deref(), Some("newbie"));
    let list = b.credentials().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["attributes"]["displayName"], "Phone");

    logout(&b).await;
    assert_eq!(session_user(&b).await, None);
    let (status, doc) = passwordless(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(session_user(&b).await.as_deref(), Some("newbie"));
    let (status, _) = b
        .post(
            &format!("{AUTH}/applications/fido-passwordless/access"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_taken_username_is_not_available_for_sign_up() {
    let app = spawn_app().await;
    app.create_user("taken", Some(PASSWORD)).await;
    let b = app.browser();
    b.post(&format!("{SIGNUP}/passkey-signup/select"), json!({}))
        .await;
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/user-data/continue"),
            json!({"username": "TAKEN"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "USERNAME_NOT_AVAILABLE");
    assert_eq!(doc["meta"]["nextStep"], "USER_DATA_REQUIRED");
}

#[tokio::test]
async fn a_conditional_mediation_challenge_is_answered_after_the_modal_timeout() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "autofill").await;
    logout(&b).await;
    // The sign-in page: a password field with passkey autofill, in the `default` application.
    let (status, doc) = b
        .post(&format!("{AUTH}/applications/default/access"), json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(doc["meta"]["nextAuthStep"], "PASSWORD_REQUIRED");
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/challenge/retrieve"),
            json!({"mediation": "conditional"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert!(options.get("allowCredentials").is_none());
    // The user picks the passkey from autofill six minutes later.
    app.advance(chrono::Duration::minutes(6));
    let assertion = b.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/assertion-response/check"),
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextAuthStep").is_none());
    assert_eq!(session_user(&b).await.as_deref(), Some("autofill"));
}

#[tokio::test]
async fn passkey_autofill_without_a_running_flow_starts_the_default_application() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "autofill2").await;
    logout(&b).await;
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/challenge/retrieve"),
            json!({"mediation": "conditional"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert_eq!(options["timeout"], 600000);
    // Without mediation the password step offers no challenge.
    let (status, doc) = b
        .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "INVALID_REQUEST");
    // The user cancels autofill: the challenge is spent and the step still waits for a password.
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/abort"),
            json!({"reason": "NOT_ALLOWED"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextAuthStep"],
        "PASSWORD_REQUIRED"
    );
    let stale = b.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/assertion-response/check"),
            json!({ "publicKeyCredential": stale }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "UNEXPECTED_CALL");
    let (_, doc) = b
        .post(
            &format!("{AUTH}/fido/challenge/retrieve"),
            json!({"mediation": "conditional"}),
        )
        .await;
    let fresh = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert_ne!(fresh["challenge"], options["challenge"]);
    let assertion = b.authenticator.authenticate(&fresh, ORIGIN);
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/assertion-response/check"),
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(session_user(&b).await.as_deref(), Some("autofill2"));
}

#[tokio::test]
async fn a_conditional_mediation_challenge_expires_after_ten_minutes() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "slowpoke").await;
    logout(&b).await;
    b.post(&format!("{AUTH}/applications/default/access"), json!({}))
        .await;
    let (_, doc) = b
        .post(
            &format!("{AUTH}/fido/challenge/retrieve"),
            json!({"mediation": "conditional"}),
        )
        .await;
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    app.advance(chrono::Duration::minutes(11));
    let assertion = b.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/assertion-response/check"),
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_TIMEOUT");
}

#[tokio::test]
async fn a_stale_login_needs_a_step_up_which_lets_the_user_in() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "stepper").await;
    app.advance(chrono::Duration::minutes(11));
    let (status, doc) = b
        .post(&format!("{SS}/flows/fido-registration/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&doc), "NOT_AUTHORIZED");

    let (status, doc) = b
        .post(
            &format!("{AUTH}/applications/fido-step-up/access"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(
        doc["meta"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = b
        .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert_eq!(options["userVerification"], "required");
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 1);
    let assertion = b.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/assertion-response/check"),
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = b
        .post(&format!("{SS}/flows/fido-registration/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn a_credential_is_renamed() {
    let app = spawn_app().await;
    let b = sign_up(&app, "renamer").await;
    let id = b.authenticator.credential_ids()[0].clone();
    let (status, doc) = select_credential(&b, "fido-credential-rename", &id).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextStep"],
        "FIDO_DISPLAY_NAME_CHANGE_REQUIRED"
    );
    let (status, doc) = b
        .post(
            &format!("{SS}/fido/display-name/change"),
            json!({"displayName": "  Work phone "}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");
    assert_eq!(
        b.credentials().await[0]["attributes"]["displayName"],
        "Work phone"
    );
}

#[tokio::test]
async fn deleting_a_credential_needs_approval_and_the_last_one_of_a_passkey_user_is_kept() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "deleter").await;
    let first = b.authenticator.credential_ids()[0].clone();
    // The only credential of an account without a password cannot go.
    let (status, doc) = select_credential(&b, "fido-credential-deletion", &first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "FIDO_CREDENTIAL_CHANGE_NOT_ALLOWED");
    b.delete(&format!("{SS}/flow")).await;

    let second = b.register(Some("Backup key")).await;
    let (status, doc) = select_credential(&b, "fido-credential-deletion", &first).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextStep"],
        "FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = approve(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");
    let list = b.credentials().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], second.as_str());
}

#[tokio::test]
async fn a_credential_of_another_user_cannot_be_selected() {
    let app = spawn_app().await;
    let b = sign_up(&app, "owner").await;
    let other = sign_up(&app, "intruder").await;
    let id = b.authenticator.credential_ids()[0].clone();
    let (status, doc) = select_credential(&other, "fido-credential-rename", &id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "FIDO_CREDENTIAL_NOT_FOUND");
}

#[tokio::test]
async fn a_disabled_credential_is_refused_at_login_and_can_be_enabled_again() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "toggler").await;
    let first = b.authenticator.credential_ids()[0].clone();
    b.register(Some("Second")).await;

    let (status, doc) = select_credential(&b, "fido-credential-disable", &first).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = approve(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = b.credentials().await;
    let disabled = list.iter().find(|c| c["id"] == first.as_str()).unwrap();
    assert_eq!(disabled["attributes"]["enabled"], false);
    assert_eq!(disabled["attributes"]["disabledBy"], "user");

    // A passwordless sign-in with the disabled credential is refused.
    logout(&b).await;
    b.post(
        &format!("{AUTH}/applications/fido-passwordless/access"),
        json!({}),
    )
    .await;
    let (_, doc) = b
        .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
        .await;
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    let assertion = b.authenticator.authenticate_with(
        &options,
        ORIGIN,
        &crate::common::softauthn::Tamper {
            credential_id: Some(crate::common::softauthn::b64url_decode(&first).unwrap()),
            ..Default::default()
        },
    );
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/assertion-response/check"),
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_FAILED");
    assert!(detail(&doc).contains("disabled"), "{doc}");

    // With the other passkey the user gets in and enables the first one again.
    let (status, doc) = passwordless(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = select_credential(&b, "fido-credential-enable", &first).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");
    let list = b.credentials().await;
    assert!(list.iter().all(|c| c["attributes"]["enabled"] == true));
}

#[tokio::test]
async fn two_concurrent_deletions_cannot_remove_the_last_two_credentials() {
    let app = spawn_app().await;
    let mut a = sign_up(&app, "racer").await;
    let ids = {
        a.register(Some("Second")).await;
        a.authenticator.credential_ids()
    };
    // A second signed-in session of the same user (a passkey sign-in in another browser).
    let mut b = app.browser();
    b.authenticator = a.authenticator.clone();
    let (status, doc) = passwordless(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    a.authenticator = b.authenticator.clone();

    // Both select a different credential for deletion while both still exist.
    let (s1, d1) = select_credential(&a, "fido-credential-deletion", &ids[0]).await;
    let (s2, d2) = select_credential(&b, "fido-credential-deletion", &ids[1]).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{d1} {d2}");
    // Each approves with the credential the other deletes, so their counters do not collide.
    let (r1, r2) = tokio::join!(approve_with(&mut a, &ids[1]), approve_with(&mut b, &ids[0]));
    let outcomes = [r1, r2];
    let ok = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    assert!(ok <= 1, "{outcomes:?}");
    let refused = outcomes
        .iter()
        .filter(|(_, d)| {
            // Refused by the rule, by the session the first deletion ended, or because the
            // first deletion removed the credential this approval was made with.
            [
                "FIDO_CREDENTIAL_CHANGE_NOT_ALLOWED",
                "NOT_AUTHORIZED",
                "FIDO_APPROVAL_FAILED",
            ]
            .contains(&code(d))
        })
        .count();
    assert!(ok + refused == 2, "{outcomes:?}");

    // Whoever is still signed in sees exactly one credential left.
    let mut remaining = None;
    for browser in [&a, &b] {
        let (status, doc) = browser.get(&format!("{SS}/fido/credentials")).await;
        if status == StatusCode::OK {
            remaining = Some(doc["data"].as_array().unwrap().len());
        }
    }
    assert_eq!(remaining, Some(1));
}

#[tokio::test]
async fn the_second_factor_cannot_be_skipped_by_registering_a_passkey() {
    let app = spawn_app().await;
    app.create_user("half", Some(PASSWORD)).await;
    let mut b = app.browser();
    b.login("half", PASSWORD).await;
    b.register(None).await;
    logout(&b).await;

    let (status, doc) = b
        .post(
            &format!("{AUTH}/password/check"),
            json!({"username": "half", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["data"]["attributes"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = b
        .post(&format!("{SS}/flows/fido-registration/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(code(&doc), "NOT_AUTHORIZED");
    let (status, _) = b
        .post(
            &format!("{SS}/fido/registration/challenge/retrieve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_passwordless_assertion_of_another_user_inside_a_signed_in_session_is_refused() {
    let app = spawn_app().await;
    let mut victim_browser = sign_up(&app, "victim").await;
    app.create_user("attacker", Some(PASSWORD)).await;
    let mut attacker = app.browser();
    attacker.login("attacker", PASSWORD).await;
    // The attacker's browser holds the victim's passkey too (e.g. a shared device).
    attacker.authenticator = victim_browser.authenticator.clone();
    let (status, doc) = passwordless(&mut attacker).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_FAILED");
    assert!(detail(&doc).contains("different user"), "{doc}");
    assert_eq!(session_user(&attacker).await.as_deref(), Some("attacker"));
    logout(&victim_browser).await;
    victim_browser.authenticator = attacker.authenticator.clone();
    let (status, doc) = passwordless(&mut victim_browser).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn a_step_up_assertion_of_another_user_is_refused() {
    let app = spawn_app().await;
    let victim = sign_up(&app, "victim2").await;
    let mut attacker = sign_up(&app, "attacker2").await;
    app.advance(chrono::Duration::minutes(11));
    let (status, _) = attacker
        .post(
            &format!("{AUTH}/applications/fido-step-up/access"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, doc) = attacker
        .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
        .await;
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    let victim_id = victim.authenticator.credential_ids()[0].clone();
    attacker.authenticator = victim.authenticator.clone();
    let assertion = attacker.authenticator.authenticate_with(
        &options,
        ORIGIN,
        &crate::common::softauthn::Tamper {
            credential_id: Some(crate::common::softauthn::b64url_decode(&victim_id).unwrap()),
            ..Default::default()
        },
    );
    let (status, doc) = attacker
        .post(
            &format!("{AUTH}/fido/assertion-response/check"),
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_FAILED");
    let (status, _) = attacker
        .post(&format!("{SS}/flows/fido-registration/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn twenty_parallel_wrong_passwords_get_no_more_tries_than_the_lock_allows() {
    let app = spawn_app().await;
    app.create_user("target", Some(PASSWORD)).await;
    let browsers: Vec<Browser> = (0..20).map(|_| app.browser()).collect();
    let path = format!("{AUTH}/password/check");
    let mut wrong = 0;
    let mut locked = false;
    for _ in 0..10 {
        let answers = futures_util::future::join_all(browsers.iter().map(|b| {
            b.post(
                &path,
                json!({"username": "target", "password": "wrong password"}),
            )
        }))
        .await;
        for (_, d) in &answers {
            assert!(
                ["USERNAME_PASSWORD_WRONG", "USER_LOCKED", "SERVER_BUSY"].contains(&code(d)),
                "{d}"
            );
        }
        wrong += answers
            .iter()
            .filter(|(_, d)| code(d) == "USERNAME_PASSWORD_WRONG")
            .count();
        locked |= answers.iter().any(|(_, d)| code(d) == "USER_LOCKED");
        if locked {
            break;
        }
    }
    assert!(locked, "the lock engaged");
    assert!(
        wrong <= 4,
        "at most max_failures - 1 plain refusals before the lock: {wrong}"
    );
    let b = app.browser();
    let (status, doc) = b
        .post(&path, json!({"username": "target", "password": PASSWORD}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&doc), "USER_LOCKED");
}

#[tokio::test]
async fn an_unknown_username_locks_and_answers_exactly_like_a_real_one() {
    let app = spawn_app().await;
    app.create_user("realuser", Some(PASSWORD)).await;
    let b = app.browser();
    let mut shapes = Vec::new();
    for name in ["realuser", "ghostuser"] {
        let mut seen = Vec::new();
        for _ in 0..6 {
            let (status, doc) = b
                .post(
                    &format!("{AUTH}/password/check"),
                    json!({"username": name, "password": "nope nope"}),
                )
                .await;
            seen.push((
                status,
                code(&doc).to_string(),
                detail(&doc).to_string(),
                doc["meta"].get("temporaryLockExpiry").is_some(),
            ));
        }
        shapes.push(seen);
    }
    assert_eq!(shapes[0], shapes[1]);
    assert_eq!(shapes[0][5].1, "USER_LOCKED");
}

#[tokio::test]
async fn two_concurrent_assertions_with_the_same_counter_cannot_both_pass() {
    let app = spawn_app().await;
    let first = sign_up(&app, "twins").await;
    logout(&first).await;
    let mut browsers = [app.browser(), app.browser()];
    let mut assertions = Vec::new();
    for b in browsers.iter_mut() {
        b.authenticator = first.authenticator.clone();
        b.post(
            &format!("{AUTH}/applications/fido-passwordless/access"),
            json!({}),
        )
        .await;
        let (_, doc) = b
            .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
            .await;
        let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
        // Both clones start from the same counter, so both sign counter 1.
        assertions.push(b.authenticator.authenticate(&options, ORIGIN));
    }
    let path = format!("{AUTH}/fido/assertion-response/check");
    let (a, b) = tokio::join!(
        browsers[0].post(&path, json!({ "publicKeyCredential": assertions[0] })),
        browsers[1].post(&path, json!({ "publicKeyCredential": assertions[1] })),
    );
    let passed = [&a, &b]
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    assert_eq!(passed, 1, "{a:?} {b:?}");
    let refused = if a.0 == StatusCode::OK { &b } else { &a };
    assert_eq!(code(&refused.1), "FIDO_AUTHENTICATION_FAILED");
    assert!(detail(&refused.1).contains("counter"), "{refused:?}");
}

#[tokio::test]
async fn deleting_a_credential_ends_the_users_other_sessions_but_not_this_one() {
    let app = spawn_app().await;
    let mut here = sign_up(&app, "twosessions").await;
    let doomed = here.authenticator.credential_ids()[0].clone();
    here.register(Some("Second")).await;
    let mut there = app.browser();
    there.authenticator = here.authenticator.clone();
    let (status, doc) = passwordless(&mut there).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    here.authenticator = there.authenticator.clone();
    assert_eq!(there.credentials().await.len(), 2);

    let (status, doc) = select_credential(&here, "fido-credential-deletion", &doomed).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = approve(&mut here).await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    assert_eq!(here.credentials().await.len(), 1, "this session goes on");
    let (status, doc) = there.get(&format!("{SS}/fido/credentials")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the other session is gone: {doc}"
    );
}

async fn audit_events(app: &TestApp, user: &str) -> Vec<Value> {
    let (status, doc) = app
        .admin(
            reqwest::Method::GET,
            &format!("/rest/admin/audit?username={user}&page[size]=100"),
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc["data"].as_array().unwrap().clone()
}

/// Signs `name` up, signs in passwordless once, then signs in again with a copy of the
/// authenticator taken before that login, whose counter lags behind.
async fn clone_signs_in(app: &TestApp, name: &str, backup_eligible: bool) -> (StatusCode, Value) {
    let mut b = app.browser();
    b.authenticator.be = backup_eligible;
    let mut b = sign_up_in(b, name).await;
    logout(&b).await;
    let lagging = b.authenticator.clone();
    let (status, doc) = passwordless(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    logout(&b).await;
    b.authenticator = lagging;
    passwordless(&mut b).await
}

#[tokio::test]
async fn a_counter_regression_is_refused_and_audited_by_default() {
    let app = spawn_app().await;
    let (status, doc) = clone_signs_in(&app, "cloned", false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    let events = audit_events(&app, "cloned").await;
    assert!(
        events
            .iter()
            .any(|e| e["attributes"]["event"] == "SIGN_COUNTER_REGRESSION"),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_audit_policy_lets_a_counter_regression_pass_and_audits_it() {
    let app = crate::common::app::spawn_app_with(|s| {
        s.ceremony.sign_counter_policy = fidoflow::config::SignCounterPolicy::Audit;
    })
    .await;
    let (status, doc) = clone_signs_in(&app, "tolerated", false).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let events = audit_events(&app, "tolerated").await;
    assert!(
        events
            .iter()
            .any(|e| e["attributes"]["event"] == "SIGN_COUNTER_REGRESSION"),
        "{events:?}"
    );
}

#[tokio::test]
async fn ignore_when_backup_eligible_passes_synced_passkeys_only() {
    let app = crate::common::app::spawn_app_with(|s| {
        s.ceremony.sign_counter_policy =
            fidoflow::config::SignCounterPolicy::IgnoreWhenBackupEligible;
    })
    .await;
    let (status, doc) = clone_signs_in(&app, "synced", true).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = clone_signs_in(&app, "devicebound", false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_FAILED");
}

#[tokio::test]
async fn a_credential_the_helpdesk_disabled_cannot_be_enabled_by_its_user() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "helped").await;
    let first = b.authenticator.credential_ids()[0].clone();
    b.register(Some("Spare")).await;
    let (status, doc) = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/rest/admin/users/helped/fido/credentials/{first}"),
            Some(crate::common::app::HELPDESK_TOKEN),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    // The helpdesk's change ended the session; the user signs in with the spare passkey.
    let (status, doc) = passwordless(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = select_credential(&b, "fido-credential-enable", &first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "FIDO_CREDENTIAL_CHANGE_NOT_ALLOWED");
    assert!(detail(&doc).contains("helpdesk"), "{doc}");
}

#[tokio::test]
async fn the_audit_log_shows_each_event_of_a_life_with_its_actor() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "audited").await;
    let first = b.authenticator.credential_ids()[0].clone();
    b.register(Some("Second")).await;
    select_credential(&b, "fido-credential-rename", &first).await;
    b.post(
        &format!("{SS}/fido/display-name/change"),
        json!({"displayName": "Renamed"}),
    )
    .await;
    select_credential(&b, "fido-credential-deletion", &first).await;
    let (status, doc) = approve(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    logout(&b).await;
    app.admin(
        reqwest::Method::POST,
        "/rest/admin/users/audited/unlock",
        Some(crate::common::app::HELPDESK_TOKEN),
        None,
    )
    .await;

    let events = audit_events(&app, "audited").await;
    let seen: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            let a = &e["attributes"];
            (
                a["event"].as_str().unwrap().to_string(),
                a["actor"].as_str().unwrap().to_string(),
                a["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("SIGN_UP", "user:audited", "success"),
        ("FIDO_REGISTRATION", "user:audited", "success"),
        ("CREDENTIAL_RENAMED", "user:audited", "success"),
        ("FIDO_APPROVAL", "user:audited", "success"),
        ("CREDENTIAL_DELETED", "user:audited", "success"),
        ("LOGOUT", "user:audited", "success"),
        ("USER_UNLOCKED", "token:test-helpdesk", "success"),
    ] {
        assert!(
            seen.iter()
                .any(|(e, a, o)| (e.as_str(), a.as_str(), o.as_str()) == expected),
            "{expected:?} missing from {seen:?}"
        );
    }
    let deleted = events
        .iter()
        .find(|e| e["attributes"]["event"] == "CREDENTIAL_DELETED")
        .unwrap();
    assert_eq!(
        deleted["attributes"]["credentialId"],
        first.as_str(),
        "the audit keeps full ids"
    );
}

#[tokio::test]
async fn a_passkey_only_user_answers_a_password_check_exactly_like_an_unknown_one() {
    let app = spawn_app().await;
    let b = sign_up(&app, "passkeyonly").await;
    logout(&b).await;
    let mut answers = Vec::new();
    for name in ["passkeyonly", "nosuchuser"] {
        let (status, doc) = b
            .post(
                &format!("{AUTH}/password/check"),
                json!({"username": name, "password": "anything at all"}),
            )
            .await;
        answers.push((
            status,
            code(&doc).to_string(),
            detail(&doc).to_string(),
            doc["meta"]["nextAuthStep"].clone(),
        ));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].1, "USERNAME_PASSWORD_WRONG");
}

#[tokio::test]
async fn finishing_a_sign_up_after_signing_in_as_someone_else_is_refused() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let mut b = app.browser();
    let (status, doc) = b
        .post(&format!("{SIGNUP}/passkey-signup/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/user-data/continue"),
            json!({"username": "mallory"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/fido/registration/challenge/retrieve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialCreationOptions"].clone();
    // Alice signs in in the same session while the sign-up waits for its passkey.
    b.login("alice", PASSWORD).await;
    assert_eq!(session_user(&b).await.as_deref(), Some("alice"));
    let credential = b.authenticator.register(&options, ORIGIN);
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/fido/registration/attestation-response/check"),
            json!({ "publicKeyCredential": credential }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    assert!(detail(&doc).contains("sign out"), "{doc}");
    assert_eq!(session_user(&b).await.as_deref(), Some("alice"));
    let (status, doc) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/users/mallory",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no account was made: {doc}");
    // Nor can the sign-up go on with a new challenge while alice is signed in.
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/fido/registration/challenge/retrieve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
}

/// The `FIDO_ABORT` events of the whole audit log.
async fn fido_aborts(app: &TestApp) -> usize {
    let (status, doc) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/audit?page[size]=100",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["attributes"]["event"] == "FIDO_ABORT")
        .count()
}

async fn start_passwordless(b: &Browser) {
    let (status, doc) = b
        .post(
            &format!("{AUTH}/applications/fido-passwordless/access"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
}

#[tokio::test]
async fn an_abort_without_a_pending_challenge_is_out_of_turn_and_not_audited() {
    let app = spawn_app().await;
    let b = app.browser();
    start_passwordless(&b).await;
    for _ in 0..3 {
        let (status, doc) = b
            .post(&format!("{AUTH}/fido/abort"), json!({"reason": "ABORTED"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
        assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    }
    assert_eq!(fido_aborts(&app).await, 0);
}

#[tokio::test]
async fn a_second_abort_of_the_same_challenge_is_refused_and_not_audited() {
    let app = spawn_app().await;
    let b = app.browser();
    start_passwordless(&b).await;
    let (status, doc) = b
        .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/abort"),
            json!({"reason": "NOT_ALLOWED"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(fido_aborts(&app).await, 1);
    let (status, doc) = b
        .post(
            &format!("{AUTH}/fido/abort"),
            json!({"reason": "NOT_ALLOWED"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    assert_eq!(fido_aborts(&app).await, 1);
}

#[tokio::test]
async fn a_self_service_abort_without_a_pending_challenge_is_out_of_turn_and_not_audited() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let b = app.browser();
    b.login("alice", PASSWORD).await;
    let (status, doc) = b
        .post(&format!("{SS}/flows/fido-registration/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = b
        .post(&format!("{SS}/fido/abort"), json!({"reason": "ABORTED"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    assert_eq!(fido_aborts(&app).await, 0);
}

#[tokio::test]
async fn aborts_are_rate_limited_by_address() {
    let app = crate::common::app::spawn_app_with(|s| {
        s.rate_limits.enabled = true;
        s.rate_limits.per_address = 4;
    })
    .await;
    let b = app.browser();
    start_passwordless(&b).await;
    let mut limited = false;
    for _ in 0..4 {
        let (status, doc) = b
            .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        assert_eq!(status, StatusCode::OK, "{doc}");
        let (status, doc) = b
            .post(
                &format!("{AUTH}/fido/abort"),
                json!({"reason": "NOT_ALLOWED"}),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        assert_eq!(status, StatusCode::OK, "{doc}");
    }
    assert!(
        limited,
        "four challenges and four aborts fit no window of four"
    );
    assert!(fido_aborts(&app).await < 4);
}

/// The own list names, per credential, the changes the flows would refuse (so that the portal
/// does not offer them); the helpdesk's list does not.
#[tokio::test]
async fn the_own_list_names_the_changes_the_flows_would_refuse() {
    let app = spawn_app().await;
    let mut b = sign_up(&app, "refusals").await;
    let only_way = json!({
        "delete": "LAST_CREDENTIAL_WITHOUT_PASSWORD",
        "disable": "LAST_CREDENTIAL_WITHOUT_PASSWORD",
    });
    let list = b.credentials().await;
    assert_eq!(
        list[0]["attributes"]["changeRefusals"], only_way,
        "{list:?}"
    );

    let first = list[0]["id"].as_str().unwrap().to_string();
    let second = b.register(Some("Second")).await;
    let list = b.credentials().await;
    assert_eq!(list.len(), 2);
    for c in &list {
        assert_eq!(c["attributes"]["changeRefusals"], json!({}), "{c}");
    }
    let (status, desk) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/users/refusals/fido/credentials",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{desk}");
    assert!(
        desk["data"][0]["attributes"]
            .get("changeRefusals")
            .is_none(),
        "{desk}"
    );

    // The helpdesk disables the first: only the helpdesk may enable it, and the second is now
    // the only way in.
    let (status, doc) = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/rest/admin/users/refusals/fido/credentials/{first}"),
            Some(crate::common::app::ADMIN_TOKEN),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = passwordless(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = b.credentials().await;
    let of = |id: &str| {
        list.iter().find(|c| c["id"] == id).unwrap()["attributes"]["changeRefusals"].clone()
    };
    assert_eq!(of(&first), json!({"enable": "DISABLED_BY_HELPDESK"}));
    assert_eq!(of(&second), only_way);
    // What the list names is what the flow refuses.
    let (status, doc) = select_credential(&b, "fido-credential-deletion", &second).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_CREDENTIAL_CHANGE_NOT_ALLOWED");

    // A user with a password may remove the last credential (the shipped flows allow it).
    app.create_user("with-password", Some(PASSWORD)).await;
    let mut c = app.browser();
    c.login("with-password", PASSWORD).await;
    c.register(None).await;
    assert_eq!(
        c.credentials().await[0]["attributes"]["changeRefusals"],
        json!({})
    );
}
