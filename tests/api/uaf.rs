//! The FIDO UAF 1.1 HTTP transport, driven as a relying party's backend drives it (with the
//! tenant's key), the app's part played by the software UAF authenticator and client
//! (`common::softuaf`, written from the specification apart from the server's `uaf` module).
//! Transaction confirmation and its evidence are in `uaf_transactions.rs`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::authfi::DEMO_KEY;
use crate::common::app::{spawn_app_with, tenants_from_toml, TestApp};
use crate::common::softuaf::{test_attestation, SoftUaf, UafTamper};
use crate::tenants_admin::sha256_hex;

pub const PATH: &str = "YmFuaw";
pub const FACET: &str = "android:apk-key-hash:2jmj7l5rSw0yVb/vlWAYkK/YBwk=";
pub const AAID: &str = "4e4e#4005";

/// A tenant `bank` whose app runs as [`FACET`]; `uaf` adds keys to its `[tenants.uaf]`, and
/// `anchors` names a trust-anchor folder for basic full attestation.
pub async fn bank(uaf: &str, anchors: Option<&std::path::Path>) -> TestApp {
    bank_with(uaf, anchors, |_| {}).await
}

/// [`bank`], with the server's settings changed by `change` before it starts.
pub async fn bank_with(
    uaf: &str,
    anchors: Option<&std::path::Path>,
    change: impl FnOnce(&mut fidoflow::config::Settings),
) -> TestApp {
    let attestation = anchors.map_or(String::new(), |dir| {
        format!(
            "[tenants.attestation]\ntrust_anchors_dir = \"{}\"\n",
            dir.display()
        )
    });
    let tenants = tenants_from_toml(&format!(
        r#"
[[tenants]]
id = "bank"
access_path = "{PATH}"
rp_id = "bank.example"
rp_name = "Bank"
origins = ["https://bank.example"]
api_keys = [{{ name = "backend", sha256 = "{}" }}]
{attestation}
[tenants.uaf]
trusted_facets = ["https://bank.example", "{FACET}"]
{uaf}
"#,
        sha256_hex(DEMO_KEY)
    ));
    spawn_app_with(move |s| {
        s.tenants = tenants;
        change(s);
    })
    .await
}

/// [`bank`], with a FIDO metadata BLOB of these entries imported before it starts.
pub async fn bank_with_metadata(uaf: &str, entries: Vec<Value>) -> TestApp {
    let mds_root = crate::common::pki::root_ca("MDS test root");
    let signer = crate::common::pki::attestation_chain(
        &mds_root,
        &[],
        crate::common::pki::LeafOptions::default(),
    );
    let jws = signer.sign_jws(&json!({
        "legalHeader": "Test metadata.", "no": 1, "nextUpdate": "2099-01-01",
        "entries": entries,
    }));
    // Beside the app's data, so that they live as long as it does.
    bank_with(uaf, None, move |s| {
        let roots = s.server.data_dir.join("mds-root.pem");
        std::fs::write(&roots, &mds_root.cert_pem).unwrap();
        let blob = s.server.data_dir.join("blob.jwt");
        std::fs::write(&blob, jws).unwrap();
        s.mds.roots = vec![roots];
        fidoflow::mds_cli::import(s, &blob, chrono::Utc::now()).expect("import");
    })
    .await
}

/// The bank's backend.
pub struct Backend {
    client: reqwest::Client,
    base: String,
}

impl Backend {
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: format!("{}/{PATH}/uaf", app.base),
        }
    }

    pub async fn post(&self, path: &str, body: Value, key: Option<&str>) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/fido+uaf")
            .body(body.to_string());
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.json().await.unwrap())
    }

    /// `GetUAFRequest` for `op` with `context`; returns `ReturnUAFRequest`.
    pub async fn request(&self, op: &str, context: Value) -> Value {
        let (status, body) = self
            .post(
                &format!("/1.1/{op}/request"),
                json!({"context": context.to_string()}),
                Some(DEMO_KEY),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The UAF request message of a `ReturnUAFRequest` that must have succeeded.
    pub async fn uaf_request(&self, op: &str, context: Value) -> Value {
        let answer = self.request(op, context).await;
        assert_eq!(answer["statusCode"], 1200, "{answer}");
        serde_json::from_str(answer["uafRequest"].as_str().unwrap()).unwrap()
    }

    /// `SendUAFResponse`; returns `ServerResponse`.
    pub async fn respond(&self, op: &str, response: &Value) -> Value {
        let (status, body) = self
            .post(
                &format!("/1.1/{op}/response"),
                json!({"uafResponse": response.to_string()}),
                Some(DEMO_KEY),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn register(&self, user: &str, app: &mut SoftUaf) -> Value {
        let request = self
            .uaf_request("registration", json!({"username": user}))
            .await;
        let response = app.register(&request, Some(FACET)).unwrap();
        self.respond("registration", &response).await
    }

    pub async fn authenticate(&self, user: &str, app: &mut SoftUaf, tamper: &UafTamper) -> Value {
        let request = self
            .uaf_request("authentication", json!({"username": user}))
            .await;
        let response = app
            .authenticate_with(&request, Some(FACET), tamper)
            .unwrap();
        self.respond("authentication", &response).await
    }
}

pub fn status(answer: &Value) -> u64 {
    answer["statusCode"].as_u64().unwrap()
}

#[tokio::test]
async fn an_app_registers_authenticates_confirms_a_transaction_and_deregisters() {
    let app = bank("", None).await;
    let backend = Backend::new(&app);
    let mut phone = SoftUaf::new(AAID);
    let registered = backend.register("alice", &mut phone).await;
    assert_eq!(status(&registered), 1200, "{registered}");
    assert_eq!(registered["result"]["username"], "alice");
    assert_eq!(registered["result"]["aaid"], AAID);
    assert_eq!(registered["result"]["keyID"], phone.key_ids()[0]);

    let signed_in = backend
        .authenticate("alice", &mut phone, &UafTamper::default())
        .await;
    assert_eq!(status(&signed_in), 1200, "{signed_in}");
    assert_eq!(signed_in["result"]["keyID"], phone.key_ids()[0]);

    // A text/plain transaction: the authenticator shows it and signs its hash.
    let text = "Pay 1250.00 EUR to ACME Corp";
    let request = backend
        .uaf_request(
            "authentication",
            json!({"username": "alice", "transactionText": text}),
        )
        .await;
    let response = phone.authenticate(&request, Some(FACET)).unwrap();
    assert_eq!(phone.last_transaction_text(), Some(text));
    let confirmed = backend.respond("authentication", &response).await;
    assert_eq!(status(&confirmed), 1200, "{confirmed}");
    // Another text shown (and hashed) than the one sent is refused.
    let request = backend
        .uaf_request(
            "authentication",
            json!({"username": "alice", "transactionText": text}),
        )
        .await;
    let tamper = UafTamper {
        displayed_transaction: Some("Pay 9250.00 EUR to Mallory".into()),
        ..UafTamper::default()
    };
    let response = phone
        .authenticate_with(&request, Some(FACET), &tamper)
        .unwrap();
    let refused = backend.respond("authentication", &response).await;
    assert_eq!(status(&refused), 1498, "{refused}");

    // The key is one of alice's credentials for the helpdesk too.
    let (code, listed) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/tenants/bank/users/alice/fido/credentials",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{listed}");
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");

    // A second key, deleted by the helpdesk: the answer carries the DeregistrationRequest the
    // relying party passes on to the app.
    let mut tablet = SoftUaf::new(AAID);
    assert_eq!(status(&backend.register("alice", &mut tablet).await), 1200);
    let (code, deleted) = app
        .admin(
            reqwest::Method::DELETE,
            &format!(
                "/rest/admin/tenants/bank/users/alice/fido/credentials/{}",
                tablet.key_ids()[0]
            ),
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{deleted}");
    let request: Value = serde_json::from_str(
        deleted["data"]["attributes"]["uafDeregistrationRequest"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(tablet.deregister(&request).unwrap(), 1);

    // Deregistration removes the keys at once and tells the authenticator to forget them.
    let request = backend
        .uaf_request("deregistration", json!({"username": "alice"}))
        .await;
    assert_eq!(request[0]["header"]["op"], "Dereg");
    assert_eq!(phone.deregister(&request).unwrap(), 1);
    let after = backend
        .request("authentication", json!({"username": "alice"}))
        .await;
    assert_eq!(status(&after), 1404, "{after}");
}

#[tokio::test]
async fn replayed_forged_foreign_and_regressing_responses_are_refused_with_their_status() {
    let app = bank("", None).await;
    let backend = Backend::new(&app);
    let mut phone = SoftUaf::new(AAID);
    assert_eq!(status(&backend.register("bob", &mut phone).await), 1200);

    // A replayed serverData: the ceremony was taken by the first response.
    let request = backend
        .uaf_request("authentication", json!({"username": "bob"}))
        .await;
    let response = phone.authenticate(&request, Some(FACET)).unwrap();
    assert_eq!(
        status(&backend.respond("authentication", &response).await),
        1200
    );
    assert_eq!(
        status(&backend.respond("authentication", &response).await),
        1491
    );

    // A forged serverData (its MAC does not hold).
    let tamper = UafTamper {
        server_data: Some(Some("0123456789abcdef0123456789abcdef.AAAA".into())),
        ..UafTamper::default()
    };
    let forged = backend.authenticate("bob", &mut phone, &tamper).await;
    assert_eq!(status(&forged), 1491, "{forged}");

    // An app running as a facet the tenant does not trust.
    let request = backend
        .uaf_request("authentication", json!({"username": "bob"}))
        .await;
    let foreign = phone
        .authenticate(
            &request,
            Some("android:apk-key-hash:AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        )
        .unwrap();
    let refused = backend.respond("authentication", &foreign).await;
    assert_ne!(status(&refused), 1200, "{refused}");
    assert!(
        refused["description"].as_str().unwrap().contains("facet"),
        "{refused}"
    );

    // A counter that did not grow (a cloned authenticator?).
    let tamper = UafTamper {
        sign_counter: Some(1),
        ..UafTamper::default()
    };
    let cloned = backend.authenticate("bob", &mut phone, &tamper).await;
    assert_ne!(status(&cloned), 1200, "{cloned}");
    assert!(
        cloned["description"].as_str().unwrap().contains("counter"),
        "{cloned}"
    );

    // A flipped signature.
    let tamper = UafTamper {
        flip_signature_byte: true,
        ..UafTamper::default()
    };
    let flipped = backend.authenticate("bob", &mut phone, &tamper).await;
    assert_ne!(status(&flipped), 1200, "{flipped}");

    // The wrong key or none: 401; an unknown tenant: 404.
    let (code, body) = backend
        .post(
            "/1.1/registration/request",
            json!({"context": "{\"username\":\"x\"}"}),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
    let (code, _) = backend
        .post(
            "/1.1/registration/request",
            json!({"context": "{\"username\":\"x\"}"}),
            Some("wrong"),
        )
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let stranger = reqwest::Client::new()
        .post(format!(
            "{}/bm9ib2R5/uaf/1.1/registration/request",
            app.base
        ))
        .bearer_auth(DEMO_KEY)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);

    // A malformed body or an op that contradicts the path: a 1400 status, HTTP 200.
    let (code, body) = backend
        .post(
            "/1.1/registration/request",
            json!({"op": "Auth", "context": "{\"username\":\"x\"}"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(status(&body), 1400, "{body}");
}

#[tokio::test]
async fn accepted_aaids_and_basic_full_attestation_are_the_tenants_to_require() {
    let (ca, full) = test_attestation("UAF Test Root");
    let anchors = tempfile::tempdir().unwrap();
    std::fs::write(anchors.path().join("root.pem"), &ca.cert_pem).unwrap();
    let app = bank(
        &format!("accepted_aaids = [\"{AAID}\"]\nrequire_basic_full = true\n"),
        Some(anchors.path()),
    )
    .await;
    let backend = Backend::new(&app);

    // An authenticator the policy does not name, answering anyway.
    let mut other = SoftUaf::new("ffff#0001");
    other.attestation = full.clone();
    let request = backend
        .uaf_request("registration", json!({"username": "carol"}))
        .await;
    assert_eq!(
        request[0]["policy"]["accepted"][0][0]["aaid"],
        json!([AAID])
    );
    let ignore = UafTamper {
        ignore_policy: true,
        ..UafTamper::default()
    };
    let response = other.register_with(&request, Some(FACET), &ignore).unwrap();
    let refused = backend.respond("registration", &response).await;
    assert_eq!(status(&refused), 1492, "{refused}");

    let mut surrogate = SoftUaf::new(AAID);
    let refused = backend.register("carol", &mut surrogate).await;
    assert_eq!(status(&refused), 1496, "{refused}");

    let mut attested = SoftUaf::new(AAID);
    attested.attestation = full;
    let ok = backend.register("carol", &mut attested).await;
    assert_eq!(status(&ok), 1200, "{ok}");
    // The registration named the attestation key's algorithm (DER); the key signs raw.
    let signed_in = backend
        .authenticate("carol", &mut attested, &UafTamper::default())
        .await;
    assert_eq!(status(&signed_in), 1200, "{signed_in}");
    let (_, listed) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/tenants/bank/users/carol/fido/credentials",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(
        listed["data"][0]["attributes"]["attestationTrusted"], true,
        "{listed}"
    );

    // The trusted facets list, for anyone.
    let facets = reqwest::get(format!("{}/{PATH}/uaf/facets", app.base))
        .await
        .unwrap();
    assert_eq!(facets.status(), StatusCode::OK);
    assert_eq!(
        facets.headers()["content-type"],
        "application/fido.trusted-apps+json"
    );
    let list: Value = facets.json().await.unwrap();
    assert_eq!(
        list["trustedFacets"][0]["ids"],
        json!(["https://bank.example", FACET])
    );
}

/// `fidoProtocol: "UAF11"` in the OneSpan shape: the FIDO messages are the stringified UAF
/// request and response, and the `requestID` names the request.
#[tokio::test]
async fn the_onespan_shape_registers_and_logs_in_with_uaf() {
    let app = bank("", None).await;
    let base = format!("{}/{PATH}/v1", app.base);
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(DEMO_KEY)
            .json(&body)
            .send()
    };
    let made = post("/users", json!({"userID": "dora", "domain": "master"}))
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let mut phone = SoftUaf::new(AAID);

    let asked: Value = post(
        "/users/dora@master/generate-fido-registration-request",
        json!({"fidoProtocol": "UAF11"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(asked["uafStatusCode"], 1200, "{asked}");
    let request_id = asked["requestID"].as_str().unwrap().to_string();
    assert!(request_id.starts_with("registration:"), "{request_id}");
    let request: Value =
        serde_json::from_str(asked["registrationRequest"].as_str().unwrap()).unwrap();
    let response = phone.register(&request, Some(FACET)).unwrap();
    let registered = post(
        "/users/dora@master/register-fido-device",
        json!({"objectType": "FIDORegistrationInput", "registrationResponse": response.to_string(), "requestID": request_id}),
    )
    .await
    .unwrap();
    let status = registered.status();
    let key: Value = registered.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(key["fidoProtocol"], "UAF11", "{key}");
    assert_eq!(key["authenticatorID"], phone.key_ids()[0]);

    let asked: Value = post(
        "/users/dora@master/generate-fido-authentication-request",
        json!({"fidoProtocol": "UAF11"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let request: Value =
        serde_json::from_str(asked["authenticationRequest"].as_str().unwrap()).unwrap();
    let response = phone.authenticate(&request, Some(FACET)).unwrap();
    let login = |id: String, response: Value| {
        post(
            "/users/dora@master/login",
            json!({"objectType": "LoginInput", "credentials": {"fidoAuthenticator": {"authenticationResponse": response.to_string()}}, "requestID": id}),
        )
    };
    // Another request's id does not finish it.
    let wrong = login("authentication:0123".into(), response.clone())
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let body: Value = wrong.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("requestID"),
        "{body}"
    );
    let asked: Value = post(
        "/users/dora@master/generate-fido-authentication-request",
        json!({"fidoProtocol": "UAF11"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let request_id = asked["requestID"].as_str().unwrap().to_string();
    let request: Value =
        serde_json::from_str(asked["authenticationRequest"].as_str().unwrap()).unwrap();
    let response = phone.authenticate(&request, Some(FACET)).unwrap();
    let ok = login(request_id, response).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["result"]["userID"], "dora", "{body}");
    assert_eq!(body["result"]["authenticatorID"], phone.key_ids()[0]);

    // Deregistered through the OneSpan shape: the answer carries the DeregistrationRequest the
    // app must apply, and the key signs in no more.
    let key_id = phone.key_ids()[0].clone();
    let gone = client
        .delete(format!(
            "{base}/users/dora@master/fido-authenticators/{key_id}"
        ))
        .bearer_auth(DEMO_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::OK);
    let body: Value = gone.json().await.unwrap();
    let request: Value =
        serde_json::from_str(body["deregistrationRequest"].as_str().unwrap()).unwrap();
    assert_eq!(
        request[0]["authenticators"][0]["keyID"], key_id,
        "{request}"
    );
    assert_eq!(phone.deregister(&request).unwrap(), 1);
    let asked = post(
        "/users/dora@master/generate-fido-authentication-request",
        json!({"fidoProtocol": "UAF11"}),
    )
    .await
    .unwrap();
    assert_eq!(asked.status(), StatusCode::NOT_FOUND);

    // A payment or transaction object is WebAuthn's: UAF confirms text/plain.
    let refused = post(
        "/users/dora@master/generate-fido-authentication-request",
        json!({"fidoProtocol": "UAF11", "transaction": {"amount": "5.00"}}),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

/// UAF entries of the FIDO metadata: the roots of an AAID make its basic full attestation
/// trusted and name the model; a revoked AAID is refused at registration.
#[tokio::test]
async fn the_metadata_of_an_aaid_gives_its_roots_and_model_and_revokes_it() {
    use base64::Engine as _;
    let (vendor, full) = test_attestation("UAF vendor root");
    let root = base64::engine::general_purpose::STANDARD.encode(&vendor.cert_der);
    let entry = |aaid: &str, model: &str, status: &str| {
        json!({
            "aaid": aaid,
            "metadataStatement": {"aaid": aaid, "description": model, "attestationRootCertificates": [root]},
            "statusReports": [{"status": status, "effectiveDate": "2024-03-01"}],
        })
    };
    let app = bank_with_metadata(
        "",
        vec![
            entry(AAID, "Example UAF Phone", "FIDO_CERTIFIED_L1"),
            entry("4e4e#4006", "Revoked UAF Phone", "REVOKED"),
        ],
    )
    .await;
    let backend = Backend::new(&app);

    let mut phone = SoftUaf::new(AAID);
    phone.attestation = full.clone();
    assert_eq!(status(&backend.register("erik", &mut phone).await), 1200);
    let (_, listed) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/tenants/bank/users/erik/fido/credentials",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    let key = &listed["data"][0]["attributes"];
    assert_eq!(key["attestationTrusted"], true, "{listed}");
    assert_eq!(key["authenticatorName"], "Example UAF Phone", "{listed}");

    let mut revoked = SoftUaf::new("4e4e#4006");
    revoked.attestation = full;
    let refused = backend.register("erik", &mut revoked).await;
    assert_eq!(status(&refused), 1493, "{refused}");
    assert!(
        refused["description"].as_str().unwrap().contains("REVOKED"),
        "{refused}"
    );
}

/// UAF registrations of another server come in through the tenant import, and sign in as they
/// did there (counter carried over); a key that does not fit its algorithm is refused.
#[tokio::test]
async fn imported_uaf_registrations_sign_in() {
    use crate::common::softuaf::{KeyKind, KeyMaterial, UafKey};
    let app = bank("", None).await;
    let backend = Backend::new(&app);
    let key = UafKey {
        app_id: format!("https://bank.example/{PATH}/uaf/facets"),
        username: "fred".into(),
        key_id: vec![7; 32],
        sign_alg: 0x0005,
        key_encoding: 0x0100,
        key: KeyMaterial::generate(KeyKind::Secp256k1),
    };
    let b64 = crate::common::softauthn::b64url;
    let line = |public_key: &[u8], sign_alg: u16| {
        json!({
            "user_handle": b64(&[9; 32]),
            "name": "fred",
            "credentials": [{
                "credential_id": b64(&key.key_id),
                "public_key": b64(public_key),
                "sign_count": 41,
                "uaf": {"aaid": AAID, "key_encoding": 256, "sign_alg": sign_alg},
            }],
        })
        .to_string()
    };
    let import = |body: String| {
        app.admin_request(
            reqwest::Method::POST,
            "/rest/admin/tenants/bank/import",
            Some(crate::common::app::ADMIN_TOKEN),
        )
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
    };
    // A P-256 algorithm for a secp256k1 point is refused, naming the key.
    let refused: Value = import(line(&key.public_key(), 0x0001) + "\n")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let report = &refused["data"]["attributes"];
    assert_eq!(report["imported"], 0, "{refused}");
    assert!(
        report["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("public_key"),
        "{refused}"
    );
    let done: Value = import(line(&key.public_key(), 0x0005) + "\n")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["data"]["attributes"]["imported"], 1, "{done}");

    let mut phone = SoftUaf::with_alg(AAID, 0x0005, 0x0100);
    phone.sign_counter = 41;
    phone.import(key);
    let signed_in = backend
        .authenticate("fred", &mut phone, &UafTamper::default())
        .await;
    assert_eq!(status(&signed_in), 1200, "{signed_in}");
    // The counter came over: an authenticator that counts from 1 again looks cloned.
    let cloned = backend
        .authenticate(
            "fred",
            &mut phone,
            &UafTamper {
                sign_counter: Some(5),
                ..UafTamper::default()
            },
        )
        .await;
    assert_eq!(status(&cloned), 1498, "{cloned}");

    // Deleted through the AuthFi shape: its answer carries the DeregistrationRequest too.
    let deleted: Value = reqwest::Client::new()
        .delete(format!(
            "{}/{PATH}/api/v1/users/fred/keys/{}",
            app.base,
            phone.key_ids()[0]
        ))
        .header("AT-X-Key", DEMO_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["code"], 0, "{deleted}");
    let request: Value =
        serde_json::from_str(deleted["uaf_deregistration_request"].as_str().unwrap()).unwrap();
    assert_eq!(phone.deregister(&request).unwrap(), 1);
}

/// Failed UAF authentications count against the user's lock as failed sign-ins do.
#[tokio::test]
async fn repeated_failures_lock_the_user_for_uaf_too() {
    let app = bank("", None).await;
    let backend = Backend::new(&app);
    let mut phone = SoftUaf::new(AAID);
    assert_eq!(status(&backend.register("gus", &mut phone).await), 1200);
    let flipped = UafTamper {
        flip_signature_byte: true,
        ..UafTamper::default()
    };
    let max = app.settings.lockout.max_failures;
    let mut last = Value::Null;
    for _ in 0..max {
        last = backend.authenticate("gus", &mut phone, &flipped).await;
        assert_ne!(status(&last), 1200, "{last}");
    }
    assert_eq!(
        status(&last),
        1403,
        "the last failure engages the lock: {last}"
    );
    let honest = backend
        .authenticate("gus", &mut phone, &UafTamper::default())
        .await;
    assert_eq!(status(&honest), 1403, "{honest}");
    assert!(
        honest["description"].as_str().unwrap().contains("locked"),
        "{honest}"
    );
}
