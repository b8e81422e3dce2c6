//! The contract's cross-cutting rules: sessions and their cookie, CSRF, error documents for
//! unknown paths and methods, `no-store`, the temporary lock, rate limits, the admin API's
//! tokens and roles, durability across a restart and concurrent requests of one session.

use reqwest::header::{HeaderMap, CACHE_CONTROL, COOKIE, RETRY_AFTER, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::app::{
    code, decode, detail, spawn_app, spawn_app_with, Browser, TestApp, ADMIN_TOKEN, HELPDESK_TOKEN,
    ORIGIN, PASSWORD,
};

const PASSWORD_CHECK: &str = "/rest/public/authentication/password/check";
const SESSION: &str = "/rest/public/authentication/session";
const FLOWS: &str = "/rest/protected/self-service/flows";
const SELECT: &str = "/rest/protected/self-service/flows/fido-registration/select";
const CHALLENGE: &str = "/rest/protected/self-service/fido/registration/challenge/retrieve";
const COOKIE_NAME: &str = "FIDOFLOW_SESSION";

/// A reqwest client without a cookie jar: the test handles cookies and headers itself.
fn raw_client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A request of a raw client with the CSRF header and our origin, and `cookie` if given.
fn raw(app: &TestApp, method: Method, path: &str, cookie: Option<&str>) -> reqwest::RequestBuilder {
    let mut req = raw_client()
        .request(method, format!("{}{path}", app.base))
        .header("X-Same-Domain", "1")
        .header("Origin", ORIGIN);
    if let Some(c) = cookie {
        req = req.header(COOKIE, format!("{COOKIE_NAME}={c}"));
    }
    req
}

/// The `FIDOFLOW_SESSION` Set-Cookie header line of a response, if any.
fn set_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{COOKIE_NAME}=")))
        .map(str::to_string)
}

/// The value of the session cookie a response sets.
fn cookie_value(headers: &HeaderMap) -> String {
    let line = set_cookie(headers).expect("a session cookie is set");
    let pair = line.split(';').next().unwrap();
    pair[COOKIE_NAME.len() + 1..].to_string()
}

/// A raw password login: returns the status, the document and the headers.
async fn raw_login(
    app: &TestApp,
    cookie: Option<&str>,
    username: &str,
    password: &str,
) -> (StatusCode, Value, HeaderMap) {
    let response = raw(app, Method::POST, PASSWORD_CHECK, cookie)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("request");
    let headers = response.headers().clone();
    let (status, doc) = decode(response).await;
    (status, doc, headers)
}

async fn raw_get(app: &TestApp, path: &str, cookie: Option<&str>) -> (StatusCode, Value) {
    decode(
        raw(app, Method::GET, path, cookie)
            .send()
            .await
            .expect("request"),
    )
    .await
}

async fn password_check(browser: &Browser, username: &str, password: &str) -> (StatusCode, Value) {
    browser
        .post(
            PASSWORD_CHECK,
            json!({ "username": username, "password": password }),
        )
        .await
}

fn assert_wrong_password(status: StatusCode, doc: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(doc), "USERNAME_PASSWORD_WRONG", "{doc}");
    assert_eq!(doc["meta"]["nextAuthStep"], "PASSWORD_REQUIRED", "{doc}");
}

fn assert_locked(status: StatusCode, doc: &Value) -> chrono::DateTime<chrono::Utc> {
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(doc), "USER_LOCKED", "{doc}");
    let expiry = doc["meta"]["temporaryLockExpiry"]
        .as_str()
        .unwrap_or_else(|| panic!("temporaryLockExpiry: {doc}"));
    chrono::DateTime::parse_from_rfc3339(expiry)
        .expect("an RFC 3339 time")
        .with_timezone(&chrono::Utc)
}

fn assert_not_authorized(status: StatusCode, doc: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(code(doc), "NOT_AUTHORIZED", "{doc}");
}

// ---- sessions and CSRF ----

#[tokio::test]
async fn protected_calls_without_a_session_are_not_authorized() {
    let app = spawn_app().await;
    let browser = app.browser();
    for (method, path) in [
        (Method::GET, FLOWS),
        (Method::GET, "/rest/protected/self-service/fido/credentials"),
        (
            Method::POST,
            "/rest/protected/self-service/fido/credentials",
        ),
        (Method::POST, SELECT),
        (Method::POST, CHALLENGE),
        (Method::DELETE, "/rest/protected/self-service/flow"),
    ] {
        let (status, doc) = decode(
            browser
                .client
                .request(method.clone(), format!("{}{path}", app.base))
                .header("X-Same-Domain", "1")
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_not_authorized(status, &doc);
        assert_eq!(doc["errors"][0]["status"], 401, "{method} {path}: {doc}");
    }
}

#[tokio::test]
async fn a_request_without_the_csrf_header_is_refused() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, SESSION),
        (Method::POST, PASSWORD_CHECK),
        (Method::GET, FLOWS),
    ] {
        let response = raw_client()
            .request(method.clone(), format!("{}{path}", app.base))
            .json(&json!({"username": "alice", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let (status, doc) = decode(response).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {doc}");
        assert_eq!(code(&doc), "CSRF_HEADER_MISSING", "{doc}");
    }
    // An empty value counts as missing.
    let (status, doc) = decode(
        raw_client()
            .get(format!("{}{SESSION}", app.base))
            .header("X-Same-Domain", "")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "CSRF_HEADER_MISSING", "{doc}");
}

#[tokio::test]
async fn a_request_from_a_foreign_origin_is_refused() {
    let app = spawn_app().await;
    let (status, doc) = decode(
        raw_client()
            .post(format!("{}{PASSWORD_CHECK}", app.base))
            .header("X-Same-Domain", "1")
            .header("Origin", "https://evil.example")
            .json(&json!({"username": "alice", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "CSRF_ORIGIN_MISMATCH", "{doc}");
}

#[tokio::test]
async fn preflights_are_exempt_from_csrf_and_get_no_cors_headers_by_default() {
    let app = spawn_app().await;
    let response = raw_client()
        .request(Method::OPTIONS, format!("{}{PASSWORD_CHECK}", app.base))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn admin_calls_need_no_csrf_header() {
    let app = spawn_app().await;
    // `TestApp::admin` sends neither X-Same-Domain nor Origin.
    let (status, doc) = app
        .admin(
            Method::POST,
            "/rest/admin/users",
            Some(ADMIN_TOKEN),
            Some(json!({"username": "carol"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["data"]["type"], "user");
    assert_eq!(doc["data"]["id"], "carol");
}

// ---- error documents, methods, paths, caching ----

#[tokio::test]
async fn an_unknown_path_under_rest_is_a_json_api_not_found() {
    let app = spawn_app().await;
    let browser = app.browser();
    for path in [
        "/rest/public/authentication/nope",
        "/rest/protected/self-service/nope",
        "/rest/nope",
    ] {
        let (status, doc) = browser.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {doc}");
        assert_eq!(code(&doc), "NOT_FOUND", "{doc}");
        assert_eq!(doc["errors"][0]["status"], 404, "{doc}");
        assert_eq!(doc["meta"]["type"], "jsonapi.metadata.document", "{doc}");
        assert!(doc["errors"][0]["id"].is_string(), "{doc}");
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_json_api_method_not_allowed() {
    let app = spawn_app().await;
    let browser = app.browser();
    let (status, doc) = browser.get(PASSWORD_CHECK).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{doc}");
    assert_eq!(code(&doc), "METHOD_NOT_ALLOWED", "{doc}");
    assert_eq!(doc["errors"][0]["status"], 405, "{doc}");
    let (status, doc) = browser.delete(SESSION).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{doc}");
    assert_eq!(code(&doc), "METHOD_NOT_ALLOWED", "{doc}");
}

#[tokio::test]
async fn paths_work_with_a_trailing_slash() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    let (status, doc) = browser.get(&format!("{SESSION}/")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "authentication.session");
    let (status, doc) = browser
        .post(
            &format!("{PASSWORD_CHECK}/"),
            json!({"username": alice, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = browser.get(&format!("{FLOWS}/")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn every_rest_answer_says_no_store() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let client = raw_client();
    let base = &app.base;
    let requests = [
        // success
        client
            .get(format!("{base}{SESSION}"))
            .header("X-Same-Domain", "1"),
        client
            .post(format!("{base}{PASSWORD_CHECK}"))
            .header("X-Same-Domain", "1")
            .json(&json!({"username": "alice", "password": PASSWORD})),
        // refusals of every layer
        client
            .post(format!("{base}{PASSWORD_CHECK}"))
            .header("X-Same-Domain", "1")
            .json(&json!({"username": "alice", "password": "wrong password"})),
        client.get(format!("{base}{SESSION}")),
        client
            .get(format!("{base}{FLOWS}"))
            .header("X-Same-Domain", "1"),
        client
            .get(format!("{base}/rest/nope"))
            .header("X-Same-Domain", "1"),
        client
            .get(format!("{base}{PASSWORD_CHECK}"))
            .header("X-Same-Domain", "1"),
        client
            .post(format!("{base}{PASSWORD_CHECK}"))
            .header("X-Same-Domain", "1")
            .header("Content-Type", "application/json")
            .body("{"),
        client
            .post(format!("{base}/rest/admin/users"))
            .json(&json!({})),
    ];
    for req in requests {
        let response = req.send().await.unwrap();
        let url = response.url().clone();
        let status = response.status();
        assert_eq!(
            response
                .headers()
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{status} {url}"
        );
    }
}

// ---- passwords and the temporary lock ----

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_answer_the_same() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    let (s1, wrong_password) = password_check(&browser, "alice", "not the password").await;
    let (s2, unknown_user) = password_check(&browser, "mallory", PASSWORD).await;
    let (s3, impossible_name) = password_check(&browser, "x", PASSWORD).await;
    for (status, doc) in [
        (s1, &wrong_password),
        (s2, &unknown_user),
        (s3, &impossible_name),
    ] {
        assert_wrong_password(status, doc);
        assert_eq!(detail(doc), detail(&wrong_password), "{doc}");
    }
}

#[tokio::test]
async fn five_failures_lock_the_username_even_against_the_right_password() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    for _ in 0..4 {
        let (status, doc) = password_check(&browser, "alice", "not the password").await;
        assert_wrong_password(status, &doc);
    }
    let (status, doc) = password_check(&browser, "alice", "not the password").await;
    assert!(
        code(&doc) == "USER_LOCKED" || code(&doc) == "USERNAME_PASSWORD_WRONG",
        "{status} {doc}"
    );
    let started = app.clock.now();
    let (status, doc) = password_check(&browser, "alice", PASSWORD).await;
    let until = assert_locked(status, &doc);
    let lock = until - started;
    assert!(
        lock > chrono::Duration::minutes(4) && lock <= chrono::Duration::minutes(5),
        "locked for {lock}"
    );
    // Another browser fares no better.
    let (status, doc) = password_check(&app.browser(), "ALICE", PASSWORD).await;
    assert_locked(status, &doc);
    assert!(!browser.get(FLOWS).await.0.is_success());
    // The lock ended the running flow.
    let (status, doc) = browser.get(SESSION).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        doc["data"]["attributes"].get("nextAuthStep").is_none(),
        "{doc}"
    );

    app.advance(chrono::Duration::minutes(5) + chrono::Duration::seconds(1));
    let (status, doc) = password_check(&browser, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the lock is over: {doc}");
    let (status, _) = browser.get(FLOWS).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_username_that_does_not_exist_locks_like_a_real_one() {
    let app = spawn_app().await;
    let browser = app.browser();
    for _ in 0..4 {
        let (status, doc) = password_check(&browser, "nobody", "guess").await;
        assert_wrong_password(status, &doc);
    }
    password_check(&browser, "nobody", "guess").await;
    let (status, doc) = password_check(&browser, "nobody", "guess").await;
    assert_locked(status, &doc);
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    for _ in 0..4 {
        let (status, doc) = password_check(&browser, "alice", "not the password").await;
        assert_wrong_password(status, &doc);
    }
    let (status, doc) = password_check(&browser, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    for _ in 0..4 {
        let (status, doc) = password_check(&browser, "alice", "not the password").await;
        assert_wrong_password(status, &doc);
    }
    let (status, doc) = password_check(&browser, "alice", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "four failures after a success: {doc}"
    );
}

#[tokio::test]
async fn the_fourth_password_check_for_a_username_within_the_window_is_rate_limited() {
    let app = spawn_app_with(|s| {
        s.rate_limits.enabled = true;
        s.rate_limits.per_username = 3;
    })
    .await;
    app.create_user("alice", Some(PASSWORD)).await;
    for _ in 0..3 {
        let (status, doc) = password_check(&app.browser(), "alice", "not the password").await;
        assert_wrong_password(status, &doc);
    }
    let response = raw(&app, Method::POST, PASSWORD_CHECK, None)
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (status, doc) = decode(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{doc}");
    assert_eq!(code(&doc), "TOO_MANY_REQUESTS", "{doc}");
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "Retry-After: {retry_after:?}"
    );
    // Another username is not affected.
    let (status, doc) = password_check(&app.browser(), "bob", "whatever").await;
    assert_wrong_password(status, &doc);
    // After the window, alice may try again.
    app.advance(chrono::Duration::seconds(61));
    let (status, doc) = password_check(&app.browser(), "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

// ---- the admin API ----

#[tokio::test]
async fn admin_calls_need_a_valid_token() {
    let app = spawn_app().await;
    let body = json!({"username": "dave", "password": PASSWORD});
    for token in [
        None,
        Some("wrong-token-0123456789abcdefghijklmnopqrstuvwxyz"),
    ] {
        let (status, doc) = app
            .admin(Method::POST, "/rest/admin/users", token, Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}: {doc}");
        assert_eq!(code(&doc), "NOT_AUTHENTICATED", "{doc}");
    }
    let (status, doc) = app
        .admin(
            Method::POST,
            "/rest/admin/users",
            Some(HELPDESK_TOKEN),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "FORBIDDEN", "{doc}");
    // None of them created the user.
    let (status, doc) = app
        .admin(
            Method::POST,
            "/rest/admin/users",
            Some(ADMIN_TOKEN),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
}

#[tokio::test]
async fn creating_a_user_that_exists_is_a_conflict() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    for name in ["alice", "ALICE"] {
        let (status, doc) = app
            .admin(
                Method::POST,
                "/rest/admin/users",
                Some(ADMIN_TOKEN),
                Some(json!({"username": name})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {doc}");
        assert_eq!(code(&doc), "USER_EXISTS", "{doc}");
    }
}

#[tokio::test]
async fn a_short_password_is_refused_and_creates_nobody() {
    let app = spawn_app().await;
    let (status, doc) = app
        .admin(
            Method::POST,
            "/rest/admin/users",
            Some(ADMIN_TOKEN),
            Some(json!({"username": "erin", "password": "short"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "INVALID_PASSWORD", "{doc}");
    let erin = app.create_user("erin", Some(PASSWORD)).await;
    app.browser().login(&erin, PASSWORD).await;
}

// ---- the session cookie ----

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_for_the_whole_site() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let (status, doc, headers) = raw_login(&app, None, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let line = set_cookie(&headers).expect("Set-Cookie: FIDOFLOW_SESSION");
    let attributes: Vec<String> = line
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attributes.iter().any(|a| a == "httponly"), "{line}");
    assert!(attributes.iter().any(|a| a == "samesite=strict"), "{line}");
    assert!(attributes.iter().any(|a| a == "path=/"), "{line}");
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{line}"
    );
    // The tests run with insecure cookies (plain-http localhost).
    assert!(!attributes.iter().any(|a| a == "secure"), "{line}");
}

#[tokio::test]
async fn the_session_id_is_renewed_on_login() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    // An anonymous read stores no session; starting a flow does.
    let response = raw(&app, Method::GET, SESSION, None).send().await.unwrap();
    assert_eq!(set_cookie(response.headers()), None);
    let response = raw(
        &app,
        Method::POST,
        "/rest/public/authentication/applications/default/access",
        None,
    )
    .send()
    .await
    .unwrap();
    let anonymous = cookie_value(response.headers());
    let (status, doc, headers) = raw_login(&app, Some(&anonymous), "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let signed_in = cookie_value(&headers);
    assert_ne!(signed_in, anonymous);
    let (status, doc) = raw_get(&app, FLOWS, Some(&signed_in)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    // The cookie from before the login does not reach the signed-in session.
    let (status, doc) = raw_get(&app, FLOWS, Some(&anonymous)).await;
    assert_not_authorized(status, &doc);
}

#[tokio::test]
async fn logout_destroys_the_session() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let (status, doc, headers) = raw_login(&app, None, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let cookie = cookie_value(&headers);
    let (status, doc) = raw_get(&app, FLOWS, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    let (status, doc) = decode(
        raw(
            &app,
            Method::POST,
            "/rest/public/authentication/logout",
            Some(&cookie),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    // Replaying the old cookie value reaches nothing.
    let (status, doc) = raw_get(&app, FLOWS, Some(&cookie)).await;
    assert_not_authorized(status, &doc);
    let (status, doc) = raw_get(&app, SESSION, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["authenticated"], false, "{doc}");
}

#[tokio::test]
async fn logout_ends_the_browsers_session() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    let (status, doc) = browser
        .post("/rest/public/authentication/logout", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = browser.get(FLOWS).await;
    assert_not_authorized(status, &doc);
}

#[tokio::test]
async fn a_session_ends_after_fifteen_idle_minutes() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    // Activity keeps it alive...
    app.advance(chrono::Duration::minutes(14));
    let (status, doc) = browser.get(FLOWS).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    app.advance(chrono::Duration::minutes(14));
    let (status, doc) = browser.get(FLOWS).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    // ...idleness ends it.
    app.advance(chrono::Duration::minutes(16));
    let (status, doc) = browser.get(FLOWS).await;
    assert_not_authorized(status, &doc);
}

#[tokio::test]
async fn the_session_id_never_appears_in_a_response_body() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let (status, login, headers) = raw_login(&app, None, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let cookie = cookie_value(&headers);
    let (status, session) = raw_get(&app, SESSION, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    for doc in [&login, &session] {
        assert!(doc["data"]["id"].is_string(), "{doc}");
        assert_ne!(doc["data"]["id"].as_str(), Some(cookie.as_str()), "{doc}");
        assert!(!doc.to_string().contains(&cookie), "{doc}");
    }
}

// ---- applications and flows ----

#[tokio::test]
async fn application_access_needs_a_login() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    let access = "/rest/public/authentication/applications/default/access";
    let (status, doc) = browser.post(access, json!({})).await;
    assert_not_authorized(status, &doc);
    assert_eq!(doc["meta"]["nextAuthStep"], "PASSWORD_REQUIRED", "{doc}");
    browser.login(&alice, PASSWORD).await;
    let (status, doc) = browser.post(access, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "authentication.session", "{doc}");
    assert!(
        doc["data"]["attributes"].get("nextAuthStep").is_none(),
        "{doc}"
    );
}

#[tokio::test]
async fn an_unknown_application_is_not_found() {
    let app = spawn_app().await;
    let (status, doc) = app
        .browser()
        .post(
            "/rest/public/authentication/applications/nope/access",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{doc}");
    assert_eq!(code(&doc), "APPLICATION_NOT_FOUND", "{doc}");
}

#[tokio::test]
async fn an_unknown_flow_is_not_found() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    let (status, doc) = browser
        .post("/rest/protected/self-service/flows/nope/select", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{doc}");
    assert_eq!(code(&doc), "FLOW_NOT_FOUND", "{doc}");
}

#[tokio::test]
async fn selecting_a_flow_eleven_minutes_after_login_needs_a_new_login() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    app.advance(chrono::Duration::minutes(11));
    let (status, doc) = browser.post(SELECT, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "NOT_AUTHORIZED", "{doc}");
    // A fresh login makes it available again.
    browser.login(&alice, PASSWORD).await;
    let (status, doc) = browser.post(SELECT, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn ending_the_self_service_flow_is_idempotent_and_ends_it() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    let end = "/rest/protected/self-service/flow";
    let (status, doc) = browser.delete(end).await;
    assert_eq!(status, StatusCode::OK, "nothing to end: {doc}");

    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    for _ in 0..2 {
        let (status, doc) = browser.delete(end).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
    }
    let (status, doc) = browser.post(CHALLENGE, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    let (status, doc) = browser.send_attestation(credential.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL", "{doc}");
    // The ended flow's challenge is spent: a new flow does not take its response.
    browser.start_registration(None).await;
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_REGISTRATION_FAILED", "{doc}");
    assert!(browser.credentials().await.is_empty());
}

// ---- durability and concurrency ----

#[tokio::test]
async fn a_restart_keeps_users_credentials_and_the_signed_in_session() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    let id = browser.register(Some("Laptop")).await;

    let app = app.restart().await;
    let browser = app.same_browser(browser);
    let list = browser.credentials().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["attributes"]["displayName"], "Laptop");
    let (status, doc) = browser.get(SESSION).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["username"], "alice", "{doc}");

    // The user is still there for a new browser too.
    let other = app.browser();
    let (status, doc) = password_check(&other, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED",
        "alice now has a credential: {doc}"
    );
}

#[tokio::test]
async fn parallel_requests_of_one_session_are_refused_as_concurrent_access() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    // Give the browser a stored session first: starting a flow does (an anonymous read
    // does not).
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/applications/default/access",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");

    let requests = (0..10).map(|_| {
        let req = browser
            .client
            .post(format!("{}{PASSWORD_CHECK}", browser.base))
            .header("X-Same-Domain", "1")
            .header("Origin", ORIGIN)
            .json(&json!({"username": "alice", "password": PASSWORD}));
        tokio::spawn(async move { decode(req.send().await.expect("request")).await })
    });
    let mut concurrent = 0;
    for handle in requests.collect::<Vec<_>>() {
        let (status, doc) = handle.await.unwrap();
        match (status, code(&doc)) {
            (StatusCode::OK, _) => {}
            (StatusCode::BAD_REQUEST, "CONCURRENT_ACCESS") => concurrent += 1,
            (StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY") => {}
            _ => panic!("unexpected answer {status}: {doc}"),
        }
    }
    assert!(concurrent >= 1, "no request was refused as concurrent");
    // The refusals left nothing behind: the session answers again.
    let (status, doc) = browser.get(SESSION).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["username"], "alice", "{doc}");
}

#[tokio::test]
async fn a_password_alone_does_not_authenticate_a_user_with_a_passkey() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    browser.register(None).await;

    let other = app.browser();
    let (status, doc) = password_check(&other, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED",
        "{doc}"
    );
    let (status, doc) = other.get(FLOWS).await;
    assert_not_authorized(status, &doc);
    let (status, doc) = other.get(SESSION).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["authenticated"], false, "{doc}");
    assert_eq!(doc["data"]["attributes"]["tags"], json!([]), "{doc}");
}

#[tokio::test]
async fn another_user_cannot_sign_in_over_a_signed_in_session() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    app.create_user("bob", Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    let (status, doc) = password_check(&browser, "bob", PASSWORD).await;
    assert_wrong_password(status, &doc);
    assert!(
        detail(&doc).contains("a different user is signed in"),
        "{doc}"
    );
    let (status, doc) = browser.get(SESSION).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["username"], "alice", "{doc}");
}

#[tokio::test]
async fn the_json_api_media_type_is_accepted() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let response = raw(&app, Method::POST, PASSWORD_CHECK, None)
        .header("Content-Type", "application/vnd.api+json")
        .body(json!({"username": "alice", "password": PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (status, doc) = decode(response).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
}

#[tokio::test]
async fn a_password_check_without_a_username_is_an_invalid_request() {
    let app = spawn_app().await;
    let browser = app.browser();
    let (status, doc) = browser
        .post(PASSWORD_CHECK, json!({"password": PASSWORD}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "INVALID_REQUEST", "{doc}");
    assert!(detail(&doc).contains("username"), "{doc}");
    let (status, doc) = browser
        .post(
            PASSWORD_CHECK,
            json!({"username": "alice", "password": 12345678}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "INVALID_REQUEST", "{doc}");
    assert!(detail(&doc).contains("password"), "{doc}");
}

#[tokio::test]
async fn a_session_ends_after_eight_hours_however_active() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    // 34 × 14 min = 7 h 56 min of steady activity.
    for _ in 0..34 {
        app.advance(chrono::Duration::minutes(14));
        let (status, doc) = browser.get(FLOWS).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
    }
    app.advance(chrono::Duration::minutes(5));
    let (status, doc) = browser.get(FLOWS).await;
    assert_not_authorized(status, &doc);
}

#[tokio::test]
async fn registration_challenges_are_rate_limited_per_username() {
    let app = spawn_app_with(|s| {
        s.rate_limits.enabled = true;
        s.rate_limits.per_username = 3;
    })
    .await;
    let alice = app.create_user("alice", Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login(&alice, PASSWORD).await;
    browser.start_registration(None).await;
    browser.registration_challenge(None).await;
    browser.registration_challenge(None).await;
    let (status, doc) = browser.post(CHALLENGE, json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{doc}");
    assert_eq!(code(&doc), "TOO_MANY_REQUESTS", "{doc}");
}

#[tokio::test]
async fn parallel_failures_never_get_past_the_lock() {
    // Enough hashing capacity that all twelve are checked at once.
    let app = spawn_app_with(|s| s.rate_limits.password_hash_concurrency = 32).await;
    app.create_user("alice", Some(PASSWORD)).await;
    let requests: Vec<_> = (0..12)
        .map(|_| {
            let browser = app.browser();
            tokio::spawn(async move { password_check(&browser, "alice", "not the password").await })
        })
        .collect();
    let mut wrong = 0;
    for handle in requests {
        let (status, doc) = handle.await.unwrap();
        match (status, code(&doc)) {
            (StatusCode::BAD_REQUEST, "USERNAME_PASSWORD_WRONG") => wrong += 1,
            (StatusCode::FORBIDDEN, "USER_LOCKED") => {}
            _ => panic!("unexpected answer {status}: {doc}"),
        }
    }
    assert!(
        wrong <= 4,
        "{wrong} attempts were verified past the limit of 5"
    );
    let (status, doc) = password_check(&app.browser(), "alice", PASSWORD).await;
    assert_locked(status, &doc);
}

#[tokio::test]
async fn usernames_are_normalised_the_same_way_everywhere() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    // Fullwidth capitals: NFKC, then lowercase.
    let fancy = "\u{FF21}LICE";
    let (status, doc) = app
        .admin(
            Method::POST,
            "/rest/admin/users",
            Some(ADMIN_TOKEN),
            Some(json!({ "username": fancy })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{doc}");
    assert_eq!(code(&doc), "USER_EXISTS", "{doc}");
    let browser = app.browser();
    let (status, doc) = password_check(&browser, fancy, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (_, doc) = browser.get(SESSION).await;
    assert_eq!(doc["data"]["attributes"]["username"], "alice", "{doc}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_cookie_key_is_kept_private_in_the_data_directory() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let key = app.data_dir.path().join("session.key");
    let mode = std::fs::metadata(&key)
        .expect("session.key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}
