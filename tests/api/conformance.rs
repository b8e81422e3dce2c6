//! The FIDO conformance-tool API (`POST /{access_path}/attestation/options|result`,
//! `/assertion/options|result`) driven as the conformance tool drives it: plain HTTP, no key,
//! `{"status": "ok"|"failed", "errorMessage"}` answers. The fido2-net-lib recorded pairs are
//! replayed through it — the server started with a scripted challenge source (each vector's
//! challenge queued before the options call that issues it) and its clock inside the vectors'
//! certificates' validity — and the software authenticator plays the browser for full rounds and
//! refusals.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use fidoflow::engine::Challenges;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::authfi::{Backend, DEMO_KEY};
use crate::common::app::{spawn_app_with, spawn_app_with_challenges, tenants_from_toml, TestApp};
use crate::common::softauthn::{b64url, b64url_decode, AttestationMode, SoftAuthenticator, Tamper};

/// Inside every fido2-net-lib certificate's validity (the Apple chain's day is the intersection;
/// see `tests/vectors/fido2-net-lib/README.md` and `tests/fido_vectors.rs`). Some of the chains
/// have expired since, so the vectors only verify with the server's clock here.
const VECTORS_AT: &str = "2020-10-07T20:00:00Z";

/// What the conformance tool sends to `attestation/options` (the example of the FIDO document,
/// with the tool's `example.extension`).
fn creation_request(username: &str, display_name: &str) -> Value {
    json!({
        "username": username,
        "displayName": display_name,
        "authenticatorSelection": {
            "requireResidentKey": false,
            "authenticatorAttachment": "cross-platform",
            "userVerification": "preferred"
        },
        "attestation": "direct",
        "extensions": {"example.extension": true}
    })
}

/// The conformance API of one tenant.
struct Conformance {
    client: reqwest::Client,
    base: String,
}

impl Conformance {
    fn new(app: &TestApp, access_path: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: format!("{}/{access_path}", app.base),
        }
    }

    /// `POST /{access_path}/{call}` with a JSON body; the answer must be JSON.
    async fn post(&self, call: &str, body: &Value) -> (StatusCode, Value) {
        self.post_raw(call, body.to_string()).await
    }

    async fn post_raw(&self, call: &str, body: String) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(format!("{}/{call}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, value)
    }
}

/// A `ServerResponse` with `status: "ok"`, `errorMessage: ""` and 200.
fn assert_ok(answer: &(StatusCode, Value), what: &str) {
    assert_eq!(answer.0, StatusCode::OK, "{what}: {}", answer.1);
    assert_eq!(answer.1["status"], "ok", "{what}: {}", answer.1);
    assert_eq!(answer.1["errorMessage"], "", "{what}: {}", answer.1);
}

/// A `ServerResponse` with `status: "failed"`, a non-empty `errorMessage` and `status`.
fn assert_failed(answer: &(StatusCode, Value), status: StatusCode, what: &str) {
    assert_eq!(answer.0, status, "{what}: {}", answer.1);
    assert_eq!(answer.1["status"], "failed", "{what}: {}", answer.1);
    assert!(
        answer.1["errorMessage"]
            .as_str()
            .is_some_and(|m| !m.trim().is_empty()),
        "{what}: a failure says why: {}",
        answer.1
    );
}

/// Checks a `ServerPublicKeyCredentialCreationOptionsResponse` to [`creation_request`].
fn assert_creation_options(
    options: &Value,
    rp_id: &str,
    username: &str,
    display_name: &str,
    challenge: Option<&str>,
    excluded: &[&str],
) {
    assert_eq!(options["status"], "ok", "{options}");
    assert_eq!(options["errorMessage"], "", "{options}");
    assert_eq!(options["rp"]["id"], rp_id, "{options}");
    assert!(
        options["rp"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "rp.name: {options}"
    );
    let user_id = options["user"]["id"].as_str().expect("user.id");
    let handle = b64url_decode(user_id).expect("user.id is base64url");
    assert!((1..=64).contains(&handle.len()), "user.id: {options}");
    assert_eq!(options["user"]["name"], username, "{options}");
    assert_eq!(options["user"]["displayName"], display_name, "{options}");
    let issued = options["challenge"].as_str().expect("challenge");
    assert!(
        b64url_decode(issued).is_some_and(|c| (16..=64).contains(&c.len())),
        "a challenge of 16 to 64 bytes: {options}"
    );
    if let Some(challenge) = challenge {
        assert_eq!(issued, challenge, "the queued challenge is issued");
    }
    let params = options["pubKeyCredParams"]
        .as_array()
        .expect("pubKeyCredParams");
    assert!(!params.is_empty(), "{options}");
    for p in params {
        assert_eq!(p["type"], "public-key", "{options}");
        assert!(p["alg"].is_i64(), "{options}");
    }
    assert!(
        options["timeout"].as_u64().is_some_and(|t| t > 0),
        "{options}"
    );
    let exclude: Vec<&str> = options["excludeCredentials"]
        .as_array()
        .expect("excludeCredentials is a list")
        .iter()
        .map(|d| {
            assert_eq!(d["type"], "public-key", "{options}");
            d["id"].as_str().expect("excludeCredentials[].id")
        })
        .collect();
    assert_eq!(exclude, excluded, "excludeCredentials: {options}");
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["requireResidentKey"], false, "{options}");
    assert_eq!(
        selection["authenticatorAttachment"], "cross-platform",
        "{options}"
    );
    assert_eq!(selection["userVerification"], "preferred", "{options}");
    assert_eq!(options["attestation"], "direct", "{options}");
    assert_eq!(
        options["extensions"]["example.extension"], true,
        "the request's extensions are in the options: {options}"
    );
}

fn vectors_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/fido2-net-lib")
}

fn load_vector(file: &str) -> Value {
    let text = std::fs::read_to_string(vectors_folder().join(file)).expect("vector file");
    serde_json::from_str(&text).expect("vector JSON")
}

/// Every `*.registration.json` of fido2-net-lib, by file name.
fn registration_vectors() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(vectors_folder())
        .expect("vector folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".registration.json"))
        .collect();
    files.sort();
    files
}

/// The tenant a vector file is replayed into: id and access path are the file's stem.
fn vector_tenant(file: &str) -> String {
    file.trim_end_matches(".registration.json").to_string()
}

/// One `[[tenants]]` entry with `conformance = true` for each vector: its RP ID and origins.
fn vector_tenants_toml(files: &[String]) -> String {
    let mut toml = String::new();
    for file in files {
        let v = load_vector(file);
        let origins: Vec<String> = v["origins"]
            .as_array()
            .expect("origins")
            .iter()
            .map(|o| format!("\"{}\"", o.as_str().expect("origin")))
            .collect();
        let id = vector_tenant(file);
        toml.push_str(&format!(
            r#"
[[tenants]]
id = "{id}"
access_path = "{id}"
rp_id = "{rp_id}"
rp_name = "fido2-net-lib {id}"
origins = [{origins}]
conformance = true
"#,
            rp_id = v["rpId"].as_str().expect("rpId"),
            origins = origins.join(", "),
        ));
    }
    toml
}

async fn spawn_for_vectors(files: &[String]) -> TestApp {
    let tenants = tenants_from_toml(&vector_tenants_toml(files));
    let at: DateTime<Utc> = VECTORS_AT.parse().expect("time");
    spawn_app_with_challenges(move |s| s.tenants = tenants, Challenges::scripted(), at).await
}

/// Registers `file`'s credential for `username` of the vector's tenant through the
/// conformance API (its challenge queued); returns the `attestation/result` answer.
async fn replay_registration(
    app: &TestApp,
    file: &str,
    username: &str,
) -> (Value, (StatusCode, Value)) {
    let v = load_vector(file);
    let api = Conformance::new(app, &vector_tenant(file));
    let challenge = v["challenge"].as_str().expect("challenge");
    app.challenges
        .queue(b64url_decode(challenge).expect("challenge is base64url"));
    let (status, options) = api
        .post(
            "attestation/options",
            &creation_request(username, "John Doe"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{file}: {options}");
    assert_creation_options(
        &options,
        v["rpId"].as_str().expect("rpId"),
        username,
        "John Doe",
        Some(challenge),
        &[],
    );
    let answer = api.post("attestation/result", &v["response"]).await;
    (v, answer)
}

/// Vectors the server refuses although they verify under "any algorithm" (`fido_vectors.rs`),
/// with a word the refusal must contain. `tpm-rs1-sha1`'s credential key is RS1 (-65535): WebAuthn
/// §7.1 refuses a key whose algorithm the options did not offer, and fidoflow never offers RS1
/// (it cannot be configured: such a key would never verify an assertion).
const REFUSED_BY_POLICY: [(&str, &str); 1] = [(
    "tpm-rs1-sha1.registration.json",
    "algorithm -65535 is not one the server offered",
)];

#[tokio::test]
async fn every_fido2_net_lib_registration_goes_through_the_conformance_api() {
    let files = registration_vectors();
    assert!(files.len() >= 12, "the registration vectors: {files:?}");
    let app = spawn_for_vectors(&files).await;
    for file in &files {
        let (v, answer) = replay_registration(&app, file, "johndoe@example.com").await;
        let refused_for = REFUSED_BY_POLICY
            .iter()
            .find(|(name, _)| name == file)
            .map(|(_, word)| *word);
        match (v["expect"]["ok"].as_bool().expect("expect.ok"), refused_for) {
            (true, None) => assert_ok(&answer, file),
            (_, Some(word)) => {
                assert_failed(&answer, StatusCode::BAD_REQUEST, file);
                let message = answer.1["errorMessage"].as_str().unwrap_or_default();
                assert!(message.contains(word), "{file}: {message}");
            }
            (false, None) => assert_failed(&answer, StatusCode::BAD_REQUEST, file),
        }
        // The ceremony was taken out by the first result: the same response again is refused.
        let api = Conformance::new(&app, &vector_tenant(file));
        let replayed = api.post("attestation/result", &v["response"]).await;
        assert_failed(&replayed, StatusCode::BAD_REQUEST, file);
    }
}

#[tokio::test]
async fn the_fido2_net_lib_assertion_passes_once_after_its_credential_is_registered() {
    let registration = "none-es256.registration.json".to_string();
    let app = spawn_for_vectors(std::slice::from_ref(&registration)).await;
    let api = Conformance::new(&app, &vector_tenant(&registration));
    let (_, registered) = replay_registration(&app, &registration, "johndoe@example.com").await;
    assert_ok(&registered, &registration);

    let v = load_vector("none-es256.authentication.json");
    let credential_id = v["expect"]["credentialId"].as_str().expect("credentialId");
    assert_eq!(v["response"]["id"], credential_id);
    let challenge = v["challenge"].as_str().expect("challenge");
    app.challenges
        .queue(b64url_decode(challenge).expect("challenge is base64url"));
    let (status, options) = api
        .post(
            "assertion/options",
            &json!({"username": "johndoe@example.com", "userVerification": "discouraged"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(options["status"], "ok", "{options}");
    assert_eq!(options["errorMessage"], "", "{options}");
    assert_eq!(options["challenge"], challenge, "{options}");
    assert_eq!(options["rpId"], "localhost", "{options}");
    assert_eq!(options["userVerification"], "discouraged", "{options}");
    assert!(
        options["timeout"].as_u64().is_some_and(|t| t > 0),
        "{options}"
    );
    assert_eq!(
        options["allowCredentials"],
        json!([{"type": "public-key", "id": credential_id}]),
        "the user's credential is allowed"
    );

    let response = &v["response"];
    assert_ok(
        &api.post("assertion/result", response).await,
        "the recorded assertion",
    );
    assert_failed(
        &api.post("assertion/result", response).await,
        StatusCode::BAD_REQUEST,
        "the recorded assertion replayed",
    );
}

/// A conformance tenant (`conf`, RP ID conformance.example.org) and an AuthFi one (`demo` of
/// `authfi.rs`, key [`DEMO_KEY`]).
const CONF_PATH: &str = "Y29uZm9ybWFuY2U";
const CONF_ORIGIN: &str = "https://conformance.example.org";

fn conformance_and_authfi_tenants() -> String {
    format!(
        r#"
[[tenants]]
id = "conf"
access_path = "{CONF_PATH}"
rp_id = "conformance.example.org"
rp_name = "Conformance"
origins = ["{CONF_ORIGIN}"]
conformance = true
{}"#,
        crate::authfi::two_tenants()
    )
}

async fn spawn_conformance() -> TestApp {
    let tenants = tenants_from_toml(&conformance_and_authfi_tenants());
    spawn_app_with(move |s| s.tenants = tenants).await
}

/// `attestation/options` for `username` as the tool asks, answered by `authenticator`; returns the
/// options and the `attestation/result` answer.
async fn register(
    api: &Conformance,
    username: &str,
    authenticator: &mut SoftAuthenticator,
    t: &Tamper,
) -> (Value, (StatusCode, Value)) {
    let (status, options) = api
        .post(
            "attestation/options",
            &creation_request(username, "Alice Example"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let credential = authenticator.register_with(&options, CONF_ORIGIN, t);
    let answer = api.post("attestation/result", &credential).await;
    (options, answer)
}

#[tokio::test]
async fn a_full_round_with_the_software_authenticator_passes_named_and_usernameless() {
    let app = spawn_conformance().await;
    let api = Conformance::new(&app, CONF_PATH);
    let mut authenticator = SoftAuthenticator::new();

    let (options, answer) = register(&api, "alice", &mut authenticator, &Tamper::default()).await;
    assert_creation_options(
        &options,
        "conformance.example.org",
        "alice",
        "Alice Example",
        None,
        &[],
    );
    assert_ok(&answer, "registration");
    let id = authenticator.credential_ids()[0].clone();

    // A second registration for alice excludes the credential she has.
    let (status, again) = api
        .post(
            "attestation/options",
            &creation_request("alice", "Alice Example"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_creation_options(
        &again,
        "conformance.example.org",
        "alice",
        "Alice Example",
        None,
        &[&id],
    );
    assert_ne!(
        again["challenge"], options["challenge"],
        "every call has its own challenge"
    );

    // Named: allowCredentials are alice's.
    let (status, options) = api
        .post(
            "assertion/options",
            &json!({"username": "alice", "userVerification": "required",
                    "extensions": {"example.extension": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(options["status"], "ok", "{options}");
    assert_eq!(options["errorMessage"], "", "{options}");
    assert_eq!(options["rpId"], "conformance.example.org", "{options}");
    assert_eq!(options["userVerification"], "required", "{options}");
    assert_eq!(
        options["extensions"]["example.extension"], true,
        "{options}"
    );
    let allowed: Vec<&str> = options["allowCredentials"]
        .as_array()
        .expect("allowCredentials")
        .iter()
        .map(|d| d["id"].as_str().expect("id"))
        .collect();
    assert_eq!(allowed, [id.as_str()]);
    let assertion = authenticator.authenticate(&options, CONF_ORIGIN);
    assert_ok(
        &api.post("assertion/result", &assertion).await,
        "named assertion",
    );

    // Usernameless: no allowCredentials, the passkey's user handle says who.
    let (status, options) = api.post("assertion/options", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(options["status"], "ok", "{options}");
    assert!(
        options["allowCredentials"]
            .as_array()
            .is_none_or(|l| l.is_empty()),
        "{options}"
    );
    let assertion = authenticator.authenticate(&options, CONF_ORIGIN);
    assert_ok(
        &api.post("assertion/result", &assertion).await,
        "usernameless assertion",
    );
    assert_failed(
        &api.post("assertion/result", &assertion).await,
        StatusCode::BAD_REQUEST,
        "the usernameless assertion replayed",
    );
}

#[tokio::test]
async fn a_tampered_response_is_refused_with_status_failed() {
    let app = spawn_conformance().await;
    let api = Conformance::new(&app, CONF_PATH);
    let mut authenticator = SoftAuthenticator::new();
    authenticator.attestation = AttestationMode::PackedSelf;
    let flipped = Tamper {
        flip_signature_byte: true,
        forget: true,
        ..Tamper::default()
    };

    let (_, answer) = register(&api, "alice", &mut authenticator, &flipped).await;
    assert_failed(
        &answer,
        StatusCode::BAD_REQUEST,
        "a flipped attestation signature",
    );
    let (_, answer) = register(&api, "alice", &mut authenticator, &Tamper::default()).await;
    assert_ok(&answer, "an honest registration");

    let ask = json!({"username": "alice"});
    let (_, options) = api.post("assertion/options", &ask).await;
    let assertion = authenticator.authenticate_with(&options, CONF_ORIGIN, &flipped);
    assert_failed(
        &api.post("assertion/result", &assertion).await,
        StatusCode::BAD_REQUEST,
        "a flipped assertion signature",
    );
    let (_, options) = api.post("assertion/options", &ask).await;
    let wrong_origin = Tamper {
        origin: Some("https://evil.example.net".into()),
        ..Tamper::default()
    };
    let assertion = authenticator.authenticate_with(&options, CONF_ORIGIN, &wrong_origin);
    assert_failed(
        &api.post("assertion/result", &assertion).await,
        StatusCode::BAD_REQUEST,
        "another origin",
    );
    let (_, options) = api.post("assertion/options", &ask).await;
    let assertion = authenticator.authenticate(&options, CONF_ORIGIN);
    assert_ok(
        &api.post("assertion/result", &assertion).await,
        "the honest assertion after the refusals",
    );
}

#[tokio::test]
async fn a_result_without_a_ceremony_is_refused() {
    let app = spawn_conformance().await;
    let api = Conformance::new(&app, CONF_PATH);
    let mut authenticator = SoftAuthenticator::new();

    // Options this server never issued: the response answers no challenge of it.
    let made_up = json!({
        "rp": {"id": "conformance.example.org", "name": "Conformance"},
        "user": {"id": b64url(&[7; 64]), "name": "alice", "displayName": "Alice"},
        "challenge": b64url(&[9; 32]),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"residentKey": "required"}
    });
    let credential = authenticator.register(&made_up, CONF_ORIGIN);
    assert_failed(
        &api.post("attestation/result", &credential).await,
        StatusCode::BAD_REQUEST,
        "a registration nobody asked for",
    );
    let assertion = authenticator.authenticate(
        &json!({"rpId": "conformance.example.org", "challenge": b64url(&[8; 32])}),
        CONF_ORIGIN,
    );
    assert_failed(
        &api.post("assertion/result", &assertion).await,
        StatusCode::BAD_REQUEST,
        "an assertion nobody asked for",
    );
    for call in ["attestation/result", "assertion/result"] {
        assert_failed(
            &api.post(call, &json!({})).await,
            StatusCode::BAD_REQUEST,
            "an empty result",
        );
        assert_failed(
            &api.post_raw(call, "{not json".into()).await,
            StatusCode::BAD_REQUEST,
            "a body that is not JSON",
        );
    }
    assert_failed(
        &api.post("attestation/options", &json!({"displayName": "Nobody"}))
            .await,
        StatusCode::BAD_REQUEST,
        "options without a username",
    );
    assert_failed(
        &api.post(
            "attestation/options",
            &json!({"username": "alice", "extensions": ["example.extension"]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "extensions that are not an object",
    );
    assert_failed(
        &api.post("assertion/options", &json!({"username": "nobody"}))
            .await,
        StatusCode::NOT_FOUND,
        "assertion options for an unknown user",
    );
    // Asking for registration options makes the user; with no credential, no assertion.
    let (status, _) = api
        .post("attestation/options", &creation_request("bob", "Bob"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_failed(
        &api.post("assertion/options", &json!({"username": "bob"}))
            .await,
        StatusCode::BAD_REQUEST,
        "assertion options for a user without credentials",
    );
}

#[tokio::test]
async fn an_unknown_access_path_answers_failed_404() {
    let app = spawn_conformance().await;
    let unknown = Conformance::new(&app, "bm8tc3VjaC10ZW5hbnQ");
    for call in [
        "attestation/options",
        "attestation/result",
        "assertion/options",
        "assertion/result",
    ] {
        assert_failed(
            &unknown
                .post(call, &creation_request("alice", "Alice"))
                .await,
            StatusCode::NOT_FOUND,
            call,
        );
    }
}

#[tokio::test]
async fn the_conformance_tenant_serves_only_the_conformance_shape_and_authfi_tenants_do_not() {
    let app = spawn_conformance().await;

    // No key: the calls above never send one; a key sent anyway changes nothing.
    let resp = reqwest::Client::new()
        .post(format!("{}/{CONF_PATH}/attestation/options", app.base))
        .header("AT-X-Key", DEMO_KEY)
        .json(&creation_request("alice", "Alice"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let options: Value = resp.json().await.expect("JSON");
    assert_eq!(options["status"], "ok", "{options}");

    // The conformance tenant's path has no AuthFi API, with a key or without.
    for key in [None, Some(DEMO_KEY)] {
        let authfi_shape = Backend::new(&app, CONF_PATH, key);
        let (status, doc) = authfi_shape
            .post(
                "/webauthn/registration",
                json!({"params": {"user": {"name": "alice"}}}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{doc}");
        assert_eq!(doc["code"], 1000, "{doc}");
        let (status, doc) = authfi_shape.get("/users").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{doc}");
        assert_eq!(doc["code"], 1000, "{doc}");
    }

    // The AuthFi tenant's path has no conformance API.
    let authfi = Conformance::new(&app, "ZGVtby5leGFtcGxl");
    assert_failed(
        &authfi
            .post("attestation/options", &creation_request("alice", "Alice"))
            .await,
        StatusCode::NOT_FOUND,
        "conformance options on an AuthFi tenant",
    );
    assert_failed(
        &authfi
            .post("assertion/options", &json!({"username": "alice"}))
            .await,
        StatusCode::NOT_FOUND,
        "conformance assertion options on an AuthFi tenant",
    );
    // … while its AuthFi API answers.
    let (status, doc) = Backend::demo(&app)
        .post(
            "/webauthn/registration",
            json!({"params": {"user": {"name": "alice"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}
