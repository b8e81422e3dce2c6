//! Every way a registration can go wrong, sent over HTTP to the real server: the documented
//! status and code, the failed check named in `detail`, nothing stored, and a step that recovers.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{
    code, detail, spawn_app, spawn_app_with, Browser, TestApp, ORIGIN, PASSWORD,
};
use crate::common::pki::{self, LeafOptions, Validity};
use crate::common::softauthn::{b64url, b64url_decode, Alg, AttestationMode, Tamper};
use fidoflow::config::AttestationPolicyKind;

const CHECK: &str = "/rest/protected/self-service/fido/registration/attestation-response/check";
const CHALLENGE: &str = "/rest/protected/self-service/fido/registration/challenge/retrieve";
const SELECT: &str = "/rest/protected/self-service/flows/fido-registration/select";
const NEXT: &str = "FIDO_REGISTRATION_CHALLENGE_RETRIEVAL_REQUIRED";

/// A browser signed in as a new user with a password and no credential.
async fn signed_in(app: &TestApp, username: &str) -> Browser {
    let name = app.create_user(username, Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login(&name, PASSWORD).await;
    browser
}

/// The answer is `400 FIDO_REGISTRATION_FAILED` naming `check` in its detail, and the step waits
/// for a new challenge.
fn assert_refused(status: StatusCode, doc: &Value, check: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(doc), "FIDO_REGISTRATION_FAILED", "{doc}");
    assert_eq!(doc["meta"]["nextStep"], NEXT, "{doc}");
    assert!(
        detail(doc).contains(&format!("({check})")),
        "the detail should name the check `{check}`: {doc}"
    );
}

/// Nothing was stored, and a new challenge followed by an honest registration succeeds.
async fn assert_nothing_stored_and_recovers(browser: &mut Browser) {
    assert!(browser.credentials().await.is_empty(), "nothing is stored");
    let options = browser.registration_challenge(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an honest registration recovers: {doc}"
    );
    assert_eq!(browser.credentials().await.len(), 1);
}

/// The challenge behind `stale` (an honest response made for it) is spent: sending it now is
/// out of turn, and after a new challenge it no longer matches.
async fn assert_challenge_spent(browser: &mut Browser, stale: Value) {
    let (status, doc) = browser.send_attestation(stale.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    assert_eq!(doc["meta"]["nextStep"], NEXT, "{doc}");
    browser.registration_challenge(None).await;
    let (status, doc) = browser.send_attestation(stale).await;
    assert_refused(status, &doc, "challenge");
    assert_nothing_stored_and_recovers(browser).await;
}

/// Starts a registration, sends the response tampered with `t`, and checks the refusal names
/// `check`, that nothing was stored and that the step recovers.
async fn refused_with(t: Tamper, check: &str) {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register_with(&options, ORIGIN, &t);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, check);
    assert_nothing_stored_and_recovers(&mut browser).await;
}

/// A flows directory holding the shipped applications and a `fido-registration` flow whose step
/// has these extra lines.
pub(crate) fn flows_with_registration_step(step_options: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    std::fs::copy(
        shipped.join("applications.toml"),
        dir.path().join("applications.toml"),
    )
    .expect("copy applications.toml");
    let flow = format!(
        r#"
[[flow]]
id = "fido-registration"
kind = "self-service"
authorization = [{{ type = "authenticated-within", max_age = "10m" }}]

[[flow.steps]]
type = "fido-registration"
{step_options}
"#
    );
    std::fs::write(dir.path().join("self-service.toml"), flow).expect("write flow");
    dir
}

// ---- client data ----

#[tokio::test]
async fn a_registration_with_the_client_data_type_of_an_assertion_is_refused() {
    refused_with(
        Tamper {
            client_data_type: Some("webauthn.get".into()),
            ..Tamper::default()
        },
        "type",
    )
    .await;
}

#[tokio::test]
async fn a_registration_for_another_challenge_is_refused() {
    refused_with(
        Tamper {
            challenge: Some(vec![7u8; 32]),
            ..Tamper::default()
        },
        "challenge",
    )
    .await;
}

#[tokio::test]
async fn a_replayed_registration_response_is_refused() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential.clone()).await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    // The same response again: the flow is done, so it is out of turn...
    let (status, doc) = browser.send_attestation(credential.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");

    // ...and in a new registration it answers a challenge that is no longer the one issued.
    browser.start_registration(None).await;
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, "challenge");
    assert_eq!(browser.credentials().await.len(), 1, "still one credential");
}

#[tokio::test]
async fn a_challenge_is_spent_by_a_failed_registration() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    let bad = browser.authenticator.register_with(
        &options,
        ORIGIN,
        &Tamper {
            origin: Some("https://evil.example".into()),
            forget: true,
            ..Tamper::default()
        },
    );
    let honest = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(bad).await;
    assert_refused(status, &doc, "origin");
    assert_challenge_spent(&mut browser, honest).await;
}

#[tokio::test]
async fn a_registration_after_the_challenge_expired_times_out() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    assert_eq!(options["timeout"], 300000);
    let credential = browser.authenticator.register(&options, ORIGIN);
    app.advance(chrono::Duration::seconds(301));
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_REGISTRATION_TIMEOUT", "{doc}");
    assert_eq!(doc["meta"]["nextStep"], NEXT, "{doc}");
    assert_nothing_stored_and_recovers(&mut browser).await;
}

#[tokio::test]
async fn a_registration_just_before_the_challenge_expires_succeeds() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    app.advance(chrono::Duration::seconds(299));
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn a_registration_from_an_origin_not_allowed_is_refused() {
    refused_with(
        Tamper {
            origin: Some("https://evil.example".into()),
            ..Tamper::default()
        },
        "origin",
    )
    .await;
}

#[tokio::test]
async fn a_registration_in_a_cross_origin_frame_is_refused() {
    refused_with(
        Tamper {
            cross_origin: Some(true),
            ..Tamper::default()
        },
        "crossOrigin",
    )
    .await;
}

// ---- authenticator data ----

#[tokio::test]
async fn a_registration_for_the_rp_id_of_another_site_is_refused() {
    refused_with(
        Tamper {
            rp_id: Some("evil.example".into()),
            ..Tamper::default()
        },
        "rpIdHash",
    )
    .await;
}

#[tokio::test]
async fn a_registration_without_user_presence_is_refused() {
    refused_with(
        Tamper {
            up: Some(false),
            ..Tamper::default()
        },
        "userPresent",
    )
    .await;
}

#[tokio::test]
async fn a_registration_without_user_verification_is_refused_when_the_step_requires_it() {
    let flows = flows_with_registration_step(r#"user_verification = "required""#);
    let app = spawn_app_with(|s| s.server.flows_dir = Some(flows.path().to_owned())).await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = browser.authenticator.register_with(
        &options,
        ORIGIN,
        &Tamper {
            uv: Some(false),
            ..Tamper::default()
        },
    );
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, "userVerified");
    assert_nothing_stored_and_recovers(&mut browser).await;
}

#[tokio::test]
async fn a_registration_without_user_verification_is_accepted_when_it_is_only_preferred() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register_with(
        &options,
        ORIGIN,
        &Tamper {
            uv: Some(false),
            ..Tamper::default()
        },
    );
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = browser.credentials().await;
    assert_eq!(list[0]["attributes"]["userVerified"], false);
}

#[tokio::test]
async fn a_registration_with_an_algorithm_the_step_did_not_offer_is_refused() {
    let flows = flows_with_registration_step("algorithms = [-7]");
    let app = spawn_app_with(|s| s.server.flows_dir = Some(flows.path().to_owned())).await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    assert_eq!(
        options["pubKeyCredParams"],
        json!([{"type": "public-key", "alg": -7}])
    );
    let credential = browser.authenticator.register_with(
        &options,
        ORIGIN,
        &Tamper {
            alg: Some(Alg::EdDsa),
            ..Tamper::default()
        },
    );
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, "algorithm");
    assert!(detail(&doc).contains("-8"), "{doc}");
    assert_nothing_stored_and_recovers(&mut browser).await;
}

#[tokio::test]
async fn a_registration_with_bytes_after_the_authenticator_data_is_refused() {
    refused_with(
        Tamper {
            trailing_bytes: true,
            ..Tamper::default()
        },
        "authenticatorDataLength",
    )
    .await;
}

// ---- attestation ----

#[tokio::test]
async fn a_self_attestation_with_a_tampered_signature_is_refused() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    browser.authenticator.attestation = AttestationMode::PackedSelf;
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register_with(
        &options,
        ORIGIN,
        &Tamper {
            flip_signature_byte: true,
            ..Tamper::default()
        },
    );
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, "attestationSignature");
    // An honest self attestation is accepted, untrusted.
    assert_nothing_stored_and_recovers(&mut browser).await;
    let list = browser.credentials().await;
    assert_eq!(list[0]["attributes"]["attestationFormat"], "packed");
    assert_eq!(list[0]["attributes"]["attestationTrusted"], false);
}

/// A server that requires trusted attestation, with `root` as its only trust anchor and a
/// registration step asking for direct attestation. Returns the app and the temp dirs it uses.
async fn require_trusted(root: &pki::Ca) -> (TestApp, tempfile::TempDir, tempfile::TempDir) {
    let anchors = tempfile::tempdir().expect("temp dir");
    std::fs::write(anchors.path().join("root.pem"), &root.cert_pem).expect("write anchor");
    let flows = flows_with_registration_step(r#"attestation = "direct""#);
    let app = spawn_app_with(|s| {
        s.server.flows_dir = Some(flows.path().to_owned());
        s.attestation.policy = AttestationPolicyKind::RequireTrusted;
        s.attestation.trust_anchors_dir = Some(anchors.path().to_owned());
    })
    .await;
    (app, anchors, flows)
}

#[tokio::test]
async fn an_attestation_chained_to_an_unknown_root_is_refused_when_trust_is_required() {
    let root = pki::root_ca("fidoflow test root");
    let stranger = pki::root_ca("someone else's root");
    let (app, _anchors, _flows) = require_trusted(&root).await;
    let mut browser = signed_in(&app, "alice").await;
    browser.authenticator.attestation = AttestationMode::PackedX5c {
        chain: pki::attestation_chain(&stranger, &[], LeafOptions::default()),
    };
    let options = browser.start_registration(None).await;
    assert_eq!(options["attestation"], "direct");
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, "attestationTrust");
    assert!(browser.credentials().await.is_empty());

    // The positive control: a chain from the configured root (through an intermediate) is
    // accepted and listed as trusted.
    let intermediate =
        pki::intermediate_ca(&root, "fidoflow test intermediate", Validity::current());
    browser.authenticator.attestation = AttestationMode::PackedX5c {
        chain: pki::attestation_chain(&intermediate, &[&intermediate], LeafOptions::default()),
    };
    let options = browser.registration_challenge(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = browser.credentials().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["attributes"]["attestationTrusted"], true);
    assert_eq!(list[0]["attributes"]["attestationFormat"], "packed");
}

#[tokio::test]
async fn an_attestation_chained_to_the_configured_root_is_trusted() {
    let root = pki::root_ca("fidoflow test root");
    let (app, _anchors, _flows) = require_trusted(&root).await;
    let mut browser = signed_in(&app, "alice").await;
    browser.authenticator.attestation = AttestationMode::PackedX5c {
        chain: pki::attestation_chain(&root, &[], LeafOptions::default()),
    };
    browser.register(None).await;
    let list = browser.credentials().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["attributes"]["attestationTrusted"], true);
    assert_eq!(list[0]["attributes"]["attestationFormat"], "packed");
}

#[tokio::test]
async fn an_attestation_through_an_expired_intermediate_is_refused_when_trust_is_required() {
    let root = pki::root_ca("fidoflow test root");
    let (app, _anchors, _flows) = require_trusted(&root).await;
    let mut browser = signed_in(&app, "alice").await;
    let expired = pki::intermediate_ca(&root, "expired intermediate", Validity::expired());
    browser.authenticator.attestation = AttestationMode::PackedX5c {
        chain: pki::attestation_chain(&expired, &[&expired], LeafOptions::default()),
    };
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_REGISTRATION_FAILED", "{doc}");
    assert_eq!(doc["meta"]["nextStep"], NEXT, "{doc}");
    assert!(detail(&doc).contains("expired"), "{doc}");
    assert!(browser.credentials().await.is_empty());
}

// ---- credential ids ----

#[tokio::test]
async fn a_credential_id_already_registered_to_the_same_user_is_refused() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let id = browser.register(None).await;
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register_with(
        &options,
        ORIGIN,
        &Tamper {
            credential_id: Some(b64url_decode(&id).unwrap()),
            ..Tamper::default()
        },
    );
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, "credentialId");
    let list = browser.credentials().await;
    assert_eq!(list.len(), 1, "still one credential");
    assert_eq!(list[0]["id"], id.as_str());
}

#[tokio::test]
async fn a_credential_id_already_registered_to_another_user_is_refused() {
    let app = spawn_app().await;
    let mut alice = signed_in(&app, "alice").await;
    let id = alice.register(None).await;

    let mut bob = signed_in(&app, "bob").await;
    let options = bob.start_registration(None).await;
    let credential = bob.authenticator.register_with(
        &options,
        ORIGIN,
        &Tamper {
            credential_id: Some(b64url_decode(&id).unwrap()),
            ..Tamper::default()
        },
    );
    let (status, doc) = bob.send_attestation(credential).await;
    assert_refused(status, &doc, "credentialId");
    assert!(
        !detail(&doc).contains("alice"),
        "never name another user: {doc}"
    );
    assert!(bob.credentials().await.is_empty(), "bob has nothing");
    let list = alice.credentials().await;
    assert_eq!(list.len(), 1, "alice still has hers");
    assert_eq!(list[0]["id"], id.as_str());
    assert_nothing_stored_and_recovers(&mut bob).await;
}

#[tokio::test]
async fn a_response_whose_id_and_raw_id_differ_is_refused() {
    refused_with(
        Tamper {
            raw_id_differs: true,
            ..Tamper::default()
        },
        "credentialId",
    )
    .await;
}

#[tokio::test]
async fn a_public_key_member_that_contradicts_the_attestation_object_is_ignored() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    // Another key's SPKI in the convenience member.
    let mut other = crate::common::softauthn::SoftAuthenticator::new();
    other.register(&options, ORIGIN);
    let other_key = b64url(&other.credentials()[0].public_key_spki());
    let credential = browser.authenticator.register_with(
        &options,
        ORIGIN,
        &Tamper {
            public_key_member: Some(other_key),
            ..Tamper::default()
        },
    );
    let id = credential["id"].as_str().unwrap().to_string();
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "the attestation object wins: {doc}");
    let list = browser.credentials().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
}

// ---- undecodable credentials: the step's failure, and the challenge is spent ----

/// Starts a registration, sends the honest response changed by `spoil`, expects the step's
/// failure naming `check`, and checks the challenge is spent.
async fn undecodable(spoil: impl FnOnce(&mut Value), check: &str) {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    let honest = browser.authenticator.register(&options, ORIGIN);
    let mut spoiled = honest.clone();
    spoil(&mut spoiled);
    let (status, doc) = browser.send_attestation(spoiled).await;
    assert_refused(status, &doc, check);
    assert_challenge_spent(&mut browser, honest).await;
}

#[tokio::test]
async fn client_data_that_is_not_base64url_is_refused_and_spends_the_challenge() {
    undecodable(
        |c| c["response"]["clientDataJSON"] = json!("not base64url!*"),
        "malformed",
    )
    .await;
}

#[tokio::test]
async fn an_attestation_object_that_is_not_base64url_is_refused_and_spends_the_challenge() {
    undecodable(
        |c| c["response"]["attestationObject"] = json!("%%%"),
        "malformed",
    )
    .await;
}

#[tokio::test]
async fn an_attestation_object_that_is_not_cbor_is_refused_and_spends_the_challenge() {
    undecodable(
        |c| c["response"]["attestationObject"] = json!(b64url(&[0xff, 0x00, 0x13, 0x37])),
        "malformed",
    )
    .await;
}

#[tokio::test]
async fn client_data_that_is_not_json_is_refused_and_spends_the_challenge() {
    undecodable(
        |c| c["response"]["clientDataJSON"] = json!(b64url(b"this is not JSON")),
        "malformed",
    )
    .await;
}

#[tokio::test]
async fn a_credential_without_a_response_is_refused_and_spends_the_challenge() {
    undecodable(
        |c| {
            c.as_object_mut().unwrap().remove("response");
        },
        "malformed",
    )
    .await;
}

// ---- requests that are not well-formed: INVALID_REQUEST, nothing spent ----

/// Starts a registration, sends `body` as is, expects `400 INVALID_REQUEST` naming `member`, and
/// checks that the challenge was not spent: the honest response still succeeds.
async fn invalid_request(body: reqwest::Body, member: &str) {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    let honest = browser.authenticator.register(&options, ORIGIN);
    let response = browser
        .client
        .post(format!("{}{CHECK}", browser.base))
        .header("X-Same-Domain", "1")
        .header("Origin", ORIGIN)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let (status, doc) = crate::common::app::decode(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "INVALID_REQUEST", "{doc}");
    assert!(
        detail(&doc).contains(member),
        "the detail names `{member}`: {doc}"
    );
    let (status, doc) = browser.send_attestation(honest).await;
    assert_eq!(status, StatusCode::OK, "the challenge was not spent: {doc}");
    assert_eq!(browser.credentials().await.len(), 1);
}

#[tokio::test]
async fn a_request_without_public_key_credential_is_invalid_and_spends_nothing() {
    invalid_request(json!({}).to_string().into(), "publicKeyCredential").await;
}

#[tokio::test]
async fn a_public_key_credential_that_is_not_an_object_is_invalid_and_spends_nothing() {
    invalid_request(
        json!({"publicKeyCredential": "eyJpZCI6IngifQ"})
            .to_string()
            .into(),
        "publicKeyCredential",
    )
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_invalid_and_spends_nothing() {
    invalid_request("{\"publicKeyCredential\": {".into(), "JSON").await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_as_too_large() {
    let app = spawn_app().await;
    let browser = signed_in(&app, "alice").await;
    browser.start_registration(None).await;
    let padding = "A".repeat(65 * 1024);
    let (status, doc) = browser
        .post(CHECK, json!({"publicKeyCredential": {"id": padding}}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{doc}");
    assert_eq!(code(&doc), "REQUEST_TOO_LARGE", "{doc}");
}

// ---- steps out of order ----

#[tokio::test]
async fn an_attestation_response_before_a_challenge_is_out_of_turn() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    // No flow at all.
    let (status, doc) = browser.send_attestation(json!({"id": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    // The flow selected, but no challenge yet.
    let (status, doc) = browser
        .post(
            "/rest/protected/self-service/flows/fido-registration/select",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = browser.send_attestation(json!({"id": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    assert_eq!(doc["meta"]["nextStep"], NEXT, "{doc}");
    // The flow stayed where it was.
    assert_nothing_stored_and_recovers(&mut browser).await;
}

#[tokio::test]
async fn a_challenge_retrieval_without_a_flow_is_out_of_turn() {
    let app = spawn_app().await;
    let browser = signed_in(&app, "alice").await;
    let (status, doc) = browser.post(CHALLENGE, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
}

// ---- display names ----

#[tokio::test]
async fn a_display_name_with_a_bidi_override_is_refused() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let (status, doc) = browser
        .post(
            "/rest/protected/self-service/flows/fido-registration/select",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    for bad in ["My \u{202E}kcah", "", "   ", "tab\there", &"x".repeat(65)] {
        let (status, doc) = browser.post(CHALLENGE, json!({ "displayName": bad })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {doc}");
        assert_eq!(code(&doc), "INVALID_DISPLAY_NAME", "{bad:?}: {doc}");
    }
    // The step is still waiting for a challenge.
    let options = browser.registration_challenge(Some("  Laptop  ")).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = browser.credentials().await;
    assert_eq!(list[0]["attributes"]["displayName"], "Laptop", "trimmed");
}

#[tokio::test]
async fn credentials_registered_without_a_name_are_numbered() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    browser.register(None).await;
    browser.register(None).await;
    // The list's order is not part of the contract (both share the test clock's instant).
    let mut names: Vec<String> = browser
        .credentials()
        .await
        .iter()
        .map(|c| c["attributes"]["displayName"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["Passkey 1", "Passkey 2"]);
}

#[tokio::test]
async fn the_requested_display_name_names_the_credential_not_the_user() {
    let app = spawn_app().await;
    let browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(Some("Work key")).await;
    assert_eq!(options["user"]["displayName"], "alice (person)");
    assert!(!options.to_string().contains("Work key"), "{options}");
}

#[tokio::test]
async fn a_new_challenge_spends_the_previous_one() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let first = browser.start_registration(None).await;
    let stale = browser.authenticator.register_with(
        &first,
        ORIGIN,
        &Tamper {
            forget: true,
            ..Tamper::default()
        },
    );
    let second = browser.registration_challenge(None).await;
    assert_ne!(first["challenge"], second["challenge"]);
    let (status, doc) = browser.send_attestation(stale).await;
    assert_refused(status, &doc, "challenge");
    assert_nothing_stored_and_recovers(&mut browser).await;
}

#[tokio::test]
async fn a_display_name_that_is_not_a_string_is_an_invalid_request() {
    let app = spawn_app().await;
    let browser = signed_in(&app, "alice").await;
    let (status, doc) = browser.post(SELECT, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = browser.post(CHALLENGE, json!({ "displayName": 42 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "INVALID_REQUEST", "{doc}");
    assert!(detail(&doc).contains("displayName"), "{doc}");
}

#[tokio::test]
async fn a_display_name_is_kept_in_nfc() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    browser.register(Some("Cafe\u{301} key")).await;
    let list = browser.credentials().await;
    assert_eq!(list[0]["attributes"]["displayName"], "Caf\u{e9} key");
}

#[tokio::test]
async fn an_unnamed_credential_of_a_known_model_is_named_after_it() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    // cb69481e-8ff7-4039-93ec-0a2729a154a8: YubiKey 5 Series.
    browser.authenticator.aaguid = [
        0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54,
        0xa8,
    ];
    browser.register(None).await;
    let a = &browser.credentials().await[0]["attributes"];
    assert_eq!(a["displayName"], "YubiKey 5 Series");
    assert_eq!(a["authenticatorName"], "YubiKey 5 Series");
    assert_eq!(a["aaguid"], "cb69481e-8ff7-4039-93ec-0a2729a154a8");
    assert_eq!(a["attestationTrusted"], false, "only what it claims");
}

#[tokio::test]
async fn the_options_exclude_the_users_credentials_with_their_transports() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let id = browser.register(None).await;
    let options = browser.start_registration(None).await;
    assert_eq!(
        options["excludeCredentials"],
        json!([{"type": "public-key", "id": id, "transports": ["internal"]}])
    );
}

#[tokio::test]
async fn extension_outputs_the_server_did_not_request_are_ignored() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    let mut credential = browser.authenticator.register(&options, ORIGIN);
    credential["clientExtensionResults"]["appidExclude"] = json!(true);
    credential["clientExtensionResults"]["somethingElse"] = json!({"x": [1, 2, 3]});
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn a_body_that_is_json_but_not_an_object_is_invalid_and_spends_nothing() {
    invalid_request("[]".into(), "object").await;
}

#[tokio::test]
async fn an_unattested_registration_is_refused_when_trust_is_required() {
    let root = pki::root_ca("fidoflow test root");
    let (app, _anchors, _flows) = require_trusted(&root).await;
    let mut browser = signed_in(&app, "alice").await;
    for mode in [AttestationMode::None, AttestationMode::PackedSelf] {
        browser.authenticator.attestation = mode;
        let options = browser.start_registration(None).await;
        let credential = browser.authenticator.register(&options, ORIGIN);
        let (status, doc) = browser.send_attestation(credential).await;
        assert_refused(status, &doc, "attestationTrust");
    }
    assert!(browser.credentials().await.is_empty());
}

#[tokio::test]
async fn a_fido_u2f_attestation_from_the_configured_root_is_trusted() {
    let root = pki::root_ca("fidoflow test root");
    let (app, _anchors, _flows) = require_trusted(&root).await;
    let mut browser = signed_in(&app, "alice").await;
    browser.authenticator.attestation = AttestationMode::FidoU2f {
        chain: pki::attestation_chain(&root, &[], LeafOptions::default()),
    };
    browser.register(None).await;
    let a = &browser.credentials().await[0]["attributes"];
    assert_eq!(a["attestationFormat"], "fido-u2f");
    assert_eq!(a["attestationTrusted"], true);
    assert_eq!(a["aaguid"], "00000000-0000-0000-0000-000000000000");
}

#[tokio::test]
async fn selecting_another_flow_while_one_runs_is_out_of_turn() {
    let flows = flows_with_registration_step("");
    let second = r#"
[[flow]]
id = "fido-registration-strict"
kind = "self-service"
authorization = [{ type = "authenticated-within", max_age = "10m" }]

[[flow.steps]]
type = "fido-registration"
user_verification = "required"
"#;
    std::fs::write(flows.path().join("second.toml"), second).expect("write flow");
    let app = spawn_app_with(|s| s.server.flows_dir = Some(flows.path().to_owned())).await;
    let mut browser = signed_in(&app, "alice").await;
    let options = browser.start_registration(None).await;
    let (status, doc) = browser
        .post(
            "/rest/protected/self-service/flows/fido-registration-strict/select",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    // The running flow stayed where it was: its challenge still works.
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    // Once it is done, the other flow may start.
    let (status, doc) = browser
        .post(
            "/rest/protected/self-service/flows/fido-registration-strict/select",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn an_unknown_attestation_format_is_refused_by_default_and_accepted_untrusted_when_allowed() {
    let tamper = Tamper {
        att_fmt: Some("mystery-format".into()),
        ..Default::default()
    };
    let app = spawn_app().await;
    app.create_user("fmt", Some(PASSWORD)).await;
    let mut b = app.browser();
    b.login("fmt", PASSWORD).await;
    let options = b.start_registration(None).await;
    let credential = b.authenticator.register_with(&options, ORIGIN, &tamper);
    let (status, doc) = b.send_attestation(credential).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_REGISTRATION_FAILED");
    assert!(detail(&doc).contains("mystery-format"), "{doc}");

    let app =
        crate::common::app::spawn_app_with(|s| s.attestation.accept_unknown_formats = true).await;
    app.create_user("fmt", Some(PASSWORD)).await;
    let mut b = app.browser();
    b.login("fmt", PASSWORD).await;
    let options = b.start_registration(None).await;
    let credential = b.authenticator.register_with(&options, ORIGIN, &tamper);
    let (status, doc) = b.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = b.credentials().await;
    assert_eq!(list[0]["attributes"]["attestationFormat"], "mystery-format");
    assert_eq!(list[0]["attributes"]["attestationTrusted"], false);
}

// ---- what a registration may store ----

#[tokio::test]
async fn a_user_with_32_credentials_cannot_register_a_33rd() {
    let app = spawn_app().await;
    let mut browser = signed_in(&app, "hoarder").await;
    for _ in 0..32 {
        browser.register(None).await;
    }
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, "credentialCount");
    assert!(
        detail(&doc).contains("32") && detail(&doc).contains("max_credentials_per_user"),
        "the detail names the limit: {doc}"
    );
    assert_eq!(browser.credentials().await.len(), 32);
}

#[tokio::test]
async fn the_credential_limit_of_the_default_tenant_is_configurable() {
    let app = spawn_app_with(|s| s.ceremony.max_credentials_per_user = 2).await;
    let mut browser = signed_in(&app, "alice").await;
    browser.register(None).await;
    browser.register(None).await;
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, "credentialCount");
    assert!(detail(&doc).contains("at most 2"), "{doc}");
    assert_eq!(browser.credentials().await.len(), 2);
}

#[tokio::test]
async fn a_none_attestation_with_a_statement_is_refused() {
    refused_with(
        Tamper {
            att_stmt_extra: Some(("padding".into(), vec![0; 1000])),
            ..Tamper::default()
        },
        "attestationStatement",
    )
    .await;
}

#[tokio::test]
async fn an_attestation_object_with_a_member_besides_fmt_att_stmt_and_auth_data_is_refused() {
    refused_with(
        Tamper {
            att_object_extra: Some(("padding".into(), vec![0; 100])),
            ..Tamper::default()
        },
        "malformed",
    )
    .await;
}

#[tokio::test]
async fn client_data_over_16_kib_is_refused() {
    refused_with(
        Tamper {
            client_data_padding: Some(16 * 1024),
            ..Tamper::default()
        },
        "responseSize",
    )
    .await;
}

// ---- attestation certificate requirements (§8.2.1 packed, §8.6 fido-u2f) ----

/// Registers with `mode` on a server asking for direct attestation (trusting `root`) and checks
/// that the certificate check refuses it with `reason` in the detail, storing nothing.
/// `mode` gets the authenticator's AAGUID.
async fn certificate_refused(
    root: &pki::Ca,
    mode: impl FnOnce([u8; 16]) -> AttestationMode,
    reason: &str,
) {
    let (app, _anchors, _flows) = require_trusted(root).await;
    let mut browser = signed_in(&app, "alice").await;
    browser.authenticator.attestation = mode(browser.authenticator.aaguid);
    let options = browser.start_registration(None).await;
    assert_eq!(options["attestation"], "direct");
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_refused(status, &doc, "attestationCertificate");
    assert!(
        detail(&doc).contains(reason),
        "the detail should say {reason:?}: {doc}"
    );
    assert!(browser.credentials().await.is_empty());
}

fn packed(root: &pki::Ca, opts: LeafOptions) -> AttestationMode {
    AttestationMode::PackedX5c {
        chain: pki::attestation_chain(root, &[], opts),
    }
}

#[tokio::test]
async fn a_packed_certificate_without_the_authenticator_attestation_ou_is_refused() {
    let root = pki::root_ca("fidoflow test root");
    let opts = LeafOptions {
        organizational_unit: Some("Security Keys".into()),
        ..LeafOptions::default()
    };
    certificate_refused(&root, |_| packed(&root, opts), "OU is not").await;
}

#[tokio::test]
async fn a_packed_certificate_that_is_a_ca_is_refused() {
    let root = pki::root_ca("fidoflow test root");
    let opts = LeafOptions {
        ca: true,
        ..LeafOptions::default()
    };
    certificate_refused(&root, |_| packed(&root, opts), "CA certificate").await;
}

#[tokio::test]
async fn a_packed_certificate_whose_country_is_not_two_letters_is_refused() {
    let root = pki::root_ca("fidoflow test root");
    let opts = LeafOptions {
        country: Some("Sweden".into()),
        ..LeafOptions::default()
    };
    certificate_refused(&root, |_| packed(&root, opts), "two-letter code").await;
}

#[tokio::test]
async fn a_packed_certificate_whose_aaguid_extension_differs_from_the_authenticator_is_refused() {
    let root = pki::root_ca("fidoflow test root");
    let mode = |mut other: [u8; 16]| {
        other[0] ^= 0xff;
        let opts = LeafOptions {
            aaguid_extension: Some(other),
            ..LeafOptions::default()
        };
        packed(&root, opts)
    };
    certificate_refused(&root, mode, "differs from the authenticator").await;
}

#[tokio::test]
async fn a_packed_certificate_with_a_critical_aaguid_extension_is_refused() {
    let root = pki::root_ca("fidoflow test root");
    let mode = |aaguid| {
        let opts = LeafOptions {
            aaguid_extension: Some(aaguid),
            aaguid_extension_critical: true,
            ..LeafOptions::default()
        };
        packed(&root, opts)
    };
    certificate_refused(&root, mode, "marked critical").await;
}

#[tokio::test]
async fn a_packed_certificate_with_a_matching_non_critical_aaguid_extension_is_accepted() {
    let root = pki::root_ca("fidoflow test root");
    let (app, _anchors, _flows) = require_trusted(&root).await;
    let mut browser = signed_in(&app, "alice").await;
    let opts = LeafOptions {
        aaguid_extension: Some(browser.authenticator.aaguid),
        ..LeafOptions::default()
    };
    browser.authenticator.attestation = packed(&root, opts);
    browser.register(None).await;
    assert_eq!(
        browser.credentials().await[0]["attributes"]["attestationTrusted"],
        true
    );
}

#[tokio::test]
async fn a_fido_u2f_certificate_with_a_p384_key_is_refused() {
    let root = pki::root_ca("fidoflow test root");
    let opts = LeafOptions {
        p384_key: true,
        ..LeafOptions::default()
    };
    let mode = |_| AttestationMode::FidoU2f {
        chain: pki::attestation_chain(&root, &[], opts),
    };
    certificate_refused(&root, mode, "not an EC P-256 key").await;
}
