//! Property-based fuzzing of the HTTP routes (proptest strategies): one server, a bounded number
//! of arbitrary JSON bodies and byte strings sent to every route of `fidoflow::api::route_list()`,
//! anonymously and with a logged-in session, with the admin token and the AuthFi key. No answer
//! may be a 5xx, and each must come within [`TIME_BOUND`]. Default: 6 requests per route and
//! session kind; `FIDOFLOW_FUZZ_CASES=N` sends N/10 (at least 6).

use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use serde_json::Value;

use super::authfi::{spawn_with_tenants, DEMO_KEY};
use crate::common::app::{ADMIN_TOKEN, PASSWORD};

/// The longest an answer may take (a debug build on a busy machine).
const TIME_BOUND: Duration = Duration::from_secs(5);

fn per_route() -> u32 {
    std::env::var("FIDOFLOW_FUZZ_CASES")
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
        .map_or(6, |n| (n / 10).max(6))
}

const WORDS: &[&str] = &[
    "username",
    "password",
    "displayName",
    "name",
    "id",
    "rawId",
    "type",
    "response",
    "user",
    "tenant",
    "code",
    "enabled",
    "tags",
    "reason",
    "page",
    "apiKey",
    "adminToken",
    "userVerification",
    "publicKeyCredential",
    "extensions",
    "credential",
    "credentialId",
    "clientDataJSON",
    "attestationObject",
    "authenticatorData",
    "signature",
    "userHandle",
    "transports",
    "attestation",
    "authenticatorSelection",
    "residentKey",
    "role",
    "role",
    "fuzz",
    "nobody",
    "public-key",
    "required",
    "preferred",
    "none",
    "direct",
    "",
    "AAAA",
    "correct horse battery staple",
];

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(WORDS).prop_map(Value::from),
        vec(any::<u8>(), 0..40).prop_map(|b| Value::from(String::from_utf8_lossy(&b).into_owned())),
        (1usize..5000).prop_map(|n| Value::from("x".repeat(n))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((select(WORDS), inner), 0..8).prop_map(|members| {
                Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
    .boxed()
}

/// A body and its content type.
fn body() -> BoxedStrategy<(Vec<u8>, &'static str)> {
    prop_oneof![
        4 => json_value().prop_map(|v| (serde_json::to_vec(&v).unwrap(), "application/json")),
        1 => vec(any::<u8>(), 0..300).prop_map(|b| (b, "application/json")),
        1 => (vec(any::<u8>(), 0..300), select(&["text/plain", "application/x-www-form-urlencoded",
            "application/octet-stream", "application/json; charset=latin1"][..])),
        1 => Just((b"{\"a\":".repeat(200), "application/json")),
    ]
    .boxed()
}

fn parameter() -> BoxedStrategy<String> {
    prop_oneof![
        select(
            &[
                "nobody",
                "fuzz",
                "AAAA",
                "no-such-id",
                "demo",
                "ZGVtby5leGFtcGxl",
                "..",
                "%00",
                "%ff%fe"
            ][..]
        )
        .prop_map(String::from),
        vec(any::<u8>(), 1..40).prop_map(|b| url::form_urlencoded::byte_serialize(&b).collect()),
    ]
    .boxed()
}

#[tokio::test]
async fn arbitrary_bodies_never_get_a_server_error_on_any_route() {
    let app = spawn_with_tenants().await;
    app.create_user("fuzz", Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login("fuzz", PASSWORD).await;
    let anonymous = reqwest::Client::new();
    let clients = [&anonymous, &browser.client];

    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let bodies = body();
    let parameters = parameter();
    let mut sent = 0;
    for (method, pattern) in fidoflow::api::route_list() {
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
        for case in 0..per_route() {
            let (bytes, content_type) = bodies.new_tree(&mut runner).unwrap().current();
            let mut path = pattern.clone();
            while let Some(start) = path.find('{') {
                let end = start + path[start..].find('}').expect("a closed parameter");
                let value = parameters.new_tree(&mut runner).unwrap().current();
                path.replace_range(start..=end, &value);
            }
            let client = clients[case as usize % 2];
            let mut request = client
                .request(method.clone(), format!("{}{path}", app.base))
                .header("content-type", content_type)
                .header("X-Same-Domain", "1")
                .timeout(TIME_BOUND * 2)
                .body(bytes.clone());
            if case % 3 == 0 {
                request = request
                    .header("AT-X-Key", DEMO_KEY)
                    .bearer_auth(ADMIN_TOKEN);
            }
            let start = Instant::now();
            let response = request.send().await.unwrap_or_else(|e| {
                panic!(
                    "{method} {path} with {:?}: no answer: {e}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            let took = start.elapsed();
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let shown = String::from_utf8_lossy(&bytes);
            let shown: String = shown.chars().take(400).collect();
            assert!(
                !status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED,
                "{method} {path} with {content_type} {shown:?}: {status} {text}"
            );
            assert!(
                took < TIME_BOUND,
                "{method} {path} with {shown:?} took {took:?}"
            );
            sent += 1;
        }
    }
    assert!(sent > 0);
}
