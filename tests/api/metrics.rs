//! `GET /metrics`: who may read it on which listener, and what it counts. The metrics recorder
//! is one per process, shared by every server of this test binary, so the tests compare a
//! counter before and after what they do, never its absolute value.

use fidoflow::config::{AdminRole, AdminToken};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::app::{
    code, decode, spawn_app_with, TestApp, ADMIN_TOKEN, HELPDESK_TOKEN, PASSWORD,
};

const METRICS_TOKEN: &str = "test-metrics-token-0123456789abcdefghijklmnopqrstuvwxyz";
const PASSWORD_CHECK: &str = "/rest/public/authentication/password/check";

/// A server with the test tokens and a `metrics` token.
async fn spawn(change: impl FnOnce(&mut fidoflow::config::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.admin.tokens.push(AdminToken::from_token(
            "test-metrics",
            AdminRole::Metrics,
            METRICS_TOKEN,
        ));
        change(s);
    })
    .await
}

async fn get_metrics(base: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let request = reqwest::Client::new().get(format!("{base}{path}"));
    let request = match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    };
    request.send().await.expect("an answer")
}

/// The text of `/metrics`, read with the admin token.
async fn scrape(app: &TestApp) -> String {
    let response = get_metrics(&app.admin_base, "/metrics", Some(ADMIN_TOKEN)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// The sum of the samples of `name` whose labels include every `key="value"` of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, sample) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| sample.parse::<f64>().expect("a sample value"))
        })
        .sum()
}

/// Every line is a comment or `name{labels} value`: the Prometheus text format.
fn assert_prometheus_text(text: &str) {
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, sample) = line.rsplit_once(' ').expect("a sample line");
        assert!(sample.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        assert!(
            name.starts_with("fidoflow_")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{line}"
        );
    }
}

#[tokio::test]
async fn on_the_public_listener_the_metrics_need_a_token_of_any_role() {
    let app = spawn(|_| {}).await;
    // Something to count, so the text is not empty.
    let (status, _) = app
        .browser()
        .post(
            PASSWORD_CHECK,
            json!({ "username": "nobody", "password": "wrong password" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for path in ["/metrics", "//metrics/", "/./metrics"] {
        for token in [None, Some("not-a-configured-token-0123456789abcdef")] {
            let (status, doc) = decode(get_metrics(&app.base, path, token).await).await;
            assert_eq!(
                (status, code(&doc)),
                (StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED"),
                "{path} {token:?}"
            );
        }
        for token in [ADMIN_TOKEN, HELPDESK_TOKEN, METRICS_TOKEN] {
            let response = get_metrics(&app.base, path, Some(token)).await;
            assert_eq!(response.status(), StatusCode::OK, "{path} {token}");
            let content_type = response.headers()["content-type"].to_str().unwrap();
            assert!(
                content_type.starts_with("text/plain; version=0.0.4"),
                "{content_type}"
            );
            let text = response.text().await.unwrap();
            assert!(text.contains("# TYPE fidoflow_"), "{text}");
            assert_prometheus_text(&text);
        }
    }
}

#[tokio::test]
async fn a_metrics_token_is_refused_by_the_administration_api_and_the_refusal_audited() {
    let app = spawn(|_| {}).await;
    for (method, path, body) in [
        (Method::GET, "/rest/admin/users", None),
        (Method::GET, "/rest/admin/audit", None),
        (
            Method::POST,
            "/rest/admin/users",
            Some(json!({ "username": "mallory" })),
        ),
        (Method::GET, "/rest/admin/tenants", None),
    ] {
        let (status, doc) = app
            .admin(method.clone(), path, Some(METRICS_TOKEN), body)
            .await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::FORBIDDEN, "FORBIDDEN"),
            "{method} {path}: {doc}"
        );
    }
    let (status, _) = app
        .admin(
            Method::GET,
            "/rest/admin/users/mallory",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the refused POST made nobody"
    );
    let (status, doc) = app
        .admin(Method::GET, "/rest/admin/audit", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let denied: Vec<_> = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["attributes"]["event"] == "ADMIN_ACCESS_DENIED")
        .map(|e| e["attributes"]["actor"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(denied, vec!["token:test-metrics"; 4], "{doc}");
}

#[tokio::test]
async fn with_admin_bind_the_metrics_answer_on_the_admin_listener_alone_without_a_token() {
    let app = spawn(|s| s.admin.bind = Some("127.0.0.1:0".parse().unwrap())).await;
    assert_ne!(app.admin_base, app.base);
    let response = get_metrics(&app.admin_base, "/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_prometheus_text(&response.text().await.unwrap());

    let (status, doc) = decode(get_metrics(&app.base, "/metrics", Some(ADMIN_TOKEN)).await).await;
    assert_eq!((status, code(&doc)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
}

#[tokio::test]
async fn registrations_and_sign_ins_are_counted_by_outcome() {
    let app = spawn(|_| {}).await;
    let count = |text: &str, kind: &str, outcome: &str| {
        value(
            text,
            "fidoflow_ceremonies_total",
            &[("api", "loginapp"), ("kind", kind), ("outcome", outcome)],
        )
    };
    let before = scrape(&app).await;

    app.create_user("alice", Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let options = browser.start_registration(None).await;
    let credential = browser
        .authenticator
        .register(&options, crate::common::app::ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    let mut again = app.same_browser(browser);
    again.client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let (status, doc) = again.login_with_fido("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    // A response made for another origin: refused by the core's checks.
    app.create_user("bob", Some(PASSWORD)).await;
    let mut bob = app.browser();
    bob.login("bob", PASSWORD).await;
    let options = bob.start_registration(None).await;
    let forged = bob.authenticator.register(&options, "https://evil.example");
    let (status, doc) = bob.send_attestation(forged).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");

    let after = scrape(&app).await;
    for (kind, outcome) in [
        ("registration", "begun"),
        ("registration", "succeeded"),
        ("assertion", "begun"),
        ("assertion", "succeeded"),
    ] {
        assert!(
            count(&after, kind, outcome) >= count(&before, kind, outcome) + 1.0,
            "{kind} {outcome}:\n{after}"
        );
    }
    let refused = |text: &str| {
        value(
            text,
            "fidoflow_ceremonies_total",
            &[
                ("api", "loginapp"),
                ("kind", "registration"),
                ("outcome", "refused"),
                ("refusal", "check"),
            ],
        )
    };
    assert!(refused(&after) >= refused(&before) + 1.0, "{after}");

    // The durable writes went through sled's group commit (PostgreSQL commits each).
    if !matches!(
        app.settings.store.backend,
        fidoflow::config::StoreBackend::Sled
    ) {
        return;
    }
    let flushes = value(&after, "fidoflow_store_flushes_total", &[]);
    let commits = value(&after, "fidoflow_store_flushed_commits_total", &[]);
    assert!(flushes >= 3.0, "{after}");
    assert!(commits >= flushes, "{after}");
    assert!(
        value(&after, "fidoflow_store_flush_microseconds_total", &[]) > 0.0,
        "{after}"
    );
}

#[tokio::test]
async fn a_server_busy_answer_is_counted_with_its_reason() {
    let app = spawn(|s| {
        s.rate_limits.enabled = false;
        s.lockout.table_size = 1;
    })
    .await;
    let busy = |text: &str| {
        value(
            text,
            "fidoflow_server_busy_total",
            &[("reason", "lock_table_full")],
        )
    };
    let before = busy(&scrape(&app).await);
    let browser = app.browser();
    // The first name's failure fills the lockout table; the next name finds it full.
    let (status, _) = browser
        .post(
            PASSWORD_CHECK,
            json!({ "username": "first", "password": "wrong password" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, doc) = browser
        .post(
            PASSWORD_CHECK,
            json!({ "username": "second", "password": "wrong password" }),
        )
        .await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY")
    );
    let after = scrape(&app).await;
    assert!(busy(&after) >= before + 1.0, "{after}");
    assert!(after.contains("# TYPE fidoflow_server_busy_total counter"));
}

#[tokio::test]
async fn backend_api_ceremonies_are_counted_under_their_api_and_early_refusals_too() {
    let tenants = crate::common::app::tenants_from_toml(
        r#"
[[tenants]]
id = "conf"
access_path = "bWV0cmljcw"
rp_id = "conformance.example.org"
rp_name = "Conformance"
origins = ["https://conformance.example.org"]
conformance = true
"#,
    );
    let app = spawn(move |s| s.tenants = tenants).await;
    let count = |text: &str, outcome: &str, refusal: Option<&str>| {
        let mut labels = vec![
            ("api", "conformance"),
            ("kind", "registration"),
            ("outcome", outcome),
        ];
        labels.extend(refusal.map(|r| ("refusal", r)));
        value(text, "fidoflow_ceremonies_total", &labels)
    };
    let before = scrape(&app).await;
    let client = reqwest::Client::new();
    let url = |call: &str| format!("{}/bWV0cmljcw/{call}", app.base);
    let options: serde_json::Value = client
        .post(url("attestation/options"))
        .json(&json!({ "username": "alice", "displayName": "Alice", "attestation": "none" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(options["status"], "ok", "{options}");
    let mut authenticator = crate::common::softauthn::SoftAuthenticator::new();
    let credential = authenticator.register(&options, "https://conformance.example.org");
    // Client data that cannot be read: refused before any ceremony is found.
    let mut unreadable = credential.clone();
    unreadable["response"]["clientDataJSON"] = json!("AAAA");
    for body in [unreadable, credential] {
        let answer: serde_json::Value = client
            .post(url("attestation/result"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(answer["status"].is_string(), "{answer}");
    }
    let after = scrape(&app).await;
    for (outcome, refusal) in [
        ("begun", None),
        ("succeeded", None),
        ("refused", Some("malformed")),
    ] {
        assert!(
            count(&after, outcome, refusal) >= count(&before, outcome, refusal) + 1.0,
            "{outcome} {refusal:?}:\n{after}"
        );
    }
}

#[tokio::test]
async fn requests_are_timed_by_route_pattern_sessions_gauged_and_locks_counted() {
    let app = spawn(|s| s.lockout.max_failures = 2).await;
    let route = "/rest/admin/users/{username}";
    let timed = |text: &str| {
        value(
            text,
            "fidoflow_http_request_duration_seconds_count",
            &[("route", route), ("method", "GET"), ("status", "4xx")],
        )
    };
    let locks = |text: &str| {
        value(
            text,
            "fidoflow_locks_engaged_total",
            &[("tenant", "default")],
        )
    };
    let before = scrape(&app).await;

    for name in ["nobody-one", "nobody-two"] {
        let (status, _) = app
            .admin(
                Method::GET,
                &format!("/rest/admin/users/{name}"),
                Some(ADMIN_TOKEN),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    app.create_user("mallory", Some(PASSWORD)).await;
    let browser = app.browser();
    // The second failure in a row engages the lock (`lockout.max_failures = 2`).
    for expected in [
        (StatusCode::BAD_REQUEST, "USERNAME_PASSWORD_WRONG"),
        (StatusCode::FORBIDDEN, "USER_LOCKED"),
    ] {
        let (status, doc) = browser
            .post(
                PASSWORD_CHECK,
                json!({ "username": "mallory", "password": "wrong password" }),
            )
            .await;
        assert_eq!((status, code(&doc)), expected, "{doc}");
    }
    app.create_user("alice", Some(PASSWORD)).await;
    app.browser().login("alice", PASSWORD).await;

    let after = scrape(&app).await;
    assert_prometheus_text(&after);
    assert!(timed(&after) >= timed(&before) + 2.0, "{after}");
    assert!(
        after.contains("# TYPE fidoflow_http_request_duration_seconds histogram"),
        "{after}"
    );
    assert!(
        after.lines().any(
            |l| l.starts_with("fidoflow_http_request_duration_seconds_bucket{")
                && l.contains(&format!("route=\"{route}\""))
                && l.contains("le=\"0.005\"")
        ),
        "{after}"
    );
    assert!(
        !after.contains("nobody-one"),
        "a path became a label: {after}"
    );
    assert!(locks(&after) >= locks(&before) + 1.0, "{after}");
    assert!(after.contains("# TYPE fidoflow_locks_engaged_total counter"));
    // The gauge is the process's, set by each server's scrape: read it until this server's
    // count (at least alice's session) is the one rendered.
    let mut sessions = value(&after, "fidoflow_active_sessions", &[]);
    for _ in 0..10 {
        if sessions >= 1.0 {
            break;
        }
        sessions = value(&scrape(&app).await, "fidoflow_active_sessions", &[]);
    }
    assert!(sessions >= 1.0, "{after}");
    assert!(after.contains("# TYPE fidoflow_active_sessions gauge"));
}
