//! The AuthFi-shaped relying-party API, driven as a relying party's backend drives it: plain HTTP
//! with `AT-X-Key`, the browser's part played by the software authenticator.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{spawn_app_with, tenants_from_toml, TestApp};
use crate::common::softauthn::{b64url_decode, SoftAuthenticator, Tamper};
use crate::tenants_admin::sha256_hex;

pub const DEMO_KEY: &str = "demo-backend-key-0123456789abcdef0123456789";
pub const SHOP_KEY: &str = "shop-backend-key-0123456789abcdef0123456789";
pub const DEMO_ORIGIN: &str = "https://localhost:8443";
pub const SHOP_ORIGIN: &str = "https://shop.example.org";

/// Two tenants: `demo` (RP ID localhost) and `shop` (RP ID example.org).
pub fn two_tenants() -> String {
    format!(
        r#"
[[tenants]]
id = "demo"
access_path = "ZGVtby5leGFtcGxl"
rp_id = "localhost"
rp_name = "Demo RP"
origins = ["{DEMO_ORIGIN}"]
api_keys = [{{ name = "backend", sha256 = "{}" }}, {{ name = "rotated", sha256 = "{}" }}]

[[tenants]]
id = "shop"
access_path = "c2hvcC5leGFtcGxlLm9yZw"
rp_id = "example.org"
rp_name = "Shop"
origins = ["{SHOP_ORIGIN}"]
api_keys = [{{ name = "shop-backend", sha256 = "{}" }}]
max_keys_per_user = 2
"#,
        sha256_hex(DEMO_KEY),
        sha256_hex("demo-old-key-that-is-also-accepted-0123456789"),
        sha256_hex(SHOP_KEY)
    )
}

pub async fn spawn_with_tenants() -> TestApp {
    let tenants = tenants_from_toml(&two_tenants());
    spawn_app_with(move |s| s.tenants = tenants).await
}

/// A relying party's backend: one tenant's base URL and key.
pub struct Backend {
    client: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Backend {
    pub fn new(app: &TestApp, access_path: &str, key: Option<&str>) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: format!("{}/{access_path}/api/v1", app.base),
            key: key.map(str::to_string),
        }
    }

    /// The backend of the tenant at `access_path` of the server at `base`.
    pub fn at(base: &str, access_path: &str, key: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: format!("{base}/{access_path}/api/v1"),
            key: Some(key.to_string()),
        }
    }

    pub fn demo(app: &TestApp) -> Self {
        Self::new(app, "ZGVtby5leGFtcGxl", Some(DEMO_KEY))
    }

    pub fn shop(app: &TestApp) -> Self {
        Self::new(app, "c2hvcC5leGFtcGxlLm9yZw", Some(SHOP_KEY))
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.key {
            req = req.header("AT-X-Key", key);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, value)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Registers a new credential of `authenticator` for `name`; returns the PUT's answer.
    pub async fn register(
        &self,
        name: &str,
        authenticator: &mut SoftAuthenticator,
        origin: &str,
    ) -> Value {
        let (status, begun) = self
            .post("/webauthn/registration", json!({"params": {"user": {"name": name, "displayName": format!("{name} (person)")}}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{begun}");
        let credential = authenticator.register(&begun["fido_register_request"], origin);
        let (status, done) = self
            .put(
                "/webauthn/registration",
                json!({"fido_register_response": credential}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["code"], 0);
        done
    }

    /// [`register`](Self::register), giving up (`None`) instead of failing the test when a
    /// call does not get its answer (the server went away).
    pub async fn try_register(
        &self,
        name: &str,
        authenticator: &mut SoftAuthenticator,
        origin: &str,
    ) -> Option<Value> {
        let send = |req: reqwest::RequestBuilder| async move {
            let resp = req
                .header("AT-X-Key", self.key.as_deref()?)
                .send()
                .await
                .ok()?;
            (resp.status() == StatusCode::OK).then_some(())?;
            resp.json::<Value>().await.ok()
        };
        let begun = send(
            self.client
                .post(format!("{}/webauthn/registration", self.base))
                .json(&json!({"params": {"user": {"name": name, "displayName": name}}})),
        )
        .await?;
        let credential = authenticator.register(&begun["fido_register_request"], origin);
        send(
            self.client
                .put(format!("{}/webauthn/registration", self.base))
                .json(&json!({"fido_register_response": credential})),
        )
        .await
        .filter(|done| done["code"] == 0)
    }

    /// Begins a usernameless login and answers it with `authenticator`.
    pub async fn login(
        &self,
        authenticator: &mut SoftAuthenticator,
        origin: &str,
    ) -> (StatusCode, Value) {
        let (status, begun) = self
            .post(
                "/webauthn/login",
                json!({"params": {"userVerification": "required"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{begun}");
        let assertion = authenticator.authenticate(&begun["fido_login_request"], origin);
        self.put("/webauthn/login", json!({"fido_login_response": assertion}))
            .await
    }

    /// Begins a verification of `uid` and answers it with `authenticator` (as tampered).
    pub async fn verify(
        &self,
        uid: &str,
        authenticator: &mut SoftAuthenticator,
        origin: &str,
        t: &Tamper,
    ) -> (StatusCode, Value) {
        let (status, begun) = self
            .post("/webauthn/verification", json!({"uId": uid, "params": {}}))
            .await;
        if status != StatusCode::OK {
            return (status, begun);
        }
        let assertion = authenticator.authenticate_with(&begun["fido_auth_request"], origin, t);
        self.put(
            "/webauthn/verification",
            json!({"fido_auth_response": assertion}),
        )
        .await
    }
}

fn refused(answer: &(StatusCode, Value), status: StatusCode, code: u64) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
    assert!(
        answer.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        answer.1
    );
    for member in ["uid", "user", "key_info"] {
        assert!(
            answer.1.get(member).is_none(),
            "a refusal carries no {member}: {}",
            answer.1
        );
    }
}

#[tokio::test]
async fn a_relying_party_backend_registers_signs_in_verifies_and_manages_keys_through_the_authfi_api(
) {
    let app = spawn_with_tenants().await;
    let demo = Backend::demo(&app);
    let mut laptop = SoftAuthenticator::new();
    let mut phone = SoftAuthenticator::new();

    // Registration of a new user: the user is made on first use; excludeCredentials is present.
    let (status, begun) = demo
        .post("/webauthn/registration", json!({"params": {"user": {"name": "Alice", "displayName": "Alice A."}, "authenticatorSelection": {"residentKey": "required", "userVerification": "required", "authenticatorAttachment": "platform"}, "attestation": "none"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    assert_eq!(begun["code"], 0);
    let options = &begun["fido_register_request"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(
        options["user"]["name"], "alice",
        "names are normalised as Loginapp usernames are"
    );
    assert_eq!(options["excludeCredentials"], json!([]));
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["authenticatorAttachment"],
        "platform"
    );
    let first = laptop.register(options, DEMO_ORIGIN);
    let (status, done) = demo
        .put(
            "/webauthn/registration",
            json!({"fido_register_response": first}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let uid = done["uid"].as_str().unwrap().to_string();
    assert_eq!(
        uid, options["user"]["id"],
        "uid is the base64url of the user handle"
    );
    assert_eq!(done["user"]["name"], "alice");
    assert_eq!(done["user"]["displayName"], "Alice A.");
    let laptop_id = done["key_info"]["credential_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(laptop_id, first["id"]);
    assert_eq!(done["key_info"]["format"], "none");
    assert_eq!(done["key_info"]["trusted"], false);
    assert_eq!(done["key_info"]["transports"], json!(["internal"]));

    // A replayed PUT: the challenge is spent.
    refused(
        &demo
            .put(
                "/webauthn/registration",
                json!({"fido_register_response": first}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        3403,
    );

    // A second key, sent in an older client's shape: no clientExtensionResults, no
    // authenticatorAttachment, extra members. A second later, so "oldest first" is one order.
    app.advance(chrono::Duration::seconds(1));
    let (_, begun) = demo
        .post(
            "/webauthn/registration",
            json!({"params": {"user": {"name": "alice"}}}),
        )
        .await;
    let excluded = begun["fido_register_request"]["excludeCredentials"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(excluded.len(), 1);
    assert_eq!(excluded[0]["id"], laptop_id.as_str());
    assert!(
        laptop.is_excluded(&begun["fido_register_request"], DEMO_ORIGIN),
        "the laptop's key is excluded"
    );
    // A second later, so the keys' creation times (which order them) differ.
    app.advance(chrono::Duration::seconds(1));
    let mut second = phone.register(&begun["fido_register_request"], DEMO_ORIGIN);
    let object = second.as_object_mut().unwrap();
    object.remove("clientExtensionResults");
    object.remove("authenticatorAttachment");
    object.insert("getClientExtensionResults".into(), json!({}));
    object.insert("somethingElse".into(), json!(42));
    let (status, done) = demo
        .put(
            "/webauthn/registration",
            json!({"fido_register_response": second}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["uid"], uid.as_str());
    let phone_id = done["key_info"]["credential_id"]
        .as_str()
        .unwrap()
        .to_string();

    // The excluded key registered again anyway (an authenticator that ignores the list): refused.
    let (_, begun) = demo
        .post(
            "/webauthn/registration",
            json!({"params": {"user": {"name": "alice"}}}),
        )
        .await;
    let again = laptop.register_with(
        &begun["fido_register_request"],
        DEMO_ORIGIN,
        &Tamper {
            credential_id: Some(b64url_decode(&laptop_id).unwrap()),
            ..Tamper::default()
        },
    );
    refused(
        &demo
            .put(
                "/webauthn/registration",
                json!({"fido_register_response": again}),
            )
            .await,
        StatusCode::CONFLICT,
        3402,
    );

    // A malformed response.
    refused(
        &demo
            .put(
                "/webauthn/registration",
                json!({"fido_register_response": {"id": "x"}}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        3100,
    );
    refused(
        &demo.put("/webauthn/registration", json!({})).await,
        StatusCode::BAD_REQUEST,
        3100,
    );

    // Usernameless login: allowCredentials is empty; the user is found by the passkey.
    let (status, begun) = demo
        .post(
            "/webauthn/login",
            json!({"params": {"userVerification": "required"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    assert_eq!(begun["fido_login_request"]["allowCredentials"], json!([]));
    assert_eq!(begun["fido_login_request"]["rpId"], "localhost");
    let assertion = laptop.authenticate(&begun["fido_login_request"], DEMO_ORIGIN);
    let (status, done) = demo
        .put("/webauthn/login", json!({"fido_login_response": assertion}))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["uid"], uid.as_str());
    assert_eq!(done["user"]["name"], "alice");
    assert_eq!(done["key_info"]["credential_id"], laptop_id.as_str());
    assert_eq!(done["key_info"]["sign_count"], 1);
    // Replayed: refused, and no user is named.
    refused(
        &demo
            .put("/webauthn/login", json!({"fido_login_response": assertion}))
            .await,
        StatusCode::BAD_REQUEST,
        4204,
    );

    // Second-factor verification by uId: both keys are allowed.
    let (status, begun) = demo
        .post(
            "/webauthn/verification",
            json!({"uId": uid, "params": {"userVerification": "preferred"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    let allowed: Vec<&str> = begun["fido_auth_request"]["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(allowed, [laptop_id.as_str(), phone_id.as_str()]);
    let assertion = phone.authenticate(&begun["fido_auth_request"], DEMO_ORIGIN);
    let (status, done) = demo
        .put(
            "/webauthn/verification",
            json!({"fido_auth_response": assertion}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["key_info"]["credential_id"], phone_id.as_str());
    // ... and by name (any case).
    let answer = demo
        .verify("ALICE", &mut laptop, DEMO_ORIGIN, &Tamper::default())
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(answer.1["uid"], uid.as_str());
    // A verification needs a user, and one that exists.
    refused(
        &demo
            .post("/webauthn/verification", json!({"params": {}}))
            .await,
        StatusCode::BAD_REQUEST,
        1002,
    );
    refused(
        &demo
            .post("/webauthn/verification", json!({"uId": "nobody"}))
            .await,
        StatusCode::NOT_FOUND,
        1000,
    );
    refused(
        &demo
            .post("/webauthn/verification", json!({"uId": "not a name!"}))
            .await,
        StatusCode::BAD_REQUEST,
        1002,
    );

    // Users and keys.
    let (status, listed) = demo.get("/users?page=1&size=20").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["users"].as_array().unwrap().len(), 1);
    assert_eq!(listed["users"][0]["id"], uid.as_str());
    refused(
        &demo.get("/users?size=10").await,
        StatusCode::BAD_REQUEST,
        1002,
    );
    refused(
        &demo.get("/users?page=3&size=20").await,
        StatusCode::BAD_REQUEST,
        1002,
    );
    let (status, user) = demo
        .put(
            &format!("/users/{uid}"),
            json!({"displayName": "Alice Anders"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["user"]["displayName"], "Alice Anders");
    let (status, user) = demo.get("/users/alice").await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["user"]["id"], uid.as_str());

    // Rename a key.
    let (status, key) = demo
        .put(
            &format!("/users/{uid}/keys/{laptop_id}"),
            json!({"name": "Work laptop"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(key["key_info"]["name"], "Work laptop");
    refused(
        &demo
            .put(&format!("/users/{uid}/keys/AAAA"), json!({"name": "x"}))
            .await,
        StatusCode::NOT_FOUND,
        1002,
    );

    // Disable the phone's key: then it is refused, the laptop still works.
    let (status, key) = demo
        .put(
            &format!("/users/{uid}/keys/{phone_id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(key["key_info"]["enabled"], false);
    let (status, begun) = demo.post("/webauthn/login", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let assertion = phone.authenticate(&begun["fido_login_request"], DEMO_ORIGIN);
    refused(
        &demo
            .put("/webauthn/login", json!({"fido_login_response": assertion}))
            .await,
        StatusCode::FORBIDDEN,
        4202,
    );
    assert_eq!(demo.login(&mut laptop, DEMO_ORIGIN).await.0, StatusCode::OK);

    // Delete the phone's key, then the user.
    let (status, _) = demo.delete(&format!("/users/{uid}/keys/{phone_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, keys) = demo.get(&format!("/users/{uid}/keys")).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["name"], "Work laptop");
    let (status, _) = demo.delete(&format!("/users/{uid}")).await;
    assert_eq!(status, StatusCode::OK);
    refused(
        &demo.get(&format!("/users/{uid}")).await,
        StatusCode::NOT_FOUND,
        1000,
    );
    let (_, begun) = demo.post("/webauthn/login", json!({})).await;
    let assertion = laptop.authenticate(&begun["fido_login_request"], DEMO_ORIGIN);
    refused(
        &demo
            .put("/webauthn/login", json!({"fido_login_response": assertion}))
            .await,
        StatusCode::BAD_REQUEST,
        4201,
    );
}

#[tokio::test]
async fn a_call_without_the_tenants_key_is_refused_with_code_1000() {
    let app = spawn_with_tenants().await;
    let body = json!({"params": {"user": {"name": "alice"}}});
    let missing = Backend::new(&app, "ZGVtby5leGFtcGxl", None);
    refused(
        &missing.post("/webauthn/registration", body.clone()).await,
        StatusCode::UNAUTHORIZED,
        1000,
    );
    let wrong = Backend::new(
        &app,
        "ZGVtby5leGFtcGxl",
        Some("not-the-key-0123456789abcdef0123456789"),
    );
    refused(
        &wrong.post("/webauthn/registration", body.clone()).await,
        StatusCode::UNAUTHORIZED,
        1000,
    );
    let other_tenants = Backend::new(&app, "ZGVtby5leGFtcGxl", Some(SHOP_KEY));
    refused(
        &other_tenants
            .post("/webauthn/registration", body.clone())
            .await,
        StatusCode::UNAUTHORIZED,
        1000,
    );
    refused(
        &other_tenants.get("/users").await,
        StatusCode::UNAUTHORIZED,
        1000,
    );
    let unknown = Backend::new(&app, "bm8tc3VjaC10ZW5hbnQ", Some(DEMO_KEY));
    refused(
        &unknown.post("/webauthn/registration", body.clone()).await,
        StatusCode::NOT_FOUND,
        1000,
    );
    // The second (rotated) key of the tenant works, in any header case; doubled slashes too.
    let rotated = Backend::new(
        &app,
        "ZGVtby5leGFtcGxl",
        Some("demo-old-key-that-is-also-accepted-0123456789"),
    );
    let (status, answer) = rotated.post("/webauthn/registration", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let resp = reqwest::Client::new()
        .post(format!(
            "{}//ZGVtby5leGFtcGxl//api/v1/webauthn/registration",
            app.base
        ))
        .header("at-x-KEY", DEMO_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_challenge_begun_by_another_tenant_or_a_loginapp_flow_is_not_found_and_not_spent() {
    let app = spawn_with_tenants().await;
    let (demo, shop) = (Backend::demo(&app), Backend::shop(&app));
    let mut key = SoftAuthenticator::new();
    // shop begins; its response goes to demo's PUT: not found there, still good at shop.
    let (_, begun) = shop
        .post(
            "/webauthn/registration",
            json!({"params": {"user": {"name": "alice"}}}),
        )
        .await;
    let credential = key.register(&begun["fido_register_request"], SHOP_ORIGIN);
    refused(
        &demo
            .put(
                "/webauthn/registration",
                json!({"fido_register_response": credential}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        3403,
    );
    let (status, done) = shop
        .put(
            "/webauthn/registration",
            json!({"fido_register_response": credential}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    // A login begun at shop is not a verification at shop either.
    let (_, begun) = shop.post("/webauthn/login", json!({})).await;
    let assertion = key.authenticate(&begun["fido_login_request"], SHOP_ORIGIN);
    refused(
        &shop
            .put(
                "/webauthn/verification",
                json!({"fido_auth_response": assertion}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        4204,
    );
    assert_eq!(
        shop.put("/webauthn/login", json!({"fido_login_response": assertion}))
            .await
            .0,
        StatusCode::OK
    );
    // A Loginapp passkey challenge (the portal's default tenant) cannot be answered here.
    let browser = app.browser();
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/applications/fido-passwordless/access",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the flow starts: {doc}");
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/fido/challenge/retrieve",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = &doc["data"]["attributes"]["publicKeyCredentialRequestOptions"];
    let mut as_shop = options.clone();
    as_shop["rpId"] = json!("example.org");
    let assertion = key.authenticate(&as_shop, SHOP_ORIGIN);
    refused(
        &shop
            .put("/webauthn/login", json!({"fido_login_response": assertion}))
            .await,
        StatusCode::BAD_REQUEST,
        4204,
    );
    // shop allows two keys per user.
    let mut more = SoftAuthenticator::new();
    shop.register("alice", &mut more, SHOP_ORIGIN).await;
    let (_, begun) = shop
        .post(
            "/webauthn/registration",
            json!({"params": {"user": {"name": "alice"}}}),
        )
        .await;
    let third = SoftAuthenticator::new().register(&begun["fido_register_request"], SHOP_ORIGIN);
    refused(
        &shop
            .put(
                "/webauthn/registration",
                json!({"fido_register_response": third}),
            )
            .await,
        StatusCode::CONFLICT,
        3001,
    );
}

#[tokio::test]
async fn two_tenants_keep_their_users_credentials_and_locks_apart() {
    let app = spawn_with_tenants().await;
    let (demo, shop) = (Backend::demo(&app), Backend::shop(&app));
    let mut demo_key = SoftAuthenticator::new();
    let mut shop_key = SoftAuthenticator::new();
    let at_demo = demo.register("alice", &mut demo_key, DEMO_ORIGIN).await;
    let at_shop = shop.register("alice", &mut shop_key, SHOP_ORIGIN).await;
    assert_ne!(
        at_demo["uid"], at_shop["uid"],
        "the same name in two tenants is two users"
    );
    let (demo_uid, shop_uid) = (
        at_demo["uid"].as_str().unwrap(),
        at_shop["uid"].as_str().unwrap(),
    );

    // demo's credential never works at shop: not with shop's RP ID, not claiming demo's.
    let (_, begun) = shop
        .post("/webauthn/verification", json!({"uId": "alice"}))
        .await;
    let mut as_demo = begun["fido_auth_request"].clone();
    as_demo["rpId"] = json!("localhost");
    as_demo["allowCredentials"] = json!([]);
    let assertion = demo_key.authenticate(&as_demo, SHOP_ORIGIN);
    refused(
        &shop
            .put(
                "/webauthn/verification",
                json!({"fido_auth_response": assertion}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        4201,
    );
    let (_, begun) = shop.post("/webauthn/login", json!({})).await;
    let mut as_demo = begun["fido_login_request"].clone();
    as_demo["rpId"] = json!("localhost");
    let assertion = demo_key.authenticate(&as_demo, DEMO_ORIGIN);
    refused(
        &shop
            .put("/webauthn/login", json!({"fido_login_response": assertion}))
            .await,
        StatusCode::BAD_REQUEST,
        4201,
    );
    // demo's uId names nobody at shop.
    refused(
        &shop.get(&format!("/users/{demo_uid}")).await,
        StatusCode::NOT_FOUND,
        1000,
    );

    // Five failed verifications lock demo's alice; shop's alice is untouched.
    let bad = Tamper {
        flip_signature_byte: true,
        ..Tamper::default()
    };
    for _ in 0..4 {
        refused(
            &demo
                .verify(demo_uid, &mut demo_key, DEMO_ORIGIN, &bad)
                .await,
            StatusCode::BAD_REQUEST,
            4200,
        );
    }
    refused(
        &demo
            .verify(demo_uid, &mut demo_key, DEMO_ORIGIN, &bad)
            .await,
        StatusCode::FORBIDDEN,
        2000,
    );
    refused(
        &demo
            .verify(demo_uid, &mut demo_key, DEMO_ORIGIN, &Tamper::default())
            .await,
        StatusCode::FORBIDDEN,
        2000,
    );
    let answer = shop
        .verify(shop_uid, &mut shop_key, SHOP_ORIGIN, &Tamper::default())
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
}

#[tokio::test]
async fn calls_are_limited_per_api_key_not_per_address() {
    let tenants = tenants_from_toml(&two_tenants());
    let app = spawn_app_with(move |s| {
        s.tenants = tenants;
        s.rate_limits.enabled = true;
        s.rate_limits.per_api_key = 3;
        s.rate_limits.per_address = 1000;
    })
    .await;
    let (demo, shop) = (Backend::demo(&app), Backend::shop(&app));
    for _ in 0..3 {
        assert_eq!(demo.get("/users").await.0, StatusCode::OK);
    }
    refused(
        &demo.get("/users").await,
        StatusCode::TOO_MANY_REQUESTS,
        1003,
    );
    // Another key, from the same address, is counted on its own.
    assert_eq!(shop.get("/users").await.0, StatusCode::OK);
    let rotated = Backend::new(
        &app,
        "ZGVtby5leGFtcGxl",
        Some("demo-old-key-that-is-also-accepted-0123456789"),
    );
    assert_eq!(rotated.get("/users").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_audit_record_names_the_tenant_the_key_and_the_end_users_address_and_agent() {
    let app = spawn_with_tenants().await;
    let url = format!("{}/ZGVtby5leGFtcGxl/api/v1/webauthn/registration", app.base);
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, body: Value| {
        client
            .request(method, &url)
            .header("AT-X-Key", DEMO_KEY)
            .header("X-End-User-IP", "203.0.113.7")
            .header("X-End-User-Agent", "Mozilla/5.0 (end user)")
            .json(&body)
    };
    let begun: Value = call(
        reqwest::Method::POST,
        json!({"params": {"user": {"name": "alice"}}}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let credential =
        SoftAuthenticator::new().register(&begun["fido_register_request"], DEMO_ORIGIN);
    let done = call(
        reqwest::Method::PUT,
        json!({"fido_register_response": credential}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(done.status(), StatusCode::OK);

    let (status, audit) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/audit?tenant=demo",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let events = audit["data"].as_array().unwrap();
    let registered = events
        .iter()
        .map(|e| &e["attributes"])
        .find(|a| a["event"] == "FIDO_REGISTRATION" && a["outcome"] == "success")
        .unwrap_or_else(|| panic!("a registration event: {audit}"));
    assert_eq!(registered["tenant"], "demo");
    assert_eq!(registered["apiKey"], "backend");
    assert_eq!(registered["username"], "alice");
    assert_eq!(registered["remoteAddress"], "203.0.113.7");
    assert_eq!(registered["userAgent"], "Mozilla/5.0 (end user)");
    // The portal's trail (tenant default) holds none of it.
    let (_, default) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/audit?tenant=default",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert!(
        default["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["attributes"]["tenant"] == "default"),
        "{default}"
    );
}
