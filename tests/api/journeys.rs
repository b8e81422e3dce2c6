//! Whole journeys as a user and an administrator live them.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::app::{code, spawn_app, PASSWORD};

#[tokio::test]
async fn an_admin_created_user_signs_in_with_a_password_and_registers_a_passkey() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let mut browser = app.browser();

    let doc = browser.login(&alice, PASSWORD).await;
    assert_eq!(doc["data"]["type"], "authentication.session");
    assert!(
        doc["data"]["attributes"].get("nextAuthStep").is_none(),
        "{doc}"
    );

    let (status, session) = browser.get("/rest/public/authentication/session").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["data"]["attributes"]["authenticated"], true);
    assert_eq!(session["data"]["attributes"]["username"], "alice");

    let (status, flows) = browser.get("/rest/protected/self-service/flows").await;
    assert_eq!(status, StatusCode::OK, "{flows}");
    assert!(flows["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "fido-registration" && f["attributes"]["available"] == true));

    let options = browser.start_registration(Some("My laptop")).await;
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["user"]["name"], "alice");
    assert_eq!(options["user"]["displayName"], "alice (person)");
    assert_eq!(
        crate::common::softauthn::b64url_decode(options["user"]["id"].as_str().unwrap())
            .unwrap()
            .len(),
        64
    );
    assert_eq!(options["timeout"], 300000);
    assert_eq!(options["attestation"], "none");
    assert_eq!(
        options["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    assert_eq!(options["extensions"]["credProps"], true);
    let algs: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert_eq!(algs, [-8, -7, -257, -35, -36]);

    let credential = browser
        .authenticator
        .register(&options, crate::common::app::ORIGIN);
    let id = credential["id"].as_str().unwrap().to_string();
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "self-service.session");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");

    let list = browser.credentials().await;
    assert_eq!(list.len(), 1);
    let c = &list[0];
    assert_eq!(c["type"], "my.token.fido.credential");
    assert_eq!(c["id"], id.as_str());
    let a = &c["attributes"];
    assert_eq!(a["displayName"], "My laptop");
    assert_eq!(a["attestationFormat"], "none");
    assert_eq!(a["attestationTrusted"], false);
    assert_eq!(a["discoverable"], true);
    assert_eq!(a["userVerified"], true);
    assert_eq!(a["enabled"], true);
    assert_eq!(a["disabledBy"], serde_json::Value::Null);
    assert_eq!(a["transports"], json!(["internal"]));
    assert_eq!(a["signCount"], 0);
    assert!(a["createdAt"].is_string());
    assert_eq!(a["lastUsedAt"], serde_json::Value::Null);

    // The flow is done: a second response is out of turn.
    let (status, doc) = browser.send_attestation(json!({"id": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL");
}

/// Registers a passkey for a new password user and signs out; returns the browser.
async fn user_with_passkey(
    app: &crate::common::app::TestApp,
    name: &str,
) -> crate::common::app::Browser {
    app.create_user(name, Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login(name, PASSWORD).await;
    browser.register(None).await;
    let (status, _) = browser
        .post("/rest/public/authentication/logout", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    browser
}

async fn password_then_challenge(
    browser: &crate::common::app::Browser,
    name: &str,
) -> serde_json::Value {
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/password/check",
            json!({ "username": name, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/fido/challenge/retrieve",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "authentication.fido.challenge");
    doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone()
}

#[tokio::test]
async fn a_user_with_a_passkey_signs_in_with_password_and_fido() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "bob").await;

    // A password alone does not authenticate a user who has a credential.
    let options = password_then_challenge(&browser, "bob").await;
    let (status, _) = browser.get("/rest/protected/self-service/flows").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let ids = browser.authenticator.credential_ids();
    assert_eq!(options["allowCredentials"][0]["id"], ids[0].as_str());
    assert_eq!(
        options["allowCredentials"][0]["transports"],
        json!(["internal"])
    );
    assert_eq!(options["userVerification"], "preferred");
    assert_eq!(options["rpId"], "localhost");

    let assertion = browser
        .authenticator
        .authenticate(&options, crate::common::app::ORIGIN);
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        doc["data"]["attributes"].get("nextAuthStep").is_none(),
        "{doc}"
    );

    let (_, session) = browser.get("/rest/public/authentication/session").await;
    assert_eq!(session["data"]["attributes"]["authenticated"], true);
    let tags: Vec<&str> = session["data"]["attributes"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"PASSWORD_VERIFIED") && tags.contains(&"FIDO_VERIFIED"),
        "{tags:?}"
    );

    let list = browser.credentials().await;
    assert_eq!(list[0]["attributes"]["signCount"], 1);
    assert!(list[0]["attributes"]["lastUsedAt"].is_string());
}

#[tokio::test]
async fn a_cloned_authenticator_whose_counter_does_not_grow_is_refused() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "carol").await;
    let mut clone = browser.authenticator.clone();

    let options = password_then_challenge(&browser, "carol").await;
    let assertion = browser
        .authenticator
        .authenticate(&options, crate::common::app::ORIGIN);
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    browser
        .post("/rest/public/authentication/logout", json!({}))
        .await;

    // The clone still has counter 0, so it signs 1 again.
    let options = password_then_challenge(&browser, "carol").await;
    let assertion = clone.authenticate(&options, crate::common::app::ORIGIN);
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_FAILED");
    assert!(
        crate::common::app::detail(&doc).contains("counter"),
        "{doc}"
    );
    assert_eq!(
        doc["meta"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED"
    );
}

#[tokio::test]
async fn a_tampered_assertion_signature_is_refused_and_the_challenge_is_spent() {
    let app = spawn_app().await;
    let mut browser = user_with_passkey(&app, "dave").await;
    let options = password_then_challenge(&browser, "dave").await;
    let bad = browser.authenticator.authenticate_with(
        &options,
        crate::common::app::ORIGIN,
        &crate::common::softauthn::Tamper {
            flip_signature_byte: true,
            ..Default::default()
        },
    );
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": bad }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_FAILED");
    assert!(
        crate::common::app::detail(&doc).contains("signature"),
        "{doc}"
    );

    // The challenge is spent: an honest answer to it is now out of turn.
    let honest = browser
        .authenticator
        .authenticate(&options, crate::common::app::ORIGIN);
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": honest }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "UNEXPECTED_CALL");
}
