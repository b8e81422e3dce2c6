//! `GET /openapi.json`: served to anyone on the public listener, an OpenAPI 3.1 document that
//! parses, naming exactly the routes the server answers.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use super::authfi::{spawn_with_tenants, DEMO_KEY};

/// `(METHOD, path)` of every operation of a served document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_served_without_credentials_and_parses_as_openapi_3_1() {
    let app = spawn_with_tenants().await;
    let response = reqwest::get(format!("{}/openapi.json", app.base))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let text = response.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    let version = doc["openapi"].as_str().expect("an `openapi` member");
    assert!(version.starts_with("3.1"), "{version}");
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_str(&text).expect("the document parses as an OpenAPI document");
    assert!(parsed.paths.paths.contains_key("/rest/admin/users"));

    let routes: BTreeSet<(String, String)> = fidoflow::api::route_list()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path))
        .collect();
    assert_eq!(operations(&doc), routes);

    // The trailing-slash form answers the same.
    let again = reqwest::get(format!("{}/openapi.json/", app.base))
        .await
        .unwrap();
    assert_eq!(again.text().await.unwrap(), text);
}

/// Every listed route reaches a handler of its own: not the `404 NOT_FOUND` of an unknown path,
/// not a `405`, not the AuthFi scope's "there is no call".
#[tokio::test]
async fn every_listed_route_is_served() {
    let app = spawn_with_tenants().await;
    let client = reqwest::Client::new();
    for (method, pattern) in fidoflow::api::route_list() {
        let path = pattern
            .replace("{access_path}", "ZGVtby5leGFtcGxl")
            .replace("{username}", "nobody")
            .replace("{credential_id}", "AAAA")
            .replace("{uid}", "nobody")
            .replace("{id}", "no-such-id")
            .replace("{tenant}", "no-such-tenant")
            .replace("{user}", "nobody@master")
            .replace("{authenticator}", "AAAA")
            .replace("{operation}", "registration");
        assert!(
            !path.contains('{'),
            "{pattern} has a parameter the test does not fill"
        );
        let response = client
            .request(
                reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
                format!("{}{path}", app.base),
            )
            .header("X-Same-Domain", "1")
            .header("AT-X-Key", DEMO_KEY)
            .bearer_auth(DEMO_KEY)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {pattern}");
        let body = response.text().await.unwrap();
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let code = json["errors"][0]["code"].as_str().unwrap_or_default();
        assert!(
            !matches!(code, "NOT_FOUND" | "METHOD_NOT_ALLOWED"),
            "{method} {pattern}: {status} {body}"
        );
        let message = json["message"].as_str().unwrap_or_default();
        assert!(
            !message.starts_with("there is no call"),
            "{method} {pattern}: {status} {body}"
        );
    }
}
