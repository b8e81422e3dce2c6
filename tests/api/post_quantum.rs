//! ML-DSA (post-quantum) passkeys over HTTP: offered only where a flow step lists them,
//! registered with packed self attestation, used to sign in, listed with their algorithm for the
//! user and the helpdesk, and a flipped signature bit refused.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::app::{code, spawn_app, spawn_app_with, HELPDESK_TOKEN, ORIGIN, PASSWORD};
use crate::common::softauthn::{Alg, AttestationMode, Tamper};
use crate::refusals::flows_with_registration_step;

#[tokio::test]
async fn an_ml_dsa_passkey_is_offered_where_listed_registers_signs_in_and_shows_its_algorithm() {
    let flows = flows_with_registration_step("algorithms = [-49, -7]");
    let app = spawn_app_with(|s| s.server.flows_dir = Some(flows.path().to_owned())).await;
    let name = app.create_user("alice", Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login(&name, PASSWORD).await;
    browser.authenticator.alg = Alg::MlDsa65;
    browser.authenticator.attestation = AttestationMode::PackedSelf;
    let options = browser.start_registration(Some("PQ key")).await;
    assert_eq!(
        options["pubKeyCredParams"],
        json!([{"type": "public-key", "alg": -49}, {"type": "public-key", "alg": -7}])
    );
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = browser.credentials().await;
    assert_eq!(list[0]["attributes"]["algorithm"], -49, "{list:?}");
    assert_eq!(list[0]["attributes"]["algorithmName"], "ML-DSA-65");
    assert_eq!(list[0]["attributes"]["attestationFormat"], "packed");

    // The helpdesk sees the same algorithm.
    let (status, doc) = app
        .admin(
            Method::GET,
            "/rest/admin/users/alice/fido/credentials",
            Some(HELPDESK_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"][0]["attributes"]["algorithmName"], "ML-DSA-65");

    // A sign-in with the key, then one whose signature has a bit flipped.
    let mut second = app.same_browser(browser);
    let (status, doc) = second.login_with_fido("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let mut third = app.same_browser(second);
    third.login("alice", PASSWORD).await;
    let (_, doc) = third
        .post(
            "/rest/public/authentication/fido/challenge/retrieve",
            json!({}),
        )
        .await;
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    let flipped = third.authenticator.authenticate_with(
        &options,
        ORIGIN,
        &Tamper {
            flip_signature_byte: true,
            ..Tamper::default()
        },
    );
    let (status, doc) = third
        .post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": flipped }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_FAILED", "{doc}");
    assert!(doc.to_string().contains("(signature)"), "{doc}");
}

#[tokio::test]
async fn an_ml_dsa_key_is_not_offered_by_default_and_is_refused_there() {
    let app = spawn_app().await;
    let name = app.create_user("bob", Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login(&name, PASSWORD).await;
    let options = browser.start_registration(None).await;
    let offered: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert!(
        !offered.iter().any(|a| [-48, -49, -50].contains(a)),
        "{offered:?}"
    );
    browser.authenticator.alg = Alg::MlDsa44;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert!(doc.to_string().contains("(algorithm)"), "{doc}");
    assert!(browser.credentials().await.is_empty());
}
