//! The FIDO second factor of the `default` application refuses every assertion that WebAuthn
//! §7.2 says to refuse, over HTTP: the answer names the failed check, the session stays
//! unauthenticated, the challenge is spent, and the step recovers with a new challenge.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{
    code, detail, spawn_app, spawn_app_with, Browser, TestApp, ORIGIN, PASSWORD,
};
use crate::common::softauthn::{b64url, b64url_decode, Tamper};

const PASSWORD_CHECK: &str = "/rest/public/authentication/password/check";
const CHALLENGE: &str = "/rest/public/authentication/fido/challenge/retrieve";
const ASSERTION: &str = "/rest/public/authentication/fido/assertion-response/check";
const ABORT: &str = "/rest/public/authentication/fido/abort";
const SESSION: &str = "/rest/public/authentication/session";
const LOGOUT: &str = "/rest/public/authentication/logout";
const PROTECTED_FLOWS: &str = "/rest/protected/self-service/flows";
const CHALLENGE_NEXT: &str = "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED";

// ---- helpers ----

/// A new password user with one passkey (registered while signed in with the password alone),
/// signed out again.
async fn user_with_passkey(app: &TestApp, name: &str) -> Browser {
    app.create_user(name, Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login(name, PASSWORD).await;
    browser.register(None).await;
    let (status, doc) = browser.post(LOGOUT, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    browser
}

/// The password step of `default`, which must then ask for the FIDO second factor.
async fn password_step(browser: &Browser, name: &str) {
    let (status, doc) = browser
        .post(
            PASSWORD_CHECK,
            json!({ "username": name, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextAuthStep"], CHALLENGE_NEXT,
        "{doc}"
    );
}

/// Retrieves a FIDO challenge; returns the request options.
async fn challenge(browser: &Browser) -> Value {
    let (status, doc) = browser.post(CHALLENGE, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "authentication.fido.challenge");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert!(options["challenge"].is_string(), "{doc}");
    options
}

async fn password_then_challenge(browser: &Browser, name: &str) -> Value {
    password_step(browser, name).await;
    challenge(browser).await
}

async fn send(browser: &Browser, credential: Value) -> (StatusCode, Value) {
    browser
        .post(ASSERTION, json!({ "publicKeyCredential": credential }))
        .await
}

fn tampered(browser: &mut Browser, options: &Value, t: Tamper) -> Value {
    browser.authenticator.authenticate_with(options, ORIGIN, &t)
}

/// `400 FIDO_AUTHENTICATION_FAILED`, back to challenge retrieval, with a detail that contains
/// every one of `words` (the name of the failed check).
fn assert_failed(status: StatusCode, doc: &Value, words: &[&str]) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(doc), "FIDO_AUTHENTICATION_FAILED", "{doc}");
    assert_eq!(doc["errors"][0]["status"], 400, "{doc}");
    assert_eq!(doc["meta"]["nextAuthStep"], CHALLENGE_NEXT, "{doc}");
    for w in words {
        assert!(detail(doc).contains(w), "detail should name {w:?}: {doc}");
    }
}

/// The session is not authenticated and protected resources are refused.
async fn assert_not_signed_in(browser: &Browser) {
    let (status, session) = browser.get(SESSION).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(
        session["data"]["attributes"]["authenticated"], false,
        "{session}"
    );
    // The password step's tag counts for nothing while the flow is unfinished.
    assert_eq!(
        session["data"]["attributes"]["tags"],
        json!([]),
        "{session}"
    );
    let (status, doc) = browser.get(PROTECTED_FLOWS).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(code(&doc), "NOT_AUTHORIZED", "{doc}");
}

async fn assert_signed_in(browser: &Browser, name: &str) {
    let (status, session) = browser.get(SESSION).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(
        session["data"]["attributes"]["authenticated"], true,
        "{session}"
    );
    assert_eq!(session["data"]["attributes"]["username"], name, "{session}");
    let (status, doc) = browser.get(PROTECTED_FLOWS).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

/// The assertion completes the flow.
fn assert_completed(status: StatusCode, doc: &Value) {
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "authentication.session", "{doc}");
    assert!(
        doc["data"]["attributes"].get("nextAuthStep").is_none(),
        "{doc}"
    );
}

/// The step recovers: a new challenge and an honest assertion sign the user in.
async fn recovers(browser: &mut Browser, name: &str) {
    let options = challenge(browser).await;
    let honest = browser.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = send(browser, honest).await;
    assert_completed(status, &doc);
    assert_signed_in(browser, name).await;
}

/// The challenge of `options` is spent: an honest answer to it is out of turn.
async fn assert_spent(browser: &mut Browser, options: &Value) {
    let honest = browser.authenticator.authenticate(options, ORIGIN);
    let (status, doc) = send(browser, honest).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
}

/// One tampered assertion against a fresh login of a fresh user: refused with `words` in the
/// detail, not signed in, challenge spent, and the step recovers.
async fn refused_then_recovers(name: &str, t: Tamper, words: &[&str]) {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, name).await;
    let options = password_then_challenge(&browser, name).await;
    let bad = tampered(&mut browser, &options, t);
    let (status, doc) = send(&browser, bad).await;
    assert_failed(status, &doc, words);
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &options).await;
    assert_not_signed_in(&browser).await;
    recovers(&mut browser, name).await;
}

fn random_bytes(n: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    b
}

// ---- client data ----

#[tokio::test]
async fn a_wrong_challenge_is_refused_and_the_step_recovers() {
    refused_then_recovers(
        "wrongchallenge",
        Tamper {
            challenge: Some(random_bytes(32)),
            ..Default::default()
        },
        &["challenge"],
    )
    .await;
}

#[tokio::test]
async fn an_accepted_assertion_replayed_in_a_new_login_is_refused() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "replay").await;
    let options = password_then_challenge(&browser, "replay").await;
    let accepted = browser.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = send(&browser, accepted.clone()).await;
    assert_completed(status, &doc);
    let (status, _) = browser.post(LOGOUT, json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // A new login attempt, a new challenge, the old assertion.
    let fresh = password_then_challenge(&browser, "replay").await;
    assert_ne!(fresh["challenge"], options["challenge"]);
    let (status, doc) = send(&browser, accepted.clone()).await;
    assert_failed(status, &doc, &["challenge"]);
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &fresh).await;

    // Nor does it work from another browser that never saw it.
    let thief = app.browser();
    password_step(&thief, "replay").await;
    challenge(&thief).await;
    let (status, doc) = send(&thief, accepted).await;
    assert_failed(status, &doc, &["challenge"]);
    assert_not_signed_in(&thief).await;

    recovers(&mut browser, "replay").await;
}

#[tokio::test]
async fn an_expired_challenge_is_a_timeout_and_the_step_recovers() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "expired").await;
    let options = password_then_challenge(&browser, "expired").await;
    assert_eq!(options["timeout"], 300000);
    let honest = browser.authenticator.authenticate(&options, ORIGIN);
    app.advance(chrono::Duration::seconds(301));
    let (status, doc) = send(&browser, honest).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_TIMEOUT", "{doc}");
    assert_eq!(doc["meta"]["nextAuthStep"], CHALLENGE_NEXT, "{doc}");
    assert!(detail(&doc).contains("expired"), "{doc}");
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &options).await;
    recovers(&mut browser, "expired").await;
}

#[tokio::test]
async fn a_challenge_is_still_good_just_before_its_timeout() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "intime").await;
    let options = password_then_challenge(&browser, "intime").await;
    app.advance(chrono::Duration::seconds(299));
    let honest = browser.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = send(&browser, honest).await;
    assert_completed(status, &doc);
    assert_signed_in(&browser, "intime").await;
}

#[tokio::test]
async fn a_wrong_origin_is_refused_and_the_step_recovers() {
    refused_then_recovers(
        "wrongorigin",
        Tamper {
            origin: Some("https://evil.example".into()),
            ..Default::default()
        },
        &["origin", "evil.example"],
    )
    .await;
}

#[tokio::test]
async fn a_cross_origin_ceremony_is_refused() {
    refused_then_recovers(
        "crossorigin",
        Tamper {
            cross_origin: Some(true),
            ..Default::default()
        },
        &["crossOrigin"],
    )
    .await;
}

#[tokio::test]
async fn a_top_origin_in_the_client_data_is_refused() {
    refused_then_recovers(
        "toporigin",
        Tamper {
            top_origin: Some("https://framing.example".into()),
            ..Default::default()
        },
        &["crossOrigin"],
    )
    .await;
}

#[tokio::test]
async fn a_registration_client_data_type_is_refused() {
    refused_then_recovers(
        "wrongtype",
        Tamper {
            client_data_type: Some("webauthn.create".into()),
            ..Default::default()
        },
        &["type", "webauthn.get"],
    )
    .await;
}

#[tokio::test]
async fn client_data_that_is_not_json_is_refused_and_the_challenge_is_spent() {
    refused_then_recovers(
        "notjson",
        Tamper {
            client_data_json_raw: Some(b"this is not JSON".to_vec()),
            ..Default::default()
        },
        &["malformed", "clientDataJSON"],
    )
    .await;
}

// ---- authenticator data ----

#[tokio::test]
async fn a_wrong_rp_id_hash_is_refused() {
    refused_then_recovers(
        "wrongrpid",
        Tamper {
            rp_id: Some("evil.example".into()),
            ..Default::default()
        },
        &["rpIdHash"],
    )
    .await;
}

#[tokio::test]
async fn user_presence_clear_is_refused() {
    refused_then_recovers(
        "noup",
        Tamper {
            up: Some(false),
            ..Default::default()
        },
        &["userPresent"],
    )
    .await;
}

#[tokio::test]
async fn user_verification_clear_is_accepted_when_the_step_only_prefers_it() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "uvpreferred").await;
    let options = password_then_challenge(&browser, "uvpreferred").await;
    assert_eq!(options["userVerification"], "preferred");
    let assertion = tampered(
        &mut browser,
        &options,
        Tamper {
            uv: Some(false),
            ..Default::default()
        },
    );
    let (status, doc) = send(&browser, assertion).await;
    assert_completed(status, &doc);
    assert_signed_in(&browser, "uvpreferred").await;
    let list = browser.credentials().await;
    assert_eq!(list[0]["attributes"]["userVerified"], false, "{list:?}");
}

/// An application set whose `default` second factor requires user verification.
const UV_REQUIRED_APPLICATIONS: &str = r#"
[[application]]
id = "default"
max_age = "8h"

[[application.steps]]
type = "password"
grants = ["PASSWORD_VERIFIED"]

[[application.steps]]
type = "fido-authentication"
grants = ["FIDO_VERIFIED"]
user_verification = "required"
"#;

#[tokio::test]
async fn user_verification_clear_is_refused_when_the_step_requires_it() {
    let flows = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/flows/self-service.toml"),
        flows.path().join("self-service.toml"),
    )
    .unwrap();
    std::fs::write(
        flows.path().join("applications.toml"),
        UV_REQUIRED_APPLICATIONS,
    )
    .unwrap();
    let dir = flows.path().to_path_buf();
    let app = spawn_app_with(move |s| s.server.flows_dir = Some(dir)).await;

    let mut browser = user_with_passkey(&app, "uvrequired").await;
    let options = password_then_challenge(&browser, "uvrequired").await;
    assert_eq!(options["userVerification"], "required", "{options}");
    let bad = tampered(
        &mut browser,
        &options,
        Tamper {
            uv: Some(false),
            ..Default::default()
        },
    );
    let (status, doc) = send(&browser, bad).await;
    assert_failed(status, &doc, &["userVerified"]);
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &options).await;

    // With UV the step passes.
    let options = challenge(&browser).await;
    let good = tampered(
        &mut browser,
        &options,
        Tamper {
            uv: Some(true),
            ..Default::default()
        },
    );
    let (status, doc) = send(&browser, good).await;
    assert_completed(status, &doc);
    assert_signed_in(&browser, "uvrequired").await;
}

#[tokio::test]
async fn backup_eligibility_that_changed_since_registration_is_refused() {
    refused_then_recovers(
        "beflipped",
        Tamper {
            be: Some(true),
            ..Default::default()
        },
        &["backupEligible"],
    )
    .await;
}

#[tokio::test]
async fn backup_state_without_backup_eligibility_is_refused() {
    refused_then_recovers(
        "bsnobe",
        Tamper {
            bs: Some(true),
            ..Default::default()
        },
        &["backupState"],
    )
    .await;
}

#[tokio::test]
async fn trailing_bytes_after_the_authenticator_data_are_refused() {
    refused_then_recovers(
        "trailing",
        Tamper {
            trailing_bytes: true,
            ..Default::default()
        },
        &["authenticatorDataLength"],
    )
    .await;
}

#[tokio::test]
async fn an_extension_flag_with_invalid_cbor_extension_data_is_refused() {
    // ED set and the bytes after the counter are not a CBOR map (0xde is a reserved tag form).
    refused_then_recovers(
        "badcbor",
        Tamper {
            ed: Some(true),
            trailing_bytes: true,
            ..Default::default()
        },
        &["extensions"],
    )
    .await;
}

#[tokio::test]
async fn an_extension_flag_without_extension_data_is_refused() {
    refused_then_recovers(
        "noext",
        Tamper {
            ed: Some(true),
            ..Default::default()
        },
        &["extensions"],
    )
    .await;
}

// ---- signature ----

#[tokio::test]
async fn a_flipped_signature_byte_is_refused_and_the_step_recovers() {
    refused_then_recovers(
        "flipped",
        Tamper {
            flip_signature_byte: true,
            ..Default::default()
        },
        &["signature"],
    )
    .await;
}

#[tokio::test]
async fn client_data_altered_after_signing_is_refused() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "altered").await;
    let options = password_then_challenge(&browser, "altered").await;
    let mut assertion = browser.authenticator.authenticate(&options, ORIGIN);
    // Still valid client data for this challenge and origin, but not the bytes that were signed.
    let raw = b64url_decode(assertion["response"]["clientDataJSON"].as_str().unwrap()).unwrap();
    let mut client_data: Value = serde_json::from_slice(&raw).unwrap();
    client_data["other_keys_can_be_added_here"] = json!("do not compare clientDataJSON");
    let altered = serde_json::to_vec(&client_data).unwrap();
    assert_ne!(altered, raw);
    assertion["response"]["clientDataJSON"] = json!(b64url(&altered));
    let (status, doc) = send(&browser, assertion).await;
    assert_failed(status, &doc, &["signature"]);
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &options).await;
    recovers(&mut browser, "altered").await;
}

#[tokio::test]
async fn authenticator_data_altered_after_signing_is_refused() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "altereddata").await;
    let options = password_then_challenge(&browser, "altereddata").await;
    let mut assertion = browser.authenticator.authenticate(&options, ORIGIN);
    let mut data =
        b64url_decode(assertion["response"]["authenticatorData"].as_str().unwrap()).unwrap();
    // Raise the counter after signing.
    data[36] = data[36].wrapping_add(7);
    assertion["response"]["authenticatorData"] = json!(b64url(&data));
    let (status, doc) = send(&browser, assertion).await;
    assert_failed(status, &doc, &["signature"]);
    assert_not_signed_in(&browser).await;
    recovers(&mut browser, "altereddata").await;
    // The refused assertion did not move the stored counter (the honest one carried 2).
    let list = browser.credentials().await;
    assert_eq!(list[0]["attributes"]["signCount"], 2, "{list:?}");
}

// ---- credential and user handle ----

#[tokio::test]
async fn another_users_credential_is_refused_and_named() {
    let app = spawn_app().await;
    let bob = user_with_passkey(&app, "bobother").await;
    let mut alice = user_with_passkey(&app, "aliceother").await;
    let options = password_then_challenge(&alice, "aliceother").await;

    // Bob's authenticator signs, honestly, with Bob's credential, over Alice's challenge.
    let mut bobs = bob.authenticator.clone();
    let bob_id = b64url_decode(&bobs.credential_ids()[0]).unwrap();
    let foreign = bobs.authenticate_with(
        &options,
        ORIGIN,
        &Tamper {
            credential_id: Some(bob_id),
            ..Default::default()
        },
    );
    assert_eq!(
        foreign["id"],
        bob.authenticator.credential_ids()[0].as_str()
    );
    let (status, doc) = send(&alice, foreign).await;
    assert_failed(status, &doc, &["credential"]);
    assert!(!detail(&doc).contains("bobother"), "{doc}");
    assert_not_signed_in(&alice).await;
    assert_spent(&mut alice, &options).await;

    // A credential id the server has never seen (a throwaway key signs).
    let options = challenge(&alice).await;
    let unknown = tampered(
        &mut alice,
        &options,
        Tamper {
            credential_id: Some(random_bytes(32)),
            ..Default::default()
        },
    );
    let (status, doc) = send(&alice, unknown).await;
    assert_failed(status, &doc, &["credential"]);
    assert_not_signed_in(&alice).await;

    recovers(&mut alice, "aliceother").await;
}

#[tokio::test]
async fn a_user_handle_that_is_not_the_credentials_is_refused() {
    refused_then_recovers(
        "wronghandle",
        Tamper {
            user_handle: Some(Some(random_bytes(64))),
            ..Default::default()
        },
        &["userHandle"],
    )
    .await;
}

#[tokio::test]
async fn a_null_or_empty_user_handle_is_treated_as_absent() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "nullhandle").await;
    for handle in [None, Some(Vec::new())] {
        let options = password_then_challenge(&browser, "nullhandle").await;
        let assertion = tampered(
            &mut browser,
            &options,
            Tamper {
                user_handle: Some(handle.clone()),
                ..Default::default()
            },
        );
        let expected = if handle.is_none() {
            json!(null)
        } else {
            json!("")
        };
        assert_eq!(assertion["response"]["userHandle"], expected);
        let (status, doc) = send(&browser, assertion).await;
        assert_completed(status, &doc);
        assert_signed_in(&browser, "nullhandle").await;
        let (status, _) = browser.post(LOGOUT, json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn an_id_that_differs_from_raw_id_is_refused() {
    refused_then_recovers(
        "rawid",
        Tamper {
            raw_id_differs: true,
            ..Default::default()
        },
        &["rawId"],
    )
    .await;
}

// ---- sign counter ----

#[tokio::test]
async fn zero_counters_are_accepted_but_zero_after_a_nonzero_counter_is_refused() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "zerocount").await;
    let zero = Tamper {
        sign_count: Some(0),
        ..Default::default()
    };

    // An authenticator without a counter sends 0 every time: 0 after 0 is fine.
    for _ in 0..2 {
        let options = password_then_challenge(&browser, "zerocount").await;
        let assertion = tampered(&mut browser, &options, zero.clone());
        let (status, doc) = send(&browser, assertion).await;
        assert_completed(status, &doc);
        assert_eq!(browser.credentials().await[0]["attributes"]["signCount"], 0);
        let (status, _) = browser.post(LOGOUT, json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }

    // Once the counter moved (to 1), a 0 is a regression.
    let options = password_then_challenge(&browser, "zerocount").await;
    let honest = browser.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = send(&browser, honest).await;
    assert_completed(status, &doc);
    assert_eq!(browser.credentials().await[0]["attributes"]["signCount"], 1);
    let (status, _) = browser.post(LOGOUT, json!({})).await;
    assert_eq!(status, StatusCode::OK);

    let options = password_then_challenge(&browser, "zerocount").await;
    let assertion = tampered(&mut browser, &options, zero);
    let (status, doc) = send(&browser, assertion).await;
    assert_failed(status, &doc, &["counter"]);
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &options).await;

    // The refusal changed nothing: the honest authenticator still signs in (with 3: its answer
    // to the spent challenge used 2).
    assert_eq!(browser.authenticator.sign_count, 2);
    recovers(&mut browser, "zerocount").await;
    assert_eq!(browser.credentials().await[0]["attributes"]["signCount"], 3);
}

// ---- malformed members ----

#[tokio::test]
async fn authenticator_data_that_is_not_base64url_is_refused_and_the_challenge_is_spent() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "notb64").await;
    let options = password_then_challenge(&browser, "notb64").await;
    let mut assertion = browser.authenticator.authenticate(&options, ORIGIN);
    assertion["response"]["authenticatorData"] = json!("*** not base64url ***");
    let (status, doc) = send(&browser, assertion).await;
    assert_failed(status, &doc, &["authenticatorData"]);
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &options).await;
    recovers(&mut browser, "notb64").await;
}

#[tokio::test]
async fn authenticator_data_that_is_too_short_is_refused() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "shortdata").await;
    let options = password_then_challenge(&browser, "shortdata").await;
    let mut assertion = browser.authenticator.authenticate(&options, ORIGIN);
    assertion["response"]["authenticatorData"] = json!(b64url(&[0u8; 20]));
    let (status, doc) = send(&browser, assertion).await;
    assert_failed(status, &doc, &["authenticator data"]);
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &options).await;
}

#[tokio::test]
async fn a_signature_that_is_not_base64url_is_refused() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "sigb64").await;
    let options = password_then_challenge(&browser, "sigb64").await;
    let mut assertion = browser.authenticator.authenticate(&options, ORIGIN);
    assertion["response"]["signature"] = json!("%%%");
    let (status, doc) = send(&browser, assertion).await;
    assert_failed(status, &doc, &["signature"]);
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &options).await;
}

#[tokio::test]
async fn a_credential_of_the_wrong_shape_is_refused_and_spends_the_challenge() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "shapes").await;
    let mut cases: Vec<(Value, &[&str])> = vec![(json!({}), &["malformed", "type"])];
    let probe = challenge_free_assertion(&mut browser);
    let mut wrong_type = probe.clone();
    wrong_type["type"] = json!("password");
    cases.push((wrong_type, &["credentialType", "password"]));
    let mut no_response = probe.clone();
    no_response.as_object_mut().unwrap().remove("response");
    cases.push((no_response, &["malformed", "response"]));
    let mut numeric_handle = probe.clone();
    numeric_handle["response"]["userHandle"] = json!(42);
    cases.push((numeric_handle, &["malformed", "userHandle"]));
    let mut no_signature = probe;
    no_signature["response"]
        .as_object_mut()
        .unwrap()
        .remove("signature");
    cases.push((no_signature, &["malformed", "signature"]));

    for (credential, words) in cases {
        // A fresh password step each time, so five refusals do not lock the name.
        password_step(&browser, "shapes").await;
        let options = challenge(&browser).await;
        let mut credential = credential;
        // Answer this challenge so that only the shape is wrong.
        if credential.get("response").is_some() {
            let honest = browser.authenticator.authenticate(&options, ORIGIN);
            for member in ["clientDataJSON", "authenticatorData"] {
                credential["response"][member] = honest["response"][member].clone();
            }
        }
        let (status, doc) = send(&browser, credential.clone()).await;
        assert_failed(status, &doc, words);
        assert_not_signed_in(&browser).await;
        assert_spent(&mut browser, &options).await;
    }
    recovers(&mut browser, "shapes").await;
}

/// An honest-looking assertion to a challenge nobody issued (a template to break).
fn challenge_free_assertion(browser: &mut Browser) -> Value {
    let options = json!({ "challenge": b64url(&random_bytes(32)), "rpId": "localhost" });
    browser.authenticator.authenticate(&options, ORIGIN)
}

#[tokio::test]
async fn a_missing_public_key_credential_is_an_invalid_request_and_keeps_the_challenge() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "missingpkc").await;
    let options = password_then_challenge(&browser, "missingpkc").await;

    let (status, doc) = browser.post(ASSERTION, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "INVALID_REQUEST", "{doc}");
    assert!(detail(&doc).contains("publicKeyCredential"), "{doc}");

    let (status, doc) = browser
        .post(ASSERTION, json!({ "publicKeyCredential": "a string" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "INVALID_REQUEST", "{doc}");
    assert!(detail(&doc).contains("publicKeyCredential"), "{doc}");
    assert_not_signed_in(&browser).await;

    // The challenge is still good.
    let honest = browser.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = send(&browser, honest).await;
    assert_completed(status, &doc);
    assert_signed_in(&browser, "missingpkc").await;
}

// ---- out of turn ----

#[tokio::test]
async fn an_assertion_before_any_challenge_is_unexpected() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "early").await;

    // No flow at all.
    let stranger = app.browser();
    let (status, doc) = send(&stranger, json!({ "id": "x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");

    // The password step is done but no challenge was retrieved.
    password_step(&browser, "early").await;
    let bogus_options = json!({
        "challenge": b64url(&random_bytes(32)),
        "rpId": "localhost",
        "allowCredentials": [],
    });
    let assertion = browser.authenticator.authenticate(&bogus_options, ORIGIN);
    let (status, doc) = send(&browser, assertion).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    assert_not_signed_in(&browser).await;

    // The flow stayed where it was.
    recovers(&mut browser, "early").await;
}

#[tokio::test]
async fn abort_not_allowed_spends_the_challenge_and_waits_for_a_new_one() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "aborter").await;
    let options = password_then_challenge(&browser, "aborter").await;
    let (status, doc) = browser
        .post(ABORT, json!({ "reason": "NOT_ALLOWED" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "authentication.session", "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextAuthStep"], CHALLENGE_NEXT,
        "{doc}"
    );
    assert_not_signed_in(&browser).await;
    assert_spent(&mut browser, &options).await;
    recovers(&mut browser, "aborter").await;
}

#[tokio::test]
async fn abort_with_an_unknown_reason_is_an_invalid_request_and_keeps_the_challenge() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "badreason").await;
    // No flow running: out of turn, even with a valid reason.
    let (status, doc) = browser
        .post(ABORT, json!({ "reason": "NOT_ALLOWED" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");

    let options = password_then_challenge(&browser, "badreason").await;
    for body in [
        json!({ "reason": "USER_WANDERED_OFF" }),
        json!({ "reason": "not_allowed" }),
        json!({}),
        json!({ "reason": 7 }),
    ] {
        let (status, doc) = browser.post(ABORT, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {doc}");
        assert_eq!(code(&doc), "INVALID_REQUEST", "{body}: {doc}");
        assert!(detail(&doc).contains("reason"), "{doc}");
    }
    let honest = browser.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = send(&browser, honest).await;
    assert_completed(status, &doc);
    assert_signed_in(&browser, "badreason").await;
}

#[tokio::test]
async fn the_second_factor_cannot_be_skipped() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "skipper").await;
    password_step(&browser, "skipper").await;

    let (status, doc) = browser
        .post(
            "/rest/protected/self-service/flows/fido-registration/select",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(code(&doc), "NOT_AUTHORIZED", "{doc}");
    let (status, doc) = browser
        .post(
            "/rest/protected/self-service/fido/registration/challenge/retrieve",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(code(&doc), "NOT_AUTHORIZED", "{doc}");
    let (status, doc) = browser
        .get("/rest/protected/self-service/fido/credentials")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_not_signed_in(&browser).await;

    // A failed second factor does not open the door either.
    let options = challenge(&browser).await;
    let bad = tampered(
        &mut browser,
        &options,
        Tamper {
            flip_signature_byte: true,
            ..Default::default()
        },
    );
    let (status, doc) = send(&browser, bad).await;
    assert_failed(status, &doc, &["signature"]);
    let (status, doc) = browser
        .post(
            "/rest/protected/self-service/flows/fido-registration/select",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(code(&doc), "NOT_AUTHORIZED", "{doc}");

    recovers(&mut browser, "skipper").await;
}

// ---- temporary lock ----

#[tokio::test]
async fn five_failed_assertions_lock_the_username_and_end_the_flow() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "locked").await;
    password_step(&browser, "locked").await;
    let bad = Tamper {
        flip_signature_byte: true,
        ..Default::default()
    };
    for attempt in 1..=4 {
        let options = challenge(&browser).await;
        let assertion = tampered(&mut browser, &options, bad.clone());
        let (status, doc) = send(&browser, assertion).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "attempt {attempt}: {doc}");
        assert_failed(status, &doc, &["signature"]);
    }
    let options = challenge(&browser).await;
    let assertion = tampered(&mut browser, &options, bad);
    let (status, doc) = send(&browser, assertion).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "USER_LOCKED", "{doc}");
    assert_eq!(doc["errors"][0]["status"], 403, "{doc}");
    let expiry = doc["meta"]["temporaryLockExpiry"]
        .as_str()
        .unwrap_or_else(|| panic!("no temporaryLockExpiry: {doc}"));
    let expiry = chrono::DateTime::parse_from_rfc3339(expiry).unwrap();
    let expected = app.clock.now() + chrono::Duration::minutes(5);
    assert!(
        (expiry.with_timezone(&chrono::Utc) - expected)
            .num_seconds()
            .abs()
            <= 1,
        "{expiry} vs {expected}"
    );
    assert_not_signed_in(&browser).await;

    // The flow ended: no challenge to retrieve, no assertion to send.
    let (status, doc) = browser.post(CHALLENGE, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    let honest = browser.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = send(&browser, honest).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");

    // The right password does not help while the lock lasts, from any browser.
    for b in [&browser, &app.browser()] {
        let (status, doc) = b
            .post(
                PASSWORD_CHECK,
                json!({ "username": "locked", "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
        assert_eq!(code(&doc), "USER_LOCKED", "{doc}");
        assert!(doc["meta"]["temporaryLockExpiry"].is_string(), "{doc}");
    }
    assert_not_signed_in(&browser).await;

    // After the lock expires the user signs in again.
    app.advance(chrono::Duration::minutes(5) + chrono::Duration::seconds(1));
    password_step(&browser, "locked").await;
    recovers(&mut browser, "locked").await;
}

// ---- races ----

#[tokio::test]
async fn the_same_counter_sent_twice_at_once_from_two_logins_is_accepted_once() {
    let app = spawn_app().await;
    let mut first = user_with_passkey(&app, "racer").await;
    let mut second = app.same_browser(app.browser());
    second.authenticator = first.authenticator.clone();

    for round in 0..5u32 {
        let a = password_then_challenge(&first, "racer").await;
        let b = password_then_challenge(&second, "racer").await;
        // A cloned authenticator: both answers carry the same counter.
        let same = Tamper {
            sign_count: Some(10 + round),
            ..Default::default()
        };
        let one = tampered(&mut first, &a, same.clone());
        let two = tampered(&mut second, &b, same);
        let ((s1, d1), (s2, d2)) = tokio::join!(send(&first, one), send(&second, two));
        let ok = [s1, s2].iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "round {round}: {d1} / {d2}");
        let (loser_status, loser) = if s1 == StatusCode::OK {
            (s2, &d2)
        } else {
            (s1, &d1)
        };
        assert_failed(loser_status, loser, &["counter"]);
        for b in [&first, &second] {
            let (status, _) = b.post(LOGOUT, json!({})).await;
            assert_eq!(status, StatusCode::OK);
        }
    }
}

#[tokio::test]
async fn one_assertion_sent_twice_at_once_in_one_session_signs_in_once() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "doubleclick").await;
    let options = password_then_challenge(&browser, "doubleclick").await;
    let honest = browser.authenticator.authenticate(&options, ORIGIN);
    let ((s1, d1), (s2, d2)) = tokio::join!(
        send(&browser, honest.clone()),
        send(&browser, honest.clone())
    );
    let ok = [s1, s2].iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{d1} / {d2}");
    let other = if s1 == StatusCode::OK { &d2 } else { &d1 };
    assert!(
        ["CONCURRENT_ACCESS", "UNEXPECTED_CALL"].contains(&code(other)),
        "{other}"
    );
    assert_signed_in(&browser, "doubleclick").await;
    assert_eq!(browser.credentials().await[0]["attributes"]["signCount"], 1);
}

#[tokio::test]
async fn an_honest_assertion_is_refused_while_the_username_is_locked() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "lockedout").await;
    let options = password_then_challenge(&browser, "lockedout").await;

    // Meanwhile someone else guesses passwords for the same name until it locks.
    let guesser = app.browser();
    let mut locked = false;
    for _ in 0..5 {
        let (status, doc) = guesser
            .post(
                PASSWORD_CHECK,
                json!({ "username": "lockedout", "password": "wrong guess" }),
            )
            .await;
        match code(&doc) {
            "USERNAME_PASSWORD_WRONG" => assert_eq!(status, StatusCode::BAD_REQUEST),
            "USER_LOCKED" => locked = true,
            other => panic!("{other}: {doc}"),
        }
    }
    if !locked {
        let (status, doc) = guesser
            .post(
                PASSWORD_CHECK,
                json!({ "username": "lockedout", "password": "wrong guess" }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
        assert_eq!(code(&doc), "USER_LOCKED", "{doc}");
    }

    let honest = browser.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = send(&browser, honest).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "USER_LOCKED", "{doc}");
    assert!(doc["meta"]["temporaryLockExpiry"].is_string(), "{doc}");
    assert_not_signed_in(&browser).await;
    // The flow ended.
    let (status, doc) = browser.post(CHALLENGE, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
}

#[actix_web::test]
async fn an_attacker_filling_the_lockout_table_with_other_names_does_not_stop_a_victim_from_locking(
) {
    let app = spawn_app_with(|s| {
        s.lockout.table_size = 4;
        s.lockout.max_failures = 3;
    })
    .await;
    app.create_user("victim", Some(PASSWORD)).await;
    let victim = app.browser();
    let (status, doc) = wrong(&victim, "victim").await;
    assert_eq!(code(&doc), "USERNAME_PASSWORD_WRONG", "{status} {doc}");

    // Many wrong usernames, far more than the table holds.
    // The table is full of names still counting: new names are refused, nobody is evicted.
    let attacker = app.browser();
    let mut codes = Vec::new();
    for i in 0..20 {
        app.advance(chrono::Duration::seconds(1));
        let (_, doc) = wrong(&attacker, &format!("attacker{i}")).await;
        codes.push(code(&doc).to_owned());
    }
    assert_eq!(codes[..3], ["USERNAME_PASSWORD_WRONG"; 3], "{codes:?}");
    assert_eq!(codes[3..], ["SERVER_BUSY"; 17], "{codes:?}");

    let (status, doc) = wrong(&victim, "victim").await;
    assert_eq!(code(&doc), "USERNAME_PASSWORD_WRONG", "{status} {doc}");
    let (status, doc) = wrong(&victim, "victim").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "USER_LOCKED", "{doc}");
    let (status, doc) = app
        .browser()
        .post(
            PASSWORD_CHECK,
            json!({ "username": "victim", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "USER_LOCKED", "{doc}");
}

async fn wrong(browser: &Browser, name: &str) -> (StatusCode, Value) {
    let body = json!({ "username": name, "password": "wrong guess" });
    browser.post(PASSWORD_CHECK, body).await
}
