//! Every refusal of the AuthFi shape answers its own code: a response sent with the one thing
//! wrong that the code names, and seen refused (with no `uid`, `user` or `key_info`).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::authfi::{spawn_with_tenants, two_tenants, Backend, DEMO_ORIGIN};
use crate::common::app::{spawn_app_with, tenants_from_toml};
use crate::common::pki::{self, LeafOptions};
use crate::common::softauthn::{AttestationMode, SoftAuthenticator, Tamper};

fn refused(answer: &(StatusCode, Value), status: StatusCode, code: u64, names: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
    let message = answer.1["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(names),
        "the message names `{names}`: {message}"
    );
    for member in ["uid", "user", "key_info"] {
        assert!(answer.1.get(member).is_none(), "{}", answer.1);
    }
}

async fn registration(demo: &Backend, name: &str) -> Value {
    let (status, begun) = demo
        .post(
            "/webauthn/registration",
            json!({"params": {"user": {"name": name}, "attestation": "direct"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    begun["fido_register_request"].clone()
}

async fn put_registration(demo: &Backend, credential: Value) -> (StatusCode, Value) {
    demo.put(
        "/webauthn/registration",
        json!({"fido_register_response": credential}),
    )
    .await
}

#[tokio::test]
async fn each_registration_refusal_has_its_code() {
    let app = spawn_with_tenants().await;
    let demo = Backend::demo(&app);
    let vendor = pki::root_ca("fidoflow test vendor");

    // 3200: a packed attestation whose signature does not verify.
    let mut packed = SoftAuthenticator::new();
    packed.attestation = AttestationMode::PackedX5c {
        chain: pki::attestation_chain(&vendor, &[], LeafOptions::default()),
    };
    let options = registration(&demo, "alice").await;
    let bad = packed.register_with(
        &options,
        DEMO_ORIGIN,
        &Tamper {
            flip_signature_byte: true,
            ..Tamper::default()
        },
    );
    refused(
        &put_registration(&demo, bad).await,
        StatusCode::BAD_REQUEST,
        3200,
        "attestationSignature",
    );

    // 3300: the same for fido-u2f.
    let mut u2f = SoftAuthenticator::new();
    u2f.attestation = AttestationMode::FidoU2f {
        chain: pki::attestation_chain(&vendor, &[], LeafOptions::default()),
    };
    let options = registration(&demo, "alice").await;
    let bad = u2f.register_with(
        &options,
        DEMO_ORIGIN,
        &Tamper {
            flip_signature_byte: true,
            ..Tamper::default()
        },
    );
    refused(
        &put_registration(&demo, bad).await,
        StatusCode::BAD_REQUEST,
        3300,
        "attestationSignature",
    );

    // 3100: well-formed base64url that is not an attestation object, found malformed by the
    // verification itself.
    let options = registration(&demo, "alice").await;
    let mut bad = SoftAuthenticator::new().register(&options, DEMO_ORIGIN);
    bad["response"]["attestationObject"] = json!("AAAA");
    refused(
        &put_registration(&demo, bad).await,
        StatusCode::BAD_REQUEST,
        3100,
        "attestation object",
    );

    // 3400: another WebAuthn check, e.g. an origin the tenant does not have.
    let options = registration(&demo, "alice").await;
    let bad = SoftAuthenticator::new().register(&options, "https://evil.example");
    refused(
        &put_registration(&demo, bad).await,
        StatusCode::BAD_REQUEST,
        3400,
        "origin",
    );

    // 3404: the challenge expired (and the expired answer is audited, not a 500).
    let options = registration(&demo, "alice").await;
    let late = SoftAuthenticator::new().register(&options, DEMO_ORIGIN);
    app.advance(chrono::Duration::minutes(10));
    refused(
        &put_registration(&demo, late).await,
        StatusCode::BAD_REQUEST,
        3404,
        "expired",
    );
}

#[tokio::test]
async fn an_attestation_the_tenants_policy_refuses_answers_3401() {
    let config = format!(
        "{}\n[tenants.attestation]\npolicy = \"require-trusted\"\n",
        two_tenants()
    );
    let tenants = tenants_from_toml(&config);
    let app = spawn_app_with(move |s| s.tenants = tenants).await;
    // The second tenant (shop) demands trusted attestation; demo does not.
    let shop = Backend::shop(&app);
    let (_, begun) = shop
        .post(
            "/webauthn/registration",
            json!({"params": {"user": {"name": "alice"}, "attestation": "direct"}}),
        )
        .await;
    let credential = SoftAuthenticator::new()
        .register(&begun["fido_register_request"], crate::authfi::SHOP_ORIGIN);
    refused(
        &shop
            .put(
                "/webauthn/registration",
                json!({"fido_register_response": credential}),
            )
            .await,
        StatusCode::FORBIDDEN,
        3401,
        "attestationTrust",
    );
    let demo = Backend::demo(&app);
    demo.register("alice", &mut SoftAuthenticator::new(), DEMO_ORIGIN)
        .await;
}

#[tokio::test]
async fn each_assertion_refusal_has_its_code() {
    let app = spawn_with_tenants().await;
    let demo = Backend::demo(&app);
    let mut key = SoftAuthenticator::new();
    let done = demo.register("alice", &mut key, DEMO_ORIGIN).await;
    let uid = done["uid"].as_str().unwrap().to_string();
    let id = done["key_info"]["credential_id"]
        .as_str()
        .unwrap()
        .to_string();

    // 4100: a login response that is not a credential.
    let (_, begun) = demo.post("/webauthn/login", json!({})).await;
    let mut bad = key.authenticate(&begun["fido_login_request"], DEMO_ORIGIN);
    bad["response"]["clientDataJSON"] = json!("not base64url!");
    refused(
        &demo
            .put("/webauthn/login", json!({"fido_login_response": bad}))
            .await,
        StatusCode::BAD_REQUEST,
        4100,
        "clientDataJSON",
    );
    // Well-formed base64url, but three bytes cannot be authenticator data (37 at least): the
    // verification itself finds it malformed, and it is still 4100, not a failed check.
    let (_, begun) = demo.post("/webauthn/login", json!({})).await;
    let mut short = key.authenticate(&begun["fido_login_request"], DEMO_ORIGIN);
    short["response"]["authenticatorData"] = json!("AAAA");
    refused(
        &demo
            .put("/webauthn/login", json!({"fido_login_response": short}))
            .await,
        StatusCode::BAD_REQUEST,
        4100,
        "authenticator data",
    );
    refused(
        &demo
            .put("/webauthn/login", json!({"fido_login_response": "x"}))
            .await,
        StatusCode::BAD_REQUEST,
        4100,
        "fido_login_response",
    );

    // 4203: a signature counter that did not grow (a cloned authenticator).
    assert_eq!(demo.login(&mut key, DEMO_ORIGIN).await.0, StatusCode::OK);
    let answer = demo
        .verify(
            &uid,
            &mut key,
            DEMO_ORIGIN,
            &Tamper {
                sign_count: Some(1),
                ..Tamper::default()
            },
        )
        .await;
    refused(&answer, StatusCode::FORBIDDEN, 4203, "counter");

    // 4205: the challenge expired.
    let (_, begun) = demo
        .post("/webauthn/verification", json!({"uId": uid}))
        .await;
    let late = key.authenticate(&begun["fido_auth_request"], DEMO_ORIGIN);
    app.advance(chrono::Duration::minutes(10));
    refused(
        &demo
            .put(
                "/webauthn/verification",
                json!({"fido_auth_response": late}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        4205,
        "expired",
    );

    // 4206: a verification for a user whose every key is disabled.
    let (status, _) = demo
        .put(
            &format!("/users/{uid}/keys/{id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    refused(
        &demo
            .post("/webauthn/verification", json!({"uId": uid}))
            .await,
        StatusCode::FORBIDDEN,
        4206,
        "disabled",
    );
}
