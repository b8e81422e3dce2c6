//! Secure Payment Confirmation over the OneSpan shape, with responses built as the SPC
//! specification has the browser build them (the real-Chromium journey is
//! `tests/browser/spc.test.mjs`).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::authfi::{spawn_with_tenants, DEMO_ORIGIN};
use crate::common::softauthn::{SoftAuthenticator, Tamper};
use crate::onespan::{evidence_key, Server};

/// Secure Payment Confirmation as the specification has the browser answer it: the client data
/// is `payment.get` from the merchant's page and names what the browser showed.
#[tokio::test]
async fn a_secure_payment_confirmation_is_verified_and_a_mismatched_payment_member_refused() {
    let app = spawn_with_tenants().await;
    let server = Server::demo(&app);
    server.create_user("grace").await;
    let mut card = SoftAuthenticator::new();
    let mut plain = SoftAuthenticator::new();
    server.register("grace", &mut plain, json!({})).await;
    let registered = server
        .register("grace", &mut card, json!({"payment": true}))
        .await;
    assert_eq!(registered["payment"], true);

    let merchant = "https://merchant.example";
    let a = server
        .try_authentication_request("grace", json!({"payment": payment_details()}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let request_id = a.body["requestID"].as_str().unwrap().to_string();
    let options: Value =
        serde_json::from_str(a.body["authenticationRequest"].as_str().unwrap()).unwrap();
    // Only the payment credential is offered, and the merchant page gets the SPC method data.
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 1);
    assert_eq!(
        options["allowCredentials"][0]["id"],
        registered["authenticatorID"]
    );
    let spc: Value = serde_json::from_str(a.body["paymentRequest"].as_str().unwrap()).unwrap();
    assert_eq!(
        spc["methodData"][0]["supportedMethods"],
        "secure-payment-confirmation"
    );
    assert_eq!(
        spc["methodData"][0]["data"]["challenge"],
        options["challenge"]
    );

    let shown = json!({
        "rpId": "localhost",
        "topOrigin": merchant,
        "payeeName": "ACME Corp",
        "payeeOrigin": "https://acme.example",
        "total": {"currency": "EUR", "value": "12.50"},
        "instrument": {"displayName": "Visa ••••4242", "icon": "https://bank.example/card.png", "iconMustBeShown": true},
    });
    let client_data = |payment: &Value, origin: &str, kind: &str| {
        let data = json!({
            "type": kind,
            "challenge": options["challenge"],
            "origin": origin,
            "crossOrigin": false,
            "payment": payment,
        });
        Tamper {
            client_data_json_raw: Some(data.to_string().into_bytes()),
            ..Tamper::default()
        }
    };
    // Each refusal spends its request, so each case asks for one of its own.
    let mut payee = shown.clone();
    payee["payeeName"] = json!("Mallory Ltd");
    let mut amount = shown.clone();
    amount["total"]["value"] = json!("1250.00");
    for (payment, origin, kind, check) in [
        (&payee, merchant, "payment.get", "payeeName"),
        (&amount, merchant, "payment.get", "total"),
        (&shown, DEMO_ORIGIN, "payment.get", "origin"),
        (&shown, merchant, "webauthn.get", "payment.get"),
    ] {
        let a = server
            .try_authentication_request("grace", json!({"payment": payment_details()}))
            .await;
        let id = a.body["requestID"].as_str().unwrap().to_string();
        let o: Value =
            serde_json::from_str(a.body["authenticationRequest"].as_str().unwrap()).unwrap();
        let mut t = client_data(payment, origin, kind);
        let mut data: Value =
            serde_json::from_slice(t.client_data_json_raw.as_ref().unwrap()).unwrap();
        data["challenge"] = o["challenge"].clone();
        t.client_data_json_raw = Some(data.to_string().into_bytes());
        let assertion = card.authenticate_with(&o, merchant, &t);
        let r = server.validate("grace", &id, &assertion).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{check}: {}", r.body);
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains(check), "{check}: {}", r.body);
        assert!(message.starts_with("payment refused ("), "{message}");
    }

    let assertion = card.authenticate_with(
        &options,
        merchant,
        &client_data(&shown, merchant, "payment.get"),
    );
    let ok = server.validate("grace", &request_id, &assertion).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let evidence = &ok.body["result"]["evidence"];
    assert_eq!(evidence["mode"], "spc");
    assert_eq!(evidence["payment"]["total"]["value"], "12.50");
    let pem = evidence_key(&app).await;
    fidoflow::fido::evidence::verify(&serde_json::to_vec(evidence).unwrap(), &pem)
        .expect("SPC evidence verifies");
}

fn payment_details() -> Value {
    json!({
        "payeeName": "ACME Corp",
        "payeeOrigin": "https://acme.example",
        "total": {"currency": "EUR", "value": "12.50"},
        "instrument": {"displayName": "Visa ••••4242", "icon": "https://bank.example/card.png"},
        "merchantOrigin": "https://merchant.example",
    })
}

/// Browsers make payment credentials only on a platform authenticator with user verification:
/// the options ask for exactly that, and a request that says otherwise is refused.
#[tokio::test]
async fn a_payment_registration_asks_for_a_platform_authenticator_with_user_verification() {
    let app = spawn_with_tenants().await;
    let server = Server::demo(&app);
    server.create_user("ivan").await;
    let path = "/users/ivan@master/generate-fido-registration-request";
    let a = server
        .post(path, json!({"fidoProtocol": "FIDO2", "payment": true}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let options: Value =
        serde_json::from_str(a.body["registrationRequest"].as_str().unwrap()).unwrap();
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(selection["authenticatorAttachment"], "platform");
    assert_eq!(options["extensions"]["payment"]["isPayment"], true);
    for (member, value) in [
        ("authenticatorAttachment", "cross-platform"),
        ("userVerification", "preferred"),
        ("residentKey", "discouraged"),
    ] {
        let refused = server
            .post(
                path,
                json!({"fidoProtocol": "FIDO2", "payment": true, member: value}),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{member}: {}",
            refused.body
        );
        assert!(
            refused.body["message"]
                .as_str()
                .unwrap()
                .contains("payment credential"),
            "{}",
            refused.body
        );
    }
}
