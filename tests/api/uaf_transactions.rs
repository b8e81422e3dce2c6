//! FIDO UAF transaction confirmation (text and image) and its offline-verifiable evidence, over
//! the UAF transport and the OneSpan shape.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::authfi::DEMO_KEY;
use crate::common::softuaf::SoftUaf;
use crate::uaf::{bank, status, Backend, AAID, FACET, PATH};

/// A UAF transaction confirmation leaves evidence like a WebAuthn one: signed by the server,
/// verified offline (`fidoflow verify transaction`), refused after any changed byte or when
/// signed by another key; through the OneSpan shape too, where a login's requestID never
/// validates a transaction.
#[tokio::test]
async fn a_confirmed_uaf_transaction_leaves_offline_verifiable_evidence() {
    let app = bank("", None).await;
    let backend = Backend::new(&app);
    let mut phone = SoftUaf::new(AAID);
    assert_eq!(status(&backend.register("hilda", &mut phone).await), 1200);
    let text = "Pay 99.00 EUR to Mallory? No: to ACME Corp";
    let request = backend
        .uaf_request(
            "authentication",
            json!({"username": "hilda", "transactionText": text}),
        )
        .await;
    let response = phone.authenticate(&request, Some(FACET)).unwrap();
    let confirmed = backend.respond("authentication", &response).await;
    assert_eq!(status(&confirmed), 1200, "{confirmed}");
    let evidence = &confirmed["result"]["evidence"];
    assert_eq!(evidence["mode"], "uaf-transaction-confirmation");
    assert_eq!(evidence["transactionText"], text);
    let pem = reqwest::get(format!(
        "{}/.well-known/fidoflow/evidence-key.pem",
        app.base
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let bytes = serde_json::to_vec(evidence).unwrap();
    let verified = fidoflow::uaf::evidence::verify(&bytes, &pem).expect("verifies offline");
    assert_eq!(
        (verified.user.as_str(), verified.tenant.as_str()),
        ("hilda", "bank")
    );
    for i in 0..bytes.len() {
        let mut changed = bytes.clone();
        changed[i] ^= 0x01;
        assert!(
            fidoflow::uaf::evidence::verify(&changed, &pem).is_err(),
            "a change at byte {i} went unnoticed"
        );
    }
    let (other, _) = fidoflow::engine::EvidenceKey::generate();
    let mut document: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).unwrap();
    document.remove("serverSignature");
    let mut doctored = document.clone();
    doctored["transactionText"] = json!("Pay 9999.00 EUR to Mallory");
    let resigned = serde_json::to_vec(&other.sign(document)).unwrap();
    let err = fidoflow::uaf::evidence::verify(&resigned, &pem).unwrap_err();
    assert_eq!(err.check, "serverSignature");
    // Even signed by the right key, another text is not what the authenticator hashed.
    assert_eq!(
        fidoflow::uaf::evidence::verify(
            &serde_json::to_vec(&other.sign(doctored.clone())).unwrap(),
            &other.public_pem()
        )
        .unwrap_err()
        .check,
        "transaction"
    );

    // The CLI, as an auditor runs it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.json"), &bytes).unwrap();
    std::fs::write(dir.path().join("k.pem"), &pem).unwrap();
    let args: Vec<String> = ["verify", "transaction", "--key"]
        .into_iter()
        .map(String::from)
        .chain([
            dir.path().join("k.pem").display().to_string(),
            dir.path().join("e.json").display().to_string(),
        ])
        .collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = fidoflow::cli::run(&args, &mut std::io::empty(), &mut out, &mut err);
    let said = String::from_utf8_lossy(&out).to_string() + &String::from_utf8_lossy(&err);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("uaf-transaction-confirmation") && said.contains("hilda"),
        "{said}"
    );

    // The OneSpan shape: authenticationMessage becomes the text the authenticator confirms.
    let base = format!("{}/{PATH}/v1", app.base);
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(DEMO_KEY)
            .json(&body)
            .send()
    };
    let ask = |message: Option<&str>| {
        let mut body = json!({"fidoProtocol": "UAF11"});
        if let Some(m) = message {
            body["authenticationMessage"] = json!(m);
        }
        post(
            "/users/hilda@master/generate-fido-authentication-request",
            body,
        )
    };
    let validate = |id: String, response: Value| {
        post(
            "/users/hilda@master/transactions/validate",
            json!({"objectType": "TransactionValidationInput", "data": {"fido": {"authenticationResponse": response.to_string(), "requestID": id}}}),
        )
    };
    let asked: Value = ask(Some("Pay 12.00 EUR"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request: Value =
        serde_json::from_str(asked["authenticationRequest"].as_str().unwrap()).unwrap();
    let response = phone.authenticate(&request, Some(FACET)).unwrap();
    assert_eq!(phone.last_transaction_text(), Some("Pay 12.00 EUR"));
    let ok = validate(asked["requestID"].as_str().unwrap().into(), response)
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["result"]["status"], "APPROVED", "{body}");
    let evidence = serde_json::to_vec(&body["result"]["evidence"]).unwrap();
    assert!(fidoflow::uaf::evidence::verify(&evidence, &pem).is_ok());
    // A login's requestID does not validate a transaction.
    let asked: Value = ask(None).await.unwrap().json().await.unwrap();
    let request: Value =
        serde_json::from_str(asked["authenticationRequest"].as_str().unwrap()).unwrap();
    let response = phone.authenticate(&request, Some(FACET)).unwrap();
    let refused = validate(asked["requestID"].as_str().unwrap().into(), response)
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("requestID"),
        "{body}"
    );
}

/// An `image/png` transaction: the authenticator shows the image and signs its hash; the
/// evidence carries the image.
#[tokio::test]
async fn an_image_transaction_is_confirmed_and_its_evidence_carries_the_image() {
    use base64::Engine as _;
    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
    let characteristics = json!({"width": 1, "height": 1, "bitDepth": 8, "colorType": 6,
        "compression": 0, "filter": 0, "interlace": 0});
    let app = bank("", None).await;
    let backend = Backend::new(&app);
    let mut phone = SoftUaf::new(AAID);
    assert_eq!(status(&backend.register("ines", &mut phone).await), 1200);
    let request = backend
        .uaf_request(
            "authentication",
            json!({"username": "ines", "transactionImage": PNG, "tcDisplayPNGCharacteristics": characteristics}),
        )
        .await;
    assert_eq!(request[0]["transaction"][0]["contentType"], "image/png");
    let response = phone.authenticate(&request, Some(FACET)).unwrap();
    let confirmed = backend.respond("authentication", &response).await;
    assert_eq!(status(&confirmed), 1200, "{confirmed}");
    let evidence = &confirmed["result"]["evidence"];
    let image = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .unwrap();
    assert_eq!(
        evidence["transactionImage"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&image)
    );
    let pem = reqwest::get(format!(
        "{}/.well-known/fidoflow/evidence-key.pem",
        app.base
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let verified = fidoflow::uaf::evidence::verify(&serde_json::to_vec(evidence).unwrap(), &pem)
        .expect("verifies offline");
    assert_eq!(verified.transaction_text, None);

    // An image that is not a PNG, or without its display characteristics, is refused.
    let refused = backend
        .request(
            "authentication",
            json!({"username": "ines", "transactionImage": "aGVsbG8=", "tcDisplayPNGCharacteristics": characteristics}),
        )
        .await;
    assert_eq!(status(&refused), 1400, "{refused}");
    let refused = backend
        .request(
            "authentication",
            json!({"username": "ines", "transactionImage": PNG}),
        )
        .await;
    assert_eq!(status(&refused), 1400, "{refused}");
}
