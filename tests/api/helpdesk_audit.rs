//! The helpdesk's audit trail over HTTP: filters by event, outcome and time (with their
//! refusals), credential names beside ids, who the actor of a sign-in is, a registration
//! refused for an excluded credential, and the token call the helpdesk page asks its role of.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::app::{
    code, spawn_app, spawn_app_with, Browser, TestApp, ADMIN_TOKEN, HELPDESK_TOKEN, PASSWORD,
};
use fidoflow::config::{AdminRole, AdminToken};

async fn helpdesk(app: &TestApp, path: &str) -> (StatusCode, Value) {
    app.admin(Method::GET, path, Some(HELPDESK_TOKEN), None)
        .await
}

/// The events of a query that must succeed, and its next cursor.
async fn page(app: &TestApp, path: &str) -> (Vec<Value>, Option<String>) {
    let (status, doc) = helpdesk(app, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {doc}");
    let next = doc["meta"]["page"]["next"].as_str().map(str::to_owned);
    (doc["data"].as_array().unwrap().clone(), next)
}

fn attr<'a>(list: &'a [Value], name: &str) -> Vec<&'a str> {
    list.iter()
        .map(|e| e["attributes"][name].as_str().unwrap_or(""))
        .collect()
}

/// A password user signed in, with one credential named "Desk key".
async fn user_with_credential(app: &TestApp, name: &str) -> (Browser, String) {
    app.create_user(name, Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login(name, PASSWORD).await;
    let id = browser.register(Some("Desk key")).await;
    (browser, id)
}

#[tokio::test]
async fn the_audit_trail_filters_by_event_outcome_and_time_a_page_at_a_time() {
    let app = spawn_app().await;
    let (browser, id) = user_with_credential(&app, "dora").await;
    let (status, _) = browser
        .post(
            "/rest/public/authentication/password/check",
            json!({ "username": "dora", "password": "wrong password" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.create_user("zed", None).await;

    let base = "/rest/admin/audit?username=dora";
    let (checks, _) = page(&app, &format!("{base}&filter[event]=PASSWORD_CHECK")).await;
    assert_eq!(attr(&checks, "event"), ["PASSWORD_CHECK", "PASSWORD_CHECK"]);
    assert_eq!(attr(&checks, "outcome"), ["failure", "success"]);
    // The actor is the user once the password proved who they are.
    assert_eq!(attr(&checks, "actor"), ["anonymous", "user:dora"]);

    let (failed, _) = page(&app, &format!("{base}&filter[outcome]=failure")).await;
    assert_eq!(attr(&failed, "event"), ["PASSWORD_CHECK"]);
    let (two, _) = page(
        &app,
        &format!("{base}&filter[event]=USER_CREATED,%20FIDO_REGISTRATION"),
    )
    .await;
    assert_eq!(attr(&two, "event"), ["FIDO_REGISTRATION", "USER_CREATED"]);
    // The credential's name is beside its id.
    assert_eq!(two[0]["attributes"]["credentialId"], id.as_str());
    assert_eq!(two[0]["attributes"]["credentialName"], "Desk key");
    assert!(two[1]["attributes"].get("credentialName").is_none());

    // Time: `from` is inclusive, `to` exclusive.
    let created = two[1]["attributes"]["time"].as_str().unwrap().to_owned();
    let enc = |t: &str| t.replace('+', "%2B");
    let (from, _) = page(&app, &format!("{base}&filter[from]={}", enc(&created))).await;
    assert_eq!(attr(&from, "event").last(), Some(&"USER_CREATED"));
    let (to, _) = page(&app, &format!("{base}&filter[to]={}", enc(&created))).await;
    assert!(to.is_empty(), "{to:?}");
    let (future, next) = page(&app, &format!("{base}&filter[from]=2999-01-01T00:00:00Z")).await;
    assert!(future.is_empty() && next.is_none());

    // A filtered trail pages like the whole one; without a username, every user's events.
    let mut seen = Vec::new();
    let mut path = "/rest/admin/audit?filter[event]=USER_CREATED&page[size]=1".to_string();
    loop {
        let (events, next) = page(&app, &path).await;
        assert!(events.len() <= 1);
        seen.extend(events);
        match next {
            Some(cursor) => {
                path = format!(
                    "/rest/admin/audit?filter[event]=USER_CREATED&page[size]=1&page[after]={cursor}"
                )
            }
            None => break,
        }
    }
    assert_eq!(attr(&seen, "username"), ["zed", "dora"]);
}

#[tokio::test]
async fn every_bad_audit_filter_is_refused_with_invalid_request() {
    let app = spawn_app().await;
    let many = vec!["USER_CREATED"; 33].join(",");
    for bad in [
        "filter[event]=NOPE".to_string(),
        "filter[event]=user_created".to_string(),
        "filter[event]=".to_string(),
        format!("filter[event]={many}"),
        "filter[outcome]=maybe".to_string(),
        "filter[from]=yesterday".to_string(),
        "filter[to]=2026-12-04".to_string(),
        "filter[from]=2026-12-04T00:00:00Z&filter[to]=2026-12-04T00:00:00Z".to_string(),
        "filter[from]=2026-12-05T00:00:00Z&filter[to]=2026-12-04T00:00:00Z".to_string(),
        "filter[outcome]=success&page[size]=0".to_string(),
        "filter[outcome]=success&page[size]=101".to_string(),
        "filter[outcome]=success&page[after]=x".to_string(),
    ] {
        let (status, doc) = helpdesk(&app, &format!("/rest/admin/audit?{bad}")).await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            "{bad}: {doc}"
        );
        assert!(!doc["errors"][0]["detail"].as_str().unwrap_or("").is_empty());
    }
}

#[tokio::test]
async fn a_fido_sign_in_names_the_user_as_its_actor() {
    let app = spawn_app().await;
    let (mut browser, _) = user_with_credential(&app, "erin").await;
    let mut fresh = app.browser();
    std::mem::swap(&mut fresh.authenticator, &mut browser.authenticator);
    let (status, doc) = fresh.login_with_fido("erin", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (events, _) = page(
        &app,
        "/rest/admin/audit?username=erin&filter[event]=FIDO_AUTHENTICATION",
    )
    .await;
    assert_eq!(attr(&events, "actor"), ["user:erin"]);
    assert_eq!(attr(&events, "outcome"), ["success"]);

    // A second factor cancelled after the password: the password proved who the user is.
    let other = app.browser();
    other.login("erin", PASSWORD).await;
    let (status, doc) = other
        .post(
            "/rest/public/authentication/fido/challenge/retrieve",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = other
        .post(
            "/rest/public/authentication/fido/abort",
            json!({ "reason": "NOT_ALLOWED" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (aborts, _) = page(
        &app,
        "/rest/admin/audit?username=erin&filter[event]=FIDO_ABORT",
    )
    .await;
    assert_eq!(attr(&aborts, "actor"), ["user:erin"]);
}

#[tokio::test]
async fn a_registration_refused_for_an_excluded_credential_is_audited_as_a_refused_registration() {
    let app = spawn_app().await;
    let (browser, _) = user_with_credential(&app, "fay").await;
    browser.start_registration(None).await;
    let (status, doc) = browser
        .post(
            "/rest/protected/self-service/fido/abort",
            json!({ "reason": "EXCLUDED_CREDENTIAL" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (events, _) = page(&app, "/rest/admin/audit?username=fay&page[size]=1").await;
    let a = &events[0]["attributes"];
    assert_eq!(a["event"], "FIDO_REGISTRATION", "{a}");
    assert_eq!(a["outcome"], "failure");
    assert_eq!(a["actor"], "user:fay");
    assert!(
        a["detail"].as_str().unwrap().contains("already holds"),
        "{a}"
    );
    let (aborts, _) = page(
        &app,
        "/rest/admin/audit?username=fay&filter[event]=FIDO_ABORT",
    )
    .await;
    assert!(aborts.is_empty(), "{aborts:?}");

    // The ceremony was spent: the step waits for a new challenge, and a sign-in has no such
    // reason.
    let (status, doc) = browser
        .post(
            "/rest/protected/self-service/fido/abort",
            json!({ "reason": "EXCLUDED_CREDENTIAL" }),
        )
        .await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::BAD_REQUEST, "UNEXPECTED_CALL")
    );
    let (status, doc) = app
        .browser()
        .post(
            "/rest/public/authentication/fido/abort",
            json!({ "reason": "EXCLUDED_CREDENTIAL" }),
        )
        .await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
    );
}

#[tokio::test]
async fn the_token_call_tells_the_console_its_role() {
    let app = spawn_app().await;
    for (token, role, name) in [
        (ADMIN_TOKEN, "admin", "test-admin"),
        (HELPDESK_TOKEN, "helpdesk", "test-helpdesk"),
    ] {
        let (status, doc) = app
            .admin(Method::GET, "/rest/admin/token", Some(token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        assert_eq!(doc["data"]["type"], "admin.token");
        assert_eq!(doc["data"]["attributes"]["role"], role);
        assert_eq!(doc["data"]["attributes"]["name"], name);
        assert!(doc["data"]["attributes"]["tenants"].is_null());
    }
    let (status, doc) = app
        .admin(Method::GET, "/rest/admin/token", None, None)
        .await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED")
    );
    let (status, _) = app
        .admin(Method::POST, "/rest/admin/token", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_metrics_token_may_not_ask_the_token_call_and_is_audited() {
    const METRICS_TOKEN: &str = "test-metrics-token-0123456789abcdefghijklmnopqrstuvwxyz";
    let app = spawn_app_with(|s| {
        s.admin.tokens.push(AdminToken::from_token(
            "test-metrics",
            AdminRole::Metrics,
            METRICS_TOKEN,
        ))
    })
    .await;
    let (status, doc) = app
        .admin(Method::GET, "/rest/admin/token", Some(METRICS_TOKEN), None)
        .await;
    assert_eq!((status, code(&doc)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (denied, _) = page(&app, "/rest/admin/audit?filter[event]=ADMIN_ACCESS_DENIED").await;
    assert_eq!(attr(&denied, "actor"), ["token:test-metrics"]);
    assert!(attr(&denied, "detail")[0].contains("GET /rest/admin/token"));
}

/// Answers the waiting FIDO step of `browser`'s sign-in with an assertion whose signature is
/// spoiled; it must be refused.
async fn spoiled_fido_step(browser: &mut Browser) {
    const AUTH: &str = "/rest/public/authentication";
    let (status, doc) = browser
        .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = &doc["data"]["attributes"]["publicKeyCredentialRequestOptions"];
    let mut assertion = browser
        .authenticator
        .authenticate(options, crate::common::app::ORIGIN);
    assertion["response"]["signature"] = json!("AAAA");
    let (status, doc) = browser
        .post(
            &format!("{AUTH}/fido/assertion-response/check"),
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
}

#[tokio::test]
async fn a_failed_second_factor_is_the_users_and_a_failed_passkey_sign_in_anonymous() {
    const AUTH: &str = "/rest/public/authentication";
    let app = spawn_app().await;
    let (mut browser, _) = user_with_credential(&app, "erin").await;
    let (status, _) = browser.post(&format!("{AUTH}/logout"), json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // A passkey sign-in names its user only by the userHandle it claims.
    let (status, _) = browser
        .post(
            &format!("{AUTH}/applications/fido-passwordless/access"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    spoiled_fido_step(&mut browser).await;
    let (status, _) = browser.delete(&format!("{AUTH}/flow")).await;
    assert_eq!(status, StatusCode::OK);

    // After the password, the second factor is the user's, failed or not.
    browser.login("erin", PASSWORD).await;
    spoiled_fido_step(&mut browser).await;

    let path = "/rest/admin/audit?username=erin&filter[event]=FIDO_AUTHENTICATION";
    let (events, _) = page(&app, path).await;
    assert_eq!(attr(&events, "outcome"), ["failure", "failure"]);
    assert_eq!(attr(&events, "actor"), ["user:erin", "anonymous"]);
}
