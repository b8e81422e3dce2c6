//! A tenant's `expected_registration_types` and `expected_authentication_types`: its ceremonies
//! accept the client data types it lists and refuse any other naming the check, the type seen
//! and the types accepted; a transaction's approval keeps `webauthn.get` whatever the list says.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::authfi::{two_tenants, DEMO_ORIGIN};
use crate::common::app::{spawn_app_with, tenants_from_toml, TestApp};
use crate::common::softauthn::{SoftAuthenticator, Tamper};
use crate::onespan::{payment_transaction, Answer, Server};

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The two tenants, `demo` listing these types.
async fn spawn_listing(registration: &[&str], authentication: &[&str]) -> TestApp {
    let mut tenants = tenants_from_toml(&two_tenants());
    let rp = &mut tenants[0].relying_party;
    rp.expected_registration_types = strings(registration);
    rp.expected_authentication_types = strings(authentication);
    spawn_app_with(move |s| s.tenants = tenants).await
}

fn typed(kind: &str) -> Tamper {
    Tamper {
        client_data_type: Some(kind.into()),
        ..Tamper::default()
    }
}

/// A registration of `user` whose client data says `kind`.
async fn register_typed(
    server: &Server,
    user: &str,
    phone: &mut SoftAuthenticator,
    kind: &str,
) -> Answer {
    let a = server
        .post(
            &format!("/users/{user}@master/generate-fido-registration-request"),
            json!({"fidoProtocol": "FIDO2"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let options: Value =
        serde_json::from_str(a.body["registrationRequest"].as_str().unwrap()).unwrap();
    let credential = phone.register_with(&options, DEMO_ORIGIN, &typed(kind));
    server
        .post(
            &format!("/users/{user}@master/register-fido-device"),
            json!({
                "objectType": "FIDORegistrationInput",
                "registrationResponse": credential.to_string(),
                "requestID": a.body["requestID"],
            }),
        )
        .await
}

/// `400` with a message naming every one of `words`.
fn refused(a: &Answer, words: &[&str]) {
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    let message = a.body["message"].as_str().unwrap_or_default();
    for w in words {
        assert!(message.contains(w), "expected {w:?} in {message}");
    }
}

#[tokio::test]
async fn a_tenant_accepts_the_client_data_types_it_lists_and_refuses_others_naming_them() {
    let app = spawn_listing(
        &["webauthn.create", "example.create"],
        &["webauthn.get", "payment.get"],
    )
    .await;
    let server = Server::demo(&app);
    server.create_user("carol").await;
    let mut phone = SoftAuthenticator::new();

    refused(
        &register_typed(&server, "carol", &mut phone, "webauthn.get").await,
        &["type", "\"webauthn.get\""],
    );
    let done = register_typed(&server, "carol", &mut phone, "example.create").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    let (id, options) = server.authentication_request("carol", json!({})).await;
    let assertion = phone.authenticate_with(&options, DEMO_ORIGIN, &typed("payment.get"));
    let done = server.login("carol", &id, &assertion).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    let (id, options) = server.authentication_request("carol", json!({})).await;
    let assertion = phone.authenticate_with(&options, DEMO_ORIGIN, &typed("example.get"));
    refused(
        &server.login("carol", &id, &assertion).await,
        &[
            "(type)",
            "\"example.get\"",
            "(\"webauthn.get\", \"payment.get\")",
        ],
    );

    // A transaction's approval is a webauthn.get, whatever the tenant lists.
    let (id, options) = server
        .authentication_request("carol", json!({"transaction": payment_transaction()}))
        .await;
    let approval = phone.authenticate_with(&options, DEMO_ORIGIN, &typed("payment.get"));
    refused(
        &server.validate("carol", &id, &approval).await,
        &["(type)", "\"payment.get\"", "(\"webauthn.get\")"],
    );
    let (id, options) = server
        .authentication_request("carol", json!({"transaction": payment_transaction()}))
        .await;
    let approval = phone.authenticate(&options, DEMO_ORIGIN);
    let done = server.validate("carol", &id, &approval).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}
