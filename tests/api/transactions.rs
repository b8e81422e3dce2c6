//! Transaction signing over the OneSpan shape: tampered approvals refused each with its message,
//! expiry, and the evidence checked offline as an auditor would (`fidoflow verify transaction`).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::authfi::{spawn_with_tenants, DEMO_ORIGIN};
use crate::common::softauthn::{SoftAuthenticator, Tamper};
use crate::onespan::{evidence_key, payment_transaction, Answer, Server};

#[tokio::test]
async fn a_tampered_transaction_is_refused_each_with_its_message() {
    let app = spawn_with_tenants().await;
    let server = Server::demo(&app);
    server.create_user("bob").await;
    let mut phone = SoftAuthenticator::new();
    server.register("bob", &mut phone, json!({})).await;
    let refused = |a: &Answer, check: &str| {
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        let message = a.body["message"].as_str().unwrap();
        assert!(message.contains(check), "expected {check}: {message}");
        assert!(
            a.correlation.is_some(),
            "every answer carries a log-correlation-id"
        );
    };

    // The user approves 1250.00; a second request with another amount is made meanwhile, and
    // its requestID is sent with the approval of the first.
    let (first, options) = server
        .authentication_request("bob", json!({"transaction": payment_transaction()}))
        .await;
    let mut changed = payment_transaction();
    changed["amount"] = json!("9250.00");
    let (second, _) = server
        .authentication_request("bob", json!({"transaction": changed}))
        .await;
    let approval = phone.authenticate(&options, DEMO_ORIGIN);
    refused(
        &server.validate("bob", &second, &approval).await,
        "transaction refused (challenge)",
    );

    // The approval of the first validates once; sent again, its requestID is spent.
    let ok = server.validate("bob", &first, &approval).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    refused(
        &server.validate("bob", &first, &approval).await,
        "requestID",
    );

    // A login's requestID never validates a transaction, nor a transaction's a login.
    let (login_id, login_options) = server.authentication_request("bob", json!({})).await;
    let login = phone.authenticate(&login_options, DEMO_ORIGIN);
    refused(
        &server.validate("bob", &login_id, &login).await,
        "requestID",
    );
    let (tx_id, tx_options) = server
        .authentication_request("bob", json!({"authenticationMessage": "Approve"}))
        .await;
    let tx = phone.authenticate(&tx_options, DEMO_ORIGIN);
    refused(&server.login("bob", &tx_id, &tx).await, "requestID");

    // Without user verification a transaction is refused.
    let (tx_id, tx_options) = server
        .authentication_request("bob", json!({"transaction": payment_transaction()}))
        .await;
    let no_uv = phone.authenticate_with(
        &tx_options,
        DEMO_ORIGIN,
        &Tamper {
            uv: Some(false),
            ..Tamper::default()
        },
    );
    refused(
        &server.validate("bob", &tx_id, &no_uv).await,
        "userVerified",
    );

    // A registration's requestID finishes no login, and no AuthFi call finishes a OneSpan one.
    let a = server
        .post(
            "/users/bob@master/generate-fido-registration-request",
            json!({"fidoProtocol": "FIDO2"}),
        )
        .await;
    let registration_id = a.body["requestID"].as_str().unwrap().to_string();
    refused(
        &server.login("bob", &registration_id, &login).await,
        "requestID",
    );
    let (login_id, login_options) = server.authentication_request("bob", json!({})).await;
    let login = phone.authenticate(&login_options, DEMO_ORIGIN);
    let authfi = crate::authfi::Backend::demo(&app);
    let (status, body) = authfi
        .put("/webauthn/login", json!({"fido_login_response": login}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], 4204, "{body}");
    // …and the OneSpan request is still there, for its own user only.
    server.create_user("carol").await;
    refused(
        &server.login("carol", &login_id, &login).await,
        "another user",
    );
}

#[tokio::test]
async fn the_evidence_verifies_with_the_cli_and_every_changed_byte_or_another_key_fails() {
    let app = spawn_with_tenants().await;
    let server = Server::demo(&app);
    server.create_user("frank").await;
    let mut phone = SoftAuthenticator::new();
    server.register("frank", &mut phone, json!({})).await;
    let (tx_id, options) = server
        .authentication_request("frank", json!({"transaction": payment_transaction()}))
        .await;
    let signed = phone.authenticate(&options, DEMO_ORIGIN);
    let validated = server.validate("frank", &tx_id, &signed).await;
    assert_eq!(validated.status, StatusCode::OK, "{}", validated.body);
    let evidence = serde_json::to_vec(&validated.body["result"]["evidence"]).unwrap();
    let pem = evidence_key(&app).await;

    let dir = tempfile::tempdir().unwrap();
    let (file, key_file) = (dir.path().join("evidence.json"), dir.path().join("key.pem"));
    std::fs::write(&file, &evidence).unwrap();
    std::fs::write(&key_file, &pem).unwrap();
    let run = |evidence: &std::path::Path, key: &std::path::Path| {
        let args: Vec<String> = [
            "verify",
            "transaction",
            evidence.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = fidoflow::cli::run(&args, &mut std::io::empty(), &mut out, &mut err);
        (
            status,
            String::from_utf8_lossy(&out).to_string() + &String::from_utf8_lossy(&err),
        )
    };
    let (status, said) = run(&file, &key_file);
    assert_eq!(status, 0, "{said}");
    assert!(said.contains("frank"), "{said}");

    // Every single-byte change of the document fails.
    for i in 0..evidence.len() {
        let mut changed = evidence.clone();
        changed[i] ^= 0x01;
        assert!(
            fidoflow::fido::evidence::verify(&changed, &pem).is_err(),
            "a change at byte {i} went unnoticed: {}",
            String::from_utf8_lossy(&changed)
        );
    }
    let mut changed = evidence.clone();
    let at = evidence.len() / 2;
    changed[at] ^= 0x01;
    std::fs::write(&file, &changed).unwrap();
    assert_eq!(run(&file, &key_file).0, 1);

    // Signed again with another key, it fails against the server's.
    let (other, other_pem) = fidoflow::fido::evidence::EvidenceKey::generate();
    let mut document: serde_json::Map<String, Value> = serde_json::from_slice(&evidence).unwrap();
    document.remove("serverSignature");
    let resigned = serde_json::to_vec(&other.sign(document)).unwrap();
    assert!(fidoflow::fido::evidence::verify(&resigned, &other.public_pem()).is_ok());
    let err = fidoflow::fido::evidence::verify(&resigned, &pem).unwrap_err();
    assert_eq!(err.check, "serverSignature", "{err}");
    std::fs::write(&file, &resigned).unwrap();
    let (status, said) = run(&file, &key_file);
    assert_eq!(status, 1, "{said}");
    assert!(said.contains("serverSignature"), "{said}");
    drop(other_pem);
}

#[tokio::test]
async fn an_expired_request_is_refused_and_a_lapsed_registration_request_too() {
    let app = spawn_with_tenants().await;
    let server = Server::demo(&app);
    server.create_user("hana").await;
    let mut phone = SoftAuthenticator::new();
    server.register("hana", &mut phone, json!({})).await;
    let (tx_id, options) = server
        .authentication_request(
            "hana",
            json!({"authenticationMessage": "Approve the new payee"}),
        )
        .await;
    let signed = phone.authenticate(&options, DEMO_ORIGIN);
    let a = server
        .post(
            "/users/hana@master/generate-fido-registration-request",
            json!({"fidoProtocol": "FIDO2"}),
        )
        .await;
    let registration_options: Value =
        serde_json::from_str(a.body["registrationRequest"].as_str().unwrap()).unwrap();
    let mut key = SoftAuthenticator::new();
    let credential = key.register(&registration_options, DEMO_ORIGIN);
    app.advance(chrono::Duration::seconds(301));
    let late = server.validate("hana", &tx_id, &signed).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    assert!(
        late.body["message"].as_str().unwrap().contains("expired"),
        "{}",
        late.body
    );
    let late = server
        .post(
            "/users/hana@master/register-fido-device",
            json!({"objectType": "FIDORegistrationInput", "registrationResponse": credential.to_string(), "requestID": a.body["requestID"]}),
        )
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    assert!(
        late.body["message"].as_str().unwrap().contains("expired"),
        "{}",
        late.body
    );
    let listed = server
        .send(
            reqwest::Method::GET,
            "/users/hana@master/fido-authenticators",
            None,
        )
        .await;
    assert_eq!(listed.body["authenticators"].as_array().unwrap().len(), 1);
}
