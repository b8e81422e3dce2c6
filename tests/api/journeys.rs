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
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "UNEXPECTED_CALL");
}
