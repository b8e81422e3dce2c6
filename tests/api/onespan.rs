//! The OneSpan-shaped relying-party API, driven as a relying party's web server drives it: plain
//! HTTP with `Authorization: Bearer <key>` and stringified FIDO messages, the browser's part
//! played by the software authenticator. Transaction signing is in `transactions.rs`, Secure
//! Payment Confirmation in `spc.rs`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::authfi::{spawn_with_tenants, DEMO_KEY, DEMO_ORIGIN, SHOP_KEY};
use crate::common::app::{TestApp, ADMIN_TOKEN};
use crate::common::softauthn::{b64url_decode, SoftAuthenticator, Tamper};

pub const DEMO_PATH: &str = "ZGVtby5leGFtcGxl";

/// A relying party's web server: one tenant's OneSpan base URL and key.
pub struct Server {
    client: reqwest::Client,
    base: String,
    key: Option<String>,
}

/// An answer: status, `log-correlation-id`, body (`Null` when empty).
pub struct Answer {
    pub status: StatusCode,
    pub correlation: Option<String>,
    pub body: Value,
}

impl Server {
    pub fn new(app: &TestApp, access_path: &str, key: Option<&str>) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: format!("{}/{access_path}/v1", app.base),
            key: key.map(str::to_string),
        }
    }

    pub fn demo(app: &TestApp) -> Self {
        Self::new(app, DEMO_PATH, Some(DEMO_KEY))
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let correlation = resp
            .headers()
            .get("log-correlation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        Answer {
            status,
            correlation,
            body,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn create_user(&self, user: &str) {
        let a = self
            .post("/users", json!({"userID": user, "domain": "master", "displayName": format!("{user} (person)")}))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }

    /// Registers a new authenticator of `authenticator` for `user`; returns it as answered.
    pub async fn register(
        &self,
        user: &str,
        authenticator: &mut SoftAuthenticator,
        extra: Value,
    ) -> Value {
        let mut request = json!({"fidoProtocol": "FIDO2"});
        for (k, v) in extra.as_object().unwrap() {
            request[k] = v.clone();
        }
        let a = self
            .post(
                &format!("/users/{user}@master/generate-fido-registration-request"),
                request,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert!(a.body["uafStatusCode"].is_null());
        let options: Value =
            serde_json::from_str(a.body["registrationRequest"].as_str().unwrap()).unwrap();
        let credential = authenticator.register(&options, DEMO_ORIGIN);
        let done = self
            .post(
                &format!("/users/{user}@master/register-fido-device"),
                json!({
                    "objectType": "FIDORegistrationInput",
                    "registrationResponse": credential.to_string(),
                    "requestID": a.body["requestID"],
                }),
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        done.body
    }

    /// Asks for an authentication request; returns (requestID, request options).
    pub async fn authentication_request(&self, user: &str, extra: Value) -> (String, Value) {
        let a = self.try_authentication_request(user, extra).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let options =
            serde_json::from_str(a.body["authenticationRequest"].as_str().unwrap()).unwrap();
        (a.body["requestID"].as_str().unwrap().to_string(), options)
    }

    pub async fn try_authentication_request(&self, user: &str, extra: Value) -> Answer {
        let mut request = json!({"fidoProtocol": "FIDO2"});
        for (k, v) in extra.as_object().unwrap() {
            request[k] = v.clone();
        }
        self.post(
            &format!("/users/{user}@master/generate-fido-authentication-request"),
            request,
        )
        .await
    }

    pub async fn login(&self, user: &str, request_id: &str, credential: &Value) -> Answer {
        self.post(
            &format!("/users/{user}@master/login"),
            json!({
                "objectType": "LoginInput",
                "credentials": {"fidoAuthenticator": {"authenticationResponse": credential.to_string()}},
                "requestID": request_id,
            }),
        )
        .await
    }

    pub async fn validate(&self, user: &str, request_id: &str, credential: &Value) -> Answer {
        self.post(
            &format!("/users/{user}@master/transactions/validate"),
            json!({
                "objectType": "TransactionValidationInput",
                "data": {"fido": {"authenticationResponse": credential.to_string(), "requestID": request_id}},
            }),
        )
        .await
    }
}

pub fn payment_transaction() -> Value {
    json!({"amount": "1250.00", "currency": "EUR", "payee": "ACME Corp", "text": "Invoice 2026-117"})
}

/// The evidence key the server publishes.
pub async fn evidence_key(app: &TestApp) -> String {
    let resp = reqwest::get(format!(
        "{}/.well-known/fidoflow/evidence-key.pem",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let pem = resp.text().await.unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    pem
}

#[tokio::test]
async fn a_web_server_registers_two_authenticators_logs_in_signs_a_transaction_renames_and_deregisters(
) {
    let app = spawn_with_tenants().await;
    let server = Server::demo(&app);
    server.create_user("alice").await;
    let mut phone = SoftAuthenticator::new();
    let mut key = SoftAuthenticator::new();
    let first = server
        .register(
            "alice",
            &mut phone,
            json!({"displayName": "Alice's phone", "userVerification": "required"}),
        )
        .await;
    assert_eq!(first["displayName"], "Alice's phone");
    assert_eq!(first["fidoProtocol"], "FIDO2");
    assert_eq!(first["attestation"]["format"], "none");
    let second = server.register("alice", &mut key, json!({})).await;
    let listed = server
        .send(
            reqwest::Method::GET,
            "/users/alice@master/fido-authenticators",
            None,
        )
        .await;
    assert_eq!(
        listed.body["authenticators"].as_array().unwrap().len(),
        2,
        "{}",
        listed.body
    );

    // Login.
    let (request_id, options) = server.authentication_request("alice", json!({})).await;
    assert!(request_id.starts_with("authentication:"), "{request_id}");
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 2);
    let assertion = phone.authenticate(&options, DEMO_ORIGIN);
    let done = server.login("alice", &request_id, &assertion).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["result"]["userID"], "alice");
    assert_eq!(done.body["result"]["domain"], "master");
    assert_eq!(
        done.body["result"]["authenticatorID"],
        first["authenticatorID"]
    );
    assert_eq!(done.body["result"]["userVerified"], true);
    assert!(done.body["result"]["signCount"].as_u64().unwrap() > 0);

    // A transaction.
    let (tx_id, tx_options) = server
        .authentication_request(
            "alice",
            json!({"transaction": payment_transaction(), "authenticationMessage": "Pay ACME Corp 1250.00 EUR"}),
        )
        .await;
    assert_eq!(tx_options["userVerification"], "required");
    let signed = key.authenticate(&tx_options, DEMO_ORIGIN);
    let validated = server.validate("alice", &tx_id, &signed).await;
    assert_eq!(validated.status, StatusCode::OK, "{}", validated.body);
    let result = &validated.body["result"];
    assert_eq!(result["status"], "APPROVED");
    assert_eq!(
        format!(
            "authentication:{}",
            result["transactionID"].as_str().unwrap()
        ),
        tx_id
    );
    let evidence = &result["evidence"];
    assert_eq!(evidence["transaction"], payment_transaction());
    assert_eq!(evidence["mode"], "fido2-dynamic-linking");
    assert_eq!(evidence["credential"]["id"], second["authenticatorID"]);
    let pem = evidence_key(&app).await;
    let checked = fidoflow::fido::evidence::verify(&serde_json::to_vec(evidence).unwrap(), &pem)
        .expect("the evidence verifies offline");
    assert_eq!(checked.user, "alice");

    // The audit record the evidence cites is the TRANSACTION_VALIDATED record of this call.
    let (_, audit) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/audit?tenant=demo",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    let record = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["attributes"]["event"] == "TRANSACTION_VALIDATED")
        .expect("a TRANSACTION_VALIDATED record");
    assert_eq!(
        record["attributes"]["requestId"].as_str(),
        validated.correlation.as_deref()
    );

    // The admin API lists it with its evidence.
    let (status, listed) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/tenants/demo/users/alice/transactions",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["data"][0]["attributes"]["evidence"], *evidence);

    // Rename, then deregister the phone: its assertion is refused from then on.
    let id = first["authenticatorID"].as_str().unwrap();
    let renamed = server
        .send(
            reqwest::Method::PUT,
            &format!("/users/alice@master/fido-authenticators/{id}"),
            Some(json!({"displayName": "Old phone"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["displayName"], "Old phone");
    let deleted = server
        .send(
            reqwest::Method::DELETE,
            &format!("/users/alice@master/fido-authenticators/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let (request_id, options) = server.authentication_request("alice", json!({})).await;
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 1);
    let stale = phone.authenticate_with(
        &options,
        DEMO_ORIGIN,
        &Tamper {
            credential_id: Some(b64url_decode(id).unwrap()),
            ..Tamper::default()
        },
    );
    let refused = server.login("alice", &request_id, &stale).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("credentialId"),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn malformed_bodies_name_their_fields_and_unknown_users_domains_and_keys_are_refused() {
    let app = spawn_with_tenants().await;
    let server = Server::demo(&app);
    server.create_user("dave").await;
    let mut phone = SoftAuthenticator::new();
    server.register("dave", &mut phone, json!({})).await;
    let field = |a: &Answer, name: &str| {
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        let fields: Vec<&str> = a.body["validationErrors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with(name)),
            "expected {name}: {}",
            a.body
        );
    };

    field(
        &server
            .try_authentication_request("dave", json!({"fidoProtocol": "U2F"}))
            .await,
        "fidoProtocol",
    );
    // UAF11 is served; dave has no UAF key to authenticate with.
    let uaf = server
        .try_authentication_request("dave", json!({"fidoProtocol": "UAF11"}))
        .await;
    assert_eq!(uaf.status, StatusCode::NOT_FOUND, "{}", uaf.body);
    assert!(
        uaf.body["message"].as_str().unwrap().contains("UAF key"),
        "{}",
        uaf.body
    );
    field(
        &server
            .post(
                "/users/dave@master/generate-fido-authentication-request",
                json!({}),
            )
            .await,
        "fidoProtocol",
    );
    field(
        &server
            .try_authentication_request("dave", json!({"transaction": {"amount": 1250.5}}))
            .await,
        "transaction.amount",
    );
    field(
        &server
            .try_authentication_request("dave", json!({"authenticationMessage": "x".repeat(201)}))
            .await,
        "authenticationMessage",
    );
    field(
        &server
            .try_authentication_request("dave", json!({"transaction": {"text": "y".repeat(5000)}}))
            .await,
        "transaction",
    );
    // A doubled member, which serde_json would silently collapse, is refused as sent.
    let doubled = reqwest::Client::new()
        .post(format!(
            "{}/{DEMO_PATH}/v1/users/dave@master/generate-fido-authentication-request",
            app.base
        ))
        .bearer_auth(DEMO_KEY)
        .header("content-type", "application/json")
        .body(r#"{"fidoProtocol":"FIDO2","transaction":{"amount":"1.00","amount":"9999.00"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(doubled.status(), StatusCode::BAD_REQUEST);
    let body: Value = doubled.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("amount"),
        "{body}"
    );
    field(
        &server
            .post(
                "/users/dave@master/login",
                json!({"objectType": "LoginInput", "requestID": "authentication:x"}),
            )
            .await,
        "credentials.fidoAuthenticator.authenticationResponse",
    );
    field(
        &server
            .post(
                "/users/dave@master/login",
                json!({"objectType": "LoginInput", "credentials": {"fidoAuthenticator": {"authenticationResponse": "{not json"}}, "requestID": "x"}),
            )
            .await,
        "credentials.fidoAuthenticator.authenticationResponse",
    );
    field(
        &server.post("/users", json!({"domain": "master"})).await,
        "userID",
    );

    // 409 for an existing user; 404 for an unknown user, domain or authenticator.
    let again = server
        .post("/users", json!({"userID": "dave", "domain": "master"}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let nobody = server
        .send(reqwest::Method::GET, "/users/nobody@master", None)
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{}", nobody.body);
    let elsewhere = server
        .send(reqwest::Method::GET, "/users/dave@elsewhere", None)
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::NOT_FOUND,
        "{}",
        elsewhere.body
    );
    assert!(
        elsewhere.body["message"]
            .as_str()
            .unwrap()
            .contains("domain"),
        "{}",
        elsewhere.body
    );
    let found = server
        .send(reqwest::Method::GET, "/users/dave@master", None)
        .await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body["userID"], "dave");
    let no_key = server
        .send(
            reqwest::Method::DELETE,
            "/users/dave@master/fido-authenticators/AAAA",
            None,
        )
        .await;
    assert_eq!(no_key.status, StatusCode::NOT_FOUND, "{}", no_key.body);

    // 401 without a key or with another tenant's; the correlation id is on every answer.
    for key in [None, Some(SHOP_KEY)] {
        let stranger = Server::new(&app, DEMO_PATH, key);
        let a = stranger
            .send(reqwest::Method::GET, "/users/dave@master", None)
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
        assert!(a.correlation.is_some());
    }

    // A user made through the AuthFi shape is the same user here.
    let authfi = crate::authfi::Backend::demo(&app);
    let mut key = SoftAuthenticator::new();
    authfi.register("erin", &mut key, DEMO_ORIGIN).await;
    let listed = server
        .send(
            reqwest::Method::GET,
            "/users/erin@master/fido-authenticators",
            None,
        )
        .await;
    assert_eq!(
        listed.body["authenticators"].as_array().unwrap().len(),
        1,
        "{}",
        listed.body
    );
    let gone = server
        .send(reqwest::Method::DELETE, "/users/erin@master", None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let (status, _) = authfi.get("/users/erin").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
