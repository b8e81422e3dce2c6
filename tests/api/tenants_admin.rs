//! Tenants through the admin API: made, listed, shown, replaced and deleted over HTTP and served
//! at once; the configuration's tenants and `default` read-only. The helpers here serve
//! `tenant_helpdesk.rs` too.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::authfi::{spawn_with_tenants, Backend, DEMO_ORIGIN};
use crate::common::app::{code, detail, TestApp, ADMIN_TOKEN, HELPDESK_TOKEN};
use crate::common::softauthn::{sha256, SoftAuthenticator};

pub const FRESH_KEY: &str = "fresh-backend-key-0123456789abcdef0123456789";
pub const FRESH_PATH: &str = "ZnJlc2guZXhhbXBsZQ";

pub fn sha256_hex(text: &str) -> String {
    sha256(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A tenant as the admin API takes it: the keys of a `[[tenants]]` entry.
pub fn fresh_settings() -> Value {
    json!({
        "id": "fresh",
        "access_path": FRESH_PATH,
        "rp_id": "localhost",
        "rp_name": "Fresh RP",
        "origins": [DEMO_ORIGIN],
        "api_keys": [{"name": "fresh-backend", "sha256": sha256_hex(FRESH_KEY)}],
        "max_keys_per_user": 3,
    })
}

pub async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.admin(method, path, Some(ADMIN_TOKEN), body).await
}

pub async fn as_token(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.admin(method, path, Some(token), body).await
}

pub fn refused_with(answer: &(StatusCode, Value), status: StatusCode, expected: &str) {
    assert_eq!(
        (answer.0, code(&answer.1)),
        (status, expected),
        "{}",
        answer.1
    );
    assert!(!detail(&answer.1).is_empty(), "{}", answer.1);
}

/// The audit events of a tenant, newest first (as the admin token sees them).
pub async fn audit_of_tenant(app: &TestApp, tenant: &str) -> Vec<Value> {
    let (status, doc) = admin(
        app,
        Method::GET,
        &format!("/rest/admin/audit?tenant={tenant}&page[size]=100"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["attributes"].clone())
        .collect()
}

pub fn events(audit: &[Value]) -> Vec<&str> {
    audit.iter().filter_map(|e| e["event"].as_str()).collect()
}

#[tokio::test]
async fn a_tenant_made_through_the_admin_api_serves_its_backend_api_at_once_and_after_a_restart() {
    let app = spawn_with_tenants().await;
    let (status, doc) = admin(
        &app,
        Method::POST,
        "/rest/admin/tenants",
        Some(fresh_settings()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["data"]["type"], "tenant");
    assert_eq!(doc["data"]["id"], "fresh");
    let made = &doc["data"]["attributes"];
    assert_eq!(made["accessPath"], FRESH_PATH);
    assert_eq!(made["rpId"], "localhost");
    assert_eq!(made["rpName"], "Fresh RP");
    assert_eq!(made["origins"], json!([DEMO_ORIGIN]));
    assert_eq!(made["maxKeysPerUser"], 3);
    assert_eq!(made["conformance"], false);
    assert_eq!(made["source"], "store");
    assert_eq!(made["apiKeyNames"], json!(["fresh-backend"]));
    assert!(
        !doc.to_string().contains(&sha256_hex(FRESH_KEY)),
        "a key's hash is never shown: {doc}"
    );

    // The new tenant's backend registers and signs in a user at once, with its own key only.
    let fresh = Backend::new(&app, FRESH_PATH, Some(FRESH_KEY));
    let mut key = SoftAuthenticator::new();
    let registered = fresh.register("alice", &mut key, DEMO_ORIGIN).await;
    let (status, signed_in) = fresh.login(&mut key, DEMO_ORIGIN).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    assert_eq!(signed_in["uid"], registered["uid"]);
    let with_demos_key = Backend::new(&app, FRESH_PATH, Some(crate::authfi::DEMO_KEY));
    let (status, answer) = with_demos_key.get("/users").await;
    assert_eq!(
        (status, &answer["code"]),
        (StatusCode::UNAUTHORIZED, &json!(1000))
    );

    // Its users are the helpdesk's to see, apart from demo's and default's.
    let (status, doc) = admin(&app, Method::GET, "/rest/admin/tenants/fresh/users", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"][0]["id"], "alice");
    assert_eq!(doc["data"][0]["attributes"]["credentialCount"], 1);
    let (status, doc) = admin(&app, Method::GET, "/rest/admin/users/alice", None).await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );

    // Kept in the store: a restarted server serves it again, with its users.
    let app = app.restart().await;
    let fresh = Backend::new(&app, FRESH_PATH, Some(FRESH_KEY));
    let (status, signed_in) = fresh.login(&mut key, DEMO_ORIGIN).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let (status, doc) = admin(&app, Method::GET, "/rest/admin/tenants/fresh", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["source"], "store");
}

#[tokio::test]
async fn tenants_are_listed_shown_replaced_and_deleted_with_their_users() {
    let app = spawn_with_tenants().await;
    let (status, doc) = admin(
        &app,
        Method::POST,
        "/rest/admin/tenants",
        Some(fresh_settings()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");

    let (status, doc) = as_token(
        &app,
        HELPDESK_TOKEN,
        Method::GET,
        "/rest/admin/tenants",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let listed: Vec<(&str, &str)> = doc["data"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or(""),
                t["attributes"]["source"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("default", "builtin"),
            ("demo", "config"),
            ("fresh", "store"),
            ("shop", "config")
        ]
    );
    let builtin = &doc["data"][0]["attributes"];
    assert_eq!(builtin["accessPath"], Value::Null);
    assert_eq!(builtin["apiKeyNames"], json!([]));
    let (status, doc) = admin(&app, Method::GET, "/rest/admin/tenants/demo", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["apiKeyNames"],
        json!(["backend", "rotated"])
    );
    assert_eq!(doc["data"]["attributes"]["source"], "config");

    // A user registers; then the settings are replaced (the id may be left out, not changed).
    let fresh = Backend::new(&app, FRESH_PATH, Some(FRESH_KEY));
    let mut key = SoftAuthenticator::new();
    fresh.register("alice", &mut key, DEMO_ORIGIN).await;
    let mut changed = fresh_settings();
    changed.as_object_mut().unwrap().remove("id");
    changed["rp_name"] = json!("Fresh RP, renamed");
    changed["max_keys_per_user"] = json!(1);
    let (status, doc) = admin(
        &app,
        Method::PUT,
        "/rest/admin/tenants/fresh",
        Some(changed.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["rpName"], "Fresh RP, renamed");
    assert_eq!(doc["data"]["attributes"]["maxKeysPerUser"], 1);
    // Served at once: alice keeps her key and may not add a second one now.
    let (status, signed_in) = fresh.login(&mut key, DEMO_ORIGIN).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let (status, begun) = fresh
        .post(
            "/webauthn/registration",
            json!({"params": {"user": {"name": "alice"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    let second = SoftAuthenticator::new().register(&begun["fido_register_request"], DEMO_ORIGIN);
    let (status, answer) = fresh
        .put(
            "/webauthn/registration",
            json!({"fido_register_response": second}),
        )
        .await;
    assert_eq!(
        (status, &answer["code"]),
        (StatusCode::CONFLICT, &json!(3001)),
        "{answer}"
    );

    changed["id"] = json!("renamed");
    let answer = admin(
        &app,
        Method::PUT,
        "/rest/admin/tenants/fresh",
        Some(changed),
    )
    .await;
    refused_with(&answer, StatusCode::BAD_REQUEST, "INVALID_TENANT");
    assert!(
        detail(&answer.1).contains("cannot be changed"),
        "{}",
        answer.1
    );

    // Deleted with its users: not served, not listed, and a new tenant of that id starts empty.
    let (status, doc) = admin(&app, Method::DELETE, "/rest/admin/tenants/fresh", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["id"], "fresh");
    let (status, answer) = fresh.get("/users").await;
    assert_eq!(
        (status, &answer["code"]),
        (StatusCode::NOT_FOUND, &json!(1000))
    );
    refused_with(
        &admin(&app, Method::GET, "/rest/admin/tenants/fresh", None).await,
        StatusCode::NOT_FOUND,
        "TENANT_NOT_FOUND",
    );
    refused_with(
        &admin(&app, Method::DELETE, "/rest/admin/tenants/fresh", None).await,
        StatusCode::NOT_FOUND,
        "TENANT_NOT_FOUND",
    );
    let (status, doc) = admin(
        &app,
        Method::POST,
        "/rest/admin/tenants",
        Some(fresh_settings()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let (status, doc) = admin(&app, Method::GET, "/rest/admin/tenants/fresh/users", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"],
        json!([]),
        "the deleted tenant's users are gone"
    );

    // Every change is in the tenant's audit trail, with the token that made it.
    let audit = audit_of_tenant(&app, "fresh").await;
    let kinds = events(&audit);
    for kind in [
        "TENANT_CREATED",
        "TENANT_UPDATED",
        "TENANT_DELETED",
        "USER_CREATED",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let deleted = audit
        .iter()
        .find(|e| e["event"] == "TENANT_DELETED")
        .unwrap();
    assert_eq!(deleted["actor"], "token:test-admin");
    assert_eq!(deleted["tenant"], "fresh");
    assert_eq!(
        deleted["detail"],
        "tenant deleted with 1 user(s) and their credentials"
    );
    let registered = audit
        .iter()
        .find(|e| e["event"] == "FIDO_REGISTRATION")
        .unwrap();
    assert_eq!(registered["apiKey"], "fresh-backend");
}

#[tokio::test]
async fn tenants_of_the_configuration_file_and_default_are_read_only() {
    let app = spawn_with_tenants().await;
    let mut demo = fresh_settings();
    demo["id"] = json!("demo");
    for (method, path, body) in [
        (Method::PUT, "/rest/admin/tenants/demo", Some(demo.clone())),
        (Method::DELETE, "/rest/admin/tenants/demo", None),
        (
            Method::PUT,
            "/rest/admin/tenants/default",
            Some(fresh_settings()),
        ),
        (Method::DELETE, "/rest/admin/tenants/default", None),
    ] {
        let answer = admin(&app, method.clone(), path, body).await;
        refused_with(&answer, StatusCode::CONFLICT, "TENANT_READ_ONLY");
    }
    let answer = admin(&app, Method::DELETE, "/rest/admin/tenants/demo", None).await;
    assert!(
        detail(&answer.1).contains("configuration file"),
        "{}",
        answer.1
    );
    // Nothing changed: demo still serves its users.
    let mut key = SoftAuthenticator::new();
    Backend::demo(&app)
        .register("alice", &mut key, DEMO_ORIGIN)
        .await;
    refused_with(
        &admin(
            &app,
            Method::PUT,
            "/rest/admin/tenants/nobody",
            Some(fresh_settings()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "TENANT_NOT_FOUND",
    );
}

#[tokio::test]
async fn a_new_tenant_with_a_taken_id_or_access_path_or_invalid_settings_is_refused() {
    let app = spawn_with_tenants().await;
    let with = |key: &str, value: Value| {
        let mut s = fresh_settings();
        s[key] = value;
        s
    };
    for taken in [
        with("id", json!("demo")),
        with("id", json!("default")),
        // demo's access path, in other case.
        with("access_path", json!("zgvtby5leGFtcGxl")),
    ] {
        let answer = admin(&app, Method::POST, "/rest/admin/tenants", Some(taken)).await;
        refused_with(&answer, StatusCode::CONFLICT, "TENANT_EXISTS");
    }
    for (invalid, names) in [
        (with("rp_id", json!("com")), "rp_id"),
        (
            with("origins", json!(["https://elsewhere.example"])),
            "origins",
        ),
        (with("access_path", json!("rest")), "access_path"),
        (with("api_keys", json!([])), "api_keys"),
        (with("max_keys_per_user", json!(0)), "max_keys_per_user"),
        (with("rp_origin", json!("http://localhost")), "rp_origin"),
        (with("id", json!("Not An Id")), "id"),
    ] {
        let answer = admin(&app, Method::POST, "/rest/admin/tenants", Some(invalid)).await;
        refused_with(&answer, StatusCode::BAD_REQUEST, "INVALID_TENANT");
        let said = detail(&answer.1);
        assert!(said.contains(names) && !said.contains("tenants["), "{said}");
    }
    let mut without_id = fresh_settings();
    without_id.as_object_mut().unwrap().remove("id");
    refused_with(
        &admin(&app, Method::POST, "/rest/admin/tenants", Some(without_id)).await,
        StatusCode::BAD_REQUEST,
        "INVALID_TENANT",
    );
    // Only the admin role makes tenants.
    let answer = as_token(
        &app,
        HELPDESK_TOKEN,
        Method::POST,
        "/rest/admin/tenants",
        Some(fresh_settings()),
    )
    .await;
    refused_with(&answer, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (status, doc) = admin(&app, Method::GET, "/rest/admin/tenants", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["data"].as_array().map(Vec::len),
        Some(3),
        "nothing was made: {doc}"
    );
}

/// An `attestation` object that names only some keys takes the defaults for the others, at
/// once and after a restart (the stored settings are read again).
#[tokio::test]
async fn a_tenants_attestation_keys_left_out_take_their_defaults() {
    let app = spawn_with_tenants().await;
    let mut settings = fresh_settings();
    settings["attestation"] = json!({ "accept_unknown_formats": true });
    let (status, doc) = admin(&app, Method::POST, "/rest/admin/tenants", Some(settings)).await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let app = app.restart().await;
    let (status, doc) = admin(&app, Method::GET, "/rest/admin/tenants/fresh", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let fresh = Backend::new(&app, FRESH_PATH, Some(FRESH_KEY));
    let mut key = SoftAuthenticator::new();
    fresh.register("alice", &mut key, DEMO_ORIGIN).await;
    let (status, signed_in) = fresh.login(&mut key, DEMO_ORIGIN).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
}
